"""Every ``$ command`` of the README runs as written (issue 14), so the README cannot drift from the CLI.

The README's examples are read from its code blocks. Each block runs in one
bash session (so a ``cd`` in it holds for the lines after it), started in the
folder its scenario names, against the scripted OpenAI-compatible server. A
line must exit 0, or non-zero where the README shows ``Error:`` as its
output. A block that no scenario below runs, or a line that is neither run
nor exempted with a reason, fails the test: a new example needs a place here.
Outputs are not compared (their hashes, timings and paths differ per run);
the commands, flags and exit codes are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.llm_server import Reply, Request, ScriptedLLM, reply_text
from tests.optimizer.policies import TERMINATE, is_optimizer_request
from tests.optimizer.study_support import policy as study_policy
from tests.optimizer.study_support import write_data

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXEMPT = {
    "fnforge data pull math": "downloads from GitHub; tests have no network but PyPI (tests/tasks pull from a mirror)",
    "python3 -m venv .venv": "installs fnforge; tests/test_install.py does that in a fresh virtual environment",
    ". .venv/bin/activate": "the virtual environment of the install, which tests/test_install.py checks",
    "pip install": "installs fnforge; tests/test_install.py does that in a fresh virtual environment",
    "mkdir -p ~/fnforge": "the main job's folder in your home; the test runs it in a temporary folder",
    "cd ~/fnforge": "the main job's folder in your home; the test runs it in a temporary folder",
    "fnforge diff ea6fc15": "names the commits of one recorded --val run; tests/fnforge/test_cli_evidence.py runs "
                            "train --val, log, best and diff --tasks on its own commits",
    "fnforge sweep --tasks": "a grid of four training runs; tests/fnforge/test_cli_sweep.py and "
                             "tests/optimizer/test_sweep_engines.py run this grid, a cell killed and resumed",
    "fnforge sweep transfer": "reads the sweep above; tests/fnforge/test_cli_sweep.py runs it",
    "fnforge sweep report": "reads the sweep above; tests/fnforge/test_cli_sweep.py runs it",
    "git init -q --bare -b main /tmp/sw": "the Ray example's origin; tests/optimizer/test_sweep_engines.py runs the "
                                          "same grid on a local Ray cluster, pushing to a bare repository",
    "fnforge sweep --engine ray": "starts a Ray cluster; tests/optimizer/test_sweep_engines.py runs the same grid "
                                  "on a local one (ray.init), pushing to a bare repository",
}
_STUDY_TEXT = re.compile(r"\$-?\d+x [+-] \d+ = -?\d+\$|wide and \d+ tall")


@dataclass(frozen=True)
class Block:
    """One README code block: its ``$`` lines, and for each whether the README shows it failing."""

    lines: tuple[str, ...]
    fails: tuple[bool, ...]


def readme_blocks() -> list[Block]:
    """The README's shell examples: ``$ `` lines of plain code blocks, and the main job's bash line."""
    fenced: list[tuple[str, list[str]]] = []  # (language, lines) of every code block
    inside: list[str] | None = None
    for row in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if row.startswith("```"):
            if inside is None:
                inside = []
                fenced.append((row[3:].strip(), inside))
            else:
                inside = None
        elif inside is not None:
            inside.append(row)
    main_job = tuple(next(rows for language, rows in fenced if language == "bash")[0].split(" && "))
    blocks = [Block(main_job, (False,) * len(main_job))]
    for language, rows in fenced:
        lines = [(i, row[2:]) for i, row in enumerate(rows) if row.startswith("$ ")]
        if language == "" and lines:
            fails = tuple(i + 1 < len(rows) and rows[i + 1].startswith("Error:") for i, _ in lines)
            blocks.append(Block(tuple(line for _, line in lines), fails))
    return blocks


def _exempt(line: str) -> str | None:
    return next((why for start, why in EXEMPT.items() if line.startswith(start)), None)


def server_policy(req: Request) -> Reply | str:
    """The two JSONL domains learn their functions (study_support); MATH tasks get \\boxed{0} and no change."""
    if _STUDY_TEXT.search(json.dumps(req.messages)):
        return study_policy(req)
    return TERMINATE if is_optimizer_request(req) else reply_text("\\boxed{0}")


class Session:
    """Runs README lines with the real ``fnforge`` entry point in a private HOME, against the scripted server."""

    def __init__(self, base: Path, llm: ScriptedLLM) -> None:
        self.base = base
        home = base / "home"
        home.mkdir()
        self.env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test", "FNFORGE_CONFIG": str(home / "user.toml"),
            "GIT_AUTHOR_NAME": "A User", "GIT_AUTHOR_EMAIL": "user@example.org", "GIT_COMMITTER_NAME": "A User",
            "GIT_COMMITTER_EMAIL": "user@example.org", "COLUMNS": "120", "LANG": "C.UTF-8",
            **{k: v for k, v in os.environ.items() if k.startswith("FNFORGE_SANDBOX")},
        }
        self.ran: list[str] = []

    def run(self, block: Block, where: str) -> None:
        """Run ``block`` starting in ``base/where``; check each line's exit code against the README."""
        folder = self.base / where
        folder.mkdir(parents=True, exist_ok=True)
        script = [f"cd {folder}"]
        for index, line in enumerate(block.lines):
            if _exempt(line) is None:
                script += [line, f'echo "@@rc {index} $?"']
        result = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, env=self.env,
                                timeout=600, check=False)
        codes = {int(i): int(rc) for i, rc in re.findall(r"^@@rc (\d+) (\d+)$", result.stdout, flags=re.M)}
        for index, line in enumerate(block.lines):
            if _exempt(line) is not None:
                continue
            assert index in codes, f"{line!r} did not finish:\n{result.stdout}\n{result.stderr}"
            expected_failure = block.fails[index]
            assert (codes[index] != 0) == expected_failure, (
                f"$ {line}\nexited {codes[index]}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
            self.ran.append(line)

    def sh(self, where: str, command: str) -> None:
        """A step of the arrangement that the README leaves to the reader (not an example)."""
        subprocess.run(["bash", "-c", command], cwd=self.base / where, env=self.env, check=True,
                       capture_output=True, text=True)


Arrange = Callable[[Session], None]


def _study(session: Session) -> None:
    write_data(session.base / "study")
    session.sh("study", "fnforge init --model agent-model")


def _sharing(session: Session) -> None:
    (session.base / "readme").mkdir()
    linear, _ = write_data(session.base / "readme" / "linear" / "tasks")
    (linear.parent / "area.jsonl").unlink()
    session.sh("readme", "git init -q --bare shared.git")


def _clones(session: Session) -> None:
    (session.base / "clones").mkdir()
    session.sh("clones", f"git clone -q --bare {session.base / 'readme' / 'shared.git'} shared.git")
    session.sh("clones", "fnforge init evil && mkdir -p evil/functions && cd evil && "
                         "printf 'import os\\n\\ndef peek(x: int) -> int:\\n    return os.getpid()\\n' "
                         "> functions/peek.py && printf '%s' '{\"description\": \"d\", \"parameters\": "
                         "{\"type\": \"object\", \"properties\": {}}}' > functions/peek.json && "
                         "git add functions && git commit -qm 'add peek'")


def _nothing(session: Session) -> None:
    pass


def _config(session: Session) -> None:
    session.sh(".", "fnforge init cfg")


# (the first line of a README block, the folder it starts in, what to arrange first); in README order per folder
SCENARIOS: list[tuple[str, str, Arrange]] = [
    ("python3 -m venv .venv", "main", _nothing),
    ("fnforge -C algebra train --task math:algebra", "main", _nothing),
    ("fnforge -C algebra log", "main", _nothing),
    ("git -C algebra log", "main", _nothing),
    ("fnforge config test 40", "cfg", _config),
    ("fnforge branch create domain/linear", "study", _study),
    ("fnforge eval best/domain/area", "study", _nothing),
    ("git switch domain/linear && fnforge merge", "study", _nothing),
    ("fnforge export best/domain/linear", "study", _nothing),
    ("fnforge blame solve_linear", "study", _nothing),
    ("fnforge log", "study", _nothing),
    ("fnforge sweep --tasks", "study", _nothing),
    ("git init -q --bare -b main /tmp/sw", "study", _nothing),
    ("fnforge init linear", "readme", _sharing),
    ("fnforge best", "readme/team", _nothing),
    ("fnforge clone shared.git team", "clones", _clones),
    ("git reset -q --hard HEAD~2 && fnforge verify", "readme/team", _nothing),
    ("fnforge data pull math", ".", _nothing),
    ("fnforge -C team trust", "readme", _nothing),
]


def test_every_readme_example_has_a_scenario() -> None:
    firsts = [block.lines[0] for block in readme_blocks()]
    unknown = [first for first in firsts if not any(first.startswith(start) for start, _, _ in SCENARIOS)]
    assert unknown == [], "README examples without a scenario in this test"
    unused = [start for start, _, _ in SCENARIOS if not any(first.startswith(start) for first in firsts)]
    assert unused == [], "scenarios whose README example is gone"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_readme_examples_run_as_written(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = server_policy
    session = Session(tmp_path, llm_server)
    blocks = readme_blocks()
    for start, where, arrange in SCENARIOS:
        block = next(b for b in blocks if b.lines[0].startswith(start))
        arrange(session)
        session.run(block, where)
    every = [line for block in blocks for line in block.lines]
    assert [line for line in every if line not in session.ran and _exempt(line) is None] == []
