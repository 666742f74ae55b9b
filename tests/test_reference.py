"""Reference test: the framework's naive training adds no hidden behaviour.

One stage of `PlasticityStrategy` (naive, Adam or SGD with momentum) must end
with the same weights and BatchNorm buffers as a plain PyTorch loop with the same
seed, model, optimiser, batch size and mini-batch order.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plasticity_bench.config import ExperimentConfig
from plasticity_bench.optim import create_optimizer
from plasticity_bench.runner import initial_model
from plasticity_bench.scenarios.incremental import warm_start
from plasticity_bench.stages import FINAL_STAGE_TAG, order_seed
from plasticity_bench.training import PlasticityStrategy

EPOCHS, BATCH, SEED = 3, 64, 5


def plain_loop(model, data, optimizer_name, lr):
    """Hand-written: the final stage (all training data), mini-batch order from the
    stage's documented seed, one permutation per epoch."""
    opt = create_optimizer(optimizer_name, model.parameters(), lr)
    gen = torch.Generator().manual_seed(order_seed(SEED, FINAL_STAGE_TAG))
    model.train()
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(data.train_y), generator=gen).split(BATCH):
            opt.zero_grad()
            F.cross_entropy(model(data.train_x[idx]), data.train_y[idx]).backward()
            opt.step()
    return model.state_dict()


@pytest.mark.parametrize("optimizer_name,lr", [("adam", 1e-3), ("sgd_momentum", 0.05)])
def test_one_stage_matches_a_plain_pytorch_loop(tiny_data, optimizer_name, lr):
    cfg = ExperimentConfig(num_samples=400)
    ref = plain_loop(initial_model(cfg, tiny_data, SEED), tiny_data, optimizer_name, lr)

    model = initial_model(cfg, tiny_data, SEED)
    final = list(warm_start(tiny_data, seed=SEED).train_stream)[-1]
    PlasticityStrategy(
        model=model, optimizer=create_optimizer(optimizer_name, model.parameters(), lr),
        train_mb_size=BATCH, train_epochs=EPOCHS, eval_every=1,  # evaluation must not disturb training
    ).train(final, eval_streams=[warm_start(tiny_data, seed=SEED).test_stream])

    got = model.state_dict()
    assert got.keys() == ref.keys()
    for k in ref:
        assert torch.allclose(got[k].float(), ref[k].float(), rtol=1e-5, atol=1e-6), k
    moved = initial_model(cfg, tiny_data, SEED).state_dict()
    assert any(not torch.equal(moved[k], got[k]) for k in got)  # training happened
