"""Metrics (installs as `plasticity_bench.metrics`): the generalisation gap as pure
functions (`gap`) and as an Avalanche plugin metric (`plugin`), and lean
accuracy/loss plugin metrics (`accuracy`).

Positive gap = the warm-started model generalises worse than scratch.
"""

from plasticity_bench.metrics.gap import (
    Summary,
    generalisation_gap,
    last_k_mean,
    paired_gap_summary,
    summarize,
)

__all__ = ["Summary", "generalisation_gap", "last_k_mean", "paired_gap_summary", "summarize"]
