"""The warm-start scenario is a real Avalanche CLScenario with the paper's stages."""

from __future__ import annotations

import torch

from plasticity_bench.scenarios import SCENARIOS, build_scenario
from plasticity_bench.scenarios.incremental import warm_start


def test_two_nested_stages_the_last_the_full_training_set(tiny_data):
    n = len(tiny_data.train_y)  # 320
    bm = warm_start(tiny_data, fraction=0.5, seed=3)
    first, last = list(bm.train_stream)
    assert len(bm.train_stream) == 2
    assert len(first.dataset) == len(first.indices) == n // 2
    assert len(last.dataset) == len(last.indices) == n
    assert torch.equal(last.indices, torch.arange(n))
    assert set(first.indices.tolist()) < set(last.indices.tolist())
    assert (first.stage, last.stage, first.is_final, last.is_final) == (1, 2, False, True)
    # The Avalanche dataset of a stage holds exactly that stage's examples.
    for pos in (0, 17, len(first.indices) - 1):
        x, y = first.dataset[pos][0], first.dataset[pos][1]
        i = int(first.indices[pos])
        assert torch.equal(x, tiny_data.train_x[i]) and y == int(tiny_data.train_y[i])


def test_test_stream_is_the_test_set(tiny_data):
    bm = warm_start(tiny_data, seed=0)
    (test,) = list(bm.test_stream)
    assert len(test.dataset) == len(tiny_data.test_y) == 80
    assert torch.equal(test.dataset[5][0], tiny_data.test_x[5])


def test_fraction_sets_the_first_stage_size(tiny_data):
    first = list(warm_start(tiny_data, fraction=0.3, seed=0).train_stream)[0]
    assert len(first.indices) == round(0.3 * 320) == 96


def test_stages_are_drawn_by_seed(tiny_data):
    a = list(warm_start(tiny_data, seed=1).train_stream)[0].indices
    b = list(warm_start(tiny_data, seed=1).train_stream)[0].indices
    c = list(warm_start(tiny_data, seed=2).train_stream)[0].indices
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_build_scenario_reads_its_options_from_the_config(tiny_data, tiny_config):
    assert "warm_start" in SCENARIOS
    bm = build_scenario(tiny_config.replace(fraction=0.25), tiny_data, seed=0)
    assert len(list(bm.train_stream)[0].indices) == 80


def test_stock_avalanche_naive_trains_on_it_unmodified(tiny_data):
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training import Naive
    from avalanche.training.plugins import EvaluationPlugin

    from plasticity_bench.models import create_model

    torch.manual_seed(0)
    model = create_model("resnet_mini", spatial_dims=1, in_channels=1, num_classes=10)
    before = [p.detach().clone() for p in model.parameters()]
    bm = warm_start(tiny_data, seed=0)
    strategy = Naive(
        model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2), train_mb_size=32, train_epochs=3,
        eval_mb_size=64, evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]),
    )
    strategy.train(bm.train_stream)
    results = strategy.eval(bm.test_stream)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    acc = results["Top1_Acc_Stream/eval_phase/test_stream"]
    assert acc > 0.2  # chance is 0.1; three epochs on 320 examples do better
