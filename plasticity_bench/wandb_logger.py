"""Weights & Biases logging, as an Avalanche logger that works with current wandb.

Avalanche 0.6.0's own `WandBLogger` calls `wandb.util.generate_id` and
`wandb.viz.CustomChart`, both gone from current wandb; rather than pin an old
wandb, `WandbLogger` is written on Avalanche's `BaseLogger` (so every metric the
evaluator emits reaches W&B) with the current API.

One W&B run per training run. Grouped by suite and configuration
(`group = "<suite>/<config hash>"`, or the config hash alone), `job_type` =
`warm` or `scratch`, the seed in the config. Keys (see docs/wandb.md):

    epoch                 global epoch of the run (1-based; 0 = before training)
    stage, stage_epoch    the stage (1-based) and the epoch within it
    train/acc, train/loss test/acc, test/loss, lr
    <Avalanche name>      every metric the evaluator emits, e.g.
                          Top1_Acc_Stream/eval_phase/test_stream
    summary: gap, warm/acc_last_k, scratch/acc_last_k, window, status

The usual `WANDB_*` environment variables apply (project, entity, mode, dir,
...); flags override them. If W&B cannot be reached in online mode, the run is
logged offline instead, finishes normally, and a message says how to sync.
No API key is written anywhere by this module: wandb keeps it in its own
settings (~/.netrc), never in the run config.
"""

from __future__ import annotations

import os
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from avalanche.logging import BaseLogger

from plasticity_bench.recording import TEST_ACC, TEST_LOSS, TRAIN_ACC, TRAIN_LOSS

_SHORT = {TRAIN_ACC: "train/acc", TRAIN_LOSS: "train/loss", TEST_ACC: "test/acc", TEST_LOSS: "test/loss"}


@dataclass(frozen=True)
class WandbSettings:
    """What `--wandb` asks for; picklable, so worker processes can make their loggers.
    None fields fall back to wandb's own defaults and `WANDB_*` variables."""

    project: str | None = None
    entity: str | None = None
    group: str | None = None
    mode: str | None = None  # online | offline (None: WANDB_MODE, else online)
    suite: str | None = None
    init_timeout: float = 30.0
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def project_name(self) -> str:
        return self.project or os.environ.get("WANDB_PROJECT") or "plasticity-bench"

    def __call__(self, role: str, seed: int, config: Any) -> list["WandbLogger"]:
        h = config.config_hash() if role == "warm" else config.scratch_hash()
        group = self.group or (f"{self.suite}/{config.config_hash()}" if self.suite else config.config_hash())
        run_config = dict(config.to_dict(), seed=seed, role=role, config_hash=config.config_hash(),
                          scratch_hash=config.scratch_hash(), suite=self.suite)
        return [WandbLogger(
            project=self.project_name, entity=self.entity,
            group=group, job_type=role, name=f"{role}-{h[:8]}-s{seed}", config=run_config, mode=self.mode,
            dir=config.output_dir, init_timeout=self.init_timeout,
            tags=(config.scenario, *config.strategy, *self.tags),
        )]


class WandbLogger(BaseLogger):
    """Logs one training run to W&B: per-epoch metrics, config, and a summary."""

    def __init__(self, *, project: str | None = None, entity: str | None = None, group: str | None = None,
                 job_type: str | None = None, name: str | None = None, config: dict | None = None,
                 mode: str | None = None, dir: str | os.PathLike | None = None, init_timeout: float = 30.0,
                 tags: tuple[str, ...] = ()) -> None:
        super().__init__()
        import wandb

        self.wandb = wandb
        mode = mode or os.environ.get("WANDB_MODE") or "online"
        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        kw = dict(project=project, entity=entity, group=group, job_type=job_type, name=name, config=config or {},
                  dir=str(dir) if dir is not None else None, tags=list(tags), reinit="create_new")
        self.offline_fallback = False
        try:
            self.run = wandb.init(mode=mode, settings=wandb.Settings(init_timeout=init_timeout, silent=True), **kw)
        except Exception as e:  # no network, no API key, server down: keep going offline
            if mode == "offline":
                raise
            self.run = wandb.init(mode="offline", settings=wandb.Settings(silent=True), **kw)
            self.offline_fallback = True
            print(f"plasticity-bench: W&B unreachable ({type(e).__name__}: {str(e).splitlines()[0][:160]}); "
                  f"logged offline to {self.run.dir.rsplit('/files', 1)[0]}. Sync it later with: "
                  f"wandb sync {self.run.dir.rsplit('/files', 1)[0]}", file=sys.stderr)
        self._pending: dict[str, float] = {}
        self._epoch = 0
        self._stage_epoch: tuple[int, int] | None = None

    # Avalanche calls this for every metric value the evaluator emits.
    def log_single_metric(self, name: str, value: Any, x_plot: int) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._pending[name] = float(value)
            if name in _SHORT:
                self._pending[_SHORT[name]] = float(value)
            if name.startswith("Generalisation_Gap/"):
                self.run.summary["gap"] = float(value)

    def after_training_epoch(self, strategy, metric_values) -> None:
        self._epoch += 1
        stage = getattr(strategy.experience, "stage", 1)
        self._stage_epoch = (stage, strategy.clock.train_exp_epochs + 1)
        self._pending["lr"] = strategy.optimizer.param_groups[0]["lr"]

    def after_eval(self, strategy, metric_values) -> None:
        if TEST_ACC not in self._pending:
            return
        stage, stage_epoch = self._stage_epoch or (0, 0)
        row = dict(self._pending, epoch=self._epoch if self._stage_epoch else 0, stage=stage, stage_epoch=stage_epoch)
        self.run.log(row)
        self._pending, self._stage_epoch = {}, None

    def finish_run(self, status: str, summary: dict[str, Any] | None = None) -> None:
        """Write the run's summary (status, last-K accuracies, gap) and close it."""
        for k, v in (summary or {}).items():
            self.run.summary[k] = v
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status in ("done", "diverged") else 1)


# -- reading an offline run back (tests, and checking what a run wrote) ---------------------------
def read_offline_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What an offline run wrote: {'run': {group, job_type, name}, 'config': {...},
    'history': [rows], 'summary': {...}}. Parses the `.wandb` file (a LevelDB-style
    log of protobuf records) with wandb's own message definitions."""
    import json

    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = Path(run_dir).glob("run-*.wandb")
    out: dict[str, Any] = {"run": {}, "config": {}, "history": [], "summary": {}}

    def key(item: Any) -> str:
        return item.key or "/".join(item.nested_key)

    for data in _records(path.read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(data)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out["run"] = {"group": rec.run.run_group, "job_type": rec.run.job_type, "name": rec.run.display_name,
                          "project": rec.run.project, "tags": list(rec.run.tags)}
            out["config"].update({u.key: json.loads(u.value_json) for u in rec.run.config.update})
        elif kind == "config":
            out["config"].update({u.key: json.loads(u.value_json) for u in rec.config.update})
        elif kind == "history":
            out["history"].append({key(i): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "summary":
            out["summary"].update({key(u): json.loads(u.value_json) for u in rec.summary.update})
    return out


def _records(buf: bytes) -> Iterator[bytes]:
    """LevelDB log format after wandb's 7-byte header: 32 KiB blocks of records
    [crc32c:4][length:2][type:1][data]; type 1 full, 2 first, 3 middle, 4 last."""
    block, pos, header = 32768, 7, 7
    assert buf[:4] == b":W&B", "not a .wandb file"
    chunks: list[bytes] = []
    while pos + header <= len(buf):
        left = block - pos % block
        if left < header:  # trailer padding
            pos += left
            continue
        length, kind = struct.unpack("<HB", buf[pos + 4 : pos + 7])
        data = buf[pos + header : pos + header + length]
        pos += header + length
        if kind == 0 and length == 0:
            continue
        if kind == 1:
            yield data
        elif kind == 2:
            chunks = [data]
        elif kind == 3:
            chunks.append(data)
        elif kind == 4:
            chunks.append(data)
            yield b"".join(chunks)
            chunks = []
