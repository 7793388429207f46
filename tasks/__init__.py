"""What agents are judged on: task loaders, the answer rule, scorers and seeded splits.

Example:
    >>> from tasks import extract_answer, score, Task
    >>> task = Task(id="test/0", question="2+2?", answer="4", domain="gsm8k")
    >>> score(task, extract_answer(r"It is \\boxed{4}."))
    True
"""

from __future__ import annotations

from fnforge.tasks._exceptions import ScoringTimeout, TaskDataError, TaskError, TaskSpecError, TaskSplitError
from fnforge.tasks._extract import ANSWER_INSTRUCTION, extract_answer
from fnforge.tasks._loaders import Split, load_tasks
from fnforge.tasks._math import score_math
from fnforge.tasks._model import Task
from fnforge.tasks._numbers import parse_number
from fnforge.tasks._pool import ScoringPool
from fnforge.tasks._score import (
    SCORER_NAMES,
    score,
    score_choice,
    score_exact,
    score_gaia,
    score_numeric,
    scorer_name,
)
from fnforge.tasks._spec import MATH_SUBJECTS, SPEC_FORMS, TaskKind, TaskSpec
from fnforge.tasks._split import TaskSplit, TaskSplits, make_splits, select_split, selection_hash

__all__ = [
    "ANSWER_INSTRUCTION",
    "MATH_SUBJECTS",
    "SCORER_NAMES",
    "SPEC_FORMS",
    "ScoringPool",
    "ScoringTimeout",
    "Split",
    "Task",
    "TaskDataError",
    "TaskError",
    "TaskKind",
    "TaskSpec",
    "TaskSpecError",
    "TaskSplit",
    "TaskSplitError",
    "TaskSplits",
    "extract_answer",
    "load_tasks",
    "make_splits",
    "parse_number",
    "score",
    "score_choice",
    "score_exact",
    "score_gaia",
    "score_math",
    "score_numeric",
    "scorer_name",
    "select_split",
    "selection_hash",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "fnforge.tasks"
