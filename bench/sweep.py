"""Sweep overhead: 8 cells against the scripted server, on the local engine and on a local Ray cluster.

    python bench/sweep.py [--latency 0.2] [--seeds 4] [--ray-cpus 2] [--skip-ray]

The grid is the tests' 2 task sets x ``--seeds`` seeds (8 cells by default),
each cell a full ``fnforge train`` run (``--train 4 --test 4 --epochs 1``)
with the server adding ``--latency`` seconds per request. Measured, in this
order, each sweep in a fresh driver process (so its peak memory is its own):

1. every cell alone (the sweep with one cell at a time): the longest single
   cell, the reference (ideal sweep = as long as its longest cell);
2. the local engine, all cells at once: wall time / longest single cell;
3. the Ray engine on ``ray.init(num_cpus=--ray-cpus)`` with each cell
   declaring ``--ray-cpus / cells`` CPUs, so all cells run at once: wall time
   (Ray's start-up not counted, it is printed apart) / longest single cell.

Also printed per engine: wall time / the longest cell *in that sweep* (what
the engine adds around its slowest cell: scheduling, Ray worker start-up).

Printed per engine: the ratio, the driver's peak resident memory (its own
process: cells run in their own processes, or Ray workers). Also printed: the
CPU time the cells used when alone, and the ratio that CPU time allows on this
machine's CPUs (a cell's ``fnforge train`` process and its sandbox workers use
CPU seconds; with many cells on few cores the sweep is CPU-bound, not
LLM-bound), and the load average (other work on the machine slows cells too).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.llm_server and the sweep test support

from fnforge.optimizer import LocalEngine, local_workdir, plan_sweep, run_sweep  # noqa: E402
from tests.llm_server import ScriptedLLM  # noqa: E402
from tests.optimizer import study_support, sweep_support  # noqa: E402


def drive(engine_name: str, base_url: str, seeds: int, parallel: int, ray_cpus: int) -> dict[str, Any]:
    """One sweep in this process; its wall time, its cells' times and this driver's peak memory."""
    with tempfile.TemporaryDirectory(prefix="fnforge-bench-sweep-") as tmp, \
            sweep_support.make_toolset(Path(tmp) / "toolset") as repo:
        record = plan_sweep(repo, sweep_support.grid(seeds=tuple(range(seeds))), name="bench", retries=0)
        init_s = 0.0
        if engine_name == "ray":
            import ray

            from fnforge.optimizer import RayEngine

            started = time.monotonic()
            ray.init(num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
            init_s = time.monotonic() - started
            engine: Any = RayEngine(cell_cpus=ray_cpus / parallel, slots=parallel)
            workdir = Path(tmp) / "workers"
        else:
            engine, workdir = LocalEngine(parallel), local_workdir(repo, record)
        started = time.monotonic()
        try:
            record = run_sweep(repo, record, engine, workdir=workdir, env=sweep_support.env_for(base_url))
        finally:
            engine.close()
        wall = time.monotonic() - started
        if engine_name == "ray":
            ray.shutdown()
    failed = [c.name for c in record.cells if c.status.value != "done"]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the cells' train processes (local engine)
    return {"wall_s": wall, "cells_s": [c.wall_s for c in record.cells], "failed": failed, "init_s": init_s,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cells_cpu_s": children.ru_utime + children.ru_stime}


def child(engine: str, base_url: str, args: argparse.Namespace, parallel: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--drive", engine, "--base-url", base_url, "--seeds", str(args.seeds),
            "--parallel", str(parallel), "--ray-cpus", str(args.ray_cpus)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["failed"]:
        raise SystemExit(f"{engine}: cells failed: {result['failed']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--ray-cpus", type=int, default=2)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--drive", choices=["local", "ray"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--parallel", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive, args.base_url, args.seeds, args.parallel, args.ray_cpus)))
        return
    cells = 2 * args.seeds
    with ScriptedLLM(study_support.policy, latency_s=args.latency) as llm:
        alone = child("local", llm.base_url, args, 1)
        longest = max(alone["cells_s"])
        print(f"{cells} cells (2 task sets x {args.seeds} seeds), {args.latency * 1000:.0f} ms per LLM request, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        cpus = len(os.sched_getaffinity(0))
        print(f"one cell at a time: {alone['wall_s']:.1f} s; longest single cell {longest:.1f} s, "
              f"shortest {min(alone['cells_s']):.1f} s; the cells used {alone['cells_cpu_s']:.1f} CPU s, so on "
              f"{cpus} CPUs no engine beats {alone['cells_cpu_s'] / cpus / longest:.2f} x the longest cell")
        runs = [("local", child("local", llm.base_url, args, cells))]
        if not args.skip_ray:
            runs.append(("ray", child("ray", llm.base_url, args, cells)))
        for engine, run in runs:
            extra = f"; ray.init {run['init_s']:.1f} s, not counted" if engine == "ray" else ""
            print(f"{engine:>5} engine, {cells} at once: wall {run['wall_s']:.1f} s = "
                  f"{run['wall_s'] / longest:.2f} x the longest single cell (ideal 1.0); its longest cell in the "
                  f"sweep {max(run['cells_s']):.1f} s (engine overhead {run['wall_s'] / max(run['cells_s']):.2f} x); "
                  f"driver peak RSS {run['peak_rss_mib']:.0f} MiB{extra}")


if __name__ == "__main__":
    main()
