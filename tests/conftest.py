"""Shared pytest fixtures (package-specific ones live in tests/<package>/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm_server import ScriptedLLM


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLM]:
    """A started scripted OpenAI-compatible server on 127.0.0.1 (see tests/llm_server.py).

    Set ``llm_server.policy``, ``llm_server.latency_s`` or ``llm_server.set_faults(...)``
    in the test; point clients at ``llm_server.base_url``.
    """
    with ScriptedLLM() as server:
        yield server
