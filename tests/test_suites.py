"""Suites: grids, profiles, validation before anything runs, running, reports, leaderboard."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from plasticity_bench.cli import main
from plasticity_bench.errors import ConfigError
from plasticity_bench.suites import find_suite, load_suite, suites_dir

TINY = ["--num-samples", "400", "--pretrain-epochs", "1", "--tune-epochs", "2", "--batch-size", "64",
        "--seeds", "0", "1", "--workers", "1", "--no-progress"]
SUITES = sorted(p.stem for p in suites_dir().glob("*.toml")) if suites_dir() else []


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


GRID_SUITE = """
title = "t"
[figure]
kind = "sweep"
x = "pretrain_epochs"
series = "opt"
[base]
scenario = "warm_start"
[profiles.quick]
num_samples = 400
[profiles.quick.grid]
pretrain_epochs = [1, 2, 3]
[profiles.paper]
dataset = "cifar10"
[grid]
opt = [{ optimizer = "adam", lr = 1e-3 }, { optimizer = "sgd", lr = 0.1 }]
"strategy_options.high_lr.tune_mult" = [2.0]
"""


def test_grid_expands_to_the_product_with_zipped_axes(tmp_path):
    s = load_suite(_write(tmp_path, GRID_SUITE.replace('scenario = "warm_start"', 'scenario = "warm_start"\nstrategy = ["high_lr"]')))
    assert len(s.entries) == 2 * 3
    combos = {(e.config.optimizer, e.config.lr, e.config.pretrain_epochs) for e in s.entries}
    assert combos == {(o, lr, p) for o, lr in (("adam", 1e-3), ("sgd", 0.1)) for p in (1, 2, 3)}
    assert all(e.config.strategy_options == {"high_lr": {"tune_mult": 2.0}} for e in s.entries)
    assert all(e.config.num_samples == 400 and e.config.scenario == "warm_start" for e in s.entries)
    assert s.entries[0].axes == {"opt": {"optimizer": "adam", "lr": 1e-3}, "strategy_options.high_lr.tune_mult": 2.0,
                                 "pretrain_epochs": 1}


def test_overrides_apply_to_every_entry_last(tmp_path):
    s = load_suite(_write(tmp_path, GRID_SUITE), overrides={"tune_epochs": 7, "pretrain_epochs": 9})
    assert {e.config.tune_epochs for e in s.entries} == {7} and {e.config.pretrain_epochs for e in s.entries} == {9}


@pytest.mark.parametrize(
    "edit,message",
    [
        (("pretrain_epochs = [1, 2, 3]", "pretrain_epochs = [1, 0, 3]"), "entry 2 (opt={optimizer='adam', lr=0.001}, strategy_options.high_lr.tune_mult=2.0, pretrain_epochs=0): pretrain_epochs: 0 is not allowed"),
        (("num_samples = 400", "num_sample = 400"), "[profiles.quick]: unknown key 'num_sample'"),
        (('lr = 0.1 }', 'lr = "fast" }'), "lr: expected float, got str 'fast'"),
        (('x = "pretrain_epochs"', 'x = "epochs"'), "[figure]: 'epochs' is not a grid axis"),
        (("[grid]", "[grid]\nbogus = [1, 2]"), "[grid].bogus: unknown key 'bogus'"),
    ],
)
def test_bad_entries_are_named_by_file_entry_and_field(tmp_path, edit, message):
    text = GRID_SUITE.replace(*edit)
    with pytest.raises(ConfigError) as e:
        load_suite(_write(tmp_path, text))
    assert "s.toml" in str(e.value) and message in str(e.value)


def test_a_bad_entry_stops_the_suite_before_the_first_run(tmp_path, capsys):
    text = GRID_SUITE.replace('"strategy_options.high_lr.tune_mult" = [2.0]', "").replace(
        '{ optimizer = "sgd", lr = 0.1 }', '{ optimizer = "sgd", lr = 0.1, model = "vgg" }')
    out = tmp_path / "never"
    assert main(["run", str(_write(tmp_path, text)), "--output-dir", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "s.toml, entry 4 (opt={optimizer='sgd', lr=0.1, model='vgg'}, pretrain_epochs=1): model: unknown model 'vgg'" in err
    assert not out.exists()


def test_unknown_suite_and_profile(capsys):
    with pytest.raises(ConfigError, match="unknown suite 'nope'; known suites: .*fig1_warm_start"):
        find_suite("nope")
    with pytest.raises(ConfigError, match="'huge' is not a profile of this suite"):
        load_suite("fig1", "huge")


@pytest.mark.parametrize("name", SUITES)
@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_shipped_suite_loads_in_both_profiles(name, profile):
    s = load_suite(name, profile)
    assert s.entries and s.title and s.paper
    if profile == "paper":
        assert {e.config.dataset for e in s.entries} == {"cifar10"}
        assert {len(e.config.seeds) for e in s.entries} == {9}
    else:
        assert {e.config.dataset for e in s.entries} == {"mnist1d"}


@pytest.mark.parametrize("name", SUITES)
def test_every_quick_profile_validates_against_the_data(name):
    from plasticity_bench.suites import validate_suite

    validate_suite(load_suite(name, "quick"))


def test_paper_profile_without_cifar_stops_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["run", "fig1", "--profile", "paper", "--data-root", str(tmp_path / "none"), "--no-download",
                 "--output-dir", str(out)]) == 2
    assert "cifar10 is not in" in capsys.readouterr().err and not out.exists()


def test_run_a_suite_resume_it_report_it_and_rank_it(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "fig6", "--output-dir", str(out), *TINY]) == 0
    first = capsys.readouterr().out
    assert "Figure 6" in first and "| 4-6 |" in first and "made by: plasticity-bench run fig6" in first
    db = sqlite3.connect(out / "results.sqlite")
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2 + 5 * 2  # shared scratch: once per seed
    assert db.execute("SELECT COUNT(*) FROM suite_entries").fetchone()[0] == 5
    assert main(["run", "fig6", "--output-dir", str(out), *TINY]) == 0
    assert "ran 0 runs" in capsys.readouterr().out
    # fig11 shares two of its three experiments with fig6
    assert main(["run", "fig11", "--output-dir", str(out), *TINY]) == 0
    assert "ran 0 runs" in capsys.readouterr().out
    # the report: one figure per suite, a markdown report naming each command
    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    for png in ("fig6_reset_groups-quick.png", "fig11_kept_modules-quick.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text()
    assert "## Figure 6" in md and "Made by: `plasticity-bench run fig6 " in md and "Paper: " in md
    assert "| groups | scratch acc (%) | warm acc (%) | gap (points) | gap 95% CI | n |" in md
    # the leaderboard: ranked by gap within the setting
    assert main(["leaderboard", str(out)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert len(rows) == 5 and [int(r["rank"]) for r in rows] == [1, 2, 3, 4, 5]
    gaps = [float(r["gap_mean"]) for r in rows]
    assert gaps == sorted(gaps) and all(r["n_seeds"] == "2" for r in rows)
    page = (out / "leaderboard.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "http" not in page and "<script" not in page and "<link" not in page  # self-contained
    assert "reset_layers(groups=4-6)" in (out / "leaderboard.md").read_text()


def test_leaderboard_logs_a_wandb_table_offline(tmp_path, capsys):
    from plasticity_bench.wandb_logger import read_offline_run

    out = tmp_path / "res"
    assert main(["run", "--output-dir", str(out), *TINY]) == 0
    assert main(["leaderboard", str(out), "--wandb", "--wandb-mode", "offline"]) == 0
    capsys.readouterr()
    runs = [read_offline_run(d) for d in (out / "wandb").glob("offline-run-*")]
    board = [r for r in runs if r["run"]["job_type"] == "leaderboard"]
    assert len(board) == 1
    summary = board[0]["summary"]
    assert summary["leaderboard/_type"] == "table-file" and summary["leaderboard/nrows"] == 1
    assert board[0]["run"]["project"] == "plasticity-bench"
    import json

    (table_file,) = (out / "wandb").glob(f"offline-run-*/files/{summary['leaderboard/path']}")
    table = json.loads(table_file.read_text())
    row = next(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert table["columns"][:5] == ["scenario", "setting", "setting_description", "rank", "method"]
    assert table["data"][0][4] == row["method"] == "naive" and table["data"][0][5] == pytest.approx(float(row["gap_mean"]))
