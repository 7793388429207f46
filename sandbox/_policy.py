"""SandboxPolicy: what untrusted code may import and how much it may use.

The defaults are the strictest useful settings (DESIGN.md §4); loosening
takes an explicit policy, usually from the ``[sandbox]`` table of
``fnforge.toml`` through :meth:`SandboxPolicy.from_dict`.

Every limit has a hard maximum (:data:`MAXIMA`): a policy beyond it is
refused with a ``ValueError``, so no table can ask for a call that runs for
days or a timer the OS cannot set (``timeout_s = 1e9`` once crashed the CLI
with ``OverflowError``). A toolset's table is untrusted too: :meth:`narrowed`
keeps a user's limits wherever the table asks for more, and
:meth:`widening` names what it asked for (the CLI's ``fnforge trust``
decides whether a table may widen).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any  # Any: policy tables (TOML/JSON)

from fnforge.sandbox.runtime._modules import DEFAULT_MODULES, SUPPORTED_MODULES

__all__ = ["MAXIMA", "SandboxPolicy"]

_SCHEMA_VERSION = 1

MAXIMA: dict[str, float] = {
    "timeout_s": 600.0,
    "kill_grace_s": 30.0,
    "memory_mb": 16_384,
    "max_output_chars": 10_000_000,
    "max_result_chars": 16_000_000,
    "max_result_depth": 100,
    "max_source_chars": 1_000_000,
    "max_ast_nodes": 200_000,
    "max_ast_depth": 200,
    "max_calls_per_worker": 1_000_000,
    "max_sets_per_worker": 1_000,
    "max_attachment_bytes": 32 * 1024 * 1024,  # base64 of it stays well under the worker's 64 MiB request cap
}
"""The hard maximum of every limit: no policy may go beyond it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxPolicy:
    """Limits and allow-lists for checking and running untrusted functions.

    Attributes:
        allowed_modules: modules ``import`` may name. Each is served as a
            curated proxy, never the real module. Opt-in extras beyond the
            default: ``random``, ``typing``, ``numpy.linalg``, ``numpy.fft``,
            ``numpy.random``.
        timeout_s: wall-clock limit of one call (soft: raised inside the worker).
        kill_grace_s: after ``timeout_s + kill_grace_s`` the parent kills the
            worker's process group and replaces the worker.
        memory_mb: address-space limit of a worker process.
        max_output_chars: captured ``print`` output kept per call.
        max_result_chars: size of a result's JSON text before it is cut.
        max_result_depth: nesting depth of a result before it is cut.
        max_source_chars, max_ast_nodes, max_ast_depth: static-gate limits.
        max_calls_per_worker: a worker is replaced after this many calls.
        max_sets_per_worker: how many distinct function sets one worker may
            run before it is replaced. Sets that share a worker share every
            library's process-global state (sympy's caches, assumption tables
            and registries), which guards cannot fully police; ``1`` gives
            each set workers of its own, so a hostile set cannot change what
            another set computes.
        max_attachment_bytes: total size of the files one call may be given
            (``Sandbox.call(..., files=...)``); at most 32 MiB, since they cross
            the pipe base64-encoded inside one JSON request.

    Every numeric limit is at most its value in :data:`MAXIMA` (``ValueError`` otherwise).

    Example:
        >>> SandboxPolicy(timeout_s=5.0).to_dict()["timeout_s"]
        5.0
    """

    allowed_modules: tuple[str, ...] = DEFAULT_MODULES
    timeout_s: float = 2.0
    kill_grace_s: float = 1.0
    memory_mb: int = 1024
    max_output_chars: int = 10_000
    max_result_chars: int = 1_000_000
    max_result_depth: int = 20
    max_source_chars: int = 20_000
    max_ast_nodes: int = 5_000
    max_ast_depth: int = 60
    max_calls_per_worker: int = 1_000
    max_sets_per_worker: int = 1
    max_attachment_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        modules = self.allowed_modules
        if isinstance(modules, str) or not all(isinstance(m, str) for m in modules):
            raise TypeError("allowed_modules must be a sequence of module names")
        unknown = sorted(set(modules) - SUPPORTED_MODULES)
        if unknown:
            raise ValueError(
                f"modules without a sandbox proxy: {', '.join(unknown)}; "
                f"supported: {', '.join(sorted(SUPPORTED_MODULES))}"
            )
        for parent in {m.split(".")[0] for m in modules if "." in m}:
            if parent not in modules:
                raise ValueError(f"allowing a submodule of {parent!r} needs {parent!r} too")
        object.__setattr__(self, "allowed_modules", tuple(sorted(set(modules))))
        for field in dataclasses.fields(self):
            if field.name == "allowed_modules":
                continue
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{field.name} must be a number, not {type(value).__name__}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{field.name} must be a positive number, not {value!r}")
            if value > MAXIMA[field.name]:
                raise ValueError(f"{field.name} must be at most {MAXIMA[field.name]:g}, not {value:g}")
            if isinstance(field.default, int) and not isinstance(value, int):
                raise TypeError(f"{field.name} must be an integer, not {value!r}")
            if isinstance(field.default, float):
                object.__setattr__(self, field.name, float(value))
        if self.memory_mb < 256:
            raise ValueError("memory_mb must be at least 256 (numpy and sympy need about 200 MB)")

    def widening(self, base: SandboxPolicy | None = None) -> tuple[str, ...]:
        """What this policy allows beyond ``base`` (the strict default when omitted), one phrase each.

        Example:
            >>> SandboxPolicy(timeout_s=30.0).widening()
            ('timeout_s 30 (instead of 2)',)
        """
        base = base or SandboxPolicy()
        wider = [f"{name} {getattr(self, name):g} (instead of {getattr(base, name):g})"
                 for name in MAXIMA if getattr(self, name) > getattr(base, name)]
        extra = sorted(set(self.allowed_modules) - set(base.allowed_modules))
        if extra:
            wider.append(f"modules {', '.join(extra)}")
        return tuple(wider)

    def narrowed(self, base: SandboxPolicy) -> SandboxPolicy:
        """This policy, but never looser than ``base``: each limit the smaller, modules the intersection.

        Example:
            >>> SandboxPolicy(timeout_s=600.0, memory_mb=512).narrowed(SandboxPolicy()).timeout_s
            2.0
        """
        limits = {name: min(getattr(self, name), getattr(base, name)) for name in MAXIMA}
        modules = tuple(m for m in self.allowed_modules if m in base.allowed_modules)  # parents stay in both
        return SandboxPolicy(allowed_modules=modules, **limits)

    def to_dict(self) -> dict[str, Any]:
        """The policy as a TOML/JSON-safe dict (with ``schema_version``)."""
        data: dict[str, Any] = {"schema_version": _SCHEMA_VERSION}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            data[field.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxPolicy:
        """Build a policy from :meth:`to_dict` output or a ``[sandbox]`` table.

        Missing keys keep their defaults.

        Raises:
            ValueError: an unknown key, a bad value or an unsupported schema version.
            TypeError: a value of the wrong type.
        """
        items = dict(data)
        version = items.pop("schema_version", _SCHEMA_VERSION)
        if version != _SCHEMA_VERSION:
            raise ValueError(f"unsupported sandbox policy schema_version {version!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(items) - names)
        if unknown:
            raise ValueError(f"unknown sandbox settings: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        if "allowed_modules" in items:
            modules = items["allowed_modules"]
            if isinstance(modules, str) or not isinstance(modules, (list, tuple)):
                raise TypeError("allowed_modules must be a list of module names")
            items["allowed_modules"] = tuple(modules)
        return cls(**items)
