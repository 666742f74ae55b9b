"""Smooth drift from the pretraining subset to the full set (paper Fig. 3, Appendix A.2).

One training stage of N steps. Every example of every mini-batch is drawn
independently: from the full training set with probability

    p(n) = 1 − γ^(50 n / N)        (n = the step, 0-based; N = all steps)

and otherwise from the pretraining subset (a `pretrain_fraction` of D, drawn by
the seed). An "epoch" is ⌈|D| / batch⌉ steps, not a permutation; test accuracy
is measured after each such epoch and the gap window is the last K of them.
p(0) = 0 (pure pretraining data) and p(N) = 1 − γ^50 (≈ 1 for γ ≤ 0.9).

The draws are made lazily, one mini-batch at a time (`DriftSampler`); N × batch
indices are never materialised. The mean p of each epoch, and the share of
full-set draws actually made, are logged with the epoch's metrics
(`DrawProb_Epoch/train_phase/train_stream`, `FullShare_Epoch/train_phase/train_stream`).
The scratch baseline trains on the full set for the same number of steps.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import torch

from plasticity_bench.data import TensorData
from plasticity_bench.errors import ConfigError
from plasticity_bench.scenarios import register_scenario
from plasticity_bench.stages import StageSpec, make_stage_scenario


def drift_probability(gamma: float, total_steps: int) -> Callable[[int], float]:
    """p(n) = 1 − γ^(50 n / N)."""
    return lambda n: 1.0 - gamma ** (50.0 * n / total_steps)


class DriftSampler:
    """Mini-batches of indices into the full set [0, n_full), each example from the
    full set with probability p(step), else from `pretrain` (int64 indices).

    Called once per epoch (by `TensorBatches`) with the stage's indices, the batch
    size and the stage's CPU generator; the step count carries over epochs.
    """

    def __init__(self, pretrain: torch.Tensor, n_full: int, p: Callable[[int], float], steps_per_epoch: int) -> None:
        self.pretrain, self.n_full, self.p, self.steps_per_epoch = pretrain, n_full, p, steps_per_epoch
        self.step = 0
        self.epoch_stats: list[dict[str, float]] = []  # per epoch: mean p, share of full-set draws

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: (indices [B], from_full [B] bool); advances the step."""
        p = self.p(self.step)
        from_full = torch.rand(batch_size, generator=generator) < p
        full = torch.randint(self.n_full, (batch_size,), generator=generator)
        pre = self.pretrain[torch.randint(len(self.pretrain), (batch_size,), generator=generator)]
        self.step += 1
        return torch.where(from_full, full, pre), from_full

    def __call__(self, indices: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        ps, full, total = [], 0, 0
        for _ in range(self.steps_per_epoch):
            ps.append(self.p(self.step))
            idx, from_full = self.draw(batch_size, generator)
            full += int(from_full.sum())
            total += batch_size
            yield indices[idx.to(indices.device)]
        self.epoch_stats.append({"p": sum(ps) / len(ps), "full_share": full / total})


@register_scenario(
    "smooth_drift", options=("gamma", "pretrain_fraction", "tune_epochs", "batch_size"), num_stages=lambda c: 1,
    description="paper Fig. 3: one stage, each example from the full set w.p. 1 - gamma^(50n/N), else the pretraining subset",
)
def smooth_drift(
    data: TensorData, *, gamma: float = 0.9, pretrain_fraction: float = 0.5, tune_epochs: int = 60,
    batch_size: int = 128, seed: int = 0, augment: bool = False,
):
    if not 0.0 < gamma < 1.0:
        raise ConfigError("gamma", f"{gamma!r} is not allowed; it must lie in (0, 1)")
    if not 0.0 < pretrain_fraction < 1.0:
        raise ConfigError("pretrain_fraction", f"{pretrain_fraction!r} is not allowed; it must lie in (0, 1)")
    n = len(data.train_y)
    steps = math.ceil(n / batch_size)
    pretrain = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: max(1, round(pretrain_fraction * n))]
    sampler = DriftSampler(pretrain.sort().values, n, drift_probability(gamma, tune_epochs * steps), steps)
    stage = StageSpec(torch.arange(n), sampler=sampler, steps_per_epoch=steps)
    return make_stage_scenario(data, [stage], seed=seed, augment=augment)
