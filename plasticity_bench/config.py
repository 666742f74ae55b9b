"""The experiment configuration: one frozen dataclass, validated, from flags or TOML.

Every field carries a one-line `help` that becomes its CLI flag's help and its
entry in the docs. Unknown keys, wrong types and impossible values are a
`ConfigError` that names the field and says what is allowed. This module
imports no torch or Avalanche, so `plasticity-bench --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from plasticity_bench.errors import ConfigError


def _f(default: Any, help: str, *, result: bool = True, scratch: bool = False) -> Any:
    """A config field. `result`: changes the numbers (part of the config hash);
    `scratch`: also changes the scratch baseline's numbers (part of its run key)."""
    kw: dict[str, Any] = {"metadata": {"help": help, "result": result, "scratch": scratch}}
    if isinstance(default, (list, dict, set)):
        kw["default_factory"] = lambda d=default: type(d)(d)
    else:
        kw["default"] = default
    return field(**kw)


@dataclass(frozen=True)
class ExperimentConfig:
    """One warm-start-vs-scratch experiment, run over several seeds."""

    # --- data -----------------------------------------------------------------
    dataset: str = _f("mnist1d", "data set: mnist1d (generated offline), cifar10, cifar100", scratch=True)
    num_samples: int = _f(5000, "mnist1d: examples generated in all (80% train, 20% test)", scratch=True)
    data_seed: int = _f(42, "mnist1d: generation seed (42 is the published MNIST-1D)", scratch=True)
    data_root: str = _f("data", "cifar: folder that holds cifar-10-batches-py/ or cifar-100-python/", result=False)
    download: bool = _f(True, "cifar: download into data_root when the files are absent", result=False)
    augment: bool = _f(False, "random crop (pad 4) and, for images, horizontal flip; the paper uses none", scratch=True)
    # --- scenario ---------------------------------------------------------------
    scenario: str = _f("warm_start", "how the training data is presented in stages")
    fraction: float = _f(0.5, "warm_start: share of the training set in the pretraining stage, in (0, 1)")
    n_splits: int = _f(3, "data_incremental, class_imbalanced: pretraining stages n (D_1..D_n, then D)")
    sizes: tuple[float, ...] | None = _f(None, "data_incremental: |D_i|/|D| for i = 1..n, increasing in (0, 1) (none: i/(n+1))")
    epoch_schedule: str = _f("fixed", "pretraining epochs: fixed (pretrain_epochs each), proportional (to the stage's size), until_acc")
    target_acc: float = _f(1.0, "until_acc: stop a pretraining stage at this train accuracy (at most pretrain_epochs)")
    class_ratio: float = _f(0.5, "class_imbalanced: r = |D_u|/|D|, the share added uniformly (1: data-incremental, 0: by class)")
    class_groups: tuple[tuple[int, ...], ...] | None = _f(None, "class_imbalanced: class partition C_1..C_{n+1}, e.g. [[0,1],[2,3],...] (none: drawn by seed)")
    gamma: float = _f(0.9, "smooth_drift: p(n) = 1 - gamma^(50 n / N) of drawing from the full set, gamma in (0, 1)")
    pretrain_fraction: float = _f(0.5, "smooth_drift: share of the training set in the pretraining subset, in (0, 1)")
    # --- model ------------------------------------------------------------------
    model: str = _f("resnet_mini", "model name (see `plasticity-bench list models`)", scratch=True)
    width: int | None = _f(None, "channels of the first module, w (modules have w, 2w, 4w, 8w); none: the model's own", scratch=True)
    depth: int | None = _f(None, "residual blocks per module, d; none: the model's own", scratch=True)
    # --- training -----------------------------------------------------------------
    strategy: tuple[str, ...] = _f(("naive",), "strategies to combine, applied in the order given")
    strategy_options: dict = _f({}, "options per strategy, e.g. {reset_layers = {groups = \"4-6\"}}")
    optimizer: str = _f("adam", "adam, rmsprop, sgd or sgd_momentum (0.9); statistics reset at every stage", scratch=True)
    lr: float = _f(1e-3, "constant learning rate (strategies such as high_lr may change it per stage)", scratch=True)
    scratch_lr: float | None = _f(None, "learning rate of the scratch baseline (none: lr)", scratch=True)
    batch_size: int = _f(128, "mini-batch size", scratch=True)
    pretrain_epochs: int = _f(40, "epochs of each pretraining stage")
    tune_epochs: int = _f(60, "epochs of the final stage; the scratch baseline trains as long", scratch=True)
    window: int | None = _f(None, "K: the gap averages test accuracy over the last K epochs (default: 20% of tune_epochs)")
    # --- execution ----------------------------------------------------------------
    seeds: tuple[int, ...] = _f((0, 1, 2, 3, 4, 5), "seeds; each gives one paired warm and scratch run", result=False)
    device: str = _f("auto", "auto (CUDA when available, else CPU), cpu, cuda or cuda:N", result=False)
    num_threads: int = _f(1, "torch CPU threads per run; fixed, so numbers do not depend on `workers`", result=False)
    workers: int = _f(0, "runs in parallel processes (0: one per num_threads CPU cores; 1 on CUDA)", result=False)
    output_dir: str = _f("results", "folder of the results database and reports", result=False)

    # ------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        _check_types(self)
        _check_values(self)

    @property
    def gap_window(self) -> int:
        """K, in epochs of the final stage (paper: 100 of 500, i.e. 20%)."""
        return self.window if self.window is not None else max(1, round(0.2 * self.tune_epochs))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def result_dict(self) -> dict[str, Any]:
        """The fields that change the numbers (not seeds, paths or execution settings)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.metadata["result"]}

    def config_hash(self) -> str:
        """Identity of the experiment: `result_dict` hashed."""
        return _hash(self.result_dict())

    @property
    def scratch_learning_rate(self) -> float:
        return self.lr if self.scratch_lr is None else self.scratch_lr

    def scratch_dict(self) -> dict[str, Any]:
        """The fields the scratch baseline depends on: one baseline serves every
        scenario and strategy that share data, model, optimiser, its learning rate
        and the tuning budget."""
        d = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.metadata["scratch"]}
        d["lr"] = self.scratch_learning_rate
        del d["scratch_lr"]
        return d

    def scratch_hash(self) -> str:
        return _hash(self.scratch_dict())


EPOCH_SCHEDULES = ("fixed", "proportional", "until_acc")


def _jsonable(v: Any) -> Any:
    return [_jsonable(x) for x in v] if isinstance(v, tuple) else v


def _hash(d: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


FIELDS = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
_HINTS = typing.get_type_hints(ExperimentConfig)


def field_type(name: str) -> Any:
    return _HINTS[name]


def describe_type(tp: Any) -> str:
    """Human name of a type: 'int', 'int or none', 'list of int', 'str or list of int'."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = " or ".join(describe_type(a) for a in args if a is not type(None))
        return f"{inner} or none" if type(None) in args else inner
    if origin is tuple:
        return f"list of {describe_type(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def coerce(name: str, value: Any, tp: Any | None = None) -> Any:
    """Check `value` against field `name`'s type (or `tp`); return it in canonical
    form (lists become tuples, ints become floats for float fields). `name` is the
    field named in the error."""
    tp = field_type(name) if tp is None else tp
    origin = typing.get_origin(tp)
    want = describe_type(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(name, value, a)
            except ConfigError:
                continue
        _type_error(name, value, want)
    if origin is tuple:
        elem = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            _type_error(name, value, want)
        try:
            return tuple(coerce(name, v, elem) for v in value)
        except ConfigError:
            _type_error(name, value, want)
    if tp is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in value.items()):
            _type_error(name, value, "a table of tables (strategy name -> options)")
        return {k: dict(v) for k, v in value.items()}
    if tp is typing.Any:
        return value
    if not _matches(value, tp):
        _type_error(name, value, want)
    return tp(value)


def _matches(value: Any, tp: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, tp)


def _type_error(name: str, value: Any, want: str) -> typing.NoReturn:
    raise ConfigError(name, f"expected {want}, got {type(value).__name__} {value!r}")


def _check_types(cfg: ExperimentConfig) -> None:
    for name in FIELDS:
        canon = coerce(name, getattr(cfg, name))
        object.__setattr__(cfg, name, canon)


def _check_values(c: ExperimentConfig) -> None:
    def need(ok: bool, name: str, allowed: str) -> None:
        if not ok:
            raise ConfigError(name, f"{getattr(c, name)!r} is not allowed; {allowed}")

    need(0.0 < c.fraction < 1.0 and math.isfinite(c.fraction), "fraction", "it must lie in (0, 1)")
    need(c.num_samples >= 100, "num_samples", "it must be at least 100")
    need(c.n_splits >= 1, "n_splits", "it must be at least 1")
    need(c.sizes is None or (len(c.sizes) == c.n_splits and all(0 < a < b for a, b in zip(c.sizes, (*c.sizes[1:], 1.0)))),
         "sizes", f"give n_splits={c.n_splits} fractions increasing strictly within (0, 1), or none")
    need(c.epoch_schedule in EPOCH_SCHEDULES, "epoch_schedule", f"use one of {', '.join(EPOCH_SCHEDULES)}")
    need(0.0 < c.target_acc <= 1.0, "target_acc", "it must lie in (0, 1]")
    need(0.0 <= c.class_ratio <= 1.0, "class_ratio", "it must lie in [0, 1]")
    need(c.class_groups is None or len(c.class_groups) == c.n_splits + 1, "class_groups",
         f"give n_splits + 1 = {c.n_splits + 1} groups of class ids, or none")
    need(0.0 < c.gamma < 1.0, "gamma", "it must lie in (0, 1)")
    need(0.0 < c.pretrain_fraction < 1.0, "pretrain_fraction", "it must lie in (0, 1)")
    need(c.pretrain_epochs >= 1, "pretrain_epochs", "it must be at least 1")
    need(c.tune_epochs >= 1, "tune_epochs", "it must be at least 1")
    need(c.window is None or 1 <= c.window <= c.tune_epochs, "window", f"it must lie in [1, tune_epochs={c.tune_epochs}]")
    need(c.batch_size >= 1, "batch_size", "it must be at least 1")
    need(c.lr > 0 and math.isfinite(c.lr), "lr", "it must be a positive number")
    need(c.scratch_lr is None or (c.scratch_lr > 0 and math.isfinite(c.scratch_lr)), "scratch_lr", "it must be a positive number or none")
    need(c.width is None or c.width >= 1, "width", "it must be at least 1")
    need(c.depth is None or c.depth >= 1, "depth", "it must be at least 1")
    need(len(c.seeds) >= 1 and all(s >= 0 for s in c.seeds), "seeds", "give one or more non-negative integers")
    need(len(set(c.seeds)) == len(c.seeds), "seeds", "seeds must not repeat")
    need(c.num_threads >= 1, "num_threads", "it must be at least 1")
    need(c.workers >= 0, "workers", "it must be 0 (auto) or more")
    need(len(c.strategy) >= 1, "strategy", "give at least one strategy name")
    dev = c.device
    need(dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit()), "device", "use auto, cpu, cuda or cuda:N")


def validate_names(cfg: ExperimentConfig) -> None:
    """Check the registry-backed names (imports torch; call before running)."""
    from plasticity_bench.data import DATASETS
    from plasticity_bench.models import MODELS
    from plasticity_bench.optim import OPTIMIZERS
    from plasticity_bench.scenarios import SCENARIOS
    from plasticity_bench.strategies import STRATEGIES, make_plugins

    for name, reg in (("dataset", DATASETS), ("model", MODELS), ("optimizer", OPTIMIZERS), ("scenario", SCENARIOS)):
        reg.entry(getattr(cfg, name), field_name=name)
    for s in cfg.strategy:
        STRATEGIES.entry(s, field_name="strategy")
    make_plugins(cfg.strategy, cfg.strategy_options)  # checks every option's name and type
    if cfg.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("device", f"{cfg.device!r} was asked for but CUDA is not available; use auto or cpu")


def from_mapping(values: Mapping[str, Any], *, where: str = "config", base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Build a config from a mapping (TOML table or keywords); unknown keys are an error."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(
            unknown[0], f"unknown key in {where}; allowed keys: {', '.join(FIELDS)}"
        )
    checked = {k: coerce(k, v) for k, v in values.items()}
    return dataclasses.replace(base or ExperimentConfig(), **checked)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; an unreadable or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError("config", f"cannot read {p}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("config", f"{p} is not valid TOML: {e}") from None
