"""A sweep's grid, record and budget: deterministic cell names, refused grids, lossless records, shares."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnforge.optimizer import (
    CellState, CellStatus, SweepError, SweepGrid, SweepRecord, TaskAxis, budget_share,
)
from fnforge.optimizer._sweep_grid import slug

LINEAR, AREA = TaskAxis.parse("jsonl:tasks/linear.jsonl"), TaskAxis.parse("jsonl:tasks/area.jsonl")

grids = st.builds(
    SweepGrid,
    tasks=st.just((LINEAR, AREA)),
    seeds=st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True).map(tuple),
    agents=st.lists(st.sampled_from(["tool", "react"]), max_size=2, unique=True).map(tuple),
    models=st.lists(st.sampled_from(["gpt-4o", "gpt-4o-mini", "llama/3.1 8B"]), max_size=3, unique=True).map(tuple),
    options=st.lists(st.tuples(st.sampled_from(["batch", "max-actions"]),
                               st.lists(st.sampled_from(["1", "2", "4"]), min_size=1, max_size=3, unique=True)
                               .map(tuple)), max_size=2, unique_by=lambda kv: kv[0]).map(tuple),
)


@given(grids)
def test_grid_names_every_cell_uniquely_and_the_same_each_time(grid: SweepGrid) -> None:
    cells = grid.cells("s")
    sizes = [2, len(grid.seeds), len(grid.agents) or 1, len(grid.models) or 1, *(len(v) for _, v in grid.options)]
    assert len({c.name for c in cells}) == len(cells) == math.prod(sizes)
    assert [c.branch for c in cells] == [c.branch for c in SweepGrid.from_dict(grid.to_dict()).cells("s")]
    assert all(slug(part) == part for c in cells for part in c.branch.split("/"))


def test_grid_trains_domain_branches_when_only_the_task_set_varies() -> None:
    grid = SweepGrid(tasks=(LINEAR, AREA), seeds=(3,), models=("gpt-4o",))
    assert [(c.name, c.branch) for c in grid.cells("s")] == [("linear", "domain/linear"), ("area", "domain/area")]


def test_grid_names_cells_by_the_axes_that_vary() -> None:
    grid = SweepGrid(tasks=(LINEAR,), seeds=(0, 1), agents=("tool", "react"), options=(("batch", ("4",)),))
    assert [c.branch for c in grid.cells("s")] == ["sweep/s/linear-s0-tool", "sweep/s/linear-s0-react",
                                                   "sweep/s/linear-s1-tool", "sweep/s/linear-s1-react"]


def test_cell_train_args_put_the_cells_values_after_the_shared_options() -> None:
    grid = SweepGrid(tasks=(LINEAR,), seeds=(0, 1), options=(("batch", ("2", "4")),), train_args=("--train", "4"))
    cell = grid.cells("s")[-1]
    assert cell.train_args(grid.train_args) == ("--train", "4", "--task", "jsonl:tasks/linear.jsonl", "--seed", "1",
                                                "--batch", "4")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tasks": ()}, "at least one task set"),
    ({"seeds": (1, 1)}, "repeated seed in the sweep grid: 1"),
    ({"tasks": (LINEAR, TaskAxis.parse("linear=jsonl:other.jsonl"))}, "repeated task set name"),
    ({"options": (("seed", ("1", "2")),)}, "--grid seed: an axis of its own"),
    ({"train_args": ("--seed", "3")}, "--seed is set per cell by the sweep"),
])
def test_grid_rejects_an_ambiguous_or_self_contradicting_grid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SweepError, match=message):
        SweepGrid(**{"tasks": (LINEAR,), **kwargs})  # type: ignore[arg-type]


def test_task_axis_takes_its_name_from_the_spec_or_name_equals() -> None:
    assert [TaskAxis.parse(t).name for t in ("jsonl:data/My Set.jsonl", "alg=math:algebra", "math:algebra@level5",
                                             "gsm8k")] == ["my-set", "alg", "algebra-level5", "gsm8k"]


@given(st.lists(st.sampled_from(list(CellStatus)), min_size=1, max_size=6),
       st.lists(st.floats(0, 2), min_size=6, max_size=6))
def test_sweep_record_reads_back_what_it_wrote(statuses: list[CellStatus], costs: list[float]) -> None:
    grid = SweepGrid(tasks=(LINEAR,), seeds=tuple(range(len(statuses))))
    cells = tuple(CellState(name=c.name, branch=c.branch, status=s, attempts=i, summary={"cost": costs[i]})
                  for i, (c, s) in enumerate(zip(grid.cells("x"), statuses)))
    record = SweepRecord(name="x", created="now", grid=grid, base="0" * 40, origin="/o", origin_is_toolset=False,
                         env=("OPENAI_BASE_URL",), max_cost=1.5, retries=1, cells=cells)
    assert SweepRecord.from_dict(record.to_dict()) == record


@given(st.floats(0.01, 10), st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_budget_shares_never_promise_more_than_the_budget(budget: float, overspend: list[float]) -> None:
    """Cells start one after another; each spends a fraction of its share (never over it): the shares plus
    the spend of finished cells stay within the budget."""
    cells = [CellState(name=str(i), branch=str(i)) for i in range(len(overspend))]
    for i, fraction in enumerate(overspend):
        share = budget_share(budget, cells)
        assert share >= 0
        cells[i] = replace(cells[i], allotment=share)
        cells[i] = replace(cells[i], status=CellStatus.DONE, summary={"cost": share * fraction})
        assert sum(c.cost for c in cells) <= budget * (1 + 1e-9)


def test_budget_share_gives_nothing_once_finished_cells_overspent() -> None:
    cells = [CellState(name="a", branch="a", status=CellStatus.DONE, allotment=0.5, summary={"cost": 1.2}),
             CellState(name="b", branch="b")]
    assert budget_share(1.0, cells) < 0
