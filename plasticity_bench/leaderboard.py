"""The leaderboard: strategies ranked by their gap, per scenario and setting.

A *setting* is everything in an experiment's config except the strategy and its
options (scenario and its options, data, model, optimiser, budget): only
strategies run in the same setting are compared, against the same scratch
baseline. Within a setting, rows are ranked by mean gap, smallest first (a
smaller gap = less plasticity lost; negative = warm start did better than
scratch). Each row: mean gap with its 95% CI (Student's t over paired seeds),
n seeds, warm and scratch last-K test accuracy (mean ± std), and the command
that made it.

Written as markdown, CSV and a self-contained HTML page; with `--wandb`, also
logged as a `wandb.Table` in a run of job type `leaderboard`.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from pathlib import Path
from typing import Any

from plasticity_bench.metrics.gap import summarize

_NOT_SETTING = {"strategy", "strategy_options"}


def _method(cfg: dict[str, Any]) -> str:
    parts = []
    for name in cfg["strategy"]:
        opts = cfg.get("strategy_options", {}).get(name, {})
        parts.append(name + (f"({', '.join(f'{k}={v}' for k, v in sorted(opts.items()))})" if opts else ""))
    return " + ".join(parts)


def _setting(cfg: dict[str, Any]) -> tuple[str, str]:
    """(id, description) of an experiment's setting."""
    rest = {k: v for k, v in cfg.items() if k not in _NOT_SETTING}
    sid = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:10]
    model = cfg["model"] + (f" w={cfg['width']}" if cfg.get("width") else "") + (f" d={cfg['depth']}" if cfg.get("depth") else "")
    desc = (f"{cfg['scenario']} | {cfg['dataset']} | {model} | {cfg['optimizer']} lr {cfg['lr']:g} | "
            f"epochs {cfg['pretrain_epochs']}/{cfg['tune_epochs']} | batch {cfg['batch_size']}")
    return sid, desc


def leaderboard_rows(store: Any) -> list[dict[str, Any]]:
    """Every experiment with at least one finished seed, ranked within its setting."""
    rows = []
    for e in store.experiments():
        per_seed = store.summaries(e["config_hash"])
        if not per_seed:
            continue
        cfg = e["config"]
        sid, desc = _setting(cfg)
        gap = summarize([r["gap"] for r in per_seed])
        warm = summarize([r["warm_acc"] for r in per_seed])
        scratch = summarize([r["scratch_acc"] for r in per_seed])
        rows.append({
            "scenario": cfg["scenario"], "setting": sid, "setting_description": desc, "method": _method(cfg),
            "gap_mean": gap.mean, "gap_ci_low": gap.ci_low, "gap_ci_high": gap.ci_high, "n_seeds": gap.n,
            "warm_acc_mean": warm.mean, "warm_acc_std": warm.std, "scratch_acc_mean": scratch.mean,
            "scratch_acc_std": scratch.std, "config_hash": e["config_hash"], "command": e.get("label") or "",
        })
    rows.sort(key=lambda r: (r["scenario"], r["setting"], r["gap_mean"]))
    rank, last = 0, None
    for r in rows:
        rank = rank + 1 if r["setting"] == last else 1
        r["rank"], last = rank, r["setting"]
    return rows


def _pts(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:+.2f}"


def _acc(m: float, s: float) -> str:
    return f"{100 * m:.2f}" + ("" if s != s else f" ± {100 * s:.2f}")


def to_markdown(rows: list[dict[str, Any]]) -> str:
    out = ["# Leaderboard", "",
           "Ranked by gap = scratch − warm last-K test accuracy (points; smaller is better, positive = the "
           "warm-started model generalises worse), per scenario and setting.", ""]
    setting = None
    for r in rows:
        if r["setting"] != setting:
            setting = r["setting"]
            out += ["", f"## {r['setting_description']}", "",
                    "| rank | method | gap (points) | 95% CI | n | warm acc (%) | scratch acc (%) | made by |",
                    "|---|---|---|---|---|---|---|---|"]
        ci = "n/a" if r["n_seeds"] < 2 else f"[{_pts(r['gap_ci_low'])}, {_pts(r['gap_ci_high'])}]"
        out.append(f"| {r['rank']} | {r['method']} | {_pts(r['gap_mean'])} | {ci} | {r['n_seeds']} | "
                   f"{_acc(r['warm_acc_mean'], r['warm_acc_std'])} | {_acc(r['scratch_acc_mean'], r['scratch_acc_std'])} | "
                   f"`{r['command']}` |")
    return "\n".join(out) + "\n"


CSV_FIELDS = ["scenario", "setting", "setting_description", "rank", "method", "gap_mean", "gap_ci_low", "gap_ci_high",
              "n_seeds", "warm_acc_mean", "warm_acc_std", "scratch_acc_mean", "scratch_acc_std", "config_hash", "command"]


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in CSV_FIELDS})
    return buf.getvalue()


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}td.l,th.l{text-align:left}th{background:#f3f3f3}
tr.best td{background:#eef8ee}code{font-size:85%}"""


def to_html(rows: list[dict[str, Any]]) -> str:
    """A self-contained page: inline CSS, no scripts, no external resources."""
    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>plasticity-bench leaderboard</title>",
             f"<style>{_CSS}</style></head><body><h1>plasticity-bench leaderboard</h1>",
             "<p>Ranked by gap = scratch &minus; warm last-K test accuracy (points; smaller is better, positive = the "
             "warm-started model generalises worse), per scenario and setting.</p>"]
    setting = None
    for r in rows:
        if r["setting"] != setting:
            if setting is not None:
                parts.append("</table>")
            setting = r["setting"]
            parts.append(f"<h2>{e(r['setting_description'])}</h2><table><tr><th>rank</th><th class='l'>method</th>"
                         "<th>gap (points)</th><th>95% CI</th><th>n</th><th>warm acc (%)</th><th>scratch acc (%)</th>"
                         "<th class='l'>made by</th></tr>")
        ci = "n/a" if r["n_seeds"] < 2 else f"[{_pts(r['gap_ci_low'])}, {_pts(r['gap_ci_high'])}]"
        parts.append(f"<tr class='{'best' if r['rank'] == 1 else ''}'><td>{r['rank']}</td><td class='l'>{e(r['method'])}</td>"
                     f"<td>{_pts(r['gap_mean'])}</td><td>{ci}</td><td>{r['n_seeds']}</td>"
                     f"<td>{_acc(r['warm_acc_mean'], r['warm_acc_std'])}</td><td>{_acc(r['scratch_acc_mean'], r['scratch_acc_std'])}</td>"
                     f"<td class='l'><code>{e(r['command'])}</code></td></tr>")
    if setting is not None:
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_leaderboard(store: Any, folder: str | Path) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    folder = Path(folder)
    rows = leaderboard_rows(store)
    paths = {"md": folder / "leaderboard.md", "csv": folder / "leaderboard.csv", "html": folder / "leaderboard.html"}
    paths["md"].write_text(to_markdown(rows))
    paths["csv"].write_text(to_csv(rows))
    paths["html"].write_text(to_html(rows))
    return rows, paths


def log_to_wandb(rows: list[dict[str, Any]], settings: Any, folder: str | Path) -> None:
    """The leaderboard as a `wandb.Table` in a run of job type `leaderboard`."""
    import wandb

    from plasticity_bench.wandb_logger import WandbLogger

    logger = WandbLogger(project=settings.project_name, entity=settings.entity, group=settings.group or "leaderboard",
                         job_type="leaderboard", name="leaderboard", config={"rows": len(rows)}, mode=settings.mode,
                         dir=str(folder), init_timeout=settings.init_timeout)
    table = wandb.Table(columns=CSV_FIELDS, data=[[r[k] for k in CSV_FIELDS] for r in rows])
    logger.run.log({"leaderboard": table})
    logger.finish_run("done", {"rows": len(rows)})
