"""Exports: OpenAI tools JSON, an importable Python module, a runnable MCP server over the sandbox."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import anyio
import pytest

from fnforge.functions import Function, FunctionSet
from fnforge.registry._export import export_function_set
from fnforge.sandbox import Sandbox, SandboxPolicy

ROOT = Path(__file__).resolve().parents[2]


def fn(name: str, code: str, props: dict[str, object] | None = None) -> Function:
    props = props or {"x": {"type": "number"}}
    return Function(
        name=name,
        description=f"{name} of x.",
        parameters={"type": "object", "properties": props, "required": sorted(props)},
        code=code,
    )


SET = FunctionSet(
    (
        fn("scaled_root", "import math\nK = 2\n\ndef scaled_root(x):\n    return K * math.sqrt(x)\n"),
        fn("offset", 'K = 3\nNOTE = """two\nlines"""\n\ndef offset(x):\n    return K + x + len(NOTE)\n'),
        fn("digits", "def digits(x):\n    return [int(c) for c in str(int(x))]\n"),
        fn(
            "mean_of",
            "import statistics\n\ndef mean_of(values):\n    return statistics.mean(values)\n",
            {"values": {"type": "array", "items": {"type": "number"}}},
        ),
    )
)
CALLS = [("scaled_root", {"x": 16}), ("offset", {"x": 1.5}), ("digits", {"x": 907}), ("mean_of", {"values": [1, 2, 6]})]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=1, spares=0) as box:
        yield box


def load_module(path: Path, text: str) -> ModuleType:
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_openai_is_the_tools_list_as_json() -> None:
    assert json.loads(export_function_set(SET, "openai")) == SET.to_openai_tools()


def test_export_python_functions_return_what_the_sandbox_returns(tmp_path: Path, sandbox: Sandbox) -> None:
    module = load_module(tmp_path / "toolset.py", export_function_set(SET, "python", origin="demo@abc1234"))
    for name, kwargs in CALLS:
        assert getattr(module, name)(**kwargs) == sandbox.call(SET, name, kwargs).value


def test_export_python_module_has_tools_and_dispatch_table(tmp_path: Path) -> None:
    module = load_module(tmp_path / "toolset.py", export_function_set(SET, "python"))
    assert module.TOOLS == SET.to_openai_tools()
    assert sorted(module.FUNCTIONS) == list(SET.names)
    assert module.FUNCTIONS["digits"](x=12) == [1, 2]


def test_export_python_docstring_warns_that_the_code_is_untrusted(tmp_path: Path) -> None:
    module = load_module(tmp_path / "toolset.py", export_function_set(SET, "python", origin="demo@abc1234"))
    doc = module.__doc__ or ""
    assert "UNTRUSTED CODE" in doc and "only ever ran" in doc and "demo@abc1234" in doc


def test_export_python_keeps_functions_without_clashes_as_plain_top_level_code() -> None:
    text = export_function_set(SET, "python")
    assert "\ndef digits(x):\n" in text
    assert "def _fnforge_scope_offset():" in text  # both offset and scaled_root define K


def test_export_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown export format 'yaml'"):
        export_function_set(SET, "yaml")


def test_export_mcp_server_lists_the_tools_and_calls_them_in_the_sandbox(tmp_path: Path, sandbox: Sandbox) -> None:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    script = tmp_path / "server.py"
    script.write_text(export_function_set(SET, "mcp", sandbox_policy={"timeout_s": 5}))
    params = StdioServerParameters(command=sys.executable, args=[str(script)], env={"PYTHONPATH": str(ROOT)},
                                   cwd=str(tmp_path))

    async def session() -> tuple[list[tuple[str, object]], str, bool]:
        with (tmp_path / "server.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                listed = await client.list_tools()
                result = await client.call_tool("digits", {"x": 907})
                return ([(t.name, t.input_schema) for t in listed.tools], result.content[0].text,  # type: ignore[union-attr]
                        bool(result.is_error))

    tools, text, is_error = anyio.run(session)
    assert tools == [(f.name, f.parameters) for f in SET]
    assert (json.loads(text), is_error) == (sandbox.call(SET, "digits", {"x": 907}).value, False)


def test_export_mcp_server_reports_a_failing_call_as_a_tool_error(tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": "exported"}
    exec(compile(export_function_set(SET, "mcp"), "server.py", "exec"), namespace)
    function_set, box = namespace["_load"]()  # type: ignore[operator]
    with box:
        text, is_error = namespace["call_tool_text"](box, function_set, "scaled_root", {"x": -1})  # type: ignore[operator]
    assert is_error and "math domain error" in text
