"""The one best rule (``registry/_best.py``), on versions built in memory: task sets, validity, ties, batches, test."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fnforge import registry
from fnforge.registry._best import best_measurement

A = "jsonl:a.jsonl (4 tasks, sha256:aaaaaaaaaaaa)"
C = "jsonl:c.jsonl (4 tasks, sha256:cccccccccccc)"
TREE = "1" * 40


def _versions(*specs: dict[str, Any]) -> list[registry.Version]:
    """Versions oldest first as given, returned newest first (as ``log`` returns them); sha = its index."""
    made = []
    for index, spec in enumerate(specs):
        trailers = {k: str(v) for k, v in spec.items() if k != "tree"}
        made.append(registry.Version(
            sha=f"{index + 1:040x}", parents=(), subject=f"commit {index + 1}", body="", trailers=trailers,
            time=datetime(2026, 1, 1, tzinfo=timezone.utc), tree_hash=spec.get("tree", TREE)))
    return made[::-1]


def _sha(index: int) -> str:
    return f"{index:040x}"


def _step(score: float, status: str = "accepted", tasks: str = A, **more: Any) -> dict[str, Any]:
    return {"Score": f"{score:.4f}", "Split": "train", "Status": status, "Tasks": tasks, **more}


def test_best_is_per_task_set_and_defaults_to_the_current_one() -> None:
    versions = _versions(_step(0.25, "initial"), _step(1.0), _step(0.0, "initial", C), _step(0.0, "rejected", C))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(3)  # domain C's own commit, not A's 1.0
    other = registry.best_of(versions, tasks="jsonl:a.jsonl")
    assert other is not None and other.sha == _sha(2)


def test_best_ignores_a_score_out_of_range() -> None:
    versions = _versions(_step(0.5), {"Score": "1.5", "Status": "accepted", "Tasks": A})
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(1)


def test_best_ignores_a_score_measured_on_other_functions() -> None:
    versions = _versions(_step(0.5, tree=TREE, **{"Functions-Tree": TREE}),
                         _step(0.9, tree="2" * 40, **{"Functions-Tree": TREE}))  # e.g. rebased onto new functions
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(1)


def test_tie_goes_to_the_later_acceptance_not_to_a_rollback() -> None:
    versions = _versions(_step(0.5, "initial"), _step(0.75), _step(0.75, "accepted"), _step(0.75, "rollback"))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(3)


def test_a_new_runs_initial_evaluation_takes_over_an_equal_score() -> None:
    versions = _versions(_step(0.75, Run="r1"), _step(0.75, "initial", Run="r2"))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(2)


def test_batch_run_is_judged_by_its_own_record() -> None:
    batch = "jsonl:a.jsonl (batch of 2/4 tasks, sha256:{}, of sha256:aaaaaaaaaaaa)"
    versions = _versions(
        _step(0.5, "initial", batch.format("b1" * 6)),
        _step(1.0, "accepted", batch.format("b1" * 6)),
        _step(0.5, "accepted", batch.format("b2" * 6)),  # beat the run's best on its own batch
        _step(0.0, "rejected", batch.format("b3" * 6)),
        _step(0.5, "rollback", batch.format("b2" * 6)),
    )
    best = registry.best_of(versions, tasks=A)
    assert best is not None and best.sha == _sha(3)
    assert registry.best_of(versions) == best  # the batch belongs to the full set A


def test_full_set_scores_decide_again_after_a_batch_run() -> None:
    batch = "jsonl:a.jsonl (batch of 2/4 tasks, sha256:bbbbbbbbbbbb, of sha256:aaaaaaaaaaaa)"
    versions = _versions(_step(0.75), _step(1.0, "accepted", batch), _step(0.5, "initial"))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(1)


def test_legacy_batch_trailer_matches_its_set_by_size() -> None:
    versions = _versions(_step(0.5, "initial", "jsonl:a.jsonl (batch of 2/4 tasks, sha256:bbbbbbbbbbbb)"))
    assert registry.best_of(versions, tasks="jsonl:a.jsonl") is not None


def test_scores_without_a_task_set_form_their_own_set() -> None:
    versions = _versions(_step(0.25), {"Score": "0.9", "Status": "manual"})
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(1)  # the named set stays current
    unnamed = registry.best_of(versions, tasks=registry.TaskSet())
    assert unnamed is not None and unnamed.sha == _sha(2)


def test_test_split_reads_the_notes() -> None:
    versions = _versions(_step(0.5), _step(0.75), _step(0.25, "rejected"))
    test = "jsonl:a.jsonl (8 tasks, sha256:dddddddddddd)"
    notes = {
        _sha(1): {"test": {"split": "test", "accuracy": 0.625, "n": 8, "correct": 5, "tasks": test}},
        _sha(2): {"test": {"split": "test", "accuracy": 0.5, "n": 8, "correct": 4, "tasks": test}},
        _sha(3): {"test": {"split": "test", "accuracy": 1.0, "n": 8, "correct": 8, "tasks": test}},
    }
    best = best_measurement(versions, "test", notes=notes)
    assert best is not None and (best.version.sha, best.score, best.task_set.describe()) == (_sha(1), 0.625, test)


def test_test_split_ignores_an_invalid_note() -> None:
    versions = _versions(_step(0.5))
    notes = {_sha(1): {"test": {"split": "test", "accuracy": 1.0, "n": 2, "correct": 3, "tasks": "jsonl:a.jsonl"}}}
    assert registry.best_of(versions, "test", notes=notes) is None


def test_task_set_query_reads_a_label_a_description_or_a_hash_prefix() -> None:
    assert registry.TaskSet.query("math:algebra").label == "math:algebra"
    assert registry.TaskSet.query(A) == registry.TaskSet.parse(A)
    found = registry.TaskSet.query("sha256:aaaa")
    assert (found.label, found.digest) == ("", "aaaa")
    versions = _versions(_step(0.5))
    assert registry.best_of(versions, tasks="sha256:aaaa") is not None
    assert registry.best_of(versions, tasks="sha256:ffff") is None


def test_task_set_parse_reads_the_set_a_batch_was_drawn_from() -> None:
    parsed = registry.TaskSet.parse("math:algebra (batch of 5/20 tasks, sha256:111111111111, of sha256:222222222222)")
    assert (parsed.label, parsed.n, parsed.digest) == ("math:algebra", 20, "222222222222")


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
                          st.sampled_from(["accepted", "rejected", "rollback", "initial", "manual"])),
                min_size=1, max_size=12))
def test_best_is_the_latest_highest_non_rejected_score(steps: list[tuple[float, str]]) -> None:
    versions = _versions(*(_step(score, status) for score, status in steps))
    best = registry.best_of(versions)
    counted = [(i, s, st_) for i, (s, st_) in enumerate(steps, start=1) if st_ != "rejected"]
    if not counted:
        assert best is None
        return
    top = max(s for _, s, _ in counted)
    winners = [i for i, s, st_ in counted if s == top and st_ != "rollback"] or [
        next(i for i, s, _ in counted if s == top)]
    assert best is not None and best.sha == _sha(winners[-1])
