"""Untrusted input on the parent's side: no command answers it with a traceback (issue 11, finding 7).

A toolset someone else wrote can hold a ``functions/<name>.json`` nested
100,000 levels deep, notes of any shape and commit subjects full of terminal
escapes. Each command reads them through the bounded loader and prints them
through ``fnforge/cli/_terminal.py``: one ``Error:`` line and the documented
exit code, and no raw control character on the terminal.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from tests.fnforge.cli import ok, run

DEEP = b'{"description": "deep", "packages": [], "parameters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
CODE = b"def deep(x):\n    return x\n"
GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_NOSYSTEM": "1"}
ESCAPES = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\r\u202e"


@pytest.fixture
def deep_toolset(tmp_path: Path, env: dict[str, str]) -> Path:
    with registry.init(tmp_path / "toolset", files={"fnforge.toml": b"[fnforge]\n"}) as repo:
        path = repo.path
    (path / "functions").mkdir()
    (path / "functions" / "deep.json").write_bytes(DEEP)
    (path / "functions" / "deep.py").write_bytes(CODE)
    subprocess.run(["git", "-C", str(path), "add", "functions"], check=True, env={**env, **GIT})
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "deep spec"], check=True, env={**env, **GIT})
    return path


@pytest.mark.parametrize(("args", "code"), [
    (("commit", "-m", "x"), 2),
    (("call", "deep", "--args", '{"x": 1}'), 2),
    (("export", "HEAD", "--format", "python"), 2),
    (("verify",), 3),
])
def test_a_deeply_nested_spec_file_is_one_error_line(deep_toolset: Path, env: dict[str, str],
                                                     args: tuple[str, ...], code: int) -> None:
    result = run(env, "-C", str(deep_toolset), *args)
    assert result.exit_code == code, result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "Traceback" not in result.output and "RecursionError" not in result.output


def test_show_displays_a_deeply_nested_spec_with_its_problem_beneath(deep_toolset: Path, env: dict[str, str]) -> None:
    result = run(env, "-C", str(deep_toolset), "show", "HEAD:deep")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# deep  (HEAD:functions/deep.py)\n" + CODE.decode())
    assert "# 1 problem:\n#   functions/deep.json is not valid JSON: the JSON text nests deeper than 64 levels" in result.stdout


def test_clone_refuses_a_deeply_nested_spec_file_with_one_error_line(deep_toolset: Path, env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    result = run(env, "clone", str(deep_toolset), str(tmp_path / "copy"))
    assert result.exit_code == 3 and "nests deeper than" in result.stderr and not (tmp_path / "copy").exists()


def _escaped(tmp_path: Path) -> registry.Repository:
    schema = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
    fn = Function(name="double", description=f"doubles {ESCAPES}", parameters=schema,
                  code=f"def double(x):\n    \"\"\"{ESCAPES}\"\"\"\n    return 2 * x\n")
    repo = registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"})
    repo.commit(FunctionSet((fn,)), subject=f"epoch 1: add double {ESCAPES}", body=f"because {ESCAPES}",
                trailers={"Score": 0.5, "Status": "accepted", "Epoch": 1, "Run": f"r{ESCAPES}"})
    return repo


@pytest.mark.parametrize("args", [("log",), ("show",), ("show", "HEAD:double"), ("blame", "double"),
                                  ("diff", "HEAD~1"), ("domains",), ("log", "--json")])
def test_untrusted_text_is_printed_without_raw_control_characters(tmp_path: Path, env: dict[str, str],
                                                                  args: tuple[str, ...]) -> None:
    with _escaped(tmp_path) as repo:
        result = run(env, "-C", str(repo.path), *args)
    assert result.exit_code in (0, 3), result.output
    assert not any(c in result.output for c in "\x1b\x07\r\u202e"), repr(result.output)
    assert "\\u001b" in result.output


def test_clone_prints_a_note_when_the_toolset_asks_for_more_than_the_defaults(tmp_path: Path,
                                                                              env: dict[str, str]) -> None:
    table = b"[fnforge]\n\n[sandbox]\ntimeout_s = 600.0\nmemory_mb = 6000\n"
    with registry.init(tmp_path / "wide", files={"fnforge.toml": table}) as repo:
        source = repo.path
    result = ok(env, "clone", str(source), str(tmp_path / "copy"))
    assert "note: its fnforge.toml asks for more than the default sandbox limits (timeout_s 600 (instead of 2); " \
           "memory_mb 6000 (instead of 1024))" in result.stderr
