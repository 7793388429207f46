from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fnforge.tasks import ScoringPool, ScoringTimeout, Task, TaskError
from fnforge.tasks._math import prepare_math

from .math_pairs import PAIRS

# One C-level integer power of ~5e9 digits inside sympy: no in-process limit stops it,
# and the pre-parse heuristic (towers, 7-digit exponents) lets it through.
HANGS = "(3^{99999})^{99999}"


def math_task(answer: str) -> Task:
    return Task(id="m", question="?", answer=answer, domain="math")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_dead(pid: int, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.01)
    return not alive(pid)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_computing(pid: int, seconds: float = 0.2) -> None:
    """Return once the worker has spent ``seconds`` of CPU time on its answer (it has the request)."""
    if not Path(f"/proc/{pid}/stat").exists():
        pytest.skip("no /proc to watch the worker's CPU time")
    start = cpu_seconds(pid)
    deadline = time.monotonic() + 120
    while cpu_seconds(pid) - start < seconds:
        assert time.monotonic() < deadline, "the worker never started computing"
        time.sleep(0.01)


def score_in_thread(pool: ScoringPool, answer: str, **limits: float) -> tuple[threading.Thread, list[object]]:
    """Score ``answer`` in a thread; the list receives the verdict or the exception."""
    outcome: list[object] = []

    def work() -> None:
        try:
            outcome.append(pool.score(math_task("2"), answer, **limits))
        except Exception as exc:  # noqa: BLE001  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


@pytest.fixture()
def pool() -> Iterator[ScoringPool]:
    with ScoringPool() as opened:
        yield opened


def test_hanging_answer_does_get_past_the_pre_parse_heuristic() -> None:
    assert prepare_math("2", HANGS) is not None


def test_scoring_pool_does_start_no_process_until_a_math_answer_needs_one(pool: ScoringPool) -> None:
    assert pool.score(Task(id="g", question="?", answer="1,080", domain="gsm8k"), "$1080") is True
    assert pool.score(math_task("2"), "") is False  # wrong without parsing
    assert pool.score(math_task("2"), "9^9^9") is False
    assert pool.pids == ()


def test_scoring_pool_does_judge_like_the_in_process_scorer(pool: ScoringPool) -> None:
    assert pool.score(math_task(r"\frac{1}{2}"), "0.5") is True
    assert pool.score(math_task(r"\frac{1}{2}"), "0.6") is False
    assert len(pool.pids) == 1


def test_scoring_pool_does_stop_a_hanging_answer_at_its_cpu_limit_without_a_verdict(pool: ScoringPool) -> None:
    assert pool.score(math_task("2"), "2") is True
    with pytest.raises(ScoringTimeout) as caught:
        pool.score(math_task("2"), HANGS, timeout_s=1.0)
    assert (caught.value.clock, caught.value.limit_s) == ("cpu", 1.0)  # the kernel's SIGXCPU ended it
    assert pool.score(math_task(r"2 \sqrt{2}"), r"\sqrt{8}") is True


def test_scoring_pool_does_stop_a_hanging_answer_at_its_wall_clock_backstop(pool: ScoringPool) -> None:
    with pytest.raises(ScoringTimeout) as caught:
        pool.score(math_task("2"), HANGS, timeout_s=600.0, wall_s=0.5)
    assert caught.value.clock == "wall"
    assert pool.score(math_task("2"), "2") is True


def test_scoring_pool_does_end_the_worker_of_a_hanging_answer(pool: ScoringPool) -> None:
    pool.score(math_task("2"), "2")
    (pid,) = pool.pids
    with pytest.raises(ScoringTimeout):
        pool.score(math_task("2"), HANGS, timeout_s=0.5)
    assert wait_dead(pid) and pool.pids == ()


def test_scoring_pool_does_replace_a_killed_worker(pool: ScoringPool) -> None:
    pool.score(math_task("2"), "2")
    (pid,) = pool.pids
    os.kill(pid, signal.SIGKILL)
    assert wait_dead(pid)
    assert pool.score(math_task(r"\frac{1}{2}"), "0.5") is True
    assert len(pool.pids) == 1 and pool.pids != (pid,)


def test_scoring_pool_does_count_a_worker_dying_mid_answer_as_wrong(pool: ScoringPool) -> None:
    pool.score(math_task("2"), "2")
    (pid,) = pool.pids
    thread, outcome = score_in_thread(pool, HANGS, timeout_s=600.0)
    wait_computing(pid)
    os.kill(pid, signal.SIGKILL)
    thread.join(60)
    assert outcome == [False]
    assert pool.score(math_task("2"), "2") is True


def test_scoring_pool_does_give_sequential_verdicts_from_four_threads(pool: ScoringPool) -> None:
    work = [(math_task(p[1]), p[2]) for p in PAIRS] * 2
    with ThreadPoolExecutor(max_workers=4) as threads:
        verdicts = list(threads.map(lambda pair: pool.score(*pair), work))
    assert verdicts == [p[3] for p in PAIRS] * 2
    assert 1 <= len(pool.pids) <= 2


def test_scoring_pool_does_leave_no_worker_running_after_close() -> None:
    pool = ScoringPool(workers=2)

    def hang_then_score(_: int) -> bool:
        with pytest.raises(ScoringTimeout):
            pool.score(math_task("2"), HANGS, timeout_s=0.3)
        return pool.score(math_task("2"), "2")

    with ThreadPoolExecutor(max_workers=2) as threads:
        assert list(threads.map(hang_then_score, range(4))) == [True] * 4
    pids = pool.pids
    pool.close()
    assert pids and not any(alive(pid) for pid in pids) and pool.pids == ()


def test_scoring_pool_does_close_while_an_answer_runs_without_waiting_for_it() -> None:
    pool = ScoringPool(workers=1)
    pool.score(math_task("2"), "2")
    (pid,) = pool.pids
    thread, outcome = score_in_thread(pool, HANGS, timeout_s=600.0)
    wait_computing(pid)
    pool.close()  # would take the answer's 600 s of CPU if it waited for it
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], TaskError) and "closed" in str(outcome[0])
    assert not alive(pid)


def test_scoring_pool_rejects_a_math_answer_after_close() -> None:
    pool = ScoringPool()
    pool.close()
    with pytest.raises(TaskError, match="closed"):
        pool.score(math_task("2"), "2")


@pytest.mark.parametrize(("kwargs", "message"), [({"workers": 0}, "workers"), ({"start_timeout_s": 0}, "start_timeout")])
def test_scoring_pool_rejects_invalid_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringPool(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("limits", [{"timeout_s": 0}, {"wall_s": 0}])
def test_scoring_pool_rejects_a_non_positive_limit(pool: ScoringPool, limits: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        pool.score(math_task("2"), "2", **limits)


def test_pool_does_report_its_size_without_starting_a_worker() -> None:
    pool = ScoringPool(3)
    assert (pool.workers, pool.pids) == (3, ())
    pool.close()
