"""Export a function set for use outside fnforge: OpenAI tools JSON, one Python module, an MCP server.

Every format is text built from the set alone (no repository access), so the
same set always exports to the same bytes. The Python module is plain Python:
it runs with the importer's privileges, which its docstring says loudly. The
MCP server script keeps the sandbox: each call goes through
``sandbox.Sandbox`` under the policy recorded at export time.
"""

from __future__ import annotations

import ast
import io
import json
import pprint
import textwrap
import tokenize
from collections.abc import Mapping
from typing import Any  # Any: tool schemas (JSON Schema)

from fnforge.functions import Function, FunctionSet

__all__ = ["EXPORT_FORMATS", "export_function_set"]

EXPORT_FORMATS = ("mcp", "openai", "python")
"""The formats :func:`export_function_set` writes."""

_RESERVED = frozenset({"FUNCTIONS", "TOOLS", "__all__", "__doc__", "json", "main"})


def export_function_set(
    function_set: FunctionSet,
    fmt: str,
    *,
    origin: str = "",
    sandbox_policy: Mapping[str, Any] | None = None,
) -> str:
    """The text of ``function_set`` exported in format ``fmt``.

    Args:
        function_set: the functions to export.
        fmt: ``"openai"`` (a JSON list of OpenAI ``tools`` entries), ``"python"``
            (one importable module defining every function plus ``TOOLS`` and
            ``FUNCTIONS``) or ``"mcp"`` (a runnable MCP stdio server script that
            runs each call in the fnforge sandbox).
        origin: where the set came from (e.g. ``repo@commit, Score 0.65``),
            written into the module docstrings.
        sandbox_policy: the ``[sandbox]`` table the MCP server builds its
            policy from (``None``/empty: the strictest default policy).

    Returns:
        The file's text, ending with one newline.

    Raises:
        ValueError: ``fmt`` is not one of :data:`EXPORT_FORMATS`.

    Example:
        >>> export_function_set(FunctionSet(), "openai")
        '[]\\n'
    """
    if fmt == "openai":
        return json.dumps(function_set.to_openai_tools(), indent=2, sort_keys=True) + "\n"
    if fmt == "python":
        return _python_module(function_set, origin)
    if fmt == "mcp":
        return _mcp_script(function_set, origin, dict(sandbox_policy or {}))
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


# -- python ---------------------------------------------------------------------------------------

_PY_DOC = '''"""Functions exported by fnforge{origin}.

UNTRUSTED CODE. An LLM optimizer wrote these functions; fnforge only ever ran
them inside its sandbox (a RestrictedPython policy plus resource-limited,
network-less worker processes, with curated module proxies). This module is
plain Python: importing it runs the code with YOUR privileges and real
modules. Read every function before you import it.

    TOOLS      the OpenAI ``tools`` list (name, description, JSON Schema)
    FUNCTIONS  name -> callable, to dispatch a model's tool call:

        FUNCTIONS[call.function.name](**json.loads(call.function.arguments))

Functions: {names}
"""
'''


def _python_module(function_set: FunctionSet, origin: str) -> str:
    names = function_set.names
    header = _PY_DOC.format(origin=f" from {origin}" if origin else "", names=", ".join(names) or "(none)")
    isolated = _conflicting(function_set)
    parts = [header]
    for fn in function_set:
        parts.append(_banner(f"{fn.name} (functions/{fn.name}.py)"))
        parts.append(_scoped(fn) if fn.name in isolated else fn.code)
    tools = pprint.pformat(function_set.to_openai_tools(), indent=1, width=100, sort_dicts=True)
    parts.append(_banner("tool specs"))
    parts.append(f"TOOLS = {tools}\n\n")
    parts.append("FUNCTIONS = {" + ", ".join(f"{n!r}: {n}" for n in names) + "}\n\n")
    parts.append("__all__ = " + repr(["FUNCTIONS", "TOOLS", *names]) + "\n")
    return "".join(parts)


def _banner(text: str) -> str:
    """Two blank lines, then ``# --- text ---...`` 79 characters wide."""
    head = f"# --- {text} "
    return "\n\n" + head + "-" * max(3, 79 - len(head)) + "\n"


def _bindings(fn: Function) -> dict[str, str]:
    """Top-level name -> what binds it (so equal bindings in two functions do not conflict)."""
    bound: dict[str, str] = {}
    for node in ast.parse(fn.code).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = f"import {alias.name}" + (
                    f" as {alias.asname}" if alias.asname else ""
                )
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"from {node.module} import {alias.name}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = f"def {fn.name}"
        else:
            targets = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
            for target in targets:
                bound[target] = ast.unparse(node)
    return bound


def _conflicting(function_set: FunctionSet) -> set[str]:
    """Functions whose top-level names clash with another function's (or the module's own)."""
    owners: dict[str, dict[str, set[str]]] = {}
    for fn in function_set:
        for name, how in _bindings(fn).items():
            owners.setdefault(name, {}).setdefault(how, set()).add(fn.name)
    clashing: set[str] = set()
    for name, by_binding in owners.items():
        if len(by_binding) > 1 or name in _RESERVED:
            for fns in by_binding.values():
                clashing |= fns
    return clashing


def _scoped(fn: Function) -> str:
    """The function's code inside a factory, so its top-level names stay private to it."""
    body = _indent_code(fn.code)
    factory = f"_fnforge_scope_{fn.name}"
    note = "# In its own scope: a top-level name of it clashes with another function's.\n"
    return f"{note}def {factory}():\n{body}    return {fn.name}\n\n\n{fn.name} = {factory}()\ndel {factory}\n"


def _indent_code(code: str) -> str:
    """Indent by four spaces every line that does not continue a multi-line string."""
    inside_string: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            inside_string.update(range(token.start[0] + 1, token.end[0] + 1))
    lines = code.splitlines(keepends=True)
    return "".join(
        line if number in inside_string or not line.strip() else textwrap.indent(line, "    ")
        for number, line in enumerate(lines, start=1)
    )


# -- mcp ------------------------------------------------------------------------------------------

_MCP_SCRIPT = '''#!/usr/bin/env python3
"""MCP server (stdio) exposing fnforge functions{origin}.

Run it with ``python {{this file}}`` or register it in an MCP client, e.g.
``{{"command": "python", "args": ["/path/to/this/file.py"]}}``.

The functions are UNTRUSTED CODE written by an LLM optimizer. They never run
in this process: every tool call goes through the fnforge sandbox
(RestrictedPython + resource-limited worker processes) under the policy
below, so this script needs ``fnforge`` and ``mcp`` installed.

Functions: {names}
"""

from __future__ import annotations

import asyncio
import json
import sys

FUNCTIONS = {functions}

SANDBOX_POLICY = {policy}

SERVER_NAME = {server_name!r}


{body}
'''

_MCP_BODY = '''def _load():
    from fnforge.functions import Function, FunctionSet
    from fnforge.sandbox import Sandbox, SandboxPolicy

    function_set = FunctionSet(tuple(Function.from_dict(spec) for spec in FUNCTIONS))
    return function_set, Sandbox(SandboxPolicy.from_dict(SANDBOX_POLICY))


def call_tool_text(sandbox, function_set, name, arguments):
    """(text, is_error) of one sandboxed call; a failed call is reported to the client, not raised."""
    from fnforge.functions import FnforgeError

    if name not in function_set:
        return f"unknown tool {name!r}; tools: {', '.join(function_set.names)}", True
    try:
        result = sandbox.call(function_set, name, dict(arguments or {}))
    except (FnforgeError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}", True
    value = result.value
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)), False


def build_server(function_set, sandbox):
    """The MCP low-level server for ``function_set`` (mcp >= 2: handlers passed to the constructor)."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    tools = [
        types.Tool(name=fn.name, description=fn.description, input_schema=fn.parameters) for fn in function_set
    ]

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx, params):
        text, is_error = await asyncio.to_thread(call_tool_text, sandbox, function_set, params.name, params.arguments)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=is_error)

    return Server(SERVER_NAME, on_list_tools=list_tools, on_call_tool=call_tool)


async def _serve(function_set, sandbox):
    from mcp.server.stdio import stdio_server

    server = build_server(function_set, sandbox)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main():
    try:
        from mcp.server.lowlevel import Server  # noqa: F401
        import mcp.types  # noqa: F401
    except ImportError:
        sys.exit("this server needs the mcp package (version 2 or later): pip install 'mcp>=2'")
    function_set, sandbox = _load()
    with sandbox:
        asyncio.run(_serve(function_set, sandbox))


if __name__ == "__main__":
    main()'''


def _mcp_script(function_set: FunctionSet, origin: str, policy: dict[str, Any]) -> str:
    specs = pprint.pformat([fn.to_dict() for fn in function_set], indent=1, width=100, sort_dicts=True)
    return _MCP_SCRIPT.format(
        origin=f" from {origin}" if origin else "",
        names=", ".join(function_set.names) or "(none)",
        functions=specs,
        policy=pprint.pformat(policy, indent=1, width=100, sort_dicts=True),
        server_name="fnforge",
        body=_MCP_BODY,
    )
