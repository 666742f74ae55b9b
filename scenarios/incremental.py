"""Data-incremental stages, and warm start as their one-pretraining-stage case.

Paper Fig. 4 (left): the training set is presented in nested stages
D_1 ⊂ D_2 ⊂ ... ⊂ D_n ⊂ D_{n+1} = D, the model tuned on each in turn. Fig. 1
(warm start; Ash & Adams 2019) is n = 1 with |D_1| = fraction·|D| (0.5). One
implementation serves both: the training set is permuted once by the seed, and
stage i is the first round(size_i·|D|) examples of that permutation, so the
stages are nested by construction. Equal increments by default: size_i = i/(n+1).
"""

from __future__ import annotations

from typing import Sequence

import torch

from plasticity_bench.data import TensorData
from plasticity_bench.errors import ConfigError
from plasticity_bench.scenarios import register_scenario
from plasticity_bench.stages import StageSpec, make_stage_scenario


def nested_stage_indices(n: int, sizes: Sequence[float], seed: int) -> list[torch.Tensor]:
    """Indices of nested stages over range(n): one per fraction in `sizes`
    (strictly increasing, in (0, 1)), then the full set. Each sorted, int64."""
    if not sizes or any(not 0.0 < s < 1.0 for s in sizes) or any(a >= b for a, b in zip(sizes, sizes[1:])):
        raise ConfigError("sizes", f"stage sizes must increase strictly within (0, 1), got {list(sizes)}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    stages = [perm[: max(1, round(s * n))].sort().values for s in sizes]
    return stages + [torch.arange(n)]


def equal_sizes(n_splits: int) -> list[float]:
    return [i / (n_splits + 1) for i in range(1, n_splits + 1)]


@register_scenario(
    "data_incremental", options=("n_splits", "sizes"), num_stages=lambda c: c.n_splits + 1,
    description="paper Fig. 4 left: nested stages D_1 ⊂ ... ⊂ D_n ⊂ D, equal increments by default",
)
def data_incremental(
    data: TensorData, *, n_splits: int = 3, sizes: Sequence[float] | None = None, seed: int = 0, augment: bool = False
):
    if n_splits < 1:
        raise ConfigError("n_splits", f"{n_splits} is not allowed; it must be at least 1")
    sizes = list(sizes) if sizes is not None else equal_sizes(n_splits)
    if len(sizes) != n_splits:
        raise ConfigError("sizes", f"give n_splits={n_splits} sizes, got {len(sizes)}")
    stages = nested_stage_indices(len(data.train_y), sizes, seed)
    return make_stage_scenario(data, [StageSpec(i) for i in stages], seed=seed, augment=augment)


@register_scenario(
    "warm_start", options=("fraction",), num_stages=lambda c: 2,
    description="paper Fig. 1: pretrain on a fraction (0.5) of the training set, then tune on all of it",
)
def warm_start(data: TensorData, *, fraction: float = 0.5, seed: int = 0, augment: bool = False):
    return data_incremental(data, n_splits=1, sizes=[fraction], seed=seed, augment=augment)
