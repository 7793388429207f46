r"""The one answer rule: last ``\boxed{...}``, else after ``Final Answer:``, else the whole message."""

from __future__ import annotations

import re

__all__ = ["ANSWER_INSTRUCTION", "extract_answer"]

ANSWER_INSTRUCTION = (
    "Put your final answer in \\boxed{...} in your last message, for example \\boxed{42}; "
    "if you cannot, end your last message with a line 'Final Answer: <your answer>'."
)
"""The sentence the agents' prompts use to ask for an answer that :func:`extract_answer` finds."""

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_FINAL = re.compile(r"final\s+answer\s*(?:\*\*|__)?\s*:", re.IGNORECASE)


def extract_answer(text: str) -> str:
    r"""The answer in an agent's final message.

    The rule, stated once for every task (and in ``ANSWER_INSTRUCTION``):

    1. the content of the last ``\boxed{...}`` or ``\fbox{...}`` (braces matched,
       ``\{``/``\}`` skipped; ``\boxed 5`` takes one token);
    2. else the rest of the line after the last ``Final Answer:`` (any case,
       markdown bold allowed; the next non-empty line when that one is empty);
    3. else the whole message.

    The result is stripped of surrounding whitespace.

    Args:
        text: the agent's final message.

    Returns:
        The answer text, possibly empty.

    Example:
        >>> extract_answer(r"so $x = \boxed{\frac{1}{2}}$.")
        '\\frac{1}{2}'
        >>> extract_answer("Total: 18 eggs.\nFinal Answer: 18")
        '18'
    """
    for match in reversed(list(_BOX.finditer(text))):
        content = _box_content(text, match.end())
        if content is not None:
            return content.strip()
    finals = list(_FINAL.finditer(text))
    if finals:
        rest = text[finals[-1].end() :]
        for line in rest.splitlines():
            line = line.strip().strip("*_").strip()
            if line:
                return line
        return ""
    return text.strip()


def _box_content(text: str, start: int) -> str | None:
    """Content of the box whose command ends at ``start``; None when it is unclosed or empty-handed."""
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text):
        return None
    if text[i] != "{":
        token = re.match(r"[^\s$]+", text[i:])  # \boxed 5
        return token.group(0) if token else None
    depth = 0
    j = i
    while j < len(text):
        char = text[j]
        if char == "\\":
            j += 2  # an escaped character (\{, \}, \\) never opens or closes the box
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
        j += 1
    return None
