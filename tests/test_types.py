"""The packages pass ``mypy --strict``: tools/typecheck.py, run here so that CI's one test command checks types."""

from __future__ import annotations

import re
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


def test_every_module_says_what_its_any_stands_for() -> None:
    # STYLE: an Any needs a comment; each module says once, on its import, what Any stands for in it
    folders = ("agents", "functions", "optimizer", "registry", "sandbox", "tasks", "fnforge")
    silent = [str(path.relative_to(ROOT)) for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))
              for line in path.read_text(encoding="utf-8").splitlines()
              if re.match(r"\s*from typing import .*\bAny\b", line) and "# Any:" not in line]
    assert not silent, "import Any with a '# Any: <what it stands for>' comment in: " + ", ".join(silent)
