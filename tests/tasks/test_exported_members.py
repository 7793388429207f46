from __future__ import annotations

import doctest
import importlib

import pytest

from fnforge import tasks


def test_all_is_sorted_and_complete() -> None:
    public = sorted(name for name in dir(tasks) if not name.startswith("_") and name != "annotations")
    assert tasks.__all__ == sorted(tasks.__all__)
    assert set(public) - {"tasks"} >= set(tasks.__all__)


def test_exported_classes_report_the_package_as_module() -> None:
    classes = [getattr(tasks, n) for n in tasks.__all__ if isinstance(getattr(tasks, n), type)]
    assert classes and all(c.__module__ == "fnforge.tasks" for c in classes)


def test_task_errors_subclass_fnforge_error_with_exit_codes() -> None:
    from fnforge.functions import FnforgeError

    assert issubclass(tasks.TaskError, FnforgeError)
    assert tasks.TaskError.exit_code == 6
    assert tasks.TaskDataError.exit_code == 6
    assert tasks.TaskSplitError.exit_code == 6
    assert tasks.TaskSpecError.exit_code == 2


@pytest.mark.parametrize("module", ["fnforge.tasks", *(f"fnforge.tasks.{name}" for name in (
    "_catalog", "_data", "_extract", "_inventory", "_loaders", "_math", "_math_archive", "_numbers", "_score", "_split"))])
def test_docstring_examples_do_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
