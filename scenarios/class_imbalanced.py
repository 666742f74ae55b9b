"""Class-imbalanced stages (paper Fig. 4 right, Appendix A.3), exactly as written there.

Given the training set D with classes C, n pretraining stages and a ratio r:
1. a partition of the classes into n+1 groups C_1..C_{n+1} (given, or drawn by
   the seed as even as possible);
2. a random D_u ⊂ D with |D_u| = round(r·|D|), and D_c = D \\ D_u;
3. D_u split at random into n+1 parts D_{u,1}..D_{u,n+1} (sizes differ by at most one);
4. D_i = D_{i-1} ∪ D_{u,i} ∪ {(x, c) ∈ D_c : c ∈ C_i}, with D_0 = ∅; D_{n+1} = D.

r = 1 is uniform data-incremental; r = 0 brings each stage's classes whole
(class-incremental stages that keep the earlier data).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from plasticity_bench.data import TensorData
from plasticity_bench.errors import ConfigError
from plasticity_bench.scenarios import register_scenario
from plasticity_bench.stages import StageSpec, make_stage_scenario


def class_partition(num_classes: int, n_groups: int, seed: int, given: Sequence[Sequence[int]] | None = None) -> list[list[int]]:
    """The class groups C_1..C_{n_groups}: `given` checked to be a partition of
    range(num_classes), or drawn by `seed` (sizes differ by at most one)."""
    if given is not None:
        groups = [list(g) for g in given]
        if len(groups) != n_groups:
            raise ConfigError("class_groups", f"give {n_groups} groups (n_splits + 1), got {len(groups)}")
        flat = [c for g in groups for c in g]
        unknown = sorted({c for c in flat if not 0 <= c < num_classes})
        repeated = sorted({c for c in flat if flat.count(c) > 1})
        missing = sorted(set(range(num_classes)) - set(flat))
        if unknown or repeated or missing:
            what = "; ".join(f"{k} {v}" for k, v in (("unknown classes", unknown), ("repeated", repeated), ("missing", missing)) if v)
            raise ConfigError("class_groups", f"must partition the classes 0..{num_classes - 1}: {what}")
        return groups
    perm = np.random.default_rng([seed, 1]).permutation(num_classes)
    return [sorted(int(c) for c in chunk) for chunk in np.array_split(perm, n_groups)]


def class_imbalanced_indices(
    targets: torch.Tensor, num_classes: int, n_splits: int, ratio: float, seed: int,
    class_groups: Sequence[Sequence[int]] | None = None,
) -> tuple[list[torch.Tensor], list[list[int]], torch.Tensor]:
    """(stage indices D_1..D_{n+1} (sorted int64), class groups, D_u)."""
    if n_splits < 1:
        raise ConfigError("n_splits", f"{n_splits} is not allowed; it must be at least 1")
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError("class_ratio", f"{ratio!r} is not allowed; it must lie in [0, 1]")
    groups = class_partition(num_classes, n_splits + 1, seed, class_groups)
    n = len(targets)
    rng = np.random.default_rng([seed, 2])
    perm = rng.permutation(n)
    n_u = round(ratio * n)
    d_u, d_c = perm[:n_u], perm[n_u:]
    u_parts = np.array_split(d_u, n_splits + 1)  # already in random order
    y = targets.numpy()
    stages, current = [], np.zeros(n, dtype=bool)
    for i in range(n_splits + 1):
        current[u_parts[i]] = True
        current[d_c[np.isin(y[d_c], groups[i])]] = True
        stages.append(torch.from_numpy(np.flatnonzero(current)).to(torch.int64))
    return stages, groups, torch.from_numpy(np.sort(d_u)).to(torch.int64)


@register_scenario(
    "class_imbalanced", options=("n_splits", "class_ratio", "class_groups"), num_stages=lambda c: c.n_splits + 1,
    description="paper Fig. 4 right (A.3): stages add a share r of uniform data and the rest by class group",
)
def class_imbalanced(
    data: TensorData, *, n_splits: int = 3, class_ratio: float = 0.5,
    class_groups: Sequence[Sequence[int]] | None = None, seed: int = 0, augment: bool = False,
):
    stages, _, _ = class_imbalanced_indices(data.train_y, data.num_classes, n_splits, class_ratio, seed, class_groups)
    return make_stage_scenario(data, [StageSpec(i) for i in stages], seed=seed, augment=augment)
