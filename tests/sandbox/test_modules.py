"""The allow-lists, module proxies, guarded import and plain-math validation (in-process units)."""

from __future__ import annotations

import importlib
import types

import pytest

from fnforge.sandbox.runtime._monitor import Monitor, PolicyViolation
from fnforge.sandbox.runtime._modules import DEFAULT_MODULES, DENIED, EXPOSED, SUBMODULES, SUPPORTED_MODULES
from fnforge.sandbox.runtime._proxies import ModuleProxy, make_importer, plain_math


@pytest.mark.parametrize("module", sorted(set(EXPOSED) - {"__future__"}))
def test_every_exposed_name_exists_and_is_not_a_module(module: str) -> None:
    real = importlib.import_module(module)
    missing = sorted(n for n in EXPOSED[module] if not hasattr(real, n))
    modules = sorted(n for n in EXPOSED[module] if isinstance(getattr(real, n, None), types.ModuleType))
    assert (missing, modules) == ([], [])


def test_every_denied_name_is_hidden() -> None:
    exposed = {f"{m}.{n}" for m, names in EXPOSED.items() for n in names}
    assert sorted(set(DENIED) & exposed) == []


def test_default_and_sub_modules_are_supported() -> None:
    subs = {f"{m}.{s}" for m, names in SUBMODULES.items() for s in names}
    assert set(DEFAULT_MODULES) | subs <= SUPPORTED_MODULES


def make_proxy() -> tuple[ModuleProxy, Monitor]:
    import math

    monitor = Monitor()
    return ModuleProxy("math", {"pi": math.pi}, {"sys", "tau"}, monitor.refuse), monitor


def test_proxy_serves_exposed_names() -> None:
    proxy, _ = make_proxy()
    assert proxy.pi > 3


def test_proxy_refuses_a_hidden_name_as_a_recorded_violation() -> None:
    proxy, monitor = make_proxy()
    with pytest.raises(PolicyViolation, match=r"math.sys is not available in the sandbox"):
        proxy.sys
    assert monitor.violation is not None and monitor.violation[0] == "module-attribute"


def test_proxy_missing_name_error_never_points_at_the_real_module() -> None:
    proxy, monitor = make_proxy()
    with pytest.raises(AttributeError) as caught:
        proxy.nothing_here
    assert caught.value.obj is proxy and monitor.violation is None


def test_proxy_is_read_only() -> None:
    proxy, _ = make_proxy()
    with pytest.raises(TypeError, match="read-only"):
        proxy.pi = 3


def test_guarded_import_returns_proxies_only() -> None:
    proxy, monitor = make_proxy()
    importer = make_importer({"math": proxy}, monitor)
    assert importer("math") is proxy and importer("math", None, None, ("pi",), 0) is proxy
    with pytest.raises(PolicyViolation, match="import of 'os' is not allowed; allowed modules: math"):
        importer("os")


def test_guarded_import_refuses_relative_imports() -> None:
    proxy, monitor = make_proxy()
    with pytest.raises(PolicyViolation, match="relative"):
        make_importer({"math": proxy}, monitor)("math", None, None, ("pi",), 1)


def test_guarded_import_serves_imports_made_by_c_code_with_the_real_module() -> None:
    proxy, monitor = make_proxy()
    assert make_importer({"math": proxy}, monitor)("json", {}, {}, [], 0).__name__ == "json"


@pytest.mark.parametrize("text", ["x**2 + 1", "2*x - 3*y_1 >= 4", "sin(pi/2) + sqrt(2)", "[1, 2.5e3]"])
def test_plain_math_accepts_formulas(text: str) -> None:
    assert plain_math(text, Monitor()) == text


@pytest.mark.parametrize("text", ["__import__('os')", "x.__class__", "(1).real", "_x + 1", "a__b",
                                  "lambda: 1", "x; y", "'s'", "x" * 10_001])
def test_plain_math_refuses_code(text: str) -> None:
    with pytest.raises(PolicyViolation):
        plain_math(text, Monitor())
