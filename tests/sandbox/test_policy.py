"""SandboxPolicy: strict defaults, validation, and the fnforge.toml round trip."""

from __future__ import annotations

import dataclasses

import pytest

from fnforge.sandbox import SandboxPolicy


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
