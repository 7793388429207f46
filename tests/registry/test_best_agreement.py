"""The trainer, the commands and the best pointer agree on one best (issue 12, item 1 and 5).

The trainer runs against the scripted LLM server with the real sandbox; the
command-line cases train with ``fnforge train`` (``tests/optimizer/study_support.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fnforge import registry
from fnforge.functions import FunctionSet
from fnforge.optimizer._train_config import TrainConfig
from fnforge.sandbox import Sandbox, SandboxPolicy
from tests.llm_server import Reply, Request, ScriptedLLM
from tests.optimizer.policies import TERMINATE, OptimizerScript, add_call, is_optimizer_request, revise_call
from tests.optimizer.study_support import TRAIN_ARGS, invoke, policy, write_data
from tests.optimizer.trainer_support import ARGS, SOLVE_EQUIVALENT, TRAIN6, add_solve, agent_policy, init_repo, train
from tests.registry.helpers import git


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as box:
        yield box


def _trials(repo: registry.Repository) -> list[tuple[str | None, float | None]]:
    return [(v.status, v.score) for v in reversed(repo.log()) if v.status in ("initial", "accepted", "rejected")]


def test_trainer_and_registry_agree_under_accept_ties(tmp_path: Path, llm_server: ScriptedLLM,
                                                      sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript(
        [[add_solve(), TERMINATE], [revise_call("solve_linear", SOLVE_EQUIVALENT, arguments=ARGS), TERMINATE],
         [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=1, accept="ties")))
        assert _trials(repo) == [("initial", 0.25), ("accepted", 1.0), ("accepted", 1.0)]  # a tie was accepted
        best = repo.best()
        assert best is not None and best.sha == summary.best_commit == repo.best_refs()["main"]
        assert best.sha == repo.resolve("HEAD")  # the later acceptance, as the trainer chose


def test_trainer_and_registry_agree_in_batch_mode(tmp_path: Path, llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    steps = [[add_call(f"g{k}", f"def g{k}(x):\n    return x + {k}\n", arguments={"x": {"type": "number"}}),
              TERMINATE] for k in (1, 2)]
    llm_server.policy = OptimizerScript(steps, agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        config = TrainConfig(batch=2, seed=9, accept="ties", max_steps=2)
        summary = asyncio.run(train(repo, llm_server.base_url, sandbox, config, train_tasks=TRAIN6, test_tasks=()))
        # seed 9: step 1's batch holds the task "0" answers right, step 2's does not, so the run's best
        # (its last acceptance) has a lower batch score than the initial commit: scores of two batches.
        assert _trials(repo) == [("initial", 0.5), ("accepted", 0.5), ("accepted", 0.0)]
        best = repo.best()
        assert best is not None and best.sha == summary.best_commit == repo.resolve("HEAD")
        assert repo.best_refs()["main"] == best.sha


def test_trainer_reports_an_earlier_better_version_of_the_same_task_set(tmp_path: Path, llm_server: ScriptedLLM,
                                                                        sandbox: Sandbox) -> None:
    llm_server.policy = OptimizerScript([[add_solve(), TERMINATE], [TERMINATE]], agent=agent_policy)
    with init_repo(tmp_path / "t") as repo:
        first = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=1)))
        repo.commit(FunctionSet(), subject="start over by hand", trailers={"Status": "manual"})
        llm_server.policy = OptimizerScript([[TERMINATE]], agent=agent_policy)
        again = asyncio.run(train(repo, llm_server.base_url, sandbox, TrainConfig(patience=1)))
        assert again.best_commit == first.best_commit == repo.best().sha  # type: ignore[union-attr]
        assert again.best_score == 1.0 and again.test is not None and again.test.accuracy == 1.0


# -- the command line ---------------------------------------------------------------------------------

CAPITALS = [("France", "Paris"), ("Peru", "Lima"), ("Kenya", "Nairobi"), ("Japan", "Tokyo"),
            ("Chile", "Santiago"), ("Spain", "Madrid"), ("Egypt", "Cairo"), ("Italy", "Rome")]


def _capitals_policy(req: Request) -> Reply | str:
    """The study server, plus an agent that never knows a capital (every score on that domain is 0)."""
    if not is_optimizer_request(req) and "capital" in req.question:
        return "\\boxed{0}"
    return policy(req)


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ScriptedLLM, dict[str, str]]]:
    """domain/a trained on linear equations; domain/c branched from best/domain/a, trained on capitals."""
    root = tmp_path_factory.mktemp("domains")
    linear, _ = write_data(root / "data")
    capitals = root / "data" / "capitals.jsonl"
    capitals.write_text("".join(json.dumps({"id": f"cap{i}", "question": f"What is the capital of {c}?",
                                            "answer": a}) + "\n" for i, (c, a) in enumerate(CAPITALS)))
    path = root / "toolset"
    registry.init(path, files={"fnforge.toml": f'[fnforge]\ntask = "jsonl:{linear}"\n'.encode()}).close()
    with ScriptedLLM(_capitals_policy) as llm:
        invoke(llm, path, "branch", "create", "domain/a")
        with registry.open(path) as repo:
            repo.switch("domain/a")
        invoke(llm, path, "train", "--task", f"jsonl:{linear}", "--epochs", "1", *TRAIN_ARGS)
        invoke(llm, path, "branch", "create", "domain/c", "--from", "best/domain/a")
        with registry.open(path) as repo:
            repo.switch("domain/c")
        summary = json.loads(invoke(llm, path, "train", "--task", f"jsonl:{capitals}", "--epochs", "1",
                                    "--patience", "1", "--json", *TRAIN_ARGS).stdout)
        yield path, llm, {"linear": f"jsonl:{linear}", "capitals": f"jsonl:{capitals}",
                          "c_best": summary["best_commit"]}


def test_branch_from_another_domain_has_its_own_best_everywhere(
    two_domains: tuple[Path, ScriptedLLM, dict[str, str]]
) -> None:
    path, llm, facts = two_domains
    with registry.open(path) as repo:
        own = repo.version(facts["c_best"])
        a_best = repo.best("domain/a")
        assert own.status == "initial" and own.score == 0.0 and a_best is not None and a_best.score == 1.0
        assert repo.best("domain/c") == own and repo.resolve("best/domain/c") == own.sha
        assert repo.best_refs()["domain/c"] == own.sha
    shown = invoke(llm, path, "best").stdout.splitlines()
    assert shown[0].startswith(f"{own.short} ● 0.0000") and shown[1].startswith(f"  on {facts['capitals']} (4 tasks")
    rows = {r["branch"]: r for r in json.loads(invoke(llm, path, "domains", "--json").stdout)}
    assert (rows["domain/c"]["task"], rows["domain/c"]["best"], rows["domain/c"]["train"],
            rows["domain/c"]["test"]) == (facts["capitals"], own.short, 0.0, 0.0)
    assert (rows["domain/a"]["task"], rows["domain/a"]["train"]) == (facts["linear"], 1.0)
    listed = {b["name"]: b for b in json.loads(invoke(llm, path, "branch", "list", "--json").stdout)}
    assert (listed["domain/c"]["best"], listed["domain/c"]["best_score"]) == (own.sha, 0.0)
    assert listed["domain/c"]["tasks"].startswith(f"{facts['capitals']} (4 tasks, sha256:")
    assert git(path, "rev-parse", "fnforge/best/domain/c").strip() == own.sha


def test_best_task_option_picks_among_the_task_sets_of_a_branch(
    two_domains: tuple[Path, ScriptedLLM, dict[str, str]]
) -> None:
    path, llm, facts = two_domains
    with registry.open(path) as repo:
        a_best = repo.best("domain/a")
    assert a_best is not None
    shown = invoke(llm, path, "best", "domain/c", "--task", facts["linear"]).stdout
    assert shown.startswith(f"{a_best.short} ✓ 1.0000")
    from click.testing import CliRunner

    from fnforge.cli import cli
    missing = CliRunner().invoke(cli, ["-C", str(path), "best", "--task", "gsm8k"])
    assert missing.exit_code == 3 and "no scored version on 'domain/c' (task set 'gsm8k'); scored task sets: " \
        f"{facts['capitals']} (4 tasks" in missing.stderr


def test_test_scores_are_read_from_the_notes_eval_writes(two_domains: tuple[Path, ScriptedLLM, dict[str, str]],
                                                         tmp_path: Path) -> None:
    path, llm, facts = two_domains
    with registry.open(path) as repo:
        a_best = repo.best("domain/a")
        initial = next(v for v in repo.log("domain/a") if v.status == "initial")
    assert a_best is not None
    invoke(llm, path, "eval", initial.sha, "--split", "test", "--train", "4", "--test", "4", "--model", "agent-model")
    with registry.open(path) as repo:
        noted = repo.note(initial.sha)
        assert noted is not None and noted["test"]["split"] == "test"
        assert noted["test"]["tasks"].startswith(f"{facts['linear']} (4 tasks, sha256:")
    best_test = invoke(llm, path, "best", "domain/a", "--split", "test").stdout.splitlines()
    assert best_test[0].startswith(f"{a_best.short} ✓ 1.0000") and best_test[1].endswith(", test split")
    lines = {line.split()[0]: line for line in invoke(llm, path, "log", "domain/a", "--split", "test").stdout
             .splitlines()}
    assert lines[a_best.short].endswith("[best]") and " 1.0000 " in lines[a_best.short]
    assert f" {noted['test']['accuracy']:.4f} " in lines[initial.short]
    assert lines[initial.short].split()[2] != "-"
