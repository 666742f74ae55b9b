"""The four scenarios through the framework: stages, epochs, drift sampling, stock
Avalanche strategies, errors, and `describe`."""

from __future__ import annotations

import math

import pytest
import torch

from plasticity_bench.cli import main
from plasticity_bench.runner import run_experiment, run_key, stage_epochs
from plasticity_bench.scenarios import SCENARIOS, build_scenario
from plasticity_bench.store import Store


def test_all_four_scenarios_are_registered():
    assert {"warm_start", "data_incremental", "class_imbalanced", "smooth_drift"} <= set(SCENARIOS.names())


def test_warm_start_is_data_incremental_with_one_split(tiny_data, tiny_config):
    a = build_scenario(tiny_config.replace(scenario="warm_start", fraction=0.5), tiny_data, 4)
    b = build_scenario(tiny_config.replace(scenario="data_incremental", n_splits=1), tiny_data, 4)
    for x, y in zip(a.train_stream, b.train_stream):
        assert torch.equal(x.indices, y.indices) and x.order_seed == y.order_seed


@pytest.mark.parametrize("scenario", ["warm_start", "data_incremental", "class_imbalanced", "smooth_drift"])
def test_same_seed_same_stages(tiny_data, tiny_config, scenario):
    cfg = tiny_config.replace(scenario=scenario)
    a, b = build_scenario(cfg, tiny_data, 7), build_scenario(cfg, tiny_data, 7)
    for x, y in zip(a.train_stream, b.train_stream):
        assert torch.equal(x.indices, y.indices)
    if scenario != "smooth_drift":
        c = build_scenario(cfg, tiny_data, 8)
        assert any(not torch.equal(x.indices, y.indices) for x, y in zip(list(a.train_stream)[:-1], c.train_stream))


def test_epoch_schedules(tiny_config):
    sizes = [100, 200, 300, 400]
    assert stage_epochs(tiny_config.replace(pretrain_epochs=9, tune_epochs=5), sizes) == [9, 9, 9, 5]
    assert stage_epochs(tiny_config.replace(pretrain_epochs=9, tune_epochs=5, epoch_schedule="proportional"), sizes) == [3, 6, 9, 5]
    assert stage_epochs(tiny_config.replace(pretrain_epochs=9, tune_epochs=5, epoch_schedule="until_acc"), sizes) == [9, 9, 9, 5]


def _stage_epochs_stored(cfg, role="warm", seed=0):
    with Store(cfg.output_dir) as store:
        run = store.get_run(run_key(cfg, seed, role))
        rows = [e for e in store.epochs(run.id) if e["epoch"] >= 1]
    out = {}
    for r in rows:
        out[r["stage"]] = out.get(r["stage"], 0) + 1
    return out, rows


def test_data_incremental_runs_each_stage_for_its_epochs(tiny_config):
    cfg = tiny_config.replace(scenario="data_incremental", n_splits=3, epoch_schedule="proportional",
                              pretrain_epochs=3, tune_epochs=2, seeds=(0,))
    run_experiment(cfg)
    counts, _ = _stage_epochs_stored(cfg)
    assert counts == {1: 1, 2: 2, 3: 3, 4: 2}  # round(3 * 80/240), round(3 * 160/240), 3; final 2
    scratch, _ = _stage_epochs_stored(cfg, role="scratch")
    assert scratch == {4: 2}


def test_until_acc_stops_a_pretraining_stage_at_the_target(tiny_config):
    cfg = tiny_config.replace(scenario="warm_start", epoch_schedule="until_acc", target_acc=0.3, pretrain_epochs=30,
                              tune_epochs=2, seeds=(0,), lr=0.01)
    run_experiment(cfg)
    counts, rows = _stage_epochs_stored(cfg)
    pre = [r["train_acc"] for r in rows if r["stage"] == 1]
    assert counts[2] == 2 and 1 <= counts[1] < 30
    assert pre[-1] >= 0.3 and all(a < 0.3 for a in pre[:-1])  # stopped at the first epoch that reached it


def test_smooth_drift_epochs_are_steps_and_p_is_logged(tiny_config):
    cfg = tiny_config.replace(scenario="smooth_drift", gamma=0.5, tune_epochs=4, batch_size=64, seeds=(0,))
    result = run_experiment(cfg)
    assert result.ran == 2 and len(result.per_seed) == 1
    counts, rows = _stage_epochs_stored(cfg)
    assert counts == {1: 4}  # one stage; test accuracy after each of the 4 epochs
    steps = math.ceil(320 / 64)
    total = 4 * steps
    for i, r in enumerate(rows):
        # mean p(n) = 1 - 0.5^(50 n / N) over the epoch's steps
        expected = sum(1 - 0.5 ** (50 * n / total) for n in range(i * steps, (i + 1) * steps)) / steps
        assert r["DrawProb_Epoch/train_phase/train_stream"] == pytest.approx(expected)
        assert 0.0 <= r["FullShare_Epoch/train_phase/train_stream"] <= 1.0
    scratch, srows = _stage_epochs_stored(cfg, role="scratch")
    assert scratch == {1: 4} and "DrawProb_Epoch/train_phase/train_stream" not in srows[0]


def test_smooth_drift_feeds_the_strategy_lazily_one_batch_at_a_time(tiny_data, tiny_config):
    bm = build_scenario(tiny_config.replace(scenario="smooth_drift", tune_epochs=1000, batch_size=64), tiny_data, 0)
    (stage,) = list(bm.train_stream)
    batches = stage.batches(64, torch.device("cpu"), shuffle=True)
    it = iter(batches)
    first = next(it)
    assert len(batches) == math.ceil(320 / 64) and first[0].shape == (64, 1, 40)
    assert stage.sampler.step == 1  # one step drawn, not N x batch up front
    pre = set(stage.sampler.pretrain.tolist())
    assert set(first[1].tolist()) <= set(range(10))
    # p(0) = 0: the first batch comes from the pretraining subset alone
    x = first[0]
    rows = {tuple(tiny_data.train_x[i].flatten().tolist()): i for i in range(320)}
    assert {rows[tuple(r.flatten().tolist())] for r in x} <= pre


@pytest.mark.parametrize("scenario", ["warm_start", "data_incremental", "class_imbalanced", "smooth_drift"])
@pytest.mark.parametrize("stock", ["Naive", "Replay", "EWC"])
def test_stock_avalanche_strategies_train_on_every_scenario(tiny_data, tiny_config, scenario, stock):
    import avalanche.training as training
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training.plugins import EvaluationPlugin

    from plasticity_bench.models import create_model

    bm = build_scenario(tiny_config.replace(scenario=scenario, n_splits=2), tiny_data, 0)
    torch.manual_seed(0)
    model = create_model("resnet_mini", spatial_dims=1, in_channels=1, num_classes=10)
    before = [p.detach().clone() for p in model.parameters()]
    extra = {"Replay": {"mem_size": 50}, "EWC": {"ewc_lambda": 0.1}}.get(stock, {})
    strategy = getattr(training, stock)(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.05), criterion=torch.nn.CrossEntropyLoss(),
        train_mb_size=32, train_epochs=1,
        eval_mb_size=64, evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]), **extra,
    )
    strategy.train(bm.train_stream)
    acc = strategy.eval(bm.test_stream)["Top1_Acc_Stream/eval_phase/test_stream"]
    assert 0.0 <= acc <= 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize(
    "args,message",
    [
        (["--scenario", "data_incremental", "--n-splits", "0"], "n_splits: 0 is not allowed; it must be at least 1"),
        (["--scenario", "class_imbalanced", "--class-ratio", "1.5"], "class_ratio: 1.5 is not allowed; it must lie in [0, 1]"),
        (["--scenario", "class_imbalanced", "--class-ratio", "-0.1"], "class_ratio: -0.1 is not allowed"),
        (["--scenario", "class_imbalanced", "--n-splits", "1", "--class-groups", "0,1,2,3,4", "4,5,6,7,8,9"],
         "class_groups: must partition the classes 0..9: repeated [4]"),
        (["--scenario", "class_imbalanced", "--n-splits", "1", "--class-groups", "0,1,2,3", "5,6,7,8,9"],
         "class_groups: must partition the classes 0..9: missing [4]"),
        (["--scenario", "class_imbalanced", "--n-splits", "1", "--class-groups", "0,1,2,3,4", "5,6,7,8,9,12"],
         "class_groups: must partition the classes 0..9: unknown classes [12]"),
        (["--scenario", "class_imbalanced", "--n-splits", "2", "--class-groups", "0,1,2,3,4", "5,6,7,8,9"],
         "class_groups: ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)) is not allowed; give n_splits + 1 = 3 groups"),
        (["--scenario", "smooth_drift", "--gamma", "1"], "gamma: 1.0 is not allowed; it must lie in (0, 1)"),
        (["--scenario", "smooth_drift", "--gamma", "0"], "gamma: 0.0 is not allowed"),
        (["--scenario", "smooth_drift", "--pretrain-fraction", "1.2"], "pretrain_fraction: 1.2 is not allowed; it must lie in (0, 1)"),
        (["--scenario", "data_incremental", "--n-splits", "2", "--sizes", "0.6", "0.3"], "sizes: (0.6, 0.3) is not allowed"),
        (["--epoch-schedule", "forever"], "epoch_schedule: 'forever' is not allowed; use one of fixed, proportional, until_acc"),
    ],
)
def test_bad_scenario_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["run", "--no-progress", "--num-samples", "400", "--output-dir", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_describe_prints_stages_without_training(capsys, tmp_path):
    assert main(["describe", "class_imbalanced", "--num-samples", "400", "--n-splits", "2", "--class-ratio", "0",
                 "--class-groups", "0,1,2", "3,4,5", "6,7,8,9", "--output-dir", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    lines = [ln.split() for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert [ln[0] for ln in lines] == ["1", "2", "3*"]
    first_hist = eval(out.splitlines()[[i for i, ln in enumerate(out.splitlines()) if ln.strip().startswith("1 ")][0]].split("  ")[-1])
    assert first_hist[3:] == [0] * 7 and all(c > 0 for c in first_hist[:3])  # r = 0: only classes 0-2 in stage 1
    assert not (tmp_path / "x").exists()  # nothing trained, nothing written
    assert main(["describe", "smooth_drift", "--num-samples", "400", "--gamma", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "p(n) = P(draw from the full set)" in out and "n=0 (0%): 0.000" in out
