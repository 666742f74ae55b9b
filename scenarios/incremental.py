"""Data-incremental stages, and warm start as their one-pretraining-stage case.

Paper Fig. 1 (warm start; Ash & Adams 2019): stage 1 is a random `fraction`
(0.5) of the training set, stage 2 all of it. Fig. 4 (left) generalises this to
nested stages D_1 ⊂ D_2 ⊂ ... ⊂ D_{n+1} = D. Both are one implementation: the
training set is permuted once by the seed, and stage i is the first
round(size_i * |D|) examples of that permutation.
"""

from __future__ import annotations

from typing import Sequence

import torch

from plasticity_bench.data import TensorData
from plasticity_bench.errors import ConfigError
from plasticity_bench.scenarios import register_scenario
from plasticity_bench.stages import make_stage_scenario


def nested_stage_indices(n: int, sizes: Sequence[float], seed: int) -> list[torch.Tensor]:
    """Indices of nested stages over range(n): one per fraction in `sizes`
    (strictly increasing, in (0, 1)), then the full set. Each sorted, int64."""
    if not sizes or any(not 0.0 < s < 1.0 for s in sizes) or any(a >= b for a, b in zip(sizes, sizes[1:])):
        raise ConfigError("sizes", f"stage sizes must increase strictly within (0, 1), got {list(sizes)}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    stages = [perm[: max(1, round(s * n))].sort().values for s in sizes]
    return stages + [torch.arange(n)]


@register_scenario(
    "warm_start", options=("fraction",),
    description="paper Fig. 1: pretrain on a fraction (0.5) of the training set, then tune on all of it",
)
def warm_start(data: TensorData, *, fraction: float = 0.5, seed: int = 0, augment: bool = False):
    return make_stage_scenario(data, nested_stage_indices(len(data.train_y), [fraction], seed), seed=seed, augment=augment)
