"""The generalisation gap (paper Section 2), as pure functions.

    gap = mean(scratch test accuracy over its last K epochs)
        - mean(warm test accuracy over the last K epochs of its final stage)

**Sign convention: a positive gap means the warm-started model generalises
worse** than the same network trained from scratch on the final data. The paper
uses K = 100 of 500 tuning epochs; our default is the same 20%.

Across seeds, runs are paired: seed s gives one warm and one scratch run that
start from the same weights, so the gap is summarised over the per-seed
differences (mean, sample std, and a 95% confidence interval from Student's t
with n - 1 degrees of freedom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def last_k_mean(curve: Sequence[float], window: int) -> float:
    """Mean of the last `window` values of a per-epoch curve (accuracy in [0, 1])."""
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1 or len(c) == 0:
        raise ValueError("curve must be a non-empty sequence of per-epoch values")
    if not isinstance(window, (int, np.integer)) or not 1 <= window <= len(c):
        raise ValueError(f"window must be an integer in [1, {len(c)}] (the curve's length), got {window!r}")
    return float(c[-window:].mean())


def generalisation_gap(scratch_curve: Sequence[float], warm_curve: Sequence[float], window: int) -> float:
    """Scratch minus warm, each averaged over its last `window` epochs.

    scratch_curve: test accuracy after each epoch of the scratch run.
    warm_curve: test accuracy after each epoch of the warm run's final stage
    (earlier stages excluded). Positive = warm start generalises worse.
    """
    return last_k_mean(scratch_curve, window) - last_k_mean(warm_curve, window)


@dataclass(frozen=True)
class Summary:
    """mean, sample std (ddof 1), 95% CI of the mean (Student's t), n."""

    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


def t_quantile(p: float, dof: int) -> float:
    """Quantile of Student's t with `dof` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(p, dof))


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Summary of per-seed values; with n = 1 the std and CI are NaN."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        raise ValueError("need at least one value to summarise")
    mean = float(v.mean())
    if n == 1:
        return Summary(mean, math.nan, math.nan, math.nan, 1)
    std = float(v.std(ddof=1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(mean, std, mean - half, mean + half, n)


def paired_gap_summary(scratch: dict[int, float], warm: dict[int, float]) -> Summary:
    """Summary of scratch[s] - warm[s] over the seeds present in both (last-K accuracies)."""
    seeds = sorted(set(scratch) & set(warm))
    return summarize([scratch[s] - warm[s] for s in seeds])
