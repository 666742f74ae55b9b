"""Shared fixtures: a tiny MNIST-1D and a tiny config that trains in a second or two."""

from __future__ import annotations

import os

import pytest
import torch

# wandb never reaches the network in tests, and torch stays on 2 threads (CI has 2 cores).
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_data():
    from plasticity_bench.data import load_dataset

    return load_dataset("mnist1d", num_samples=400, data_seed=42)


@pytest.fixture
def tiny_config(tmp_path):
    from plasticity_bench.config import ExperimentConfig

    return ExperimentConfig(
        num_samples=400, pretrain_epochs=2, tune_epochs=3, seeds=(0, 1), batch_size=64,
        output_dir=str(tmp_path / "out"), device="cpu", workers=1,
    )
