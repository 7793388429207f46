"""Every docstring example in the fnforge packages runs (doctest), against a fresh toolset where it needs one."""

from __future__ import annotations

import doctest
import importlib
import inspect
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


class _Finder(doctest.DocTestFinder):
    """Finds the examples of every fnforge object a module holds: an export's ``__module__`` names its package,
    not the module that defines it, which the standard finder takes for an import from elsewhere."""

    def _from_module(self, module: object, object: object) -> bool:  # noqa: A002  # the base's names
        return str(getattr(object, "__module__", None) or "").startswith("fnforge")

    def _get_test(self, obj: object, name: str, module: object, globs: dict[str, Any],
                  source_lines: list[str] | None) -> doctest.DocTest:
        """The example runs with the names of its package and of the module whose source holds it."""
        homes = [sys.modules.get(str(getattr(obj, "__module__", "")))]
        try:
            homes.append(_module_of_file(inspect.getsourcefile(obj)))  # type: ignore[arg-type]
        except TypeError:
            pass  # a module or a property: no source file of its own
        merged = {**globs}
        for home in homes:
            merged.update(vars(home) if home is not None else {})
        return super()._get_test(obj, name, module, merged, source_lines)  # type: ignore[misc]


def _module_of_file(filename: str | None) -> object | None:
    return next((m for m in list(sys.modules.values())
                 if filename is not None and getattr(m, "__file__", None) == filename), None)


def _examples() -> list[doctest.DocTest]:
    finder = _Finder(exclude_empty=True)
    found: dict[str, doctest.DocTest] = {}
    for name in _modules():
        for test in finder.find(importlib.import_module(name), name):
            if test.examples and test.docstring is not None:  # one docstring, found through several modules
                found.setdefault(test.docstring, test)
    return sorted(found.values(), key=lambda t: t.name)


EXAMPLES = _examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_example_does_run(example: doctest.DocTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {**example.globs, **example_namespace(example, tmp_path)}
    test = doctest.DocTest(example.examples, globs, example.name, example.filename, example.lineno,
                           example.docstring)
    output: list[str] = []
    result = runner.run(test, out=output.append, clear_globs=True)
    assert result.failed == 0, "".join(output)


def test_docstring_examples_are_never_skipped() -> None:
    skipped = [f"{path}:{number}" for package in PACKAGES if package is not fnforge
               for path in sorted(Path(package.__path__[0]).rglob("*.py"))
               for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if "doctest: +SKIP" in line]
    assert not skipped, "examples must run or be shown as plain code: " + ", ".join(skipped)
