"""The generalisation gap as an Avalanche plugin metric.

Attach `GeneralisationGapMetric(scratch_curve, window)` to the evaluator of a
warm-started run that evaluates on the test stream after every epoch. It
records the test accuracy after each epoch of the final stage and, when that
stage ends, emits

- `Generalisation_Gap/eval_phase/test_stream`: `generalisation_gap(scratch_curve,
  warm_curve, window)`; positive = warm start generalises worse;
- `Top1_Acc_LastK/eval_phase/test_stream`: the warm run's last-K mean accuracy.

The scratch curve comes from the paired scratch run (same seed, same initial
weights), which the runner trains first.
"""

from __future__ import annotations

from typing import Sequence

from avalanche.evaluation import PluginMetric
from avalanche.evaluation.metric_results import MetricValue

from plasticity_bench.metrics.accuracy import _Running
from plasticity_bench.metrics.gap import generalisation_gap, last_k_mean

GAP_NAME = "Generalisation_Gap/eval_phase/test_stream"
LASTK_NAME = "Top1_Acc_LastK/eval_phase/test_stream"


class GeneralisationGapMetric(PluginMetric[float]):
    """Gap of this (warm) run against a given scratch test-accuracy curve."""

    def __init__(self, scratch_curve: Sequence[float], window: int, *, stream: str = "test") -> None:
        super().__init__()
        self.scratch_curve = list(scratch_curve)
        self.window = window
        self.stream = stream
        self.warm_curve: list[float] = []
        self._in_final = False
        self._run = _Running()
        self._gap: float | None = None

    def reset(self) -> None:
        self.warm_curve, self._gap = [], None

    def result(self) -> float | None:
        return self._gap

    def before_training_exp(self, strategy) -> None:
        # Only the final stage counts; `is_final` is set by our scenarios, and an
        # experience without it is treated as final (a one-stage stream).
        self._in_final = getattr(strategy.experience, "is_final", True)
        if self._in_final:
            self.reset()

    def before_eval(self, strategy) -> None:
        self._run.reset()

    def after_eval_iteration(self, strategy) -> None:
        if self._in_final and strategy.experience.origin_stream.name == self.stream:
            self._run.update(strategy.mb_output, strategy.mb_y, strategy.loss)

    def after_eval(self, strategy) -> None:
        if self._in_final and self._run.n:
            self.warm_curve.append(self._run.read()[0])

    def after_training_exp(self, strategy) -> list[MetricValue] | None:
        if not self._in_final:
            return None
        self._in_final = False
        self._gap = generalisation_gap(self.scratch_curve, self.warm_curve, self.window)
        x = strategy.clock.train_iterations
        return [
            MetricValue(self, GAP_NAME, self._gap, x),
            MetricValue(self, LASTK_NAME, last_k_mean(self.warm_curve, self.window), x),
        ]

    def __str__(self) -> str:
        return "Generalisation_Gap"
