"""`my_strategy`: one line saying what it does (cite the paper and section it reproduces).

Copy this file to strategies/my_strategy.py, rename the class and the registered
name, and add `my_strategy` to the import line at the end of
strategies/__init__.py. Say here where it deviates from the paper.
"""

from __future__ import annotations

from avalanche.core import SupervisedPlugin

from plasticity_bench.errors import ConfigError
from plasticity_bench.strategies import register_strategy


@register_strategy("my_strategy", description="one line for `plasticity-bench list strategies`")
class MyStrategy(SupervisedPlugin):
    """One line for `plasticity-bench list strategies`."""

    def __init__(self, *, strength: float = 1.0) -> None:  # options: keyword-only, typed, with defaults
        super().__init__()
        if strength < 0:
            raise ConfigError("strategy_options.my_strategy.strength", f"{strength!r} is not allowed; it must be >= 0")
        self.strength = strength

    def before_training_exp(self, strategy, **kwargs) -> None:
        # strategy.experience.stage (1-based), .num_stages, .is_final tell where we are;
        # strategy.model, strategy.optimizer (state already reset) are live.
        pass
