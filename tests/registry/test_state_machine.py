"""Any sequence of add / revise / remove / commit / rollback / branch / switch leaves the registry equal to a model."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fnforge import registry
from fnforge.functions import FunctionSet, read_dir
from tests.registry.helpers import git, make_function

NAMES = ("a", "b", "c")
BRANCHES = ("main", "domain/x", "domain/y")
SCORES = (None, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class BranchModel:
    """What a branch should look like: its set, commit count and best (score, sha)."""

    head: FunctionSet
    commits: int
    best: tuple[float, str] | None


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp())
        self.repo = registry.init(self.tmp / "t", files={"fnforge.toml": b"[fnforge]\n"})
        self.branches = {"main": BranchModel(FunctionSet(), 1, None)}
        self.sets = {self.repo.resolve("HEAD"): FunctionSet()}
        self.current = "main"
        self.trial = FunctionSet()

    def teardown(self) -> None:
        self.repo.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- edits of the trial set (in memory, like the optimizer's actions) -------

    @rule(name=st.sampled_from(NAMES), version=st.integers(0, 3))
    def add(self, name: str, version: int) -> None:
        if name not in self.trial:
            self.trial = self.trial.add(make_function(name, version))

    @rule(name=st.sampled_from(NAMES), version=st.integers(0, 3))
    def revise(self, name: str, version: int) -> None:
        if name in self.trial:
            self.trial = self.trial.revise(make_function(name, version))

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name: str) -> None:
        if name in self.trial:
            self.trial = self.trial.remove(name)
            assert name not in self.trial

    # -- registry writes ----------------------------------------------------------

    @rule(score=st.sampled_from(SCORES), rejected=st.booleans(), other=st.booleans())
    def commit(self, score: float | None, rejected: bool, other: bool) -> None:
        targets = [b for b in self.branches if b != self.current]
        branch = targets[0] if other and targets else self.current
        trailers: dict[str, str | float] = {"Status": "rejected" if rejected else "accepted"}
        if score is not None:
            trailers["Score"] = score
        version = self.repo.commit(self.trial, subject="step", trailers=trailers, branch=branch)
        model = self.branches[branch]
        best = model.best
        if score is not None and not rejected and (best is None or score >= best[0]):  # ties: the later acceptance
            best = (score, version.sha)
        self.branches[branch] = BranchModel(self.trial, model.commits + 1, best)
        self.sets[version.sha] = self.trial

    @precondition(lambda self: self.branches[self.current].best is not None)
    @rule()
    def rollback(self) -> None:
        model = self.branches[self.current]
        assert model.best is not None
        version = self.repo.rollback()
        restored = self.sets[model.best[1]]
        self.sets[version.sha] = restored
        self.branches[self.current] = replace(model, head=restored, commits=model.commits + 1)
        self.trial = restored

    @rule(name=st.sampled_from(BRANCHES[1:]))
    def create_branch(self, name: str) -> None:
        if name not in self.branches:
            self.repo.create_branch(name)
            self.branches[name] = self.branches[self.current]

    @rule(name=st.sampled_from(BRANCHES))
    def switch(self, name: str) -> None:
        if name in self.branches:
            self.repo.switch(name)
            self.current = name
            self.trial = self.branches[name].head

    # -- checks after every step ----------------------------------------------------

    @invariant()
    def registry_matches_model(self) -> None:
        assert self.repo.head_branch == self.current
        assert self.repo.branches() == sorted(self.branches)
        for name, model in self.branches.items():
            versions = self.repo.log(name)
            assert len(versions) == model.commits
            assert self.repo.read(name) == model.head and versions[0].tree_hash == model.head.tree_hash
            best = self.repo.best(name)
            assert ((best.score, best.sha) if best is not None else None) == model.best
            tag = git(self.repo.path, "rev-parse", "--verify", "--quiet", f"refs/fnforge/best/{name}", check=False)
            assert (tag.strip() or None) == (model.best[1] if model.best else None)

    @invariant()
    def working_tree_holds_checked_out_set(self) -> None:
        assert read_dir(self.repo.path / "functions") == self.branches[self.current].head


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(max_examples=12, stateful_step_count=14, deadline=None)
