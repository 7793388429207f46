"""The gate's rules over a parsed tree: the module's shape, its imports and the names it uses.

Each rule is one small function returning :class:`Problem` s (``_check.py``
runs them in order). Nothing here executes the source.

- :func:`shape_problems`: exactly one top-level ``def <name>``; otherwise only
  imports, docstrings and constant assignments.
- :func:`import_problems`: every import names an allowed module and an
  exposed name. It also returns the local aliases of allowed modules, so that
- :func:`attribute_problems` can catch ``np.fromfile`` through an alias here
  rather than at run time, and
- :func:`name_problems` reports builtins the sandbox does not provide
  (``open``, ``globals``, ``type(a, b, c)``...) by name instead of as a later
  NameError; names the code binds itself are not reported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from fnforge.functions import Problem
from fnforge.sandbox.runtime._modules import DENIED, EXPOSED, SUBMODULES

__all__ = ["attribute_problems", "bound_names", "import_problems", "name_problems", "shape_problems"]

_UNAVAILABLE = {
    "open": "no file access", "input": "no console", "breakpoint": "no debugger",
    "globals": "no namespace access", "locals": "no namespace access", "vars": "no namespace access",
    "dir": "no introspection", "compile": "no code generation", "memoryview": "no raw memory",
    "setattr": "assign attributes directly", "delattr": "delete attributes directly",
    "object": "no base-object access", "super": "no base-class access", "id": "no addresses",
    "help": "no console", "exit": "no interpreter control", "quit": "no interpreter control",
    "copyright": "no console", "credits": "no console", "license": "no console",
}
_SNIPPET_NAMES = frozenset({"open"})  # in _UNAVAILABLE for functions, provided to snippets
_NOT_CONSTANT = (ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                 ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)


# --- shape --------------------------------------------------------------------------------------


def shape_problems(tree: ast.Module, name: str) -> list[Problem]:
    """One top-level ``def <name>``; the rest only imports, a docstring and constants."""
    problems = [problem for index, stmt in enumerate(tree.body)
                if (problem := _top_level_problem(index, stmt, name)) is not None]
    defs = [stmt for stmt in tree.body if isinstance(stmt, ast.FunctionDef) and stmt.name == name]
    problems += [Problem(rule="top-level", line=stmt.lineno, message=f"'{name}' is defined twice; keep one "
                         "definition") for stmt in defs[1:]]
    if not defs:
        problems.append(Problem(rule="missing-def", message=(
            f"the source must define a top-level function named '{name}' (def {name}(...):)")))
    return problems


def _top_level_problem(index: int, stmt: ast.stmt, name: str) -> Problem | None:
    line = stmt.lineno
    if isinstance(stmt, ast.FunctionDef):
        if stmt.name == name:
            return None
        return Problem(rule="top-level", line=line,
                       message=f"only one top-level def is allowed; move helper '{stmt.name}' inside '{name}'")
    if isinstance(stmt, ast.AsyncFunctionDef):
        return Problem(rule="top-level", line=line, message="async functions are not allowed; use a plain def")
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and index == 0:
        return None
    if isinstance(stmt, ast.Assign) and not any(isinstance(n, _NOT_CONSTANT) for n in ast.walk(stmt.value)):
        return None
    return Problem(rule="top-level", line=line, message=(
        f"top-level code may only be imports, a docstring, constant assignments "
        f"(no calls) and the def of '{name}'; move this statement into '{name}'"))


# --- imports and module attributes --------------------------------------------------------------


def import_problems(tree: ast.Module, allowed: set[str]) -> tuple[list[Problem], dict[str, str]]:
    """Problems of every import, and local name -> allowed module it binds."""
    shown = ", ".join(sorted(allowed))
    problems: list[Problem] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            problems += _plain_import(node, allowed, shown, aliases)
        elif isinstance(node, ast.ImportFrom):
            problems += _from_import(node, allowed, shown, aliases)
    return problems, aliases


def _plain_import(node: ast.Import, allowed: set[str], shown: str, aliases: dict[str, str]) -> list[Problem]:
    problems = []
    for alias in node.names:
        if alias.name not in allowed:
            problems.append(_import_problem(node, alias.name, shown))
            continue
        local = alias.asname or alias.name.split(".")[0]
        aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]
    return problems


def _from_import(node: ast.ImportFrom, allowed: set[str], shown: str, aliases: dict[str, str]) -> list[Problem]:
    module = node.module or ""
    if node.level:
        return [Problem(rule="import", line=node.lineno, message="relative imports are not allowed")]
    if module != "__future__" and module not in allowed:
        return [_import_problem(node, module, shown)]
    problems = []
    for alias in node.names:
        full = resolve(module, alias.name, allowed)
        if full is None and alias.name != "*":
            problems.append(_attribute_problem(node, module, alias.name))
        elif full in EXPOSED:
            aliases[alias.asname or alias.name] = full
    return problems


def attribute_problems(tree: ast.Module, aliases: dict[str, str], allowed: set[str]) -> list[Problem]:
    """``alias.name`` reads of names a module proxy hides (``np.fromfile``)."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            owner = _module_of(node.value, aliases, allowed)
            if owner is not None and resolve(owner, node.attr, allowed) is None:
                problems.append(_attribute_problem(node, owner, node.attr))
    return problems


def resolve(module: str, attr: str, allowed: set[str]) -> str | None:
    """The dotted name ``module.attr`` refers to, or None when the proxy hides it."""
    if attr in SUBMODULES.get(module, ()):
        return f"{module}.{attr}" if f"{module}.{attr}" in allowed else None
    return f"{module}.{attr}" if attr in EXPOSED.get(module, ()) else None


def _module_of(node: ast.expr, aliases: dict[str, str], allowed: set[str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _module_of(node.value, aliases, allowed)
        if parent is not None and node.attr in SUBMODULES.get(parent, ()):
            full = f"{parent}.{node.attr}"
            return full if full in allowed else None
    return None


def _import_problem(node: ast.stmt, module: str, shown: str) -> Problem:
    return Problem(rule="import", line=node.lineno,
                   message=f"import of '{module}' is not allowed; allowed modules: {shown}")


def _attribute_problem(node: ast.AST, module: str, attr: str) -> Problem:
    full = f"{module}.{attr}"
    why = DENIED.get(full)
    reason = f" ({why})" if why else " (not on the sandbox allow-list)"
    if attr.startswith("_"):
        reason = " (private names are never available)"
    return Problem(rule="module-attribute", line=getattr(node, "lineno", None),
                   message=f"{full} is not available in the sandbox{reason}")


# --- names ---------------------------------------------------------------------------------------


def bound_names(tree: ast.Module) -> set[str]:
    """Every name the code binds itself: parameters, defs, classes, assignment and except targets."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.Lambda, ast.AsyncFunctionDef)):
            bound.update(_parameters(node.args))
            if not isinstance(node, ast.Lambda):
                bound.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.ClassDef, ast.ExceptHandler)) and node.name:
            bound.add(node.name)
    return bound


def _parameters(args: ast.arguments) -> Iterable[str]:
    yield from (a.arg for a in args.posonlyargs + args.args + args.kwonlyargs)
    yield from (a.arg for a in (args.vararg, args.kwarg) if a is not None)


def name_problems(tree: ast.Module, bound: set[str], *, snippet: bool) -> list[Problem]:
    """Builtins the sandbox does not provide, and ``type()`` with more than one argument."""
    problems = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and node.id in _UNAVAILABLE and node.id not in bound
                and not (snippet and node.id in _SNIPPET_NAMES)):
            problems.append(Problem(rule="name", line=node.lineno, message=(
                f"'{node.id}' is not available in the sandbox ({_UNAVAILABLE[node.id]})")))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "type" and len(node.args) + len(node.keywords) != 1):
            problems.append(Problem(rule="name", line=node.lineno, message=(
                "type() takes exactly one argument in the sandbox; classes are made with 'class'")))
    return problems
