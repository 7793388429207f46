"""What a worker's reply means to the caller: a CallResult, a typed SandboxError, or a protocol error.

A reply is untrusted: a worker whose guards fell can write anything to its
pipe. So every field is checked for its type before it is believed, and a
reply that does not fit is a :class:`ProtocolError` (the pool then kills the
worker and reports ``SandboxCrash``), never a half-built result. The error
kinds a worker reports map to the exceptions of ``_errors.py``; the limits
in a message (``limit_s``, ``limit_mb``) come from the caller's policy, not
from the reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any  # Any: messages as JSON

from fnforge.functions import Problem
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.boundary._errors import (FunctionError, SandboxCheckError, SandboxCrash, SandboxMemoryError,
                                              SandboxTimeout, SandboxViolation, UnknownFunctionError)

__all__ = ["CallResult", "ProtocolError", "error_of", "result_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    """The outcome of a successful call: a JSON-safe value and what the code printed.

    ``truncated`` says the value or the output was cut to the policy's limits;
    ``called`` names the functions of the set that returned during the call
    (the called function itself, the set's functions it called, and those a
    ``run_code`` snippet called), sorted.
    """

    value: Any
    stdout: str
    duration_s: float
    truncated: bool
    called: tuple[str, ...] = ()


class ProtocolError(Exception):
    """A reply that does not fit the protocol; the worker that sent it is never believed again."""


def result_of(reply: dict[str, Any], *, duration_s: float, names: frozenset[str]) -> CallResult:
    """The CallResult of an ``ok`` reply whose ``called`` must name functions in ``names``."""
    stdout, truncated, called = reply.get("stdout", ""), reply.get("truncated", False), reply.get("called", [])
    if not isinstance(stdout, str) or not isinstance(truncated, bool) or not isinstance(called, list):
        raise ProtocolError("a result reply has fields of the wrong type")
    if not all(isinstance(n, str) and n in names for n in called):
        raise ProtocolError("a result reply names functions that are not in the set")
    return CallResult(value=reply.get("value"), stdout=stdout, duration_s=duration_s, truncated=truncated,
                      called=tuple(sorted(set(called))))


def error_of(error: Any, policy: SandboxPolicy) -> Exception:
    """The SandboxError an error reply describes."""
    if not isinstance(error, dict) or not isinstance(error.get("kind"), str):
        raise ProtocolError("an error reply has no kind")
    kind = error["kind"]
    if kind == "timeout":
        return SandboxTimeout(policy.timeout_s)
    if kind == "memory":
        return SandboxMemoryError(policy.memory_mb)
    if kind == "check":
        return SandboxCheckError(_text(error, "function"), [_problem(p) for p in _list(error, "problems")])
    if kind == "violation":
        return SandboxViolation(_text(error, "rule"), _text(error, "message"))
    if kind == "function":
        return FunctionError(_text(error, "exc_type"), _text(error, "message"), _text(error, "traceback"),
                             line=_line(error.get("line")))
    if kind == "unknown":
        return UnknownFunctionError(_text(error, "name"), ())
    if kind == "crash":
        return SandboxCrash(_text(error, "message"))
    raise ProtocolError(f"an error reply of unknown kind {kind[:40]!r}")


def _text(error: dict[str, Any], key: str) -> str:
    value = error.get(key, "")
    if not isinstance(value, str):
        raise ProtocolError(f"an error reply's {key} is not text")
    return value


def _list(error: dict[str, Any], key: str) -> list[Any]:
    value = error.get(key, [])
    if not isinstance(value, list):
        raise ProtocolError(f"an error reply's {key} is not a list")
    return value


def _line(value: Any) -> int | None:
    if value is None or (type(value) is int and value >= 0):
        return value
    raise ProtocolError("an error reply's line is not a line number")


def _problem(item: Any) -> Problem:
    if not isinstance(item, dict):
        raise ProtocolError("a check problem is not an object")
    return Problem(rule=_text(item, "rule"), message=_text(item, "message"), line=_line(item.get("line")))
