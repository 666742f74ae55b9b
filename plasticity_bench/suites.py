"""Suites: one TOML file per paper figure, a grid of experiments with profiles.

    title = "Figure 2: ..."
    paper = "what the paper found, shown beside our numbers"
    [figure]                 # how `report` draws it
    kind = "sweep"           # sweep: y against the swept x | curves: learning curves
    x = "pretrain_epochs"    # the swept grid axis (sweep)
    series = "optimizer"     # one line per value of this axis (optional)
    y = "warm_acc"           # warm_acc (scratch as horizontal lines) or gap
    [base]                   # config fields common to every profile
    scenario = "warm_start"
    [profiles.quick]         # the embedded default on CPU, minutes
    ...
    [profiles.quick.grid]    # optional: this profile's own grid axes
    [profiles.paper]         # CIFAR-10, ResNet-18, the paper's epochs, 9 seeds
    [grid]                   # list-valued entries expand to their product
    optimizer = ["adam", "sgd"]
    "strategy_options.reset_layers.groups" = ["1", "4-6"]
    lr_pair = [{ lr = 1e-3, scratch_lr = 1e-3 }, { lr = 1e-2, scratch_lr = 1e-2 }]

A grid key is a config field, a `strategy_options.NAME.OPTION` path, or a named
axis whose values are tables of field assignments (zipped together). Values
merge in the order base, profile, grid entry, command-line flags. Every entry is
built and validated before anything runs; an error names the file, the entry
and the field.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from plasticity_bench import config as cfgmod
from plasticity_bench.errors import ConfigError

SUITE_KEYS = {"title", "paper", "figure", "base", "profiles", "grid", "description"}
FIGURE_KEYS = {"kind", "x", "series", "y", "xlabel", "log_x"}
PROFILES = ("quick", "paper")


@dataclass(frozen=True)
class SuiteEntry:
    index: int  # 1-based
    axes: dict[str, Any]  # this entry's grid values, by axis
    config: cfgmod.ExperimentConfig

    def label(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.axes.items()) or "single entry"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    profile: str
    title: str
    paper: str
    figure: dict[str, Any]
    entries: list[SuiteEntry] = field(default_factory=list)
    command: str = ""  # the command that runs it; set by load_suite, or by the CLI to the exact command line

    def __post_init__(self) -> None:
        if not self.command:
            object.__setattr__(self, "command", f"plasticity-bench run {_display_path(self.path)} --profile {self.profile}")


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_show(x)}" for k, x in v.items()) + "}"
    return repr(v) if isinstance(v, str) else str(v)


def _display_path(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def suites_dir() -> Path | None:
    """benchmarks/suites of the source tree this package runs from, or of the cwd."""
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        d = root / "benchmarks" / "suites"
        if d.is_dir():
            return d
    return None


def find_suite(name: str) -> Path:
    """A suite by path, or by name in benchmarks/suites ('fig2' finds fig2_optimizers.toml)."""
    p = Path(name)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ConfigError("suite", f"no suite file {p}")
        return p
    d = suites_dir()
    hits = sorted(h for h in d.glob("*.toml") if h.stem == name or h.stem.startswith(f"{name}_")) if d else []
    exact = [h for h in hits if h.stem == name]
    if exact or len(hits) == 1:
        return (exact or hits)[0]
    known = ", ".join(sorted(h.stem for h in d.glob("*.toml"))) if d else "none found"
    raise ConfigError("suite", f"unknown suite {name!r}; known suites: {known}")


def _set(values: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Assign a config field or a strategy_options.NAME.OPTION path."""
    if key.startswith("strategy_options."):
        parts = key.split(".")
        if len(parts) != 3:
            raise ConfigError(where, f"{key!r}: write strategy_options.NAME.OPTION")
        opts = {k: dict(v) for k, v in values.get("strategy_options", {}).items()}
        opts.setdefault(parts[1], {})[parts[2]] = value
        values["strategy_options"] = opts
    elif key in cfgmod.FIELDS:
        if key == "strategy_options":
            merged = {k: dict(v) for k, v in values.get("strategy_options", {}).items()}
            for name, o in (value or {}).items():
                merged.setdefault(name, {}).update(o)
            values[key] = merged
        else:
            values[key] = value
    else:
        raise ConfigError(where, f"unknown key {key!r}; allowed: config fields ({', '.join(cfgmod.FIELDS)}) "
                                 "or strategy_options.NAME.OPTION")


def _axes(grid: Mapping[str, Any], where: str) -> list[tuple[str, list[Any]]]:
    axes = []
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where} [grid].{key}", "a grid axis is a non-empty list of values")
        if not (key in cfgmod.FIELDS or key.startswith("strategy_options.")):
            if not all(isinstance(v, dict) for v in values):
                raise ConfigError(f"{where} [grid].{key}",
                                  f"unknown key {key!r}: a grid key is a config field, strategy_options.NAME.OPTION, "
                                  "or a named axis whose values are tables of field assignments")
        axes.append((key, values))
    return axes


def load_suite(path: str | Path, profile: str = "quick", overrides: Mapping[str, Any] | None = None) -> Suite:
    """Read a suite, expand its grid for `profile`, build and type-check every entry.
    `overrides` (from command-line flags) apply to every entry, last."""
    path = find_suite(str(path))
    where = _display_path(path)
    doc = cfgmod.load_toml(path)
    unknown = sorted(set(doc) - SUITE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}", f"unknown suite key; allowed: {', '.join(sorted(SUITE_KEYS))}")
    profiles = doc.get("profiles", {})
    if profile not in profiles:
        raise ConfigError(f"{where}: profile", f"{profile!r} is not a profile of this suite; it has {', '.join(profiles) or 'none'}")
    figure = dict(doc.get("figure", {"kind": "curves"}))
    bad = sorted(set(figure) - FIGURE_KEYS)
    if bad or figure.get("kind", "curves") not in ("sweep", "curves"):
        raise ConfigError(f"{where}: [figure]", f"keys {sorted(FIGURE_KEYS)}; kind is sweep or curves")
    prof = dict(profiles[profile])
    grid = dict(doc.get("grid", {}))
    grid.update(prof.pop("grid", {}))
    fixed: dict[str, Any] = {}
    for section, table in (("[base]", doc.get("base", {})), (f"[profiles.{profile}]", prof)):
        for k, v in table.items():
            _set(fixed, k, v, f"{where} {section}")
    axes = _axes(grid, where)
    names = [k for k, _ in axes]
    for axis in (figure.get("x"), figure.get("series")):
        if axis is not None and axis not in names:
            raise ConfigError(f"{where}: [figure]", f"{axis!r} is not a grid axis; axes: {', '.join(names) or 'none'}")
    entries = []
    for i, combo in enumerate(itertools.product(*[v for _, v in axes]) if axes else [()], start=1):
        values = json.loads(json.dumps(fixed))  # a deep copy of plain TOML data
        entry_axes = dict(zip(names, combo))
        label = ", ".join(f"{k}={_show(v)}" for k, v in entry_axes.items())
        ctx = f"{where}, entry {i} ({label})" if label else f"{where}"
        try:
            for key, value in entry_axes.items():
                if isinstance(value, dict) and not (key in cfgmod.FIELDS or key.startswith("strategy_options.")):
                    for k, v in value.items():
                        _set(values, k, v, ctx)
                else:
                    _set(values, key, value, ctx)
            for k, v in (overrides or {}).items():
                _set(values, k, v, ctx)
            config = cfgmod.from_mapping(values, where=ctx)
        except ConfigError as e:
            raise ConfigError(f"{ctx}: {e.field}" if not e.field.startswith(where) else e.field, e.message) from None
        entries.append(SuiteEntry(i, entry_axes, config))
    return Suite(path.stem, path, profile, doc.get("title", path.stem), doc.get("paper", ""), figure, entries)


def entry_label(suite: Suite):
    """`where(i)` for `run_experiments`: names entry i of the suite in an error."""
    labels = [f"{_display_path(suite.path)}, entry {e.index} ({e.label()})" for e in suite.entries]
    return lambda i: labels[i]


def validate_suite(suite: Suite) -> None:
    """Names, options and data of every entry, before anything runs."""
    from plasticity_bench.runner import validate_experiments

    validate_experiments([e.config for e in suite.entries], where=entry_label(suite))
