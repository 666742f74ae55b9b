"""The `plasticity-bench` command.

    plasticity-bench run [--config FILE.toml] [--FIELD VALUE ...]   run (or resume) an experiment
    plasticity-bench report DIR                                     tables and plots from stored results
    plasticity-bench list {models,datasets,optimizers,scenarios,strategies}

Flags are derived from `ExperimentConfig` (one per field, its help from the
field's docstring); flags override the TOML file, which overrides the defaults.
Bad input exits with status 2 and one line naming the field. Heavy imports
(torch, Avalanche) happen only inside the commands, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any, Sequence

from plasticity_bench import config as cfgmod
from plasticity_bench.errors import ConfigError, PlasticityBenchError

PROG = "plasticity-bench"


# -- flags from the config dataclass ------------------------------------------------------
def _or_none(tp: type) -> Any:
    """Flag type for `X | None` fields: 'none' means None."""

    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null", "") else tp(text)

    parse.__name__ = tp.__name__  # argparse names it in "invalid int value"
    return parse


def _elem_type(tp: Any, allow_none: bool = False) -> Any:
    """Flag type of one list element; a nested list is written '0,1,2'."""
    if typing.get_origin(tp) is tuple:
        inner = typing.get_args(tp)[0]

        def parse(text: str) -> Any:
            if allow_none and text.lower() == "none":
                return None
            return tuple(inner(v) for v in text.split(",") if v != "")

        parse.__name__ = f"comma-separated {inner.__name__}"
        return parse
    return _or_none(tp) if allow_none else tp


def _toml_value(text: str) -> Any:
    """A flag value as a TOML literal (4, 0.5, true, [1, 2], "4-6"); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _strategy_opt(text: str) -> tuple[str, str, Any]:
    name_key, sep, value = text.partition("=")
    name, dot, key = name_key.partition(".")
    if not (sep and dot and name and key):
        raise argparse.ArgumentTypeError(f"expected STRATEGY.OPTION=VALUE, got {text!r}")
    return name, key, _toml_value(value)


def add_config_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("experiment config (each also a TOML key)")
    for name, f in cfgmod.FIELDS.items():
        flag = "--" + name.replace("_", "-")
        tp = cfgmod.field_type(name)
        default = f.default if f.default is not cfgmod.dataclasses.MISSING else f.default_factory()
        help_ = f"{f.metadata['help']} (default: {default!r})".replace("%", "%%")
        kw: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": help_}
        if name == "strategy_options":
            g.add_argument("--strategy-opt", type=_strategy_opt, action="append", metavar="NAME.KEY=VALUE", **kw)
            continue
        origin = typing.get_origin(tp)
        if tp is bool:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif origin is tuple:
            g.add_argument(flag, nargs="+", type=_elem_type(typing.get_args(tp)[0]), metavar=name.upper(), **kw)
        elif origin is not None:  # X | None
            inner = [a for a in typing.get_args(tp) if a is not type(None)][0]
            if typing.get_origin(inner) is tuple:  # a list, or 'none'
                g.add_argument(flag, nargs="+", type=_elem_type(typing.get_args(inner)[0], allow_none=True),
                               metavar=name.upper(), **kw)
            else:
                g.add_argument(flag, type=_or_none(inner), metavar=f"{inner.__name__.upper()}|none", **kw)
        else:
            g.add_argument(flag, type=tp, metavar=tp.__name__.upper(), **kw)


def flag_values(ns: argparse.Namespace) -> dict[str, Any]:
    """The config fields the flags set (only those), in config form."""
    flags = {k: getattr(ns, k) for k in cfgmod.FIELDS if hasattr(ns, k)}
    if "strategy_options" in flags:
        merged: dict[str, dict[str, Any]] = {}
        for name, key, value in flags["strategy_options"]:
            merged.setdefault(name, {})[key] = value
        flags["strategy_options"] = merged
    for k, v in flags.items():  # `--sizes none`: a list flag set back to none
        if isinstance(v, list) and None in v:
            if v != [None]:
                raise ConfigError(k, "give values or the single word none")
            flags[k] = None
    return flags


def config_from_args(ns: argparse.Namespace) -> cfgmod.ExperimentConfig:
    """Flags over the TOML file (`--config`) over the defaults."""
    values: dict[str, Any] = {}
    where = "flags"
    if getattr(ns, "config", None):
        values.update(cfgmod.load_toml(ns.config))
        where = str(ns.config)
    base = cfgmod.from_mapping(values, where=where)
    flags = flag_values(ns)
    if "strategy_options" in flags:  # flags add to (not replace) the file's options
        merged = {k: dict(v) for k, v in base.strategy_options.items()}
        for name, opts in flags["strategy_options"].items():
            merged.setdefault(name, {}).update(opts)
        flags["strategy_options"] = merged
    return cfgmod.from_mapping(flags, where="flags", base=base)


# -- commands ------------------------------------------------------------------------------
def cmd_run(ns: argparse.Namespace) -> int:
    if ns.suite:
        return cmd_run_suite(ns)
    config = config_from_args(ns)
    from plasticity_bench.progress import ProgressEvents
    from plasticity_bench.report import ExperimentView, format_table
    from plasticity_bench.runner import run_experiment

    command = " ".join([PROG, *map(shlex.quote, ns.argv)])
    with ProgressEvents(enabled=ns.progress) as events:
        result = run_experiment(config, events=events, loggers_for=wandb_settings(ns), label=command)
    view = ExperimentView(config.config_hash(), config.to_dict(), [dict(r, window=config.gap_window) for r in result.per_seed])
    print(format_table(view, command=command))
    if result.diverged:
        print(f"\n  diverged (kept in the store, left out of the table): {', '.join(result.diverged)}")
    print(f"\n  ran {result.ran} runs, skipped {result.skipped} finished; results in {Path(config.output_dir) / 'results.sqlite'}")
    return 0


def cmd_run_suite(ns: argparse.Namespace) -> int:
    if ns.config:
        raise ConfigError("config", "a suite brings its own configuration; give flags to override its fields")
    overrides = flag_values(ns)
    from plasticity_bench.suites import load_suite

    suite = load_suite(ns.suite, ns.profile, overrides)
    argv = ns.argv if "--profile" in ns.argv else [*ns.argv, "--profile", ns.profile]
    suite = dataclasses.replace(suite, command=" ".join([PROG, *map(shlex.quote, argv)]))
    from plasticity_bench.progress import ProgressEvents
    from plasticity_bench.report import suite_table
    from plasticity_bench.runner import run_experiments
    from plasticity_bench.store import Store
    from plasticity_bench.suites import entry_label

    configs = [e.config for e in suite.entries]

    def record_suite(store: Store) -> None:  # once every entry is valid and registered
        store.put_suite(suite.name, suite.profile, path=str(suite.path), title=suite.title, paper=suite.paper,
                        figure=suite.figure, command=suite.command,
                        entries=[(e.index, e.config.config_hash(), e.axes, list(e.config.seeds)) for e in suite.entries])
        print(f"{suite.title} ({suite.profile} profile): {len(configs)} experiments; made by: {suite.command}", flush=True)

    with ProgressEvents(enabled=ns.progress) as events:
        results = run_experiments(configs, events=events, loggers_for=wandb_settings(ns, suite=suite.name),
                                  labels=[suite.command] * len(configs), where=entry_label(suite),
                                  on_registered=record_suite)
    with Store(configs[0].output_dir) as store:
        print(suite_table(store, suite.name, suite.profile))
    diverged = [k for r in results for k in r.diverged]
    if diverged:
        print(f"\n  diverged (kept in the store, left out of the table): {', '.join(diverged)}")
    ran, skipped = sum(r.ran for r in results), sum(r.skipped for r in results)
    print(f"\n  ran {ran} runs; {skipped} run slots were already finished (shared scratch runs count once per "
          f"experiment); results in {Path(configs[0].output_dir) / 'results.sqlite'}")
    return 0


def add_wandb_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Weights & Biases (WANDB_* environment variables apply; flags override them)")
    g.add_argument("--wandb", action="store_true", help="log every run to W&B (one W&B run per training run)")
    g.add_argument("--wandb-project", metavar="NAME", help="W&B project (default: WANDB_PROJECT, else plasticity-bench)")
    g.add_argument("--wandb-entity", metavar="NAME", help="W&B entity (default: WANDB_ENTITY or your default)")
    g.add_argument("--wandb-group", metavar="NAME", help="W&B group (default: <suite>/<config hash>)")
    g.add_argument("--wandb-mode", choices=["online", "offline"], help="default: WANDB_MODE, else online")
    g.add_argument("--wandb-init-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="give up reaching W&B after this long and log offline (default: 30)")


def wandb_settings(ns: argparse.Namespace, suite: str | None = None) -> Any:
    if not getattr(ns, "wandb", False):
        return None
    from plasticity_bench.wandb_logger import WandbSettings

    return WandbSettings(project=ns.wandb_project, entity=ns.wandb_entity, group=ns.wandb_group,
                         mode=ns.wandb_mode, suite=suite, init_timeout=ns.wandb_init_timeout)


def _open_results(folder: Path) -> Any:
    """The results store of an output folder; a clear error if there is none."""
    from plasticity_bench.store import Store

    try:
        return Store(folder, create=False)
    except FileNotFoundError as e:
        raise ConfigError("dir", f"{e}; run `plasticity-bench run --output-dir {folder}` first") from None


def cmd_report(ns: argparse.Namespace) -> int:
    from plasticity_bench.report import load_views, write_report

    folder = Path(ns.dir)
    with _open_results(folder) as store:
        if not load_views(store):
            raise ConfigError("dir", f"{folder} holds no experiments yet")
        text, pngs = write_report(store, folder)
    print(text)
    for p in pngs:
        print(f"plot: {p}")
    print(f"report: {folder / 'report.md'}")
    return 0


def cmd_leaderboard(ns: argparse.Namespace) -> int:
    from plasticity_bench.leaderboard import log_to_wandb, to_markdown, write_leaderboard

    folder = Path(ns.dir)
    with _open_results(folder) as store:
        rows, paths = write_leaderboard(store, folder)
    if not rows:
        raise ConfigError("dir", f"{folder} holds no finished experiments yet")
    print(to_markdown(rows))
    for kind, p in paths.items():
        print(f"{kind}: {p}")
    settings = wandb_settings(ns)
    if settings is not None:
        log_to_wandb(rows, settings, folder)
    return 0


def cmd_describe(ns: argparse.Namespace) -> int:
    ns.scenario = ns.scenario_name
    config = config_from_args(ns)
    from plasticity_bench.describe import describe

    print(describe(config))
    return 0


def cmd_list(ns: argparse.Namespace) -> int:
    from plasticity_bench.catalog import describe_registry

    print(describe_registry(ns.kind))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Measure loss of plasticity as the warm-start generalisation gap.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run (or resume) an experiment or a suite and print its table",
                       description="Run every seed of an experiment (a scratch and a warm run each), or every entry of "
                                   "a suite; finished runs are skipped.")
    r.add_argument("suite", nargs="?", metavar="SUITE",
                   help="a suite file or name from benchmarks/suites (e.g. fig2); flags then override its fields")
    r.add_argument("--profile", choices=["quick", "paper"], default="quick",
                   help="suite profile: quick (embedded default, CPU, minutes) or paper (CIFAR-10, ResNet-18; GPUs)")
    r.add_argument("--config", metavar="FILE.toml", help="TOML file of config fields (flags override it)")
    r.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    add_config_flags(r)
    add_wandb_flags(r)
    r.set_defaults(func=cmd_run)
    d = sub.add_parser("describe", help="print a scenario's stages (sizes, class histograms, drift schedule) without training",
                       description="Print each stage's size and class histogram, its epochs, and for smooth_drift p(n) at a few points.")
    d.add_argument("scenario_name", metavar="SCENARIO", help="a registered scenario (see `plasticity-bench list scenarios`)")
    d.add_argument("--config", metavar="FILE.toml", help="TOML file of config fields (flags override it)")
    add_config_flags(d)
    d.set_defaults(func=cmd_describe)
    rep = sub.add_parser("report", help="re-print tables and write plots from stored results")
    rep.add_argument("dir", help="an output folder of `run`")
    rep.set_defaults(func=cmd_report)
    lb = sub.add_parser("leaderboard", help="rank strategies per scenario by gap (markdown, CSV, HTML; W&B table)")
    lb.add_argument("dir", help="an output folder of `run`")
    add_wandb_flags(lb)
    lb.set_defaults(func=cmd_leaderboard)
    ls = sub.add_parser("list", help="list registered models, datasets, optimizers, scenarios or strategies")
    ls.add_argument("kind", choices=["models", "datasets", "optimizers", "scenarios", "strategies"])
    ls.set_defaults(func=cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    ns = parser.parse_args(argv)
    ns.argv = argv
    try:
        return ns.func(ns)
    except PlasticityBenchError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
