"""Loaders: a task-set spec and a split in, a tuple of Task records out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any, Literal  # Any: JSON records of data files

from fnforge.tasks._data import locate_data
from fnforge.tasks._exceptions import TaskError
from fnforge.tasks._io import Record, file_sha256, get_int, get_str, get_text, read_json, read_jsonl
from fnforge.tasks._model import Task
from fnforge.tasks._score import SCORER_NAMES
from fnforge.tasks._spec import MATH_SUBJECTS, TaskSpec

__all__ = ["Split", "load_tasks"]

Split = Literal["train", "test"]

# TabMWP ships no train split here (see shared/data/tabmwp/SOURCE.md): dev1k is the train pool.
_TABMWP_FILES = {"train": "problems_dev1k.json", "test": "problems_test1k.json"}
_TABMWP_POOLS = {"train": "dev", "test": "test"}


def load_tasks(
    spec: str | TaskSpec,
    split: Split,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    question_field: str = "question",
    answer_field: str = "answer",
    scorer: str = "exact",
) -> tuple[Task, ...]:
    r"""Load every task of a task set's train or test pool, in file order.

    MATH train tasks come from ``math/math_train.jsonl`` and test tasks from
    ``math/math_test.jsonl``; GSM8K from ``gsm8k/{train,test}.jsonl``; TabMWP
    from ``tabmwp/problems_dev1k.json`` (train) and ``problems_test1k.json``
    (test). ``gaia:<dir>`` and ``jsonl:<path>`` have one pool for both splits
    (:func:`make_splits` keeps the two selections apart). MATH rows with an
    empty answer (two train rows upstream have ``\boxed{}``) are left out.

    The three built-in sets are read from ``data_dir`` when it is given, else
    from the copy ``fnforge data pull`` left in ``cache_dir``, else from the
    slice that ships with fnforge (MATH and GSM8K; see :func:`locate_data`).
    The slice is a small part of each pool: :func:`make_splits` serves from it
    only the selections that equal the full data's.

    Args:
        spec: a spec string (``math:algebra@level5``) or a parsed TaskSpec.
        split: ``"train"`` or ``"test"``.
        data_dir: a folder holding ``math/``, ``gsm8k/``, ``tabmwp/`` (laid out
            like ``shared/data``); gaia and jsonl name their own path.
        cache_dir: the folder ``fnforge data pull`` fills, used when ``data_dir`` is None.
        question_field: jsonl only: the field holding the question.
        answer_field: jsonl only: the field holding the reference answer.
        scorer: jsonl only: one of ``SCORER_NAMES`` (default exact match).

    Returns:
        The tasks, in the order of the file.

    Raises:
        TaskSpecError: ``spec`` is a malformed string.
        TaskDataError: a file is missing or a record is corrupt (file and line named).
        DataNotAvailableError: the built-in set is in no folder, no pulled copy and not in the slice.
        TaskError: nothing matched.
        ValueError: ``split`` or ``scorer`` is not a known name.

    Example:
        >>> tasks = load_tasks("math:algebra@level5", "train")  # the built-in slice
        >>> tasks[0].domain, tasks[0].metadata["level"]
        ('math:algebra', 5)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if scorer not in SCORER_NAMES:
        raise ValueError(f"unknown scorer {scorer!r}; expected one of {', '.join(SCORER_NAMES)}")
    parsed = spec if isinstance(spec, TaskSpec) else TaskSpec.parse(spec)
    if parsed.kind == "gaia":
        tasks = _load_gaia(_path(parsed))
    elif parsed.kind == "jsonl":
        tasks = _load_jsonl(_path(parsed), question_field, answer_field, scorer)
    else:
        root = locate_data(parsed.kind, data_dir=data_dir, cache_dir=cache_dir).root
        if parsed.kind == "math":
            tasks = _load_math(parsed, split, root)
        elif parsed.kind == "gsm8k":
            tasks = _load_gsm8k(split, root)
        else:
            tasks = _load_tabmwp(split, root)
    if not tasks:
        raise TaskError(f"task set {str(parsed)!r} has no {split} tasks")
    return tasks


def _path(spec: TaskSpec) -> Path:
    if spec.path is None:  # TaskSpec.parse never leaves it empty for gaia/jsonl
        raise ValueError(f"{spec.kind} spec has no path")
    return spec.path


def _unique(tasks: Iterable[tuple[Record, Task]]) -> tuple[Task, ...]:
    seen: dict[str, int | None] = {}
    out = []
    for record, task in tasks:
        if task.id in seen:
            first = seen[task.id]
            raise record.error(f"duplicate task id {task.id!r}" + (f" (first at line {first})" if first else ""))
        seen[task.id] = record.line
        out.append(task)
    return tuple(out)


def _math_subject(name: str) -> str:
    """``Counting & Probability`` -> ``counting_and_probability``."""
    return "_".join(name.lower().replace("&", "and").split())


def _load_math(spec: TaskSpec, split: Split, root: Path) -> tuple[Task, ...]:
    def rows() -> Iterable[tuple[Record, Task]]:
        for record in read_jsonl(root / "math" / f"math_{split}.jsonl", builtin=True):
            subject = _math_subject(get_str(record, "subject"))
            if subject not in MATH_SUBJECTS:
                raise record.error(f"unknown subject {record.data['subject']!r}")
            unique_id = get_str(record, "unique_id")
            if not unique_id.startswith(f"{split}/"):  # train and test must never mix
                raise record.error(f"unique_id {unique_id!r} is not a {split} problem")
            level = get_int(record, "level", optional=True)
            answer = get_str(record, "answer")
            if not answer.strip():  # upstream \boxed{} (2 train rows): cannot be scored
                continue
            if spec.subject not in (None, subject) or spec.level not in (None, level):
                continue
            yield record, Task(
                id=unique_id,
                question=get_str(record, "problem"),
                answer=answer,
                domain=f"math:{subject}",
                metadata={"subject": subject, "level": level},
            )

    return _unique(rows())


def _load_gsm8k(split: Split, root: Path) -> tuple[Task, ...]:
    def rows() -> Iterable[tuple[Record, Task]]:
        for index, record in enumerate(read_jsonl(root / "gsm8k" / f"{split}.jsonl", builtin=True)):
            solution = get_str(record, "answer")
            head, sep, final = solution.rpartition("####")
            if not sep or not final.strip():
                raise record.error("answer has no final '#### <number>' line")
            # The built-in slice keeps a row's upstream line number as its id: it skips rows.
            task_id = get_str(record, "id") if "id" in record.data else f"{split}/{index}"
            if not task_id.startswith(f"{split}/"):
                raise record.error(f"id {task_id!r} is not a {split} problem")
            yield record, Task(
                id=task_id,
                question=get_str(record, "question"),
                answer=final.strip(),
                domain="gsm8k",
            )

    return _unique(rows())


def _render_tabmwp(problem: Record) -> str:
    """The question text for one TabMWP problem: table, question, unit, options (PromptPG's layout)."""
    title = problem.data.get("table_title")
    table = get_str(problem, "table")
    question = get_str(problem, "question")
    unit = problem.data.get("unit")
    choices = problem.data.get("choices")
    lines = [f"Table: {title}" if title else "Table:", table, ""]
    lines.append(f"Question: {question}" + (f" (Unit: {unit})" if unit else ""))
    if choices:
        lines.append("Options: " + " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices)))
    return "\n".join(lines)


def _load_tabmwp(split: Split, root: Path) -> tuple[Task, ...]:
    path = root / "tabmwp" / _TABMWP_FILES[split]
    problems = read_json(path, builtin=True)
    if not isinstance(problems, dict):
        raise Record({}, path, None).error("expected a JSON object mapping problem ids to problems")
    pool = _TABMWP_POOLS[split]

    def rows() -> Iterable[tuple[Record, Task]]:
        for pid, problem in problems.items():
            if not isinstance(problem, dict):
                raise Record({}, path, None, f"problem {pid}: ").error("expected a JSON object")
            record = Record(problem, path, None, f"problem {pid}: ")
            choices = problem.get("choices")
            if choices is not None and not (
                isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices)
            ):
                raise record.error("field 'choices' must be null or a list of strings")
            unit = problem.get("unit")
            if unit is not None and not isinstance(unit, str):
                raise record.error("field 'unit' must be null or a string")
            answer = get_text(record, "answer")
            if choices and answer not in choices:
                raise record.error(f"answer {answer!r} is not one of the choices")
            metadata: dict[str, Any] = {  # Any: JSON values
                "ques_type": get_str(record, "ques_type"),
                "ans_type": get_str(record, "ans_type"),
                "choices": choices,
                "unit": unit,
                "grade": get_int(record, "grade", optional=True),
            }
            yield record, Task(
                id=f"{pool}/{pid}", question=_render_tabmwp(record), answer=answer,
                domain="tabmwp", metadata=metadata,
            )

    return _unique(rows())


def _load_gaia(folder: Path) -> tuple[Task, ...]:
    def rows() -> Iterable[tuple[Record, Task]]:
        for record in read_jsonl(folder / "metadata.jsonl"):
            question = get_str(record, "Question")
            metadata: dict[str, Any] = {"level": get_int(record, "Level", optional=True)}  # Any: JSON
            attachments: tuple[str, ...] = ()
            name = record.data.get("file_name") or ""
            if not isinstance(name, str):
                raise record.error("field 'file_name' must be a string")
            if name:
                if PurePath(name).name != name or name in (".", ".."):
                    raise record.error(f"attachment {name!r} must be a plain file name")
                file = folder / name
                if not file.is_file():
                    raise record.error(f"attachment {name!r} not found in {folder}")
                metadata["attachment_sha256"] = {name: file_sha256(file)}
                attachments = (str(file.resolve()),)
                question += f"\n\nAttached file: {name} (in your working directory)"
            yield record, Task(
                id=get_text(record, "task_id"), question=question,
                answer=get_text(record, "Final answer"), domain="gaia",
                metadata=metadata, attachments=attachments,
            )

    return _unique(rows())


def _load_jsonl(path: Path, question_field: str, answer_field: str, scorer: str) -> tuple[Task, ...]:
    def rows() -> Iterable[tuple[Record, Task]]:
        for record in read_jsonl(path):
            task_id = get_text(record, "id") if "id" in record.data else f"line{record.line}"
            yield record, Task(
                id=task_id, question=get_str(record, question_field),
                answer=get_text(record, answer_field), domain="jsonl",
                metadata={} if scorer == "exact" else {"scorer": scorer},
            )

    return _unique(rows())
