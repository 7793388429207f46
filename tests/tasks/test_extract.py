from __future__ import annotations

import pytest

from fnforge.tasks import ANSWER_INSTRUCTION, explicit_answer, extract_answer, split_thinking


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"So $x = \boxed{5}$.", "5"),
        (r"First \boxed{3}, then corrected: \boxed{4}", "4"),
        (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"The set is \boxed{\{1, 2\}}.", r"\{1, 2\}"),
        (r"\boxed{ \left( 3, \frac{\pi}{2} \right) }", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\fbox{12}", "12"),
        (r"\boxed {7}", "7"),
        (r"so $\boxed 5$", "5"),
        (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
        (r"\boxed{}", ""),
    ],
)
def test_extract_answer_does_take_the_last_box(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_extract_answer_does_skip_an_unclosed_last_box() -> None:
    assert extract_answer(r"\boxed{9} and then \boxed{1") == "9"


def test_extract_answer_does_ignore_commands_that_only_start_like_boxed() -> None:
    assert extract_answer(r"\boxedfoo{1} Final Answer: 2") == "2"


def test_extract_answer_does_prefer_a_box_over_final_answer() -> None:
    assert extract_answer("Final Answer: 3\nActually \\boxed{4}") == "4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Work...\nFinal Answer: 18", "18"),
        ("Final answer: 1\nfinal answer: 2", "2"),
        ("**Final Answer:** $4,656", "$4,656"),
        ("**Final Answer**: shortage", "shortage"),
        ("FINAL ANSWER: Paris\n\nHope this helps!", "Paris"),
        ("Final Answer:\n\n  42  \n", "42"),
        ("Final Answer:", ""),
    ],
)
def test_extract_answer_does_fall_back_to_final_answer_line(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_extract_answer_does_fall_back_to_the_whole_message_stripped() -> None:
    assert extract_answer("  The answer is 7.\n") == "The answer is 7."


def test_answer_instruction_does_state_both_forms_the_extractor_reads() -> None:
    assert "\\boxed{" in ANSWER_INSTRUCTION and "Final Answer:" in ANSWER_INSTRUCTION
    assert ANSWER_INSTRUCTION.replace("...", "").count(".") == 1 and ANSWER_INSTRUCTION.endswith(".")
    assert extract_answer("Reasoning.\nFinal Answer: 42") == extract_answer("Reasoning. \\boxed{42}") == "42"


def test_extract_answer_does_ignore_a_box_inside_thinking() -> None:
    text = r"<think>... Is it \boxed{999}? No, trust the tool.</think>Final Answer: 45"
    assert extract_answer(text) == "45"


@pytest.mark.parametrize(("text", "expected"), [
    ("<think>x is \\boxed{9}</think>So x = \\boxed{4}.", "4"),
    ("Thinking: maybe \\boxed{9}\n</think>\n\nThe answer is \\boxed{4}.", "4"),  # R1: no opening tag
    ("<THINKING>\\boxed{9}</THINKING>\\boxed{4}", "4"),
    ("<think>a</think>It is 4.<think>b \\boxed{9}</think>", "It is 4."),
    ("Answer first. <think>then \\boxed{9}", "Answer first."),  # cut while thinking: the rest is thinking
    ("<think>only \\boxed{9}", ""),
])
def test_extract_answer_does_read_only_the_visible_text(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


def test_split_thinking_does_return_text_without_tags_unchanged() -> None:
    assert split_thinking("  plain \\boxed{1}\n") == ("  plain \\boxed{1}\n", "")


def test_explicit_answer_does_say_none_when_nothing_is_marked() -> None:
    assert explicit_answer("It is 7.") is None and explicit_answer("Final Answer: 7") == "7"
