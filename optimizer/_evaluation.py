"""Evaluation: run a function set's agent on tasks, concurrently and cached, and score it.

``evaluate`` runs each task through ``agents.solve`` (at most ``concurrency``
at once), extracts and scores the answer with the task's scorer (MATH answers
in a :class:`~tasks.ScoringPool` worker it kills past the time limit, unless a
``scorer`` is given), and returns a
:class:`Report`: per-task correctness, tokens, cost, wall time and successful
function calls, the accuracy with its 95% Wilson interval, and the totals.

With an :class:`~optimizer.EvalCache` every scored run is stored under a key
derived from everything that decides it (:mod:`optimizer._result_key`);
re-evaluating costs no LLM call and no sandbox call.

A task that ends without a judged answer is incorrect, with a ``reason``:

- ``context``: its conversation stayed too long for the model after one cut
  (cached: the same key gives the same conversation);
- ``unscored``: comparing its answer ran out of CPU time (cached with its
  trajectory and scored again each time it is read, never stored as wrong);
- ``rejected``: the provider refused this task's request (HTTP 400/422) for
  another reason (not cached);
- ``outage``: the provider stayed unavailable after the client's retries (not
  cached; :attr:`Report.errors` counts these, and the trainer stops on them).

The batch always completes. A refusal that would hit every task alike (bad
key, unknown model) propagates.

What it costs besides the LLM's time (issue 18): a task holds one of the
``concurrency`` slots only while its agent runs, not while its answer is
scored, so a slow first MATH comparison never holds back the next request;
the sandbox workers and the MATH scoring workers start warming in the
background as the first requests go out, not before them; results reach the
cache in batches, written by a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.agents import AgentConfig, LLMClient, LLMRejected, StopReason, Trajectory, solve
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import ScoringPool, ScoringTimeout, Task, scorer_name
from fnforge.optimizer._eval_cache import CacheKey, EvalCache
from fnforge.optimizer._result_key import KeyMaker
from fnforge.optimizer._results import REASONS, SCHEMA_VERSION, Report, TaskResult, wilson_interval

__all__ = ["REASONS", "SCHEMA_VERSION", "ProgressCallback", "Report", "TaskResult", "evaluate", "wilson_interval"]

ProgressCallback = Callable[[int, int, TaskResult], None]
"""``progress(done, total, result)``: called once per task as it finishes (cache hits first)."""

Scorer = Callable[[Task, str], bool]

_PER_TASK_REJECTIONS = frozenset({400, 413, 422})  # a request malformed (or too large) for this task only
_CACHED_REASONS = frozenset({None, "context", "unscored"})
_STOP_REASONS = {StopReason.ERROR: "outage", StopReason.CONTEXT: "context"}
_WRITE_BATCH = 32  # results handed to the cache's writer thread at once
_SCORING_WORKERS = 2  # processes of the MATH scoring pool evaluate opens
_WAVE_POLL_S = 0.005  # how often a warm-up waiting for the first requests looks


async def evaluate(function_set: FunctionSet, tasks: Sequence[Task], agent_config: AgentConfig, *,
                   client: LLMClient, sandbox: Sandbox, cache: EvalCache | None = None, concurrency: int = 8,
                   progress: ProgressCallback | None = None, rollout: int = 0,
                   scorer: Scorer | ScoringPool | None = None) -> Report:
    """Run and score ``function_set``'s agent on ``tasks``; cached runs are read, not run.

    Args:
        function_set: the learned functions offered to the agent.
        tasks: the tasks, in report order (a task given twice is run once).
        agent_config: the agent system and its limits.
        client: an open ``LLMClient`` (its config's model and sampling key the cache).
        sandbox: where tool calls run (its policy keys the cache); its workers are
            started, in the background, when a task has to run.
        cache: where scored runs are read from and written to; ``None`` runs everything.
        concurrency: tasks whose agent runs at once.
        progress: ``progress(done, total, result)`` after each task.
        rollout: sample index; distinct indices are distinct cached runs.
        scorer: ``scorer(task, answer)`` judges each new answer (called in a worker
            thread, several at once); or a :class:`~tasks.ScoringPool` to score with (one
            kept for a whole training run; evaluate does not close it); ``None`` opens a
            pool for this call. A pool starts processes only if a MATH task has to run.

    Returns:
        The report, results in the order of ``tasks``.

    Raises:
        LLMRejected: the provider refused a request in a way every task would hit.
        EvalCacheError: the cache file cannot be read or written.
        ValueError: ``concurrency < 1`` or ``rollout < 0``.

    Example (async or needs a provider, so shown, not run)::

        async with LLMClient(LLMConfig(model="gpt-4o-mini")) as client:
            report = await evaluate(fs, tasks, AgentConfig(), client=client, sandbox=sandbox,
                                    cache=EvalCache(repo.state_dir / "eval-cache.sqlite"))
        report.accuracy, report.ci95
        # -> (0.65, (0.433, 0.819))
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if rollout < 0:
        raise ValueError(f"rollout must be >= 0, got {rollout}")
    started = time.perf_counter()
    judge = _Judge(scorer if scorer is not None else ScoringPool(_SCORING_WORKERS))
    own_pool = judge.pool if scorer is None else None
    batch = _Batch(function_set, tuple(tasks), agent_config, client=client, sandbox=sandbox, cache=cache,
                   rollout=rollout, concurrency=concurrency, progress=progress, judge=judge)
    pending, unscored = batch.read_cache()
    jobs = [asyncio.ensure_future(batch.run(indices)) for indices in pending.values()]
    jobs += [asyncio.ensure_future(batch.rescore(i, stored)) for i, stored in unscored]
    warmups = batch.warm_up(judge.pool, [batch.tasks[i[0]] for i in pending.values()])
    try:
        await _gather(jobs)
    finally:
        for warmup in warmups:
            warmup.cancel()
        if own_pool is not None:
            own_pool.close()  # quick: its workers are idle, or killed mid-answer by the failure path
        await batch.store_written()
    return Report.from_results(batch.results(), wall_s=time.perf_counter() - started)


class _Judge:
    """Scores answers. With a :class:`~tasks.ScoringPool`, in the event loop when that cannot block
    (any scorer but MATH's), and MATH answers in as many worker threads as the pool has workers
    (more would only wait there, each thread started at a cost to the event loop); with a scoring
    function, in a worker thread per answer."""

    def __init__(self, scorer: Scorer | ScoringPool) -> None:
        self.pool = scorer if isinstance(scorer, ScoringPool) else None
        self.score: Scorer = scorer.score if isinstance(scorer, ScoringPool) else scorer
        self.threads = asyncio.Semaphore(self.pool.workers if self.pool is not None else 1 << 30)

    async def __call__(self, result: TaskResult, task: Task) -> TaskResult:
        """``result`` with its answer scored: correct or not, or ``unscored`` when scoring ran out of time."""
        if not result.answer:
            return replace(result, correct=False)
        try:
            if self.pool is not None and scorer_name(task) != "math":
                correct = self.score(task, result.answer)
            else:
                async with self.threads:
                    correct = await asyncio.to_thread(self.score, task, result.answer)
        except ScoringTimeout as exc:
            return replace(result, correct=False, reason="unscored", error=str(exc))
        return replace(result, correct=correct, reason=None, error=None)


class _Batch:
    """The state of one evaluation: its tasks, keys and results, and the writes owed to the cache."""

    def __init__(self, function_set: FunctionSet, tasks: tuple[Task, ...], agent_config: AgentConfig, *,
                 client: LLMClient, sandbox: Sandbox, cache: EvalCache | None, rollout: int, concurrency: int,
                 progress: ProgressCallback | None, judge: _Judge) -> None:
        self.function_set, self.tasks, self.agent_config = function_set, tasks, agent_config
        self.client, self.sandbox, self.cache, self.rollout = client, sandbox, cache, rollout
        self.progress, self.judge = progress, judge
        self.keys = KeyMaker(function_set, agent_config, client, sandbox, rollout)
        self.slots, self.slots_total = asyncio.Semaphore(concurrency), concurrency
        self._results: list[TaskResult | None] = [None] * len(tasks)
        self._done = 0
        self._unwritten: list[tuple[CacheKey, TaskResult]] = []
        self._writes: list[asyncio.Future[None]] = []

    def read_cache(self) -> tuple[dict[str, list[int]], list[tuple[int, TaskResult]]]:
        """Fill in the cached results; return the tasks to run (by key, duplicates together) and
        the cached runs whose answer must be scored again."""
        keys = [self.keys.key(task) for task in self.tasks]
        hits = self.cache.get_many(keys) if self.cache is not None else {}
        pending: dict[str, list[int]] = {}
        unscored: list[tuple[int, TaskResult]] = []
        for i, key in enumerate(k.key for k in keys):
            stored = hits.get(key)
            result = _from_cache(stored, self.tasks[i]) if stored is not None else None
            if result is None:
                pending.setdefault(key, []).append(i)
            elif result.reason == "unscored":
                unscored.append((i, result))
            else:
                self.finish([i], result)
        return pending, unscored

    def warm_up(self, pool: ScoringPool | None, to_run: Sequence[Task]) -> list[asyncio.Future[None]]:
        """Start in the background what the first turn does not need: a MATH scoring worker at once if a
        MATH task is to run (every answer needs it), and the sandbox's workers, if the agent has tools,
        once the first requests are out (the model may never call a tool; on two cores, processes that
        import numpy and sympy would slow those requests down)."""
        warmups: list[asyncio.Future[None]] = []
        if pool is not None and any(scorer_name(task) == "math" for task in to_run):
            warmups.append(asyncio.ensure_future(_warm(pool.score_math, "1", "1")))  # starts a scoring worker
        if to_run and (self.agent_config.run_python or len(self.function_set)):
            wave = _Wave(self.client, min(len(to_run), self.slots_total))
            warmups.append(asyncio.ensure_future(_warm(self.sandbox.start, after=wave)))  # a Popen per worker
        return warmups

    async def run(self, indices: list[int]) -> None:
        """Run the task at ``indices`` (one task, maybe given several times), score it, store it."""
        task = self.tasks[indices[0]]
        async with self.slots:
            started = time.perf_counter()
            result = await self._solved(task)
        if result.reason is None:
            result = await self.judge(result, task)
        result = replace(result, wall_s=time.perf_counter() - started)
        self.store(task, result)
        self.finish(indices, result)

    async def _solved(self, task: Task) -> TaskResult:
        """The agent's run of ``task``, not yet scored (``reason`` set when it ended without an answer)."""
        refused = False
        try:
            trajectory = await solve(self.agent_config, self.function_set, task, self.sandbox, self.client,
                                     rollout=self.rollout)
        except LLMRejected as exc:
            if exc.status not in _PER_TASK_REJECTIONS:
                raise
            trajectory, refused = self._refused(task, str(exc)), True
        answer = trajectory.answer if trajectory.stop is StopReason.ANSWER and trajectory.answer is not None else ""
        return TaskResult(
            task_id=task.id, task_hash=task.hash, correct=False, answer=answer, trajectory=trajectory,
            tokens=trajectory.usage.total_tokens, cost=trajectory.cost_usd, wall_s=0.0,
            successful_calls=trajectory.function_calls(), error=trajectory.error,
            reason="rejected" if refused else _STOP_REASONS.get(trajectory.stop),
        )

    def _refused(self, task: Task, error: str) -> Trajectory:
        """The trajectory of a run the provider refused before it gave any reply."""
        return Trajectory(
            agent=self.agent_config.kind, task_id=task.id, question=task.question, model=self.client.config.model,
            function_set=self.function_set.tree_hash, functions=self.function_set.names, rollout=self.rollout,
            steps=(), final_text=None, answer=None, stop=StopReason.ERROR, error=error, turns=1, failures=1,
        )

    async def rescore(self, index: int, stored: TaskResult) -> None:
        result = await self.judge(stored, self.tasks[index])
        if result.reason != "unscored":
            self.store(self.tasks[index], result)
        self.finish([index], result)

    def finish(self, indices: Sequence[int], result: TaskResult) -> None:
        for i in indices:
            self._results[i] = result
            self._done += 1
            if self.progress is not None:
                self.progress(self._done, len(self.tasks), result)

    def results(self) -> list[TaskResult]:
        return [r for r in self._results if r is not None]

    def store(self, task: Task, result: TaskResult) -> None:
        """Owe ``result`` to the cache (under the tools mode it ended in); hand a full batch to a thread."""
        if self.cache is None or result.reason not in _CACHED_REASONS:
            return
        self._unwritten.append((self.keys.key(task), result))
        if len(self._unwritten) >= _WRITE_BATCH:
            self._write()

    def _write(self) -> None:
        items, self._unwritten = self._unwritten, []
        if self.cache is not None and items:
            self._writes.append(asyncio.ensure_future(asyncio.to_thread(_put, self.cache, items)))

    async def store_written(self) -> None:
        """Hand the last results to the cache and wait until every batch is written."""
        self._write()
        writes, self._writes = self._writes, []
        await asyncio.gather(*writes)
        if self.cache is not None and writes:
            await asyncio.to_thread(self.cache.flush)


def _put(cache: EvalCache, items: Sequence[tuple[CacheKey, TaskResult]]) -> None:
    """Write scored runs to the cache (in a worker thread: their JSON is most of the cost)."""
    cache.put_many((key, result.to_dict()) for key, result in items)


class _Wave:
    """Whether ``client`` has sent ``size`` requests since this was made."""

    def __init__(self, client: LLMClient, size: int) -> None:
        self.client, self.size, self.before = client, size, client.stats.requests

    async def sent(self) -> None:
        while self.client.stats.requests - self.before < self.size:
            await asyncio.sleep(_WAVE_POLL_S)


async def _warm(start: Callable[..., object], *args: str, after: _Wave | None = None) -> None:
    """Call ``start(*args)`` in a worker thread (after the wave, if given); a failure is left to the real
    work to report."""
    if after is not None:
        await after.sent()
    try:
        await asyncio.to_thread(start, *args)
    except Exception:  # noqa: BLE001, S110  # warming only: the first real call raises it again
        pass


async def _gather(jobs: Sequence[asyncio.Future[None]]) -> None:
    """Wait for every job; the first failure propagates as itself (not an ExceptionGroup) once the rest are
    cancelled."""
    try:
        await asyncio.gather(*jobs)
    except BaseException:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        raise


def _from_cache(stored: Mapping[str, Any], task: Task) -> TaskResult | None:
    """A cached result, or ``None`` when it cannot be read back (then the task runs again)."""
    try:
        result = TaskResult.from_dict(stored, cached=True)
    except ValueError:
        return None
    return result if result.task_hash == task.hash else None
