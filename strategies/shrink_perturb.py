"""`shrink_perturb(shrink, noise)`: at every stage boundary, θ ← shrink·θ + noise·θ_fresh.

Ash & Adams (2019), "On the difficulty of warm-starting neural network
training", Section 4: shrink the weights towards zero and add a little noise,
where θ_fresh is a new draw from the initialisation distribution. shrink = 0,
noise = 1 is a full reset of the parameters; shrink = 1, noise = 0 is naive
fine-tuning. Applied to every parameter (BatchNorm affine ones included) before
each stage after the first; BatchNorm running statistics are kept (they are
re-estimated within a few batches). The defaults (shrink 0.4, noise 0.1) are a
starting point for a sweep, not values taken from the paper; Ash & Adams write
the perturbation as Gaussian noise, here it is a scaled draw from the model's
own initialisation (the form used by later plasticity work), so its scale
follows each layer's fan-in.
"""

from __future__ import annotations

import copy
import math

import torch
from avalanche.core import SupervisedPlugin

from plasticity_bench.errors import ConfigError
from plasticity_bench.strategies import register_strategy
from plasticity_bench.strategies.reset_layers import reinitialise


@register_strategy("shrink_perturb", description="θ <- shrink·θ + noise·θ_fresh at every stage boundary (Ash & Adams 2019)")
class ShrinkPerturb(SupervisedPlugin):
    """θ <- shrink·θ + noise·θ_fresh at every stage boundary (Ash & Adams 2019)."""

    def __init__(self, *, shrink: float = 0.4, noise: float = 0.1) -> None:
        super().__init__()
        for name, v in (("shrink", shrink), ("noise", noise)):
            if not (v >= 0 and math.isfinite(v)):
                raise ConfigError(f"strategy_options.shrink_perturb.{name}", f"{v!r} is not allowed; it must be a number >= 0")
        self.shrink, self.noise = shrink, noise
        self.last_fresh: dict[str, torch.Tensor] | None = None  # the θ_fresh of the last boundary

    def before_training_exp(self, strategy, **kwargs) -> None:
        stage = getattr(strategy.experience, "stage", 1)
        if stage <= 1:
            return
        model = strategy.model
        if self.noise == 0:  # no draw: shrink = 1, noise = 0 stays bit-identical to naive
            fresh_params = None
        else:
            fresh = copy.deepcopy(model)
            reinitialise(fresh, [fresh])
            fresh_params = dict(fresh.named_parameters())
            self.last_fresh = {k: v.detach().clone() for k, v in fresh_params.items()}
        with torch.no_grad():
            for name, p in model.named_parameters():
                new = p * self.shrink
                if fresh_params is not None:
                    new = new + self.noise * fresh_params[name]
                p.copy_(new)
