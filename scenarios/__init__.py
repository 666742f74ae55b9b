"""Scenarios: how the training data is presented in stages (installs as
`plasticity_bench.scenarios`).

A scenario builder is a plain function `(data, *, seed, augment, **options) ->
CLScenario`, registered by name with the config fields it reads. Every builder
returns a real Avalanche `CLScenario` (train stream = stages, the last one the
final stage; test stream = the test set; `scratch` stream = the full training
set, which the scratch baseline trains on) that stock Avalanche strategies can
train on. Builders are deterministic given the seed.
"""

from __future__ import annotations

from typing import Any, Callable

from plasticity_bench.registry import Registry

#: name -> builder(data, *, seed, augment, **options) -> CLScenario; extra["options"]
#: names the config fields passed as options.
SCENARIOS: Registry[Callable[..., Any]] = Registry("scenario")


def register_scenario(
    name: str, *, options: tuple[str, ...], description: str = "", num_stages: Callable[[Any], int] = lambda cfg: 2
) -> Callable:
    """Register a scenario builder that reads the config fields `options`;
    `num_stages(config)` tells how many training stages it makes."""
    return SCENARIOS.register(name, description=description, options=options, num_stages=num_stages)


def num_stages(config: Any) -> int:
    return SCENARIOS.entry(config.scenario, field_name="scenario").extra["num_stages"](config)


def build_scenario(config: Any, data: Any, seed: int):
    """The scenario `config.scenario` for `seed`, with its options from `config`."""
    entry = SCENARIOS.entry(config.scenario, field_name="scenario")
    options = {name: getattr(config, name) for name in entry.extra["options"]}
    return entry.obj(data, seed=seed, augment=config.augment, **options)


# The built-in scenarios register themselves on import (explicitly, here).
from plasticity_bench.scenarios import class_imbalanced, incremental, smooth_drift  # noqa: E402,F401
