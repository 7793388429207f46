"""Speed as the user sees it (issue 18): the installed ``fnforge`` driven as a subprocess.

    python bench/cli.py [--tasks 192] [--latency 0.5] [--concurrency 8,32,64,128] [--task math:algebra]

The scripted OpenAI-compatible server (``tests/llm_server``) runs in a thread
of this process and timestamps each request's arrival and reply; ``fnforge
eval`` and ``fnforge train`` run as child processes of a toolset made with
``fnforge init``. Each task takes one turn: the model answers at once with the
task's reference answer (so the real scorer judges a real answer).

Printed, in one run:

1. ``--help`` start-up: ``fnforge --help`` and ``fnforge eval --help`` next to
   ``python -c "import click"`` (median wall and CPU time of several runs).
2. For ``fnforge eval --no-cache`` and ``fnforge train --max-steps 0 --test 0``
   (the initial evaluation only) at each concurrency c, ``--latency`` seconds
   per request: process start -> first request; the evaluation phase (first
   request -> last reply) against the ideal ceil(tasks / c) x latency; last
   reply -> process exit; the whole command against the same ideal; the
   CPU time of the fnforge process.
3. Client CPU per task at zero latency: the fnforge process's CPU time for
   ``--tasks`` tasks less that of a run of ``--small`` tasks, per extra task
   (start-up excluded), and the whole run's CPU per task (start-up included).

CPU times are those of the fnforge process itself (read from /proc when it
has exited, before it is reaped), not of its sandbox or scoring workers.
The machine's load average is printed with the figures: other processes
slow wall times, not CPU times. Linux only. Exit status 1 when a target is
missed (the figures are printed either way).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.llm_server, the scripted LLM

from fnforge.tasks import make_splits  # noqa: E402
from tests.llm_server import Request, ScriptedLLM, reply_text  # noqa: E402

TARGETS = {"help_s": 0.3, "first_request_s": 1.2, "phase_ratio": 1.2, "whole_ratio": 1.5, "exit_s": 0.3,
           "cpu_ms": 3.0}
TARGET_C = 64
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    """One fnforge command as seen from outside."""

    start_to_first: float
    phase: float
    last_to_exit: float
    whole: float
    cpu_s: float
    requests: int


def fnforge_command() -> str:
    """The installed ``fnforge`` beside this interpreter, else the one on PATH."""
    here = Path(sys.executable).parent / "fnforge"
    found = str(here) if here.exists() else shutil.which("fnforge")
    if found is None:
        raise SystemExit("no installed fnforge: pip install -e . first")
    return found


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """(started, exited, CPU seconds of the process itself, exit status) of one command.

    The process is waited for without being reaped (``WNOWAIT``), so its final
    CPU times can be read from ``/proc/<pid>/stat`` before it disappears.
    """
    started = time.time()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    exited = time.time()
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime of the process itself
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return started, exited, cpu, proc.returncode


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``argv`` over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, exited, cpu, _ = run_measured(argv, env)
        walls.append(exited - started)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def drive(server: ScriptedLLM, argv: list[str], env: dict[str, str]) -> Run:
    server.reset()
    started, exited, cpu, _ = run_measured(argv, env)
    times = server.timings
    if not times or any(replied is None for _, replied in times):
        raise SystemExit(f"{' '.join(argv[1:4])}: {len(times)} requests, some without a reply")
    first = min(arrived for arrived, _ in times)
    last = max(replied for _, replied in times if replied is not None)
    return Run(start_to_first=first - started, phase=last - first, last_to_exit=exited - last,
               whole=exited - started, cpu_s=cpu, requests=len(times))


def answers_by_question(task: str, n: int, data_dir: Path | None) -> dict[str, str]:
    splits = make_splits(task, n_train=n, n_test=n, seed=0, data_dir=data_dir)
    return {t.question: t.answer for t in (*splits.train.tasks, *splits.test.tasks)}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=192)
    parser.add_argument("--small", type=int, default=16, help="tasks of the run subtracted for CPU per task")
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", default="8,32,64,128")
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
    ok = True

    print(f"bench/cli.py: {args.tasks} one-turn {args.task} tasks, {load()}")
    click_s, click_cpu = timed([sys.executable, "-c", "import click"], env, args.repeat)
    print(f"start-up (median of {args.repeat}; wall / CPU):")
    print(f"  python -c 'import click'   {click_s:.3f} s / {click_cpu:.3f} s")
    for argv in ([fnforge, "--help"], [fnforge, "eval", "--help"], [fnforge, "train", "--help"]):
        wall, cpu = timed(argv, env, args.repeat)
        met = wall <= TARGETS["help_s"]
        ok &= met
        print(f"  {' '.join(['fnforge', *argv[1:]]):<26} {wall:.3f} s / {cpu:.3f} s = {wall / click_s:.1f}x click "
              f"(target <= {TARGETS['help_s']} s: {'met' if met else 'MISSED'})")

    answers = answers_by_question(args.task, args.tasks, data)

    def policy(req: Request) -> str:
        return f"The answer is \\boxed{{{answers.get(req.question, '0')}}}."

    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(policy, latency_s=args.latency) as server:
        subprocess.run([fnforge, "init", str(Path(tmp) / "ts"), "--task", args.task, "--model", "scripted-model"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        common = ["--base-url", server.base_url, "--no-cache"] + (["--data", str(data)] if data else [])
        base = [fnforge, "-C", str(Path(tmp) / "ts")]

        def eval_argv(n: int, c: int) -> list[str]:
            return [*base, "eval", "--split", "test", "--train", "0", "--test", str(n), "--concurrency", str(c),
                    "--max-turns", "1", *common]

        def train_argv(n: int, c: int) -> list[str]:
            return [*base, "train", "--train", str(n), "--test", "0", "--max-steps", "0", "--concurrency", str(c),
                    "--max-turns", "1", *common]

        commands = [("eval", eval_argv)] + ([] if args.no_train else [("train", train_argv)])
        for name, argv_of in commands:
            print(f"fnforge {name}, {args.tasks} tasks, latency {args.latency:g} s ({load()}):")
            print("     c | start->1st req | eval phase vs ideal          | last reply->exit | whole vs ideal  | CPU")
            for c in levels:
                run = drive(server, argv_of(args.tasks, c), env)
                ideal = math.ceil(args.tasks / c) * args.latency
                print(f"  {c:>4} | {run.start_to_first:>12.2f} s | {run.phase:5.2f} s vs {ideal:5.2f} s "
                      f"({run.phase / ideal:4.2f}x) | {run.last_to_exit:>14.2f} s | {run.whole:5.2f} s "
                      f"({run.whole / ideal:4.2f}x) | {run.cpu_s:.2f} s")
                if c == TARGET_C:
                    met = {"first_request_s": run.start_to_first <= TARGETS["first_request_s"],
                           "phase_ratio": run.phase / ideal <= TARGETS["phase_ratio"],
                           "exit_s": run.last_to_exit <= TARGETS["exit_s"],
                           "whole_ratio": run.whole / ideal <= TARGETS["whole_ratio"]}
                    ok &= all(met.values())
                    missed = [k for k, v in met.items() if not v]
                    print(f"         targets at c={c}: start->1st req <= {TARGETS['first_request_s']} s, phase <= "
                          f"{TARGETS['phase_ratio']}x, exit <= {TARGETS['exit_s']} s, whole <= "
                          f"{TARGETS['whole_ratio']}x: {'met' if not missed else 'MISSED ' + ', '.join(missed)}")

        server.latency_s = 0.0
        c = 32
        big = drive(server, eval_argv(args.tasks, c), env)
        small = drive(server, eval_argv(args.small, c), env)
        per_task = (big.cpu_s - small.cpu_s) / (args.tasks - args.small) * 1000
        met = per_task <= TARGETS["cpu_ms"]
        ok &= met
        print(f"client CPU per one-turn task at zero latency, c={c} ({load()}):")
        print(f"  {args.tasks} tasks {big.cpu_s:.2f} s, {args.small} tasks {small.cpu_s:.2f} s: "
              f"{per_task:.2f} ms per task without start-up (target <= {TARGETS['cpu_ms']} ms: "
              f"{'met' if met else 'MISSED'}); {big.cpu_s / args.tasks * 1000:.1f} ms with start-up")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
