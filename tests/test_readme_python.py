"""The Python blocks of README.md and docs/*.md run, each in a fresh interpreter, against the scripted server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.llm_server import ScriptedLLM, tool_solver

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks() -> list[tuple[str, str]]:
    """(``file:line``, code) of every ```python block."""
    blocks = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"```python\n(.*?)```", text, flags=re.S):
            blocks.append((f"{doc.name}:{text.count(chr(10), 0, match.start()) + 1}", match.group(1)))
    return blocks


BLOCKS = python_blocks()


def test_readme_has_python_examples() -> None:
    assert any(where.startswith("README.md") for where, _ in BLOCKS)


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_docs_python_example_does_run(where: str, code: str, tmp_path: Path) -> None:
    # the agent calls the example's tool if it has one, then answers with what it returned
    policy = tool_solver("double", lambda question: {"x": 21})
    with ScriptedLLM(policy) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-scripted"}
        finished = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=240, check=False)
    assert finished.returncode == 0, f"{where} failed:\n{finished.stdout}{finished.stderr}"
    if "solved" in code:  # the evaluation example: the tool was called and its result was the answer
        assert finished.stdout.strip() == "1/1 solved", finished.stdout
