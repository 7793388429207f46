"""The packages pass ``mypy --strict``: tools/typecheck.py, run here so that CI's one test command checks types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_packages_pass_mypy_strict() -> None:
    finished = subprocess.run([sys.executable, str(ROOT / "tools" / "typecheck.py")], capture_output=True,
                              text=True, check=False, timeout=600)
    errors = [line for line in finished.stdout.splitlines() if ": error:" in line]
    assert finished.returncode == 0 and not errors, "mypy --strict found:\n" + (
        "\n".join(errors) or finished.stdout + finished.stderr)
