"""`plasticity-bench list KIND`: every registered thing with a one-line description
and, for strategies and scenarios, its options with types and defaults."""

from __future__ import annotations


def _registry(kind: str):
    if kind == "models":
        from plasticity_bench.models import MODELS as reg
    elif kind == "datasets":
        from plasticity_bench.data import DATASETS as reg
    elif kind == "optimizers":
        from plasticity_bench.optim import OPTIMIZERS as reg
    elif kind == "scenarios":
        from plasticity_bench.scenarios import SCENARIOS as reg
    elif kind == "strategies":
        from plasticity_bench.strategies import STRATEGIES as reg
    else:
        raise ValueError(kind)
    return reg


def describe_registry(kind: str) -> str:
    from plasticity_bench.config import FIELDS, describe_type, field_type

    lines = []
    for e in _registry(kind):
        lines.append(f"{e.name:<16} {e.description}")
        if kind == "models":
            fixed = " (fixed)" if e.extra.get("fixed") else ""
            lines.append(f"{'':<18}width: int = {e.extra['width']}{fixed}, depth: int = {e.extra['depth']}{fixed}")
        elif kind == "strategies":
            for o in e.extra["options"]:
                lines.append(f"{'':<18}{o.describe()}")
        elif kind == "scenarios":
            for name in e.extra["options"]:
                default = FIELDS[name].default
                lines.append(f"{'':<18}{name}: {describe_type(field_type(name))} = {default!r}  ({FIELDS[name].metadata['help']})")
    return "\n".join(lines)
