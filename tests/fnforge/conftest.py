"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private HOME and user config, and no system git config: the user's own settings never leak in."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "FNFORGE_CONFIG": str(tmp_path / "user.toml")}
