"""Accuracy and loss as Avalanche plugin metrics that stay off the hot path.

Avalanche's stock `accuracy_metrics` call `float()` on every mini-batch, a
host-device sync per iteration on a GPU. These accumulate correct counts and
summed losses as tensors on the training device and read them once per epoch
(train) or once per evaluation (test). Names follow Avalanche's
`Name/phase/stream` form:

- `Top1_Acc_Epoch/train_phase/train_stream`, `Loss_Epoch/train_phase/train_stream`:
  mean over the examples of the training epoch, measured on the fly (the model
  changes during the epoch, as in Avalanche's epoch accuracy).
- `Top1_Acc_Stream/eval_phase/<stream>_stream`, `Loss_Stream/eval_phase/<stream>_stream`:
  over a whole evaluation stream (here: the test set) in eval mode.

Accuracies are fractions in [0, 1]; losses are mean cross-entropy in nats.
"""

from __future__ import annotations

import torch
from avalanche.evaluation import PluginMetric
from avalanche.evaluation.metric_results import MetricValue
from avalanche.evaluation.metric_utils import get_metric_name


class _Running:
    """Sums of correct predictions, losses and examples, on the device."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct: torch.Tensor | int = 0
        self.loss: torch.Tensor | float = 0.0
        self.n = 0

    def update(self, logits: torch.Tensor, y: torch.Tensor, mean_loss: torch.Tensor) -> None:
        # logits [B, classes], y [B], mean_loss [] or [1]; no .item(): stays on device
        b = y.shape[0]
        self.correct = self.correct + (logits.detach().argmax(1) == y).sum()
        self.loss = self.loss + mean_loss.detach().reshape(()) * b
        self.n += b

    def read(self) -> tuple[float, float]:
        """(accuracy, mean loss); one device sync."""
        if self.n == 0:
            return float("nan"), float("nan")
        both = torch.stack([torch.as_tensor(self.correct, dtype=torch.float64), torch.as_tensor(self.loss, dtype=torch.float64)])
        correct, loss = both.tolist()
        return correct / self.n, loss / self.n


class _AccLoss(PluginMetric[dict]):
    def __init__(self) -> None:
        super().__init__()
        self._run = _Running()

    def reset(self) -> None:
        self._run.reset()

    def result(self) -> dict:
        acc, loss = self._run.read()
        return {"acc": acc, "loss": loss}

    def _emit(self, strategy, acc_name: str, loss_name: str) -> list[MetricValue]:
        r = self.result()
        x = strategy.clock.train_iterations
        return [
            MetricValue(self, get_metric_name(acc_name, strategy, add_task=False), r["acc"], x),
            MetricValue(self, get_metric_name(loss_name, strategy, add_task=False), r["loss"], x),
        ]


class EpochAccuracyLoss(_AccLoss):
    """Training accuracy and loss over each epoch (emitted after the epoch)."""

    def before_training_epoch(self, strategy) -> None:
        self.reset()

    def after_training_iteration(self, strategy) -> None:
        self._run.update(strategy.mb_output, strategy.mb_y, strategy.loss)

    def after_training_epoch(self, strategy) -> list[MetricValue]:
        return self._emit(strategy, "Top1_Acc_Epoch", "Loss_Epoch")

    def __str__(self) -> str:
        return "Top1_Acc_Epoch"


class StreamAccuracyLoss(_AccLoss):
    """Accuracy and loss over a whole evaluation stream (emitted after `eval`)."""

    def before_eval(self, strategy) -> None:
        self.reset()

    def after_eval_iteration(self, strategy) -> None:
        self._run.update(strategy.mb_output, strategy.mb_y, strategy.loss)

    def after_eval(self, strategy) -> list[MetricValue]:
        return self._emit(strategy, "Top1_Acc_Stream", "Loss_Stream")

    def __str__(self) -> str:
        return "Top1_Acc_Stream"
