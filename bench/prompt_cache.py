"""How much of the optimizer prompt a provider's prefix cache can serve, and what a run reports.

    python bench/prompt_cache.py

1. Stable start of the optimizer prompt (issue 15, item 4): two consecutive
   steps with the same List A (the first step's trial was rejected, so the
   failure record grew) on 20 training tasks with 3 tool calls each. Printed:
   the share of the prompt both steps begin with, in the stable-first order,
   against the share the previous order (List B and the failure record before
   the histories) left unchanged: the text up to the failure record.
2. A scripted run of 4 steps (an accepted add, a rejected revision, two
   unchanged) against the scripted server acting as a prefix cache (``prompt_cache=True``: tokens of the longest start an earlier
   request sent). Printed: the share ``fnforge train --dry-run`` expects for
   the optimizer and the share the run's summary reports.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.llm_server, the scripted LLM

from fnforge.agents import AgentConfig  # noqa: E402
from fnforge.functions import Function, FunctionSet  # noqa: E402
from fnforge.optimizer import TrainConfig, build_prompt, plan_run  # noqa: E402
from fnforge.sandbox import Sandbox, SandboxPolicy  # noqa: E402
from tests.llm_server import ScriptedLLM  # noqa: E402
from tests.optimizer.policies import TERMINATE, OptimizerScript, make_report  # noqa: E402
from tests.optimizer.trainer_support import TRAIN, TEST, add_solve, agent_policy, init_repo, revise_buggy, train  # noqa: E402


def _fn(name: str, body: str) -> Function:
    return Function(name=name, description=f"The {name} function.",
                    parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                    code=f"def {name}(x):\n    {body}\n")


def stable_start() -> None:
    best = FunctionSet((_fn("double", "return 2 * x"), _fn("square", "return x * x")))
    report = make_report([i % 3 != 0 for i in range(20)], output_chars=400, calls=3)
    common = dict(best=best, best_score=report.accuracy, report=report, max_actions=3,
                  allowed_modules=("math", "sympy"), budget_tokens=50_000)
    first = build_prompt(failures=(), **common)
    second = build_prompt(failures=[(best.add(_fn("triple", "return 3 * x")), 0.55)], **common)
    shared = len(os.path.commonprefix([first.text, second.text]))
    before = second.text.index("# Conversation histories")  # the old order changed from List B / failures on
    print(f"1. optimizer prompt, 20 tasks, {len(second.text):,} characters (~{second.tokens_estimate:,} tokens):")
    print(f"   start shared by two steps with the same List A: {shared / len(second.text):.0%} "
          f"(stable_chars {second.stable_chars:,}); the previous order: ~{before / len(second.text):.0%}")


async def scripted_run() -> None:
    script = OptimizerScript([[add_solve(), TERMINATE], [revise_buggy(), TERMINATE], [TERMINATE], [TERMINATE]],
                             agent=agent_policy)
    plan = plan_run(FunctionSet(), TRAIN, TEST, AgentConfig(max_turns=4), TrainConfig(max_steps=4))
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(script, prompt_cache=True) as server, \
            Sandbox(SandboxPolicy(), workers=2) as sandbox, init_repo(Path(tmp) / "toolset") as repo:
        summary = await train(repo, server.base_url, sandbox, TrainConfig(max_steps=4, patience=10))
    print(f"2. scripted run, {summary.steps} steps ({summary.rejected} rejected), {len(TRAIN)} train tasks:")
    print(f"   dry run expects {plan.optimizer_step.cached_share:.0%} of optimizer and "
          f"{plan.evaluation_step.cached_share:.0%} of agent prompt tokens cached (starts >= 1024 tokens)")
    print(f"   the run reports {summary.cached_tokens:,} of {summary.prompt_tokens:,} prompt tokens cached "
          f"({summary.cached_share:.0%}; the scripted cache serves starts of any length)")


if __name__ == "__main__":
    stable_start()
    asyncio.run(scripted_run())
