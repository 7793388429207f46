"""domains, transfer, merge, report and bisect on two domain branches trained by ``fnforge train``.

The toolset is trained once per module against the scripted server (see
``tests/optimizer/study_support.py``) and copied for each test.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from fnforge import registry
from fnforge.functions import Function, FunctionSet
from tests.llm_server import ScriptedLLM
from tests.optimizer.study_support import LINEAR_ARGS, SOLVE, SOLVE_BUGGY, invoke, policy, train_two_domains

SPLIT = ["--train", "4", "--test", "4", "--model", "agent-model"]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(policy) as llm:
        yield llm


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, server: ScriptedLLM) -> tuple[Path, str, str]:
    root = tmp_path_factory.mktemp("study")
    linear, area = train_two_domains(root / "toolset", server)
    return root / "toolset", f"jsonl:{linear}", f"jsonl:{area}"


@pytest.fixture
def toolset(trained: tuple[Path, str, str], tmp_path: Path, server: ScriptedLLM) -> Path:
    server.policy = policy
    copy = tmp_path / "toolset"
    shutil.copytree(trained[0], copy, symlinks=True)
    return copy


def solver(code: str) -> Function:
    return Function(name="solve_linear", description="Solve a*x + b = c for x.", code=code,
                    parameters={"type": "object", "properties": LINEAR_ARGS, "required": ["a", "b", "c"]})


def test_training_left_each_domain_branch_with_its_own_best(toolset: Path) -> None:
    with registry.open(toolset) as repo:
        bests = {b: repo.best(b) for b in ("domain/linear", "domain/area")}
        assert {b: (v.score, repo.read(v.sha).names) for b, v in bests.items() if v} == {
            "domain/linear": (1.0, ("solve_linear",)), "domain/area": (1.0, ("rect_area",))}


def test_domains_lists_task_scores_functions_and_last_run(toolset: Path, server: ScriptedLLM,
                                                          trained: tuple[Path, str, str]) -> None:
    rows = {r["branch"]: r for r in json.loads(invoke(server, toolset, "domains", "--json").stdout)}
    with registry.open(toolset) as repo:
        run = repo.best("domain/area").run  # type: ignore[union-attr]
    area = rows["domain/area"]
    assert (area["task"], area["train"], area["test"], area["functions"], area["last_run"]) == (
        trained[2], 1.0, 1.0, 1, run)
    assert (rows["main"]["train"], rows["main"]["functions"]) == (None, 0)


def test_transfer_matrix_equals_separate_eval_runs(toolset: Path, server: ScriptedLLM,
                                                   trained: tuple[Path, str, str], tmp_path: Path) -> None:
    _, linear, area = trained
    invoke(server, toolset, "transfer", "--branches", "domain/linear,domain/area", "--tasks", f"{linear},{area}",
           "--split", "test", *SPLIT, "--out", str(tmp_path / "study"))
    with (tmp_path / "study" / "transfer.csv").open() as handle:
        cells = {(r["trained_on"], r["tested_on"]): float(r["accuracy"]) for r in csv.DictReader(handle)}
    revs = {"untrained": "main", "domain/linear": "best/domain/linear", "domain/area": "best/domain/area"}
    evals = {
        (row, spec): json.loads(invoke(server, toolset, "eval", rev, "--task", spec, "--split", "test", *SPLIT,
                                       "--json").stdout)["accuracy"]
        for row, rev in revs.items() for spec in (linear, area)
    }
    assert cells == evals
    assert (cells[("domain/linear", linear)], cells[("domain/area", linear)]) == (1.0, 0.25)


def test_transfer_writes_the_csv_and_a_heatmap_png(toolset: Path, server: ScriptedLLM,
                                                   trained: tuple[Path, str, str], tmp_path: Path) -> None:
    _, linear, area = trained
    result = invoke(server, toolset, "transfer", "--branches", "domain/linear", "--tasks", f"{linear},{area}",
                    *SPLIT, "--out", str(tmp_path / "out"))
    assert result.stdout.splitlines()[0].split()[-2:] == ["jsonl:linear.jsonl", "jsonl:area.jsonl"]
    assert len((tmp_path / "out" / "transfer.csv").read_text().splitlines()) == 1 + 2 * 2
    with Image.open(tmp_path / "out" / "transfer.png") as image:
        assert (image.format, image.size) == ("PNG", (640, 480))


@pytest.mark.parametrize(("prefer", "names", "code"), [
    ("ours", ("rect_area", "solve_linear"), SOLVE),
    ("theirs", ("rect_area", "solve_linear"), SOLVE_BUGGY),
    ("both", ("rect_area", "solve_linear", "solve_linear_area"), SOLVE),
    ("best-score", ("rect_area", "solve_linear"), SOLVE),
], ids=["ours", "theirs", "both", "best-score"])
def test_merge_resolves_a_conflict_and_scores_the_merge_on_both_domains(
    toolset: Path, server: ScriptedLLM, prefer: str, names: tuple[str, ...], code: str
) -> None:
    with registry.open(toolset) as repo:
        area_set = repo.read("domain/area").add(solver(SOLVE_BUGGY))
        repo.commit(area_set, subject="add a buggy solver", trailers={"Status": "manual"}, branch="domain/area")
        repo.switch("domain/linear")
    result = invoke(server, toolset, "merge", "domain/area", "--prefer", prefer, "--model", "agent-model")
    assert f"conflict solve_linear: ours added, theirs added -> {prefer.replace('best-score', 'ours')}" in result.stdout
    with registry.open(toolset) as repo:
        head = repo.version("HEAD")
        assert (repo.read("HEAD").names, repo.read("HEAD")["solve_linear"].code) == (names, code)
        assert len(head.parents) == 2 and head.status == "merge"
        assert (head.trailer("Score-Ours"), head.trailer("Score-Theirs")) == (
            f"{head.score:.4f}", "1.0000")


def test_report_writes_the_page_with_the_curve_and_every_best_function(
    toolset: Path, server: ScriptedLLM, tmp_path: Path
) -> None:
    result = invoke(server, toolset, "report", "--branch", "domain/linear", "--out", str(tmp_path / "report"))
    html = (tmp_path / "report" / "index.html").read_text()
    assert 'alt="learning curve"' in html and (tmp_path / "report" / "learning-curve.png").is_file()
    with registry.open(toolset) as repo:
        for function in repo.read("best/domain/linear"):
            assert f'id="fn-{function.name}"' in html
    assert "best" in result.stdout and "test 1.0000" in result.stdout


def test_bisect_finds_the_step_that_broke_a_task(toolset: Path, server: ScriptedLLM) -> None:
    with registry.open(toolset) as repo:
        repo.switch("domain/linear")
        broke = repo.commit(FunctionSet((solver(SOLVE_BUGGY),)), subject="epoch 2: revise solve_linear",
                            trailers={"Score": 1.0, "Status": "accepted", "Epoch": 2})
        repo.commit(repo.read().add(Function(
            name="noop", description="Nothing.", parameters={"type": "object", "properties": {}},
            code="def noop():\n    return 0\n")), subject="epoch 3: add noop", trailers={"Score": 1.0,
                                                                                      "Status": "accepted"})
    result = invoke(server, toolset, "bisect", "--task", "lin7", "--model", "agent-model")
    assert f"First bad version: {broke.short} epoch 2: revise solve_linear (accepted, epoch 2" in result.stdout
    with registry.open(toolset) as repo:
        assert repo.head_branch == "domain/linear" and repo.read().names == ("noop", "solve_linear")
