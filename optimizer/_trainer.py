"""The Trainer: the paper's Algorithm 2 over the registry, with resume, batches and a budget.

One run (DESIGN.md §1, §3, §6)::

    evaluate F0                   -> commit "epoch 0: initial evaluation"     Status: initial
    repeat:
        F' = AgentOptimizer.step(best, History(best, score, report, failures))
        F' == best (TERMINATE, or every proposal rejected)
                                  -> no commit; a non-improving step (journal only)
        evaluate F' on the step's training tasks (all, or a seeded batch)
        better than best          -> commit F'  Status: accepted; failures cleared
        otherwise                 -> commit F'  Status: rejected; then a roll-back
                                     commit to best (tree == best's); (F', score) joins failures
    until `epochs` accepted, `patience` non-improving steps in a row, `max_steps`, or the budget
    evaluate best on the test split (all functions, or those used) -> note on best's commit

"Better" is strict (the paper) or ``>=`` with ``accept="ties"`` (the authors' code), comparing correct
counts on the same tasks. A step that changed nothing is never accepted and commits nothing. In batch mode
every score is on a batch: the initial set on step 1's batch, and each step scores both sets on its own.
``epochs`` counts accepted updates (the initial evaluation is epoch 0 and does not count); ``patience``
stops the run after that many non-improving steps in a row (``stale >= patience``). Every step's epoch
(commit subject, ``Epoch`` trailer, event, summary) is the number of accepted updates after it.
docs/paper.md lists these choices against the paper and the authors' code. Beyond the paper (issue 15):
scores are over (task, rollout) units (``rollouts``), ``accept="significant"`` adds an exact sign test
(:mod:`optimizer._significance`), early rejection stops a hopeless trial's evaluation with the same decision
(:mod:`optimizer._early_reject`), and validation tasks select the run's best and drive patience (``select``).

The trainer's evaluations and spend are :mod:`optimizer._run_evaluation`'s; what a step writes into the registry
is :mod:`optimizer._step_records`'s.

Every step asks the optimizer afresh: its requests are keyed by run and step in the response cache, so
a later step never replays an earlier one's reply, and a resumed step replays its own.

Every trial commit carries ``Run`` and ``Step`` trailers, so the log is the checkpoint (see
:mod:`optimizer._run_state`). Commits and roll-backs happen with no ``await`` between them; only SIGKILL
can separate them, and :meth:`Trainer.resume` repairs that. A trial evaluation with a provider outage
commits nothing and stops the run with :class:`ProviderOutage` (resume later); a task that is wrong for
another reason (its conversation too long, its scoring out of time) is just wrong.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any  # Any: recorded run settings (JSON)

from fnforge.functions import FunctionSet
from fnforge.registry import DirtyWorkingTree
from fnforge.tasks import ScoringPool, selection_hash
from fnforge.optimizer._agent_optimizer import Failure, History
from fnforge.optimizer._checkpoint import Checkpoint, reconstruct
from fnforge.optimizer._evaluation import Report
from fnforge.optimizer._live import (
    EventSink, Phase, PhaseStarted, RunFinished, RunStarted, Spend, StepFinished, StepStatus,
)
from fnforge.optimizer._rollouts import units_of
from fnforge.optimizer._run_evaluation import RunEvaluations
from fnforge.optimizer._run_state import (
    RunRecord, StepRecord, TrainingError, append_step, new_run_id, run_dir, save_record,
)
from fnforge.optimizer._significance import decide
from fnforge.optimizer._step_records import StepRecords, step_body, val_score
from fnforge.optimizer._train_config import TrainConfig
from fnforge.optimizer._summary import RunStop, RunSummary, TestScore, write_summary

if TYPE_CHECKING:
    from fnforge.agents import AgentConfig, LLMClient
    from fnforge.optimizer._agent_optimizer import AgentOptimizer
    from fnforge.optimizer._eval_cache import EvalCache
    from fnforge.registry import Repository, Version
    from fnforge.sandbox import Sandbox
    from fnforge.tasks import Task

__all__ = ["Trainer"]


@dataclass(slots=True)
class _State:
    """The loop's mutable state (private to one ``Trainer._drive``)."""

    step: int
    epoch: int
    stale: int
    best: FunctionSet
    best_version: Version
    best_score: float
    best_report: Report | None
    best_val: float | None  # the incumbent's validation score (select="val")
    selected_val: float | None  # the selected best's validation score: early stop counts from its last rise
    initial_score: float
    failures: list[Failure]
    history: list[StepRecord]


class Trainer(StepRecords, RunEvaluations):
    """Trains a branch's function set with AgentOptimizer (the paper's Algorithm 2).

    Args:
        repo: the toolset repository (its branch is the checkpoint).
        train, test: the training and test tasks.
        val: validation tasks (disjoint from both): scored on the initial set and each
            accepted trial; with ``config.select`` "val" (the default then) they pick the
            run's best and drive the early stop.
        agent: the agent system evaluated.
        client: an open LLM client for the agents.
        optimizer: the AgentOptimizer (it holds the optimizer's client).
        sandbox: where tool calls run.
        config: the knobs of Algorithm 2.
        cache: the evaluation cache (re-scoring a set is then free).
        branch: the branch to train; None means the checked-out one.
        tasks_label: names the task set in the ``Tasks`` trailer (default: the tasks' domain).
        on_event: receives the run's :data:`~optimizer.TrainEvent` stream.

    Raises:
        ValueError: no training tasks.
        TrainingError: no branch named and HEAD is detached.

    Example (async or needs a provider, so shown, not run)::

        trainer = Trainer(repo, train=train, test=test, agent=AgentConfig(), client=client,
                          optimizer=AgentOptimizer(opt_client, sandbox, policy=policy),
                          sandbox=sandbox, cache=EvalCache(repo.state_dir / "eval-cache.sqlite"))
        summary = await trainer.run()
        summary.best_score, summary.stop
        # -> (0.65, <RunStop.PATIENCE: 'patience'>)
    """

    def __init__(self, repo: Repository, *, train: Sequence[Task], test: Sequence[Task], agent: AgentConfig,
                 client: LLMClient, optimizer: AgentOptimizer, sandbox: Sandbox, config: TrainConfig = TrainConfig(),
                 cache: EvalCache | None = None, branch: str | None = None, tasks_label: str | None = None,
                 on_event: EventSink | None = None, val: Sequence[Task] = ()) -> None:
        if not train:
            raise ValueError("Trainer needs at least one training task")
        self.repo, self.train, self.test, self.val = repo, tuple(train), tuple(test), tuple(val)
        self.select = config.select or ("val" if self.val else "train")
        if self.select == "val" and not self.val:
            raise ValueError("select='val' needs validation tasks")
        if self.val and config.batch is not None:
            raise ValueError("validation tasks and batches do not combine (a batch score compares with nothing)")
        self.agent, self.client, self.optimizer, self.sandbox = agent, client, optimizer, sandbox
        self.config, self.cache, self._on_event = config, cache, on_event
        self.branch = branch or repo.head_branch or ""
        if not self.branch:
            raise TrainingError("HEAD is detached; name the branch to train")
        self.label = tasks_label or self.train[0].domain
        clients = {id(client): client, id(optimizer.client): optimizer.client}
        self._clients = tuple(clients.values())
        self._spent_base, self._stats_base = Spend(), self._client_spend()
        self._run_id, self._started = "", 0.0
        self._scorer: ScoringPool | None = None

    # -- entry points --------------------------------------------------------------

    async def run(self, *, settings: Mapping[str, Any] | None = None) -> RunSummary:
        """Start a new run on the branch and train until a stop condition.

        Args:
            settings: the caller's JSON-safe settings, kept in the run record for
                :meth:`resume` (the CLI stores its task set, sizes and models).

        Raises:
            BranchLocked: another trainer (or writer) holds the branch.
            DirtyWorkingTree: ``functions/`` has uncommitted edits (the run leaves no trace).
            ProviderOutage: an evaluation hit a provider outage (a TrainingError with exit code 5).
            agents.LLMError: the optimizer's provider failed.
        """
        record = RunRecord(run_id=new_run_id(), branch=self.branch, created=datetime.now().astimezone().isoformat(),
                           config=self.config, train_hash=selection_hash(self.train), test_hash=selection_hash(self.test),
                           settings=dict(settings or {}))
        with self.repo.lock(self.branch):
            edited = self.repo.uncommitted() if self.repo.head_branch == self.branch else ()
            if edited:  # refuse before any evaluation: the run would train on a set the user is editing
                raise DirtyWorkingTree(edited)
            save_record(self.repo, record)
            return await self._drive(record, Checkpoint(), resumed=False)

    async def resume(self, record: RunRecord) -> RunSummary:
        """Continue an interrupted run (see :func:`~optimizer.find_run`) where its commits end.

        The state (best, failure record, epoch and step counts, spend) comes
        from the branch's log; a rejected trial without its roll-back is rolled
        back first. Resuming a finished run repeats only the (cached) test
        evaluation and rewrites the summary.

        Raises:
            BranchLocked: another trainer (or writer) holds the branch.
            TrainingError: the tasks differ from the run's, or the branch moved on or was
                reset past the run's commits (nothing is written then).
        """
        if record.branch != self.branch:
            raise TrainingError(f"run {record.run_id} trains branch {record.branch!r}, not {self.branch!r}")
        if record.train_hash != selection_hash(self.train) or record.test_hash != selection_hash(self.test):
            raise TrainingError(f"the tasks differ from those of run {record.run_id}; resume with the same task set")
        with self.repo.lock(self.branch):
            return await self._drive(record, reconstruct(self.repo, record), resumed=True)

    # -- the loop ------------------------------------------------------------------

    async def _drive(self, record: RunRecord, checkpoint: Checkpoint, *, resumed: bool) -> RunSummary:
        with ScoringPool() as pool:  # one pool per run: MATH scoring workers start once, not per evaluation
            self._scorer = pool  # evaluate warms it and sizes its threads to it
            return await self._loop(record, checkpoint, resumed=resumed)

    async def _loop(self, record: RunRecord, checkpoint: Checkpoint, *, resumed: bool) -> RunSummary:
        self._run_id, self._started = record.run_id, time.perf_counter()
        self._spent_base, self._stats_base = checkpoint.spent, self._client_spend()
        self._emit(RunStarted(run_id=record.run_id, branch=self.branch, resumed=resumed, train_tasks=len(self.train),
                              test_tasks=len(self.test), epochs=self.config.epochs, patience=self.config.patience,
                              max_steps=self.config.max_steps, step=checkpoint.step, spent=checkpoint.spent))
        if checkpoint.pending_rollback is not None and checkpoint.best is not None:
            self._rollback(checkpoint.best, epoch=checkpoint.epoch, step=checkpoint.step)
        best = checkpoint.best
        state = await self._initial() if best is None else self._restore(checkpoint, best)
        stop = self._stop(state)
        while stop is None:
            stop = await self._step(state) or self._stop(state)
        return await self._finish(state, stop, resumed)

    def _restore(self, cp: Checkpoint, best: Version) -> _State:
        selected = self.repo.best(self.branch, tasks=self._describe(self.train))
        return _State(step=cp.step, epoch=cp.epoch, stale=cp.stale, best=self.repo.read(best.sha),
                      best_version=best, best_score=cp.best_score, best_report=None, best_val=val_score(best),
                      selected_val=val_score(selected) if selected is not None else None,
                      initial_score=cp.initial_score if cp.initial_score is not None else cp.best_score,
                      failures=[Failure(function_set=fs, score=s) for _, fs, s in cp.failures],
                      history=list(cp.history))

    def _stop(self, state: _State) -> RunStop | None:
        cfg = self.config
        if state.epoch >= cfg.epochs:
            return RunStop.EPOCHS
        if state.stale >= cfg.patience:
            return RunStop.PATIENCE
        if cfg.max_steps is not None and state.step >= cfg.max_steps:
            return RunStop.MAX_STEPS
        return RunStop.BUDGET if self._over_budget() else None

    async def _initial(self) -> _State:
        start = self.repo.read(self.branch)
        tasks = self._tasks_for(1)
        report = (await self._evaluate(start, tasks, 0, Phase.INITIAL)).report
        val = await self._validate(start, 0)
        n = len(start)
        subject = f"epoch 0: initial evaluation ({n} function{'s' if n != 1 else ''})"
        version = self.repo.commit(start, subject=subject, body="", branch=self.branch,
                                   trailers=self._trailers(report, "initial", epoch=0, step=0, tasks=tasks, val=val))
        self._note(version.sha, report, 0, tasks, val=val)
        validation = val.accuracy if val is not None else None
        record = StepRecord(step=0, epoch=0, status=StepStatus.INITIAL, score=report.accuracy,
                            best_score=report.accuracy, subject=subject, commit=version.sha, val_score=validation)
        state = _State(step=0, epoch=0, stale=0, best=start, best_version=version, best_score=report.accuracy,
                       best_report=report, best_val=validation, selected_val=validation,
                       initial_score=report.accuracy, failures=[], history=[])
        self._finish_step(state, record, rejections=0)
        return state

    async def _step(self, state: _State) -> RunStop | None:
        """One optimizer step; returns BUDGET when it was abandoned for the budget (nothing committed)."""
        step = state.step + 1
        tasks = self._tasks_for(step)
        if state.best_report is None or self.config.batch is not None:
            resumed = state.best_report is None
            state.best_report = (await self._evaluate(state.best, tasks, step, Phase.BASELINE)).report
            best_sha = state.best_version.sha
            if resumed and self.config.batch is None and "train" not in (self.repo.note(best_sha) or {}):
                # killed between the best's commit and its note: write the (cached, identical) evidence now
                self._note(best_sha, state.best_report, int(state.best_version.trailer("Step") or 0), tasks)
        baseline = state.best_report
        self._emit(PhaseStarted(step=step, phase=Phase.OPTIMIZE, total=0))
        history = History(best=state.best, best_score=baseline.accuracy, report=baseline,
                          failures=tuple(state.failures), expected={t.id: t.answer for t in tasks})
        result = await self.optimizer.step(state.best, history, sample=f"{self._run_id}/step-{step}")
        self._save_transcript(step, result)
        if self._over_budget():
            return RunStop.BUDGET
        calls, cached = result.llm_calls, result.cached_calls
        trial = result.function_set
        if trial.tree_hash == state.best.tree_hash:
            what = "terminated" if result.terminated and not result.rejections else "no valid action"
            record = StepRecord(step=step, epoch=state.epoch, status=StepStatus.UNCHANGED, score=baseline.accuracy,
                                best_score=state.best_score, subject=f"epoch {state.epoch}: no change ({what})",
                                optimizer_calls=calls, optimizer_cached=cached)
            state.step, state.stale = step, state.stale + 1
            self._finish_step(state, record, rejections=len(result.rejections))
            return None
        evaluated = await self._evaluate(trial, tasks, step, Phase.EVALUATE, against=baseline)
        report = evaluated.report  # with early rejection: only the units seen (the decision is the same)
        decision = None if evaluated.partial else decide(units_of(report), units_of(baseline), self.config.accept,
                                                         self.config.alpha)
        wins = decision is not None and decision.accepted
        val = await self._validate(trial, step) if wins else None  # rejected trials are never selected
        status, epoch = ("accepted", state.epoch + 1) if wins else ("rejected", state.epoch)
        subject = f"epoch {epoch}: {state.best.diff(trial).describe()}"
        trailers = self._trailers(report, status, epoch=epoch, step=step, tasks=tasks, val=val)
        if decision is not None and self.config.accept == "significant":
            trailers["P-Value"] = round(decision.p_value, 6)
        if evaluated.partial:
            trailers["Partial"] = f"{evaluated.seen}/{evaluated.total}"
        version = self.repo.commit(trial, subject=subject, body=step_body(result), branch=self.branch, trailers=trailers)
        rollback = None if wins else self._rollback(state.best_version, epoch=state.epoch, step=step)
        self._note(version.sha, report, step, tasks, result, val=val)
        state.step = step
        if wins:
            state.best, state.best_version, state.best_score = trial, version, report.accuracy
            state.best_report, state.failures, state.epoch = report, [], state.epoch + 1
            state.stale = 0 if self._selected_rises(state, val) else state.stale + 1
        else:
            state.failures.append(Failure(function_set=trial, score=report.accuracy))  # what was seen
            state.stale += 1
        record = StepRecord(step=step, epoch=state.epoch, status=StepStatus(status), score=report.accuracy,
                            best_score=state.best_score, subject=subject, commit=version.sha,
                            rollback=rollback.sha if rollback else None, optimizer_calls=calls,
                            optimizer_cached=cached, val_score=val.accuracy if val is not None else None,
                            partial=trailers.get("Partial"))  # type: ignore[arg-type]
        self._finish_step(state, record, rejections=len(result.rejections))
        return None

    async def _finish(self, state: _State, stop: RunStop, resumed: bool) -> RunSummary:
        # One truth for best: the registry's rule over the branch for this run's task set. It is the run's
        # incumbent unless an earlier commit scored strictly higher on the very same tasks.
        # With select="val" that is the highest validation score among the run's accepted sets.
        best = self.repo.best(self.branch, tasks=self._describe(self.train))
        if best is not None and best.sha != state.best_version.sha and best.score is not None:
            state.best, state.best_version, state.best_score = self.repo.read(best.sha), best, best.score
            state.best_report, state.best_val = None, val_score(best)
        test = None
        if self.test and stop is not RunStop.BUDGET:
            if state.best_report is None:
                state.best_report = (await self._evaluate(state.best, self._tasks_for(max(state.step, 1)),
                                                          state.step, Phase.BASELINE)).report
            used = state.best_report.function_calls
            functions = state.best if self.config.test_functions == "all" else FunctionSet(
                tuple(f for f in state.best if used.get(f.name, 0) > 0))
            report = (await self._evaluate(functions, self.test, state.step, Phase.TEST)).report
            self.repo.add_note(state.best_version.sha, report.notes_dict(
                "test", split="test", run=self._run_id,
                tasks=f"{self.label} ({len(self.test)} tasks, sha256:{selection_hash(self.test)[:12]})",
                model=self.client.config.model, policy=self.config.test_functions, functions=list(functions.names)))
            test = TestScore(accuracy=report.accuracy, n=report.n, correct=report.correct, ci95=report.ci95,
                             policy=self.config.test_functions, functions=functions.names)
        spent = self._spent()
        counts = {s: sum(1 for r in state.history if r.status is s) for s in StepStatus}
        path = run_dir(self.repo, self._run_id) / "summary.json"
        summary = RunSummary(
            run_id=self._run_id, branch=self.branch, stop=stop, steps=state.step, epochs=state.epoch,
            rejected=counts[StepStatus.REJECTED], unchanged=counts[StepStatus.UNCHANGED],
            initial_score=state.initial_score, best_score=state.best_score, best_val=state.best_val,
            best_commit=state.best_version.sha,
            best_tree=state.best.tree_hash, best_functions=state.best.names, test=test, tokens=spent.tokens,
            cost=spent.cost, wall_s=time.perf_counter() - self._started, resumed=resumed,
            history=tuple(state.history), path=str(path), prompt_tokens=spent.prompt_tokens,
            cached_tokens=spent.cached_tokens)
        write_summary(summary, path)
        self._emit(RunFinished(summary=summary))
        return summary

    # -- helpers -------------------------------------------------------------------

    def _selected_rises(self, state: _State, val: Report | None) -> bool:
        """Record an accepted trial's validation score; True when it improves the selected best (early stop
        counts steps since the last rise; on equal validation scores the later set is selected, as
        :mod:`registry._best` does, without resetting the count)."""
        state.best_val = val.accuracy if val is not None else None
        if self.select == "train" or state.best_val is None:
            return True
        rises = state.selected_val is None or state.best_val > state.selected_val
        if rises or state.best_val == state.selected_val:
            state.selected_val = state.best_val
        return rises

    def _finish_step(self, state: _State, record: StepRecord, *, rejections: int) -> None:
        state.history.append(record)
        spent = self._spent()
        append_step(self.repo, self._run_id, record, spent)
        self._emit(StepFinished(record=record, rejections=rejections, stale=state.stale, spent=spent))
