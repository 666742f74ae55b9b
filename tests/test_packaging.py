"""Packaging: the root folders install inside the plasticity_bench namespace."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / "setup.cfg").exists(), reason="needs the source tree")
def test_wheel_holds_scenarios_strategies_metrics_under_plasticity_bench(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("plasticity_bench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for pkg in ("scenarios", "strategies", "metrics"):
        assert f"plasticity_bench/{pkg}/__init__.py" in names
    assert "plasticity_bench/metrics/gap.py" in names and "plasticity_bench/strategies/naive.py" in names
    top = {n.split("/")[0] for n in names}
    assert not top & {"scenarios", "strategies", "metrics", "tests", "benchmarks"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "plasticity-bench = plasticity_bench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_names():
    import plasticity_bench.metrics as m
    import plasticity_bench.scenarios as sc
    import plasticity_bench.strategies as st

    assert Path(m.__file__).parent.name == "metrics" and hasattr(m, "generalisation_gap")
    assert "warm_start" in sc.SCENARIOS and "naive" in st.STRATEGIES
