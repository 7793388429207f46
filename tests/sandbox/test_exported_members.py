"""The public surface of ``sandbox`` cannot drift silently."""

from __future__ import annotations

import types

from fnforge import sandbox
from fnforge.functions import FnforgeError

LAYERS = {"boundary", "gate", "runtime", "worker"}


def test_all_is_sorted_and_lists_every_public_name() -> None:
    public = sorted(n for n, v in vars(sandbox).items()
                    if not n.startswith("_") and n != "annotations" and not isinstance(v, types.ModuleType))
    assert sandbox.__all__ == sorted(sandbox.__all__) == public


def test_layers_are_the_only_subpackages() -> None:
    subpackages = {n for n, v in vars(sandbox).items() if isinstance(v, types.ModuleType) and hasattr(v, "__path__")}
    assert subpackages == LAYERS


def test_exports_present_themselves_as_sandbox_members() -> None:
    assert {getattr(sandbox, n).__module__ for n in sandbox.__all__} == {"fnforge.sandbox"}


def test_every_call_error_is_a_sandbox_error_with_exit_code_4() -> None:
    errors = [getattr(sandbox, n) for n in sandbox.__all__ if n.endswith(("Error", "Timeout", "Violation", "Crash"))
              and n != "SandboxIsolationError"]
    assert len(errors) == 8 and all(issubclass(e, sandbox.SandboxError) and e.exit_code == 4 for e in errors)


def test_isolation_error_is_not_a_call_error_so_call_handlers_do_not_swallow_it() -> None:
    error = sandbox.SandboxIsolationError
    assert not issubclass(error, sandbox.SandboxError) and issubclass(error, FnforgeError) and error.exit_code == 4
