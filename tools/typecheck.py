"""Run ``mypy --strict`` over the installed ``fnforge`` namespace.

The repository keeps one top-level folder per idea (``agents/``, ``sandbox/``,
...) and setuptools maps each to ``fnforge.<name>`` (pyproject.toml's
``package-dir``). mypy cannot follow that mapping, so this script builds a
tree of symbolic links that has the installed shape and checks it as the
package ``fnforge``. The cache lives in the repository's ``.mypy_cache`` so a
second run only re-checks what changed.

Usage::

    .venv/bin/python tools/typecheck.py      # prints mypy's report; exit 0 when clean
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The repository folders that setuptools installs as ``fnforge.<name>``.
MAPPED_FOLDERS = ("agents", "functions", "optimizer", "registry", "sandbox", "tasks")


def build_tree(into: Path) -> Path:
    """Lay out ``into/fnforge`` as installed, with links into the repository.

    Args:
        into: An empty folder.

    Returns:
        The folder to run mypy from (``into``).
    """
    package = into / "fnforge"
    package.mkdir()
    for entry in (ROOT / "fnforge").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name in MAPPED_FOLDERS:
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    return into


def run_mypy() -> subprocess.CompletedProcess[str]:
    """Run mypy with the settings of pyproject.toml over the linked tree.

    Returns:
        The finished process; ``returncode`` 0 means no errors, and ``stdout``
        holds mypy's report with paths relative to the linked tree (which are
        the repository paths with ``fnforge/<folder>`` for a mapped folder).
    """
    with tempfile.TemporaryDirectory(prefix="fnforge-typecheck-") as tmp:
        cwd = build_tree(Path(tmp))
        command = [
            sys.executable, "-m", "mypy",
            "--config-file", str(ROOT / "pyproject.toml"),
            "--cache-dir", str(ROOT / ".mypy_cache"),
            "-p", "fnforge",
        ]
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def main() -> int:
    """Print mypy's report and return its exit status."""
    finished = run_mypy()
    sys.stdout.write(finished.stdout)
    sys.stderr.write(finished.stderr)
    return finished.returncode


if __name__ == "__main__":
    raise SystemExit(main())
