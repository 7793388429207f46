"""``fnforge check``, ``fnforge call`` and ``fnforge trust``: arrange with the library, act through the CLI.

Every invocation runs with ``FNFORGE_CONFIG`` in the test's folder, so no test
reads or writes the user's own config.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fnforge.cli import _cmd_sandbox, cli
from fnforge.functions import Function, FunctionSet, write_dir
from fnforge.sandbox import Sandbox

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}


def function(name: str, body: str) -> Function:
    code = f"def {name}(x):\n    \"\"\"Doc.\"\"\"\n    {body}\n"
    return Function(name=name, description="A function.", parameters=SCHEMA, code=code)


def toolset(tmp_path: Path, *functions: Function) -> Path:
    write_dir(FunctionSet(functions), tmp_path / "functions")
    return tmp_path


@pytest.fixture(autouse=True)
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's config.toml of this test (click's runner passes the environment on)."""
    path = tmp_path / "user" / "config.toml"
    monkeypatch.setenv("FNFORGE_CONFIG", str(path))
    return path


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


def test_check_uses_a_narrower_policy_of_fnforge_toml(tmp_path: Path) -> None:
    (tmp_path / "fnforge.toml").write_text('[sandbox]\nallowed_modules = ["math"]\n')
    path = tmp_path / "solve.py"
    path.write_text("import sympy\n\ndef solve(x):\n    return x\n")
    result = invoke("-C", str(tmp_path), "check", str(path))
    assert result.exit_code == 4 and "import of 'sympy' is not allowed; allowed modules: math" in result.stderr


def roll(tmp_path: Path, table: str = 'allowed_modules = ["math", "random"]') -> Path:
    """A toolset whose fnforge.toml has ``table`` under [sandbox], and roll.py, which needs ``random``."""
    (tmp_path / "fnforge.toml").write_text(f"[sandbox]\n{table}\n")
    path = tmp_path / "roll.py"
    path.write_text("import random\n\ndef roll(x):\n    return random.randint(1, 6)\n")
    return path


def test_check_keeps_the_users_limits_where_fnforge_toml_asks_for_more(tmp_path: Path) -> None:
    path = roll(tmp_path)
    result = invoke("-C", str(tmp_path), "check", str(path))
    assert result.exit_code == 4 and "import of 'random' is not allowed" in result.stderr
    assert "warning: fnforge.toml asks for a wider sandbox than yours (modules random)" in result.stderr


def test_check_uses_a_wider_policy_once_the_user_trusts_it(tmp_path: Path, user_config: Path) -> None:
    path = roll(tmp_path)
    trusted = invoke("-C", str(tmp_path), "trust", catch=False)
    assert "widens your limits: modules random" in trusted.stdout and user_config.is_file()
    assert invoke("-C", str(tmp_path), "check", str(path), catch=False).stdout == "ok\n"


def test_trust_is_for_the_exact_table_and_an_edit_needs_it_again(tmp_path: Path) -> None:
    roll(tmp_path)
    invoke("-C", str(tmp_path), "trust", catch=False)
    path = roll(tmp_path, 'allowed_modules = ["math", "random"]\ntimeout_s = 500')
    assert invoke("-C", str(tmp_path), "check", str(path)).exit_code == 4


def test_trust_revoke_cuts_the_table_back_again(tmp_path: Path) -> None:
    path = roll(tmp_path)
    invoke("-C", str(tmp_path), "trust", catch=False)
    assert "No longer trusting" in invoke("-C", str(tmp_path), "trust", "--revoke", catch=False).stdout
    assert invoke("-C", str(tmp_path), "check", str(path)).exit_code == 4


def test_trust_says_when_there_is_nothing_to_trust(tmp_path: Path, user_config: Path) -> None:
    (tmp_path / "fnforge.toml").write_text('[sandbox]\ntimeout_s = 1\n')
    result = invoke("-C", str(tmp_path), "trust", catch=False)
    assert result.stdout.startswith("Nothing to trust") and not user_config.exists()


def test_users_own_limits_are_the_baseline(tmp_path: Path, user_config: Path) -> None:
    user_config.parent.mkdir()
    user_config.write_text('[sandbox]\nallowed_modules = ["math", "random"]\n')
    path = roll(tmp_path)
    result = invoke("-C", str(tmp_path), "check", str(path), catch=False)
    assert (result.stdout, result.stderr) == ("ok\n", "")


@pytest.mark.parametrize("table", ["timeout_s = 1e9", "timeout_s = 1e6", "kill_grace_s = 1e6", "memory_mb = 100000",
                                   "max_result_depth = 5000"])
def test_a_limit_beyond_its_hard_maximum_is_one_error_line_with_exit_2(tmp_path: Path, table: str) -> None:
    (tmp_path / "fnforge.toml").write_text(f"[sandbox]\n{table}\n")
    path = tmp_path / "f.py"
    path.write_text("def f(x):\n    return x\n")
    result = invoke("-C", str(tmp_path), "check", str(path))
    assert result.exit_code == 2 and result.stderr.startswith("Error: fnforge.toml [sandbox]: ")
    assert "must be at most" in result.stderr and len(result.stderr.splitlines()) == 1


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


@pytest.mark.parametrize("args", ["{not json", "[1, 2]", "[" * 100_000, '{"x": ' + "[" * 70 + "]" * 70 + "}",
                                  '{"x": 1e999}', '{"x": NaN}', '{"x": -Infinity}', '{"x": "\\ud800"}',
                                  '{"x": "\udcff"}', '{"x": 1' + "0" * 5000 + "}", '{"x": "' + "y" * (1 << 20) + '"}'],
                         ids=["not-json", "not-an-object", "deep", "deep-inside", "overflow", "nan", "infinity",
                              "surrogate-escape", "surrogate-argv", "huge-int", "too-large"])
def test_call_rejects_bad_arguments_with_one_usage_error(tmp_path: Path, args: str) -> None:
    directory = toolset(tmp_path, function("double", "return 2 * x"))
    result = invoke("-C", str(directory), "call", "double", "--args", args)
    assert result.exit_code == 2 and "--args" in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_call_shows_control_characters_of_the_output_as_escapes(tmp_path: Path) -> None:
    body = "print('\\x1b]52;c;cHduZWQ=\\x07 title\\x1b]0;x\\x07\\r\\u202e'); return '\\x1b[2J\\x9b1m'"
    directory = toolset(tmp_path, function("noisy", body))
    result = invoke("-C", str(directory), "call", "noisy", "--args", '{"x": 1}', catch=False)
    assert "\x1b" not in result.output and "\x9b" not in result.output and "\r" not in result.output
    assert result.stderr == "\\u001b]52;c;cHduZWQ=\\u0007 title\\u001b]0;x\\u0007\\u000d\\u202e\n"
    assert json.loads(result.stdout) == "\x1b[2J\x9b1m"


def test_an_error_message_from_the_function_is_one_line_without_control_characters(tmp_path: Path) -> None:
    directory = toolset(tmp_path, function("fail", "raise ValueError('a\\nb\\x1b[31m')"))
    result = invoke("-C", str(directory), "call", "fail", "--args", '{"x": 1}')
    assert result.exit_code == 4 and result.stderr == "Error: ValueError: a\\u000ab\\u001b[31m (line 3)\n"


def test_call_trust_policy_runs_under_the_toolsets_own_table(tmp_path: Path) -> None:
    directory = toolset(tmp_path, function("chatty", "print('y' * 20000); return x"))
    (directory / "fnforge.toml").write_text("[sandbox]\nmax_output_chars = 50000\n")
    narrowed = invoke("-C", str(directory), "call", "chatty", "--args", '{"x": 1}', catch=False)
    trusted = invoke("-C", str(directory), "call", "chatty", "--args", '{"x": 1}', "--trust-policy", catch=False)
    assert "y" * 10_000 in narrowed.stderr and "y" * 10_001 not in narrowed.stderr
    assert "max_output_chars 50000 (instead of 10000)" in narrowed.stderr
    assert "y" * 20_000 in trusted.stderr and "warning" not in trusted.stderr


def test_call_refuses_on_a_host_without_a_core_layer_and_names_the_opt_out(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cmd_sandbox, "Sandbox", functools.partial(Sandbox, _skip_layers=("seccomp",)))
    directory = toolset(tmp_path, function("double", "return 2 * x"))
    result = invoke("-C", str(directory), "call", "double", "--args", '{"x": 2}')
    assert (result.exit_code, result.stdout) == (4, "") and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: this host cannot isolate untrusted code (seccomp off: ")
    assert "FNFORGE_SANDBOX_ISOLATION=best-effort" in result.stderr


def test_call_runs_with_a_missing_layer_when_the_user_opts_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cmd_sandbox, "Sandbox", functools.partial(Sandbox, _skip_layers=("seccomp",)))
    monkeypatch.setenv("FNFORGE_SANDBOX_ISOLATION", "best-effort")
    directory = toolset(tmp_path, function("double", "return 2 * x"))
    assert invoke("-C", str(directory), "call", "double", "--args", '{"x": 2}', catch=False).stdout == "4\n"


def test_an_unknown_isolation_setting_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FNFORGE_SANDBOX_ISOLATION", "off")
    directory = toolset(tmp_path, function("double", "return 2 * x"))
    result = invoke("-C", str(directory), "call", "double", "--args", '{"x": 2}')
    assert result.exit_code == 2 and "FNFORGE_SANDBOX_ISOLATION must be" in result.stderr
