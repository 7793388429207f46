"""GAIA attachments end to end: the task's file reaches run_python's ``open`` and the answer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig, StopReason, Trajectory, solve
from fnforge.agents._tools import read_attachments
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import Task, TaskDataError, load_tasks
from tests.llm_server import ScriptedLLM, react_solver, tool_solver

pytestmark = pytest.mark.anyio

Make = Callable[..., LLMConfig]
GAIA = Path(__file__).resolve().parent.parent / "tasks" / "fixtures" / "gaia"
SUM_UNITS = ("rows = open('sales.csv').read().splitlines()[1:]\n"
             "print(sum(int(row.split(',')[1]) for row in rows))")


def gaia_task(folder: Path = GAIA) -> Task:
    """``t-001``: the total of the 'units' column of the attached sales.csv (42)."""
    return load_tasks(f"gaia:{folder}", "test")[0]


async def run(config: LLMConfig, agent: AgentConfig, task: Task, sandbox: Sandbox) -> Trajectory:
    async with LLMClient(config) as client:
        return await solve(agent, FunctionSet(), task, sandbox, client)


async def test_tool_agent_does_answer_from_the_attached_file(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("run_python", lambda q: {"code": SUM_UNITS})
    task = gaia_task()
    traj = await run(make_config(), AgentConfig(kind="tool"), task, sandbox)
    assert [(s.name, s.result) for s in traj.tool_steps] == [("run_python", "42")]
    assert traj.stop is StopReason.ANSWER and traj.answer == "42" == task.answer


async def test_react_agent_does_answer_with_the_attached_file_content(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    code = "print(open('sales.csv', 'rb').read().decode().splitlines()[2])"
    llm_server.policy = react_solver("run_python", lambda q: {"code": code})
    traj = await run(make_config(), AgentConfig(kind="react"), gaia_task(), sandbox)
    assert traj.answer == "south,22"


async def test_agent_does_show_a_missing_file_error_to_the_model_without_attachments(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox) -> None:
    llm_server.policy = tool_solver("run_python", lambda q: {"code": SUM_UNITS})
    task = Task(id="no-file", question="Sum the units.", answer="42", domain="gaia")
    traj = await run(make_config(), AgentConfig(kind="tool"), task, sandbox)
    (step,) = traj.tool_steps
    assert step.error_kind == "function_error" and "FileNotFoundError" in (step.error or "")


async def test_solve_rejects_a_task_whose_attachment_is_gone(
        llm_server: ScriptedLLM, make_config: Make, sandbox: Sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "gaia"
    shutil.copytree(GAIA, folder)
    task = gaia_task(folder)
    (folder / "sales.csv").unlink()
    with pytest.raises(TaskDataError, match="cannot be read"):
        await run(make_config(), AgentConfig(kind="tool"), task, sandbox)
    assert llm_server.requests == []


def test_read_attachments_does_key_files_by_their_name() -> None:
    assert read_attachments(gaia_task(), 1 << 20) == {"sales.csv": (GAIA / "sales.csv").read_bytes()}


def test_read_attachments_rejects_a_file_changed_since_loading(tmp_path: Path) -> None:
    folder = tmp_path / "gaia"
    shutil.copytree(GAIA, folder)
    task = gaia_task(folder)
    (folder / "sales.csv").write_text("region,units\nnorth,1\n")
    with pytest.raises(TaskDataError, match="changed since the task was loaded"):
        read_attachments(task, 1 << 20)


def test_read_attachments_rejects_files_over_the_sandbox_limit() -> None:
    with pytest.raises(TaskDataError, match="max_attachment_bytes"):
        read_attachments(gaia_task(), 10)


def test_read_attachments_rejects_a_hidden_file_name(tmp_path: Path) -> None:
    hidden = tmp_path / ".env"
    hidden.write_bytes(b"x")
    task = Task(id="t", question="q", answer="a", domain="gaia", attachments=(str(hidden),))
    with pytest.raises(TaskDataError, match="plain file name"):
        read_attachments(task, 1 << 20)
