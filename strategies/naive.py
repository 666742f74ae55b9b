"""`naive`: plain fine-tuning, stage after stage (paper Fig. 1).

Adds nothing to `PlasticityStrategy`, which already applies the paper's
protocol: constant learning rate, optimiser statistics reset at every stage
boundary, the configured epochs per stage.
"""

from __future__ import annotations

from avalanche.core import SupervisedPlugin

from plasticity_bench.strategies import register_strategy


@register_strategy("naive", description="plain fine-tuning on every stage (the paper's warm start)")
class Naive(SupervisedPlugin):
    """Plain fine-tuning on every stage (the paper's warm start)."""

    def __init__(self) -> None:
        super().__init__()
