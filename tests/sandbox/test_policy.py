"""SandboxPolicy: strict defaults, validation, and the fnforge.toml round trip."""

from __future__ import annotations

import dataclasses

import pytest

from fnforge.sandbox import SandboxPolicy
from fnforge.sandbox._policy import MAXIMA


def test_policy_defaults_are_design_section_4() -> None:
    policy = SandboxPolicy()
    assert policy.allowed_modules == (
        "bisect", "cmath", "collections", "datetime", "decimal", "fractions", "functools", "heapq",
        "itertools", "json", "math", "numpy", "operator", "re", "statistics", "string", "sympy")
    assert (policy.timeout_s, policy.kill_grace_s, policy.memory_mb) == (2.0, 1.0, 1024)


def test_policy_round_trips_through_a_dict() -> None:
    policy = SandboxPolicy(timeout_s=5, allowed_modules=("math", "numpy", "numpy.linalg"))
    data = policy.to_dict()
    assert data["schema_version"] == 1 and data["allowed_modules"] == ["math", "numpy", "numpy.linalg"]
    assert SandboxPolicy.from_dict(data) == policy


def test_policy_from_a_partial_table_keeps_defaults_and_converts_ints() -> None:
    policy = SandboxPolicy.from_dict({"timeout_s": 5})
    assert policy.timeout_s == 5.0 and isinstance(policy.timeout_s, float)
    assert policy.memory_mb == 1024


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SandboxPolicy().timeout_s = 9  # type: ignore[misc]


@pytest.mark.parametrize(("data", "error", "match"), [
    ({"timeout": 1}, ValueError, "unknown sandbox settings: timeout"),
    ({"schema_version": 2}, ValueError, "schema_version"),
    ({"allowed_modules": ["os"]}, ValueError, "modules without a sandbox proxy: os"),
    ({"allowed_modules": ["numpy.linalg"]}, ValueError, "needs 'numpy' too"),
    ({"allowed_modules": "math"}, TypeError, "list of module names"),
    ({"timeout_s": 0}, ValueError, "positive"),
    ({"timeout_s": float("inf")}, ValueError, "positive"),
    ({"timeout_s": True}, TypeError, "number"),
    ({"memory_mb": 1.5}, TypeError, "integer"),
    ({"memory_mb": 128}, ValueError, "at least 256"),
])
def test_policy_rejects_bad_settings(data: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        SandboxPolicy.from_dict(data)


def test_every_numeric_limit_has_a_hard_maximum() -> None:
    numeric = {f.name for f in dataclasses.fields(SandboxPolicy) if f.name != "allowed_modules"}
    assert set(MAXIMA) == numeric
    assert all(getattr(SandboxPolicy(), name) <= maximum for name, maximum in MAXIMA.items())


@pytest.mark.parametrize("name", sorted(MAXIMA))
def test_policy_rejects_a_limit_beyond_its_hard_maximum(name: str) -> None:
    value = MAXIMA[name] * 10
    with pytest.raises(ValueError, match=f"{name} must be at most"):
        SandboxPolicy.from_dict({name: value if isinstance(getattr(SandboxPolicy(), name), float) else int(value)})


@pytest.mark.parametrize("value", [1e9, 1e6, 10**12])
def test_a_huge_timeout_is_a_value_error_not_an_overflow(value: float) -> None:
    with pytest.raises(ValueError, match="timeout_s must be at most 600"):
        SandboxPolicy(timeout_s=value)


def test_narrowed_keeps_the_smaller_limit_and_the_common_modules() -> None:
    wide = SandboxPolicy(timeout_s=600.0, memory_mb=512, allowed_modules=("math", "random", "numpy", "numpy.linalg"))
    narrowed = wide.narrowed(SandboxPolicy())
    assert (narrowed.timeout_s, narrowed.memory_mb, narrowed.allowed_modules) == (2.0, 512, ("math", "numpy"))


def test_widening_names_each_limit_and_module_beyond_the_base() -> None:
    wide = SandboxPolicy(timeout_s=30.0, kill_grace_s=0.5, allowed_modules=("math", "random"))
    assert wide.widening() == ("timeout_s 30 (instead of 2)", "modules random")
    assert SandboxPolicy().widening() == () and wide.narrowed(SandboxPolicy()).widening() == ()
