"""The evaluation-cache key: every input that can change a result changes it; nothing else does."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig
from fnforge.functions import FunctionSet
from fnforge.optimizer import cache_key
from fnforge.optimizer import _result_key
from fnforge.optimizer._result_key import KeyMaker, code_identity, source_digest, source_files
from fnforge.sandbox import Sandbox, SandboxPolicy
from fnforge.tasks import Task, load_tasks
from tests.llm_server import ScriptedLLM, reply_error, reply_text
from tests.optimizer.fixtures.eval_kit import DATA_DIR, SOLVE_CODE, solve_equation, with_solver

AGENT = AgentConfig(max_turns=4)
POLICY = SandboxPolicy()


@pytest.fixture(scope="module")
def tasks() -> tuple[Task, ...]:
    return load_tasks("math:algebra", "test", data_dir=DATA_DIR)


def llm(**changes: Any) -> LLMConfig:
    return replace(LLMConfig(model="scripted-model", base_url="http://127.0.0.1:8000/v1"), **changes)


def key(task: Task, *, fs: FunctionSet | None = None, agent: AgentConfig = AGENT, policy: SandboxPolicy = POLICY,
        rollout: int = 0, **llm_changes: Any) -> str:
    return cache_key(fs or with_solver(), task, agent, client=LLMClient(llm(**llm_changes)),
                     sandbox=Sandbox(policy), rollout=rollout).key


@pytest.mark.parametrize("change", [
    {"fs": FunctionSet((solve_equation(SOLVE_CODE.replace("roots[0]", "roots[-1]")),))},
    {"task": 1}, {"rollout": 1},
    {"agent": AgentConfig(max_turns=5)}, {"agent": AgentConfig(max_turns=4, system_prompt="Be brief.")},
    {"agent": AgentConfig(max_turns=4, kind="react")}, {"agent": AgentConfig(max_turns=4, run_python=False)},
    {"model": "other-model"}, {"base_url": "http://127.0.0.1:9000/v1"},
    {"temperature": 0.7}, {"seed": 3}, {"max_tokens": 512}, {"tools_mode": "json"},
    {"policy": SandboxPolicy(timeout_s=9.0)},
], ids=lambda change: next(iter(change)))
def test_cache_key_changes_with_each_input(change: dict[str, Any], tasks: tuple[Task, ...]) -> None:
    task = tasks[change.pop("task", 0)]
    assert key(task, **change) != key(tasks[0])


@pytest.mark.parametrize("change", [{"concurrency": 3}, {"timeout_s": 5.0}, {"max_retries": 0}, {"api_key": "sk-x"},
                                    {"backoff_s": 0.1}])
def test_cache_key_ignores_what_cannot_change_a_result(change: dict[str, Any], tasks: tuple[Task, ...]) -> None:
    assert key(tasks[0], **change) == key(tasks[0])


def test_cache_key_changes_with_the_code_that_runs_and_scores_a_task(tasks: tuple[Task, ...]) -> None:
    client = LLMClient(llm())
    keys = {KeyMaker(with_solver(), AGENT, client, Sandbox(POLICY), 0, code=code).key(tasks[0]).key
            for code in ("code-a", "code-b")}
    assert len(keys) == 2


@pytest.mark.parametrize("library", ["math-verify", "latex2sympy2_extended", "sympy", "numpy", "RestrictedPython"])
def test_code_identity_changes_with_a_library_version(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = code_identity()
    real = _result_key._version
    monkeypatch.setattr(_result_key, "_version", lambda name: "0.0.0-other" if name == library else real(name))
    assert code_identity() != before


@pytest.mark.parametrize("path", ["agents/prompt_tool.txt", "agents/prompt_react.txt", "agents/prompt_json_tools.txt",
                                  "agents/_prompts.py", "agents/_agent.py", "tasks/_extract.py", "tasks/_score.py",
                                  "tasks/_math.py", "runtime/_hooks.py", "functions/_model.py",
                                  "optimizer/_evaluation.py"])
def test_source_files_do_include_the_default_prompts_scorers_and_runtime(path: str) -> None:
    assert path in {f"{f.parent.name}/{f.name}" for f in source_files()}


def test_source_digest_changes_when_a_default_prompt_text_changes(tmp_path: Path) -> None:
    prompt = next(f for f in source_files() if f.name == "prompt_tool.txt")
    copy = tmp_path / "agents" / "prompt_tool.txt"
    copy.parent.mkdir()
    shutil.copy(prompt, copy)
    before = source_digest([copy])
    copy.write_text(copy.read_text() + "\nAlways double-check.\n")
    assert source_digest([copy]) != before


def test_cache_key_follows_the_effective_tools_mode_under_auto(llm_server: ScriptedLLM, tasks: tuple[Task, ...]) -> None:
    llm_server.policy = lambda req: (reply_error(400, "this model does not support tools") if req.tools
                                     else reply_text("ok"))

    async def native_then_switched() -> tuple[str, str]:
        async with LLMClient(LLMConfig(model="m", base_url=llm_server.base_url, tools_mode="auto")) as client:
            maker = KeyMaker(with_solver(), AGENT, client, Sandbox(POLICY), 0)
            before = maker.key(tasks[0]).key
            await client.complete([{"role": "user", "content": "hi"}], tools=[{"type": "function", "function": {
                "name": "f", "parameters": {"type": "object", "properties": {}}}}])
            assert client.stats.json_mode
            return before, maker.key(tasks[0]).key

    before, after = asyncio.run(native_then_switched())
    assert before != after
    assert after == key(tasks[0], base_url=llm_server.base_url, model="m", tools_mode="json")
