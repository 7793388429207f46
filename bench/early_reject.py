"""Early rejection: agent requests of one training run with and without it, the same decisions, one run.

    python bench/early_reject.py [--tasks 100] [--concurrency 32] [--latency 0.2] [--worse 4]

A scripted optimizer first adds a correct ``solve_linear`` (accepted: every
task right), then proposes ``--worse`` clearly worse revisions (each wrong on
about nine tasks in ten, each a different tree so no cache serves it). The
same run is trained twice, each in a fresh toolset with fresh caches: with
early rejection (the default) and with ``--no-early-reject``. Printed:

1. agent requests per run, both ways, and the saving (target >= 30%);
2. both accept/reject sequences (must be identical);
3. the accepted step's wall time against its critical path
   (2 optimizer requests + ceil(tasks / concurrency) x 2 agent requests, each
   ``--latency``): the epoch wall-time ratio (target <= 1.3).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.llm_server, the scripted LLM

from fnforge import registry  # noqa: E402
from fnforge.agents import AgentConfig, LLMClient, LLMConfig  # noqa: E402
from fnforge.optimizer import (  # noqa: E402
    AgentOptimizer, EvalCache, TrainConfig, Trainer,
)
from fnforge.sandbox import Sandbox, SandboxPolicy  # noqa: E402
from tests.llm_server import ScriptedLLM  # noqa: E402
from tests.optimizer.policies import TERMINATE, OptimizerScript, revise_call  # noqa: E402
from tests.optimizer.trainer_support import ARGS, add_solve, agent_policy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import StepTimer, make_tasks  # noqa: E402


def worse(k: int) -> Any:
    """A revision wrong wherever b != 0 (a sign slip), shifted by ``k`` so each is its own tree."""
    code = (f"def solve_linear(a, b, c):\n    \"\"\"Solve a*x + b = c for x.\"\"\"\n"
            f"    x = (c + b) / a + {k} * (b != 0)\n    return int(x) if x == int(x) else x\n")
    return revise_call("solve_linear", code, arguments=ARGS, description="Solve a*x + b = c for x.")


async def one_run(n: int, concurrency: int, latency: float, n_worse: int, early: bool) -> dict[str, Any]:
    steps = [[add_solve(), TERMINATE], *([worse(k), TERMINATE] for k in range(n_worse))]
    script = OptimizerScript(steps, agent=agent_policy)
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(script, latency_s=latency) as llm, \
            Sandbox(SandboxPolicy(), workers=8) as sandbox:
        repo = registry.init(Path(tmp) / "toolset", files={"fnforge.toml": b"[fnforge]\n"})
        cache = EvalCache(repo.state_dir / "eval-cache.sqlite")
        on_event = StepTimer()

        config = LLMConfig(model="bench-model", base_url=llm.base_url, concurrency=concurrency)
        train = TrainConfig(max_steps=1 + n_worse, concurrency=concurrency, patience=n_worse + 1,
                            early_reject=early)
        started = time.perf_counter()
        async with LLMClient(config) as client, LLMClient(config) as optimizer_client:
            optimizer = AgentOptimizer(optimizer_client, sandbox, policy=sandbox.policy)
            trainer = Trainer(repo, train=make_tasks(n), test=(), agent=AgentConfig(max_turns=4), client=client,
                              optimizer=optimizer, sandbox=sandbox, cache=cache, on_event=on_event, config=train)
            await trainer.run()
        wall = time.perf_counter() - started
        decisions = [str(v.status) for v in reversed(repo.log()) if v.status in ("accepted", "rejected")]
        partial = [v.trailer("Partial") or "-" for v in reversed(repo.log()) if v.status == "rejected"]
        cache.close()
        repo.close()
        return {"agent": llm.count - len(script.requests), "decisions": decisions, "partial": partial,
                "epoch": on_event.seconds(1), "wall": wall}


async def bench(n: int, concurrency: int, latency: float, n_worse: int) -> None:
    early = await one_run(n, concurrency, latency, n_worse, early=True)
    full = await one_run(n, concurrency, latency, n_worse, early=False)
    saved = 1 - early["agent"] / full["agent"]
    print(f"{n} tasks, concurrency {concurrency}, latency {latency * 1000:.0f} ms; 1 good trial, {n_worse} worse")
    print(f"agent requests per run: {early['agent']} with early rejection, {full['agent']} without "
          f"-> {saved:.0%} fewer (target >= 30%)")
    print(f"decisions with early rejection: {' '.join(early['decisions'])}  (Partial: {', '.join(early['partial'])})")
    print(f"decisions without:              {' '.join(full['decisions'])}")
    print(f"same decisions: {early['decisions'] == full['decisions']}")
    ideal = 2 * latency + math.ceil(n / concurrency) * 2 * latency
    print(f"accepted step (epoch 1): {early['epoch']:.2f} s vs critical path {ideal:.2f} s -> ratio "
          f"{early['epoch'] / ideal:.2f} (target <= 1.3)")
    print(f"run wall time: {early['wall']:.2f} s with early rejection, {full['wall']:.2f} s without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--worse", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(bench(args.tasks, args.concurrency, args.latency, args.worse))


if __name__ == "__main__":
    main()
