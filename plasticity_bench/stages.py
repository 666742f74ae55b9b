"""Stages as Avalanche experiences, and the fast batch loader that feeds them.

A scenario here is a real Avalanche `CLScenario`: its train stream holds one
`StageExperience` per stage and its test stream one experience with the test
set. Each experience's `dataset` is an ordinary Avalanche classification
dataset, so stock Avalanche strategies train on it unchanged. It also carries
the stage's example indices into tensors already in memory; `PlasticityStrategy`
uses them to cut whole mini-batches by tensor indexing (`TensorBatches`), which
avoids per-example `__getitem__` and collation (the reason stock Avalanche is
1.6x-4x slower than a plain loop on MNIST-1D; see benchmarks/overhead.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from avalanche.benchmarks.scenarios.dataset_scenario import DatasetExperience
from avalanche.benchmarks.scenarios.generic_scenario import CLScenario, EagerCLStream
from avalanche.benchmarks.utils import as_classification_dataset
from avalanche.benchmarks.utils.transform_groups import TransformGroups
from torch.utils.data import Dataset

from plasticity_bench.data import TensorData, random_crop_flip

#: Stage tag of the final stage in `order_seed`: the scratch baseline and the warm
#: run's final stage draw their mini-batch order from the same seed (paired runs).
FINAL_STAGE_TAG = 0


def order_seed(seed: int, stage_tag: int) -> int:
    """Seed of a stage's data order: tag 0 = final stage, i >= 1 = pretraining stage i."""
    return int(np.random.SeedSequence([seed, stage_tag]).generate_state(1, dtype=np.uint64)[0] >> 1)


class TensorSource:
    """All examples of one split as tensors, with a copy per device made once."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y  # [N, ...] float32, [N] int64, on the CPU
        self._on: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.y)

    def on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = str(device)
        if key not in self._on:
            self._on[key] = (self.x.to(device), self.y.to(device)) if device.type != "cpu" else (self.x, self.y)
        return self._on[key]


class ExampleDataset(Dataset):
    """Per-example view of a `TensorSource` for Avalanche's (and stock strategies') loaders."""

    def __init__(self, source: TensorSource) -> None:
        self.source = source
        self.targets = source.y.tolist()

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.source.x[i], self.targets[i]


#: An index sampler: (indices on device, batch size, CPU generator) -> iterator of index batches.
IndexSampler = Callable[[torch.Tensor, int, torch.Generator], Iterator[torch.Tensor]]


def permutation_batches(indices: torch.Tensor, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """One epoch: a fresh permutation of `indices`, cut into batches (the last may be short)."""
    perm = torch.randperm(len(indices), generator=generator).to(indices.device)
    return iter(indices[perm].split(batch_size))


class TensorBatches:
    """Mini-batches `[x, y]` cut from tensors already on the training device.

    Iterating once is one epoch. With a generator, the order is drawn from it
    (on the CPU, so CPU and GPU runs see the same order); without, the indices
    are served in order (evaluation).
    """

    def __init__(
        self,
        source: TensorSource,
        indices: torch.Tensor,
        batch_size: int,
        device: torch.device,
        *,
        generator: torch.Generator | None = None,
        augment: bool = False,
        sampler: IndexSampler = permutation_batches,
        steps_per_epoch: int | None = None,
    ) -> None:
        self.x, self.y = source.on(device)
        self.indices = indices.to(device)
        self.batch_size, self.generator, self.augment, self.sampler = batch_size, generator, augment, sampler
        self._len = steps_per_epoch if steps_per_epoch is not None else math.ceil(len(indices) / batch_size)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[list[torch.Tensor]]:
        if self.generator is None:
            batches: Iterator[torch.Tensor] = iter(self.indices.split(self.batch_size))
        else:
            batches = self.sampler(self.indices, self.batch_size, self.generator)
        for b in batches:
            xb = self.x.index_select(0, b)
            if self.augment:
                xb = random_crop_flip(xb, self.generator)
            yield [xb, self.y.index_select(0, b)]


class StageExperience(DatasetExperience):
    """One stage: an Avalanche experience plus the indices of its examples.

    Plain attributes (not Avalanche's masked experience attributes), set by
    `make_stage_scenario`: `stage` (1-based; 0 for the test set), `num_stages`,
    `is_final`, `source`, `indices` (int64 [n] into `source`), `order_seed` (its
    mini-batch order), `sampler` and `steps_per_epoch` (None: one permutation
    per epoch).
    """

    def batches(self, batch_size: int, device: torch.device, *, shuffle: bool, augment: bool = False) -> TensorBatches:
        gen = torch.Generator().manual_seed(self.order_seed) if shuffle else None
        return TensorBatches(
            self.source, self.indices, batch_size, device, generator=gen, augment=augment and shuffle,
            sampler=self.sampler if shuffle else permutation_batches,
            steps_per_epoch=self.steps_per_epoch if shuffle else None,
        )


@dataclass(frozen=True)
class StageSpec:
    """One training stage: the indices of its examples in the training set, and how
    mini-batches are drawn from them (default: one permutation per epoch)."""

    indices: torch.Tensor  # int64 [n]
    sampler: IndexSampler | None = None
    steps_per_epoch: int | None = None


def make_stage_scenario(data: TensorData, stages: Sequence[StageSpec], *, seed: int, augment: bool = False) -> CLScenario:
    """A `CLScenario` with one train experience per stage, the test set as test stream,
    and a `scratch` stream: the full training set, one permutation per epoch, which
    the scratch baseline trains on.

    The last stage is the final (tuning) stage; it and the scratch experience draw
    their mini-batch order from the same seed. Each experience's dataset is an
    Avalanche classification dataset holding exactly the stage's examples.
    """
    train_src, test_src = TensorSource(data.train_x, data.train_y), TensorSource(data.test_x, data.test_y)
    groups = None
    if augment:
        aug = _PerExampleAugment(seed)
        groups = TransformGroups({"train": (aug, None), "eval": (None, None)})
    train_ds = as_classification_dataset(ExampleDataset(train_src), transform_groups=groups)
    test_ds = as_classification_dataset(ExampleDataset(test_src))
    n = len(stages)

    def experience(dataset, index: int, stage: int, final: bool, source: TensorSource, spec: StageSpec, tag: int):
        e = StageExperience(dataset=dataset, current_experience=index)
        e.stage, e.num_stages, e.is_final = stage, n, final
        e.source, e.indices = source, torch.as_tensor(spec.indices, dtype=torch.int64)
        e.order_seed = order_seed(seed, tag)
        e.sampler = spec.sampler or permutation_batches
        e.steps_per_epoch = spec.steps_per_epoch
        return e

    exps = []
    for i, spec in enumerate(stages):
        final = i == n - 1
        ds = train_ds.subset(torch.as_tensor(spec.indices).tolist())
        exps.append(experience(ds, i, i + 1, final, train_src, spec, FINAL_STAGE_TAG if final else i + 1))
    everything = StageSpec(torch.arange(len(train_src)))
    scratch = experience(train_ds, 0, n, True, train_src, everything, FINAL_STAGE_TAG)
    test = experience(test_ds, 0, 0, False, test_src, StageSpec(torch.arange(len(test_src))), 0)
    return CLScenario([EagerCLStream("train", exps), EagerCLStream("test", [test]), EagerCLStream("scratch", [scratch])])


class _PerExampleAugment:
    """The per-example form of `random_crop_flip`, for stock Avalanche data loaders."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return random_crop_flip(x.unsqueeze(0), self.generator)[0]
