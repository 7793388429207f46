"""Registry test fixtures: git isolated from the user's config, a fresh toolset per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge import registry

_GIT_VARIABLES = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
    "GIT_CONFIG", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "EMAIL",
)


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME is an empty directory and system config is off: no ~/.gitconfig, no identity."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in _GIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[registry.Repository]:
    """A new toolset at ``tmp_path/toolset`` on branch ``main``."""
    with registry.init(tmp_path / "toolset", files={"fnforge.toml": b"[fnforge]\ntask = \"demo\"\n"}) as made:
        yield made
