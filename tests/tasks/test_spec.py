from __future__ import annotations

from pathlib import Path

import pytest

from fnforge.tasks import MATH_SUBJECTS, TaskSpec, TaskSpecError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gsm8k", TaskSpec(kind="gsm8k")),
        ("tabmwp", TaskSpec(kind="tabmwp")),
        ("math", TaskSpec(kind="math")),
        ("math:algebra", TaskSpec(kind="math", subject="algebra")),
        ("math:intermediate_algebra@level5", TaskSpec(kind="math", subject="intermediate_algebra", level=5)),
        ("math@level2", TaskSpec(kind="math", level=2)),
        (" MATH:Number_Theory ", TaskSpec(kind="math", subject="number_theory")),
        ("gaia:data/gaia/validation", TaskSpec(kind="gaia", path=Path("data/gaia/validation"))),
        ("jsonl:/tmp/q@a.jsonl", TaskSpec(kind="jsonl", path=Path("/tmp/q@a.jsonl"))),
    ],
)
def test_spec_parse_does_accept_every_documented_form(text: str, expected: TaskSpec) -> None:
    assert TaskSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["gsm8k", "math", "math:algebra", "math:geometry@level3", "math@level1", "tabmwp",
                                  "gaia:some/dir", "jsonl:qa.jsonl"])
def test_spec_str_does_round_trip_through_parse(text: str) -> None:
    assert str(TaskSpec.parse(text)) == text
    assert TaskSpec.parse(str(TaskSpec.parse(text))) == TaskSpec.parse(text)


def test_spec_parse_does_know_all_seven_math_subjects() -> None:
    assert [TaskSpec.parse(f"math:{s}").subject for s in MATH_SUBJECTS] == list(MATH_SUBJECTS)
    assert len(MATH_SUBJECTS) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gsm9k", "unknown task set (did you mean 'gsm8k'?)"),
        ("", "unknown task set"),
        ("math:algebre", "unknown MATH subject 'algebre' (did you mean 'algebra'?)"),
        ("math:intermediate-algebra", "did you mean 'intermediate_algebra'?"),
        ("math:algebra@level6", "bad level 'level6'; expected level1 to level5"),
        ("math:algebra@5", "bad level '5'"),
        ("gaia", "gaia needs a path"),
        ("jsonl:", "jsonl needs a path"),
        ("gsm8k:main", "gsm8k takes no ':' or '@' argument"),
    ],
)
def test_spec_parse_rejects_bad_text_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(TaskSpecError) as info:
        TaskSpec.parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(f"bad task set {text!r}: ")
