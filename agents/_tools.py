"""Executing the model's tool calls in the sandbox, by name, with tolerant argument parsing.

Every call goes to ``sandbox.call(function_set, name, kwargs)``: the sandbox
looks the function up by its own name in the set it is given, so no executor
is ever bound to a loop variable (the reference implementation's late-binding
bug) and a function missing from the set can never run. Model-caused faults
come back as ``(None, error, kind)``, never as exceptions.

A task's attachments are read once on the host (:func:`read_attachments`) and
handed to every sandbox call of the task as ``files={file name: bytes}``, where
``run_python`` code reads them with ``open(name)``.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from fnforge.functions import FunctionSet, load_json
from fnforge.sandbox import CallResult, Sandbox, SandboxError
from fnforge.tasks import Task, TaskDataError

from fnforge.agents._prompts import RUN_PYTHON
from fnforge.agents._trajectory import cut_middle

__all__ = ["ArgumentsError", "ToolOutcome", "parse_action_input", "parse_arguments", "read_attachments",
           "run_tool"]

_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n?(.*?)\n?```$", re.S)


class ArgumentsError(Exception):
    """A tool call's arguments cannot be read; the message is shown to the model."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    result: str | None
    error: str | None
    error_kind: str | None
    duration_s: float


def _type_name(value: object) -> str:
    return {list: "an array", int: "a number", float: "a number", bool: "a boolean",
            type(None): "null", str: "a string"}.get(type(value), type(value).__name__)


def parse_arguments(raw: str) -> dict[str, Any]:
    """A native tool call's arguments as a dict; tolerates double JSON encoding.

    Raises:
        ArgumentsError: not JSON, or not a JSON object.
    """
    text = raw.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
        if isinstance(value, str):  # double-encoded: '"{\\"x\\": 1}"'
            value = json.loads(value) if value.strip() else {}
    except (ValueError, RecursionError) as exc:  # RecursionError: arguments nested thousands deep (issue 11)
        raise ArgumentsError(f"the arguments are not valid JSON ({exc}); "
                             'send one JSON object, e.g. {"x": 1}') from None
    if not isinstance(value, dict):
        raise ArgumentsError(f"the arguments must be a JSON object, not {_type_name(value)}")
    return _json_safe(value)


def _json_safe(args: dict[Any, Any]) -> dict[str, Any]:
    """``args`` with string keys and plain JSON values (no NaN/Infinity, tuples or sets)."""
    try:
        return {str(k): v for k, v in load_json(json.dumps(args, allow_nan=False)).items()}  # bounded (issue 11)
    except (TypeError, ValueError):
        raise ArgumentsError("the arguments must hold plain JSON values "
                             "(no NaN, Infinity or other non-JSON values)") from None


def _unfence(text: str) -> str:
    text = text.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def parse_action_input(text: str, name: str, function_set: FunctionSet) -> dict[str, Any]:
    """A ReAct ``Action Input`` as keyword arguments for tool ``name``.

    Accepts a JSON object (fenced or not, double-encoded or not), a Python dict
    literal, or — for a tool with exactly one parameter — a bare value. For
    ``run_python`` a code block or plain code is the ``code`` argument.

    Raises:
        ArgumentsError: the input fits none of these.
    """
    body = _unfence(text)
    if name == RUN_PYTHON:
        try:
            args = parse_arguments(body)
            if isinstance(args.get("code"), str):
                return {"code": args["code"]}
        except ArgumentsError:
            pass
        return {"code": body}
    try:
        return parse_arguments(body)
    except ArgumentsError as exc:
        error = exc
    try:
        value = ast.literal_eval(body)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = body
    if isinstance(value, dict):  # a Python literal may hold tuples, sets, bytes: only JSON crosses
        return _json_safe(value)
    params = list(function_set[name].parameters.get("properties", {})) if name in function_set else []
    if len(params) == 1 and isinstance(value, (str, int, float, bool, list)):
        return _json_safe({params[0]: value})
    raise error


def format_result(result: CallResult, max_chars: int) -> str:
    """What the model sees of a successful call: printed output, then the value."""
    printed = (result.stdout or "").rstrip("\n")
    value = result.value
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if printed and value is None:
        text = printed
    elif printed:
        text = f"{printed}\nReturned: {shown}"
    else:
        text = shown
    if result.truncated:
        text += "\n[the sandbox cut this output]"
    return cut_middle(text, max_chars)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def read_attachments(task: Task, limit: int) -> dict[str, bytes]:
    """The task's attachments as ``{file name: bytes}``, read from the host once per task.

    Args:
        task: the task; ``task.attachments`` are host paths.
        limit: the most bytes the sandbox accepts for one call (``policy.max_attachment_bytes``).

    Raises:
        TaskDataError: an attachment is missing or unreadable, has a name the sandbox
            cannot serve, no longer matches the sha256 its loader recorded, or the
            files total more than ``limit`` bytes.
    """
    files: dict[str, bytes] = {}
    recorded = task.metadata.get("attachment_sha256")
    digests = recorded if isinstance(recorded, dict) else {}
    for path in task.attachments:
        name = PurePath(path).name
        if not name or name.startswith(".") or "\\" in name:
            raise TaskDataError(path, f"attachment of task {task.id!r} needs a plain file name")
        if name in files:
            raise TaskDataError(path, f"task {task.id!r} has two attachments named {name!r}")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise TaskDataError(path, f"attachment of task {task.id!r} cannot be read "
                                      f"({exc.strerror or type(exc).__name__})") from None
        expected = digests.get(name)
        if isinstance(expected, str) and hashlib.sha256(data).hexdigest() != expected:
            raise TaskDataError(path, f"attachment of task {task.id!r} changed since the task was loaded")
        files[name] = data
        total = sum(len(d) for d in files.values())
        if total > limit:
            raise TaskDataError(path, f"attachments of task {task.id!r} pass the sandbox's limit of {limit} "
                                      "bytes (raise [sandbox] max_attachment_bytes, up to 32 MiB)")
    return files


async def run_tool(sandbox: Sandbox, function_set: FunctionSet, name: str, args: dict[str, Any], *,
                   tool_names: Sequence[str], max_chars: int,
                   files: Mapping[str, bytes] | None = None) -> ToolOutcome:
    """Run one tool call in the sandbox; every model-caused fault is an error outcome.

    ``files`` (the task's attachments) are readable by the call with ``open(name)``.
    """
    started = time.perf_counter()

    def outcome(result: str | None, error: str | None = None, kind: str | None = None) -> ToolOutcome:
        return ToolOutcome(result, error, kind, time.perf_counter() - started)

    if name not in tool_names:
        return outcome(None, f"unknown tool {name!r}; the tools are: {', '.join(tool_names)}",
                       "unknown_function")
    extra = {"files": files} if files else {}  # no keyword without files: any sandbox stand-in works
    try:
        if name == RUN_PYTHON:
            code = args.get("code")
            if not isinstance(code, str) or set(args) != {"code"}:
                return outcome(None, 'run_python takes exactly one argument: {"code": "<python source>"}',
                               "bad_arguments")
            run = functools.partial(sandbox.run_code, function_set, code, **extra)
        else:
            run = functools.partial(sandbox.call, function_set, name, args, **extra)
        result = await asyncio.to_thread(run)
    except SandboxError as exc:
        return outcome(None, str(exc), _snake(type(exc).__name__))
    return outcome(format_result(result, max_chars))
