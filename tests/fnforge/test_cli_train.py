"""``fnforge train``: arrange with the library, act through the CLI, assert with the library.

The kill test runs ``fnforge train`` in a subprocess against the scripted
server of the test process and SIGKILLs it at seven points (mid initial
evaluation, mid optimizer step, mid trial evaluation, mid ref update of a
rejected trial, between a rejected trial and its roll-back, mid optimizer
step with a failure record, mid test evaluation); ``--resume`` then finishes
with the same best as an uninterrupted run, and ``git fsck`` is clean.
"""

from __future__ import annotations

import io
import json
import re
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from fnforge import registry
from fnforge.cli import cli
from fnforge.cli._live_view import LiveView
from fnforge.optimizer._live import Phase, PhaseStarted, RunStarted, Spend, StepFinished, StepStatus, TaskDone
from fnforge.optimizer._run_state import StepRecord
from tests.llm_server import Request, ScriptedLLM
from tests.optimizer.policies import TERMINATE, OptimizerScript, is_optimizer_request
from tests.optimizer.trainer_support import FIXTURES, add_solve, agent_policy, content_policy, init_repo, section

BASE_ARGS = ["--task", "math:algebra", "--train", "4", "--test", "4", "--model", "agent-model",
             "--optimizer-model", "optimizer-model", "--concurrency", "2"]


def _env(llm: ScriptedLLM) -> dict[str, str]:
    return {"OPENAI_BASE_URL": llm.base_url, "FNFORGE_DATA": str(FIXTURES), "OPENAI_API_KEY": "",
            "COLUMNS": "120"}


def _invoke(path: Path, llm: ScriptedLLM, *args: str) -> Any:
    return CliRunner().invoke(cli, ["-C", str(path), "train", *BASE_ARGS, *args], env=_env(llm),
                              catch_exceptions=False)


def test_train_command_prints_steps_and_the_summary_table(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE], [TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    result = _invoke(tmp_path / "t", llm_server, "--patience", "1")
    assert result.exit_code == 0, result.output
    with registry.open(tmp_path / "t") as repo:
        run = repo.log()[0].run
        best = repo.best()
        assert best is not None and best.status == "accepted"
    lines = result.output.splitlines()
    assert lines[0].startswith(f"run {run} on main: 4 train / 4 test tasks, epochs 10, patience 1")
    assert lines[1].startswith("step   0  initial   train 0.2500  best 0.2500  opt  -  ")
    assert lines[2].startswith("step   1  accepted  train 1.0000  best 1.0000  opt  2  ")
    assert lines[2].endswith("epoch 1: add solve_linear")
    assert lines[3] == "step   2  unchanged train 1.0000  best 1.0000  opt  1  -        epoch 1: no change (terminated)"
    assert "early stop after 1 step without improvement" in result.output
    assert "optimizer    3 requests" in result.output
    assert "prompt tokens (0%) from the provider's prompt cache" in result.output
    assert "test score   1.0000 (4/4" in result.output
    assert f".git/fnforge/runs/{run}/summary.json" in result.output


def test_train_command_json_prints_the_run_summary(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", *BASE_ARGS, "--patience", "1",
                                      "--json"], env=_env(llm_server), catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["stop"], data["steps"], data["best_score"]) == ("patience", 1, 0.25)


def test_train_dry_run_calls_no_model(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    init_repo(tmp_path / "t").close()
    result = _invoke(tmp_path / "t", llm_server, "--dry-run", "--max-actions", "2", "--max-retries", "1")
    assert result.exit_code == 0
    assert llm_server.count == 0
    assert "Dry run: no LLM is called" in result.output
    assert "optimizer      3 LLM calls (at most 4)" in result.output
    assert "evaluation     8 LLM calls (at most 40)" in result.output
    assert "of agent prompt tokens expected cached by the provider" in result.output
    with registry.open(tmp_path / "t") as repo:
        assert len(repo.log()) == 1


def test_train_rejects_a_toolset_prompt_with_a_missing_placeholder(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    init_repo(tmp_path / "t").close()
    (tmp_path / "t" / "prompts").mkdir()
    (tmp_path / "t" / "prompts" / "tool.txt").write_text("Be brief.")
    result = _invoke(tmp_path / "t", llm_server, "--max-steps", "0")
    assert result.exit_code == 2 and llm_server.count == 0
    assert result.stderr.startswith("Error: ") and "missing placeholders $answer_instruction" in result.stderr


def test_train_resume_rejects_a_changed_task_set(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    _invoke(tmp_path / "t", llm_server, "--max-steps", "0")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", "--resume", "--train", "3"],
                                env=_env(llm_server))
    assert result.exit_code == 2
    assert "--train cannot change when resuming run" in result.stderr


def test_train_resume_accepts_the_runs_own_values(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    _invoke(tmp_path / "t", llm_server, "--max-steps", "0", "--seed", "0")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", "--resume", *BASE_ARGS, "--seed", "0",
                                      "--accept", "strict", "--patience", "1", "--max-steps", "5"],
                                env=_env(llm_server))
    assert result.exit_code == 0, result.stderr
    assert "resuming run" in result.output and "stopped      early stop after 1 step without" in result.output


@pytest.mark.parametrize("flag", [["--seed", "1"], ["--batch", "2"], ["--accept", "ties"], ["--model", "other"]])
def test_train_resume_rejects_a_changed_identity_flag(tmp_path: Path, llm_server: ScriptedLLM,
                                                      flag: list[str]) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    _invoke(tmp_path / "t", llm_server, "--max-steps", "0")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", "--resume", *flag], env=_env(llm_server))
    assert result.exit_code == 2 and f"{flag[0]} cannot change when resuming run" in result.stderr


def test_train_with_the_default_response_cache_asks_the_optimizer_at_every_step(
        tmp_path: Path, llm_server: ScriptedLLM) -> None:
    script = OptimizerScript([[TERMINATE]], agent=agent_policy)
    llm_server.policy = script
    init_repo(tmp_path / "t").close()
    result = _invoke(tmp_path / "t", llm_server, "--patience", "3", "--json")
    data = json.loads(result.stdout)
    assert len(script.prompts) == 3 and (data["steps"], data["unchanged"]) == (3, 3)
    assert [r["optimizer_calls"] for r in data["history"]] == [0, 1, 1, 1]


def test_train_refused_for_a_dirty_tree_creates_no_run_folder(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
    init_repo(tmp_path / "t").close()
    (tmp_path / "t" / "functions").mkdir(exist_ok=True)
    (tmp_path / "t" / "functions" / "draft.py").write_text("def draft():\n    return 1\n")
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", *BASE_ARGS], env=_env(llm_server))
    assert result.exit_code == 3 and result.stderr.startswith("Error: uncommitted changes in the working tree")
    assert not (tmp_path / "t" / ".git" / "fnforge" / "runs").exists() or not any(
        (tmp_path / "t" / ".git" / "fnforge" / "runs").iterdir())
    again = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", "--resume"], env=_env(llm_server))
    assert again.exit_code == 1 and "no training run to resume" in again.stderr


def test_train_epoch_numbers_agree_between_the_table_the_trailers_and_the_summary(
        tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = content_policy
    init_repo(tmp_path / "t").close()
    result = _invoke(tmp_path / "t", llm_server, "--patience", "2")
    with registry.open(tmp_path / "t") as repo:
        trailers = {v.short: v.epoch for v in repo.log()}
        run = repo.log()[0].run
        summary = json.loads((repo.state_dir / "runs" / str(run) / "summary.json").read_text())
    shown = [re.match(r"step +(\d+) .*?  (\w{7}|-) +epoch (\d+): ", line) for line in result.output.splitlines()
             if line.startswith("step ")]
    matches = [m for m in shown if m is not None]
    assert len(matches) == len(shown) == len(summary["history"])
    for match, step in zip(matches, summary["history"]):
        assert int(match.group(3)) == step["epoch"]
        if match.group(2) != "-":
            assert trailers[match.group(2)] == step["epoch"]
    assert summary["epochs"] == summary["history"][-1]["epoch"] == 1


def test_train_resume_refuses_a_branch_reset_past_the_runs_commits_and_writes_nothing(
        tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = content_policy
    init_repo(tmp_path / "t").close()
    _invoke(tmp_path / "t", llm_server, "--patience", "2")
    with registry.open(tmp_path / "t") as repo:
        initial = repo.log()[-2]
        run_folder = repo.state_dir / "runs" / str(initial.run)
    subprocess.run(["git", "-C", str(tmp_path / "t"), "reset", "-q", "--hard", initial.sha], check=True)
    before = {p.name: p.read_bytes() for p in run_folder.rglob("*") if p.is_file()}
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", "--resume"], env=_env(llm_server))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: branch 'main' no longer contains commit ")
    assert "was it reset? Nothing was changed" in result.stderr and result.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in run_folder.rglob("*") if p.is_file()} == before


def test_train_resume_without_a_run_is_an_error(tmp_path: Path, llm_server: ScriptedLLM) -> None:
    init_repo(tmp_path / "t").close()
    result = CliRunner().invoke(cli, ["-C", str(tmp_path / "t"), "train", "--resume"], env=_env(llm_server))
    assert result.exit_code == 1
    assert result.stderr == "Error: no training run to resume on branch 'main'; start one with `fnforge train`\n"
    assert result.stdout == ""


def test_live_view_shows_phase_progress_steps_and_spend() -> None:
    output = io.StringIO()
    spent = Spend(tokens=1234, cost=0.5)
    with LiveView(Console(file=output, force_terminal=True, width=120, color_system=None)) as view:
        view(RunStarted(run_id="r1", branch="main", resumed=False, train_tasks=4, test_tasks=4, epochs=10,
                        patience=3, max_steps=None, step=0, spent=Spend()))
        view(PhaseStarted(step=1, phase=Phase.EVALUATE, total=4))
        view(TaskDone(step=1, phase=Phase.EVALUATE, done=2, total=4, correct=1, cached=False, spent=spent))
        view(StepFinished(record=StepRecord(step=1, epoch=1, status=StepStatus.ACCEPTED, score=0.75, best_score=0.75,
                                            subject="epoch 1: add solve", commit="abcdef0123", optimizer_calls=3,
                                            optimizer_cached=1), rejections=0, stale=0, spent=spent))
    text = output.getvalue()
    assert "step 1 · evaluating the trial" in text and "0/4 tasks, 0 correct" in text
    assert re.search(r"step +epoch +status +train +best +opt +commit +change", text)
    assert re.search(r"1 +1  ✓ accepted +0.7500  0.7500 +3 \(1 cached\)  abcdef0  epoch 1: add solve", text)
    assert "epoch 1/10 · without improvement 0/3 · 1,234 tokens, $0.5000" in text


def _step(step: int) -> StepFinished:
    status = StepStatus.INITIAL if step == 0 else StepStatus.UNCHANGED
    record = StepRecord(step=step, epoch=0, status=status, score=0.25, best_score=0.25,
                        subject=f"epoch 0: step {step}", commit="abcdef0123" if step == 0 else None,
                        optimizer_calls=int(step > 0), optimizer_cached=0)
    return StepFinished(record=record, rejections=0, stale=step, spent=Spend())


def test_live_view_last_frame_lists_every_step_from_step_0() -> None:
    output = io.StringIO()
    with LiveView(Console(file=output, force_terminal=True, width=120, color_system=None)) as view:
        for step in range(15):  # more than the live table's rows
            view(_step(step))
        last_live_frame = output.getvalue()
    final = output.getvalue()[len(last_live_frame):]
    assert "epoch 0: step 0" in final and "epoch 0: step 14" in final


def test_live_view_says_once_that_it_asks_the_optimizer() -> None:
    output = io.StringIO()
    with LiveView(Console(file=output, force_terminal=True, width=120, color_system=None)) as view:
        view(PhaseStarted(step=2, phase=Phase.OPTIMIZE, total=0))
        text = output.getvalue()
    assert "step 2 · asking the optimizer LLM…" in text and "optimizer asking" not in text


# ---------------------------------------------------------------- SIGKILL and --resume

_HOOK = """#!/bin/sh
# reference-transaction hook: SIGKILL the trainer when a rejected trial's ref update reaches $KILL_STATE.
mode_file="{mode}"
[ -f "$mode_file" ] || exit 0
want=$(cat "$mode_file")
[ "$1" = "$want" ] || exit 0
while read old new ref; do
    if [ "$ref" = "refs/heads/main" ] && git cat-file commit "$new" | grep -q '^Status: rejected'; then
        rm -f "$mode_file"
        kill -9 $(cat "{pid}")
        exit 1
    fi
done
exit 0
"""


class _Killer:
    """The server policy (``content_policy``) plus a SIGKILL of the trainer when ``trigger`` fires."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.trigger: Callable[[Request], bool] | None = None
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Any:
        with self.lock:
            if self.trigger is not None and self.pid is not None and self.trigger(req):
                os.kill(self.pid, signal.SIGKILL)
                self.trigger = None
        return content_policy(req)


def _nth(n: int, matches: Callable[[Request], bool]) -> Callable[[Request], bool]:
    seen = 0

    def trigger(req: Request) -> bool:
        nonlocal seen
        seen += matches(req)
        return seen == n

    return trigger


def _agent(req: Request) -> bool:
    return not is_optimizer_request(req)


def _with_function(req: Request) -> bool:
    return _agent(req) and req.offered("solve_linear") and "3x + 6 = 6" not in req.question


def _test_task(req: Request) -> bool:
    return _agent(req) and any(q in req.question for q in ("3x + 6 = 6", "2x - 2 = 8", "6x + 6 = 0", "4x + 4 = 16"))


def _failure_prompt(req: Request) -> bool:
    return is_optimizer_request(req) and req.turn == 0 and "## Failed set" in section(req.question, "Failure record")


def _train_process(path: Path, env: Mapping[str, str], resume: bool) -> subprocess.Popen[str]:
    args = ["--resume", "--concurrency", "2"] if resume else [*BASE_ARGS, "--patience", "2"]
    code = "from fnforge.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "-C", str(path), "train", *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_train_survives_sigkill_at_seven_points_and_resumes_to_the_same_best(
        tmp_path: Path, llm_server: ScriptedLLM) -> None:
    llm_server.policy = content_policy
    init_repo(tmp_path / "reference").close()
    reference = _invoke(tmp_path / "reference", llm_server, "--patience", "2", "--json")
    expected = json.loads(reference.stdout)

    killer = _Killer()
    llm_server.policy = killer
    path = tmp_path / "killed"
    init_repo(path).close()
    mode, pid_file = tmp_path / "kill-mode", tmp_path / "trainer.pid"
    hook = path / ".git" / "hooks" / "reference-transaction"
    hook.write_text(_HOOK.format(mode=mode, pid=pid_file))
    hook.chmod(0o755)
    rounds: list[tuple[str, Callable[[Request], bool] | None, str | None, str]] = [
        # (where, server-side trigger, reference-transaction state to kill at, branch tip status after the kill)
        ("mid initial evaluation", _nth(3, _agent), None, "manual"),
        ("mid optimizer step", _nth(1, is_optimizer_request), None, "initial"),
        ("mid trial evaluation", _nth(2, _with_function), None, "initial"),
        ("mid ref update of a rejected trial", None, "prepared", "accepted"),
        ("between a rejected trial and its roll-back", None, "committed", "rejected"),
        ("mid optimizer step with a failure record", _nth(1, _failure_prompt), None, "rollback"),
        ("mid test evaluation", _nth(2, _test_task), None, "rollback"),
    ]
    env = _env(llm_server)
    for index, (name, trigger, hook_state, tip) in enumerate(rounds):
        if hook_state is not None:
            mode.write_text(hook_state)
        process = _train_process(path, env, resume=index > 0)
        pid_file.write_text(str(process.pid))
        with killer.lock:
            killer.pid, killer.trigger = process.pid, trigger
        _, err = process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL, f"round {name!r} was not killed: {err}"
        with registry.open(path) as repo:
            assert repo.log()[0].status == tip, name
    final = _train_process(path, env, resume=True)
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err

    with registry.open(path) as repo:
        run = repo.log()[0].run
        assert run is not None
        summary = json.loads((repo.state_dir / "runs" / run / "summary.json").read_text())
        statuses = [(v.status, v.trailer("Step")) for v in reversed(repo.log())][1:]
        best_root = repo.read_file(summary["best_commit"], "fnforge.toml")
    # the first run commits the sizes it uses to fnforge.toml ("settings: ..."), once
    assert statuses == [("manual", None), ("initial", "0"), ("accepted", "1"), ("rejected", "2"), ("rollback", "2")]
    assert (summary["best_tree"], summary["best_score"]) == (expected["best_tree"], expected["best_score"])
    assert summary["test"] == expected["test"] and summary["steps"] == expected["steps"]
    assert best_root is not None
    fsck = subprocess.run(["git", "-C", str(path), "fsck", "--full", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0
    assert not [line for line in (fsck.stdout + fsck.stderr).splitlines()
                if line.startswith(("error", "missing", "broken", "bad"))]


@pytest.fixture(autouse=True)
def _no_leaked_policy_errors(llm_server: ScriptedLLM) -> Any:
    yield
    assert llm_server.policy_errors == []
