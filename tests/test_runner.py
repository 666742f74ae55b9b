"""The runner and the store: pairing, determinism, resuming, divergence."""

from __future__ import annotations

import os
import sqlite3

import pytest
import torch
from avalanche.logging import BaseLogger

from plasticity_bench.runner import initial_model, run_experiment, run_key, train_run
from plasticity_bench.store import Store


class InitialWeights(BaseLogger):
    """Keeps a copy of the model's state (weights and BatchNorm buffers) when training starts."""

    def __init__(self):
        super().__init__()
        self.state = None

    def before_training(self, strategy, metric_values):
        self.state = {k: v.detach().clone() for k, v in strategy.model.state_dict().items()}


def test_scratch_run_starts_from_the_warm_runs_initial_weights(tiny_config, tiny_data):
    seen = {}
    for role in ("warm", "scratch"):
        probe = InitialWeights()
        train_run(tiny_config, tiny_data, 1, role, device=torch.device("cpu"), sink=lambda *a: None, loggers=[probe])
        seen[role] = probe.state
    assert seen["warm"].keys() == seen["scratch"].keys()
    assert all(torch.equal(seen["warm"][k], seen["scratch"][k]) for k in seen["warm"])
    other = initial_model(tiny_config, tiny_data, 2).state_dict()
    assert not all(torch.equal(seen["warm"][k], other[k]) for k in other)  # a different seed, a different draw


def _epoch_rows(folder):
    db = sqlite3.connect(folder / "results.sqlite")
    rows = db.execute(
        "SELECT r.role, r.seed, e.stage, e.epoch, e.train_acc, e.train_loss, e.test_acc, e.test_loss, e.lr "
        "FROM epochs e JOIN runs r ON r.id = e.run_id ORDER BY r.role, r.seed, e.stage, e.epoch"
    ).fetchall()
    db.close()
    return rows


def test_same_config_and_seed_give_identical_stored_numbers(tiny_config, tmp_path):
    a = run_experiment(tiny_config.replace(output_dir=str(tmp_path / "a")))
    b = run_experiment(tiny_config.replace(output_dir=str(tmp_path / "b")))
    rows_a, rows_b = _epoch_rows(tmp_path / "a"), _epoch_rows(tmp_path / "b")
    assert len(rows_a) == 2 * (1 + 3) + 2 * (1 + 2 + 3)  # 2 seeds: scratch (init + 3), warm (init + 2 + 3)
    assert rows_a == rows_b
    assert a.per_seed == b.per_seed and len(a.per_seed) == 2


def test_rerun_skips_finished_runs_and_extends_to_new_seeds(tiny_config):
    first = run_experiment(tiny_config)
    assert (first.ran, first.skipped) == (4, 0)
    again = run_experiment(tiny_config)
    assert (again.ran, again.skipped) == (0, 4)
    assert again.per_seed == first.per_seed
    more = run_experiment(tiny_config.replace(seeds=(0, 1, 2)))
    assert (more.ran, more.skipped) == (2, 4) and len(more.per_seed) == 3


def test_scratch_baseline_is_shared_by_experiments_that_differ_only_in_pretraining(tiny_config):
    run_experiment(tiny_config)
    other = run_experiment(tiny_config.replace(fraction=0.25, pretrain_epochs=1))
    assert (other.ran, other.skipped) == (2, 2)  # new warm runs, the same scratch runs
    with Store(tiny_config.output_dir) as store:
        assert len(store.experiments()) == 2


def test_an_unfinished_run_is_redone_from_scratch(tiny_config):
    with Store(tiny_config.output_dir) as store:
        # A run that a killed process left behind: status running, a partial epoch row.
        rid = store.begin_run(run_key(tiny_config, 0, "scratch"), role="scratch", seed=0, config_hash="x",
                              config={}, versions={}, device="cpu")
        store.add_epoch(rid, 2, 1, {"test_acc": 0.123, "train_loss": 9.0})
        store.db.execute("UPDATE runs SET pid = 999999999 WHERE id = ?", (rid,))  # a dead process
    result = run_experiment(tiny_config)
    assert result.ran == 4
    with Store(tiny_config.output_dir) as store:
        run = store.get_run(run_key(tiny_config, 0, "scratch"))
        assert run.id == rid and run.status == "done"
        rows = store.epochs(rid)
        assert [(r["stage"], r["epoch"]) for r in rows] == [(0, 0), (2, 1), (2, 2), (2, 3)]
        assert rows[1]["test_acc"] != 0.123


def test_a_diverging_run_is_kept_and_marked(tiny_config):
    from avalanche.core import SupervisedPlugin

    from plasticity_bench.strategies import STRATEGIES, register_strategy

    @register_strategy("nan_after_first_stage")
    class NanLoss(SupervisedPlugin):
        """Makes the loss NaN in the final stage (a diverging method)."""

        def before_backward(self, strategy, **kw):
            if strategy.experience.is_final:
                strategy.loss = strategy.loss * float("nan")

    try:
        cfg = tiny_config.replace(strategy=("nan_after_first_stage",), seeds=(0,))
        result = run_experiment(cfg)
        assert result.diverged == [run_key(cfg, 0, "warm")] and result.per_seed == []
        with Store(cfg.output_dir) as store:
            statuses = {r["role"]: r["status"] for r in store.db.execute("SELECT role, status FROM runs")}
            assert statuses == {"scratch": "done", "warm": "diverged"}
            assert store.integrity_ok()
            (err,) = store.db.execute("SELECT error FROM runs WHERE role = 'warm'").fetchone()
            assert err == "training loss is nan at stage 2, epoch 1"
            warm = store.get_run(run_key(cfg, 0, "warm"))
            assert [(e["stage"], e["epoch"]) for e in store.epochs(warm.id)] == [(0, 0), (1, 1), (1, 2), (2, 1)]
        again = run_experiment(cfg)  # finished (diverged) runs are not retried
        assert again.ran == 0 and again.skipped == 2
    finally:
        STRATEGIES.remove("nan_after_first_stage")


def test_a_crash_marks_the_run_failed_and_the_next_start_redoes_it(tiny_config, monkeypatch):
    import plasticity_bench.runner as runner

    real = runner.train_run

    def crash_in_warm(config, data, seed, role, **kw):
        if role == "warm":
            sink = kw["sink"]
            sink(1, 1, {"test_acc": 0.5, "train_loss": 1.0})
            raise RuntimeError("simulated crash")
        return real(config, data, seed, role, **kw)

    monkeypatch.setattr(runner, "train_run", crash_in_warm)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_experiment(tiny_config)
    with Store(tiny_config.output_dir) as store:
        warm = store.get_run(run_key(tiny_config, 0, "warm"))
        assert warm.status == "failed" and "simulated crash" in warm.error
        assert store.is_finished(run_key(tiny_config, 0, "scratch"))
    monkeypatch.setattr(runner, "train_run", real)
    result = run_experiment(tiny_config)
    assert result.ran == 3 and result.skipped == 1 and len(result.per_seed) == 2



def test_gap_plugin_metric_emits_the_gap_of_the_warm_run(tiny_config, tiny_data):
    from plasticity_bench.metrics.gap import generalisation_gap
    from plasticity_bench.metrics.plugin import GAP_NAME, LASTK_NAME

    rows = []
    scratch_curve = [0.5, 0.6, 0.7]
    strategy = train_run(tiny_config, tiny_data, 0, "warm", device=torch.device("cpu"),
                         sink=lambda st, ep, v: rows.append((st, ep, v["test_acc"])), scratch_curve=scratch_curve)
    warm_curve = [acc for st, ep, acc in rows if st == 2]
    assert len(warm_curve) == tiny_config.tune_epochs
    last = strategy.evaluator.get_last_metrics()
    k = tiny_config.gap_window
    assert last[GAP_NAME] == pytest.approx(generalisation_gap(scratch_curve, warm_curve, k), abs=1e-12)
    assert last[LASTK_NAME] == pytest.approx(sum(warm_curve[-k:]) / k, abs=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_matches_the_cpu_path(tiny_config):
    cuda = run_experiment(tiny_config.replace(device="cuda", seeds=(0,)))
    assert cuda.ran == 2
    with Store(tiny_config.output_dir) as store:
        assert {r["device"] for r in store.db.execute("SELECT device FROM runs")} == {"cuda"}
    cpu = run_experiment(tiny_config.replace(device="cpu", seeds=(0,), output_dir=tiny_config.output_dir + "-cpu"))
    # Same protocol on both devices: the numbers agree up to float reordering.
    assert cuda.per_seed[0]["gap"] == pytest.approx(cpu.per_seed[0]["gap"], abs=0.05)


def test_parallel_workers_store_the_same_numbers_as_one_process(tiny_config, tmp_path):
    one = run_experiment(tiny_config.replace(output_dir=str(tmp_path / "one")))
    two = run_experiment(tiny_config.replace(output_dir=str(tmp_path / "two"), workers=2))
    assert (two.ran, two.skipped) == (4, 0)
    assert _epoch_rows(tmp_path / "one") == _epoch_rows(tmp_path / "two")
    assert one.per_seed == two.per_seed


def test_worker_count_auto():
    from plasticity_bench.config import ExperimentConfig
    from plasticity_bench.runner import worker_count

    cores = len(os.sched_getaffinity(0))
    cfg = ExperimentConfig(device="cpu")
    assert worker_count(cfg, 5) == max(1, min(cores, 5))
    assert worker_count(cfg, 1) == 1
    assert worker_count(cfg.replace(num_threads=cores), 5) == 1
    assert worker_count(cfg.replace(workers=3), 2) == 2
