"""Two tiny task domains for transfer, merge, report and bisect tests, and a scripted server that trains them.

- ``linear``: ``Solve for $x$: $ax + b = c$.``; learned function ``solve_linear(a, b, c)``;
- ``area``: ``What is the area of a rectangle that is W wide and H tall?``; learned ``rect_area(width, height)``.

The scripted agent calls the domain's function when it is offered and answers
with its real sandboxed result; otherwise it answers ``\\boxed{0}``, which is
right for the tasks whose answer is 0 (so the untrained baseline is not zero).
The scripted optimizer adds the function of the domain its prompt is about.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from fnforge import registry
from fnforge.cli import cli
from tests.llm_server import Reply, Request, ScriptedLLM, tool_solver
from tests.optimizer.policies import TERMINATE, add_call, is_optimizer_request
from tests.optimizer.trainer_support import equation_args

LINEAR = [(2, 3, 7), (3, 5, 5), (4, -2, 10), (5, 1, 1), (2, 0, 8), (1, 4, 9), (3, 3, 3), (6, -6, 12)]
AREA = [(3, 4), (0, 7), (5, 5), (2, 9), (0, 3), (6, 1), (4, 4), (7, 0)]

LINEAR_ARGS = {"a": {"type": "number"}, "b": {"type": "number"}, "c": {"type": "number"}}
AREA_ARGS = {"width": {"type": "number"}, "height": {"type": "number"}}
SOLVE = "def solve_linear(a, b, c):\n    x = (c - b) / a\n    return int(x) if x == int(x) else x\n"
SOLVE_BUGGY = "def solve_linear(a, b, c):\n    x = (c + b) / a\n    return int(x) if x == int(x) else x\n"
AREA_CODE = "def rect_area(width, height):\n    return width * height\n"

_RECTANGLE = re.compile(r"(\d+) wide and (\d+) tall")
TRAIN_ARGS = ["--train", "4", "--test", "4", "--seed", "0", "--model", "agent-model", "--concurrency", "2"]


def write_data(folder: Path) -> tuple[Path, Path]:
    """``linear.jsonl`` and ``area.jsonl`` (8 tasks each) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    linear, area = folder / "linear.jsonl", folder / "area.jsonl"
    linear.write_text("".join(json.dumps({
        "id": f"lin{i}", "question": f"Solve for $x$: ${a}x {'+' if b >= 0 else '-'} {abs(b)} = {c}$.",
        "answer": str((c - b) // a)}) + "\n" for i, (a, b, c) in enumerate(LINEAR)))
    area.write_text("".join(json.dumps({
        "id": f"area{i}", "question": f"What is the area of a rectangle that is {w} wide and {h} tall?",
        "answer": str(w * h)}) + "\n" for i, (w, h) in enumerate(AREA)))
    return linear, area


def _area_args(question: str) -> dict[str, int]:
    match = _RECTANGLE.search(question)
    if match is None:
        raise AssertionError(f"not a rectangle: {question!r}")
    return {"width": int(match.group(1)), "height": int(match.group(2))}


_LINEAR_AGENT = tool_solver("solve_linear", equation_args, fallback="0")
_AREA_AGENT = tool_solver("rect_area", _area_args, fallback="0")


def policy(req: Request) -> Reply | str:
    """The whole scripted server: optimizer adds its domain's function; the agent uses it."""
    if is_optimizer_request(req):
        if req.turn > 0:
            return TERMINATE
        if "rectangle" in json.dumps(req.messages):
            return add_call("rect_area", AREA_CODE, arguments=AREA_ARGS, description="Area of a rectangle.")
        return add_call("solve_linear", SOLVE, arguments=LINEAR_ARGS, description="Solve a*x + b = c for x.")
    return (_AREA_AGENT if "rectangle" in req.question else _LINEAR_AGENT)(req)


def env(llm: ScriptedLLM) -> dict[str, str]:
    return {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "", "COLUMNS": "120", "GIT_CONFIG_NOSYSTEM": "1"}


def invoke(llm: ScriptedLLM, path: Path, *args: str) -> Any:
    """``fnforge -C path args...`` in-process; fails the test on a non-zero exit."""
    result = CliRunner().invoke(cli, ["-C", str(path), *args], env=env(llm), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def train_two_domains(path: Path, llm: ScriptedLLM) -> tuple[Path, Path]:
    """A toolset at ``path`` with ``domain/linear`` and ``domain/area`` trained by ``fnforge train``.

    Returns the two task files. Leaves ``main`` checked out.
    """
    linear, area = write_data(path.parent / "data")
    llm.policy = policy
    registry.init(path, files={"fnforge.toml": f'[fnforge]\ntask = "jsonl:{linear}"\n'.encode()}).close()
    for branch in ("domain/linear", "domain/area"):
        invoke(llm, path, "branch", "create", branch, "--from", "main")
    for branch, data in (("domain/linear", linear), ("domain/area", area)):
        with registry.open(path) as repo:
            repo.switch(branch)
        invoke(llm, path, "train", "--task", f"jsonl:{data}", "--epochs", "1", *TRAIN_ARGS)
    with registry.open(path) as repo:
        repo.switch("main")
    return linear, area
