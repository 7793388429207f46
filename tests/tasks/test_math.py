from __future__ import annotations

import gc
import json
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnforge.tasks import ScoringTimeout, load_tasks, score_math
from fnforge.tasks import _math
from fnforge.tasks._math import MAX_MATH_ANSWER_CHARS

from .math_pairs import PAIRS


@pytest.mark.parametrize(("unique_id", "reference", "answer", "expected"), PAIRS,
                         ids=[f"{p[0].removeprefix('test/')}:{p[2]}" for p in PAIRS])
def test_score_math_does_judge_real_answer_pairs(unique_id: str, reference: str, answer: str, expected: bool) -> None:
    assert score_math(reference, answer) is expected


def test_math_pairs_do_cover_at_least_thirty_equivalent_and_near_miss_cases() -> None:
    assert len(PAIRS) >= 30
    assert sum(p[3] for p in PAIRS) >= 15 and sum(not p[3] for p in PAIRS) >= 15


def test_math_pairs_do_use_the_references_of_the_real_data(real_data: Path) -> None:
    answers = {}
    with (real_data / "math" / "math_test.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            answers[row["unique_id"]] = row["answer"]
    assert [(p[0], p[1]) for p in PAIRS] == [(p[0], answers[p[0]]) for p in PAIRS]


def test_score_math_does_accept_every_sampled_reference_as_its_own_answer(real_data: Path) -> None:
    tasks = random.Random(0).sample(load_tasks("math", "test", data_dir=real_data), 150)
    assert [t.id for t in tasks if not score_math(t.answer, t.answer)] == []


# Behaviour of math-verify 0.9 that users may trip over; pinned so an upgrade that changes it is noticed.
def test_score_math_does_read_a_percent_reference_as_either_number() -> None:
    assert score_math(r"25\%", "25") and score_math(r"25\%", "0.25")


def test_score_math_does_reject_a_spaced_imaginary_unit() -> None:
    assert score_math("2i", "2i") and not score_math("2i", "2 i")


@pytest.mark.parametrize("answer", ["", "   ", "$$", "."])
def test_score_math_rejects_an_empty_answer(answer: str) -> None:
    assert score_math("0", answer) is False


@pytest.fixture()
def never_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if math-verify is asked to parse anything."""
    def refuse(reference: str, answer: str) -> bool:
        raise AssertionError(f"parsed {answer[:40]!r}")
    monkeypatch.setattr(_math, "equivalent", refuse)


@pytest.mark.usefixtures("never_parse")
def test_score_math_rejects_an_answer_over_the_length_cap_without_parsing() -> None:
    assert score_math("1", "1+" * MAX_MATH_ANSWER_CHARS + "0") is False


@pytest.mark.usefixtures("never_parse")
@pytest.mark.parametrize("answer", [
    "2^{2^{2^{2^{2^{2}}}}}", "10^{10^{10}}", "9^9^9", "3^{123456789}", "3**123456789", "10^{10^{10}}+1",
])
def test_score_math_rejects_exponent_towers_without_evaluating_them(answer: str) -> None:
    assert score_math("2", answer) is False


def test_score_math_does_stop_at_its_cpu_time_limit_without_a_verdict_and_keep_working_after() -> None:
    # Earlier hypothesis tests leave a gc callback installed; the in-process
    # deadline's one exception could land there and be swallowed (evaluation
    # scores in a ScoringPool worker instead, which is killed: see test_pool.py).
    gc.disable()
    try:
        cpu_before = time.thread_time()
        with pytest.raises(ScoringTimeout) as caught:
            score_math("2", "(x+1)^{500}", timeout_s=0.3)
        assert caught.value.clock == "cpu" and caught.value.limit_s == 0.3
        assert time.thread_time() - cpu_before < 3.0
    finally:
        gc.enable()
    assert score_math(r"\frac{1}{2}", "0.5") is True


def test_score_math_does_stop_at_its_wall_clock_backstop_without_a_verdict() -> None:
    gc.disable()
    try:
        with pytest.raises(ScoringTimeout) as caught:
            score_math("2", "(x+1)^{500}", timeout_s=60.0, wall_s=0.2)
        assert caught.value.clock == "wall"
    finally:
        gc.enable()


def test_score_math_does_work_off_the_main_thread() -> None:
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(score_math(r"2 \sqrt{2}", r"\sqrt{8}")))
    worker.start()
    worker.join(30)
    assert results == [True]


def test_score_math_does_give_the_same_verdicts_from_concurrent_threads() -> None:
    work = [(p[1], p[2]) for p in PAIRS] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = list(pool.map(lambda pair: score_math(*pair), work))
    assert verdicts == [p[3] for p in PAIRS] * 2


def test_score_math_does_leave_the_process_alarm_timer_alone() -> None:
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 60.0)
        score_math(r"\frac{1}{2}", "0.5")
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 50.0 < remaining <= 60.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("0123456789+-*/^_{}()[]\\$., xyabfrcqtsp")), max_size=40))
def test_score_math_does_give_a_verdict_or_a_timeout_on_arbitrary_text(answer: str) -> None:
    try:
        verdict = score_math(r"\frac{1}{2}", answer, timeout_s=2.0)
    except ScoringTimeout:
        return  # too slow to judge is the one allowed non-verdict
    assert verdict in (True, False)
