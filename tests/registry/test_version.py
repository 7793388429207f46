"""Commit messages, trailers and the best rule, without a repository."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fnforge import registry
from fnforge.registry._objects import format_message, message_trailers, split_message


def _version(sha: str, trailers: dict[str, str]) -> registry.Version:
    return registry.Version(sha=sha, parents=(), subject="s", body="", trailers=trailers,
                            time=datetime(2026, 1, 1, tzinfo=timezone.utc), tree_hash=registry.EMPTY_TREE)


def test_format_message_puts_trailers_last_in_design_order() -> None:
    text = format_message("epoch 1: add a", "Why.\n", {"Custom-Key": "x", "Status": "accepted", "Score": 0.5})
    assert text == "epoch 1: add a\n\nWhy.\n\nScore: 0.5000\nStatus: accepted\nCustom-Key: x\n"


def test_split_message_round_trips_subject_body_and_trailers() -> None:
    text = format_message("subject", "para one\n\npara two", {"Status": "manual"})
    assert split_message(text) == ("subject", "para one\n\npara two", {"Status": "manual"})


def test_message_without_trailers_has_none() -> None:
    assert message_trailers("subject\n\nJust a body: with a colon, and more words here.\nSecond line\n") == {}


@pytest.mark.parametrize("value", ["nan", float("inf"), "high"])
def test_format_message_rejects_non_finite_score(value: object) -> None:
    with pytest.raises(ValueError, match="finite number"):
        format_message("s", "", {"Score": value})  # type: ignore[dict-item]


def test_format_message_rejects_multi_line_subject() -> None:
    with pytest.raises(ValueError, match="one non-empty line"):
        format_message("two\nlines")


def test_version_reads_trailers_case_insensitively() -> None:
    version = _version("a" * 40, {"score": "0.25", "status": "accepted", "epoch": "4"})
    assert (version.score, version.status, version.epoch) == (0.25, "accepted", 4)


def test_best_of_skips_rejected_and_other_splits_and_prefers_earliest() -> None:
    newest_first = [
        _version("4" * 40, {"Score": "0.9", "Status": "rejected"}),
        _version("3" * 40, {"Score": "0.8", "Split": "test", "Status": "manual"}),
        _version("2" * 40, {"Score": "0.5", "Status": "rollback"}),
        _version("1" * 40, {"Score": "0.5", "Status": "accepted"}),
    ]
    best = registry.best_of(newest_first)
    assert best is not None and best.sha == "1" * 40


def test_version_to_dict_is_json_ready() -> None:
    data = _version("a" * 40, {"Score": "0.5000", "Split": "train"}).to_dict()
    assert (data["short"], data["score"], data["split"], data["time"]) == ("aaaaaaa", 0.5, "train",
                                                                           "2026-01-01T00:00:00+00:00")
