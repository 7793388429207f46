"""Shared pieces of the trainer tests: tiny linear-equation tasks, the agent policy, functions, a runner.

The tasks (``fixtures/trainer/math/``) ask ``Solve for $x$: $ax + b = c$.``. The
scripted agent calls ``solve_linear(a, b, c)`` when it is offered and answers
with its real sandboxed result; without it the agent answers ``\\boxed{0}``,
which is right for one training task in four. So the score of a set is decided
by the code of ``solve_linear``, run for real.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fnforge import registry
from fnforge.agents import AgentConfig, LLMClient, LLMConfig
from fnforge.optimizer import EvalCache
from fnforge.optimizer._agent_optimizer import AgentOptimizer
from fnforge.optimizer._live import TrainEvent
from fnforge.optimizer._run_state import RunRecord
from fnforge.optimizer._train_config import TrainConfig
from fnforge.optimizer._summary import RunSummary
from fnforge.optimizer._trainer import Trainer
from fnforge.sandbox import Sandbox
from fnforge.tasks import Task, load_tasks
from tests.llm_server import Request, tool_solver
from tests.optimizer.policies import TERMINATE, add_call, is_optimizer_request, revise_call

FIXTURES = Path(__file__).parent / "fixtures" / "trainer"
TRAIN = load_tasks("math:algebra", "train", data_dir=FIXTURES)[:4]
TRAIN6 = load_tasks("math:algebra", "train", data_dir=FIXTURES)
TEST = load_tasks("math:algebra", "test", data_dir=FIXTURES)

ARGS = {"a": {"type": "number", "description": "coefficient of x"},
        "b": {"type": "number", "description": "constant on the left"},
        "c": {"type": "number", "description": "right-hand side"}}

SOLVE = '''def solve_linear(a, b, c):
    """Solve a*x + b = c for x."""
    x = (c - b) / a
    return int(x) if x == int(x) else x
'''
SOLVE_EQUIVALENT = '''def solve_linear(a, b, c):
    """Solve a*x + b = c for x (same result, other code)."""
    x = (c - b) / a
    if x == int(x):
        return int(x)
    return x
'''
BUGGY = '''def solve_linear(a, b, c):
    """Solve a*x + b = c for x."""
    x = (c + b) / a
    return int(x) if x == int(x) else x
'''
SYNTAX_BROKEN = "def broken(x)\n    return x\n"
FORBIDDEN_IMPORT = "import os\n\ndef list_files(path):\n    return os.listdir(path)\n"

_EQUATION = re.compile(r"\$(-?\d+)x ([+-]) (\d+) = (-?\d+)\$")


def equation_args(question: str) -> dict[str, int]:
    """``a``, ``b``, ``c`` of the question's equation."""
    match = _EQUATION.search(question)
    if match is None:
        raise AssertionError(f"not an equation task: {question!r}")
    a, sign, b, c = match.groups()
    return {"a": int(a), "b": int(b) if sign == "+" else -int(b), "c": int(c)}


agent_policy = tool_solver("solve_linear", equation_args, fallback="0")


def add_solve() -> Any:
    return add_call("solve_linear", SOLVE, arguments=ARGS, description="Solve a*x + b = c for x.",
                    content="Add a solver for linear equations.")


def revise_buggy() -> Any:
    return revise_call("solve_linear", BUGGY, arguments=ARGS, description="Solve a*x + b = c for x.",
                       content="Simplify the solver.")


def section(prompt: str, title: str) -> str:
    """The text of the optimizer prompt's ``# <title>`` section."""
    start = prompt.index(f"# {title}")
    end = prompt.find("\n# ", start + 1)
    return prompt[start:] if end == -1 else prompt[start:end]


def content_policy(req: Request) -> Any:
    """A resume-safe scripted optimizer: its reply depends only on the request's content.

    List A without solve_linear: add it. With it and an empty failure record:
    a buggy revision. Otherwise (or after the step's first turn): TERMINATE.
    """
    if not is_optimizer_request(req):
        return agent_policy(req)
    if req.turn > 0:
        return TERMINATE
    prompt = req.question
    if "## solve_linear" not in section(prompt, "List A"):
        return add_solve()
    if "## Failed set" not in section(prompt, "Failure record"):
        return revise_buggy()
    return TERMINATE


def init_repo(path: Path) -> registry.Repository:
    return registry.init(path, files={"fnforge.toml": b'[fnforge]\ntask = "math:algebra"\n'})


def history(repo: registry.Repository) -> list[tuple[str, str | None, float | None, int | None, str | None]]:
    """(subject, status, score, epoch, step) of every commit after ``init``, oldest first."""
    versions = list(reversed(repo.log()))[1:]
    return [(v.subject, v.status, v.score, v.epoch, v.trailer("Step")) for v in versions]


async def train(repo: registry.Repository, base_url: str, sandbox: Sandbox, config: TrainConfig, *,
                train_tasks: Sequence[Task] = TRAIN, test_tasks: Sequence[Task] = TEST, val_tasks: Sequence[Task] = (),
                events: list[TrainEvent] | None = None, resume: RunRecord | None = None,
                cache: bool = True, llm_cache: bool = False,
                agent: AgentConfig = AgentConfig(max_turns=4)) -> RunSummary:
    """Run (or resume) a Trainer against the scripted server with the real sandbox and registry.

    ``cache``: the evaluation cache; ``llm_cache``: the response cache too (as the CLI has by default).
    """
    sink: Callable[[TrainEvent], None] | None = events.append if events is not None else None
    eval_cache = EvalCache(repo.state_dir / "eval-cache.sqlite") if cache else None
    responses = repo.state_dir / "llm-cache.sqlite" if llm_cache else None
    async with LLMClient(LLMConfig(model="agent-model", base_url=base_url, max_retries=0,
                                   cache_path=responses)) as client, \
            LLMClient(LLMConfig(model="optimizer-model", base_url=base_url, max_retries=0,
                                cache_path=responses)) as opt_client:
        optimizer = AgentOptimizer(opt_client, sandbox, policy=sandbox.policy, max_retries=1)
        trainer = Trainer(repo, train=train_tasks, test=test_tasks, agent=agent, client=client,
                          optimizer=optimizer, sandbox=sandbox, config=config, cache=eval_cache,
                          tasks_label="math:algebra", on_event=sink, val=val_tasks)
        try:
            return await (trainer.resume(resume) if resume is not None else trainer.run())
        finally:
            if eval_cache is not None:
                eval_cache.close()
