"""Sandbox benchmarks (issue 3): run ``python bench/sandbox.py``; prints each figure.

1. warm call of a small function: median and p99 over 1,000 calls (targets <= 2 ms / <= 10 ms);
2. guarded runtime vs plain ``exec`` of the same function, in process (a loop run by
   ``run_code`` inside a worker, against the same loop ``exec``'d here);
3. cold start of a worker with sympy and numpy, and the next call once it is warm;
4. a timed-out call: reported within timeout + 0.5 s, and the replacement serves the next call.

Uses only the public API.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from dataclasses import dataclass

from fnforge.sandbox import Sandbox, SandboxPolicy, SandboxTimeout

SMALL = '''
def summarize(rows):
    """Sum, mean and the largest row of a small table."""
    total = 0
    best = None
    for name, value in rows:
        total += value
        if best is None or value > best[1]:
            best = (name, value)
    return {"total": total, "mean": total / len(rows), "best": best[0]}
'''
ROWS = [["a", 3], ["b", 7], ["c", 5], ["d", 1]]
LOOP = 20_000


@dataclass(frozen=True)
class _Function:
    name: str
    code: str


class _Set:
    """A one-function set (duck-typed ``functions.FunctionSet``)."""

    def __init__(self, name: str, code: str) -> None:
        self.function = _Function(name, code)
        self.tree_hash = hashlib.sha1(code.encode()).hexdigest()

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([self.function])

    def __contains__(self, name: object) -> bool:
        return name == self.function.name


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def warm_calls(sb: Sandbox, fs: _Set) -> None:
    for _ in range(50):
        sb.call(fs, "summarize", {"rows": ROWS})
    samples = []
    for _ in range(1_000):
        started = time.perf_counter()
        sb.call(fs, "summarize", {"rows": ROWS})
        samples.append(time.perf_counter() - started)
    median, p99 = statistics.median(samples) * 1e3, percentile(samples, 0.99) * 1e3
    print(f"warm call, 1000 calls:        median {median:.3f} ms (target <= 2)   p99 {p99:.3f} ms (target <= 10)")


def guard_overhead(sb: Sandbox, fs: _Set) -> None:
    loop = f"for i in range({LOOP}):\n    summarize({ROWS!r})\n"
    empty = sb.run_code(fs, "0").duration_s
    guarded = min(sb.run_code(fs, loop).duration_s for _ in range(5)) - empty
    namespace: dict[str, object] = {}
    exec(SMALL, namespace)  # noqa: S102 - trusted benchmark code
    plain = min(_timed(lambda: exec(loop, namespace)) for _ in range(5))  # noqa: S102
    print(f"guarded runtime vs plain exec: {guarded / LOOP * 1e6:.2f} us vs {plain / LOOP * 1e6:.2f} us "
          f"per call = {guarded / plain:.1f}x")


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cold_start(policy: SandboxPolicy, fs: _Set) -> None:
    started = time.perf_counter()
    with Sandbox(policy, workers=1, spares=0) as sb:
        sb.call(fs, "summarize", {"rows": ROWS})
        first = time.perf_counter() - started
        second = sb.call(fs, "summarize", {"rows": ROWS}).duration_s
        layers = ", ".join(f"{k}={v}" for k, v in sb.isolation.items())
    print(f"cold start (numpy + sympy):    first call {first * 1e3:.0f} ms; next call {second * 1e3:.3f} ms")
    print(f"isolation:                     {layers}")


def timeout_and_replacement(policy: SandboxPolicy, fs: _Set) -> None:
    loop = _Set("spin", "def spin():\n    while True:\n        pass\n")
    with Sandbox(policy, workers=1, spares=1) as sb:
        sb.call(fs, "summarize", {"rows": ROWS})
        sb.isolation  # the spare is warm once the first worker answered; wait a little more
        time.sleep(1.0)
        started = time.perf_counter()
        try:
            sb.call(loop, "spin")
        except SandboxTimeout:
            reported = time.perf_counter() - started
        else:  # pragma: no cover - the loop never returns
            raise SystemExit("the infinite loop returned")
        started = time.perf_counter()
        value = sb.call(fs, "summarize", {"rows": ROWS}).value
        replacement = time.perf_counter() - started
    verdict = "ok" if reported <= policy.timeout_s + 0.5 else "TOO SLOW"
    print(f"timed-out call:                reported after {reported:.3f} s (limit {policy.timeout_s:g} s "
          f"+ 0.5 s: {verdict})")
    print(f"replacement worker:            next call {replacement * 1e3:.1f} ms, value {value}")


def main() -> None:
    policy = SandboxPolicy()
    fs = _Set("summarize", SMALL)
    with Sandbox(policy, workers=2, spares=1) as sb:
        warm_calls(sb, fs)
        guard_overhead(sb, fs)
    cold_start(policy, fs)
    timeout_and_replacement(policy, fs)


if __name__ == "__main__":
    main()
