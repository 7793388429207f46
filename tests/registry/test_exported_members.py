"""The registry's public surface is exactly its sorted __all__."""

from __future__ import annotations

import types

from fnforge import registry


def test_registry_all_is_sorted_and_complete() -> None:
    public = {name for name, value in vars(registry).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"}
    assert registry.__all__ == sorted(registry.__all__) and set(registry.__all__) == public


def test_registry_classes_present_themselves_as_registry() -> None:
    assert registry.Repository.__module__ == registry.Version.__module__ == "fnforge.registry"


def test_registry_errors_share_one_root_with_exit_code_3() -> None:
    errors = [getattr(registry, n) for n in registry.__all__ if isinstance(getattr(registry, n), type)
              and issubclass(getattr(registry, n), registry.RegistryError)]
    assert len(errors) >= 12 and all(e.exit_code == 3 for e in errors)
