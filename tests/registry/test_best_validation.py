"""The best rule for a run that selected on validation (``Select: val``): one best for best, rollback and export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from tests.registry.test_best import A, _sha, _step, _versions

V = "jsonl:a.jsonl (2 tasks, sha256:vvvvvvvvvvvv)"


def _val(score: float, val: float, status: str = "accepted", val_tasks: str = V) -> dict[str, Any]:
    return _step(score, status, **{"Val-Score": f"{val:.4f}", "Val-Tasks": val_tasks, "Select": "val"})


def test_best_of_a_validation_run_is_its_highest_validation_score() -> None:
    versions = _versions(_val(0.25, 0.0, "initial"), _val(0.5, 1.0), _val(1.0, 0.0))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(2)  # train 0.5, validation 1.0; not the train best (1.0)


def test_best_of_a_validation_run_ties_to_the_later_acceptance_not_a_rollback() -> None:
    versions = _versions(_val(0.25, 0.5, "initial"), _val(0.5, 0.5), _val(0.5, 0.5, "rollback"))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(2)


def test_best_ignores_validation_scores_on_another_validation_set() -> None:
    other = "jsonl:a.jsonl (2 tasks, sha256:wwwwwwwwwwww)"
    versions = _versions(_val(0.5, 1.0, "initial", other), _val(0.25, 0.5, "initial"), _val(0.75, 0.0))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(2)


def test_newer_evidence_without_validation_brings_back_the_train_rule() -> None:
    versions = _versions(_val(0.25, 0.0, "initial"), _val(0.5, 1.0), _val(1.0, 0.0), _step(0.75, "initial"))
    best = registry.best_of(versions)
    assert best is not None and best.sha == _sha(3)


def _set(k: int) -> FunctionSet:
    return FunctionSet((Function(name="f", description="d", parameters={"type": "object", "properties": {}},
                                 code=f"def f():\n    return {k}\n"),))


def test_rollback_and_best_pointer_follow_the_validation_best(tmp_path: Path) -> None:
    with registry.init(tmp_path / "t") as repo:
        first = repo.commit(_set(1), subject="initial", trailers=_val(0.25, 1.0, "initial"))
        repo.commit(_set(2), subject="overfit", trailers=_val(1.0, 0.0))
        restored = repo.rollback()
        assert repo.read("HEAD") == _set(1) and restored.trailer("Val-Score") == "1.0000"
        assert repo.best().sha == first.sha and repo.best_score().val_score == 1.0  # a roll-back never displaces it
        assert repo.read(f"best/{repo.head_branch}") == _set(1)
