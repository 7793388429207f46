"""The optimizer prompt: the paper's sections, in order, within a token budget."""

from __future__ import annotations

import re

import pytest

from fnforge.functions import Function, FunctionSet
from fnforge.optimizer._prompt import (
    MIN_HISTORY_CHARS,
    build_prompt,
    estimate_tokens,
    render_function_set,
    render_template,
)
from tests.optimizer.policies import make_report


def fn(name: str, body: str = "return 2 * x") -> Function:
    return Function(name=name, description=f"The {name} function.",
                    parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                    code=f"def {name}(x):\n    {body}\n")


BEST = FunctionSet((fn("double"),))
MODULES = ("math", "sympy")


def prompt(report=None, *, failures=(), budget=60_000, best=BEST, score=0.5):  # type: ignore[no-untyped-def]
    report = report if report is not None else make_report([True, False, True, False])
    return build_prompt(best=best, best_score=score, report=report, failures=failures,
                        max_actions=3, allowed_modules=MODULES, budget_tokens=budget)


def section(text: str, title: str) -> str:
    start = text.index(f"# {title}")
    following = text.find("\n# ", start + 1)
    return text[start: following if following != -1 else len(text)]


def test_prompt_does_show_list_a_with_its_success_rate() -> None:
    text = prompt(score=0.5).text
    list_a = section(text, "List A")
    assert "Training success rate with List A: 0.5000 (2 of 4 tasks solved)" in list_a
    assert "def double(x):" in list_a and 'arguments: {"x": {"type": "number"}}' in list_a


def test_prompt_does_show_the_papers_sections_in_order() -> None:
    text = prompt().text
    titles = ["What you can do", "Principles", "Function format", "List A", "Conversation histories under List A",
              "Per-task results under List A", "List B", "Failure record", "Your move"]
    positions = [text.index(f"# {t}") for t in titles]
    assert positions == sorted(positions)
    assert "TERMINATE" in section(text, "What you can do") and "math, sympy" in section(text, "Function format")


def test_prompt_does_show_list_b_as_same_as_list_a() -> None:
    assert "same as List A" in section(prompt().text, "List B")


def test_prompt_does_sort_failure_record_ascending_with_scores() -> None:
    failures = [(BEST.add(fn("mid")), 0.40), (BEST.add(fn("low")), 0.10), (BEST.remove("double"), 0.25)]
    record = section(prompt(failures=failures).text, "Failure record")
    scores = [float(s) for s in re.findall(r"Failed set \d+: success rate ([0-9.]+)", record)]
    assert scores == [0.10, 0.25, 0.40]
    assert record.index("add low") < record.index("remove double") < record.index("add mid")
    assert "def low(x):" in record


def test_prompt_does_list_every_task_in_the_per_task_table() -> None:
    outcomes = [i % 3 == 0 for i in range(30)]
    table = section(prompt(make_report(outcomes)).text, "Per-task results under List A")
    rows = re.findall(r"^(t\d{3}): ([01])$", table, re.M)
    assert rows == [(f"t{i:03d}", "1" if ok else "0") for i, ok in enumerate(outcomes)]


def test_prompt_does_put_failed_histories_before_solved_ones() -> None:
    histories = section(prompt(make_report([True, False, True, False])).text, "Conversation histories")
    order = re.findall(r"^## Task (t\d{3}): (failed|solved)", histories, re.M)
    assert order == [("t001", "failed"), ("t003", "failed"), ("t000", "solved"), ("t002", "solved")]
    assert "output of t001" in histories


def test_prompt_does_report_nothing_cut_when_it_fits() -> None:
    result = prompt()
    assert result.cut == () and result.tokens_estimate == estimate_tokens(result.text) < 60_000
    assert "The conversations of all 4 tasks" in result.text


def test_prompt_budget_does_hold_for_500_tasks_with_long_trajectories() -> None:
    outcomes = [i % 4 == 0 for i in range(500)]  # 375 failed, 125 solved
    report = make_report(outcomes, output_chars=3_000, calls=6)  # ~20k characters per history
    result = prompt(report, budget=30_000)
    assert result.tokens_estimate <= 30_000 == result.budget_tokens
    table = section(result.text, "Per-task results under List A")
    assert len(re.findall(r"^t\d{3}: [01]$", table, re.M)) == 500
    kept = re.findall(r"^## Task (t\d{3}): (failed|solved)", result.text, re.M)
    assert kept and all(status == "failed" for _, status in kept)  # failures first, no room for successes
    assert any(c.startswith(f"histories: {len(kept)} of 500 cut in the middle") for c in result.cut)
    omitted = 500 - len(kept)
    assert f"histories: {omitted} of 500 omitted ({375 - len(kept)} failed, 125 solved)" in result.cut
    assert "chars cut ..." in section(result.text, "Conversation histories")
    assert f"the histories of {omitted} tasks" in result.text


def test_prompt_budget_does_shorten_before_omitting() -> None:
    report = make_report([False] * 10, output_chars=2_000, calls=4)
    result = prompt(report, budget=8_000)
    kept = re.findall(r"^## Task (t\d{3})", result.text, re.M)
    assert len(kept) == 10 and result.tokens_estimate <= 8_000
    assert result.cut == (result.cut[0],) and result.cut[0].startswith("histories: 10 of 10 cut in the middle")
    cap = int(result.cut[0].rsplit(" ", 2)[-2])
    assert cap > MIN_HISTORY_CHARS


HUGE_FAILURES = [(BEST.add(fn(f"huge{i}", "return " + " + ".join(["x"] * 2_000))), 0.1 * i) for i in range(3)]


def test_prompt_failure_record_does_keep_code_when_the_whole_prompt_fits() -> None:
    result = prompt(failures=HUGE_FAILURES, budget=10_000)  # the record is over half the budget, and it fits
    assert section(result.text, "Failure record").count("return x + x") == 3
    assert result.cut == () and result.tokens_estimate <= 10_000


def test_prompt_failure_record_does_drop_code_first_when_the_prompt_does_not_fit() -> None:
    report = make_report([False] * 10, output_chars=600, calls=2)
    result = prompt(report, failures=HUGE_FAILURES, budget=8_000)
    record = section(result.text, "Failure record")
    assert "add huge0" in record and "return x + x" not in record
    assert result.cut == ("failure record: code of 3 failed sets omitted (changes and scores kept)",)
    assert section(result.text, "Conversation histories").count("## Task") == 10  # histories kept whole


def test_prompt_does_report_overrun_when_lists_alone_exceed_budget() -> None:
    best = FunctionSet(tuple(fn(f"f{i}", "return " + " + ".join(["x"] * 300)) for i in range(10)))
    result = prompt(best=best, budget=3_000)
    assert result.tokens_estimate > 3_000
    assert any(c.startswith("over budget:") for c in result.cut)
    assert section(result.text, "List A").count("```python") == 10


def test_render_template_rejects_missing_variable() -> None:
    with pytest.raises(KeyError, match="missing values"):
        render_template("optimizer", {"max_actions": 3})


def test_render_function_set_does_say_when_empty() -> None:
    assert "no functions" in render_function_set(FunctionSet())


def test_prompt_stable_prefix_is_byte_identical_across_steps_with_the_same_list_a() -> None:
    report = make_report([True, False, True, False])
    first = prompt(report, failures=())
    second = prompt(report, failures=[(BEST.add(fn("triple", "return 3 * x")), 0.25)])
    assert first.text != second.text
    assert first.stable_chars == second.stable_chars
    assert first.text[:first.stable_chars] == second.text[:second.stable_chars]
    stable = first.text[:first.stable_chars]
    assert "# List A" in stable and "# Per-task results under List A" in stable
    assert "# Failure record" not in stable and first.stable_chars > len(first.text) // 2
