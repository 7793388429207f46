from __future__ import annotations

import threading
import time

import pytest

from fnforge.tasks._deadline import DeadlineExceeded, call_with_deadline


def busy(seconds: float) -> int:
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        count += 1
    return count


def test_call_with_deadline_does_return_the_result_in_time() -> None:
    assert call_with_deadline(lambda: 6 * 7, 1.0) == 42


def test_call_with_deadline_does_interrupt_a_python_loop_on_the_main_thread() -> None:
    started = time.thread_time()
    with pytest.raises(DeadlineExceeded) as caught:
        call_with_deadline(lambda: busy(10.0), 0.1)
    assert caught.value.clock == "cpu"
    assert time.thread_time() - started < 2.0  # CPU seconds: the same on a loaded machine


def nap(seconds: float, *, naps: int = 1) -> int:
    for _ in range(naps):
        time.sleep(seconds)
    return 42


def test_call_with_deadline_does_not_count_time_the_thread_spends_waiting() -> None:
    assert call_with_deadline(lambda: nap(0.5), 0.05) == 42


def test_call_with_deadline_does_stop_a_waiting_thread_at_the_wall_clock_backstop() -> None:
    with pytest.raises(DeadlineExceeded) as caught:
        call_with_deadline(lambda: nap(0.01, naps=1000), 60.0, wall_s=0.2)
    assert caught.value.clock == "wall"


def test_call_with_deadline_does_interrupt_a_python_loop_in_a_worker_thread() -> None:
    outcome: list[str] = []

    def work() -> None:
        try:
            call_with_deadline(lambda: busy(10.0), 0.1)
            outcome.append("finished")
        except DeadlineExceeded:
            outcome.append("stopped")

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(5.0)
    assert outcome == ["stopped"]


def test_call_with_deadline_does_not_let_except_exception_swallow_it() -> None:
    def stubborn() -> str:
        try:
            busy(10.0)
        except Exception:  # noqa: BLE001  # what libraries do
            return "swallowed"
        return "finished"

    with pytest.raises(DeadlineExceeded):
        call_with_deadline(stubborn, 0.1)


def test_call_with_deadline_does_never_deliver_after_returning() -> None:
    stray = 0
    for _ in range(150):  # deadlines that land right around the end of the work
        try:
            call_with_deadline(lambda: busy(0.002), 0.002)
        except DeadlineExceeded:
            pass
        try:
            busy(0.004)
        except DeadlineExceeded:
            stray += 1
    assert stray == 0


def test_call_with_deadline_does_pass_the_functions_own_error_through() -> None:
    with pytest.raises(ZeroDivisionError):
        call_with_deadline(lambda: 1 / 0, 1.0)


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
def test_call_with_deadline_rejects_a_non_positive_limit(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds must be > 0"):
        call_with_deadline(lambda: None, seconds)


def test_call_with_deadline_rejects_a_non_positive_backstop() -> None:
    with pytest.raises(ValueError, match="wall_s must be > 0"):
        call_with_deadline(lambda: None, 1.0, wall_s=0)


def test_call_with_deadline_does_outlive_calls_from_threads_that_exit_at_once() -> None:
    # A watcher may wake after its thread has returned and exited; reading that thread's
    # CPU clock then fails, and the watcher must simply stop (it used to die with OSError).
    failures: list[BaseException] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value)  # type: ignore[assignment]
    try:
        for _ in range(200):
            worker = threading.Thread(target=lambda: call_with_deadline(lambda: busy(0.01), 5.0))
            worker.start()
            worker.join()
        time.sleep(0.05)  # let the last watchers wake
    finally:
        threading.excepthook = previous
    assert failures == []
