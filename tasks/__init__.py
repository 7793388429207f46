"""What agents are judged on: task loaders, the answer rule, scorers, seeded splits, and the data they read.

The built-in datasets (MATH, GSM8K, TabMWP) are read from a folder the caller
names, else from the copy :func:`pull_data` fetched, else from the small slice
of MATH and GSM8K that ships with fnforge (:func:`locate_data`).

Example:
    >>> from fnforge.tasks import extract_answer, score, Task
    >>> task = Task(id="test/0", question="2+2?", answer="4", domain="gsm8k")
    >>> score(task, extract_answer(r"It is \\boxed{4}."))
    True
"""

from __future__ import annotations

from fnforge.tasks._catalog import DATASETS, DEFAULT_DATA_URL, DataFile, Dataset
from fnforge.tasks._data import BUILTIN_DATA_DIR, SLICE_SEED, DataSource, locate_data
from fnforge.tasks._exceptions import (
    DataNotAvailableError,
    DataPullError,
    ScoringTimeout,
    TaskDataError,
    TaskError,
    TaskSpecError,
    TaskSplitError,
)
from fnforge.tasks._inventory import DataEntry, data_inventory
from fnforge.tasks._extract import ANSWER_INSTRUCTION, explicit_answer, extract_answer, split_thinking
from fnforge.tasks._loaders import Split, load_tasks
from fnforge.tasks._math import score_math
from fnforge.tasks._model import Task
from fnforge.tasks._numbers import parse_number
from fnforge.tasks._pool import ScoringPool
from fnforge.tasks._pull import DownloadProgress, PulledFile, PullResult, pull_data
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
    "BUILTIN_DATA_DIR",
    "DATASETS",
    "DEFAULT_DATA_URL",
    "DataEntry",
    "DataFile",
    "DataNotAvailableError",
    "DataPullError",
    "DataSource",
    "Dataset",
    "DownloadProgress",
    "MATH_SUBJECTS",
    "PullResult",
    "PulledFile",
    "SCORER_NAMES",
    "SLICE_SEED",
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
    "data_inventory",
    "explicit_answer",
    "extract_answer",
    "load_tasks",
    "locate_data",
    "make_splits",
    "parse_number",
    "pull_data",
    "score",
    "score_choice",
    "score_exact",
    "score_gaia",
    "score_math",
    "score_numeric",
    "scorer_name",
    "select_split",
    "selection_hash",
    "split_thinking",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "fnforge.tasks"
