"""Concurrent pushes of sweep cells to one origin: no commit, note or best pointer is lost.

Four clones (four cells) each commit versions with notes on their own branch
and push them all at the same moment (a barrier), several rounds in a row:
their notes updates race for ``refs/notes/fnforge`` at the origin, and
:func:`optimizer.push_branch` must merge and retry until every one lands.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from fnforge import registry
from fnforge.functions import FunctionSet
from fnforge.optimizer import push_branch
from tests.optimizer import sweep_support

CELLS = 4
ROUNDS = 3


def _cell(clone: registry.Repository, cell: int, barrier: threading.Barrier, shas: list[str]) -> None:
    branch = f"sweep/race/c{cell}"
    clone.create_branch(branch, "main")
    for round_ in range(ROUNDS):
        version = clone.commit(FunctionSet(), subject=f"cell {cell} round {round_}", branch=branch,
                               trailers={"Score": f"0.{cell}{round_}", "Split": "train", "Status": "accepted"})
        clone.add_note(version.sha, {"train": {"accuracy": float(f"0.{cell}{round_}"), "cell": cell}})
        shas.append(version.sha)
        barrier.wait(timeout=300)
        push_branch(clone, branch, retries=20)


def test_push_branch_loses_nothing_when_four_cells_push_at_once(tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    with sweep_support.make_toolset(tmp_path / "toolset") as repo:
        repo.push(str(origin), ["main"])
    clones = [registry.clone(str(origin), tmp_path / f"clone{i}") for i in range(CELLS)]
    barrier = threading.Barrier(CELLS)
    shas: dict[int, list[str]] = {i: [] for i in range(CELLS)}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            _cell(clones[i], i, barrier, shas[i])
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CELLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    for clone in clones:
        clone.close()
    assert errors == []
    assert sweep_support.fsck_errors(origin) == []
    with registry.open(origin) as at_origin:
        for i in range(CELLS):
            branch = f"sweep/race/c{i}"
            assert [v.sha for v in at_origin.log(branch, limit=ROUNDS)] == shas[i][::-1], branch
            notes = at_origin.notes_for(shas[i])
            assert [notes[sha]["train"]["cell"] for sha in shas[i]] == [i] * ROUNDS, branch
            assert at_origin.best(branch).sha == shas[i][-1]
