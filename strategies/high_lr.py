"""`high_lr`: separate constant learning rates for the pretraining stages and the final stage.

Paper Fig. 7 and Section 3: a higher learning rate in the tuning stage restores
exploration and "a 10x larger learning rate reduces the gap substantially". Each
rate is given directly (`pretrain_lr`, `tune_lr`) or as a multiple of the
config's `lr` (`pretrain_mult`, `tune_mult`; defaults 1 and 10: the headline).
The scratch baseline's rate is the config's separate `scratch_lr`, so both of
the paper's comparisons can be made: against a scratch run at the base rate, or
at the tuning rate.
"""

from __future__ import annotations

import math

from avalanche.core import SupervisedPlugin

from plasticity_bench.errors import ConfigError
from plasticity_bench.strategies import register_strategy


def _positive(name: str, v: float | None) -> None:
    if v is not None and not (v > 0 and math.isfinite(v)):
        raise ConfigError(f"strategy_options.high_lr.{name}", f"{v!r} is not allowed; it must be a positive number")


@register_strategy("high_lr", description="own constant learning rates for pretraining and for the final stage (Fig. 7)")
class HighLR(SupervisedPlugin):
    """Own constant learning rates for the pretraining stages and for the final stage."""

    def __init__(
        self,
        *,
        pretrain_lr: float | None = None,
        tune_lr: float | None = None,
        pretrain_mult: float = 1.0,
        tune_mult: float = 10.0,
    ) -> None:
        super().__init__()
        for name, v in (("pretrain_lr", pretrain_lr), ("tune_lr", tune_lr), ("pretrain_mult", pretrain_mult), ("tune_mult", tune_mult)):
            _positive(name, v)
        if pretrain_lr is not None and pretrain_mult != 1.0:
            raise ConfigError("strategy_options.high_lr.pretrain_mult", "give pretrain_lr or pretrain_mult, not both")
        if tune_lr is not None and tune_mult != 10.0:
            raise ConfigError("strategy_options.high_lr.tune_mult", "give tune_lr or tune_mult, not both")
        self.pretrain_lr, self.tune_lr = pretrain_lr, tune_lr
        self.pretrain_mult, self.tune_mult = pretrain_mult, tune_mult

    def stage_lr(self, base: float, final: bool) -> float:
        if final:
            return self.tune_lr if self.tune_lr is not None else base * self.tune_mult
        return self.pretrain_lr if self.pretrain_lr is not None else base * self.pretrain_mult

    def before_training_exp(self, strategy, **kwargs) -> None:
        lr = self.stage_lr(strategy.optimizer.defaults["lr"], getattr(strategy.experience, "is_final", True))
        for group in strategy.optimizer.param_groups:
            group["lr"] = lr
