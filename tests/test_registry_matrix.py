"""Every registered strategy on every registered scenario, with a tiny budget.

Parametrized over the registries: a strategy or scenario is tested the moment it
registers, without writing a test.
"""

from __future__ import annotations

import math

import pytest

from plasticity_bench.runner import run_experiment
from plasticity_bench.scenarios import SCENARIOS
from plasticity_bench.store import Store
from plasticity_bench.strategies import STRATEGIES


@pytest.mark.parametrize("scenario", SCENARIOS.names())
@pytest.mark.parametrize("strategy", STRATEGIES.names())
def test_strategy_runs_on_scenario(tmp_path, tiny_config, strategy, scenario):
    cfg = tiny_config.replace(strategy=(strategy,), scenario=scenario, seeds=(0,), pretrain_epochs=1, tune_epochs=2,
                              output_dir=str(tmp_path / "m"))
    result = run_experiment(cfg)
    assert result.ran == 2 and not result.diverged
    (row,) = result.per_seed
    assert all(math.isfinite(row[k]) for k in ("scratch_acc", "warm_acc", "gap"))
    with Store(cfg.output_dir) as store:
        assert {r[0] for r in store.db.execute("SELECT status FROM runs")} == {"done"}
