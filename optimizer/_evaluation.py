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
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fnforge.agents import AgentConfig, LLMClient, LLMRejected, StopReason, Trajectory, TrajectoryError, solve
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import ScoringPool, ScoringTimeout, Task
from fnforge.optimizer._eval_cache import EvalCache
from fnforge.optimizer._result_key import KeyMaker

__all__ = ["REASONS", "SCHEMA_VERSION", "ProgressCallback", "Report", "TaskResult", "evaluate", "wilson_interval"]

SCHEMA_VERSION = 1
"""Version of the JSON forms of :class:`TaskResult` and :class:`Report`."""

ProgressCallback = Callable[[int, int, "TaskResult"], None]
"""``progress(done, total, result)``: called once per task as it finishes (cache hits first)."""

REASONS = ("context", "unscored", "rejected", "outage")
"""Why a task is incorrect without a judged answer (see the module docstring)."""

_PER_TASK_REJECTIONS = frozenset({400, 413, 422})  # a request malformed (or too large) for this task only
_CACHED_REASONS = frozenset({None, "context", "unscored"})
_STOP_REASONS = {StopReason.ERROR: "outage", StopReason.CONTEXT: "context"}
_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """One task's scored run.

    Args:
        task_id, task_hash: the task (``Task.id``, ``Task.hash``).
        correct: the extracted answer matched the reference.
        answer: the extracted answer (``""`` when the run gave none).
        trajectory: the whole run.
        tokens, cost: total tokens and US dollars of the run's LLM calls.
        wall_s: wall time of the run and its scoring (as measured when it ran).
        cached: read from the evaluation cache rather than run now.
        successful_calls: learned function name -> tool calls that returned without error.
        error: what ended the run or its scoring (provider message, scoring timeout), or ``None``.
        reason: why it is incorrect without a judged answer (one of :data:`REASONS`), or ``None``.
    """

    task_id: str
    task_hash: str
    correct: bool
    answer: str
    trajectory: Trajectory
    tokens: int
    cost: float
    wall_s: float
    cached: bool = False
    successful_calls: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None

    def to_dict(self, *, trajectory: bool = True) -> dict[str, Any]:
        """JSON-safe form; ``trajectory=False`` leaves the trajectory out (git notes)."""
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "task_id": self.task_id,
            "task_hash": self.task_hash,
            "correct": self.correct,
            "answer": self.answer,
            "tokens": self.tokens,
            "cost": self.cost,
            "wall_s": self.wall_s,
            "successful_calls": dict(sorted(self.successful_calls.items())),
            "error": self.error,
            "reason": self.reason,
        }
        if trajectory:
            data["trajectory"] = self.trajectory.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, cached: bool = False) -> TaskResult:
        """Read :meth:`to_dict` output (with its trajectory) back.

        Raises:
            ValueError: another ``schema_version``, or a missing or invalid field.
        """
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"task result schema_version {data.get('schema_version')!r} is not supported")
        try:
            return cls(
                task_id=str(data["task_id"]), task_hash=str(data["task_hash"]), correct=bool(data["correct"]),
                answer=str(data["answer"]), trajectory=Trajectory.from_dict(data["trajectory"]),
                tokens=int(data["tokens"]), cost=float(data["cost"]), wall_s=float(data["wall_s"]),
                cached=cached, successful_calls={str(k): int(v) for k, v in data["successful_calls"].items()},
                error=data.get("error"), reason=data.get("reason"),
            )
        except (KeyError, TypeError, AttributeError, TrajectoryError) as exc:
            raise ValueError(f"task result is invalid: {type(exc).__name__}: {exc}") from exc


def wilson_interval(correct: int, n: int, *, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval for ``correct`` successes in ``n`` trials (95% by default).

    ``n == 0`` gives ``(0.0, 1.0)``: nothing is known.

    Raises:
        ValueError: ``n < 0`` or ``correct`` outside ``0..n``.

    Example:
        >>> tuple(round(x, 3) for x in wilson_interval(8, 10))
        (0.49, 0.943)
    """
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """The evaluation of one function set on a list of tasks.

    Args:
        results: one per task, in the order the tasks were given.
        accuracy: ``correct / n`` (0.0 when ``n == 0``).
        n, correct: tasks and correct tasks.
        tokens, cost: totals over the results (cached ones count their original cost).
        wall_s: wall time of this evaluation.
        ci95: 95% Wilson interval of the accuracy.
        function_calls: learned function name -> successful calls over all tasks.
        errors: tasks ended by a provider outage (the trainer stops on these).
        cached: results read from the cache.
        reasons: how many tasks are incorrect for each :data:`REASONS` entry (only those that occur).

    Example:
        >>> report = Report.from_results(results, wall_s=1.5)  # doctest: +SKIP
        >>> f"{report.accuracy:.1%} [{report.ci95[0]:.1%}, {report.ci95[1]:.1%}]"  # doctest: +SKIP
        '65.0% [43.3%, 81.9%]'
    """

    results: tuple[TaskResult, ...]
    accuracy: float
    n: int
    correct: int
    tokens: int
    cost: float
    wall_s: float
    ci95: tuple[float, float]
    function_calls: dict[str, int]
    errors: int = 0
    cached: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_results(cls, results: Iterable[TaskResult], *, wall_s: float) -> Report:
        """Build a report with every total computed from ``results``."""
        items = tuple(results)
        n, correct = len(items), sum(1 for r in items if r.correct)
        calls: Counter[str] = Counter()
        for r in items:
            calls.update(r.successful_calls)
        return cls(
            results=items, accuracy=correct / n if n else 0.0, n=n, correct=correct,
            tokens=sum(r.tokens for r in items), cost=sum(r.cost for r in items), wall_s=wall_s,
            ci95=wilson_interval(correct, n), function_calls=dict(sorted(calls.items())),
            errors=sum(1 for r in items if r.reason == "outage"), cached=sum(1 for r in items if r.cached),
            reasons=dict(sorted(Counter(r.reason for r in items if r.reason is not None).items())),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary plus per-task results, without trajectories."""
        return {
            "schema_version": SCHEMA_VERSION,
            "accuracy": self.accuracy,
            "n": self.n,
            "correct": self.correct,
            "ci95": list(self.ci95),
            "tokens": self.tokens,
            "cost": self.cost,
            "wall_s": self.wall_s,
            "errors": self.errors,
            "reasons": dict(self.reasons),
            "cached": self.cached,
            "function_calls": dict(self.function_calls),
            "results": [r.to_dict(trajectory=False) for r in self.results],
        }

    def notes_dict(self, key: str, **context: Any) -> dict[str, Any]:
        """The git-notes form: ``{key: {**context, **summary, "results": [...]}}``.

        ``key`` names the evaluation (e.g. the split, ``"test"``); per-task
        results are a list, so a later evaluation under the same key replaces
        them when :meth:`registry.Repository.add_note` merges. ``context`` adds
        JSON-safe facts such as the task set, model or run id. ``cached`` is left
        out: it describes this run, not the function set.

        Example:
            >>> repo.add_note(sha, report.notes_dict("test", tasks="math:algebra"))  # doctest: +SKIP
        """
        body = self.to_dict()
        del body["cached"]
        return {key: {**context, **body}}


async def evaluate(function_set: FunctionSet, tasks: Sequence[Task], agent_config: AgentConfig, *,
                   client: LLMClient, sandbox: Sandbox, cache: EvalCache | None = None, concurrency: int = 8,
                   progress: ProgressCallback | None = None, rollout: int = 0,
                   scorer: Callable[[Task, str], bool] | None = None) -> Report:
    """Run and score ``function_set``'s agent on ``tasks``; cached runs are read, not run.

    Args:
        function_set: the learned functions offered to the agent.
        tasks: the tasks, in report order (a task given twice is run once).
        agent_config: the agent system and its limits.
        client: an open ``LLMClient`` (its config's model and sampling key the cache).
        sandbox: where tool calls run (its policy keys the cache).
        cache: where scored runs are read from and written to; ``None`` runs everything.
        concurrency: tasks in flight at once.
        progress: ``progress(done, total, result)`` after each task.
        rollout: sample index; distinct indices are distinct cached runs.
        scorer: ``scorer(task, answer)`` judges each new answer (called in a worker
            thread, several at once); ``None`` opens a :class:`~tasks.ScoringPool` for
            this call, which starts processes only if a MATH answer is scored.

    Returns:
        The report, results in the order of ``tasks``.

    Raises:
        LLMRejected: the provider refused a request in a way every task would hit.
        EvalCacheError: the cache file cannot be read or written.
        ValueError: ``concurrency < 1`` or ``rollout < 0``.

    Example:
        >>> async with LLMClient(LLMConfig(model="gpt-4o-mini")) as client:  # doctest: +SKIP
        ...     report = await evaluate(fs, tasks, AgentConfig(), client=client, sandbox=sandbox,
        ...                             cache=EvalCache(repo.state_dir / "eval-cache.sqlite"))
        >>> report.accuracy, report.ci95  # doctest: +SKIP
        (0.65, (0.433, 0.819))
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if rollout < 0:
        raise ValueError(f"rollout must be >= 0, got {rollout}")
    started = time.perf_counter()
    tasks = tuple(tasks)
    maker = KeyMaker(function_set, agent_config, client, sandbox, rollout)
    keys = [maker.key(task) for task in tasks]
    results: list[TaskResult | None] = [None] * len(tasks)
    done = 0

    def finish(indices: Sequence[int], result: TaskResult) -> None:
        nonlocal done
        for i in indices:
            results[i] = result
            done += 1
            if progress is not None:
                progress(done, len(tasks), result)

    hits = cache.get_many(keys) if cache is not None else {}
    pending: dict[str, list[int]] = {}
    unscored: list[tuple[int, TaskResult]] = []
    for i, key in enumerate(keys):
        stored = hits.get(key.key)
        result = _from_cache(stored, tasks[i]) if stored is not None else None
        if result is None:
            pending.setdefault(key.key, []).append(i)
        elif result.reason == "unscored":
            unscored.append((i, result))
        else:
            finish([i], result)

    semaphore = asyncio.Semaphore(concurrency)
    pool: ScoringPool | None = None
    if scorer is None:
        pool = ScoringPool()
        scorer = pool.score
    judge = scorer

    async def store(task: Task, result: TaskResult) -> None:
        if cache is not None and result.reason in _CACHED_REASONS:
            await asyncio.to_thread(cache.put, maker.key(task), result.to_dict())  # the tools mode it ended in

    async def run(indices: list[int]) -> None:
        task = tasks[indices[0]]
        async with semaphore:
            result = await _run_one(function_set, task, agent_config, client, sandbox, rollout, judge)
        await store(task, result)
        finish(indices, result)

    async def rescore(index: int, stored: TaskResult) -> None:
        async with semaphore:
            result = await _judged(stored, tasks[index], judge)
        if result.reason != "unscored":
            await store(tasks[index], result)
        finish([index], result)

    jobs = [asyncio.ensure_future(run(indices)) for indices in pending.values()]
    jobs += [asyncio.ensure_future(rescore(i, stored)) for i, stored in unscored]
    try:
        await asyncio.gather(*jobs)
    except BaseException:  # the first failure propagates as itself (not an ExceptionGroup); stop the rest
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        raise
    finally:
        if pool is not None:
            pool.close()  # quick: its workers are idle, or killed mid-answer by the failure path
    return Report.from_results((r for r in results if r is not None), wall_s=time.perf_counter() - started)


def _from_cache(stored: Mapping[str, Any], task: Task) -> TaskResult | None:
    """A cached result, or ``None`` when it cannot be read back (then the task runs again)."""
    try:
        result = TaskResult.from_dict(stored, cached=True)
    except ValueError:
        return None
    return result if result.task_hash == task.hash else None


async def _judged(result: TaskResult, task: Task, score: Callable[[Task, str], bool]) -> TaskResult:
    """``result`` with its answer scored: correct or not, or ``unscored`` when scoring ran out of time."""
    if not result.answer:
        return replace(result, correct=False)
    try:
        correct = await asyncio.to_thread(score, task, result.answer)
    except ScoringTimeout as exc:
        return replace(result, correct=False, reason="unscored", error=str(exc))
    return replace(result, correct=correct, reason=None, error=None)


async def _run_one(function_set: FunctionSet, task: Task, agent_config: AgentConfig, client: LLMClient,
                   sandbox: Sandbox, rollout: int, score: Callable[[Task, str], bool]) -> TaskResult:
    started = time.perf_counter()
    refused = False
    try:
        trajectory = await solve(agent_config, function_set, task, sandbox, client, rollout=rollout)
    except LLMRejected as exc:
        if exc.status not in _PER_TASK_REJECTIONS:
            raise
        trajectory, refused = _failed(function_set, task, agent_config, client, rollout, str(exc)), True
    answer = trajectory.answer if trajectory.stop is StopReason.ANSWER and trajectory.answer is not None else ""
    result = TaskResult(
        task_id=task.id, task_hash=task.hash, correct=False, answer=answer, trajectory=trajectory,
        tokens=trajectory.usage.total_tokens, cost=trajectory.cost_usd, wall_s=0.0,
        successful_calls=trajectory.function_calls(), error=trajectory.error,
        reason="rejected" if refused else _STOP_REASONS.get(trajectory.stop),
    )
    if result.reason is None:
        result = await _judged(result, task, score)
    return replace(result, wall_s=time.perf_counter() - started)


def _failed(function_set: FunctionSet, task: Task, agent_config: AgentConfig, client: LLMClient, rollout: int,
            error: str) -> Trajectory:
    """The trajectory of a run the provider refused before it gave any reply."""
    return Trajectory(
        agent=agent_config.kind, task_id=task.id, question=task.question, model=client.config.model,
        function_set=function_set.tree_hash, functions=function_set.names, rollout=rollout,
        steps=(), final_text=None, answer=None, stop=StopReason.ERROR, error=error, turns=1, failures=1,
    )
