"""Reading Python source that a model wrapped in a Markdown fence: :func:`read_code`.

Models often send code as a Markdown block, with a sentence around it, or
with the closing fence missing when the reply was cut short. Source that
parses as Python is taken as it is; otherwise exactly one block tagged as
Python (or untagged) is taken, and anything else is refused with a reason the
model can act on. :func:`fenced_blocks` is also how the JSON reader
(:mod:`agents._lenient`) finds arguments sent in a fence.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Any  # Any: ast.parse's result (an ast.Module or ast.Expression, by mode)

__all__ = ["CodeRead", "fenced_blocks", "parse_quietly", "read_code"]

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_FENCE_LINE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})", re.M)
_PYTHON_TAGS = frozenset({"", "python", "python3", "py", "py3"})


@dataclass(frozen=True, slots=True)
class CodeRead:
    """The result of :func:`read_code`: the Python ``code``, or ``error`` to show the model.

    ``unfenced`` is true when a Markdown fence (and any text around it) was removed.
    """

    code: str
    error: str | None = None
    unfenced: bool = False


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``[(language tag, content)]`` of the Markdown fenced blocks in ``text``.

    Example:
        >>> fenced_blocks("Sure:\\n```JSON\\n{}\\n```")
        [('json', '{}\\n')]
    """
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]


def read_code(text: str) -> CodeRead:
    """Python source sent as a string, with a Markdown fence (and text around it) removed.

    Source that already parses as Python is returned unchanged. Otherwise one
    fenced block tagged ``python``/``py`` (or untagged) is taken, with or
    without a sentence around it, as is a fence left open at the end of a
    reply cut short. Several blocks, or a block in another language, are
    refused with the reason.

    Example:
        >>> read_code("Here it is:\\n```python\\nprint(1)\\n```").code
        'print(1)\\n'
        >>> read_code("```python\\na = 1\\n```\\n```python\\nb = 2\\n```").error[:40]
        'the code holds 2 Markdown code blocks; s'
    """
    if _FENCE_LINE.search(text) is None or _parses(text):
        return CodeRead(text)
    blocks = fenced_blocks(text)
    if len(blocks) > 1:
        return CodeRead(text, f"the code holds {len(blocks)} Markdown code blocks; send the Python source "
                              "only, as one block of code without ``` fences")
    if len(blocks) == 1:
        tag, code = blocks[0]
        if tag not in _PYTHON_TAGS:
            return CodeRead(text, f"the code is a Markdown block of {tag!r}, not Python; send the Python "
                                  "source only, without ``` fences")
        return CodeRead(code, unfenced=True)
    opening = re.match(r"\s*(?:`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n", text)
    if opening and opening.group(1).lower() in _PYTHON_TAGS and _FENCE_LINE.search(text, opening.end()) is None:
        return CodeRead(text[opening.end():], unfenced=True)  # the closing fence was never written
    return CodeRead(text, "the code is wrapped in a Markdown fence that could not be read; send the Python "
                          "source only, without ``` fences")


def parse_quietly(text: str, mode: str) -> Any:
    """``ast.parse`` without its warnings: an invalid escape such as ``"\\/"`` must
    read the same whatever the warning filters are (and print nothing).

    Example:
        >>> type(parse_quietly("1 + 1", "eval")).__name__
        'Expression'
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text, mode=mode)


def _parses(code: str) -> bool:
    try:
        parse_quietly(code, "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True
