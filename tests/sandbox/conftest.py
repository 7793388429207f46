"""Shared fixtures: one warm Sandbox per session and a function-set stand-in.

``RawSet`` duck-types ``functions.FunctionSet`` without its validation, so the
sandbox is tested as the last line of defence: a hostile shared repository
can hand it any source at all.

On a host that cannot provide a core OS layer, the session's sandboxes fall
back to ``require_isolation=False``: the tests of the Python layers still run,
and every test that needs an OS layer skips, naming the layer and the
kernel's reason (:func:`require_layers`).
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fnforge.sandbox import Sandbox, SandboxIsolationError, SandboxPolicy

TEST_POLICY = SandboxPolicy(timeout_s=1.0, kill_grace_s=0.5, max_sets_per_worker=1_000)


@dataclass(frozen=True)
class RawFunction:
    name: str
    code: str


class RawSet:
    """An unvalidated function set: name -> source."""

    def __init__(self, **sources: str) -> None:
        self.functions = {name: RawFunction(name, code) for name, code in sources.items()}
        digest = hashlib.sha1(repr(sorted(sources.items())).encode()).hexdigest()
        self.tree_hash = digest

    def __iter__(self) -> Iterator[RawFunction]:
        return iter(self.functions[n] for n in sorted(self.functions))

    def __contains__(self, name: object) -> bool:
        return name in self.functions

    def __getitem__(self, name: str) -> RawFunction:
        return self.functions[name]


def fn(body: str, *, params: str = "", name: str = "f", header: str = "") -> str:
    """Module source defining ``def <name>(<params>)`` with ``body`` indented under it."""
    inner = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    top = textwrap.dedent(header).strip("\n")
    return (top + "\n" if top else "") + f"def {name}({params}):\n{inner}\n"


def one(body: str, **kwargs: str) -> RawSet:
    """A set with the single function ``f``."""
    return RawSet(f=fn(body, **kwargs))


def require_layers(sb: Sandbox, *names: str) -> None:
    """Skip the calling test, saying why, when the host cannot provide one of the OS layers ``names``."""
    layers = sb.isolation
    for name in names:
        state = layers.get(name, "off: not reported")
        if not state.startswith("on"):
            pytest.skip(f"this host cannot provide the {name} layer: {state}")


def _session_sandbox(**options: object) -> Iterator[Sandbox]:
    with Sandbox(TEST_POLICY, **options) as sb:  # type: ignore[arg-type]
        try:
            sb.isolation
        except SandboxIsolationError:
            pass  # this host lacks an OS layer: run the guards' tests without it
        else:
            yield sb
            return
    with Sandbox(TEST_POLICY, require_isolation=False, **options) as sb:  # type: ignore[arg-type]
        yield sb


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    yield from _session_sandbox(workers=2, spares=1)


@pytest.fixture(scope="session")
def probe_sandbox() -> Iterator[Sandbox]:
    """Workers that accept raw, unguarded code (every OS layer on, audit hook on)."""
    yield from _session_sandbox(workers=1, spares=1, _probes=True)


@pytest.fixture(scope="session")
def bare_sandbox() -> Iterator[Sandbox]:
    """Raw code with the audit hook only recording: tests the kernel layers beneath it."""
    yield from _session_sandbox(workers=1, spares=1, _probes=True, _audit=False)
