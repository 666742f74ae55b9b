"""`plasticity-bench describe SCENARIO`: what a scenario's stages hold, without training.

For each training stage: its size, the examples it adds, and its class histogram;
the epochs it gets under the config's schedule; for smooth drift, p(n) at a few
points of the schedule.
"""

from __future__ import annotations

from typing import Any

import torch

from plasticity_bench.config import ExperimentConfig


def describe(config: ExperimentConfig, seed: int | None = None) -> str:
    from plasticity_bench.config import validate_names
    from plasticity_bench.runner import load_data, stage_epochs
    from plasticity_bench.scenarios import SCENARIOS, build_scenario

    validate_names(config)
    seed = config.seeds[0] if seed is None else seed
    data = load_data(config)
    bm = build_scenario(config, data, seed)
    stages = list(bm.train_stream)
    n = len(data.train_y)
    entry = SCENARIOS.entry(config.scenario)
    opts = ", ".join(f"{k}={getattr(config, k)!r}" for k in entry.extra["options"])
    lines = [
        f"{config.scenario}: {entry.description}",
        f"{config.dataset}: {n} training, {len(data.test_y)} test examples, {data.num_classes} classes; seed {seed}; {opts}",
        "",
    ]
    epochs = stage_epochs(config, [len(e.indices) for e in stages])
    width = max(5, len(str(n)))
    head = f"  {'stage':<6}{'size':>{width}}  {'share':>6}  {'new':>{width}}  {'epochs':>6}  class histogram"
    lines.append(head)
    prev: set[int] = set()
    for e, ep in zip(stages, epochs):
        idx = e.indices
        hist = torch.bincount(data.train_y[idx], minlength=data.num_classes).tolist()
        new = len(set(idx.tolist()) - prev)
        prev |= set(idx.tolist())
        label = f"{e.stage}{'*' if e.is_final else ''}"
        if config.epoch_schedule == "until_acc" and not e.is_final:
            ep = f"<={ep}"
        lines.append(f"  {label:<6}{len(idx):>{width}}  {len(idx) / n:>6.1%}  {new:>{width}}  {ep!s:>6}  {hist}")
    lines.append(f"  (* final stage; the scratch baseline trains on all {n} examples for {config.tune_epochs} epochs)")
    sampler = getattr(stages[-1], "sampler", None)
    if hasattr(sampler, "p"):
        steps = stages[-1].steps_per_epoch
        total = steps * config.tune_epochs
        lines += ["", f"  one stage of N = {total} steps ({config.tune_epochs} epochs of {steps} steps); "
                      f"pretraining subset: {len(sampler.pretrain)} examples"]
        points = [0, total // 100, total // 20, total // 10, total // 4, total // 2, (3 * total) // 4, total - 1]
        lines.append("  p(n) = P(draw from the full set): " + ", ".join(
            f"n={k} ({k / total:.0%}): {sampler.p(k):.3f}" for k in sorted(set(points))))
    return "\n".join(lines)
