"""``fnforge check`` and ``fnforge call``: arrange with the library, act through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fnforge import registry
from fnforge.cli import cli
from fnforge.functions import Function, FunctionSet, write_dir

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


def function(name: str, body: str) -> Function:
    code = f"def {name}(x):\n    \"\"\"Doc.\"\"\"\n    {body}\n"
    return Function(name=name, description="A function.", parameters=SCHEMA, code=code)


def toolset(tmp_path: Path, *functions: Function) -> Path:
    write_dir(FunctionSet(functions), tmp_path / "functions")
    return tmp_path


def invoke(*args: str, catch: bool = True):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=catch)


def test_check_prints_ok_for_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "double.py"
    path.write_text("import math\n\ndef double(x):\n    return 2 * x\n")
    result = invoke("check", str(path), catch=False)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok\n", "")


def test_check_reports_every_problem_in_one_line_and_exits_4(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("import os\n\ndef bad(x):\n    return open(x)\n")
    result = invoke("check", str(path))
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr == (
        "Error: bad has 2 problems: line 1: import of 'os' is not allowed; allowed modules: bisect, cmath, "
        "collections, datetime, decimal, fractions, functools, heapq, itertools, json, math, numpy, operator, "
        "re, statistics, string, sympy; line 4: 'open' is not available in the sandbox (no file access)\n")


def test_check_uses_the_name_option(tmp_path: Path) -> None:
    path = tmp_path / "code.py"
    path.write_text("def solve(x):\n    return x\n")
    assert invoke("check", str(path), "--name", "solve", catch=False).stdout == "ok\n"


def test_check_uses_the_policy_of_fnforge_toml(tmp_path: Path) -> None:
    (tmp_path / "fnforge.toml").write_text('[sandbox]\nallowed_modules = ["math", "random"]\n')
    path = tmp_path / "roll.py"
    path.write_text("import random\n\ndef roll(x):\n    return random.randint(1, 6)\n")
    assert invoke("-C", str(tmp_path), "check", str(path), catch=False).stdout == "ok\n"


def test_check_rejects_a_bad_sandbox_table_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "fnforge.toml").write_text("[sandbox]\ntimeout = 3\n")
    path = tmp_path / "f.py"
    path.write_text("def f(x):\n    return x\n")
    result = invoke("-C", str(tmp_path), "check", str(path))
    assert result.exit_code == 2 and result.stderr.startswith("Error: fnforge.toml [sandbox]: unknown sandbox settings")


def test_check_rejects_a_missing_file_with_usage_exit(tmp_path: Path) -> None:
    assert invoke("check", str(tmp_path / "nope.py")).exit_code == 2


def test_call_prints_the_result_as_json(tmp_path: Path) -> None:
    directory = toolset(tmp_path, function("double", "return {'twice': 2 * x}"))
    result = invoke("-C", str(directory), "call", "double", "--args", '{"x": 21}', catch=False)
    assert (result.exit_code, json.loads(result.stdout)) == (0, {"twice": 42})


def test_call_sends_printed_output_to_stderr(tmp_path: Path) -> None:
    directory = toolset(tmp_path, function("shout", "print('hello'); return x"))
    result = invoke("-C", str(directory), "call", "shout", "--args", '{"x": 1}', catch=False)
    assert (result.stdout, result.stderr) == ("1\n", "hello\n")


def test_call_reports_the_functions_exception_in_one_line(tmp_path: Path) -> None:
    directory = toolset(tmp_path, function("inverse", "return 1 / x"))
    result = invoke("-C", str(directory), "call", "inverse", "--args", '{"x": 0}')
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr == "Error: ZeroDivisionError: division by zero (line 3)\n"


def test_call_reports_an_unknown_function(tmp_path: Path) -> None:
    directory = toolset(tmp_path, function("double", "return 2 * x"))
    result = invoke("-C", str(directory), "call", "triple")
    assert (result.exit_code, result.stderr) == (4, "Error: no function named 'triple' in this set; available: double\n")


@pytest.mark.parametrize("args", ["{not json", "[1, 2]"])
def test_call_rejects_bad_arguments_with_usage_exit(tmp_path: Path, args: str) -> None:
    directory = toolset(tmp_path, function("double", "return 2 * x"))
    result = invoke("-C", str(directory), "call", "double", "--args", args)
    assert result.exit_code == 2 and "--args" in result.stderr


def test_call_outside_a_toolset_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("-C", str(tmp_path), "call", "double")
    assert result.exit_code == 2 and "is not a folder" in result.stderr


def test_call_reads_the_function_set_of_a_revision(tmp_path: Path) -> None:
    old = FunctionSet((function("answer", "return 41"),))
    with registry.init(tmp_path / "ts", files={"fnforge.toml": b"[fnforge]\n"}, functions=old) as repo:
        repo.commit(FunctionSet((function("answer", "return 42"),)), subject="revise answer")
    directory = str(tmp_path / "ts")
    assert invoke("-C", directory, "call", "answer", "--args", '{"x": 0}', "--rev", "HEAD~1",
                  catch=False).stdout == "41\n"
    assert invoke("-C", directory, "call", "answer", "--args", '{"x": 0}', "--rev", "HEAD",
                  catch=False).stdout == "42\n"
