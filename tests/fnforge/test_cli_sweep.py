"""``fnforge sweep``: a failed cell and ``--resume``; ``status`` (table, CSV, JSON); ``report``; ``--max-cost``.

The module's sweep (one task set x 2 seeds, no retries) runs once: one cell is
killed mid-run, so the sweep ends with it failed; ``fnforge sweep --resume``
then finishes it from its commits. The read-only commands are tested on the
result.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from fnforge import registry
from fnforge.optimizer import CellStatus, load_sweep
from tests.fnforge.cli import ok, run
from tests.llm_server import ScriptedLLM
from tests.optimizer import study_support, sweep_support

GRID = ("--tasks", "jsonl:tasks/linear.jsonl", "--seeds", "0,1", "--models", "agent-model", "--parallel", "2",
        *sweep_support.TRAIN_ARGS)


@dataclass(frozen=True)
class Sweep:
    path: Path
    env: dict[str, str]
    failed: Result
    resumed: Result


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(study_support.policy) as server:
        yield server


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM) -> Sweep:
    path = tmp_path_factory.mktemp("cli") / "toolset"
    sweep_support.make_toolset(path).close()
    env = study_support.env(llm)
    killer = sweep_support.CellKiller(path / ".git" / "fnforge" / "sweeps" / "r" / "cells")
    killer.arm("linear-s1", sweep_support.first_optimizer_request_with(
        sweep_support.only_in_seed(path, "linear", 1, 0)))
    llm.policy = killer
    try:
        failed = run(env, "-C", str(path), "sweep", *GRID, "--name", "r", "--retries", "0")
    finally:
        llm.policy = study_support.policy
    assert killer.killed == ["linear-s1"]
    resumed = run(env, "-C", str(path), "sweep", "--resume")
    return Sweep(path=path, env=env, failed=failed, resumed=resumed)


def test_sweep_reports_a_cell_out_of_attempts_and_how_to_continue(sweep: Sweep) -> None:
    assert sweep.failed.exit_code == 1, sweep.failed.output
    assert "Error: 1 of 2 cells failed (linear-s1: killed by signal 9)" in sweep.failed.output
    assert "fnforge sweep --resume --name r" in sweep.failed.output


def test_sweep_resume_finishes_the_failed_cell_from_its_commits(sweep: Sweep) -> None:
    assert sweep.resumed.exit_code == 0, sweep.resumed.output
    assert "done        linear-s1  attempt 2" in sweep.resumed.output and "resumed" in sweep.resumed.output
    assert "linear-s0" not in sweep.resumed.output.split("cell ")[0]  # the done cell is not run again
    with registry.open(sweep.path) as repo:
        record = load_sweep(repo, "r")
    assert [(c.name, c.status, c.attempts) for c in record.cells] == [
        ("linear-s0", CellStatus.DONE, 1), ("linear-s1", CellStatus.DONE, 2)]


def test_sweep_resume_refuses_a_changed_grid(sweep: Sweep) -> None:
    result = run(sweep.env, "-C", str(sweep.path), "sweep", "--resume", "--seeds", "0,1,2")
    assert result.exit_code == 2 and "--seeds cannot change when resuming a sweep" in result.output


def test_sweep_status_shows_every_cells_state_and_best_scores(sweep: Sweep) -> None:
    lines = ok(sweep.env, "-C", str(sweep.path), "sweep", "status").output.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("linear-")}
    assert {cell: row[2:4] + row[5:7] for cell, row in rows.items()} == {
        "linear-s0": ["done", "1", "1.0000", "1.0000"], "linear-s1": ["done", "2", "1.0000", "1.0000"]}
    assert lines[-1] == "Sweep r: 2 done; spent $0.0000"


def test_sweep_status_writes_one_csv_row_per_cell(sweep: Sweep) -> None:
    ok(sweep.env, "-C", str(sweep.path), "sweep", "status", "r", "--csv", "sweep.csv")
    rows = list(csv.DictReader(io.StringIO((sweep.path / "sweep.csv").read_text())))
    assert [(r["sweep"], r["cell"], r["branch"], r["status"], r["seed"], r["train"]) for r in rows] == [
        ("r", "linear-s0", "sweep/r/linear-s0", "done", "0", "1.0000"),
        ("r", "linear-s1", "sweep/r/linear-s1", "done", "1", "1.0000")]


def test_sweep_status_json_names_each_cells_best_commit(sweep: Sweep) -> None:
    data = json.loads(ok(sweep.env, "-C", str(sweep.path), "sweep", "status", "--json").output)
    with registry.open(sweep.path) as repo:
        expected = {c["cell"]: repo.best(c["branch"]).sha for c in data["cells"]}
    assert {c["cell"]: c["best_commit"] for c in data["cells"]} == expected


def test_sweep_report_writes_the_sweep_page_linking_each_cells_report(sweep: Sweep, tmp_path: Path) -> None:
    ok(sweep.env, "-C", str(sweep.path), "sweep", "report", "--out", str(tmp_path))
    page = (tmp_path / "sweep.html").read_text()
    assert "fnforge sweep r" in page and 'href="cells/linear-s1/index.html"' in page
    assert (tmp_path / "cells" / "linear-s1" / "index.html").is_file() and (tmp_path / "sweep-best.png").is_file()


def test_sweep_status_rejects_an_unknown_sweep(sweep: Sweep) -> None:
    result = run(sweep.env, "-C", str(sweep.path), "sweep", "status", "nope")
    assert result.exit_code == 2 and "no sweep named 'nope' in this toolset (sweeps: r)" in result.output


def test_sweep_max_cost_skips_the_cells_left_without_budget(tmp_path: Path, llm: ScriptedLLM) -> None:
    path = tmp_path / "toolset"
    sweep_support.make_toolset(path).close()
    result = ok(study_support.env(llm), "-C", str(path), "sweep", "--tasks", "jsonl:tasks/area.jsonl",
                "--seeds", "0,1", "--models", "gpt-4o", "--parallel", "1", "--max-cost", "0.000001",
                *sweep_support.TRAIN_ARGS)
    with registry.open(path) as repo:
        record = load_sweep(repo)
    first, second = record.cells
    assert (first.status, second.status) == (CellStatus.DONE, CellStatus.SKIPPED)
    assert first.allotment == pytest.approx(0.0000005) and first.summary["stop"] == "budget"
    assert first.cost > record.max_cost  # one step over its share, then it stopped
    assert "skipped     area-s1  attempt 0  the sweep's budget is spent" in result.output


def test_sweep_rejects_a_grid_without_task_sets(tmp_path: Path) -> None:
    sweep_support.make_toolset(tmp_path / "toolset").close()
    result = run({}, "-C", str(tmp_path / "toolset"), "sweep", "--seeds", "0,1")
    assert result.exit_code == 2 and "no task sets: give --tasks" in result.output


def test_sweep_rejects_an_unknown_key_in_the_sweep_table_of_sweep_toml(tmp_path: Path) -> None:
    path = tmp_path / "toolset"
    sweep_support.make_toolset(path).close()
    (path / "sweep.toml").write_text('[sweep]\ntasks = ["jsonl:tasks/linear.jsonl"]\nseeds = [0, 1]\nbogus = 1\n')
    result = run({}, "-C", str(path), "sweep")
    assert result.exit_code == 2 and "unknown key(s) in [sweep]: bogus" in result.output


def test_sweep_transfer_scores_each_cells_best_set_on_the_sweeps_task_sets(sweep: Sweep) -> None:
    ok(sweep.env, "-C", str(sweep.path), "sweep", "transfer", "r", "--model", "agent-model", "--no-baseline")
    with registry.open(sweep.path) as repo:
        folder = repo.state_dir / "sweeps" / "r" / "transfer"
    rows = list(csv.reader(io.StringIO((folder / "transfer.csv").read_text())))
    assert [row[0] for row in rows[1:]] == ["sweep/r/linear-s0", "sweep/r/linear-s1"]
    assert (folder / "transfer.png").is_file()


def test_sweep_runs_the_grid_of_the_sweep_table_in_fnforge_toml(tmp_path: Path, llm: ScriptedLLM) -> None:
    path = tmp_path / "toolset"
    sweep_support.make_toolset(path).close()
    with (path / "fnforge.toml").open("a") as config:
        config.write('[sweep]\nname = "cfg"\ntasks = ["lin=jsonl:tasks/linear.jsonl"]\nseeds = [3]\n'
                     'models = ["agent-model"]\ngrid = { batch = [2] }\n'
                     'train = { train = 4, test = 4, epochs = 1, max_turns = 4, concurrency = 2 }\n')
    ok(study_support.env(llm), "-C", str(path), "sweep")
    with registry.open(path) as repo:
        record = load_sweep(repo)
        best = repo.best("domain/lin")
    assert (record.name, [(c.name, c.branch, c.status) for c in record.cells]) == (
        "cfg", [("lin", "domain/lin", CellStatus.DONE)])
    assert record.grid.cells("cfg")[0].train_args(record.grid.train_args) == (
        "--train", "4", "--test", "4", "--epochs", "1", "--max-turns", "4", "--concurrency", "2",
        "--task", "jsonl:tasks/linear.jsonl", "--seed", "3", "--model", "agent-model", "--batch", "2")
    assert best is not None and best.score == 1.0 and best.trailer("Model") == "agent-model"
