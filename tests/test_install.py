"""fnforge installs anywhere: its own namespace, next to the Agents SDK and MCP, and data on first run.

The slow test builds a fresh virtual environment outside the repository,
installs fnforge from a copy of this checkout (with requirements/test.lock as
constraints) together with ``openai-agents`` and ``mcp``, and then, as a user
on a fresh machine would (own HOME, no data folder, no pulled data):

- runs the README's main job from its ``mkdir`` on, verbatim, against the
  scripted LLM server (the README's own ``pip install .`` is the install above);
- runs ``fnforge eval`` on the toolset it made;
- imports ``agents.Runner`` from the Agents SDK beside ``fnforge.agents``;
- exports the toolset as an MCP server, starts it from inside the toolset
  folder (whose ``functions/`` must not shadow ``fnforge.functions``) and lists
  and calls its tools with the official MCP client over stdio.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fnforge
from tests.llm_server import ScriptedLLM, reply_text
from tests.optimizer.policies import TERMINATE, OptimizerScript
from tests.test_readme import readme_commands

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("agents", "cli", "functions", "optimizer", "registry", "sandbox", "tasks")
USER_MODULES = ("agents", "functions", "optimizer", "registry", "sandbox", "tasks")
INSTALL_TIMEOUT_S = 1500


def _user_modules(folder: Path) -> None:
    """A working directory whose own modules would break fnforge if it imported them."""
    for name in USER_MODULES:
        (folder / f"{name}.py").write_text(f"raise RuntimeError('the user module {name}.py was imported')\n")
    (folder / "functions").mkdir()  # a toolset's folder, as a package
    (folder / "functions" / "__init__.py").write_text("raise RuntimeError('the user package functions was imported')\n")


def test_user_modules_in_the_working_directory_do_not_change_what_fnforge_imports(tmp_path: Path) -> None:
    _user_modules(tmp_path)
    probe = textwrap.dedent(f"""
        import importlib, json, sys
        import fnforge
        files = {{name: importlib.import_module("fnforge." + name).__file__ for name in {SUBPACKAGES!r}}}
        importlib.import_module("fnforge.cli._cmd_data")
        print(json.dumps({{"files": files, "user": sorted(set({USER_MODULES!r}) & set(sys.modules))}}))
    """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["user"] == []
    root = Path(str(fnforge.__file__)).parent.parent  # the checkout (editable) or site-packages
    assert all(Path(path).is_relative_to(root) for path in seen["files"].values()), seen["files"]


def test_fnforge_command_ignores_user_modules_in_the_working_directory(tmp_path: Path) -> None:
    _user_modules(tmp_path)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "FNFORGE_DATA": "", "PYTHONPATH": "."}
    result = subprocess.run([sys.executable, "-c", "from fnforge.cli import main; main()", "data", "list"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "* math     built-in" in result.stdout


# --- a fresh virtual environment ----------------------------------------------------------------------

DOUBLE = '''
from fnforge import Function, FunctionSet
from fnforge import registry
double = Function(name="double", description="Twice x.",
                  parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                  code="def double(x):\\n    return 2 * x\\n")
with registry.open(".") as repo:
    repo.commit(FunctionSet((double,)), subject="add double", trailers={"Status": "manual"})
'''

MCP_CLIENT = '''
import json, sys
import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

async def main():
    params = StdioServerParameters(command=sys.executable, args=["server.py"], cwd=".")
    with open("server.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = await client.list_tools()
            called = await client.call_tool("double", {"x": 21})
            print(json.dumps({"tools": [t.name for t in tools.tools], "double": called.content[0].text,
                              "error": bool(called.is_error)}))

anyio.run(main)
'''


def _copy_checkout(target: Path) -> Path:
    """The checkout's sources without virtual environments, build output or Git data."""
    ignore = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                    ".mypy_cache", ".pytest_cache")
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _run(args: list[str] | str, *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
                            shell=isinstance(args, str), executable="/bin/bash" if isinstance(args, str) else None)
    assert result.returncode == 0, f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _main_job_after_install() -> str:
    """The README's main job from the step after ``pip install .`` on, verbatim."""
    steps = readme_commands()[0].split(" && ")
    install = next(i for i, step in enumerate(steps) if re.fullmatch(r"pip install \S+", step))
    return " && ".join(steps[install + 1:])


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 600)
def test_fresh_venv_runs_the_main_job_eval_the_agents_sdk_and_an_mcp_server(
        tmp_path: Path, llm_server: ScriptedLLM) -> None:
    source = _copy_checkout(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    _run([str(venv / "bin" / "pip"), "install", "--quiet", "-c", str(source / "requirements" / "test.lock"),
          str(source), "openai-agents", "mcp"], cwd=tmp_path, env=pip_env, timeout=INSTALL_TIMEOUT_S)

    home = tmp_path / "home"
    home.mkdir()
    env = {**pip_env, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PATH": f"{venv / 'bin'}:"
           f"{os.environ.get('PATH', '')}", "OPENAI_BASE_URL": llm_server.base_url, "OPENAI_API_KEY": "sk-test"}
    for name in ("FNFORGE_DATA", "FNFORGE_DATA_URL", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        env.pop(name, None)
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=lambda req: reply_text(r"It is \boxed{0}."))

    # The README's main job, from a folder outside any checkout, with no data folder.
    _run(_main_job_after_install(), cwd=home, env=env, timeout=900)
    toolsets = [p.parent for p in home.rglob("fnforge.toml")]
    assert len(toolsets) == 1 and not toolsets[0].is_relative_to(source)
    toolset = toolsets[0]
    assert list((toolset / ".git" / "fnforge" / "runs").glob("*/summary.json"))

    evaluated = json.loads(_run(["fnforge", "eval", "--limit", "3", "--no-cache", "--json"], cwd=toolset, env=env))
    assert evaluated["n"] == 3 and evaluated["tasks"].startswith("math:algebra (3 tasks, sha256:")
    assert not (home / ".cache" / "fnforge" / "data").exists()  # the built-in slice, nothing pulled

    sdk = _run([str(venv / "bin" / "python"), "-c", "from agents import Runner; from fnforge.agents import "
                "AgentConfig; import agents; print(Runner.__name__, agents.__file__)"], cwd=toolset, env=env)
    assert sdk.startswith("Runner ") and "site-packages/agents/" in sdk

    _run([str(venv / "bin" / "python"), "-c", DOUBLE], cwd=toolset, env=env)
    _run(["fnforge", "export", "--format", "mcp", "--out", "server.py"], cwd=toolset, env=env)
    listed = json.loads(_run([str(venv / "bin" / "python"), "-c", MCP_CLIENT], cwd=toolset, env=env, timeout=300))
    assert listed == {"tools": ["double"], "double": "42", "error": False}, (toolset / "server.log").read_text()
