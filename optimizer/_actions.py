"""The optimizer's actions: tool schemas, tolerant parsing, and conversion to a Function.

The three tools take the paper's argument names (App. D.3): ``add_function`` and
``revise_function`` take ``name``, ``description``, ``arguments``, ``packages``
and ``code``; ``remove_function`` takes ``name``. TERMINATE is a reply with no
tool call.

Parsing is tolerant where the model's intent is unambiguous and strict
elsewhere; every refusal is an :class:`ActionRejected` whose message is sent
back to the model:

- the raw tool-call arguments, and ``arguments`` when it is a string, are read
  by :func:`agents.read_json_object`: JSON-encoded twice, in a Markdown fence,
  a Python dict literal, trailing commas are all read; text that is cut off or
  reads two ways is refused with the reason;
- ``code`` in a Markdown fence (with or without a language tag, with or
  without a sentence around it) is unwrapped by :func:`agents.read_code`, and
  the model is told so; several blocks, or a block in another language, are
  refused with the reason;
- ``arguments`` may be a JSON string (the paper's form) or an object; either
  the properties mapping (the paper's form) or a whole ``{"type": "object",
  "properties": ...}`` schema. ``required`` is always derived from the code's
  signature (parameters without a default), so it can never disagree with it;
- Python type names in the schema (``float``, ``int``, ``str``, ``bool``,
  ``list``, ``dict``) are mapped to their JSON Schema types;
- ``packages`` may be one string (space- or comma-separated, the paper's form)
  or a list; version pins (``sympy>=1.12``) are dropped.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Literal  # Any: tool-call arguments and JSON Schemas the model wrote

from fnforge.agents import read_code, read_json_object
from fnforge.functions import Function, FunctionSet, FunctionSpecError
from fnforge.sandbox import FunctionError, Sandbox, SandboxError, SandboxPolicy, check
from fnforge.optimizer._smoke import smoke_arguments

__all__ = [
    "ACTION_TOOLS",
    "Action",
    "ActionKind",
    "ActionRejected",
    "parse_action",
    "proposed_name",
    "validate_action",
]

ActionKind = Literal["add", "revise", "remove"]

_FUNCTION_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "description": "The function's name; the code must define 'def <name>(...)'."},
    "description": {"type": "string", "description": "A short description of what the function does and returns."},
    "arguments": {
        "type": "string",
        "description": 'JSON object (as a string) mapping each parameter to its JSON Schema, e.g. '
        '{"n": {"type": "integer", "description": "the number"}}. Types: string, integer, '
        "number, boolean, array (with items), object.",
    },
    "packages": {
        "type": "string",
        "description": "The modules the code imports, separated by spaces (empty if none).",
    },
    "code": {
        "type": "string",
        "description": "Python source: imports, then exactly one top-level 'def <name>(...)' "
        "whose parameters are the arguments; returns a JSON-serialisable value.",
    },
}


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(properties)},
        },
    }


ACTION_TOOLS: tuple[dict[str, Any], ...] = (
    _tool(
        "add_function",
        "Add one new function to the list. Declare the modules it imports in 'packages'. "
        "The name MUST equal the function name defined in the code.",
        _FUNCTION_PROPERTIES,
    ),
    _tool(
        "revise_function",
        "Replace one existing function (same name) with a new version: all five parts are given again, in full.",
        _FUNCTION_PROPERTIES,
    ),
    _tool(
        "remove_function",
        "Remove one existing function from the list.",
        {"name": {"type": "string", "description": "The name of the function to remove."}},
    ),
)
"""The OpenAI ``tools`` entries offered to the optimizer LLM."""

_KINDS: dict[str, ActionKind] = {"add_function": "add", "revise_function": "revise", "remove_function": "remove"}
_TYPE_ALIASES = {
    "float": "number", "double": "number", "int": "integer", "str": "string", "bool": "boolean",
    "list": "array", "tuple": "array", "dict": "object", "none": "null",
}
_PACKAGE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_UNFENCED = "The code came wrapped in a Markdown fence, which was removed: send the Python source only."


class ActionRejected(Exception):
    """A proposed action is refused; the message is the reason shown to the model."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One applied optimizer action.

    Attributes:
        kind: ``"add"``, ``"revise"`` or ``"remove"``.
        name: the function's name.
        function: the new function (``None`` for remove).
        note: what was repaired in the proposal, and what the smoke call observed
            (empty for remove).
    """

    kind: ActionKind
    name: str
    function: Function | None = None
    note: str = ""

    def describe(self) -> str:
        """``"add solve"``: the phrase used in commit subjects."""
        return f"{self.kind} {self.name}"

    def apply(self, function_set: FunctionSet) -> FunctionSet:
        """``function_set`` with this action applied.

        Raises:
            FunctionSetError: the name is unknown (revise/remove) or taken (add).
        """
        if self.kind == "remove":
            return function_set.remove(self.name)
        if self.function is None:  # constructed by hand without a function
            raise ValueError(f"{self.kind} action needs a function")
        if self.kind == "add":
            return function_set.add(self.function)
        return function_set.revise(self.function)


def _decode(raw: str | dict[str, Any], *, what: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    read = read_json_object(raw)
    if read.value is None:
        raise ActionRejected(f"{what} cannot be read: {read.error}")
    return read.value


def _properties(value: Any) -> dict[str, Any]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if not isinstance(value, (str, dict)):
        raise ActionRejected("'arguments' must be a JSON object mapping parameter names to JSON Schemas")
    schema = _decode(value, what="'arguments'")
    if schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
        schema = schema["properties"]
    properties: dict[str, Any] = {}
    for prop, spec in schema.items():
        if isinstance(spec, dict):
            spec = dict(spec)
            kind = spec.get("type")
            if isinstance(kind, str) and kind.lower() in _TYPE_ALIASES:
                spec["type"] = _TYPE_ALIASES[kind.lower()]
        properties[prop] = spec
    return properties


def _packages(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = re.split(r"[\s,]+", value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(p, str) for p in items):
        raise ActionRejected("'packages' must be a string of module names separated by spaces")
    found = (_PACKAGE.match(p.strip()) for p in items if p.strip())
    return tuple(sorted({m.group(0) for m in found if m}))


def _required(code: str, name: str, properties: dict[str, Any]) -> list[str]:
    """Parameters of ``def name`` without a default that the schema declares."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            args = node.args
            positional = args.args[: len(args.args) - len(args.defaults)]
            keyword = [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
            return [a.arg for a in positional + keyword if a.arg in properties]
    return []


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise ActionRejected(f"'{key}' must be a string")
    return value


def parse_action(tool: str, raw_arguments: str | dict[str, Any]) -> Action:
    """Turn one tool call into an :class:`Action` (not yet validated against a set).

    Args:
        tool: the tool name the model called.
        raw_arguments: the raw JSON argument string (or an already decoded object).

    Returns:
        The action, with a statically valid :class:`~functions.Function` for add/revise.

    Raises:
        ActionRejected: unknown tool, unreadable arguments, missing fields, or a
            function that breaks a rule of ``functions/`` (the problems are listed).

    Example:
        >>> parse_action("remove_function", '{"name": "old"}').describe()
        'remove old'
    """
    kind = _KINDS.get(tool)
    if kind is None:
        raise ActionRejected(f"unknown tool {tool!r}; call add_function, revise_function or remove_function")
    args = _decode(raw_arguments, what=f"the arguments of {tool}")
    fields = ("name",) if kind == "remove" else ("name", "description", "arguments", "code")
    missing = [f for f in fields if f not in args]
    if missing:
        raise ActionRejected(f"{tool} is missing the argument(s): {', '.join(missing)}")
    name = _text(args, "name").strip()
    if kind == "remove":
        return Action(kind="remove", name=name)
    code = read_code(_text(args, "code"))
    if code.error is not None:
        raise ActionRejected(f"'code' of {name!r}: {code.error}")
    properties = _properties(args.get("arguments"))
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    required = _required(code.code, name, properties)
    if required:
        parameters["required"] = required
    try:
        function = Function(
            name=name,
            description=_text(args, "description"),
            parameters=parameters,
            packages=_packages(args.get("packages")),
            code=code.code,
        )
    except FunctionSpecError as exc:
        problems = "\n".join(f"- {p}" for p in exc.problems)
        raise ActionRejected(f"function {name!r} breaks these rules:\n{problems}") from None
    return Action(kind=kind, name=name, function=function, note=_UNFENCED if code.unfenced else "")


def proposed_name(raw_arguments: str | dict[str, Any]) -> str:
    """The ``name`` a tool call's arguments give, or ``"?"`` if they give none."""
    try:
        args = _decode(raw_arguments, what="arguments")
    except ActionRejected:
        return "?"
    name = args.get("name")
    return name.strip() if isinstance(name, str) and name.strip() else "?"


def _preview(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call_text(name: str, kwargs: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={_preview(v, 60)}' for k, v in kwargs.items())})"


def _check_names(action: Action, trial: FunctionSet) -> None:
    known = ", ".join(trial.names) or "none"
    if action.kind == "add" and action.name in trial:
        raise ActionRejected(f"function {action.name!r} already exists in List B; use revise_function to change it")
    if action.kind in ("revise", "remove") and action.name not in trial:
        hint = "; use add_function to create it" if action.kind == "revise" else ""
        raise ActionRejected(f"there is no function {action.name!r} in List B (functions: {known}){hint}")


def _check_packages(function: Function, policy: SandboxPolicy) -> None:
    allowed = set(policy.allowed_modules)
    refused = [p for p in function.packages if p not in allowed]
    if refused:
        raise ActionRejected(
            f"package(s) {', '.join(refused)} not allowed; allowed modules: {', '.join(sorted(allowed))}"
        )


async def validate_action(
    action: Action, trial: FunctionSet, *, sandbox: Sandbox, policy: SandboxPolicy
) -> Action:
    """Check an action against List B (``trial``) and the sandbox; return it with its smoke note.

    Pipeline (the first failure rejects):

    1. names: add of an existing name, revise or remove of an unknown one;
    2. ``packages`` must be allowed modules of ``policy``;
    3. :func:`sandbox.check` (size, shape, imports, RestrictedPython);
    4. a smoke call in ``sandbox`` of the function, within the set it would join,
       with :func:`smoke_arguments`. A timeout, memory exhaustion, policy
       violation or worker crash rejects. An exception raised by the function's
       own code (``FunctionError``) is *tolerated*: dummy arguments such as
       ``"1"`` may legitimately be refused by correct code; the exception is
       reported in :attr:`Action.note` so the model can judge it.

    Raises:
        ActionRejected: with the reason to show the model.
    """
    _check_names(action, trial)
    function = action.function
    if function is None:
        return action
    _check_packages(function, policy)
    problems = check(function.code, function.name, policy)
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        raise ActionRejected(f"function {function.name!r} fails the sandbox check:\n{listed}")
    candidate = action.apply(trial)
    kwargs = smoke_arguments(function.parameters)
    call = _call_text(function.name, kwargs)
    try:
        result = await asyncio.to_thread(sandbox.call, candidate, function.name, kwargs)
    except FunctionError as exc:
        note = f"Smoke call {call} raised {exc} (tolerated: the arguments were dummies)."
    except SandboxError as exc:  # timeout, memory, violation, check, crash: all reject
        raise ActionRejected(f"the smoke call {call} failed: {exc}") from None
    else:
        note = f"Smoke call {call} returned {_preview(result.value)}."
    return Action(kind=action.kind, name=action.name, function=function, note=f"{action.note} {note}".strip())
