"""Fixtures for the agents tests: a real sandbox, function sets, client configs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fnforge.agents import LLMConfig
from fnforge.functions import Function, FunctionSet
from fnforge.sandbox import Sandbox, SandboxPolicy
from fnforge.tasks import Task
from tests.llm_server import ScriptedLLM


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One real sandbox (warm workers) shared by every agents test."""
    with Sandbox(SandboxPolicy(), workers=2) as sb:
        yield sb


def make_function(name: str, params: dict[str, str], body: str, description: str = "") -> Function:
    """A learned function ``def name(<params>): <body>`` with a matching schema."""
    schema = {"type": "object", "properties": {p: {"type": t} for p, t in params.items()},
              "required": list(params)}
    code = f"def {name}({', '.join(params)}):\n    {body}\n"
    return Function(name=name, description=description or f"The {name} function.",
                    parameters=schema, code=code)


@pytest.fixture
def solver_set() -> FunctionSet:
    """``solve_linear(a, b)`` returns the root of a*x + b = 0."""
    return FunctionSet((make_function("solve_linear", {"a": "number", "b": "number"},
                                      "return -b / a", "Solve a*x + b = 0 for x."),))


def linear_task(a: int, b: int, index: int = 0) -> Task:
    root = -b / a
    return Task(id=f"lin-{index}", question=f"Solve {a}*x + {b} = 0 for x.",
                answer=str(root), domain="test:linear")


def linear_args(question: str) -> dict[str, Any]:
    """The policy side of ``linear_task``: read a and b back from the question."""
    import re

    a, b = re.findall(r"-?\d+", question)[:2]
    return {"a": int(a), "b": int(b)}


@pytest.fixture
def make_config(llm_server: ScriptedLLM) -> Callable[..., LLMConfig]:
    """``make_config(**overrides)``: an LLMConfig for the scripted server with fast retries."""

    def make(**overrides: Any) -> LLMConfig:
        values: dict[str, Any] = dict(model="scripted-model", base_url=llm_server.base_url,
                                      backoff_s=0.005, backoff_max_s=0.02, timeout_s=2.0,
                                      max_retries=4, concurrency=16)
        values.update(overrides)
        return LLMConfig(**values)

    return make
