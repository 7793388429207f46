"""Executing the model's tool calls in the sandbox, by name, with tolerant argument parsing.

Arguments are read by :mod:`agents._lenient` (JSON, or what a model meant by
not-quite-JSON when that is certain); ``run_python`` code is unwrapped from a
Markdown fence.

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
from typing import Any  # Any: tool arguments and results as JSON

from fnforge.functions import FunctionSet
from fnforge.sandbox import CallResult, Sandbox, SandboxError
from fnforge.tasks import Task, TaskDataError

from fnforge.agents._fences import read_code
from fnforge.agents._lenient import read_call, read_json_object, read_json_value
from fnforge.agents._prompts import RUN_PYTHON
from fnforge.agents._trajectory import cut_middle

__all__ = ["ArgumentsError", "ToolOutcome", "parameter_order", "parse_action_input", "parse_arguments",
           "read_attachments", "run_tool"]

_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n?(.*?)\n?```$", re.S)


class ArgumentsError(Exception):
    """A tool call's arguments cannot be read; the message is shown to the model."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    result: str | None
    error: str | None
    error_kind: str | None
    duration_s: float
    called: tuple[str, ...] = ()  # the set's functions that returned during the call


def parse_arguments(raw: str) -> dict[str, Any]:
    """A native tool call's arguments as a dict, read leniently (:func:`read_json_object`).

    Raises:
        ArgumentsError: the arguments cannot be read with certainty; the message says why.
    """
    read = read_json_object(raw)
    if read.value is None:
        raise ArgumentsError(read.error or "the arguments cannot be read")
    return read.value


def _unfence(text: str) -> str:
    text = text.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def parameter_order(function_set: FunctionSet, name: str) -> list[str]:
    """The parameters of tool ``name`` in signature order (``code`` for ``run_python``)."""
    if name == RUN_PYTHON:
        return ["code"]
    if name not in function_set:
        return []
    function = function_set[name]
    for node in ast.parse(function.code).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
    return list(function.parameters.get("properties", {}))


def parse_action_input(text: str, name: str, function_set: FunctionSet) -> dict[str, Any]:
    """A ReAct ``Action Input`` as keyword arguments for tool ``name``.

    Accepts a JSON object read leniently (fenced or not, double-encoded or not,
    a Python dict literal), a call written as Python (``name(n=5)``, from the
    Action line), or — for a tool with exactly one parameter — a bare value.
    For ``run_python`` a code block or plain code is the ``code`` argument.

    Raises:
        ArgumentsError: the input fits none of these.
    """
    call = read_call(text, name, parameter_order(function_set, name))
    if call is not None:
        if call.value is None:
            raise ArgumentsError(call.error or "the call cannot be read")
        return call.value
    if name == RUN_PYTHON:
        read = read_json_object(text)
        if read.value is not None and isinstance(read.value.get("code"), str):
            return {"code": read.value["code"]}
        code = read_code(text.strip())
        if code.error is not None:
            raise ArgumentsError(code.error)
        return {"code": code.code}
    body = _unfence(text)
    read = read_json_object(body)
    if read.value is not None:
        return read.value
    value, _ = read_json_value(body)
    params = list(function_set[name].parameters.get("properties", {})) if name in function_set else []
    if len(params) == 1 and isinstance(value if value is not None else body, (str, int, float, bool, list)):
        return {params[0]: value if value is not None else body}
    raise ArgumentsError(read.error or "the Action Input cannot be read")


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

    def outcome(result: str | None, error: str | None = None, kind: str | None = None,
                called: tuple[str, ...] = ()) -> ToolOutcome:
        return ToolOutcome(result, error, kind, time.perf_counter() - started, called)

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
            read = read_code(code)
            if read.error is not None:
                return outcome(None, f"run_python: {read.error}", "bad_arguments")
            run = functools.partial(sandbox.run_code, function_set, read.code, **extra)
        else:
            run = functools.partial(sandbox.call, function_set, name, args, **extra)
        result = await asyncio.to_thread(run)
    except SandboxError as exc:
        return outcome(None, str(exc), _snake(type(exc).__name__))
    return outcome(format_result(result, max_chars), called=tuple(result.called))
