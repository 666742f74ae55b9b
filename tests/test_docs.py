"""The README's commands are real: every `plasticity-bench ...` line parses, and the
fields it promises exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from plasticity_bench.cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands():
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [ln.strip() for b in blocks for ln in b.splitlines() if ln.strip().startswith("plasticity-bench")]


@pytest.mark.skipif(not README.exists(), reason="needs the source tree")
def test_readme_commands_parse():
    cmds = _commands()
    assert "plasticity-bench run" in cmds and any(c.startswith("plasticity-bench report") for c in cmds)
    parser = build_parser()
    for c in cmds:
        parser.parse_args(shlex.split(c, comments=True)[1:])  # raises SystemExit(2) on a bad flag


@pytest.mark.skipif(not README.exists(), reason="needs the source tree")
def test_readme_states_the_defaults_it_describes():
    from plasticity_bench.config import ExperimentConfig

    c = ExperimentConfig()
    text = README.read_text()
    assert f"for {c.pretrain_epochs} epochs" in text and f"{c.tune_epochs} epochs" in text
    assert f"for {len(c.seeds)} seeds" in text and c.model in text


DOC = Path(__file__).resolve().parent.parent / "docs" / "adding-a-strategy.md"


@pytest.mark.skipif(not DOC.exists(), reason="needs the source tree")
def test_adding_a_strategy_guide_example_runs(tiny_config):
    from plasticity_bench.runner import run_experiment
    from plasticity_bench.store import Store
    from plasticity_bench.strategies import STRATEGIES

    text = DOC.read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    toml = re.findall(r"```toml\n(.*?)```", text, flags=re.S)[0]
    try:
        exec(compile(code, str(DOC), "exec"), {})
        assert "final_lr_scale" in STRATEGIES
        import tomllib

        from plasticity_bench.config import from_mapping

        cfg = from_mapping(tomllib.loads(toml), base=tiny_config.replace(seeds=(0,)))
        result = run_experiment(cfg)
        assert result.ran == 2 and len(result.per_seed) == 1
        with Store(cfg.output_dir) as store:
            warm = next(r for r in store.db.execute("SELECT id FROM runs WHERE role = 'warm'"))
            lrs = {(e["stage"], e["lr"]) for e in store.epochs(warm[0]) if e["epoch"] >= 1}
        assert lrs == {(1, cfg.lr), (2, cfg.lr * 3.0)}  # the guide's strategy did its job
    finally:
        STRATEGIES.remove("final_lr_scale")


@pytest.mark.skipif(not DOC.exists(), reason="needs the source tree")
def test_strategy_template_registers_and_runs(tiny_config):
    from plasticity_bench.runner import run_experiment
    from plasticity_bench.strategies import STRATEGIES

    src = (DOC.parent / "strategy_template.py").read_text()
    try:
        exec(compile(src, "strategy_template.py", "exec"), {"__name__": "strategy_template"})
        result = run_experiment(tiny_config.replace(seeds=(0,), strategy=("my_strategy",)))
        assert result.ran == 2
    finally:
        STRATEGIES.remove("my_strategy")
