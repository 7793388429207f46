"""docs/cli.md is generated from the commands' --help and must not go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_matches_every_commands_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "docs/cli.md"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"docs/cli.md is stale; run: cog -r docs/cli.md\n{result.stdout}{result.stderr}"


def test_cli_reference_documents_every_visible_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for name in ("init", "train", "eval", "log", "rollback", "branch create", "transfer", "export", "clone"):
        assert f"## fnforge {name}\n" in text
