"""The runner: for each seed, a scratch run and a warm run, stored as they go.

For seed s:
1. The model is built after `torch.manual_seed(s)`: warm and scratch runs start
   from exactly the same weights and BatchNorm buffers.
2. The scratch run trains on the full training set alone (the scenario's
   `scratch` stream: one permutation per epoch) for `tune_epochs`, with plain
   naive fine-tuning at `scratch_lr` (default `lr`), its mini-batch order drawn
   from the same seed as the warm run's final stage. It depends only on data,
   model, optimiser, its learning rate and the tuning budget
   (`ExperimentConfig.scratch_dict`), so one scratch run serves every scenario
   and strategy sharing those.
3. The warm run trains on every stage with the configured strategies; its
   evaluator carries the `GeneralisationGapMetric` against the scratch curve.
4. Test accuracy is measured after every epoch of both runs.

Finished runs are skipped on a re-run; a run left unfinished is re-done.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import random
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Sequence

import numpy as np
import torch

from plasticity_bench.config import ExperimentConfig, validate_names
from plasticity_bench.data import TensorData, load_dataset
from plasticity_bench.metrics.gap import Summary, last_k_mean, summarize
from plasticity_bench.store import Store


class Diverged(RuntimeError):
    """Training loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("plasticity-bench", "torch", "torchvision", "avalanche-lib", "numpy", "mnist1d", "wandb"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def stage_epochs(config: ExperimentConfig, stage_sizes: Sequence[int]) -> list[int]:
    """Epochs per stage. The final stage always gets `tune_epochs` (as the scratch
    baseline does); each pretraining stage by `epoch_schedule`:

    - fixed: `pretrain_epochs` (its steps grow with its size: the paper's Fig. 4,
      "a number of steps proportional with the number of examples");
    - proportional: epochs proportional to its size, `pretrain_epochs` for the
      largest pretraining stage, at least 1;
    - until_acc: until an epoch's train accuracy reaches `target_acc`, at most
      `pretrain_epochs` (returned here as the upper bound).
    """
    pre = list(stage_sizes[:-1])
    if config.epoch_schedule == "proportional" and pre:
        epochs = [max(1, round(config.pretrain_epochs * n / max(pre))) for n in pre]
    else:
        epochs = [config.pretrain_epochs] * len(pre)
    return epochs + [config.tune_epochs]


def load_data(config: ExperimentConfig) -> TensorData:
    return load_dataset(
        config.dataset, num_samples=config.num_samples, data_seed=config.data_seed,
        data_root=config.data_root, download=config.download,
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def initial_model(config: ExperimentConfig, data: TensorData, seed: int) -> torch.nn.Module:
    """The model both runs of seed `seed` start from (a fresh draw after seeding)."""
    from plasticity_bench.models import create_model

    seed_everything(seed)
    return create_model(
        config.model, spatial_dims=data.spatial_dims, in_channels=data.in_channels,
        num_classes=data.num_classes, width=config.width, depth=config.depth,
    )


def check_before_run(config: ExperimentConfig, data: TensorData) -> None:
    """What can only be checked against the data: the scenario builds (e.g. a class
    partition covers the data set's classes), and each strategy accepts the model
    (e.g. it names its layer groups; built on the meta device: no memory, no compute)."""
    from plasticity_bench.models import create_model
    from plasticity_bench.scenarios import build_scenario
    from plasticity_bench.strategies import make_plugins

    build_scenario(config, data, config.seeds[0])
    with torch.device("meta"):
        model = create_model(config.model, spatial_dims=data.spatial_dims, in_channels=data.in_channels,
                             num_classes=data.num_classes, width=config.width, depth=config.depth)
    for plugin in make_plugins(config.strategy, config.strategy_options):
        if hasattr(plugin, "check_model"):
            plugin.check_model(model)


def run_key(config: ExperimentConfig, seed: int, role: str) -> str:
    h = config.scratch_hash() if role == "scratch" else config.config_hash()
    return f"{role}-{h}-s{seed}"


@dataclass
class RunEvents:
    """Callbacks for progress reporting (the CLI draws bars with them)."""

    on_plan: Callable[[int, int, int], None] = lambda total_runs, finished_runs, epochs_to_run: None
    on_run_start: Callable[[str, int, int], None] = lambda role, seed, epochs: None
    on_epoch: Callable[[int, int, dict], None] = lambda stage, epoch, values: None
    on_run_end: Callable[[str, int, str], None] = lambda role, seed, status: None


def train_run(
    config: ExperimentConfig,
    data: TensorData,
    seed: int,
    role: str,
    *,
    device: torch.device,
    sink: Callable[[int, int, dict], None],
    scratch_curve: Sequence[float] | None = None,
    loggers: Sequence[Any] = (),
    on_start: Callable[[int], None] = lambda total_epochs: None,
):
    """Train one run; every epoch's row goes to `sink(stage, epoch, values)`.
    `on_start(total_epochs)` is called once the run's stages are known.
    Returns the strategy (its evaluator holds every metric value)."""
    from plasticity_bench.metrics.accuracy import EpochAccuracyLoss, StreamAccuracyLoss
    from plasticity_bench.metrics.plugin import GeneralisationGapMetric
    from plasticity_bench.metrics.sampling import SamplerStats
    from plasticity_bench.optim import create_optimizer
    from plasticity_bench.recording import EpochRecorder
    from plasticity_bench.scenarios import build_scenario
    from plasticity_bench.strategies import make_plugins
    from plasticity_bench.training import LeanEvaluationPlugin, PlasticityStrategy, StopAtTrainAccuracy

    model = initial_model(config, data, seed)
    scenario = build_scenario(config, data, seed)
    stages = list(scenario.train_stream)
    metrics: list[Any] = [EpochAccuracyLoss(), StreamAccuracyLoss(), SamplerStats()]
    if role == "warm":
        experiences, plugins = stages, make_plugins(config.strategy, config.strategy_options)
        if config.epoch_schedule == "until_acc":
            plugins.append(StopAtTrainAccuracy(config.target_acc))
        if scratch_curve is not None:
            metrics.append(GeneralisationGapMetric(scratch_curve, config.gap_window))
    else:  # the full training set, one permutation per epoch, plain naive
        experiences, plugins = list(scenario.streams["scratch"]), []
    epochs = stage_epochs(config, [len(e.indices) for e in stages])
    on_start(sum(epochs) if role == "warm" else epochs[-1])
    strategy = PlasticityStrategy(
        model=model,
        optimizer=create_optimizer(config.optimizer, model.parameters(), config.lr if role == "warm" else config.scratch_learning_rate),
        train_mb_size=config.batch_size,
        device=device,
        plugins=plugins,
        evaluator=LeanEvaluationPlugin(*metrics, loggers=[EpochRecorder(sink), *loggers]),
        eval_every=1,
        epochs_per_stage=epochs,
        augment=config.augment,
    )
    strategy.train(experiences, eval_streams=[scenario.test_stream])
    return strategy


@dataclass
class ExperimentResult:
    """What a finished (or partly finished) experiment shows: per-seed last-K accuracies."""

    config: ExperimentConfig
    per_seed: list[dict[str, Any]] = field(default_factory=list)  # seed, scratch_acc, warm_acc, gap
    skipped: int = 0
    ran: int = 0
    diverged: list[str] = field(default_factory=list)

    def add(self, o: "SeedOutcome") -> None:
        self.ran += o.ran
        self.diverged += o.diverged

    @property
    def gap(self) -> Summary | None:
        return summarize([r["gap"] for r in self.per_seed]) if self.per_seed else None

    @property
    def scratch(self) -> Summary | None:
        return summarize([r["scratch_acc"] for r in self.per_seed]) if self.per_seed else None

    @property
    def warm(self) -> Summary | None:
        return summarize([r["warm_acc"] for r in self.per_seed]) if self.per_seed else None


def stored_config(config: ExperimentConfig) -> dict[str, Any]:
    """An experiment's config as stored: the fields that change its numbers (what
    `config_hash` covers); seeds are per run, execution settings are not stored."""
    return config.result_dict()


def run_experiment(
    config: ExperimentConfig,
    *,
    events: RunEvents | None = None,
    loggers_for: Callable[[str, int, ExperimentConfig], Sequence[Any]] | None = None,
    label: str | None = None,
) -> ExperimentResult:
    """Run (or resume) every seed of `config`; results go to `config.output_dir`.

    Validates everything (names, options, data) before writing anything. Seeds
    run in parallel worker processes when `config.workers` allows (see
    `worker_count`); each run uses `config.num_threads` CPU threads whatever the
    worker count, so the numbers do not depend on it. `loggers_for(role, seed,
    config)` may add Avalanche loggers to a run (e.g. W&B); with workers it must
    be picklable (a module-level function).
    """
    return run_experiments([config], events=events, loggers_for=loggers_for, labels=[label])[0]


def validate_experiments(configs: Sequence[ExperimentConfig], where: Callable[[int], str] | None = None) -> None:
    """Everything that can be checked before a run: names, options, and what needs the
    data. `where(i)` prefixes the error of entry i (e.g. a suite file and entry)."""
    from plasticity_bench.errors import ConfigError

    for i, config in enumerate(configs):
        try:
            validate_names(config)
            check_before_run(config, load_data(config))
        except ConfigError as e:
            if where is None:
                raise
            raise ConfigError(f"{where(i)}: {e.field}", e.message) from None


def run_experiments(
    configs: Sequence[ExperimentConfig],
    *,
    events: RunEvents | None = None,
    loggers_for: Callable[[str, int, ExperimentConfig], Sequence[Any]] | None = None,
    labels: Sequence[str | None] | None = None,
    where: Callable[[int], str] | None = None,
    on_registered: Callable[[Store], None] | None = None,
) -> list[ExperimentResult]:
    """Run (or resume) several experiments sharing one output folder.

    Everything is validated first (`where(i)` names entry i in errors); nothing is
    written before that. Once the experiments are registered in the store,
    `on_registered(store)` runs (e.g. to record a suite's membership). Work
    is cut into jobs, one per scratch run (scratch config and seed): a job runs that
    scratch run once, then every warm run paired with it, so a scratch run shared by
    several experiments is trained once. Jobs run in parallel worker processes
    (`worker_count`), started before validation so that their imports overlap it.
    """
    if not configs:
        return []
    folders = {c.output_dir for c in configs}
    if len(folders) != 1:
        raise ValueError(f"experiments run together share one output folder, got {sorted(folders)}")
    workers = worker_count(configs[0], sum(len(c.seeds) for c in configs))  # an upper bound on the jobs
    with _WorkerPool(workers) if workers > 1 else contextlib.nullcontext() as pool:
        validate_experiments(configs, where)  # before the store: bad input writes nothing
        return _run_validated(configs, pool, events, loggers_for, labels, on_registered)


def _run_validated(configs: Sequence[ExperimentConfig], pool: "_WorkerPool | None", events: RunEvents | None,
                   loggers_for: Any, labels: Sequence[str | None] | None,
                   on_registered: Callable[[Store], None] | None) -> list[ExperimentResult]:
    events = events or RunEvents()
    results = [ExperimentResult(c) for c in configs]
    labels = list(labels) if labels is not None else [None] * len(configs)
    with Store(configs[0].output_dir) as store:
        for c, label in zip(configs, labels):
            store.add_experiment(c.config_hash(), stored_config(c), c.scratch_hash(), label)
        if on_registered is not None:
            on_registered(store)
        epochs: dict[str, int] = {}
        for c in configs:
            per = planned_epochs(c)
            for seed in c.seeds:
                for role in ("scratch", "warm"):
                    epochs[run_key(c, seed, role)] = per[role]
        finished = {k for k in epochs if store.is_finished(k)}
    for c, r in zip(configs, results):
        r.skipped = sum(run_key(c, s, role) in finished for s in c.seeds for role in ("scratch", "warm"))
    jobs: dict[str, list[tuple[int, int]]] = {}
    for i, c in enumerate(configs):
        for seed in c.seeds:
            if not all(run_key(c, seed, r) in finished for r in ("scratch", "warm")):
                jobs.setdefault(run_key(c, seed, "scratch"), []).append((i, seed))
    events.on_plan(len(epochs), len(finished), sum(v for k, v in epochs.items() if k not in finished))
    job_list = [[(configs[i], seed, i) for i, seed in units] for units in jobs.values()]
    if pool is None or len(job_list) <= 1:
        emit = _events_emitter(events)
        for job in job_list:
            for i, outcome in _run_job(job, emit=emit, loggers_for=loggers_for):
                results[i].add(outcome)
    else:
        for i, outcome in pool.run(job_list, events, loggers_for):
            results[i].add(outcome)
    with Store(configs[0].output_dir) as store:
        for c, r in zip(configs, results):
            r.per_seed = summarize_seeds(store, c)
    return results


def _run_job(job: Sequence[tuple[ExperimentConfig, int, int]], *, emit: Callable[..., None],
             loggers_for: Any) -> list[tuple[int, "SeedOutcome"]]:
    """The units (config, seed) of one job, in order; the first trains the shared scratch run."""
    return [(i, _run_seed(c, seed, emit=emit, loggers_for=loggers_for)) for c, seed, i in job]


def planned_epochs(config: ExperimentConfig) -> dict[str, int]:
    """Epochs of a scratch and of a warm run (an upper bound where a strategy may stop early)."""
    from plasticity_bench.scenarios import num_stages

    per_stage = stage_epochs(config, [1] * num_stages(config))  # sizes unknown yet: an upper bound
    return {"scratch": per_stage[-1], "warm": sum(per_stage)}


def worker_count(config: ExperimentConfig, pending_seeds: int) -> int:
    """`workers` = 0 (auto): on the CPU, one process per `num_threads` cores, at most
    one per pending seed; on CUDA, one (the GPU is the shared resource)."""
    if config.workers:
        return max(1, min(config.workers, pending_seeds))
    if resolve_device(config.device).type != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores // config.num_threads, pending_seeds))


def _events_emitter(events: RunEvents) -> Callable[..., None]:
    def emit(kind: str, *args: Any) -> None:
        getattr(events, f"on_{kind}")(*args)

    return emit


@dataclass
class SeedOutcome:
    ran: int = 0
    diverged: list[str] = field(default_factory=list)


def _run_seed(
    config: ExperimentConfig,
    seed: int,
    *,
    emit: Callable[..., None],
    loggers_for: Callable[[str, int, ExperimentConfig], Sequence[Any]] | None = None,
) -> SeedOutcome:
    """The scratch run, then the warm run, of one seed (each skipped if finished)."""
    torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    data = load_data(config)
    versions = dict(package_versions(), torch_threads=str(config.num_threads))
    out = SeedOutcome()
    with Store(config.output_dir) as store:
        for role in ("scratch", "warm"):
            key = run_key(config, seed, role)
            if store.is_finished(key):
                continue
            scratch_curve = None
            if role == "warm":
                s = store.get_run(run_key(config, seed, "scratch"))
                scratch_curve = store.test_curve(s.id) if s and s.status == "done" else None
            run_id = store.begin_run(
                key, role=role, seed=seed,
                config_hash=config.scratch_hash() if role == "scratch" else config.config_hash(),
                config=config.scratch_dict() if role == "scratch" else stored_config(config),
                versions=versions, device=str(device),
            )

            def sink(stage: int, epoch: int, values: dict, run_id: int = run_id) -> None:
                store.add_epoch(run_id, stage, epoch, values)
                emit("epoch", stage, epoch, values)
                loss = values.get("train_loss")
                if loss is not None and not math.isfinite(loss):
                    raise Diverged(f"training loss is {loss} at stage {stage}, epoch {epoch}")

            loggers = list(loggers_for(role, seed, config)) if loggers_for else []
            status = "failed"
            try:
                train_run(
                    config, data, seed, role, device=device, sink=sink, scratch_curve=scratch_curve, loggers=loggers,
                    on_start=lambda total, role=role: emit("run_start", role, seed, total),
                )
                status = "done"
            except Diverged as e:
                status = "diverged"
                store.finish_run(run_id, "diverged", str(e))
                out.diverged.append(key)
            except BaseException as e:
                # A crash marks the run failed (a kill leaves it `running`); either way
                # the next start re-does it. KeyboardInterrupt included.
                store.finish_run(run_id, "failed", "".join(traceback.format_exception_only(e)).strip())
                raise
            finally:
                for lg in loggers:
                    if hasattr(lg, "finish_run"):
                        lg.finish_run(status, _run_summary(store, config, seed, role, run_id) if status == "done" else {})
            if status == "done":
                store.finish_run(run_id, "done")
                out.ran += 1
            emit("run_end", role, seed, status)
    return out


def _run_summary(store: Store, config: ExperimentConfig, seed: int, role: str, run_id: int) -> dict[str, float]:
    """Last-K test accuracy of a finished run and, for a warm run, the gap."""
    k = config.gap_window
    acc = last_k_mean(store.test_curve(run_id), k)
    out = {f"{role}/acc_last_k": acc, "window": k}
    if role == "warm":
        s = store.get_run(run_key(config, seed, "scratch"))
        if s and s.status == "done":
            scratch = last_k_mean(store.test_curve(s.id), k)
            out.update({"scratch/acc_last_k": scratch, "gap": scratch - acc})
    return out


# -- parallel jobs -------------------------------------------------------------------------
_QUEUE: Any = None


def _worker_init(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue


def _worker_emit(kind: str, *args: Any) -> None:
    _QUEUE.put((kind, args))


def _worker_job(job: Sequence[tuple[ExperimentConfig, int, int]], loggers_for: Any) -> list[tuple[int, "SeedOutcome"]]:
    return _run_job(job, emit=_worker_emit, loggers_for=loggers_for)


def _warm_up() -> None:
    """Import what a run needs (torch, Avalanche) while the parent validates."""
    import plasticity_bench.scenarios  # noqa: F401
    import plasticity_bench.strategies  # noqa: F401
    import plasticity_bench.training  # noqa: F401


class _WorkerPool:
    """`workers` spawned processes (spawn: safe with OpenMP/CUDA state in the parent);
    their progress events come back through a queue."""

    def __init__(self, workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        self.queue = ctx.Queue()
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                        initargs=(self.queue,))
        for _ in range(workers):
            self.pool.submit(_warm_up)

    def __enter__(self) -> "_WorkerPool":
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        # Bad input (or an interrupt) before or during the runs: do not wait for the
        # workers' imports or runs; a killed run is left `running` and re-done later.
        processes = list(getattr(self.pool, "_processes", {}).values())  # CPython's executor keeps them here
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join(timeout=10)

    def run(self, jobs: list, events: RunEvents, loggers_for: Any) -> list[tuple[int, "SeedOutcome"]]:
        import queue as queue_mod
        from concurrent.futures import FIRST_EXCEPTION, wait

        emit = _events_emitter(events)

        def drain(timeout: float) -> None:
            try:
                kind, args = self.queue.get(timeout=timeout)
                emit(kind, *args)
                while True:
                    kind, args = self.queue.get_nowait()
                    emit(kind, *args)
            except queue_mod.Empty:
                pass

        out: list[tuple[int, SeedOutcome]] = []
        futures = [self.pool.submit(_worker_job, job, loggers_for) for job in jobs]
        try:
            while True:
                done, running = wait(futures, timeout=0, return_when=FIRST_EXCEPTION)
                drain(0.2)
                if not running or any(f.exception() for f in done):
                    break
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        drain(0.2)
        for f in futures:
            if not f.cancelled():
                out += f.result()  # re-raises a worker's exception here
        return out


def summarize_seeds(store: Store, config: ExperimentConfig) -> list[dict[str, Any]]:
    """Per-seed last-K accuracies and gap for every seed whose two runs are done;
    written to the `summaries` table and returned."""
    out = []
    k = config.gap_window
    for seed in config.seeds:
        w, s = store.get_run(run_key(config, seed, "warm")), store.get_run(run_key(config, seed, "scratch"))
        if not (w and s and w.status == "done" and s.status == "done"):
            continue
        warm_acc = last_k_mean(store.test_curve(w.id), k)
        scratch_acc = last_k_mean(store.test_curve(s.id), k)
        store.put_summary(config.config_hash(), seed, k, w.id, s.id, warm_acc, scratch_acc, scratch_acc - warm_acc)
        out.append({"seed": seed, "scratch_acc": scratch_acc, "warm_acc": warm_acc, "gap": scratch_acc - warm_acc})
    return out
