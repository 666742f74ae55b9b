"""Data: MNIST-1D generated offline, and CIFAR read by torchvision's real loaders from
files this test writes in CIFAR's own on-disk format."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from plasticity_bench.data import load_dataset, random_crop_flip
from plasticity_bench.errors import DataError


def test_mnist1d_is_generated_deterministically_by_seed():
    a = load_dataset("mnist1d", num_samples=500, data_seed=1)
    b = load_dataset("mnist1d", num_samples=500, data_seed=1)
    c = load_dataset("mnist1d", num_samples=500, data_seed=2)
    assert a.train_x.shape == (400, 1, 40) and a.test_x.shape == (100, 1, 40)
    assert a.train_x.dtype == torch.float32 and a.train_y.dtype == torch.int64
    assert set(a.train_y.tolist()) == set(range(10)) and a.num_classes == 10
    assert torch.equal(a.train_x, b.train_x) and not torch.equal(a.train_x, c.train_x)


def test_mnist1d_does_not_disturb_the_global_rng():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    load_dataset("mnist1d", num_samples=300, data_seed=7)
    assert np.random.rand() == expected


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _write_batch(path: Path, images: np.ndarray, labels: list[int], label_key: str) -> None:
    # CIFAR's python format: a pickled dict; data is [N, 3072] uint8, the R, G, B planes of 32x32 in turn.
    entry = {"batch_label": path.name, label_key: labels, "data": images.reshape(len(images), 3072),
             "filenames": [f"img{i}.png" for i in range(len(images))]}
    with path.open("wb") as fh:
        pickle.dump(entry, fh, protocol=2)


@pytest.fixture
def tiny_cifar10(tmp_path, monkeypatch):
    """A 5x4-image training set and a 6-image test set in cifar-10-batches-py/."""
    from torchvision.datasets import CIFAR10

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    train_imgs, train_labels, train_list = [], [], []
    for i in range(1, 6):
        imgs = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=4)]
        _write_batch(folder / f"data_batch_{i}", imgs, labels, "labels")
        train_imgs.append(imgs)
        train_labels += labels
        train_list.append([f"data_batch_{i}", _md5(folder / f"data_batch_{i}")])
    test_imgs = rng.integers(0, 256, size=(6, 3, 32, 32), dtype=np.uint8)
    _write_batch(folder / "test_batch", test_imgs, [1, 2, 3, 4, 5, 6], "labels")
    with (folder / "batches.meta").open("wb") as fh:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": 4}, fh, protocol=2)
    # torchvision checks each file's md5 against CIFAR's published ones; ours are other files.
    monkeypatch.setattr(CIFAR10, "train_list", train_list)
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(folder / "test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", dict(CIFAR10.meta, md5=_md5(folder / "batches.meta")))
    return tmp_path, np.concatenate(train_imgs), train_labels, test_imgs


def test_cifar10_loads_through_torchvision_from_written_files(tiny_cifar10):
    root, train_imgs, train_labels, test_imgs = tiny_cifar10
    d = load_dataset("cifar10", data_root=str(root), download=False)
    assert d.train_x.shape == (20, 3, 32, 32) and d.test_x.shape == (6, 3, 32, 32)
    assert d.train_y.tolist() == train_labels and d.test_y.tolist() == [1, 2, 3, 4, 5, 6]
    assert d.num_classes == 10 and d.spatial_dims == 2 and d.in_channels == 3
    # Normalised per channel with the training set's statistics, layout [N, C, H, W] kept.
    raw = torch.from_numpy(train_imgs).float() / 255
    mean, std = raw.mean(dim=(0, 2, 3), keepdim=True), raw.std(dim=(0, 2, 3), keepdim=True)
    assert torch.allclose(d.train_x, (raw - mean) / std, atol=1e-5)
    assert torch.allclose(d.test_x, (torch.from_numpy(test_imgs).float() / 255 - mean) / std, atol=1e-5)


def test_cifar100_loads_through_torchvision_from_written_files(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR100

    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _write_batch(folder / "train", rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), list(range(0, 80, 10)), "fine_labels")
    _write_batch(folder / "test", rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8), [99, 0, 50], "fine_labels")
    with (folder / "meta").open("wb") as fh:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, fh, protocol=2)
    monkeypatch.setattr(CIFAR100, "train_list", [["train", _md5(folder / "train")]])
    monkeypatch.setattr(CIFAR100, "test_list", [["test", _md5(folder / "test")]])
    monkeypatch.setattr(CIFAR100, "meta", dict(CIFAR100.meta, md5=_md5(folder / "meta")))
    d = load_dataset("cifar100", data_root=str(tmp_path), download=False)
    assert d.num_classes == 100 and d.train_x.shape == (8, 3, 32, 32) and d.test_y.tolist() == [99, 0, 50]


def test_missing_cifar_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_root=str(tmp_path / "nowhere"), download=False)
    msg = str(e.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in msg
    assert "cifar-10-python.tar.gz" in msg  # the address to fetch it from


def test_failed_download_gives_the_same_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    # A real download attempt against a closed local port: fails fast, without the internet.
    monkeypatch.setattr(CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    with pytest.raises(DataError, match="could not be fetched .*download from http://127.0.0.1:9"):
        load_dataset("cifar10", data_root=str(tmp_path), download=True)


def test_cifar_through_the_cli_missing_files_exits_2_and_writes_nothing(tmp_path, capsys):
    from plasticity_bench.cli import main

    out = tmp_path / "out"
    assert main(["run", "--dataset", "cifar10", "--data-root", str(tmp_path / "none"), "--no-download",
                 "--output-dir", str(out)]) == 2
    assert "cifar10 is not in" in capsys.readouterr().err
    assert not out.exists()


def test_augmentation_crops_and_flips_per_example():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    out = random_crop_flip(x, g)
    assert out.shape == x.shape and not torch.equal(out, x)
    # 1-D (MNIST-1D): shifted windows of the zero-padded signal
    s = torch.arange(1, 41, dtype=torch.float32).reshape(1, 1, 40).repeat(64, 1, 1)
    o = random_crop_flip(s, torch.Generator().manual_seed(1))
    for row in o[:, 0]:
        nz = row[row != 0]
        assert torch.equal(nz, torch.arange(nz[0].item(), nz[0].item() + len(nz)))  # a contiguous window
    assert len({tuple(r.tolist()) for r in o[:, 0]}) > 1  # not all the same shift
