"""One training step against the scripted server, and the cost of re-scoring a restored best.

    python bench/train.py [--tasks 100] [--concurrency 32] [--latency 0.2]

1. Step wall time: a Trainer on ``--tasks`` linear-equation tasks, the server
   adding ``--latency`` seconds per request. The initial set is evaluated
   first (not timed); the timed step is one optimizer step (2 sequential
   requests: add ``solve_linear``, then TERMINATE) plus the trial's evaluation
   (2 requests per task: the tool call, then the answer) and its commit.
   Ideal critical path: 2 x latency + ceil(tasks / concurrency) x 2 x latency.
   Printed: measured / ideal (target <= 1.3).
2. Roll-back re-evaluation: a second step revises ``solve_linear`` into a
   buggy one, which is rejected and rolled back; evaluating the restored best
   (the branch's HEAD) again on the training tasks must make 0 LLM requests
   (the evaluation cache keys on the tree hash). Printed: the request count.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.llm_server, the scripted LLM

from fnforge import registry  # noqa: E402
from fnforge.agents import AgentConfig, LLMClient, LLMConfig  # noqa: E402
from fnforge.optimizer import (  # noqa: E402
    AgentOptimizer, EvalCache, PhaseStarted, StepFinished, TrainConfig, Trainer, TrainEvent, evaluate,
)
from fnforge.sandbox import Sandbox, SandboxPolicy  # noqa: E402
from fnforge.tasks import Task  # noqa: E402
from tests.llm_server import ScriptedLLM  # noqa: E402
from tests.optimizer.policies import TERMINATE, OptimizerScript  # noqa: E402
from tests.optimizer.trainer_support import add_solve, agent_policy, revise_buggy  # noqa: E402


def make_tasks(n: int) -> list[Task]:
    tasks = []
    for i in range(n):
        a, x = i % 9 + 1, i % 13 - 6
        b = i % 11 - 5
        sign = "+" if b >= 0 else "-"
        question = f"Solve for $x$: ${a}x {sign} {abs(b)} = {a * x + b}$."
        tasks.append(Task(id=f"bench/{i}", question=question, answer=str(x), domain="math:algebra"))
    return tasks


class StepTimer:
    """A trainer's ``on_event`` sink that times each step from its optimizer request to its end."""

    def __init__(self) -> None:
        self.marks: dict[tuple[int, str], float] = {}

    def __call__(self, event: TrainEvent) -> None:
        if isinstance(event, PhaseStarted) and event.phase.value == "optimize":
            self.marks[(event.step, "start")] = time.perf_counter()
        elif isinstance(event, StepFinished):
            self.marks[(event.record.step, "end")] = time.perf_counter()

    def seconds(self, step: int) -> float:
        return self.marks[(step, "end")] - self.marks[(step, "start")]


async def bench(n: int, concurrency: int, latency: float) -> None:
    tasks = make_tasks(n)
    script = OptimizerScript([[add_solve(), TERMINATE], [revise_buggy(), TERMINATE]], agent=agent_policy)
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(script, latency_s=latency) as llm, \
            Sandbox(SandboxPolicy(), workers=8) as sandbox:
        repo = registry.init(Path(tmp) / "toolset", files={"fnforge.toml": b"[fnforge]\n"})
        cache = EvalCache(repo.state_dir / "eval-cache.sqlite")
        on_event = StepTimer()

        config = LLMConfig(model="bench-model", base_url=llm.base_url, concurrency=concurrency)
        async with LLMClient(config) as client, LLMClient(config) as optimizer_client:
            optimizer = AgentOptimizer(optimizer_client, sandbox, policy=sandbox.policy)
            trainer = Trainer(repo, train=tasks, test=(), agent=AgentConfig(max_turns=4), client=client,
                              optimizer=optimizer, sandbox=sandbox, cache=cache, on_event=on_event,
                              config=TrainConfig(max_steps=2, concurrency=concurrency, patience=10))
            summary = await trainer.run()
            step = on_event.seconds(1)
            ideal = 2 * latency + math.ceil(n / concurrency) * 2 * latency
            print(f"one training step, {n} tasks, latency {latency * 1000:.0f} ms, concurrency {concurrency}: "
                  f"{step:.2f} s vs ideal {ideal:.2f} s -> ratio {step / ideal:.2f} (target <= 1.3)")
            statuses = [v.status for v in reversed(repo.log())][1:]
            print(f"commits: {' -> '.join(str(s) for s in statuses)}; best {summary.best_score:.2f}")
            before = llm.count
            restored = repo.read("HEAD")
            started = time.perf_counter()
            report = await evaluate(restored, tasks, AgentConfig(max_turns=4), client=client, sandbox=sandbox,
                                    cache=cache, concurrency=concurrency)
            elapsed = time.perf_counter() - started
            print(f"re-evaluation of the restored best after roll-back: {llm.count - before} LLM requests, "
                  f"{report.cached}/{report.n} cached, accuracy {report.accuracy:.2f}, {elapsed * 1000:.0f} ms")
        cache.close()
        repo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    asyncio.run(bench(args.tasks, args.concurrency, args.latency))


if __name__ == "__main__":
    main()
