"""Optimisers by name (paper Figs. 2, 8, 9, 10): constant learning rate, no weight decay.

All use PyTorch's multi-tensor (`foreach`) implementations: the same update
rule, one kernel per step instead of one per parameter (torch picks it by
default only on CUDA; on the CPU it saves ~0.3 ms of the ~10 ms step of
`resnet_mini`).

Each stage starts from fresh optimiser statistics (paper, Appendix A: "The
optimiser's statistics were reset between the warm up and the tuning phase");
`PlasticityStrategy` does that reset, here we only build the optimiser.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from plasticity_bench.registry import Registry

#: name -> factory(params, lr) -> torch.optim.Optimizer
OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry("optimizer")


@OPTIMIZERS.register("adam", description="Adam (betas 0.9, 0.999; eps 1e-8); the paper's default")
def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, foreach=True)


@OPTIMIZERS.register("rmsprop", description="RMSprop (alpha 0.99, eps 1e-8), Fig. 8")
def rmsprop(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=lr, foreach=True)


@OPTIMIZERS.register("sgd", description="plain SGD, Fig. 9")
def sgd(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, foreach=True)


@OPTIMIZERS.register("sgd_momentum", description="SGD with momentum 0.9, Fig. 10")
def sgd_momentum(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=0.9, foreach=True)


def create_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(name, field_name="optimizer")(params, lr)
