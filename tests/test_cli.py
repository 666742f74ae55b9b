"""The `plasticity-bench` command end to end, and its answers to bad input."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plasticity_bench.cli import main

TINY = ["--num-samples", "400", "--pretrain-epochs", "2", "--tune-epochs", "3", "--batch-size", "64",
        "--seeds", "0", "1", "--device", "cpu", "--num-threads", "2"]


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "plasticity_bench", *args], capture_output=True, text=True, env=env, **kw)


def test_run_then_report_end_to_end(tmp_path):
    out = tmp_path / "res"
    r = _cli("run", *TINY, "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    assert "scratch" in r.stdout and "warm" in r.stdout and "95% CI" in r.stdout
    assert "positive = the warm-started model generalises worse" in r.stdout
    assert (out / "results.sqlite").exists()
    rep = _cli("report", str(out))
    assert rep.returncode == 0, rep.stderr
    # the report re-prints the same table lines as the run
    table = [ln for ln in r.stdout.splitlines() if ln.strip().startswith(("scratch", "warm", "gap"))]
    assert table and all(ln in rep.stdout for ln in table)
    pngs = list(out.glob("curves-*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_toml_config_and_flag_override(tmp_path, capsys):
    toml = tmp_path / "exp.toml"
    toml.write_text('num_samples = 400\npretrain_epochs = 1\ntune_epochs = 2\nbatch_size = 64\nseeds = [3]\n'
                    f'fraction = 0.25\noutput_dir = "{tmp_path / "t"}"\ndevice = "cpu"\n')
    assert main(["run", "--no-progress", "--config", str(toml), "--tune-epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "epochs 1 (pretrain) / 3 (final)" in out and "seeds [3]" in out
    db = sqlite3.connect(tmp_path / "t" / "results.sqlite")
    (cfg,) = db.execute("SELECT config_json FROM experiments").fetchone()
    assert '"fraction": 0.25' in cfg and '"tune_epochs": 3' in cfg


@pytest.mark.parametrize(
    "args,message",
    [
        (["--fraction", "1.5"], "fraction: 1.5 is not allowed; it must lie in (0, 1)"),
        (["--fraction", "0"], "fraction: 0.0 is not allowed"),
        (["--tune-epochs", "0"], "tune_epochs: 0 is not allowed; it must be at least 1"),
        (["--pretrain-epochs", "-3"], "pretrain_epochs: -3 is not allowed"),
        (["--dataset", "imagenet"], "dataset: unknown dataset 'imagenet'; allowed: cifar10, cifar100, mnist1d"),
        (["--model", "vgg"], "model: unknown model 'vgg'; allowed: resnet, resnet18, resnet_mini"),
        (["--optimizer", "adagrad"], "optimizer: unknown optimizer 'adagrad'; allowed: adam, rmsprop, sgd, sgd_momentum"),
        (["--scenario", "nope"], "scenario: unknown scenario 'nope'"),
        (["--strategy", "nope"], "strategy: unknown strategy 'nope'"),
        (["--window", "99"], "window: 99 is not allowed; it must lie in [1, tune_epochs=60]"),
        (["--seeds", "1", "1"], "seeds: (1, 1) is not allowed; seeds must not repeat"),
        (["--model", "resnet18", "--width", "8"], "width: resnet18 fixes width=64"),
        (["--device", "tpu"], "device: 'tpu' is not allowed"),
        (["--strategy-opt", "naive.x=1"], "strategy_options.naive.x: unknown option of strategy 'naive'"),
        (["--strategy-opt", "reset.x=1"], "strategy_options.reset: options given for a strategy not in use"),
    ],
)
def test_bad_input_exits_2_names_the_field_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["run", "--no-progress", "--output-dir", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one line, no traceback
    assert not out.exists()


def test_wrong_type_is_refused_by_the_flag_parser(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--tune-epochs", "many"])
    assert e.value.code == 2
    assert "argument --tune-epochs: invalid int value: 'many'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content,message",
    [
        ("tune_epochs = 'ten'\n", "tune_epochs: expected int, got str 'ten'"),
        ("epochz = 3\n", "epochz: unknown key in"),
        ("fraction = 2\n", "fraction: 2.0 is not allowed"),
        ("seeds = [0, 'a']\n", "seeds: expected list of int"),
        ("augment = 1\n", "augment: expected bool, got int 1"),
        ("this is not toml\n", "is not valid TOML"),
    ],
)
def test_bad_toml_exits_2(tmp_path, capsys, content, message):
    toml = tmp_path / "bad.toml"
    toml.write_text(content)
    out = tmp_path / "never"
    assert main(["run", "--config", str(toml), "--output-dir", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unreadable_toml_exits_2(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config: cannot read" in capsys.readouterr().err


def test_report_on_an_empty_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no results database" in capsys.readouterr().err


def test_help_is_fast_and_imports_no_torch():
    code = ("import sys; from plasticity_bench.cli import build_parser; build_parser().format_help(); "
            "print('torch' in sys.modules, 'avalanche' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False False", r.stderr
    t = time.perf_counter()
    h = _cli("run", "--help")
    assert h.returncode == 0 and "--tune-epochs" in h.stdout and "--strategy-opt" in h.stdout
    assert time.perf_counter() - t < 5  # seconds, generous; importing torch+avalanche alone takes ~8 s here


def test_list_commands(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "resnet18" in out and "resnet_mini" in out
    assert main(["list", "strategies"]) == 0
    assert "naive" in capsys.readouterr().out


def test_killed_run_leaves_a_consistent_store_and_is_redone(tmp_path):
    """SIGKILL part-way through a run, then run the same command again."""
    out = tmp_path / "killed"
    args = ["run", "--no-progress", "--num-samples", "400", "--pretrain-epochs", "2", "--tune-epochs", "40",
            "--batch-size", "64", "--seeds", "0", "--device", "cpu", "--num-threads", "1", "--output-dir", str(out)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "plasticity_bench", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db_path = out / "results.sqlite"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if db_path.exists():
                try:
                    with sqlite3.connect(db_path) as db:
                        n = db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
                if n >= 5:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    statuses = dict(db.execute("SELECT role, status FROM runs").fetchall())
    assert "running" in statuses.values()  # killed mid-run: left unfinished
    partial = db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
    assert 5 <= partial < 1 + 40 + 1 + 2 + 40
    db.close()

    again = _cli(*args)
    assert again.returncode == 0, again.stderr
    db = sqlite3.connect(db_path)
    assert dict(db.execute("SELECT role, status FROM runs").fetchall()) == {"scratch": "done", "warm": "done"}
    counts = dict(db.execute("SELECT r.role, COUNT(*) FROM epochs e JOIN runs r ON r.id = e.run_id GROUP BY r.role"))
    assert counts == {"scratch": 1 + 40, "warm": 1 + 2 + 40}
    redone = db.execute("SELECT e.stage, e.epoch, e.test_acc FROM epochs e JOIN runs r ON r.id = e.run_id "
                        "WHERE r.role = 'warm' ORDER BY e.stage, e.epoch").fetchall()
    db.close()
    # The re-done numbers equal those of a run that was never interrupted.
    clean = tmp_path / "clean"
    assert _cli(*[a if a != str(out) else str(clean) for a in args]).returncode == 0
    db = sqlite3.connect(clean / "results.sqlite")
    ref = db.execute("SELECT e.stage, e.epoch, e.test_acc FROM epochs e JOIN runs r ON r.id = e.run_id "
                     "WHERE r.role = 'warm' ORDER BY e.stage, e.epoch").fetchall()
    assert redone == ref
