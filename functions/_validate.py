"""Static validation of one function: name, code and JSON Schema agree, nothing runs.

Each rule yields a :class:`Problem` whose text names the rule and the line, in
words an LLM can act on. The sandbox adds its own checks (imports,
RestrictedPython) on top; these are the ones about the function's *shape*.
"""

from __future__ import annotations

import ast
import keyword
import re
from typing import Any  # Any: unchecked input, validated here

from fnforge.functions._errors import Problem

__all__ = ["RESERVED_NAMES", "validate_function"]

RESERVED_NAMES = frozenset({"run_python"})
"""Tool names the agents define themselves; a learned function may not take them."""

_TOOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}


def validate_function(
    *, name: str, description: str, parameters: Any, packages: Any, code: str
) -> list[Problem]:
    """Return every rule the function breaks (empty when it is valid).

    Example:
        >>> validate_function(name="f", description="d", packages=(),
        ...     parameters={"type": "object", "properties": {}}, code="def f():\\n    return 1\\n")
        []
    """
    problems = _check_name(name) + _check_description(description) + _check_packages(packages)
    tree, syntax = _parse(code)
    problems += syntax
    schema_problems = _check_schema(parameters)
    problems += schema_problems
    if tree is None or not _is_identifier(name):
        return problems
    definition, shape = _find_def(tree, name)
    problems += shape
    if definition is not None and not schema_problems:
        problems += _check_signature(definition, parameters)
    return problems


def _is_identifier(name: object) -> bool:
    return isinstance(name, str) and bool(_TOOL_NAME.match(name)) and not keyword.iskeyword(name)


def _check_name(name: object) -> list[Problem]:
    if not _is_identifier(name):
        return [
            Problem(
                rule="name",
                message=f"name {name!r} must be a Python identifier of at most 64 characters "
                "that starts with a letter and is not a keyword",
            )
        ]
    if name in RESERVED_NAMES:
        return [Problem(rule="name", message=f"name {name!r} is reserved for a built-in tool")]
    return []


def _check_description(description: object) -> list[Problem]:
    if not isinstance(description, str) or not description.strip():
        return [Problem(rule="description", message="description must be a non-empty string")]
    return []


def _check_packages(packages: object) -> list[Problem]:
    if not isinstance(packages, (list, tuple)) or not all(
        isinstance(p, str) and p.strip() for p in packages
    ):
        return [Problem(rule="packages", message="packages must be a list of module names")]
    return []


def _parse(code: object) -> tuple[ast.Module | None, list[Problem]]:
    if not isinstance(code, str):
        return None, [Problem(rule="syntax", message="code must be a string")]
    try:
        return ast.parse(code), []
    except SyntaxError as exc:
        return None, [Problem(rule="syntax", line=exc.lineno, message=f"syntax error: {exc.msg}")]
    except (ValueError, MemoryError, RecursionError) as exc:
        return None, [Problem(rule="syntax", message=f"code cannot be parsed: {exc}")]


def _find_def(tree: ast.Module, name: str) -> tuple[ast.FunctionDef | None, list[Problem]]:
    problems: list[Problem] = []
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    for node in tree.body:
        if isinstance(node, ast.AsyncFunctionDef):
            problems.append(
                Problem(rule="one-def", line=node.lineno, message="async def is not supported; use def")
            )
    matching = [d for d in defs if d.name == name]
    for extra in defs:
        if extra.name != name:
            problems.append(
                Problem(
                    rule="one-def",
                    line=extra.lineno,
                    message=f"the code must define exactly one top-level function, 'def {name}'; "
                    f"found 'def {extra.name}' (nest helpers inside 'def {name}')",
                )
            )
    if not matching:
        problems.append(
            Problem(rule="one-def", line=1, message=f"the code must define 'def {name}(...)' at top level")
        )
        return None, problems
    for duplicate in matching[1:]:
        problems.append(
            Problem(rule="one-def", line=duplicate.lineno, message=f"'def {name}' is defined twice")
        )
    return matching[0], problems


def _check_schema(parameters: object) -> list[Problem]:
    import jsonschema  # here, not at the top: `fnforge --help` and `import fnforge.functions` stay cheap

    if not isinstance(parameters, dict):
        return [Problem(rule="schema", message="parameters must be a JSON Schema object")]
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "parameters"
        return [Problem(rule="schema", message=f"parameters is not a valid JSON Schema at {where}: {exc.message}")]
    problems: list[Problem] = []
    if parameters.get("type") != "object":
        problems.append(Problem(rule="schema", message='parameters must have "type": "object"'))
    properties = parameters.get("properties", {})
    if not isinstance(properties, dict):
        return problems + [Problem(rule="schema", message='"properties" must be an object')]
    for prop, spec in properties.items():
        problems += _check_property(prop, spec)
    return problems


def _check_property(prop: str, spec: object) -> list[Problem]:
    if not isinstance(spec, dict):
        return [Problem(rule="schema", message=f"property {prop!r} must be a schema object")]
    kinds = spec.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    problems = []
    if not all(kind in _JSON_TYPES for kind in kinds):
        problems.append(
            Problem(rule="schema", message=f"property {prop!r} needs a JSON type, one of {sorted(_JSON_TYPES)}")
        )
    if "array" in kinds and "items" not in spec:
        problems.append(Problem(rule="schema", message=f"array property {prop!r} needs an \"items\" schema"))
    return problems


def _check_signature(definition: ast.FunctionDef, parameters: dict[str, Any]) -> list[Problem]:
    args = definition.args
    line = definition.lineno
    problems = []
    if args.vararg or args.kwarg or args.posonlyargs:
        problems.append(
            Problem(
                rule="signature",
                line=line,
                message="use named parameters only (no *args, **kwargs or positional-only '/')",
            )
        )
    params = [a.arg for a in args.args + args.kwonlyargs]
    n_defaults = len(args.defaults)
    with_default = set(a.arg for a in args.args[len(args.args) - n_defaults :]) if n_defaults else set()
    with_default |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
    properties = parameters.get("properties", {})
    required = set(parameters.get("required", []))
    for param in params:
        if param not in properties:
            problems.append(
                Problem(rule="signature", line=line, message=f"parameter {param!r} is missing from the schema's properties")
            )
    for prop in properties:
        if prop not in params:
            problems.append(
                Problem(rule="signature", line=line, message=f"schema property {prop!r} is not a parameter of the def")
            )
    for param in params:
        if param in properties and param not in with_default and param not in required:
            problems.append(
                Problem(rule="signature", line=line, message=f"parameter {param!r} has no default, so the schema must list it in \"required\"")
            )
        if param in with_default and param in required:
            problems.append(
                Problem(rule="signature", line=line, message=f"parameter {param!r} has a default, so the schema must not list it in \"required\"")
            )
    return problems
