"""Agent throughput and client overhead against the scripted server.

    python bench/agents.py [--tasks 100] [--concurrency 32] [--latency 0.2] [--sequential-sample 10]

1. Throughput: ``--tasks`` tool-agent tasks of 3 LLM turns each (call a learned
   function, call it again, answer), ``--concurrency`` requests in flight, the
   server adding ``--latency`` seconds per request. Printed: wall time vs the
   ideal ceil(tasks / concurrency) x 3 x latency (target <= 1.3x), and the
   speed-up over running the tasks one by one (the reference implementation's
   way). The one-by-one time is measured on ``--sequential-sample`` tasks and
   scaled to all tasks (``--sequential-sample 0`` runs them all).
2. Client overhead: the median wall time of one ``LLMClient.complete`` call
   against a zero-latency server, next to a bare ``http.client`` round trip,
   without and with the response cache (a miss that also writes SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.llm_server, the scripted LLM

from fnforge.agents import AgentConfig, LLMClient, LLMConfig, StopReason, solve  # noqa: E402
from fnforge.functions import Function, FunctionSet  # noqa: E402
from fnforge.sandbox import Sandbox, SandboxPolicy  # noqa: E402
from fnforge.tasks import Task  # noqa: E402
from tests.llm_server import Reply, Request, ScriptedLLM, reply_text, reply_tool_call  # noqa: E402

TURNS = 3
FS = FunctionSet((Function(
    name="solve_linear", description="Solve a*x + b = 0 for x.", packages=(),
    parameters={"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]},
    code="def solve_linear(a, b):\n    return -b / a\n"),))


def three_turns(req: Request) -> Reply:
    """Turns 1 and 2 call solve_linear; turn 3 answers with the last result."""
    if req.turn < TURNS - 1:
        a = len(req.question) % 7 + 1
        return reply_tool_call("solve_linear", {"a": a, "b": req.turn + 1}, call_id=f"c{req.turn}")
    return reply_text(f"\\boxed{{{req.tool_results()[-1]}}}")


def make_tasks(n: int) -> list[Task]:
    return [Task(id=f"bench-{i}", question=f"Problem {i}: " + "x" * i, answer="", domain="bench")
            for i in range(n)]


async def run_batch(base_url: str, tasks: list[Task], sandbox: Sandbox, concurrency: int) -> float:
    config = LLMConfig(model="bench", base_url=base_url, concurrency=concurrency, timeout_s=30)
    agent = AgentConfig(kind="tool", max_turns=TURNS + 1)
    async with LLMClient(config) as client:
        started = time.perf_counter()
        if concurrency == 1:
            trajs = [await solve(agent, FS, t, sandbox, client) for t in tasks]
        else:
            trajs = list(await asyncio.gather(*(solve(agent, FS, t, sandbox, client) for t in tasks)))
        wall = time.perf_counter() - started
    bad = [t.task_id for t in trajs if t.stop is not StopReason.ANSWER or t.turns != TURNS]
    if bad:
        raise SystemExit(f"bench tasks did not finish in {TURNS} turns: {bad[:5]}")
    return wall


async def client_latencies(base_url: str, n: int, cache_path: Path | None) -> list[float]:
    config = LLMConfig(model="bench", base_url=base_url, cache_path=cache_path)
    out = []
    async with LLMClient(config) as client:
        for i in range(n):
            started = time.perf_counter()
            await client.complete([{"role": "user", "content": f"question {i}"}])
            out.append(time.perf_counter() - started)
    return out[10:]  # drop warm-up (connection set-up)


def raw_latencies(base_url: str, n: int) -> list[float]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    out = []
    for i in range(n):
        body = json.dumps({"model": "bench", "messages": [{"role": "user", "content": f"question {i}"}]})
        started = time.perf_counter()
        conn.request("POST", f"{url.path}/chat/completions", body, {"Content-Type": "application/json"})
        conn.getresponse().read()
        out.append(time.perf_counter() - started)
    conn.close()
    return out[10:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--sequential-sample", type=int, default=10)
    parser.add_argument("--requests", type=int, default=300, help="calls for the overhead figure")
    args = parser.parse_args()

    tasks = make_tasks(args.tasks)
    with Sandbox(SandboxPolicy(), workers=2) as sandbox:
        with ScriptedLLM(three_turns, latency_s=args.latency) as server:
            asyncio.run(run_batch(server.base_url, tasks[:2], sandbox, 2))  # warm the sandbox workers
            server.reset()
            wall = asyncio.run(run_batch(server.base_url, tasks, sandbox, args.concurrency))
            requests = server.count
            sample = tasks if args.sequential_sample <= 0 else tasks[: args.sequential_sample]
            seq = asyncio.run(run_batch(server.base_url, sample, sandbox, 1)) * len(tasks) / len(sample)
        ideal = math.ceil(args.tasks / args.concurrency) * TURNS * args.latency
        floor = requests * args.latency / args.concurrency
        print(f"throughput: {args.tasks} tasks x {TURNS} turns, {requests} requests, "
              f"concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms")
        print(f"  wall {wall:.2f} s; ideal ceil({args.tasks}/{args.concurrency}) x {TURNS} x {args.latency:g} s "
              f"= {ideal:.2f} s; work-conserving floor {floor:.2f} s")
        print(f"  wall / ideal = {wall / ideal:.2f}x (target <= 1.3x)")
        how = "measured" if len(sample) == len(tasks) else f"measured on {len(sample)} tasks, scaled"
        print(f"  one by one: {seq:.1f} s ({how}); speed-up = {seq / wall:.1f}x")

    with ScriptedLLM(lambda req: reply_text("\\boxed{1}")) as server:
        raw = raw_latencies(server.base_url, args.requests)
        plain = asyncio.run(client_latencies(server.base_url, args.requests, None))
        with tempfile.TemporaryDirectory() as tmp:
            cached = asyncio.run(client_latencies(server.base_url, args.requests, Path(tmp) / "c.sqlite"))
    med = statistics.median
    print(f"client overhead vs a zero-latency server, median of {len(plain)} sequential calls:")
    print(f"  bare http.client round trip  {med(raw) * 1000:.2f} ms")
    print(f"  LLMClient.complete           {med(plain) * 1000:.2f} ms "
          f"(+{(med(plain) - med(raw)) * 1000:.2f} ms over bare HTTP)")
    print(f"  LLMClient.complete + cache   {med(cached) * 1000:.2f} ms (miss + SQLite write)")


if __name__ == "__main__":
    main()
