"""Each package's public surface is exactly its sorted ``__all__``."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [f"fnforge.{name}" for name in ("functions", "registry", "sandbox", "agents", "tasks", "optimizer")]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_all_is_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("package", PACKAGES)
def test_package_exports_every_public_name_it_defines(package: str) -> None:
    module = importlib.import_module(package)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, type(importlib)) and name != "annotations"
    }
    assert public == set(module.__all__)


def test_root_exports_resolve_to_their_subpackages_objects() -> None:
    import fnforge

    assert fnforge.__all__ == sorted(fnforge.__all__)
    for name in fnforge.__all__:
        value = getattr(fnforge, name)
        assert value.__module__.startswith("fnforge."), name
