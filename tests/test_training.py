"""PlasticityStrategy: the paper's protocol on Avalanche's template, and nothing else."""

from __future__ import annotations

import torch
from avalanche.core import SupervisedPlugin

from plasticity_bench.metrics.accuracy import EpochAccuracyLoss, StreamAccuracyLoss
from plasticity_bench.models import create_model
from plasticity_bench.recording import EpochRecorder
from plasticity_bench.scenarios.incremental import warm_start
from plasticity_bench.stages import TensorBatches
from plasticity_bench.training import LeanEvaluationPlugin, PlasticityStrategy


class OptimizerStateProbe(SupervisedPlugin):
    """Records how many parameters have optimiser state at the start and end of each experience."""

    def __init__(self):
        super().__init__()
        self.at_start, self.at_end, self.lrs = [], [], []

    def before_training_exp(self, strategy, **kw):
        self.at_start.append(len(strategy.optimizer.state))
        self.lrs.append(strategy.optimizer.param_groups[0]["lr"])

    def after_training_exp(self, strategy, **kw):
        self.at_end.append(len(strategy.optimizer.state))


def _model():
    torch.manual_seed(0)
    return create_model("resnet_mini", spatial_dims=1, in_channels=1, num_classes=10)


def test_optimizer_state_is_empty_at_the_start_of_every_experience(tiny_data):
    model, probe = _model(), OptimizerStateProbe()
    s = PlasticityStrategy(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
                           train_mb_size=64, plugins=[probe], eval_every=-1, epochs_per_stage=[1, 1])
    s.train(warm_start(tiny_data, seed=0).train_stream)
    n_params = len(list(model.parameters()))
    assert probe.at_start == [0, 0]
    assert probe.at_end == [n_params, n_params]  # Adam kept moments for every parameter during the stage
    assert probe.lrs == [1e-3, 1e-3]


def test_stock_avalanche_would_keep_the_statistics(tiny_data):
    # What the reset changes: Avalanche's own Naive carries Adam's moments over.
    from avalanche.training import Naive

    model, probe = _model(), OptimizerStateProbe()
    s = Naive(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), train_mb_size=64,
              plugins=[probe], evaluator=LeanEvaluationPlugin())
    s.train(warm_start(tiny_data, seed=0).train_stream)
    assert probe.at_start[0] == 0 and probe.at_start[1] > 0


def test_epochs_are_set_per_stage_and_test_accuracy_is_recorded_after_each(tiny_data):
    rows = []
    model = _model()
    bm = warm_start(tiny_data, seed=0)
    s = PlasticityStrategy(
        model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), train_mb_size=64,
        evaluator=LeanEvaluationPlugin(EpochAccuracyLoss(), StreamAccuracyLoss(),
                                       loggers=[EpochRecorder(lambda st, ep, v: rows.append((st, ep, v)))]),
        epochs_per_stage=[2, 3],
    )
    s.train(bm.train_stream, eval_streams=[bm.test_stream])
    assert [(st, ep) for st, ep, _ in rows] == [(0, 0), (1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]
    for st, ep, v in rows[1:]:
        assert 0.0 <= v["train_acc"] <= 1.0 and 0.0 <= v["test_acc"] <= 1.0
        assert v["train_loss"] > 0 and v["test_loss"] > 0 and v["lr"] == 1e-3 and v["seconds"] > 0


def test_test_accuracy_matches_a_direct_computation(tiny_data):
    rows = []
    model = _model()
    bm = warm_start(tiny_data, seed=0)
    s = PlasticityStrategy(
        model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), train_mb_size=64, eval_mb_size=33,
        evaluator=LeanEvaluationPlugin(EpochAccuracyLoss(), StreamAccuracyLoss(),
                                       loggers=[EpochRecorder(lambda st, ep, v: rows.append(v))]),
        epochs_per_stage=[1, 1],
    )
    s.train(bm.train_stream, eval_streams=[bm.test_stream])
    model.eval()
    with torch.no_grad():
        logits = model(tiny_data.test_x)
    expected = (logits.argmax(1) == tiny_data.test_y).double().mean().item()
    loss = torch.nn.functional.cross_entropy(logits, tiny_data.test_y).item()
    assert abs(rows[-1]["test_acc"] - expected) < 1e-12
    assert abs(rows[-1]["test_loss"] - loss) < 1e-5


def test_our_stages_use_the_tensor_fast_path_and_changed_data_falls_back(tiny_data):
    seen = {}

    class Shrink(SupervisedPlugin):
        def after_train_dataset_adaptation(self, strategy, **kw):
            strategy.adapted_dataset = strategy.adapted_dataset.subset(range(10))

    class Look(SupervisedPlugin):
        def __init__(self, key):
            super().__init__()
            self.key = key

        def before_training_epoch(self, strategy, **kw):
            seen[self.key] = (type(strategy.dataloader).__name__, len(strategy.dataloader))

    bm = warm_start(tiny_data, seed=0)
    for key, plugins in (("fast", [Look("fast")]), ("changed", [Shrink(), Look("changed")])):
        model = _model()
        PlasticityStrategy(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), train_mb_size=64,
                           plugins=plugins, eval_every=-1).train(list(bm.train_stream)[-1])
    assert seen["fast"] == ("TensorBatches", 5)  # 320 examples / 64
    assert seen["changed"][0] != "TensorBatches" and seen["changed"][1] == 1  # 10 examples, one batch


def test_lean_evaluator_answers_only_callbacks_its_metrics_use():
    ev = LeanEvaluationPlugin(EpochAccuracyLoss())
    assert hasattr(ev, "after_training_iteration") and hasattr(ev, "after_training_epoch")
    assert not hasattr(ev, "before_forward") and not hasattr(ev, "after_backward")
    assert not hasattr(LeanEvaluationPlugin(), "after_training_iteration")


def test_tensor_batches_cover_every_index_once_per_epoch(tiny_data):
    from plasticity_bench.stages import TensorSource

    src = TensorSource(tiny_data.train_x, tiny_data.train_y)
    idx = torch.arange(0, 320, 3)
    tb = TensorBatches(src, idx, 25, torch.device("cpu"), generator=torch.Generator().manual_seed(0))
    epoch1 = torch.cat([y for _, y in tb])
    epoch2 = torch.cat([y for _, y in tb])
    assert len(tb) == 5 and len(epoch1) == len(idx)
    assert sorted(epoch1.tolist()) == sorted(tiny_data.train_y[idx].tolist())
    xs = torch.cat([x for x, _ in tb])
    assert xs.shape == (len(idx), 1, 40)
    assert not torch.equal(epoch1, epoch2) or len(set(epoch1.tolist())) == 1  # reshuffled each epoch
