"""Every docstring example in the fnforge packages runs (doctest), against a fresh toolset where it needs one."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

import pytest

import fnforge
import fnforge.agents
import fnforge.cli
import fnforge.functions
import fnforge.optimizer
import fnforge.registry
import fnforge.sandbox
import fnforge.tasks
from tests.doctest_namespace import example_namespace

PACKAGES = (fnforge, fnforge.agents, fnforge.cli, fnforge.functions, fnforge.optimizer, fnforge.registry,
            fnforge.sandbox, fnforge.tasks)


def _modules() -> list[str]:
    """Every module of the packages (each repository folder is mapped to its package, so walk each)."""
    names = {package.__name__ for package in PACKAGES}
    for package in PACKAGES:
        names.update(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
    return sorted(n for n in names if not n.endswith("__main__"))


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found: dict[str, doctest.DocTest] = {}
    for name in _modules():
        for test in finder.find(importlib.import_module(name), name):
            if test.examples and test.name.startswith(name):  # not a re-exported object's, found again
                found.setdefault(test.name, test)
    return sorted(found.values(), key=lambda t: t.name)


EXAMPLES = _examples()


def _defining_globals(filename: str | None) -> dict[str, Any]:
    """The globals of the module in ``filename`` (an export's docstring is found through its package, whose
    globals lack what the defining module imports)."""
    for module in list(sys.modules.values()):
        if filename is not None and getattr(module, "__file__", None) == filename:
            return dict(vars(module))
    return {}


@pytest.mark.parametrize("example", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_example_does_run(example: doctest.DocTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {**example.globs, **_defining_globals(example.filename), **example_namespace(example, tmp_path)}
    test = doctest.DocTest(example.examples, globs, example.name, example.filename, example.lineno,
                           example.docstring)
    output: list[str] = []
    result = runner.run(test, out=output.append, clear_globs=True)
    assert result.failed == 0, "".join(output)
