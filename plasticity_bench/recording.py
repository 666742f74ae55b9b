"""`EpochRecorder`: an Avalanche logger that turns metric values into one row per epoch.

Order of events at the end of a training epoch (Avalanche's plugin order:
evaluator, then periodic eval): the train metrics arrive in
`after_training_epoch`, then the test stream is evaluated and its metrics
arrive in `after_eval`; the recorder joins them into one row and hands it to
`sink(stage, epoch, values)`. The evaluation before training (periodic eval's
initial one) becomes stage 0, epoch 0.

Row values: train_acc, train_loss, test_acc, test_loss (fractions, nats), lr
(of the first parameter group), seconds (wall time of the epoch, evaluation
included), plus every other metric emitted at the epoch's end under its full
Avalanche name (e.g. a scenario's sampling probability).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from avalanche.logging import BaseLogger

TRAIN_ACC = "Top1_Acc_Epoch/train_phase/train_stream"
TRAIN_LOSS = "Loss_Epoch/train_phase/train_stream"
TEST_ACC = "Top1_Acc_Stream/eval_phase/test_stream"
TEST_LOSS = "Loss_Stream/eval_phase/test_stream"

Sink = Callable[[int, int, dict[str, Any]], None]


class EpochRecorder(BaseLogger):
    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self.sink = sink
        self._pending: dict[str, Any] | None = None
        self._t0 = time.perf_counter()

    def before_training_epoch(self, strategy, metric_values) -> None:
        self._t0 = time.perf_counter()

    def after_training_epoch(self, strategy, metric_values) -> None:
        vals = {mv.name: mv.value for mv in metric_values}
        row: dict[str, Any] = {
            "train_acc": vals.pop(TRAIN_ACC, None),
            "train_loss": vals.pop(TRAIN_LOSS, None),
            "lr": strategy.optimizer.param_groups[0]["lr"],
        }
        row.update({k: v for k, v in vals.items() if isinstance(v, (int, float))})
        exp = strategy.experience
        stage = getattr(exp, "stage", None)
        if stage is None:
            with exp.no_attribute_masking():
                stage = exp.current_experience + 1
        self._pending = {"stage": stage, "epoch": strategy.clock.train_exp_epochs + 1, "values": row}

    def after_eval(self, strategy, metric_values) -> None:
        vals = {mv.name: mv.value for mv in metric_values}
        if TEST_ACC not in vals:
            return
        test = {"test_acc": vals[TEST_ACC], "test_loss": vals.get(TEST_LOSS)}
        if self._pending is None:  # the evaluation before training
            self.sink(0, 0, test)
            return
        p, self._pending = self._pending, None
        p["values"].update(test, seconds=time.perf_counter() - self._t0)
        self.sink(p["stage"], p["epoch"], p["values"])
