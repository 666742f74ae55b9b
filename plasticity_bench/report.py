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
        views.append(ExperimentView(e["config_hash"], e["config"], rows))
    return views


def _curves(store: Any, config_hash: str, role: str) -> dict[int, list[dict[str, Any]]]:
    """seed -> epoch rows of the done runs of this experiment and role."""
    out = {}
    for r in store.summaries(config_hash):
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
        acc = np.array([[r["test_acc"] for r in rows] for rows in curves.values()]) * 100  # [seeds, epochs]
        x = x0 + np.arange(1, acc.shape[1] + 1)
        mean, std = acc.mean(0), acc.std(0, ddof=1) if acc.shape[0] > 1 else np.zeros(acc.shape[1])
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
