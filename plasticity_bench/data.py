"""Data sets, held in memory as tensors, and the dataset registry.

- `mnist1d` (the default): generated offline by `mnist1d.data.make_dataset`, no
  download; deterministic given `num_samples` and `data_seed`. x: [N, 1, 40].
- `cifar10`, `cifar100`: read by torchvision's own loaders from `data_root`
  (`cifar-10-batches-py/`, `cifar-100-python/`), downloaded when the network
  allows it. x: [N, 3, 32, 32], normalised per channel with the training set's
  mean and std.

Everything downstream (scenarios, the fast batch loader) works on `TensorData`:
all examples as one float32 tensor and all labels as one int64 tensor. Both data
sets fit in memory (CIFAR-10: 50,000 x 3 x 32 x 32 x 4 B = 614 MB), and feeding
whole batches by tensor indexing is what keeps the framework as fast as a plain
PyTorch loop (see benchmarks/overhead.py).
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from plasticity_bench.errors import DataError
from plasticity_bench.registry import Registry


@dataclass(frozen=True, eq=False)
class TensorData:
    """A classification data set in memory: train and test tensors."""

    name: str
    train_x: torch.Tensor  # [N, C, L] or [N, C, H, W], float32
    train_y: torch.Tensor  # [N], int64 in [0, num_classes)
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int

    @property
    def spatial_dims(self) -> int:
        return self.train_x.dim() - 2

    @property
    def in_channels(self) -> int:
        return int(self.train_x.shape[1])


#: name -> loader(*, num_samples, data_seed, data_root, download) -> TensorData
DATASETS: Registry[Callable[..., TensorData]] = Registry("dataset")


@DATASETS.register("mnist1d", description="MNIST-1D (Greydanus 2020), generated offline; x: [N, 1, 40]")
def load_mnist1d(*, num_samples: int = 5000, data_seed: int = 42, **_: object) -> TensorData:
    return _mnist1d(int(num_samples), int(data_seed))


@functools.lru_cache(maxsize=4)
def _mnist1d(num_samples: int, data_seed: int) -> TensorData:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = data_seed
    # make_dataset seeds the global `random` and numpy RNGs; keep ours untouched.
    np_state = np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)

    def x(a: np.ndarray) -> torch.Tensor:  # [N, 40] float64 -> [N, 1, 40] float32
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).unsqueeze(1)

    def y(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(a, dtype=np.int64))

    return TensorData("mnist1d", x(d["x"]), y(d["y"]), x(d["x_test"]), y(d["y_test"]), 10)


def _load_torchvision_cifar(cls: type, name: str, folder: str, num_classes: int, data_root: str, download: bool) -> TensorData:
    return _cifar_cached(cls, name, folder, num_classes, str(Path(data_root).expanduser().resolve()), download)


@functools.lru_cache(maxsize=2)  # a suite validates and runs many entries on the same files: read them once
def _cifar_cached(cls: type, name: str, folder: str, num_classes: int, data_root: str, download: bool) -> TensorData:
    root = Path(data_root)

    def split(train: bool):
        try:
            return cls(str(root), train=train, download=False)
        except RuntimeError as absent:  # torchvision: "Dataset not found or corrupted"
            reason = f"{absent}"
        if download:
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(30)  # a closed network fails in seconds, not minutes
            try:
                return cls(str(root), train=train, download=True)
            except Exception as e:  # URLError, OSError, checksum mismatch after download
                reason = f"download from {cls.url} failed: {type(e).__name__}: {e}"
            finally:
                socket.setdefaulttimeout(old)
        raise DataError(
            f"{name} is not in {root / folder} and could not be fetched ({reason}). "
            f"Download {cls.url}, extract it into {root} (so that {root / folder} holds "
            f"the batch files), or set data_root to the folder that holds {folder}/."
        )

    train, test = split(True), split(False)

    def x(a: np.ndarray) -> torch.Tensor:  # [N, 32, 32, 3] uint8 -> [N, 3, 32, 32] float in [0, 1]
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div_(255.0)

    train_x, test_x = x(train.data), x(test.data)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)  # [1, 3, 1, 1]
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return TensorData(
        name,
        ((train_x - mean) / std).contiguous(),
        torch.as_tensor(train.targets, dtype=torch.int64),
        ((test_x - mean) / std).contiguous(),
        torch.as_tensor(test.targets, dtype=torch.int64),
        num_classes,
    )


@DATASETS.register("cifar10", description="CIFAR-10 via torchvision from data_root; x: [N, 3, 32, 32]")
def load_cifar10(*, data_root: str = "data", download: bool = True, **_: object) -> TensorData:
    from torchvision.datasets import CIFAR10

    return _load_torchvision_cifar(CIFAR10, "cifar10", CIFAR10.base_folder, 10, data_root, download)


@DATASETS.register("cifar100", description="CIFAR-100 via torchvision from data_root; x: [N, 3, 32, 32]")
def load_cifar100(*, data_root: str = "data", download: bool = True, **_: object) -> TensorData:
    from torchvision.datasets import CIFAR100

    return _load_torchvision_cifar(CIFAR100, "cifar100", CIFAR100.base_folder, 100, data_root, download)


def load_dataset(name: str, **options: object) -> TensorData:
    """Load a registered data set by name (options: num_samples, data_seed, data_root, download)."""
    return DATASETS.get(name, field_name="dataset")(**options)


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Standard augmentation, batched: random crop after zero-padding by `pad`, and a
    random horizontal flip for images. x: [B, C, L] or [B, C, H, W]; one draw per example.

    The random numbers come from `generator` on the CPU (the same draws whatever
    the device of x), then move to x's device.
    """
    b, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    padded = torch.nn.functional.pad(x, [pad, pad] * len(spatial))
    # Offsets in [0, 2*pad] per example and spatial dim: [B, S]
    offs = torch.randint(0, 2 * pad + 1, (b, len(spatial)), generator=generator).to(x.device)
    if len(spatial) == 1:
        idx = offs[:, 0:1] + torch.arange(spatial[0], device=x.device)  # [B, L]
        return padded.gather(2, idx.unsqueeze(1).expand(-1, c, -1))
    h, w = spatial
    rows = offs[:, 0:1] + torch.arange(h, device=x.device)  # [B, H]
    cols = offs[:, 1:2] + torch.arange(w, device=x.device)  # [B, W]
    out = padded.gather(2, rows[:, None, :, None].expand(-1, c, -1, padded.shape[3]))
    out = out.gather(3, cols[:, None, None, :].expand(-1, c, h, -1))
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], out.flip(3), out)
