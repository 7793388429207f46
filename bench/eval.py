"""Cached re-evaluation (issue 5): a set already scored on 1,000 tasks is re-scored from the cache.

    python bench/eval.py [--tasks 1000] [--concurrency 32]

1. First evaluation: ``--tasks`` tool-agent tasks against the scripted server
   (each calls a learned function in the real sandbox, then answers), written
   to a fresh evaluation cache. Printed for scale: wall time and requests.
2. Cached re-evaluation: the same set, tasks, agent and model with a new
   client and a new, never-started sandbox. Printed: seconds (target < 2 s) and
   requests to the server (must be 0), and whether the report is identical.

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.llm_server, the scripted LLM

from fnforge.agents import AgentConfig, LLMClient, LLMConfig  # noqa: E402
from fnforge.functions import Function, FunctionSet  # noqa: E402
from fnforge.optimizer import EvalCache, Report, evaluate  # noqa: E402
from fnforge.sandbox import Sandbox, SandboxPolicy  # noqa: E402
from fnforge.tasks import Task  # noqa: E402
from tests.llm_server import ScriptedLLM, tool_solver  # noqa: E402

TARGET_S = 2.0
FS = FunctionSet((Function(
    name="add",
    description="Add two integers.",
    parameters={"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"]},
    code="def add(a, b):\n    return a + b\n",
),))


def make_tasks(n: int) -> tuple[Task, ...]:
    return tuple(Task(id=f"bench/{i}", question=f"What is {i} + {2 * i}?", answer=str(3 * i), domain="gsm8k")
                 for i in range(n))


def operands(question: str) -> dict[str, int]:
    a, b = question.removeprefix("What is ").removesuffix("?").split(" + ")
    return {"a": int(a), "b": int(b)}


async def run(server: ScriptedLLM, tasks: tuple[Task, ...], cache_path: Path, concurrency: int,
              sandbox: Sandbox) -> Report:
    config = LLMConfig(model="scripted-model", base_url=server.base_url, concurrency=concurrency)
    with EvalCache(cache_path) as cache:
        async with LLMClient(config) as client:
            return await evaluate(FS, tasks, AgentConfig(), client=client, sandbox=sandbox, cache=cache,
                                  concurrency=concurrency)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    tasks = make_tasks(args.tasks)
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(tool_solver("add", operands)) as server:
        cache_path = Path(tmp) / "eval-cache.sqlite"
        with Sandbox(SandboxPolicy(), workers=2) as sandbox:
            started = time.perf_counter()
            first = asyncio.run(run(server, tasks, cache_path, args.concurrency, sandbox))
            first_s, first_requests = time.perf_counter() - started, server.count
        fresh = Sandbox(SandboxPolicy(), workers=2)  # never started: a cached evaluation needs no worker
        try:
            server.reset()
            started = time.perf_counter()
            second = asyncio.run(run(server, tasks, cache_path, args.concurrency, fresh))
            cached_s, cached_requests = time.perf_counter() - started, server.count
        finally:
            fresh.close()
    same = json.dumps(_stable(first)) == json.dumps(_stable(second))
    print(f"first evaluation of {args.tasks} tasks: {first_s:.2f} s, {first_requests} requests, "
          f"accuracy {first.accuracy:.3f}")
    print(f"cached re-evaluation of {args.tasks} tasks: {cached_s:.3f} s (target < {TARGET_S:g} s), "
          f"{cached_requests} requests (must be 0), {second.cached}/{second.n} from cache, "
          f"identical report: {'yes' if same else 'no'}")
    print(f"speed-up: {first_s / cached_s:.0f}x")
    ok = cached_s < TARGET_S and cached_requests == 0 and same and second.cached == second.n
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _stable(report: Report) -> dict[str, object]:
    data = report.to_dict()
    del data["wall_s"], data["cached"]
    return data


if __name__ == "__main__":
    sys.exit(main())
