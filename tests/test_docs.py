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
        parser.parse_args(shlex.split(c)[1:])  # raises SystemExit(2) on a bad flag


@pytest.mark.skipif(not README.exists(), reason="needs the source tree")
def test_readme_states_the_defaults_it_describes():
    from plasticity_bench.config import ExperimentConfig

    c = ExperimentConfig()
    text = README.read_text()
    assert f"for {c.pretrain_epochs} epochs" in text and f"{c.tune_epochs} epochs" in text
    assert f"for {len(c.seeds)} seeds" in text and c.model in text
