"""The benign corpus (``benign_corpus.py``) runs in the sandbox with the same results as plain CPython."""

from __future__ import annotations

import numpy
import pytest
import sympy

from fnforge.sandbox import Sandbox, SandboxPolicy
from fnforge.sandbox.boundary._encoder import Encoder
from tests.sandbox.benign_corpus import CORPUS, POLICY_MODULES, run_corpus
from tests.sandbox.conftest import RawSet


@pytest.fixture(scope="module")
def corpus_sandbox():  # type: ignore[no-untyped-def]
    policy = SandboxPolicy(allowed_modules=SandboxPolicy().allowed_modules + POLICY_MODULES, timeout_s=10.0)
    with Sandbox(policy, workers=1, spares=0) as sb:
        yield sb


def test_corpus_has_a_few_dozen_distinct_functions() -> None:
    names = [item.name for item in CORPUS]
    assert len(set(names)) == len(names) >= 50


def test_every_corpus_function_returns_what_plain_python_returns(corpus_sandbox) -> None:
    encoder = Encoder(max_chars=1_000_000, max_depth=20)
    encoder.bind(numpy=numpy, sympy_basic=sympy.Basic)
    failures = run_corpus(corpus_sandbox, lambda sources: RawSet(**sources), lambda v: encoder.encode(v)[0])
    assert failures == []
