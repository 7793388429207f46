r"""The one answer rule: thinking aside, the last ``\boxed{...}``, else after ``Final Answer:``, else the whole message."""

from __future__ import annotations

import re

__all__ = ["ANSWER_INSTRUCTION", "explicit_answer", "extract_answer", "split_thinking"]

ANSWER_INSTRUCTION = (
    "Put your final answer in \\boxed{...} in your last message, for example \\boxed{42}; "
    "if you cannot, end your last message with a line 'Final Answer: <your answer>'."
)
"""The sentence the agents' prompts use to ask for an answer that :func:`extract_answer` finds."""

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_FINAL = re.compile(r"final\s+answer\s*(?:\*\*|__)?\s*:", re.IGNORECASE)
_THINK_TAG = re.compile(r"<(/?)(?:think|thinking)\s*>", re.IGNORECASE)


def split_thinking(text: str) -> tuple[str, str]:
    """``(visible text, thinking)``: a reasoning model's message with its thinking taken out.

    Reasoning models served without a reasoning parser (DeepSeek-R1, QwQ, Qwen3
    on Ollama, vLLM, llama.cpp, LM Studio) write their thinking into the message
    itself. Read as thinking:

    - every ``<think>...</think>`` (or ``<thinking>``) block;
    - an unclosed ``<think>``: everything after it (a reply cut at the token
      limit while thinking has no visible part there);
    - text before a ``</think>`` that has no opening tag (DeepSeek-R1's chat
      template opens the block in the prompt, so the reply starts inside it).

    A message without these tags is returned unchanged, with empty thinking.

    Example:
        >>> split_thinking("<think>Is it 999? No.</think>It is 45.")
        ('It is 45.', 'Is it 999? No.')
    """
    if _THINK_TAG.search(text) is None:
        return text, ""
    pieces: list[tuple[bool, str]] = []  # (is thinking, text), in order
    inside, pos = False, 0
    for tag in _THINK_TAG.finditer(text):
        pieces.append((inside, text[pos:tag.start()]))
        pos = tag.end()
        if tag.group(1) != "/":
            inside = True
        elif inside:
            inside = False
        else:  # a closing tag never opened: everything before it was thinking
            pieces = [(True, piece) for _, piece in pieces]
    pieces.append((inside, text[pos:]))
    visible = "".join(piece for thinking, piece in pieces if not thinking)
    thought = "\n".join(piece.strip() for thinking, piece in pieces if thinking and piece.strip())
    return visible.strip(), thought


def explicit_answer(text: str) -> str | None:
    r"""The answer the message marks explicitly, thinking aside; ``None`` if it marks none.

    Rules 1 and 2 of :func:`extract_answer`: the last ``\boxed{}``, else the
    ``Final Answer:`` line.

    Example:
        >>> explicit_answer("Let me see. 7?") is None
        True
        >>> explicit_answer("<think>\\boxed{9}</think>Final Answer: 7")
        '7'
    """
    visible, _ = split_thinking(text)
    for match in reversed(list(_BOX.finditer(visible))):
        content = _box_content(visible, match.end())
        if content is not None:
            return content.strip()
    finals = list(_FINAL.finditer(visible))
    if finals:
        rest = visible[finals[-1].end() :]
        for line in rest.splitlines():
            line = line.strip().strip("*_").strip()
            if line:
                return line
        return ""
    return None


def extract_answer(text: str) -> str:
    r"""The answer in an agent's final message.

    The rule, stated once for every task (and in ``ANSWER_INSTRUCTION``). First
    the thinking is taken out (:func:`split_thinking`: ``<think>`` blocks; a
    separate ``reasoning_content`` field never reaches this function). Then:

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
        >>> extract_answer(r"<think>Is it \boxed{999}? No.</think>Final Answer: 45")
        '45'
    """
    answer = explicit_answer(text)
    return answer if answer is not None else split_thinking(text)[0].strip()


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
