"""Progress bars for `plasticity-bench run`: runs done of total, and the current
run's epochs, each with an ETA (tqdm, on stderr; hidden when stderr is not a terminal)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

from plasticity_bench.runner import RunEvents


class ProgressEvents(RunEvents):
    def __init__(self, *, enabled: bool = True) -> None:
        super().__init__()
        disable = None if enabled else True  # None: tqdm hides itself off a terminal
        self._disable = disable
        self.runs = tqdm(total=0, desc="runs", unit="run", position=0, disable=disable, file=sys.stderr)
        self.epochs: Any = None
        self.on_plan = self._plan
        self.on_run_start = self._start
        self.on_epoch = self._epoch
        self.on_run_end = self._end

    def _plan(self, total: int, finished: int, epochs: int) -> None:
        self.runs.reset(total=total)
        self.runs.update(finished)
        self.runs.set_postfix_str(f"{finished} already finished" if finished else "")
        # One bar over the epochs of every run still to do: its ETA is the experiment's.
        self.epochs = tqdm(total=epochs, desc="epochs", unit="epoch", position=1, leave=False,
                           disable=self._disable, file=sys.stderr)

    def _start(self, role: str, seed: int, total_epochs: int) -> None:
        if self.epochs is not None:
            self.epochs.set_description(f"epochs ({role} seed {seed})")

    def _epoch(self, stage: int, epoch: int, values: dict) -> None:
        if self.epochs is not None and epoch >= 1:
            self.epochs.update(1)
            self.epochs.set_postfix(stage=stage, test_acc=f"{values.get('test_acc', float('nan')):.3f}")

    def _end(self, role: str, seed: int, status: str) -> None:
        self.runs.update(1)

    def __enter__(self) -> "ProgressEvents":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.epochs is not None:
            self.epochs.close()
        self.runs.close()
