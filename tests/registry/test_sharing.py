"""Sharing a trained toolset through real remotes: push, train more, push again, pull elsewhere.

Training runs ``fnforge train`` against the scripted LLM server (the linear
domain of ``tests/optimizer/study_support.py``); remotes are a bare repository
on disk and a real ``git daemon`` on 127.0.0.1. The task file lives inside the
toolset and is committed with plain git, so a clone can evaluate on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fnforge import registry
from fnforge.cli import cli
from tests.llm_server import ScriptedLLM
from tests.optimizer.study_support import policy, write_data
from tests.fnforge.cli import ok
from tests.registry.helpers import accepted, make_set, user_git

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ["--train", "4", "--test", "4", "--seed", "0", "--model", "agent-model", "--concurrency", "2"]
GIT_DAEMON = Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip()) / "git-daemon"


def fnforge(llm: ScriptedLLM, cwd: Path, *args: str) -> Result:
    """``fnforge ARGS`` run in working directory ``cwd`` (as a user at a shell would); must succeed."""
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "", "COLUMNS": "120"}
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"fnforge {' '.join(args)} failed ({result.exit_code}):\n{result.output}"
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def daemon_url(tmp_path: Path) -> Iterator[str]:
    """A bare repository served by ``git daemon`` (push enabled) on a free port of 127.0.0.1."""
    if not GIT_DAEMON.exists():
        pytest.skip(f"git-daemon is not installed ({GIT_DAEMON} is missing; apt-get install git-daemon-sysvinit)")
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(served / "toolset.git")], check=True)
    port = _free_port()
    daemon = subprocess.Popen(
        [str(GIT_DAEMON), "--reuseaddr", "--export-all", "--enable=receive-pack", "--informative-errors",
         "--listen=127.0.0.1", f"--port={port}", f"--base-path={served}", str(served)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"git://127.0.0.1:{port}/toolset.git"
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["git", "ls-remote", url], capture_output=True).returncode:  # ready when it answers
            assert daemon.poll() is None, "git daemon exited"
            assert time.monotonic() < deadline, "git daemon did not answer within 60 s"
            time.sleep(0.05)
        yield url
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


@pytest.fixture
def file_url(tmp_path: Path) -> str:
    bare = tmp_path / "shared.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return str(bare)


@pytest.fixture(params=["git daemon", "file"])
def remote_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("daemon_url" if request.param == "git daemon" else "file_url"))


def _toolset(where: Path, llm: ScriptedLLM) -> Path:
    """``fnforge init`` naming the task file from outside the toolset, the file committed with plain git."""
    llm.policy = policy
    where.parent.mkdir(parents=True, exist_ok=True)
    fnforge(llm, where.parent, "init", where.name, "--task", f"jsonl:{where.name}/tasks/linear.jsonl")
    write_data(where / "tasks")
    user_git(where, "add", "tasks/linear.jsonl")
    user_git(where, "commit", "-qm", "tasks: linear equations")
    return where


def _notes(repo: registry.Repository) -> dict[str, Any]:
    return repo.notes_for(v.sha for v in repo.log("main"))


def test_push_train_push_again_then_pull_into_an_earlier_clone(tmp_path: Path, llm_server: ScriptedLLM,
                                                                remote_url: str) -> None:
    mine = _toolset(tmp_path / "mine", llm_server)
    assert (mine / "fnforge.toml").read_text() == '[fnforge]\ntask = "jsonl:tasks/linear.jsonl"\n' \
        'agent = "tool"\nmodel = "gpt-4o-mini"\ntrain = 20\ntest = 80\nseed = 0\n'
    fnforge(llm_server, mine, "remote", "add", "origin", remote_url)
    fnforge(llm_server, mine, "train", "--max-steps", "0", *TRAIN)
    fnforge(llm_server, mine, "push", "--with-answers")
    fnforge(llm_server, tmp_path, "clone", remote_url, "theirs")
    fnforge(llm_server, mine, "train", "--epochs", "1", *TRAIN)
    second = fnforge(llm_server, mine, "push", "--with-answers").stdout
    assert second.startswith(f"To origin\n  main  ") and "notes on " in second
    pulled = fnforge(llm_server, tmp_path / "theirs", "pull").stdout
    assert pulled.startswith("From origin\n  main  fast-forward  best ")
    with registry.open(mine) as a, registry.open(tmp_path / "theirs") as b:
        best = a.best_score("main")
        assert best is not None and best.score == 1.0
        assert b.best_score("main") == best
        assert a.best_refs() == b.best_refs() == {"main": best.version.sha}
        assert a.resolve("main") == b.resolve("main")
        assert _notes(a) == _notes(b) and best.version.sha in _notes(b)
        assert b.best_score("main", "test") == a.best_score("main", "test")


def test_plain_git_pull_brings_notes_and_best_pointers(tmp_path: Path, llm_server: ScriptedLLM,
                                                       file_url: str) -> None:
    mine = _toolset(tmp_path / "mine", llm_server)
    fnforge(llm_server, mine, "train", "--max-steps", "0", *TRAIN)
    fnforge(llm_server, mine, "push", file_url)
    user_git(tmp_path, "clone", "-q", "--branch", "main", file_url, "plain")
    fnforge(llm_server, tmp_path / "plain", "log")  # any fnforge command configures the clone's remotes
    fnforge(llm_server, mine, "train", "--epochs", "1", *TRAIN)
    fnforge(llm_server, mine, "push", file_url)
    user_git(tmp_path / "plain", "pull", "-q")
    with registry.open(mine) as a, registry.open(tmp_path / "plain") as b:
        best = a.best("main")
        assert best is not None and b.best("main") == best
        assert user_git(b.path, "rev-parse", "fnforge/remotes/origin/best/main").strip() == best.sha
        assert b.note(best.sha) is not None and b.note(best.sha) == _without_answers(a.note(best.sha))


def _without_answers(note: dict[str, Any] | None) -> dict[str, Any]:
    assert note is not None
    return {key: {**value, "results": [{k: v for k, v in r.items() if k != "answer"} for r in value["results"]]}
            if isinstance(value, dict) and "results" in value else value for key, value in note.items()}


def test_push_leaves_answers_out_of_shared_notes_unless_asked(repo: registry.Repository, file_url: str) -> None:
    version = repo.commit(make_set("a"), subject="epoch 0: initial evaluation", trailers=accepted(0.5, 0, Run="r1"))
    results = [{"task_id": "t1", "correct": True, "answer": "42", "tokens": 9},
               {"task_id": "t2", "correct": False, "answer": "7", "tokens": 8}]
    repo.add_note(version.sha, {"train": {"accuracy": 0.5, "n": 2, "correct": 1, "results": results}})
    report = repo.push(file_url)
    assert (report.notes, report.answers) == (1, False)
    shared = user_git(Path(file_url), "log", "-1", "-p", "refs/notes/fnforge")
    assert '"task_id":"t1"' in shared.replace(" ", "") and '"answer"' not in shared
    assert repo.note(version.sha)["train"]["results"] == results  # type: ignore[index]
    repo.push(file_url, answers=True)
    assert '"answer"' in user_git(Path(file_url), "log", "-1", "-p", "refs/notes/fnforge")


def test_toolset_trained_inside_its_folder_travels_and_evaluates_elsewhere(
    tmp_path: Path, llm_server: ScriptedLLM, file_url: str
) -> None:
    mine = _toolset(tmp_path / "work" / "mine", llm_server)
    fnforge(llm_server, mine, "train", "--task", "jsonl:tasks/linear.jsonl", "--epochs", "1", *TRAIN)
    fnforge(llm_server, mine, "push", file_url)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fnforge(llm_server, elsewhere, "clone", file_url, "copy")
    result = fnforge(llm_server, tmp_path, "-C", "elsewhere/copy", "eval", "best/main", "--split", "test",
                     "--train", "4", "--test", "4", "--model", "agent-model", "--json").stdout
    assert json.loads(result)["accuracy"] == 1.0
    with registry.open(elsewhere / "copy") as copy:
        best = copy.best_score("main", "test")
        assert best is not None and best.score == 1.0
        assert best.task_set.label == "jsonl:tasks/linear.jsonl"
        assert [f for f in registry.verify(copy, check=lambda fn: ()).findings if f.kind == "path"] == []
    objects = subprocess.run(["git", "-C", file_url, "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout
    for machine_path in {str(tmp_path), str(ROOT), os.environ["HOME"], os.getcwd()}:
        assert machine_path.encode() not in objects, f"{machine_path} was pushed"


def test_verify_warns_about_a_task_path_outside_the_toolset(repo: registry.Repository, tmp_path: Path) -> None:
    outside = tmp_path / "data" / "linear.jsonl"
    version = repo.commit(make_set("a"), subject="epoch 0: initial evaluation",
                          trailers=accepted(0.5, 0, Tasks=f"jsonl:{outside} (4 tasks, sha256:aaaaaaaaaaaa)"))
    out = ok({}, "-C", str(repo.path), "verify").stdout
    assert (f"  warning: task path '{outside}' (the Tasks trailer of {version.short}) is outside the toolset; "
            "it will not work on another machine\n    hint: keep the task file inside the toolset") in out
