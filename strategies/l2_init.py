"""`l2_init(coef)`: an L2 penalty toward the weights the model started from.

Kumar, Marklund & Van Roy (2023), "Maintaining plasticity in continual learning
via regenerative regularization" (L2 Init): the training loss becomes

    loss + coef * sum_i ||θ_i − θ_i(0)||²

over every parameter θ_i, with θ(0) the weights at the start of training (before
the first stage). Added in `before_backward`, so it shapes the gradient of every
step of every stage; the logged training loss is the data loss plus the penalty.
"""

from __future__ import annotations

import math

import torch
from avalanche.core import SupervisedPlugin

from plasticity_bench.errors import ConfigError
from plasticity_bench.strategies import register_strategy


@register_strategy("l2_init", description="L2 penalty toward the initial weights, coef·||θ − θ0||² (Kumar et al. 2023)")
class L2Init(SupervisedPlugin):
    """L2 penalty toward the initial weights, coef·||θ − θ0||² (Kumar et al. 2023)."""

    def __init__(self, *, coef: float = 1e-3) -> None:
        super().__init__()
        if not (coef >= 0 and math.isfinite(coef)):
            raise ConfigError("strategy_options.l2_init.coef", f"{coef!r} is not allowed; it must be a number >= 0")
        self.coef = coef
        self.theta0: list[torch.Tensor] | None = None

    def before_training(self, strategy, **kwargs) -> None:
        if self.theta0 is None:
            self.theta0 = [p.detach().clone() for p in strategy.model.parameters()]

    def penalty(self, model: torch.nn.Module) -> torch.Tensor:
        return self.coef * sum(((p - p0) ** 2).sum() for p, p0 in zip(model.parameters(), self.theta0))

    def before_backward(self, strategy, **kwargs) -> None:
        if self.coef:
            strategy.loss = strategy.loss + self.penalty(strategy.model)
