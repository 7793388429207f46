"""Task-set spec strings: ``gsm8k``, ``math:<subject>[@level<N>]``, ``tabmwp``, ``gaia:<dir>``, ``jsonl:<path>``."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fnforge.tasks._exceptions import TaskSpecError

__all__ = ["MATH_SUBJECTS", "SPEC_FORMS", "TaskKind", "TaskSpec"]

TaskKind = Literal["gaia", "gsm8k", "jsonl", "math", "tabmwp"]

MATH_SUBJECTS: tuple[str, ...] = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)
"""The seven MATH subjects, in snake case as spec strings name them."""

SPEC_FORMS = "gsm8k, math[:<subject>][@level<N>], tabmwp, gaia:<dir>, jsonl:<path>"
"""The accepted spec forms, as error messages and ``--help`` state them."""

_LEVEL = re.compile(r"level([1-5])")


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSpec:
    """A parsed task-set name.

    Args:
        kind: the dataset family.
        subject: MATH subject in snake case, or None for every subject.
        level: MATH difficulty 1-5, or None for every level.
        path: the directory (gaia) or file (jsonl) the tasks come from.

    Example:
        >>> TaskSpec.parse("math:algebra@level5")
        TaskSpec(kind='math', subject='algebra', level=5, path=None)
        >>> str(TaskSpec.parse("math@level2"))
        'math@level2'
    """

    kind: TaskKind
    subject: str | None = None
    level: int | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> TaskSpec:
        """Parse a spec string as given on the command line.

        Args:
            text: e.g. ``gsm8k``, ``math:number_theory``, ``math:algebra@level5``,
                ``tabmwp``, ``gaia:data/gaia/validation``, ``jsonl:qa.jsonl``.

        Returns:
            The spec.

        Raises:
            TaskSpecError: the text names no known task set or has a bad subject/level.
        """
        raw = text.strip()
        head = re.split(r"[:@]", raw, maxsplit=1)[0]
        rest = raw[len(head):]
        kind = _KINDS.get(head.strip().lower())
        if kind is None:
            hint = _suggest(head.strip().lower(), tuple(_KINDS))
            raise TaskSpecError(text, f"unknown task set{hint}; expected one of {SPEC_FORMS}")
        if kind in ("gaia", "jsonl"):
            path = rest[1:].strip() if rest.startswith(":") else ""
            if not path:
                raise TaskSpecError(text, f"{kind} needs a path, e.g. {kind}:{_EXAMPLE_PATH[kind]}")
            return cls(kind=kind, path=Path(path))
        if kind == "math":
            return cls._parse_math(text, rest[1:] if rest.startswith(":") else rest)
        if rest:
            raise TaskSpecError(text, f"{kind} takes no ':' or '@' argument")
        return cls(kind=kind)

    @classmethod
    def _parse_math(cls, text: str, arg: str) -> TaskSpec:
        subject_part, at, level_part = arg.partition("@")
        subject = subject_part.strip().lower() or None
        if subject is not None and subject not in MATH_SUBJECTS:
            hint = _suggest(subject.replace("-", "_").replace(" ", "_"), MATH_SUBJECTS)
            raise TaskSpecError(
                text, f"unknown MATH subject {subject!r}{hint}; subjects: {', '.join(MATH_SUBJECTS)}"
            )
        level = None
        if at:
            match = _LEVEL.fullmatch(level_part.strip().lower())
            if match is None:
                raise TaskSpecError(text, f"bad level {level_part!r}; expected level1 to level5")
            level = int(match.group(1))
        return cls(kind="math", subject=subject, level=level)

    @property
    def shared_pool(self) -> bool:
        """True when train and test tasks come from one pool (gaia, jsonl)."""
        return self.kind in ("gaia", "jsonl")

    def __str__(self) -> str:
        """The canonical spec string; ``TaskSpec.parse(str(spec)) == spec``."""
        if self.kind == "math":
            text = "math" + (f":{self.subject}" if self.subject else "")
            return text + (f"@level{self.level}" if self.level is not None else "")
        if self.path is not None:
            return f"{self.kind}:{self.path}"
        return self.kind


_KINDS: dict[str, TaskKind] = {
    "gsm8k": "gsm8k", "math": "math", "tabmwp": "tabmwp", "gaia": "gaia", "jsonl": "jsonl",
}
_EXAMPLE_PATH = {"gaia": "data/gaia/2023/validation", "jsonl": "tasks.jsonl"}


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
