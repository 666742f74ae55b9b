"""W&B logging with real wandb in offline mode, read back from what the run wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plasticity_bench.cli import main
from plasticity_bench.wandb_logger import read_offline_run

SECRET = "0123456789abcdef0123456789abcdef0badc0de"


def _runs(folder: Path) -> dict[str, dict]:
    out = {}
    for d in sorted((folder / "wandb").glob("offline-run-*")):
        r = read_offline_run(d)
        out[r["run"]["name"]] = r
    return out


def test_runs_log_config_history_and_summary_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    out = tmp_path / "res"
    assert main(["run", "--no-progress", "--num-samples", "400", "--pretrain-epochs", "2", "--tune-epochs", "3",
                 "--batch-size", "64", "--seeds", "0", "--workers", "1", "--output-dir", str(out),
                 "--wandb", "--wandb-mode", "offline", "--wandb-project", "pb-test"]) == 0
    runs = _runs(out)
    assert len(runs) == 2
    warm = next(r for r in runs.values() if r["run"]["job_type"] == "warm")
    scratch = next(r for r in runs.values() if r["run"]["job_type"] == "scratch")
    # grouped by configuration, warm and scratch as job types, the seed a config field
    assert warm["run"]["group"] == scratch["run"]["group"] == warm["config"]["config_hash"]
    assert warm["run"]["project"] == "pb-test"
    assert warm["config"]["seed"] == 0 and warm["config"]["role"] == "warm" and warm["config"]["tune_epochs"] == 3
    # one history row per evaluation: before training, then after each epoch
    hist = [h for h in warm["history"] if "test/acc" in h]
    assert [h["epoch"] for h in hist] == [0, 1, 2, 3, 4, 5]
    assert [(h["stage"], h["stage_epoch"]) for h in hist[1:]] == [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]
    assert all("train/acc" in h and "Top1_Acc_Epoch/train_phase/train_stream" in h and "lr" in h for h in hist[1:])
    assert all(h["test/acc"] == h["Top1_Acc_Stream/eval_phase/test_stream"] for h in hist)
    # the gap in the summary, equal to what the store says
    from plasticity_bench.store import Store

    with Store(out) as store:
        (gap,) = store.db.execute("SELECT gap FROM summaries").fetchone()
    assert warm["summary"]["gap"] == pytest.approx(gap, abs=1e-12)
    assert warm["summary"]["status"] == "done" and "scratch/acc_last_k" in warm["summary"]
    assert scratch["summary"]["status"] == "done" and "gap" not in scratch["summary"]
    # no API key anywhere in results, logs or reports
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_unreachable_wandb_falls_back_offline_and_the_run_finishes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # a closed local port: W&B unreachable
    out = tmp_path / "res"
    assert main(["run", "--no-progress", "--num-samples", "400", "--pretrain-epochs", "1", "--tune-epochs", "1",
                 "--batch-size", "64", "--seeds", "0", "--workers", "1", "--output-dir", str(out),
                 "--wandb", "--wandb-mode", "online", "--wandb-init-timeout", "2"]) == 0
    err = capsys.readouterr().err
    assert "W&B unreachable" in err and "wandb sync" in err
    assert len(_runs(out)) == 2  # both runs kept locally, offline
    from plasticity_bench.store import Store

    with Store(out) as store:
        assert {r[0] for r in store.db.execute("SELECT status FROM runs")} == {"done"}
