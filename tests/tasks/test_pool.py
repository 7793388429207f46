from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from fnforge.tasks import ScoringPool, Task, TaskError
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


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.01)
    return not alive(pid)


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


def test_scoring_pool_does_stop_a_hanging_answer_at_its_limit_and_keep_working(pool: ScoringPool) -> None:
    assert pool.score(math_task("2"), "2") is True  # the worker is up: time the answer alone
    started = time.perf_counter()
    assert pool.score(math_task("2"), HANGS, timeout_s=1.0) is False
    assert time.perf_counter() - started < 2.0
    assert pool.score(math_task(r"2 \sqrt{2}"), r"\sqrt{8}") is True


def test_scoring_pool_does_kill_the_worker_of_a_hanging_answer(pool: ScoringPool) -> None:
    pool.score(math_task("2"), "2")
    (pid,) = pool.pids
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
    threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    started = time.perf_counter()
    assert pool.score(math_task("2"), HANGS, timeout_s=30.0) is False
    assert time.perf_counter() - started < 5.0
    assert pool.score(math_task("2"), "2") is True


def test_scoring_pool_does_give_sequential_verdicts_from_four_threads(pool: ScoringPool) -> None:
    work = [(math_task(p[1]), p[2]) for p in PAIRS] * 2
    with ThreadPoolExecutor(max_workers=4) as threads:
        verdicts = list(threads.map(lambda pair: pool.score(*pair), work))
    assert verdicts == [p[3] for p in PAIRS] * 2
    assert 1 <= len(pool.pids) <= 2


def test_scoring_pool_does_leave_no_worker_running_after_close() -> None:
    pool = ScoringPool(workers=2)
    with ThreadPoolExecutor(max_workers=2) as threads:
        list(threads.map(lambda _: pool.score(math_task("2"), HANGS, timeout_s=0.3) or pool.score(math_task("2"), "2"),
                         range(4)))
    pids = pool.pids
    pool.close()
    assert pids and not any(alive(pid) for pid in pids) and pool.pids == ()


def test_scoring_pool_does_close_promptly_while_an_answer_runs() -> None:
    pool = ScoringPool(workers=1)
    pool.score(math_task("2"), "2")
    (pid,) = pool.pids
    verdicts: list[bool] = []
    scoring = threading.Thread(target=lambda: verdicts.append(pool.score(math_task("2"), HANGS, timeout_s=30.0)))
    scoring.start()
    time.sleep(0.3)
    started = time.perf_counter()
    pool.close()
    scoring.join(5.0)
    assert time.perf_counter() - started < 3.0 and verdicts == [False] and not alive(pid)


def test_scoring_pool_rejects_a_math_answer_after_close() -> None:
    pool = ScoringPool()
    pool.close()
    with pytest.raises(TaskError, match="closed"):
        pool.score(math_task("2"), "2")


@pytest.mark.parametrize(("kwargs", "message"), [({"workers": 0}, "workers"), ({"start_timeout_s": 0}, "start_timeout")])
def test_scoring_pool_rejects_invalid_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringPool(**kwargs)  # type: ignore[arg-type]


def test_scoring_pool_rejects_a_non_positive_timeout(pool: ScoringPool) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        pool.score(math_task("2"), "2", timeout_s=0)
