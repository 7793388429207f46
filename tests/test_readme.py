"""The README's two commands are what CI runs and what a user types."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [b.strip() for b in blocks]


def test_readme_has_main_job_then_test_command() -> None:
    commands = readme_commands()
    assert len(commands) >= 2
    assert "pytest" in commands[1]


def test_ci_runs_readme_test_command_verbatim() -> None:
    test_command = readme_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines
