"""The packages pass ``mypy --strict`` (run through tools/typecheck.py, as CI runs it inside pytest)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _typecheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fnforge_typecheck", ROOT / "tools" / "typecheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packages_pass_mypy_strict() -> None:
    finished = _typecheck_module().run_mypy()
    errors = [line for line in finished.stdout.splitlines() if ": error:" in line]
    assert finished.returncode == 0 and not errors, "mypy --strict found:\n" + (
        "\n".join(errors) or finished.stdout + finished.stderr)
