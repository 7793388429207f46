"""Speed as the user sees it (issue 18): the installed ``fnforge`` driven as a subprocess.

    python bench/cli.py [--tasks 192] [--latency 0.5] [--concurrency 8,32,64,128] [--runs 3]
                        [--task math:algebra] [--no-train]

The scripted OpenAI-compatible server (``tests/llm_server``) runs in a thread
of this process and timestamps each request's arrival and reply; ``fnforge
eval`` and ``fnforge train`` run as child processes on a toolset made with
``fnforge init``. Each task takes one turn: the model answers at once with the
task's reference answer (so the real scorer judges a real answer).

Printed, in one run:

1. ``--help`` start-up: ``fnforge --help``, ``fnforge eval --help`` and
   ``fnforge train --help`` next to ``python -c "import click"`` (medians of
   ``--repeat`` runs, wall and CPU time).
2. ``fnforge eval --no-cache`` and ``fnforge train --no-cache --max-steps 0
   --test 0`` (the initial evaluation of the training tasks, then the commit,
   note and summary) at each concurrency c, the server taking ``--latency``
   seconds per request; medians of ``--runs`` runs: process start -> first
   request; the evaluation phase (first request -> last reply) against the ideal
   ceil(tasks / c) x latency; last reply -> process exit; the whole command
   against the same ideal; the fnforge process's CPU time.
3. Client CPU per task at zero latency (``fnforge eval`` at c=32): the fnforge
   process's CPU time for ``--tasks`` tasks less that of a run of ``--small``
   tasks, per extra task (start-up excluded), for one-turn tasks without and
   with the caches (a first run: every reply and result written), and for
   three-turn tasks (two ``run_python`` calls, then the answer; the sandbox
   workers' time is not in the figure, the host's side of each call is).

CPU times are those of the fnforge process itself, all its threads (read from
/proc when it has exited, before it is reaped), not of its sandbox or scoring
worker processes. The machine's load average is printed with each block: other
processes slow wall times, hardly CPU times. Linux only. Exit status 1 when a
target is missed (the figures are printed either way).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.llm_server, the scripted LLM

from fnforge.tasks import make_splits  # noqa: E402
from tests.llm_server import Reply, Request, ScriptedLLM, reply_text, reply_tool_call  # noqa: E402

TARGETS = {"help_s": 0.3, "first_request_s": 1.2, "phase_ratio": 1.2, "whole_ratio": 1.5, "exit_s": 0.3,
           "cpu_ms": 3.0}
TARGET_C = 64
CPU_C = 32
_TICKS = os.sysconf("SC_CLK_TCK")

Argv = Callable[[int, int], list[str]]


@dataclass(frozen=True)
class Run:
    """One fnforge command as seen from outside (seconds)."""

    start_to_first: float
    phase: float
    last_to_exit: float
    whole: float
    cpu: float


def fnforge_command() -> str:
    """The installed ``fnforge`` beside this interpreter, else the one on PATH."""
    here = Path(sys.executable).parent / "fnforge"
    found = str(here) if here.exists() else shutil.which("fnforge")
    if found is None:
        raise SystemExit("no installed fnforge: pip install -e . first")
    return found


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(started, exited, CPU seconds of the process itself) of one command; exit on failure.

    The process is waited for without being reaped (``WNOWAIT``), so its final
    CPU times can be read from ``/proc/<pid>/stat`` before it disappears.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.time()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        exited = time.time()
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime of the process (all its threads)
        if proc.wait() != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {errors.read().decode()[-2000:]}")
    return started, exited, cpu


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``argv`` over ``repeat`` runs."""
    runs = [run_measured(argv, env) for _ in range(repeat)]
    return statistics.median(e - s for s, e, _ in runs), statistics.median(c for _, _, c in runs)


def drive(server: ScriptedLLM, argv: list[str], env: dict[str, str]) -> Run:
    server.reset()
    started, exited, cpu = run_measured(argv, env)
    times = server.timings
    replies = [replied for _, replied in times if replied is not None]
    if not times or len(replies) != len(times):
        raise SystemExit(f"{' '.join(argv[1:5])}: {len(times)} requests, {len(replies)} replies")
    first, last = min(arrived for arrived, _ in times), max(replies)
    return Run(start_to_first=first - started, phase=last - first, last_to_exit=exited - last,
               whole=exited - started, cpu=cpu)


def median_run(runs: Sequence[Run]) -> Run:
    return Run(*(statistics.median(getattr(r, f) for r in runs) for f in Run.__dataclass_fields__))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def mark(met: bool) -> str:
    return "met" if met else "MISSED"


def help_startup(fnforge: str, env: dict[str, str], repeat: int) -> bool:
    click_s, click_cpu = timed([sys.executable, "-c", "import click"], env, repeat)
    print(f"start-up, median of {repeat} ({load()}); wall / CPU:")
    print(f"  python -c 'import click'   {click_s:.3f} s / {click_cpu:.3f} s")
    ok = True
    for args in (["--help"], ["eval", "--help"], ["train", "--help"]):
        wall, cpu = timed([fnforge, *args], env, repeat)
        ok &= wall <= TARGETS["help_s"]
        print(f"  {' '.join(['fnforge', *args]):<26} {wall:.3f} s / {cpu:.3f} s = {wall / click_s:.1f}x click "
              f"(target <= {TARGETS['help_s']} s: {mark(wall <= TARGETS['help_s'])})")
    return ok


def table(name: str, server: ScriptedLLM, argv_of: Argv, env: dict[str, str], *, tasks: int, latency: float,
          levels: Sequence[int], runs: int) -> bool:
    print(f"fnforge {name}, {tasks} one-turn tasks, latency {latency:g} s, median of {runs} runs ({load()}):")
    print("     c | start -> 1st request | eval phase vs ideal         | last reply -> exit | "
          "whole vs ideal     | CPU")
    ok = True
    for c in levels:
        run = median_run([drive(server, argv_of(tasks, c), env) for _ in range(runs)])
        ideal = math.ceil(tasks / c) * latency
        print(f"  {c:>4} | {run.start_to_first:>18.2f} s | {run.phase:5.2f} s vs {ideal:5.2f} s ({run.phase / ideal:4.2f}x) "
              f"| {run.last_to_exit:>16.2f} s | {run.whole:5.2f} s ({run.whole / ideal:4.2f}x) | {run.cpu:.2f} s")
        if c == TARGET_C:
            met = {f"start -> 1st request <= {TARGETS['first_request_s']} s":
                   run.start_to_first <= TARGETS["first_request_s"],
                   f"phase <= {TARGETS['phase_ratio']}x": run.phase / ideal <= TARGETS["phase_ratio"],
                   f"exit <= {TARGETS['exit_s']} s": run.last_to_exit <= TARGETS["exit_s"],
                   f"whole <= {TARGETS['whole_ratio']}x": run.whole / ideal <= TARGETS["whole_ratio"]}
            ok &= all(met.values())
            print("         at c=64: " + "; ".join(f"{k}: {mark(v)}" for k, v in met.items()))
    return ok


def cpu_per_task(server: ScriptedLLM, argv_of: Argv, env: dict[str, str], *, tasks: int, small: int,
                 label: str, target: bool) -> bool:
    big, few = drive(server, argv_of(tasks, CPU_C), env), drive(server, argv_of(small, CPU_C), env)
    per_task = (big.cpu - few.cpu) / (tasks - small) * 1000
    verdict = f" (target <= {TARGETS['cpu_ms']} ms: {mark(per_task <= TARGETS['cpu_ms'])})" if target else ""
    print(f"  {label:<44} {per_task:5.2f} ms per task{verdict}; {big.cpu / tasks * 1000:5.1f} ms with start-up "
          f"({tasks} tasks {big.cpu:.2f} s, {small} tasks {few.cpu:.2f} s)")
    return per_task <= TARGETS["cpu_ms"] or not target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=192)
    parser.add_argument("--small", type=int, default=16, help="tasks of the run subtracted for CPU per task")
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", default="8,32,64,128")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command and concurrency (median)")
    parser.add_argument("--task", default="math:algebra")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="data folder (default ../shared/data; the built-in slice when absent)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each --help measure")
    parser.add_argument("--no-train", action="store_true", help="measure fnforge eval only")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    data = args.data if args.data.is_dir() else None
    fnforge = fnforge_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FNFORGE_"))}

    print(f"bench/cli.py: {fnforge}, {args.task}, {load()}")
    ok = help_startup(fnforge, env, args.repeat)

    splits = make_splits(args.task, n_train=args.tasks, n_test=args.tasks, seed=0, data_dir=data)
    answers = {t.question: t.answer for t in (*splits.train.tasks, *splits.test.tasks)}
    turns = {"n": 1}

    def policy(req: Request) -> Reply:
        if req.turn < turns["n"] - 1:
            return reply_tool_call("run_python", {"code": f"print({req.turn} + 1)"}, call_id=f"c{req.turn}")
        return reply_text(f"The answer is \\boxed{{{answers.get(req.question, '0')}}}.")

    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(policy, latency_s=args.latency) as server:
        toolset = Path(tmp) / "toolset"
        subprocess.run([fnforge, "init", str(toolset), "--task", args.task, "--model", "scripted-model"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        common = ["--base-url", server.base_url] + (["--data", str(data)] if data else [])

        def eval_argv(n: int, c: int, *flags: str) -> list[str]:
            return [fnforge, "-C", str(toolset), "eval", "--split", "test", "--train", "0", "--test", str(n),
                    "--concurrency", str(c), "--max-turns", "3", *common, *(flags or ("--no-cache",))]

        def train_argv(n: int, c: int) -> list[str]:
            return [fnforge, "-C", str(toolset), "train", "--train", str(n), "--test", "0", "--max-steps", "0",
                    "--concurrency", str(c), "--max-turns", "3", "--no-cache", *common]

        commands: list[tuple[str, Argv]] = [("eval", eval_argv)] + ([] if args.no_train else [("train", train_argv)])
        for name, argv_of in commands:
            ok &= table(name, server, argv_of, env, tasks=args.tasks, latency=args.latency, levels=levels,
                        runs=args.runs)

        server.latency_s = 0.0
        print(f"client CPU per task at zero latency, fnforge eval at c={CPU_C} ({load()}):")
        ok &= cpu_per_task(server, eval_argv, env, tasks=args.tasks, small=args.small,
                           label="one turn, --no-cache", target=True)
        with_cache = Path(tmp) / "toolset-cached"

        def cached_argv(n: int, c: int) -> list[str]:  # a fresh toolset each time: every run writes the caches
            shutil.rmtree(with_cache, ignore_errors=True)
            shutil.copytree(toolset, with_cache)
            return [str(with_cache) if part == str(toolset) else part for part in eval_argv(n, c, "--json")]

        cpu_per_task(server, cached_argv, env, tasks=args.tasks, small=args.small,
                     label="one turn, caches written", target=False)
        turns["n"] = 3
        cpu_per_task(server, eval_argv, env, tasks=args.tasks, small=args.small,
                     label="three turns (two run_python calls), --no-cache", target=False)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
