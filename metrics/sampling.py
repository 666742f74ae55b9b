"""Per-epoch statistics of a stage's mini-batch sampler, as an Avalanche plugin metric.

For experiences whose sampler keeps `epoch_stats` (smooth drift's `DriftSampler`),
emits after each training epoch:

- `DrawProb_Epoch/train_phase/train_stream`: mean p(n) over the epoch's steps, the
  scheduled probability of drawing from the full set;
- `FullShare_Epoch/train_phase/train_stream`: the share of examples actually drawn
  from the full set.

Nothing is emitted for ordinary permutation stages.
"""

from __future__ import annotations

from avalanche.evaluation import PluginMetric
from avalanche.evaluation.metric_results import MetricValue

PROB_NAME = "DrawProb_Epoch/train_phase/train_stream"
SHARE_NAME = "FullShare_Epoch/train_phase/train_stream"


class SamplerStats(PluginMetric[dict]):
    def __init__(self) -> None:
        super().__init__()
        self._last: dict | None = None

    def reset(self) -> None:
        self._last = None

    def result(self) -> dict | None:
        return self._last

    def after_training_epoch(self, strategy) -> list[MetricValue] | None:
        stats = getattr(getattr(strategy.experience, "sampler", None), "epoch_stats", None)
        if not stats:
            return None
        self._last = stats[-1]
        x = strategy.clock.train_iterations
        return [MetricValue(self, PROB_NAME, self._last["p"], x), MetricValue(self, SHARE_NAME, self._last["full_share"], x)]

    def __str__(self) -> str:
        return "DrawProb_Epoch"
