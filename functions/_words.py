"""Counted nouns in messages: ``1 function``, ``2 functions`` (one rule for every package's text)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is 1 (``many`` for irregular plurals).

    Example:
        >>> plural(1, "function"), plural(3, "step"), plural(2, "branch", "branches")
        ('1 function', '3 steps', '2 branches')
    """
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
