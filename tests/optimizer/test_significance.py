"""The acceptance rules on paired outcomes and early rejection's bound (optimizer._significance, _early_reject)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.optimizer._early_reject import EarlyRejector, hopeless
from fnforge.optimizer._significance import decide, sign_test_p

BEST_HALF = {i: i < 10 for i in range(20)}


def test_sign_test_p_is_the_binomial_tail() -> None:
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(1, 0) == 0.5
    assert sign_test_p(3, 1) == 5 / 16


def test_significant_rejects_a_one_task_improvement_on_20_tasks() -> None:
    trial = {**BEST_HALF, 10: True}
    decision = decide(trial, BEST_HALF, "significant")
    assert (decision.accepted, decision.wins, decision.losses, decision.p_value) == (False, 1, 0, 0.5)
    assert decide(trial, BEST_HALF, "strict").accepted


def test_significant_accepts_a_large_improvement() -> None:
    trial = {i: i < 16 for i in range(20)}
    decision = decide(trial, BEST_HALF, "significant", alpha=0.05)
    assert decision.accepted and decision.p_value == 1 / 64


def test_ties_accepts_an_equal_score_that_strict_rejects() -> None:
    swapped = {**BEST_HALF, 0: False, 19: True}
    assert decide(swapped, BEST_HALF, "ties").accepted and not decide(swapped, BEST_HALF, "strict").accepted


def test_hopeless_stops_as_soon_as_strict_cannot_win() -> None:
    best = {i: i < 15 for i in range(20)}  # 15 correct: a trial wrong on 5 units can reach at most 15
    rejector = EarlyRejector(best, "strict")
    stops = [rejector.observe(i, False) for i in range(6)]
    assert stops == [False, False, False, False, True, False]
    assert len(rejector.seen) == 5


outcomes = st.lists(st.booleans(), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(trial=outcomes, best=outcomes, rule=st.sampled_from(["strict", "ties", "significant"]),
       alpha=st.sampled_from([0.05, 0.2]), order_seed=st.integers(0, 10**6))
def test_early_rejection_decides_as_the_full_evaluation(trial: list[bool], best: list[bool], rule: str,
                                                        alpha: float, order_seed: int) -> None:
    n = min(len(trial), len(best))
    trial_units, best_units = dict(enumerate(trial[:n])), dict(enumerate(best[:n]))
    order = list(range(n))
    random.Random(order_seed).shuffle(order)  # results arrive in any order
    rejector = EarlyRejector(best_units, rule, alpha)  # type: ignore[arg-type]
    for unit in order:
        if rejector.observe(unit, trial_units[unit]):
            break
    full = decide(trial_units, best_units, rule, alpha)  # type: ignore[arg-type]
    assert rejector.stopped == (not full.accepted)  # stops exactly on the trials full evaluation rejects
