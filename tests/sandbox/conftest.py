"""Shared fixtures: one warm Sandbox per session and a function-set stand-in.

``RawSet`` duck-types ``functions.FunctionSet`` without its validation, so the
sandbox is tested as the last line of defence: a hostile shared repository
can hand it any source at all.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fnforge.sandbox import Sandbox, SandboxPolicy

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


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(TEST_POLICY, workers=2, spares=1) as sb:
        yield sb


@pytest.fixture(scope="session")
def probe_sandbox() -> Iterator[Sandbox]:
    """Workers that accept raw, unguarded code (every OS layer on, audit hook on)."""
    with Sandbox(TEST_POLICY, workers=1, spares=1, _probes=True) as sb:
        yield sb


@pytest.fixture(scope="session")
def bare_sandbox() -> Iterator[Sandbox]:
    """Raw code with the audit hook only recording: tests the kernel layers beneath it."""
    with Sandbox(TEST_POLICY, workers=1, spares=1, _probes=True, _audit=False) as sb:
        yield sb
