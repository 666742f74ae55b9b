"""Wall time of the quick profiles of all suites, run one after another into one
results folder, exactly as a user would type them (so runs shared between suites,
such as scratch baselines, are trained once).

Each training run uses 1 torch CPU thread (`num_threads`, the default); runs go
to worker processes, one per CPU core (`workers` = 0, auto). Prints each suite's
seconds, then the total against the target (30 minutes on 2 CPU cores), ratio
last. Afterwards the folder holds everything `plasticity-bench report` and
`plasticity-bench leaderboard` need.

    python benchmarks/quick_budget.py --output-dir results/quick     # ~25 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

SUITES = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig11", "leaderboard"]
TARGET_S = 30 * 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", default="results/quick")
    ap.add_argument("--suites", nargs="+", default=SUITES)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPU cores; 1 torch thread per run; one worker process per core", flush=True)
    times = {}
    t_all = time.perf_counter()
    for name in args.suites:
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "plasticity_bench", "run", name, "--profile", "quick",
                            "--output-dir", args.output_dir, "--no-progress"], capture_output=True, text=True)
        times[name] = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"{name} failed:\n{r.stderr}")
        print(f"{name:<12} {times[name]:7.1f} s", flush=True)
    total = time.perf_counter() - t_all
    for cmd in ("report", "leaderboard"):
        subprocess.run([sys.executable, "-m", "plasticity_bench", cmd, args.output_dir], capture_output=True, check=True)
    print(f"all quick profiles: {total:.0f} s ({total / 60:.1f} min); target {TARGET_S / 60:.0f} min; "
          f"results, report.md and leaderboard.* in {Path(args.output_dir)}")
    print(f"ratio total/target = {total / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
