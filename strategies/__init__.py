"""Strategies (installs as `plasticity_bench.strategies`): one file each, registered by name.

A strategy is an Avalanche `SupervisedPlugin` subclass whose constructor takes
keyword-only, typed options with defaults. It is added to `PlasticityStrategy`
(naive fine-tuning with the paper's protocol), so strategies compose: a run with
`strategy = ["reset_layers", "high_lr"]` gets both plugins.

**Order**: plugins run in the order given, at every hook, after the template's
own work for that hook (at the start of a stage: the optimiser reset, then each
plugin's `before_training_exp`) and before Avalanche's evaluator. So
`["reset_layers", "high_lr"]` re-samples the groups and then sets the final
stage's learning rate; `["shrink_perturb", "reset_layers"]` shrinks every
weight, then re-draws the chosen groups whole. A plugin may define
`check_model(model)`; it is called before anything runs (on a meta-device
model) to refuse a model it cannot work with.

    from avalanche.core import SupervisedPlugin
    from plasticity_bench.strategies import register_strategy

    @register_strategy("my_method")
    class MyMethod(SupervisedPlugin):
        '''One line that `plasticity-bench list strategies` shows.'''

        def __init__(self, *, strength: float = 1.0):
            super().__init__()
            self.strength = strength

        def before_training_exp(self, strategy, **kwargs):
            ...

See docs/adding-a-strategy.md.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from plasticity_bench.config import coerce, describe_type
from plasticity_bench.errors import ConfigError
from plasticity_bench.registry import Registry


@dataclass(frozen=True)
class Option:
    """One typed option of a strategy: name, type, default."""

    name: str
    type: Any
    default: Any

    def describe(self) -> str:
        return f"{self.name}: {describe_type(self.type)} = {self.default!r}"


#: name -> plugin class; extra["options"] is a tuple of `Option`.
STRATEGIES: Registry[type] = Registry("strategy")


def _options_of(cls: type) -> tuple[Option, ...]:
    import typing

    hints = typing.get_type_hints(cls.__init__)
    opts = []
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self":
            continue
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is inspect.Parameter.empty or p.name not in hints:
            raise TypeError(
                f"{cls.__name__}.__init__: option {p.name!r} must be keyword-only, typed and have a default"
            )
        opts.append(Option(p.name, hints[p.name], p.default))
    return tuple(opts)


def register_strategy(name: str, *, description: str = "") -> Callable[[type], type]:
    """Class decorator: register a `SupervisedPlugin` subclass as strategy `name`.
    Duplicate names are refused."""

    def deco(cls: type) -> type:
        STRATEGIES.add(name, cls, description=description, options=_options_of(cls))
        return cls

    return deco


def strategy_options(name: str) -> tuple[Option, ...]:
    return STRATEGIES.entry(name, field_name="strategy").extra["options"]


def check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate `options` for strategy `name`: known names, right types. Returns them canonical."""
    known = {o.name: o for o in strategy_options(name)}
    out = {}
    for key, value in options.items():
        if key not in known:
            allowed = ", ".join(o.describe() for o in known.values()) or "none"
            raise ConfigError(f"strategy_options.{name}.{key}", f"unknown option of strategy {name!r}; allowed: {allowed}")
        out[key] = coerce(f"strategy_options.{name}.{key}", value, known[key].type)
    return out


def make_plugins(names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list:
    """The plugins of the strategies `names`, in order, built with their options."""
    options = options or {}
    stray = sorted(set(options) - set(names))
    if stray:
        raise ConfigError(f"strategy_options.{stray[0]}", f"options given for a strategy not in use; strategies: {list(names)}")
    return [STRATEGIES.get(n, field_name="strategy")(**check_options(n, options.get(n, {}))) for n in names]


# The built-in strategies register themselves on import (explicitly, here).
from plasticity_bench.strategies import high_lr, l2_init, naive, reset_layers, shrink_perturb  # noqa: E402,F401
