"""A function's spec derived from its code: description, JSON Schema and packages, as smolagents' ``get_json_schema``.

The code is read, never run: the ``def``'s signature gives the parameters
(a parameter without a default is required), each parameter's type hint its
JSON type, the docstring's text before its first section the description and
its ``Args:`` section (Google style) each parameter's description; the
imports anywhere in the code give ``packages``.

Type hints map as ``int`` -> integer, ``float`` -> number, ``str`` -> string,
``bool`` -> boolean, ``list[T]``/``tuple[T, ...]``/``Sequence[T]`` -> array of T,
``dict[...]``/``Mapping[...]`` -> object, ``X | None``/``Optional[X]`` -> X or
null, ``X | Y``/``Union[X, Y]`` -> either, ``Literal["a", "b"]`` -> an ``enum``.
A literal default is kept as the schema's ``default``.

Example:
    >>> derive_function('def double(x: int) -> int:\\n    \"\"\"Twice x.\\n\\n    Args:\\n        x: a number.\\n'
    ...                 '    \"\"\"\\n    return 2 * x\\n').parameters["properties"]
    {'x': {'type': 'integer', 'description': 'a number.'}}
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from typing import Any  # Any: JSON Schema and the JSON values of literals

from fnforge.functions._errors import FunctionSpecError, Problem
from fnforge.functions._model import Function

__all__ = ["derive_function", "function_stub"]

_SIMPLE = {"int": "integer", "float": "number", "complex": "string", "str": "string", "bool": "boolean",
           "None": "null", "NoneType": "null", "Fraction": "string", "Decimal": "string"}
_ARRAYS = {"list", "List", "tuple", "Tuple", "Sequence", "set", "Set", "frozenset", "Iterable", "Collection"}
_OBJECTS = {"dict", "Dict", "Mapping", "MutableMapping"}
_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Returns?|Yields?|Raises|Examples?|Notes?|"
                      r"Attributes|See Also|Todo):\s*$")
_ARG_LINE = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def function_stub(name: str) -> str:
    """A small working function named ``name`` whose spec :func:`derive_function` can read (``fnforge new``).

    Example:
        >>> derive_function(function_stub("triple")).name
        'triple'
    """
    return (f"def {name}(x: float) -> float:\n"
            f'    """Say in one line what {name} does: the agent reads this to decide when to call it.\n'
            "\n"
            "    Args:\n"
            "        x: What x is (each parameter gets a line here).\n"
            '    """\n'
            "    return x\n")


def derive_function(code: str, name: str | None = None) -> Function:
    """The :class:`Function` that ``code`` defines, its spec read from the signature, type hints and docstring.

    Args:
        code: Python source with one top-level ``def`` (plus imports and constants).
        name: the function's name; None takes the only top-level ``def``.

    Returns:
        The function, validated as any other.

    Raises:
        FunctionSpecError: the code does not parse, has no (or another) top-level def,
            a parameter has no type hint or one with no JSON type, the docstring is
            missing, or the result breaks a rule of :func:`validate_function`.
    """
    shown = name or "?"
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise FunctionSpecError(shown, [Problem(rule="syntax", line=exc.lineno, message=f"syntax error: {exc.msg}")])
    except (ValueError, RecursionError, MemoryError) as exc:
        raise FunctionSpecError(shown, [Problem(rule="syntax", message=f"code cannot be parsed: {exc}")]) from None
    definition = _definition(tree, name)
    problems: list[Problem] = []
    docstring = ast.get_docstring(definition)
    if not docstring or not _description(docstring):
        problems.append(Problem(rule="docstring", line=definition.lineno, message=(
            f"'def {definition.name}' needs a docstring: its first lines become the description the agent reads")))
    described = _arg_descriptions(docstring or "")
    properties: dict[str, Any] = {}
    for arg, default in _parameters(definition):
        try:
            schema = _schema(arg.annotation, arg.arg)
        except _NoType as exc:
            problems.append(Problem(rule="type-hint", line=arg.lineno, message=str(exc)))
            continue
        if arg.arg in described:
            schema["description"] = described[arg.arg]
        if default is not None:
            value = _literal(default)
            if value is not _NOT_LITERAL:
                schema["default"] = value
        properties[arg.arg] = schema
    if problems:
        raise FunctionSpecError(definition.name, problems)
    required = [arg.arg for arg, default in _parameters(definition) if default is None]
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return Function(name=definition.name, description=_description(docstring or ""), parameters=parameters,
                    packages=_packages(tree), code=code)


class _NoType(Exception):
    """A type hint has no JSON type."""


_NOT_LITERAL = object()


def _definition(tree: ast.Module, name: str | None) -> ast.FunctionDef:
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    chosen = [d for d in defs if name is None or d.name == name]
    if len(chosen) == 1 and (name is not None or len(defs) == 1):
        return chosen[0]
    where = f"'def {name}(...)'" if name else "exactly one function ('def name(...)')"
    found = f"; found: {', '.join(d.name for d in defs)}" if defs else ""
    raise FunctionSpecError(name or "?", [Problem(rule="one-def", line=1, message=(
        f"the code must define {where} at top level{found}"))])


def _parameters(definition: ast.FunctionDef) -> list[tuple[ast.arg, ast.expr | None]]:
    args = definition.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    return list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))


def _schema(node: ast.expr | None, param: str) -> dict[str, Any]:
    """The JSON Schema of a type hint (an AST expression: nothing is imported or evaluated)."""
    if node is None:
        raise _NoType(f"parameter {param!r} needs a type hint (e.g. int, float, str, bool, list[int], dict)")
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted hint: "int"
        quoted = node.value
        try:
            node = ast.parse(quoted, mode="eval").body
        except SyntaxError:
            raise _NoType(f"parameter {param!r}: cannot read the type hint {quoted!r}") from None
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right], param)
    head, args = _subscript(node)
    if head in _SIMPLE and not args:
        return {"type": _SIMPLE[head]}
    if head in ("Optional",) and len(args) == 1:
        return _union([args[0], ast.Constant(value=None)], param)
    if head == "Union" and args:
        return _union(args, param)
    if head == "Literal" and args:
        return _literal_enum(args, param)
    if head in _ARRAYS:
        if head in ("tuple", "Tuple") and len(args) > 1 and not _is_ellipsis(args[-1]):  # tuple[int, str]
            return {"type": "array", "items": {}, "minItems": len(args), "maxItems": len(args)}
        return {"type": "array", "items": _schema(args[0], param) if args else {}}
    if head in _OBJECTS:
        return {"type": "object"}
    if head == "Any":
        raise _NoType(f"parameter {param!r}: 'Any' has no JSON type; name the type (e.g. float, str, list[int])")
    shown = ast.unparse(node)
    raise _NoType(f"parameter {param!r}: the type hint {shown!r} has no JSON type; "
                  "use int, float, str, bool, list[...], dict, a Literal, or a union of them")


def _subscript(node: ast.expr) -> tuple[str, list[ast.expr]]:
    """``list[int]`` -> (``list``, [int]); ``typing.Optional[str]`` -> (``Optional``, [str]); ``int`` -> (``int``, [])."""
    args: list[ast.expr] = []
    if isinstance(node, ast.Subscript):
        inner = node.slice
        args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr, args
    if isinstance(node, ast.Name):
        return node.id, args
    return "", args


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _union(members: list[ast.expr], param: str) -> dict[str, Any]:
    schemas = [_schema(member, param) for member in members]
    rich = [s for s in schemas if set(s) != {"type"}]
    if rich:  # list[int] | None: the richer schema, nullable; anything else has no single JSON Schema type
        if len(schemas) == 2 and {"type": "null"} in schemas and isinstance(rich[0]["type"], str):
            nullable = {**rich[0], "type": [rich[0]["type"], "null"]}
            return {**nullable, "enum": [*rich[0]["enum"], None]} if "enum" in rich[0] else nullable
        raise _NoType(f"parameter {param!r}: a union may join plain types (int | str), or one type with None")
    types: list[str] = []
    for schema in schemas:
        for kind in schema["type"] if isinstance(schema["type"], list) else [schema["type"]]:
            if kind not in types:
                types.append(kind)
    return {"type": types[0] if len(types) == 1 else types}


def _literal_enum(args: list[ast.expr], param: str) -> dict[str, Any]:
    values = [_literal(a) for a in args]
    if any(v is _NOT_LITERAL for v in values):
        raise _NoType(f"parameter {param!r}: Literal[...] needs plain values")
    distinct = list(dict.fromkeys(_json_type(v) for v in values))
    return {"type": distinct[0] if len(distinct) == 1 else distinct, "enum": values}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def _literal(node: ast.expr) -> Any:
    """The JSON value of a literal default or Literal member, else ``_NOT_LITERAL``."""
    try:
        value = ast.literal_eval(node)
        json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return _NOT_LITERAL
    return list(value) if isinstance(value, tuple) else value


def _description(docstring: str) -> str:
    lines = inspect.cleandoc(docstring).splitlines()
    kept: list[str] = []
    for line in lines:
        if _SECTION.match(line.strip()) and not line.startswith((" ", "\t")):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _arg_descriptions(docstring: str) -> dict[str, str]:
    """Parameter -> description from a Google-style ``Args:`` section."""
    found: dict[str, str] = {}
    inside, current, indent = False, "", None
    for line in inspect.cleandoc(docstring).splitlines():
        stripped = line.strip()
        header = _SECTION.match(stripped) and not line.startswith((" ", "\t"))
        if header:
            inside = stripped.split(":")[0] in ("Args", "Arguments", "Parameters", "Params", "Keyword Args")
            current, indent = "", None
            continue
        if not inside or not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        match = _ARG_LINE.match(stripped)
        if match and (indent is None or depth <= indent):
            indent, current = depth, match.group(1)
            found[current] = match.group(2).strip()
        elif current:
            found[current] = f"{found[current]} {stripped}".strip()
    return {name: text for name, text in found.items() if text}


def _packages(tree: ast.Module) -> tuple[str, ...]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return tuple(sorted(names))
