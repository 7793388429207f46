"""Sweeps end to end: the 2 task sets x 2 seeds grid on the local engine (one cell killed mid-run) and on a real
local Ray cluster pushing to a bare repository; both must end with the same best versions.

Each engine's sweep runs once per module (fixtures) and the tests read its
outcome; the Ray cluster is started once (``ray.init(num_cpus=2)``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fnforge import registry
from fnforge.optimizer import (
    CellStatus, LocalEngine, SweepEvent, SweepRecord, local_workdir, plan_sweep, run_sweep,
)
from tests.fnforge.cli import ok
from tests.llm_server import ScriptedLLM
from tests.optimizer import study_support, sweep_support

KILLED = "linear-s1"


@dataclass(frozen=True)
class Outcome:
    """A finished sweep as the tests read it."""

    path: Path
    record: SweepRecord
    events: list[SweepEvent]
    killed: list[str]
    best: dict[str, Any]


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(study_support.policy) as server:
        yield server


def _branches(record: SweepRecord) -> dict[str, str]:
    return {c.name: c.branch for c in record.cells}


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM) -> Outcome:
    path = tmp_path_factory.mktemp("local") / "toolset"
    with sweep_support.make_toolset(path) as repo:
        record = plan_sweep(repo, sweep_support.grid(), name="grid", retries=2)
        workdir = local_workdir(repo, record)
        killer = sweep_support.CellKiller(workdir)
        question = sweep_support.only_in_seed(path, "linear", 1, 0)
        killer.arm(KILLED, sweep_support.first_optimizer_request_with(question))
        llm.policy = killer
        events: list[SweepEvent] = []
        engine = LocalEngine(4)
        try:
            record = run_sweep(repo, record, engine, workdir=workdir, env=sweep_support.env_for(llm.base_url),
                               on_event=events.append)
        finally:
            engine.close()
            llm.policy = study_support.policy
        best = sweep_support.best_table(repo, _branches(record))
    return Outcome(path=path, record=record, events=events, killed=killer.killed, best=best)


def test_local_sweep_finishes_every_cell_with_its_domains_function(local_sweep: Outcome) -> None:
    assert [(c.name, c.status) for c in local_sweep.record.cells] == [
        (name, CellStatus.DONE) for name in sweep_support.GRID_CELLS]
    for cell, (score, _, names) in local_sweep.best.items():
        assert (score, names) == (1.0, sweep_support.FUNCTIONS[cell.split("-")[0]]), cell


def test_local_sweep_retries_a_killed_cell_with_a_resumed_attempt(local_sweep: Outcome) -> None:
    assert local_sweep.killed == [KILLED]
    events = [(e.kind, e.attempt) for e in local_sweep.events if e.cell == KILLED]
    assert events == [("start", 1), ("retry", 1), ("start", 2), ("done", 2)]
    done = next(e for e in local_sweep.events if e.cell == KILLED and e.kind == "done")
    assert "resumed" in done.detail
    assert local_sweep.record.cell(KILLED).attempts == 2


def test_local_sweep_resumed_cell_continues_its_first_attempts_run(local_sweep: Outcome) -> None:
    with registry.open(local_sweep.path) as repo:
        trained = [v for v in repo.log(f"sweep/grid/{KILLED}") if v.trailer("Run")]
    assert [v.status for v in trained] == ["accepted", "initial"]
    assert trained[0].trailer("Run") == trained[1].trailer("Run")  # one run, not a restart


def test_local_sweep_cells_share_no_clone_with_the_toolset(local_sweep: Outcome) -> None:
    with registry.open(local_sweep.path) as repo:
        leftovers = sorted(p.parent.name for p in local_workdir(repo, local_sweep.record).glob("*/toolset"))
        assert repo.head_branch == "main"
    assert leftovers == []  # a done cell's clone is removed once its branch is home


# --- Ray ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="the ray engine needs the fnforge[ray] extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_sweep(tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM, ray_cluster: Any) -> Outcome:
    from fnforge.optimizer import RayEngine

    root = tmp_path_factory.mktemp("ray")
    origin = root / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    with sweep_support.make_toolset(root / "toolset") as repo:
        repo.push(str(origin), ["main"])
        record = plan_sweep(repo, sweep_support.grid(), name="grid", origin=str(origin), retries=2)
        engine = RayEngine(cell_cpus=0.5)
        events: list[SweepEvent] = []
        try:
            record = run_sweep(repo, record, engine, workdir=root / "workers",
                               env=sweep_support.env_for(llm.base_url), on_event=events.append)
        finally:
            engine.close()
        best = sweep_support.best_table(repo, _branches(record))
    return Outcome(path=origin, record=record, events=events, killed=[], best=best)


def test_ray_sweep_runs_cells_in_parallel_as_ray_tasks(ray_sweep: Outcome) -> None:
    starts = [e for e in ray_sweep.events if e.kind == "start"]
    first_done = next(i for i, e in enumerate(ray_sweep.events) if e.kind == "done")
    assert len(starts) == 4 and ray_sweep.events.index(starts[-1]) < first_done  # all 4 in flight at once
    assert all(c.status is CellStatus.DONE and c.attempts == 1 for c in ray_sweep.record.cells)


def test_ray_sweep_ends_with_the_local_engines_best_versions(local_sweep: Outcome, ray_sweep: Outcome) -> None:
    assert ray_sweep.best == local_sweep.best


def test_ray_sweep_origin_holds_every_cells_commits_and_notes(ray_sweep: Outcome) -> None:
    assert sweep_support.fsck_errors(ray_sweep.path) == []
    with registry.open(ray_sweep.path) as origin:
        for cell in ray_sweep.record.cells:
            versions = [v for v in origin.log(cell.branch) if v.trailer("Run")]
            notes = origin.notes_for([v.sha for v in versions])
            assert len(versions) == 2 and all(notes.get(v.sha, {}).get("train") for v in versions), cell.name
            assert origin.best(cell.branch).score == 1.0


def test_cli_sweep_on_ray_trains_a_domain_branch_at_a_relative_origin_and_pulls_it(
        tmp_path: Path, llm: ScriptedLLM, ray_cluster: Any) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    with sweep_support.make_toolset(tmp_path / "toolset") as repo:
        repo.push(str(origin), ["main"])
    result = ok(study_support.env(llm), "-C", str(tmp_path / "toolset"), "sweep", "--engine", "ray",
                "--tasks", "jsonl:tasks/area.jsonl", "--models", "agent-model", "--cell-cpus", "0.5",
                "--cell-memory", "100MB", "--origin", "../origin.git", "--workdir", str(tmp_path / "workers"),
                *sweep_support.TRAIN_ARGS)
    assert f"1 cells on the ray engine (4 at a time); origin: {origin.resolve()}" in result.output
    with registry.open(origin) as at_origin, registry.open(tmp_path / "toolset") as here:
        assert here.best("domain/area").sha == at_origin.best("domain/area").sha
        assert here.best("domain/area").score == 1.0
