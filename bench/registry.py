"""Registry benchmarks (issue 2): commit latency and log/best over a long branch.

Run: ``python bench/registry.py`` — prints each figure next to its target.

- commit of one update to a 50-function set: median over 100 commits, on the
  checked-out branch (working tree follows) and on another branch;
- ``fnforge log`` and ``best`` over a 5,000-commit branch (built with
  ``git fast-import``): the library call and the whole CLI process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fnforge import registry
from fnforge.functions import Function, FunctionSet, canonical_json

N_FUNCTIONS = 50
N_COMMITS = 100
N_LONG = 5000
COMMIT_TARGET_MS = 50.0
LOG_TARGET_S = 1.5


def make_function(index: int, version: int = 0) -> Function:
    name = f"f{index:02d}"
    return Function(
        name=name,
        description=f"Adds {version} to x (function {index}).",
        parameters={"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
        code=f"def {name}(x):\n    return x + {version}\n",
    )


def bench_commits(root: Path) -> tuple[float, float]:
    repo = registry.init(root / "commits", files={"fnforge.toml": b"[fnforge]\n"})
    function_set = FunctionSet(tuple(make_function(i) for i in range(N_FUNCTIONS)))
    repo.commit(function_set, subject="seed", trailers={"Status": "initial", "Score": 0.1})
    repo.create_branch("domain/other")
    figures = []
    for branch in (None, "domain/other"):
        times = []
        for step in range(N_COMMITS):
            function_set = function_set.revise(make_function(step % N_FUNCTIONS, step + 1))
            started = time.perf_counter()
            repo.commit(
                function_set,
                subject=f"epoch {step}: revise f{step % N_FUNCTIONS:02d}",
                body="The optimizer's rationale.",
                trailers={"Score": (step % 7) / 10, "Split": "train", "Status": "accepted", "Epoch": step},
                branch=branch,
            )
            times.append(time.perf_counter() - started)
        figures.append(statistics.median(times) * 1000)
    repo.close()
    return figures[0], figures[1]


def build_long_branch(path: Path) -> None:
    """A 5,000-commit branch ``long`` on top of ``main``, written by git fast-import."""
    registry.init(path, files={"fnforge.toml": b"[fnforge]\n"}).close()
    chunks: list[bytes] = []

    def data(payload: bytes) -> None:
        chunks.append(b"data %d\n" % len(payload) + payload + b"\n")

    statuses = ("accepted", "rejected", "rollback")
    for n in range(1, N_LONG + 1):
        status = statuses[n % 3]
        message = (
            f"epoch {n}: revise f{n % N_FUNCTIONS:02d}\n\nBecause step {n} failed.\n\n"
            f"Score: {(n * 37 % 1000) / 1000:.4f}\nSplit: train\nStatus: {status}\nEpoch: {n}\nRun: bench\n"
        ).encode()
        chunks.append(b"commit refs/heads/long\nmark :%d\n" % n)
        chunks.append(b"committer fnforge <fnforge@localhost> %d +0000\n" % (1_700_000_000 + n))
        data(message)
        chunks.append(b"from refs/heads/main\n" if n == 1 else b"from :%d\n" % (n - 1))
        touched = range(N_FUNCTIONS) if n == 1 else [n % N_FUNCTIONS]
        for index in touched:
            function = make_function(index, n)
            meta = {"description": function.description, "parameters": function.parameters, "packages": []}
            chunks.append(f"M 100644 inline functions/{function.name}.py\n".encode())
            data(function.code.encode())
            chunks.append(f"M 100644 inline functions/{function.name}.json\n".encode())
            data(canonical_json(meta).encode())
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=b"".join(chunks), cwd=path, check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def cold(path: Path, method: str) -> object:
    """``Repository.<method>("long")`` on a freshly opened repository (nothing parsed in memory yet)."""
    with registry.open(path) as repo:
        return getattr(repo, method)("long")


def cli_seconds(path: Path, *args: str) -> float:
    command = [sys.executable, "-c", "from fnforge.cli import main; main()", "-C", str(path), *args]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checked_out, other = bench_commits(root)
        target = f"(target <= {COMMIT_TARGET_MS:.0f} ms)"
        print(f"commit, 50-function set, checked-out branch: median {checked_out:6.1f} ms  {target}")
        print(f"commit, 50-function set, other branch:       median {other:6.1f} ms  {target}")

        long = root / "long"
        started = time.perf_counter()
        build_long_branch(long)
        print(f"built a {N_LONG}-commit branch with git fast-import in {time.perf_counter() - started:.1f} s")
        with registry.open(long) as repo:
            repo.log("long")  # warm the page cache
            # a fresh Repository each time: one keeps the last histories it parsed in memory
            log_s = min(timed(lambda: cold(long, "log")) for _ in range(3))
            best_s = min(timed(lambda: cold(long, "best")) for _ in range(3))
            versions = repo.log("long")
            best = repo.best("long")
        assert len(versions) == N_LONG + 1 and best is not None
        print(f"repo.log over {N_LONG} commits:   {log_s:5.2f} s  (target <= {LOG_TARGET_S} s)")
        print(f"repo.best over {N_LONG} commits:  {best_s:5.2f} s  (target <= {LOG_TARGET_S} s)")
        for command in ("log", "best"):
            try:
                seconds = min(cli_seconds(long, command, "long") for _ in range(3))
            except subprocess.CalledProcessError as exc:
                print(f"`fnforge {command} long`: the CLI failed (exit {exc.returncode}); see its error above")
                continue
            print(f"`fnforge {command} long` (whole process): {seconds:5.2f} s  (target <= {LOG_TARGET_S} s)")


if __name__ == "__main__":
    main()
