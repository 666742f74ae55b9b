"""The results store: one SQLite database (`results.sqlite`) per output folder.

Tables
- `experiments`: one row per experiment config (config hash -> full config JSON).
- `runs`: one row per training run: its key (what identifies it: config, seed,
  role), role `warm` or `scratch`, seed, the full config, status (`running`,
  `done`, `diverged`, `failed`), start and end time (UTC ISO 8601), package
  versions, device, the process that ran it.
- `epochs`: one row per training epoch of a run: stage (1-based), epoch within
  the stage (1-based), train/test accuracy (fractions) and loss (nats), learning
  rate, wall seconds, and any further per-epoch metrics as JSON. Stage 0, epoch
  0 is the test accuracy at initialisation.
- `summaries`: one row per experiment and seed once both its runs are done: the
  last-K test accuracies and the gap (scratch - warm).
- `suites`, `suite_entries`: which experiments a suite (and profile) ran, with
  each entry's grid values, its figure spec and the command that made it.

Consistency: every write is one transaction. A run is `done` only once all its
epochs are in; a run left `running` by a killed process is found on the next
start, its epochs deleted and the run re-done (in one transaction). WAL mode
keeps readers (reports) working while a run writes.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

DB_NAME = "results.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS experiments (
    config_hash TEXT PRIMARY KEY,
    config_json TEXT NOT NULL,
    scratch_hash TEXT NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_key TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('warm', 'scratch')),
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    config_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'diverged', 'failed')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    versions_json TEXT NOT NULL,
    device TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    stage INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    train_acc REAL,
    train_loss REAL,
    test_acc REAL,
    test_loss REAL,
    lr REAL,
    seconds REAL,
    extra_json TEXT,
    PRIMARY KEY (run_id, stage, epoch)
);
CREATE TABLE IF NOT EXISTS suites (
    name TEXT NOT NULL,
    profile TEXT NOT NULL,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    paper TEXT NOT NULL,
    figure_json TEXT NOT NULL,
    command TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (name, profile)
);
CREATE TABLE IF NOT EXISTS suite_entries (
    suite TEXT NOT NULL,
    profile TEXT NOT NULL,
    entry INTEGER NOT NULL,
    config_hash TEXT NOT NULL REFERENCES experiments(config_hash),
    axes_json TEXT NOT NULL,
    seeds_json TEXT NOT NULL,
    PRIMARY KEY (suite, profile, entry)
);
CREATE TABLE IF NOT EXISTS summaries (
    config_hash TEXT NOT NULL REFERENCES experiments(config_hash),
    seed INTEGER NOT NULL,
    window INTEGER NOT NULL,
    warm_run_id INTEGER NOT NULL REFERENCES runs(id),
    scratch_run_id INTEGER NOT NULL REFERENCES runs(id),
    warm_acc REAL NOT NULL,
    scratch_acc REAL NOT NULL,
    gap REAL NOT NULL,
    PRIMARY KEY (config_hash, seed)
);
"""

EPOCH_FIELDS = ("train_acc", "train_loss", "test_acc", "test_loss", "lr", "seconds")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunRow:
    id: int
    run_key: str
    role: str
    seed: int
    config_hash: str
    config: dict[str, Any]
    status: str
    started_at: str
    finished_at: str | None
    device: str
    error: str | None


class RunBusyError(RuntimeError):
    """Another live process is running this run right now."""


class Store:
    """The SQLite results database in `folder` (created on first use)."""

    def __init__(self, folder: str | Path, *, create: bool = True) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        if not create and not self.path.exists():
            raise FileNotFoundError(f"no results database at {self.path}")
        self.folder.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE).
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)  # idempotent: CREATE TABLE IF NOT EXISTS
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: commits on success, rolls back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # -- experiments ---------------------------------------------------------------
    def add_experiment(self, config_hash: str, config: dict[str, Any], scratch_hash: str, label: str | None = None) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO experiments VALUES (?, ?, ?, ?, ?)",
                (config_hash, json.dumps(config, sort_keys=True), scratch_hash, label, _now()),
            )

    def experiments(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM experiments ORDER BY created_at, config_hash").fetchall()
        return [dict(r, config=json.loads(r["config_json"])) for r in rows]

    # -- runs -------------------------------------------------------------------------
    def _row(self, r: sqlite3.Row | None) -> RunRow | None:
        if r is None:
            return None
        return RunRow(
            r["id"], r["run_key"], r["role"], r["seed"], r["config_hash"], json.loads(r["config_json"]),
            r["status"], r["started_at"], r["finished_at"], r["device"], r["error"],
        )

    def get_run(self, run_key: str) -> RunRow | None:
        return self._row(self.db.execute("SELECT * FROM runs WHERE run_key = ?", (run_key,)).fetchone())

    def run_by_id(self, run_id: int) -> RunRow | None:
        return self._row(self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def is_finished(self, run_key: str) -> bool:
        """Done or diverged (re-running a diverged run would diverge again)."""
        r = self.get_run(run_key)
        return r is not None and r.status in ("done", "diverged")

    def begin_run(
        self, run_key: str, *, role: str, seed: int, config_hash: str, config: dict[str, Any],
        versions: dict[str, str], device: str,
    ) -> int:
        """Start (or restart) a run; a leftover unfinished attempt is wiped in the same
        transaction. Returns the run id."""
        host, pid = socket.gethostname(), os.getpid()
        with self.transaction():
            r = self.db.execute("SELECT id, status, host, pid FROM runs WHERE run_key = ?", (run_key,)).fetchone()
            if r is not None and r["status"] in ("done", "diverged"):
                raise ValueError(f"run {run_key} is already finished")
            if r is not None and r["status"] == "running" and r["host"] == host and r["pid"] != pid and _pid_alive(r["pid"]):
                raise RunBusyError(f"run {run_key} is being run by process {r['pid']} on this machine")
            args = (role, seed, config_hash, json.dumps(config, sort_keys=True), "running", _now(), None,
                    json.dumps(versions, sort_keys=True), device, host, pid, None)
            if r is None:
                cur = self.db.execute(
                    "INSERT INTO runs (role, seed, config_hash, config_json, status, started_at, finished_at,"
                    " versions_json, device, host, pid, error, run_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*args, run_key),
                )
                return int(cur.lastrowid)
            self.db.execute("DELETE FROM epochs WHERE run_id = ?", (r["id"],))
            self.db.execute(
                "UPDATE runs SET role=?, seed=?, config_hash=?, config_json=?, status=?, started_at=?, finished_at=?,"
                " versions_json=?, device=?, host=?, pid=?, error=? WHERE id=?",
                (*args, r["id"]),
            )
            return int(r["id"])

    def add_epoch(self, run_id: int, stage: int, epoch: int, values: dict[str, Any]) -> None:
        known = [values.get(k) for k in EPOCH_FIELDS]
        extra = {k: v for k, v in values.items() if k not in EPOCH_FIELDS}
        with self.transaction():
            self.db.execute(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, stage, epoch, *known, json.dumps(extra, sort_keys=True) if extra else None),
            )

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?", (status, _now(), error, run_id)
            )

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM epochs WHERE run_id = ? ORDER BY stage, epoch", (run_id,)).fetchall()
        out = []
        for r in rows:
            d = {k: r[k] for k in ("stage", "epoch", *EPOCH_FIELDS)}
            d.update(json.loads(r["extra_json"]) if r["extra_json"] else {})
            out.append(d)
        return out

    def test_curve(self, run_id: int, stage: int | None = None) -> list[float]:
        """Test accuracy per training epoch of `stage` (default: the run's last stage)."""
        if stage is None:
            stage = self.db.execute("SELECT MAX(stage) FROM epochs WHERE run_id = ?", (run_id,)).fetchone()[0]
        rows = self.db.execute(
            "SELECT test_acc FROM epochs WHERE run_id = ? AND stage = ? AND epoch >= 1 ORDER BY epoch", (run_id, stage)
        ).fetchall()
        return [r[0] for r in rows]

    # -- suites -------------------------------------------------------------------------------
    def put_suite(self, name: str, profile: str, *, path: str, title: str, paper: str, figure: dict[str, Any],
                  command: str, entries: list[tuple[int, str, dict[str, Any], list[int]]]) -> None:
        """Record a suite's entries (entry number, config hash, grid values, seeds); replaces
        an earlier record of the same suite and profile, in one transaction."""
        with self.transaction():
            self.db.execute("DELETE FROM suite_entries WHERE suite = ? AND profile = ?", (name, profile))
            self.db.execute("INSERT OR REPLACE INTO suites VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (name, profile, path, title, paper, json.dumps(figure), command, _now()))
            self.db.executemany("INSERT INTO suite_entries VALUES (?, ?, ?, ?, ?, ?)",
                                [(name, profile, i, h, json.dumps(axes), json.dumps(list(seeds)))
                                 for i, h, axes, seeds in entries])

    def suites(self) -> list[dict[str, Any]]:
        out = []
        for r in self.db.execute("SELECT * FROM suites ORDER BY name, profile").fetchall():
            entries = self.db.execute(
                "SELECT entry, config_hash, axes_json, seeds_json FROM suite_entries WHERE suite = ? AND profile = ?"
                " ORDER BY entry", (r["name"], r["profile"])).fetchall()
            out.append(dict(r, figure=json.loads(r["figure_json"]),
                            entries=[{"entry": e[0], "config_hash": e[1], "axes": json.loads(e[2]),
                                      "seeds": json.loads(e[3])} for e in entries]))
        return out

    # -- summaries -----------------------------------------------------------------------
    def put_summary(self, config_hash: str, seed: int, window: int, warm_run_id: int, scratch_run_id: int,
                    warm_acc: float, scratch_acc: float, gap: float) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (config_hash, seed, window, warm_run_id, scratch_run_id, warm_acc, scratch_acc, gap),
            )

    def summaries(self, config_hash: str, seeds: list[int] | None = None) -> list[dict[str, Any]]:
        """Per-seed summaries of an experiment (only `seeds`, when given)."""
        rows = self.db.execute("SELECT * FROM summaries WHERE config_hash = ? ORDER BY seed", (config_hash,)).fetchall()
        return [dict(r) for r in rows if seeds is None or r["seed"] in seeds]

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
