"""export, clone, verify, blame: arrange with the library, act through the CLI, assert with the library."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge import registry
from tests.fnforge.cli import ok, run
from fnforge.functions import Function, FunctionSet

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
DOUBLE = Function(name="double", description="Twice x.", parameters=SCHEMA, code="def double(x):\n    return 2 * x\n")
LEAK = Function(name="leak", description="Lists files.", parameters=SCHEMA,
                code="import os\n\ndef leak(x):\n    return os.listdir('/')\n")
DICE = Function(name="dice", description="A random roll.", parameters=SCHEMA,
                code="import random\n\ndef dice(x):\n    return random.randint(1, 6)\n")
TOML = b'[fnforge]\ntask = "math:algebra"\n\n[sandbox]\ntimeout_s = 5.0\n'


@pytest.fixture
def toolset(tmp_path: Path) -> Iterator[registry.Repository]:
    with registry.init(tmp_path / "toolset", files={"fnforge.toml": TOML}) as repo:
        repo.commit(FunctionSet((DOUBLE,)), subject="epoch 1: add double",
                    trailers={"Score": 0.5, "Split": "train", "Status": "accepted", "Epoch": 1, "Run": "r1"})
        yield repo



def test_export_openai_writes_the_tools_json(toolset: registry.Repository, env: dict[str, str], tmp_path: Path) -> None:
    ok(env, "-C", str(toolset.path), "export", "HEAD", "--format", "openai", "--out", str(tmp_path / "tools.json"))
    assert json.loads((tmp_path / "tools.json").read_text()) == toolset.read().to_openai_tools()


def test_export_python_prints_an_untrusted_module(toolset: registry.Repository, env: dict[str, str]) -> None:
    result = ok(env, "-C", str(toolset.path), "export", "--format", "python")
    assert "UNTRUSTED CODE" in result.stdout and "\ndef double(x):\n" in result.stdout
    assert f"toolset@{toolset.version().short} (HEAD, score 0.5000)" in result.stdout


def test_export_mcp_writes_an_executable_server_with_the_toolset_policy(
    toolset: registry.Repository, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "server.py"
    ok(env, "-C", str(toolset.path), "export", "--format", "mcp", "--out", str(out))
    assert os.access(out, os.X_OK) and "SANDBOX_POLICY = {'timeout_s': 5.0}" in out.read_text()


def test_clone_refuses_a_toolset_with_a_malicious_function_and_names_it(
    toolset: registry.Repository, env: dict[str, str], tmp_path: Path
) -> None:
    toolset.commit(FunctionSet((DOUBLE, LEAK)), subject="epoch 2: add leak",
                   trailers={"Score": 0.6, "Split": "train", "Status": "accepted"})
    result = run(env, "clone", str(toolset.path), str(tmp_path / "copy"))
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr.startswith(f"Error: refused to clone {toolset.path}: function 'leak' (tip of main): "
                                    "line 1: import of 'os' is not allowed")
    assert not (tmp_path / "copy").exists()


def test_clone_keeps_a_clean_toolset_and_reports_the_verification(
    toolset: registry.Repository, env: dict[str, str], tmp_path: Path
) -> None:
    toolset.add_note("HEAD", {"train": {"accuracy": 0.5, "n": 2, "correct": 1}})
    result = ok(env, "clone", str(toolset.path), str(tmp_path / "copy"))
    assert "verified 2 commits, 1 function version, 1 note: 0 errors, 0 warnings" in result.stdout
    with registry.open(tmp_path / "copy") as clone:
        assert clone.read() == toolset.read()


def test_verify_refuses_a_module_only_the_toolset_policy_allows(
    tmp_path: Path, env: dict[str, str]
) -> None:
    toml = b'[fnforge]\n\n[sandbox]\nallowed_modules = ["math", "random"]\n'
    with registry.init(tmp_path / "t", files={"fnforge.toml": toml}, functions=FunctionSet((DICE,))) as repo:
        refused = run(env, "-C", str(repo.path), "verify")
        trusted = ok(env, "-C", str(repo.path), "verify", "--trust-policy")
    assert refused.exit_code == 3 and "function 'dice' (tip of main): line 1: import of 'random'" in refused.stderr
    assert "hint: its fnforge.toml asks for more than the default sandbox limits (modules random)" in refused.stderr
    assert "0 errors" in trusted.stdout


def test_verify_json_lists_the_findings(toolset: registry.Repository, env: dict[str, str]) -> None:
    toolset.add_note("HEAD", {"train": {"accuracy": 0.5, "n": 4, "correct": 2}})
    data = json.loads(ok(env, "-C", str(toolset.path), "verify", "--json").stdout)
    assert (data["ok"], data["notes"], data["findings"]) == (True, 1, [])


def test_blame_shows_step_epoch_and_run_per_line(toolset: registry.Repository, env: dict[str, str]) -> None:
    toolset.commit(FunctionSet((Function(name="double", description="Twice x.", parameters=SCHEMA,
                                         code="def double(x):\n    y = 2 * x\n    return y\n"),)),
                   subject="epoch 2: revise double", trailers={"Score": 0.7, "Status": "accepted", "Epoch": 2,
                                                               "Run": "r1"})
    lines = ok(env, "-C", str(toolset.path), "blame", "double").stdout.splitlines()
    first, second = toolset.log()[1].short, toolset.log()[0].short
    assert [line.split()[:3] for line in lines] == [[first, "e1", "accepted"], [second, "e2", "accepted"],
                                                    [second, "e2", "accepted"]]
    assert lines[1].endswith("  2|     y = 2 * x")
