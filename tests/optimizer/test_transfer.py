"""Transfer matrix and scored merges, against the scripted server with the real sandbox and registry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fnforge import registry
from fnforge.agents import AgentConfig, LLMClient, LLMConfig
from fnforge.functions import Function, FunctionSet
from fnforge.optimizer import EvalCache, OptimizerError, Report, evaluate
from fnforge.optimizer._transfer import BASELINE_LABEL, Domain, TransferMatrix, merge_domains, transfer_matrix
from fnforge.sandbox import Sandbox
from fnforge.tasks import make_splits
from tests.llm_server import ScriptedLLM
from tests.optimizer.study_support import (AREA_ARGS, AREA_CODE, LINEAR_ARGS, SOLVE, SOLVE_BUGGY, policy,
                                           write_data)

AGENT = AgentConfig(kind="tool", max_turns=4)


def fn(name: str, code: str, args: dict[str, Any]) -> Function:
    return Function(name=name, description=f"The {name} function.", code=code,
                    parameters={"type": "object", "properties": args, "required": sorted(args)})


SOLVER, AREA = fn("solve_linear", SOLVE, LINEAR_ARGS), fn("rect_area", AREA_CODE, AREA_ARGS)
BUGGY = fn("solve_linear", SOLVE_BUGGY, LINEAR_ARGS)


@pytest.fixture(scope="module")
def domains(tmp_path_factory: pytest.TempPathFactory) -> tuple[Domain, Domain]:
    linear, area = write_data(tmp_path_factory.mktemp("data"))
    return tuple(  # type: ignore[return-value]
        Domain(label=spec, tasks=make_splits(spec, n_train=4, n_test=4, seed=0).train.tasks)
        for spec in (f"jsonl:{linear}", f"jsonl:{area}")
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2, spares=0) as box:
        yield box


def run(llm: ScriptedLLM, body: Any) -> Any:
    async def main() -> Any:
        async with LLMClient(LLMConfig(model="agent-model", base_url=llm.base_url, api_key="x")) as client:
            return await body(client)

    llm.policy = policy
    return asyncio.run(main())


def test_transfer_matrix_puts_the_untrained_baseline_first(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                           domains: tuple[Domain, Domain]) -> None:
    sets = [("linear", FunctionSet((SOLVER,))), ("area", FunctionSet((AREA,)))]
    matrix = run(llm_server, lambda client: transfer_matrix(sets, domains, AGENT, client=client, sandbox=sandbox))
    assert matrix.rows == (BASELINE_LABEL, "linear", "area")
    assert matrix.scores == ((0.5, 0.25), (1.0, 0.25), (0.5, 1.0))


def test_transfer_matrix_cells_equal_separate_evaluations(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                          domains: tuple[Domain, Domain], tmp_path: Path) -> None:
    cache = EvalCache(tmp_path / "cache.sqlite")
    sets = [("linear", FunctionSet((SOLVER,)))]

    async def both(client: LLMClient) -> Any:
        matrix = await transfer_matrix(sets, domains, AGENT, client=client, sandbox=sandbox, cache=cache,
                                       baseline=False)
        alone = await evaluate(sets[0][1], domains[1].tasks, AGENT, client=client, sandbox=sandbox)
        return matrix, alone

    matrix, alone = run(llm_server, both)
    assert matrix.score("linear", domains[1].label) == alone.accuracy
    assert matrix.reports[0][1].correct == alone.correct


def test_transfer_matrix_csv_has_one_line_per_cell() -> None:
    report = Report.from_results((), wall_s=0.0)
    matrix = TransferMatrix(rows=("a", "b"), columns=("x",), trees=("t1", "t2"), reports=((report,), (report,)))
    lines = matrix.to_csv().splitlines()
    assert lines[0] == "trained_on,tested_on,accuracy,correct,n,ci95_low,ci95_high,tree"
    assert lines[1:] == ["a,x,0.0000,0,0,0.0000,1.0000,t1", "b,x,0.0000,0,0,0.0000,1.0000,t2"]


def test_transfer_matrix_rejects_repeated_row_labels(domains: tuple[Domain, Domain]) -> None:
    sets = [("x", FunctionSet()), ("x", FunctionSet())]
    with pytest.raises(ValueError, match="row labels must be unique"):
        asyncio.run(transfer_matrix(sets, domains, AGENT, client=None, sandbox=None))  # type: ignore[arg-type]


@pytest.fixture
def conflicted(tmp_path: Path) -> registry.Repository:
    """main (ours: the right solver) and domain/area (rect_area and a buggy solver): a conflict on solve_linear."""
    repo = registry.init(tmp_path / "t", files={"fnforge.toml": b"[fnforge]\n"})
    repo.create_branch("domain/area")
    repo.commit(FunctionSet((SOLVER,)), subject="epoch 1: add solve_linear", trailers={"Score": 1.0, "Status": "accepted"})
    repo.commit(FunctionSet((AREA, BUGGY)), subject="epoch 1: add rect_area, solve_linear",
                trailers={"Score": 1.0, "Status": "accepted"}, branch="domain/area")
    return repo


@pytest.mark.parametrize(("prefer", "names", "solver", "linear_score", "used"), [
    ("ours", ("rect_area", "solve_linear"), SOLVE, 1.0, "ours"),
    ("theirs", ("rect_area", "solve_linear"), SOLVE_BUGGY, 0.25, "theirs"),
    ("both", ("rect_area", "solve_linear", "solve_linear_area"), SOLVE, 1.0, "both"),
    ("best-score", ("rect_area", "solve_linear"), SOLVE, 1.0, "ours"),
], ids=["ours", "theirs", "both", "best-score"])
def test_merge_domains_resolves_the_conflict_and_scores_both_domains(
    llm_server: ScriptedLLM, sandbox: Sandbox, domains: tuple[Domain, Domain], conflicted: registry.Repository,
    prefer: str, names: tuple[str, ...], solver: str, linear_score: float, used: str,
) -> None:
    linear, area = domains
    outcome = run(llm_server, lambda client: merge_domains(
        conflicted, "domain/area", prefer=prefer, ours_domain=linear, theirs_domain=area, agent_config=AGENT,
        client=client, sandbox=sandbox))
    merged = conflicted.read("HEAD")
    assert (merged.names, merged["solve_linear"].code, outcome.prefer) == (names, solver, used)
    head = conflicted.version("HEAD")
    assert head.parents == (conflicted.log()[1].sha, conflicted.resolve("domain/area"))
    assert (head.status, head.score, head.trailer("Score-Ours"), head.trailer("Score-Theirs")) == (
        "merge", linear_score, f"{linear_score:.4f}", "1.0000")
    assert conflicted.note("HEAD")["train-theirs"]["accuracy"] == 1.0  # type: ignore[index]


def test_merge_domains_best_score_takes_theirs_when_theirs_scores_higher(
    llm_server: ScriptedLLM, sandbox: Sandbox, domains: tuple[Domain, Domain], conflicted: registry.Repository,
) -> None:
    linear, area = domains
    conflicted.switch("domain/area")
    outcome = run(llm_server, lambda client: merge_domains(
        conflicted, "main", prefer="best-score", ours_domain=area, theirs_domain=linear, agent_config=AGENT,
        client=client, sandbox=sandbox))
    assert outcome.prefer == "theirs" and conflicted.read("HEAD")["solve_linear"].code == SOLVE
    assert (outcome.ours.accuracy, outcome.theirs.accuracy) == (1.0, 1.0)


def test_merge_domains_refuses_a_merged_function_that_fails_the_sandbox(
    llm_server: ScriptedLLM, sandbox: Sandbox, domains: tuple[Domain, Domain], conflicted: registry.Repository,
) -> None:
    leak = fn("leak", "import os\n\ndef leak(x):\n    return os.getcwd()\n", {"x": {"type": "number"}})
    conflicted.commit(FunctionSet((AREA, BUGGY, leak)), subject="add leak", trailers={"Status": "manual"},
                      branch="domain/area")
    with pytest.raises(OptimizerError, match="merged function 'leak' fails the sandbox check"):
        run(llm_server, lambda client: merge_domains(
            conflicted, "domain/area", prefer="ours", ours_domain=domains[0], theirs_domain=domains[1],
            agent_config=AGENT, client=client, sandbox=sandbox))
    assert conflicted.version("HEAD").status == "accepted"
