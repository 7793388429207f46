"""The README's exit-code table holds for every error root, driven through the CLI (issue 14)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fnforge import registry
from fnforge.cli import cli
from tests.llm_server import ScriptedLLM, reply_error
from tests.optimizer.fixtures.eval_kit import DATA_DIR
from tests.registry.helpers import make_set

ROOT = Path(__file__).resolve().parents[2]
CLEAN_ENV: dict[str, str | None] = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "FNFORGE_DATA": None}


def readme_exit_codes() -> dict[int, str]:
    """The rows of the README's table: exit code -> meaning."""
    rows = re.findall(r"^\| (\d) \| (.+) \|$", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.M)
    return {int(code): meaning for code, meaning in rows}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early is no news here


@pytest.fixture
def web_server() -> Iterator[str]:
    """python -m http.server: answers POST /v1/chat/completions with 501 and an HTML page."""
    server = _QuietServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def toolset(tmp_path: Path) -> Path:
    fnforge(tmp_path, "init", "t", "--model", "m", "--train", "2", "--test", "2", "--data", str(DATA_DIR))
    (tmp_path / "bad.py").write_text("import os\n\n\ndef bad(x: int) -> int:\n    return os.getpid()\n")
    return tmp_path / "t"


def fnforge(where: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(where), *args], env=CLEAN_ENV)


Case = Callable[[Path, ScriptedLLM, str], Result]
CASES: dict[str, tuple[int, Case]] = {
    "done": (0, lambda t, llm, web: fnforge(t, "config")),
    "training cannot continue": (1, lambda t, llm, web: fnforge(t, "train", "--resume")),
    "bad flag value": (2, lambda t, llm, web: fnforge(t, "eval", "--split", "nope")),
    "unknown setting": (2, lambda t, llm, web: fnforge(t, "config", "nosuch", "1")),
    "bad task-set name": (2, lambda t, llm, web: fnforge(t, "eval", "--task", "math:nosuch")),
    "unknown run id": (2, lambda t, llm, web: fnforge(t, "report", "--run", "nosuch", "--out", "r")),
    "bad function file": (2, lambda t, llm, web: fnforge(t, "new", "x", "--force")),
    "not a toolset": (3, lambda t, llm, web: fnforge(t.parent, "log")),
    "unknown revision": (3, lambda t, llm, web: fnforge(t, "show", "nosuch")),
    "sandbox rule": (4, lambda t, llm, web: fnforge(t.parent, "check", "bad.py")),
    "provider refuses": (5, lambda t, llm, web: _down(llm, 401) or fnforge(t, "eval", "--base-url", llm.base_url)),
    "tasks failed at the provider in eval": (5, lambda t, llm, web: _down(llm, 503) or fnforge(
        t, "eval", "--limit", "1", "--base-url", llm.base_url)),
    "provider down during train": (5, lambda t, llm, web: _down(llm, 503) or fnforge(
        t, "train", "--base-url", llm.base_url)),
    "tasks failed at the provider in merge": (5, lambda t, llm, web: _down(llm, 503) or _diverged(t) or fnforge(
        t, "merge", "domain/x", "--base-url", llm.base_url)),
    "not an OpenAI-compatible endpoint": (5, lambda t, llm, web: fnforge(t, "eval", "--base-url", web)),
    "missing task file": (6, lambda t, llm, web: fnforge(t, "eval", "--task", "jsonl:nosuch.jsonl")),
}


def _down(llm: ScriptedLLM, status: int) -> None:
    """Make the scripted provider answer every request with ``status`` (and no wait before a retry)."""
    llm.policy = lambda req: reply_error(status, "scripted outage", headers={"retry-after-ms": "0"})


def _diverged(toolset: Path) -> None:
    """A branch domain/x with a function main lacks, so a merge has something to score."""
    with registry.open(toolset) as repo:
        repo.create_branch("domain/x")
        repo.commit(make_set("a"), subject="x: add a", trailers={"Status": "manual"}, branch="domain/x")


def test_every_exit_code_of_the_readme_table_is_exercised_here() -> None:
    assert sorted(readme_exit_codes()) == sorted({code for code, _ in CASES.values()}) == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("case", list(CASES))
def test_cli_exits_with_the_code_of_the_readme_table(case: str, toolset: Path, llm_server: ScriptedLLM,
                                                      web_server: str) -> None:
    code, act = CASES[case]
    if case == "bad function file":
        (toolset / "functions" / "x.py").write_text("def x(y):\n    return y\n")  # no type hint, no docstring
    result = act(toolset, llm_server, web_server)
    assert result.exit_code == code, result.output
    # (the scripted servers' threads share this stderr, so only the CLI's own lines are checked)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == (code != 0) and "Traceback" not in result.stdout
