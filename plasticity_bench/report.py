"""Tables and plots from the results store (every number shown comes from a stored run).

- `format_table(...)`: scratch and warm test accuracy (mean +- std over seeds, last-K
  epochs) and the gap with its 95% CI; positive gap = warm start generalises worse.
- `plot_curves(...)`: test accuracy per epoch, warm vs scratch, mean +- std bands,
  stage boundaries marked, the last-K window shaded (as the paper's Figure 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plasticity_bench.metrics.gap import Summary, summarize

SIGN_NOTE = "gap = scratch - warm (last-K mean test accuracy); positive = the warm-started model generalises worse"


def _pct(x: float) -> str:
    return "  n/a" if x != x else f"{100 * x:5.2f}"


def _pm(s: Summary | None) -> str:
    if s is None:
        return "n/a"
    return f"{_pct(s.mean)} +- {_pct(s.std).strip()} %" if s.n > 1 else f"{_pct(s.mean)} %"


def describe_config(cfg: dict[str, Any]) -> str:
    width = "" if cfg.get("width") is None else f" w={cfg['width']}"
    depth = "" if cfg.get("depth") is None else f" d={cfg['depth']}"
    return (
        f"{cfg['scenario']} on {cfg['dataset']}, {cfg['model']}{width}{depth}, "
        f"{'+'.join(cfg['strategy'])}, {cfg['optimizer']} lr {cfg['lr']:g}, batch {cfg['batch_size']}, "
        f"epochs {cfg['pretrain_epochs']} (pretrain) / {cfg['tune_epochs']} (final)"
    )


@dataclass
class ExperimentView:
    """One experiment as read back from the store."""

    config_hash: str
    config: dict[str, Any]
    per_seed: list[dict[str, Any]]  # seed, scratch_acc, warm_acc, gap, window
    label: str | None = None  # the command that made it, when known

    def summary(self, key: str) -> Summary | None:
        return summarize([r[key] for r in self.per_seed]) if self.per_seed else None


def format_table(view: ExperimentView, *, command: str | None = None) -> str:
    k = view.per_seed[0]["window"] if view.per_seed else None
    gap = view.summary("gap")
    lines = [
        f"experiment {view.config_hash}: {describe_config(view.config)}",
        f"seeds {[r['seed'] for r in view.per_seed]}; K = last {k} epochs of the final stage",
        "",
        f"  {'run':<22} test accuracy (mean +- std over seeds)",
        f"  {'scratch':<22} {_pm(view.summary('scratch_acc'))}",
        f"  {'warm':<22} {_pm(view.summary('warm_acc'))}",
    ]
    if gap is None:
        lines.append(f"  {'gap':<22} n/a (no seed has both runs finished)")
    elif gap.n == 1:
        lines.append(f"  {'gap':<22} {100 * gap.mean:+.2f} points (one seed: no CI)")
    else:
        lines.append(
            f"  {'gap':<22} {100 * gap.mean:+.2f} +- {100 * gap.std:.2f} points, "
            f"95% CI [{100 * gap.ci_low:+.2f}, {100 * gap.ci_high:+.2f}], n = {gap.n}"
        )
    lines += ["", f"  {SIGN_NOTE}"]
    if command:
        lines.append(f"  made by: {command}")
    return "\n".join(lines)


def load_views(store: Any) -> list[ExperimentView]:
    views = []
    for e in store.experiments():
        rows = store.summaries(e["config_hash"])
        views.append(ExperimentView(e["config_hash"], e["config"], rows, e.get("label")))
    return views


def _curves(store: Any, config_hash: str, role: str, seeds: list[int] | None = None) -> dict[int, list[dict[str, Any]]]:
    """seed -> epoch rows of the done runs of this experiment and role."""
    out = {}
    for r in store.summaries(config_hash, seeds):
        run = store.run_by_id(r[f"{role}_run_id"])
        out[r["seed"]] = [e for e in store.epochs(run.id) if e["epoch"] >= 1]
    return out


def plot_curves(store: Any, view: ExperimentView, path: str | Path, *, command: str | None = None) -> Path:
    """Test accuracy per epoch, warm vs scratch, mean +- std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warm, scratch = _curves(store, view.config_hash, "warm"), _curves(store, view.config_hash, "scratch")
    # Left: every epoch of both runs. Right: the final stage alone, zoomed, where the gap is read.
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    boundaries: list[int] = []
    offset = 0
    if warm:
        rows = next(iter(warm.values()))
        stages = sorted({r["stage"] for r in rows})
        sizes = [sum(1 for r in rows if r["stage"] == s) for s in stages]
        boundaries = list(np.cumsum(sizes)[:-1])
        offset = int(sum(sizes[:-1]))
    k = view.per_seed[0]["window"] if view.per_seed else None
    end = offset + view.config["tune_epochs"]
    for label, curves, color, x0 in (("warm start", warm, "tab:red", 0), ("scratch", scratch, "tab:blue", offset)):
        if not curves:
            continue
        acc = _acc_matrix(curves)
        x = x0 + np.arange(1, acc.shape[1] + 1)
        mean, std = acc.mean(0), _band(acc)
        for a, sel in ((ax, slice(None)), (zoom, x > offset)):
            a.plot(x[sel], mean[sel], color=color, lw=1.4, label=f"{label} (n={acc.shape[0]})")
            a.fill_between(x[sel], (mean - std)[sel], (mean + std)[sel], color=color, alpha=0.2, lw=0)
    for b in boundaries:
        ax.axvline(b + 0.5, color="k", ls="--", lw=1)
        ax.text(b + 0.5, 0.02, " final stage", transform=ax.get_xaxis_transform(), fontsize=8)
    if k:
        for a in (ax, zoom):
            a.axvspan(end - k + 0.5, end + 0.5, color="tab:green", alpha=0.12, label=f"gap window (last {k} epochs)")
    if warm or scratch:  # zoom on the second half of the final stage, where both have converged
        lo = offset + view.config["tune_epochs"] // 2
        zoom.set_xlim(lo, end + 1)
        ys = [r["test_acc"] * 100 for c in (warm, scratch) for rows in c.values() for i, r in enumerate(rows)
              if (i + 1 + (0 if c is warm else offset)) > lo]
        if ys:
            pad = 0.1 * (max(ys) - min(ys) + 0.1)
            zoom.set_ylim(min(ys) - pad, max(ys) + pad)
    gap = view.summary("gap")
    title = f"{view.config['scenario']}: {view.config['dataset']}, {view.config['model']}"
    if gap is not None:
        title += f"; gap {100 * gap.mean:+.2f} points" + (f" (95% CI {100 * gap.ci_low:+.2f}, {100 * gap.ci_high:+.2f})" if gap.n > 1 else "")
    fig.suptitle(title, fontsize=10)
    zoom.set_title("final stage (zoom)", fontsize=9)
    for a in (ax, zoom):
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    ax.set_ylabel("test accuracy (%)")
    ax.legend(loc="lower right", fontsize=8)
    if command:
        fig.text(0.01, 0.01, command, fontsize=7, color="0.4")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- suites: one figure and one table per suite ------------------------------------------------------
def _fmt_axis(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k.split('.')[-1]}={_fmt_axis(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def suite_rows(store: Any, suite: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per suite entry: its grid values and the summaries of its seeds."""
    rows = []
    for e in suite["entries"]:
        per_seed = store.summaries(e["config_hash"], e["seeds"])  # the suite's seeds, not others run since
        view = ExperimentView(e["config_hash"], {}, per_seed)
        rows.append({"entry": e["entry"], "axes": e["axes"], "config_hash": e["config_hash"], "n": len(per_seed),
                     "seeds": e["seeds"],
                     "scratch": view.summary("scratch_acc"), "warm": view.summary("warm_acc"), "gap": view.summary("gap")})
    return rows


def _cell(s: Summary | None, pct: bool = True) -> str:
    if s is None:
        return "n/a"
    k = 100 if pct else 1
    return f"{k * s.mean:.2f} ± {k * s.std:.2f}" if s.n > 1 else f"{k * s.mean:.2f}"


def _ci(s: Summary | None) -> str:
    return "n/a" if s is None or s.n < 2 else f"[{100 * s.ci_low:+.2f}, {100 * s.ci_high:+.2f}]"


def suite_markdown_table(store: Any, suite: dict[str, Any]) -> str:
    rows = suite_rows(store, suite)
    axes = list(rows[0]["axes"]) if rows else []
    head = [*(a.split(".")[-1] for a in axes), "scratch acc (%)", "warm acc (%)", "gap (points)", "gap 95% CI", "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        gap = "n/a" if r["gap"] is None else (f"{100 * r['gap'].mean:+.2f} ± {100 * r['gap'].std:.2f}" if r["gap"].n > 1 else f"{100 * r['gap'].mean:+.2f}")
        cells = [*(_fmt_axis(r["axes"][a]) for a in axes), _cell(r["scratch"]), _cell(r["warm"]), gap, _ci(r["gap"]), str(r["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def suite_table(store: Any, name: str, profile: str) -> str:
    suite = next(s for s in store.suites() if s["name"] == name and s["profile"] == profile)
    return "\n".join([f"{suite['title']} ({profile} profile)", "", suite_markdown_table(store, suite), "",
                      f"{SIGN_NOTE}. Accuracy: mean ± std over seeds of the last-K test accuracy.",
                      f"made by: {suite['command']}"])


def _xs(values: list[Any]) -> tuple[list[float], list[str] | None]:
    """Numeric x positions, or categorical ones with tick labels."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], None
    labels = [_fmt_axis(v) for v in values]
    return list(range(len(values))), labels


def plot_suite(store: Any, suite: dict[str, Any], path: str | Path) -> Path:
    """The paper's kind of plot for this suite (see `Suite.figure`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_spec = suite["figure"]
    rows = suite_rows(store, suite)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if fig_spec.get("kind") == "sweep":
        x_axis, series_axis, y = fig_spec["x"], fig_spec.get("series"), fig_spec.get("y", "warm_acc")
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            key = _fmt_axis(r["axes"][series_axis]) if series_axis else ""
            groups.setdefault(key, []).append(r)
        all_x = []
        for r in rows:
            if r["axes"][x_axis] not in all_x:
                all_x.append(r["axes"][x_axis])
        xs_all, ticks = _xs(all_x)
        pos = {_fmt_axis(v): p for v, p in zip(all_x, xs_all)}
        for ci, (key, rs) in enumerate(groups.items()):
            c = colors[ci % len(colors)]
            rs = [r for r in rs if r["warm"] is not None]
            if not rs:
                continue
            xs = [pos[_fmt_axis(r["axes"][x_axis])] for r in rs]
            named = series_axis and not isinstance(rs[0]["axes"][series_axis], dict)  # zipped axes name themselves
            label = (f"{series_axis.split('.')[-1]}={key}" if named else key) if series_axis else "warm start"
            if y == "gap":
                ax.errorbar(xs, [100 * r["gap"].mean for r in rs], yerr=[100 * _std(r["gap"]) for r in rs],
                            marker="o", capsize=3, color=c, label=label)
            else:
                ax.errorbar(xs, [100 * r["warm"].mean for r in rs], yerr=[100 * _std(r["warm"]) for r in rs],
                            marker="o", capsize=3, color=c, label=label)
                sc = [100 * r["scratch"].mean for r in rs]
                if max(sc) - min(sc) < 1e-9:  # one scratch baseline: a horizontal line, as in the paper
                    ax.axhline(sc[0], color=c, ls="--", lw=1, label=f"scratch ({label})" if series_axis else "scratch")
                else:  # the baseline moves with x (e.g. its learning rate)
                    ax.plot(xs, sc, color=c, ls="--", lw=1, label=f"scratch ({label})" if series_axis else "scratch")
        if y == "gap":
            ax.axhline(0, color="k", lw=0.8)
        if ticks:
            ax.set_xticks(xs_all, ticks)
        elif fig_spec.get("log_x"):
            ax.set_xscale("log")
        ax.set_xlabel(fig_spec.get("xlabel", x_axis.split(".")[-1]))
        ax.set_ylabel("gap (points; positive = warm worse)" if y == "gap" else "test accuracy, last K epochs (%)")
    else:  # learning curves of each entry (warm) against scratch
        boundary = None
        seen_scratch = set()
        scratch_of = {e["config_hash"]: e["scratch_hash"] for e in store.experiments()}
        for ci, r in enumerate(rows):
            c = colors[ci % len(colors)]
            warm, scratch = (_curves(store, r["config_hash"], role, r["seeds"]) for role in ("warm", "scratch"))
            if not warm:
                continue
            acc = _acc_matrix(warm)
            first = next(iter(warm.values()))
            offset = sum(1 for e in first if e["stage"] != first[-1]["stage"])
            boundary = offset
            x = np.arange(1, acc.shape[1] + 1)
            label = _fmt_axis(r["axes"]) if r["axes"] else "warm start"
            ax.plot(x, acc.mean(0), color=c, lw=1.3, label=label)
            ax.fill_between(x, acc.mean(0) - _band(acc), acc.mean(0) + _band(acc), color=c, alpha=0.15, lw=0)
            if scratch and scratch_of[r["config_hash"]] not in seen_scratch:  # entries may share one baseline
                seen_scratch.add(scratch_of[r["config_hash"]])
                sacc = _acc_matrix(scratch)
                sx = offset + np.arange(1, sacc.shape[1] + 1)
                ax.plot(sx, sacc.mean(0), color="k", lw=1.1, ls="--", label="scratch" if len(seen_scratch) == 1 else None)
        if boundary:
            ax.axvline(boundary + 0.5, color="k", ls=":", lw=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{suite['title']} ({suite['profile']})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.text(0.01, 0.01, f"made by: {suite['command']}", fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _std(s: Summary) -> float:
    return 0.0 if s.n < 2 else s.std


def _acc_matrix(curves: dict[int, list[dict[str, Any]]]) -> np.ndarray:
    """Test accuracy in percent, [seeds, epochs], from `_curves`."""
    return np.array([[e["test_acc"] for e in rows] for rows in curves.values()]) * 100


def _band(acc: np.ndarray) -> np.ndarray:
    """Std over seeds per epoch (zero for one seed)."""
    return acc.std(0, ddof=1) if acc.shape[0] > 1 else np.zeros(acc.shape[1])


def write_report(store: Any, folder: str | Path) -> tuple[str, list[Path]]:
    """Every suite's figure and table, and a table and learning curves for every
    experiment run on its own; `report.md` beside the PNGs. Returns (markdown, PNGs)."""
    folder = Path(folder)
    parts, pngs = ["# plasticity-bench report", "", SIGN_NOTE + ".", ""], []
    suites = store.suites()
    in_suites = {e["config_hash"] for s in suites for e in s["entries"]}
    for s in suites:
        png = plot_suite(store, s, folder / f"{s['name']}-{s['profile']}.png")
        pngs.append(png)
        parts += [f"## {s['title']} ({s['profile']} profile)", "", f"Made by: `{s['command']}`", ""]
        if s["paper"]:
            parts += [f"Paper: {s['paper']}", ""]
        parts += [suite_markdown_table(store, s), "", f"![{s['name']}]({png.name})", ""]
    for v in load_views(store):
        if v.config_hash in in_suites or not v.per_seed:
            continue
        png = plot_curves(store, v, folder / f"curves-{v.config_hash}.png")
        pngs.append(png)
        parts += [f"## Experiment {v.config_hash}", "", "```", format_table(v, command=v.label), "```", "",
                  f"![curves]({png.name})", ""]
    text = "\n".join(parts)
    (folder / "report.md").write_text(text)
    return text, pngs
