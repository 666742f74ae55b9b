"""`reset_layers(groups)`: re-sample chosen layer groups before the final stage.

Paper Fig. 6 and Appendix A.5: after pretraining, the parameters of some layer
groups are re-drawn "from the same distribution used at initialisation" and the
whole model is then tuned. Groups: 1 = first conv, 2..5 = the four residual
modules, 6 = the fully connected output layer; "4-6" resets the top of the
network, which the paper found closes the gap. BatchNorm weights, biases and
running statistics inside the chosen groups are reset too.

The draw uses the model's own `init_module` (the distribution it was built
from), or each module's `reset_parameters()` for models without one. Models
must name their groups (`layer_groups()`); others get a clear error before
anything runs.
"""

from __future__ import annotations

from typing import Iterable

import torch
from avalanche.core import SupervisedPlugin
from torch import nn

from plasticity_bench.errors import ConfigError
from plasticity_bench.models import GROUPS, layer_groups
from plasticity_bench.strategies import register_strategy

FIELD = "strategy_options.reset_layers.groups"


def parse_groups(groups: str | int | tuple[int, ...]) -> tuple[int, ...]:
    """'4-6' -> (4, 5, 6); '1,3' -> (1, 3); 6 -> (6,); [2, 3] -> (2, 3)."""
    if isinstance(groups, int):
        out = [groups]
    elif isinstance(groups, str):
        out = []
        for part in groups.replace(" ", "").split(","):
            lo, dash, hi = part.partition("-")
            if not (lo.isdigit() and (not dash or hi.isdigit())):
                raise ConfigError(FIELD, f"cannot read {groups!r}; use a range '4-6', a list '1,3,5' or [1, 3, 5]")
            out += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    else:
        out = list(groups)
    if not out or any(g not in GROUPS for g in out) or len(set(out)) != len(out):
        raise ConfigError(FIELD, f"{groups!r} must name distinct groups among 1..6 (1 first conv, 2-5 modules, 6 fc)")
    return tuple(sorted(out))


def reinitialise(model: nn.Module, modules: Iterable[nn.Module]) -> None:
    """Re-draw every parameter and buffer of `modules` (and their submodules) from the
    model's initialisation; torch's global RNG supplies the randomness."""
    init = getattr(model, "init_module", None)
    with torch.no_grad():
        for top in modules:
            for m in top.modules():
                if init is not None:
                    init(m)
                elif hasattr(m, "reset_parameters"):
                    m.reset_parameters()
                if hasattr(m, "reset_running_stats"):
                    m.reset_running_stats()


@register_strategy("reset_layers", description="re-sample layer groups (1 conv, 2-5 modules, 6 fc) before the final stage (Fig. 6)")
class ResetLayers(SupervisedPlugin):
    """Re-sample the chosen layer groups from the initialisation before the final stage."""

    def __init__(self, *, groups: str | int | tuple[int, ...] = "4-6") -> None:
        super().__init__()
        self.groups = parse_groups(groups)

    def check_model(self, model: nn.Module) -> None:
        layer_groups(model)

    def before_training_exp(self, strategy, **kwargs) -> None:
        if getattr(strategy.experience, "is_final", False) and getattr(strategy.experience, "num_stages", 1) > 1:
            named = layer_groups(strategy.model)
            reinitialise(strategy.model, [m for g in self.groups for m in named[g]])
