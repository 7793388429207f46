"""The static gate: every rule a function's source must pass before it may run.

Nothing here executes the source. Rules, in order (a later rule is skipped
when an earlier one makes it meaningless):

1. ``size`` / ``syntax`` / ``depth``: at most ``max_source_chars``
   characters, parseable, at most ``max_ast_nodes`` nodes and
   ``max_ast_depth`` levels (counted without recursion, before anything
   recursive touches the tree).
2. ``top-level`` / ``missing-def``: exactly one top-level ``def <name>``;
   otherwise only imports, docstrings and constant assignments (no calls,
   loops or classes at module level: they would run on every load).
3. ``import`` / ``module-attribute``: every import names an allowed module
   and an exposed name; ``np.fromfile`` through a known alias is caught here
   rather than at run time.
4. ``name``: builtins the sandbox does not provide (``open``, ``globals``,
   ``type(a, b, c)``...) are reported by name instead of as a later NameError.
   ``open`` is allowed in ``run_code`` snippets only: there it is the
   read-only ``open`` of the call's files (``_files.py``). Learned functions
   stay free of I/O (a snippet reads a file and passes its contents), so a
   function's result depends on its arguments alone.
5. ``restricted``: RestrictedPython 9 with :class:`FnforgeTransformer`
   (no ``_`` names or attributes, no ``exec``/``eval``, no frame attributes,
   no ``except*``, no ``async``...).

Each :class:`Problem` is one sentence with its line, e.g.
``line 4: import of 'os' is not allowed; allowed modules: math, sympy``.
"""

from __future__ import annotations

import ast
import re
import types
from dataclasses import dataclass
from typing import Any, cast  # Any: RestrictedPython's untyped compile functions

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec

from fnforge.functions import Problem
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.gate._rules import attribute_problems, bound_names, import_problems, name_problems, shape_problems
from fnforge.sandbox.gate._transformer import FnforgeTransformer

__all__ = ["Compiled", "check", "compile_function", "compile_snippet"]

SNIPPET = "<run_python>"

_RP_LINE = re.compile(r"^Line (\d+|None): (.*)$", re.S)


@dataclass(frozen=True, slots=True, kw_only=True)
class Compiled:
    """Restricted code objects for a function (``body``) or a snippet (``body`` + ``last``)."""

    body: types.CodeType | None
    last: types.CodeType | None
    problems: tuple[Problem, ...]


def check(source: str, name: str, policy: SandboxPolicy | None = None) -> list[Problem]:
    """Check one function's source against the sandbox rules without running it.

    Args:
        source: Python source that must define ``def <name>(...)`` at top level.
        name: the function's declared name.
        policy: allow-lists and limits; the strict default when omitted.

    Returns:
        Every broken rule, sorted by line; empty when the source may run.

    Raises:
        TypeError: ``source`` or ``name`` is not a string.

    Example:
        >>> [str(p) for p in check("import os\\ndef f():\\n    return 1\\n", "f")][0][:33]
        "line 1: import of 'os' is not all"
    """
    return list(compile_function(source, name, policy or SandboxPolicy()).problems)


def compile_function(source: str, name: str, policy: SandboxPolicy) -> Compiled:
    """Check and, when clean, compile a function's module source (no code runs)."""
    if not isinstance(source, str) or not isinstance(name, str):
        raise TypeError("source and name must be strings")
    tree, problems = _parse(source, f"{name}.py", policy)
    if tree is None:
        return Compiled(body=None, last=None, problems=tuple(problems))
    problems += shape_problems(tree, name)
    problems += _semantics(tree, policy, snippet=False)
    if not problems:
        code, problems = _restricted(compile_restricted_exec, source, f"{name}.py")
        return Compiled(body=code, last=None, problems=tuple(problems))
    return Compiled(body=None, last=None, problems=tuple(_sorted(problems)))


def compile_snippet(source: str, policy: SandboxPolicy) -> Compiled:
    """Check and compile a ``run_code`` snippet; a final expression compiles separately."""
    if not isinstance(source, str):
        raise TypeError("code must be a string")
    tree, problems = _parse(source, SNIPPET, policy)
    if tree is None:
        return Compiled(body=None, last=None, problems=tuple(problems))
    problems += _semantics(tree, policy, snippet=True)
    if problems:
        return Compiled(body=None, last=None, problems=tuple(_sorted(problems)))
    last_node = cast(ast.Expr, tree.body.pop()) if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body, problems = _restricted(compile_restricted_exec, tree, SNIPPET)
    last = None
    if last_node is not None and not problems:
        expression = ast.Expression(body=last_node.value)
        last, problems = _restricted(compile_restricted_eval, expression, SNIPPET)
    return Compiled(body=body, last=last, problems=tuple(problems))


def _parse(source: str, filename: str, policy: SandboxPolicy) -> tuple[ast.Module | None, list[Problem]]:
    if len(source) > policy.max_source_chars:
        return None, [Problem(rule="size", message=f"the source has {len(source)} characters; "
                              f"the limit is {policy.max_source_chars}")]
    if "\0" in source:
        return None, [Problem(rule="syntax", message="the source contains a NUL character")]
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return None, [Problem(rule="syntax", message=f"syntax error: {exc.msg}", line=exc.lineno)]
    except (MemoryError, RecursionError, ValueError, OverflowError):
        return None, [Problem(rule="depth", message="the source is too deeply nested to parse")]
    count, deepest = 0, 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if count > policy.max_ast_nodes:
            return None, [Problem(rule="size", message=f"the source has more than "
                                  f"{policy.max_ast_nodes} syntax nodes; split the work")]
        if deepest > policy.max_ast_depth:
            return None, [Problem(rule="depth", message=f"the source nests deeper than "
                                  f"{policy.max_ast_depth} levels", line=getattr(node, "lineno", None))]
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree, []


def _semantics(tree: ast.Module, policy: SandboxPolicy, *, snippet: bool) -> list[Problem]:
    allowed = set(policy.allowed_modules)
    problems, aliases = import_problems(tree, allowed)
    problems += attribute_problems(tree, aliases, allowed)
    problems += name_problems(tree, bound_names(tree), snippet=snippet)
    return problems


def _restricted(compiler: Any, source: Any, filename: str) -> tuple[types.CodeType | None, list[Problem]]:
    # compiler: compile_restricted_exec/_eval; source: text or an ast.Module/ast.Expression
    try:
        result = compiler(source, filename=filename, policy=FnforgeTransformer)
    except (MemoryError, RecursionError, ValueError, OverflowError, SyntaxError) as exc:
        return None, [Problem(rule="restricted", message=f"the code cannot be compiled: {exc}")]
    problems = []
    for error in result.errors:
        match = _RP_LINE.match(error)
        if match is None:
            problems.append(Problem(rule="restricted", message=error))
            continue
        line = None if match.group(1) == "None" else int(match.group(1))
        problems.append(Problem(rule="restricted", message=match.group(2).rstrip("."), line=line))
    if problems:
        return None, _sorted(problems)
    return result.code, []


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0))
