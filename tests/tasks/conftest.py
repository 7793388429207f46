"""Shared fixtures: the small hand-written data folder and, when present, the real benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    """A folder laid out like shared/data, with a few invented problems per file."""
    return FIXTURES / "data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """shared/data beside the repository (or FNFORGE_DATA); skips the test when absent."""
    env = os.environ.get("FNFORGE_DATA")
    path = Path(env) if env else (REPO / ".." / "shared" / "data").resolve()
    if not (path / "math" / "math_test.jsonl").is_file():
        pytest.skip(f"benchmark data not found at {path} (set FNFORGE_DATA or see shared/data/README.md)")
    return path
