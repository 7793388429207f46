"""Text from untrusted sources, made safe to print on a terminal.

Function output, commit subjects and messages, function names, descriptions
and code, notes and verification findings all come from code or repositories
someone else wrote. Printed raw, an escape sequence in them drives the
terminal: OSC 52 writes the clipboard, OSC 0 the window title, CSI sequences
move the cursor and hide or rewrite earlier lines, ``\\r`` overprints a line,
and bidirectional controls reorder what the eye reads ("Trojan source").
:func:`visible` shows every such character as a ``\\u`` escape instead; the
text stays readable, and JSON printed through it stays valid JSON (its
``\\uXXXX`` escapes are JSON's own).

Made visible: every C0 and C1 control character and DEL (``\\n``, and ``\\t``
too, are kept when the text is printed as several lines), the Unicode line
and paragraph separators, the bidirectional controls, and lone surrogates.

Example:
    >>> visible("ok\\x1b]52;c;cHduZWQ=\\x07")
    'ok\\\\u001b]52;c;cHduZWQ=\\\\u0007'
"""

from __future__ import annotations

import re

__all__ = ["visible", "visible_lines"]

_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_ONE_LINE = re.compile(f"[\n\t{_UNSAFE}]")
_LINES = re.compile(f"[{_UNSAFE}]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible(text: object) -> str:
    """``text`` as one line with every control, separator and bidi character shown as ``\\uXXXX``."""
    return _ONE_LINE.sub(_escape, str(text))


def visible_lines(text: object) -> str:
    """Like :func:`visible`, but newlines and tabs are kept (code, printed output, commit bodies)."""
    return _LINES.sub(_escape, str(text))
