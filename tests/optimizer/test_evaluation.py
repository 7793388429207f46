"""evaluate(): concurrent runs through the real agent, sandbox and scorer; the SQLite result cache."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from fnforge.agents import AgentConfig, LLMClient, LLMConfig, LLMRejected
from fnforge.functions import FunctionSet
from fnforge.optimizer import CacheKey, EvalCache, EvalCacheError, Report, TaskResult, evaluate, wilson_interval
from fnforge.sandbox import Sandbox, SandboxPolicy
from fnforge.tasks import ScoringTimeout, Task, load_tasks
from tests.llm_server import Fault, InFlight, ScriptedLLM, reply_error, reply_text
from tests.optimizer.fixtures.eval_kit import (
    DATA_DIR,
    SOLVE_CODE,
    TEST_TASKS,
    ZERO_ANSWER_TASKS,
    solve_equation,
    solver_policy,
    with_solver,
)

AGENT = AgentConfig(max_turns=4)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxPolicy(), workers=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def tasks() -> tuple[Task, ...]:
    return load_tasks("math:algebra", "test", data_dir=DATA_DIR)


def config(server: ScriptedLLM, **changes: object) -> LLMConfig:
    base = LLMConfig(model="scripted-model", base_url=server.base_url, max_retries=1, backoff_s=0.01,
                     backoff_max_s=0.02, timeout_s=10.0)
    return replace(base, **changes)  # type: ignore[arg-type]


def run(server: ScriptedLLM, function_set: FunctionSet, tasks: Sequence[Task], sandbox: Sandbox,
        cache: EvalCache | None = None, **kwargs: object) -> Report:
    async def go() -> Report:
        async with LLMClient(config(server)) as client:
            return await evaluate(function_set, tasks, AGENT, client=client, sandbox=sandbox, cache=cache,
                                  **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def comparable(report: Report) -> dict[str, object]:
    data = report.to_dict()
    for volatile in ("wall_s", "cached"):
        del data[volatile]
    return data


# ------------------------------------------------------------------ scoring and counting


def test_evaluate_scores_with_function_as_scripted(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                   tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, with_solver(), tasks, sandbox)
    assert (report.n, report.correct, report.accuracy) == (TEST_TASKS, TEST_TASKS, 1.0)


def test_evaluate_scores_without_function_as_scripted(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                      tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, FunctionSet(), tasks, sandbox)
    assert (report.n, report.correct) == (TEST_TASKS, ZERO_ANSWER_TASKS)


def test_evaluate_returns_results_in_task_order(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    llm_server.latency_s = 0.01
    report = run(llm_server, with_solver(), tuple(reversed(tasks)), sandbox)
    assert [r.task_id for r in report.results] == [t.id for t in reversed(tasks)]


def test_evaluate_counts_successful_calls_per_function(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                       tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, with_solver(), tasks, sandbox)
    assert report.function_calls == {"solve_equation": TEST_TASKS}
    assert all(r.successful_calls == {"solve_equation": 1} for r in report.results)


def test_evaluate_does_not_count_calls_that_raised(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                   tasks: tuple[Task, ...]) -> None:
    broken = SOLVE_CODE.replace('    left, right = equation.split("=")\n', '    raise ValueError("broken")\n')
    llm_server.policy = solver_policy()
    report = run(llm_server, FunctionSet((solve_equation(broken),)), tasks[:2], sandbox)
    assert report.function_calls == {} and report.correct == 0


def test_evaluate_reports_tokens_cost_and_wall_time(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                    tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, with_solver(), tasks[:2], sandbox)
    assert report.tokens == sum(r.trajectory.usage.total_tokens for r in report.results) > 0
    assert report.cost == 0.0 and report.wall_s > 0 and all(r.wall_s > 0 for r in report.results)


def test_evaluate_reports_wilson_interval(llm_server: ScriptedLLM, sandbox: Sandbox,
                                          tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, FunctionSet(), tasks, sandbox)
    assert report.ci95 == wilson_interval(ZERO_ANSWER_TASKS, TEST_TASKS)


def test_evaluate_calls_progress_once_per_task(llm_server: ScriptedLLM, sandbox: Sandbox,
                                               tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    seen: list[tuple[int, int]] = []
    run(llm_server, with_solver(), tasks, sandbox, progress=lambda done, total, result: seen.append((done, total)))
    assert seen == [(i, TEST_TASKS) for i in range(1, TEST_TASKS + 1)]


def test_evaluate_keeps_at_most_concurrency_tasks_in_flight(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                            tasks: tuple[Task, ...]) -> None:
    slow = llm_server.policy = InFlight("\\boxed{0}")
    run(llm_server, FunctionSet(), tasks, sandbox, concurrency=2)
    assert slow.peak == 2


def test_evaluate_rejects_concurrency_below_one(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                tasks: tuple[Task, ...]) -> None:
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        run(llm_server, FunctionSet(), tasks, sandbox, concurrency=0)


def test_evaluate_of_no_tasks_is_an_empty_report(llm_server: ScriptedLLM, sandbox: Sandbox) -> None:
    report = run(llm_server, FunctionSet(), (), sandbox)
    assert (report.n, report.accuracy, report.ci95, llm_server.count) == (0, 0.0, (0.0, 1.0), 0)


# ------------------------------------------------------------------ provider failures


def test_evaluate_records_unavailable_provider_on_one_task_and_completes(
        llm_server: ScriptedLLM, sandbox: Sandbox, tasks: tuple[Task, ...]) -> None:
    doomed = tasks[1].question
    llm_server.policy = solver_policy()
    llm_server.set_faults(lambda req: Fault.SERVER_ERROR if req.question == doomed else None)
    report = run(llm_server, with_solver(), tasks, sandbox)
    failed = [r for r in report.results if r.error is not None]
    assert [(r.task_id, r.reason, r.correct) for r in failed] == [(tasks[1].id, "outage", False)]
    assert (report.errors, report.reasons, report.correct) == (1, {"outage": 1}, TEST_TASKS - 1)


def test_evaluate_does_not_cache_failed_tasks(llm_server: ScriptedLLM, sandbox: Sandbox,
                                              tasks: tuple[Task, ...], tmp_path: Path) -> None:
    doomed = tasks[1].question
    llm_server.policy = solver_policy()
    llm_server.set_faults(lambda req: Fault.SERVER_ERROR if req.question == doomed else None)
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        run(llm_server, with_solver(), tasks, sandbox, cache=cache)
        llm_server.set_faults()
        report = run(llm_server, with_solver(), tasks, sandbox, cache=cache)
    assert [r.task_id for r in report.results if not r.cached] == [tasks[1].id]
    assert report.correct == TEST_TASKS


def test_evaluate_scores_a_conversation_too_long_for_the_model_wrong_with_reason_context(
        llm_server: ScriptedLLM, sandbox: Sandbox, tasks: tuple[Task, ...]) -> None:
    doomed = tasks[0].question
    llm_server.policy = lambda req: (reply_error(400, "context length exceeded") if req.question == doomed
                                     else reply_text("\\boxed{0}"))
    report = run(llm_server, FunctionSet(), tasks, sandbox)
    first = report.results[0]
    assert (first.reason, first.correct, report.errors, report.reasons) == ("context", False, 0, {"context": 1})
    assert "context length exceeded" in (first.error or "")


def test_evaluate_caches_a_context_result_like_any_scored_run(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                              tasks: tuple[Task, ...], tmp_path: Path) -> None:
    llm_server.policy = lambda req: reply_error(400, "This model's maximum context length is 8 tokens.")
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        run(llm_server, FunctionSet(), tasks[:1], sandbox, cache=cache)
        again = run(llm_server, FunctionSet(), tasks[:1], sandbox, cache=cache)
    assert (again.cached, again.reasons, llm_server.count) == (1, {"context": 1}, 1)


def test_evaluate_scores_a_request_refused_for_one_task_wrong_with_reason_rejected_and_runs_it_again(
        llm_server: ScriptedLLM, sandbox: Sandbox, tasks: tuple[Task, ...], tmp_path: Path) -> None:
    doomed = tasks[0].question
    llm_server.policy = lambda req: (reply_error(400, "Invalid 'messages[1].content': unsupported character")
                                     if req.question == doomed else reply_text("\\boxed{0}"))
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        report = run(llm_server, FunctionSet(), tasks, sandbox, cache=cache)
        assert (report.results[0].reason, report.errors, report.reasons) == ("rejected", 0, {"rejected": 1})
        again = run(llm_server, FunctionSet(), tasks, sandbox, cache=cache)
    assert [r.task_id for r in again.results if not r.cached] == [tasks[0].id]


def test_evaluate_propagates_refusal_every_task_would_hit(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                          tasks: tuple[Task, ...]) -> None:
    llm_server.policy = lambda req: reply_error(401, "bad key")
    with pytest.raises(LLMRejected, match="bad key"):
        run(llm_server, FunctionSet(), tasks, sandbox)


# ------------------------------------------------------------------ cache


def test_evaluate_again_reads_cache_without_any_request(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                        tasks: tuple[Task, ...], tmp_path: Path) -> None:
    llm_server.policy = solver_policy()
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        first = run(llm_server, with_solver(), tasks, sandbox, cache=cache)
        before = llm_server.count
        second = run(llm_server, with_solver(), tasks, sandbox, cache=cache)
    assert llm_server.count == before and second.cached == TEST_TASKS
    assert comparable(second) == comparable(first)


def test_evaluate_cached_results_keep_trajectories(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                   tasks: tuple[Task, ...], tmp_path: Path) -> None:
    llm_server.policy = solver_policy()
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        first = run(llm_server, with_solver(), tasks, sandbox, cache=cache)
        second = run(llm_server, with_solver(), tasks, sandbox, cache=cache)
    assert [r.trajectory for r in second.results] == [r.trajectory for r in first.results]


def test_evaluate_runs_again_after_function_code_changes(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                         tasks: tuple[Task, ...], tmp_path: Path) -> None:
    llm_server.policy = solver_policy()
    revised = FunctionSet((solve_equation(SOLVE_CODE.replace("roots[0]", "roots[-1]")),))
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        run(llm_server, with_solver(), tasks, sandbox, cache=cache)
        report = run(llm_server, revised, tasks, sandbox, cache=cache)
    assert report.cached == 0


# ------------------------------------------------------------------ scoring timeouts


def _timing_out(task: Task, answer: str) -> bool:
    raise ScoringTimeout(5.0, "cpu")


def _correct_if_solved(task: Task, answer: str) -> bool:
    return answer == task.answer


def test_evaluate_records_a_scoring_timeout_as_unscored_not_wrong(llm_server: ScriptedLLM, sandbox: Sandbox,
                                                                  tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, with_solver(), tasks[:2], sandbox, scorer=_timing_out)
    assert [(r.correct, r.reason) for r in report.results] == [(False, "unscored")] * 2
    assert (report.errors, report.reasons) == (0, {"unscored": 2})


def test_evaluate_scores_an_unscored_cached_run_again_without_running_it(
        llm_server: ScriptedLLM, sandbox: Sandbox, tasks: tuple[Task, ...], tmp_path: Path) -> None:
    llm_server.policy = solver_policy()
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        run(llm_server, with_solver(), tasks[:2], sandbox, cache=cache, scorer=_timing_out)
        requests = llm_server.count
        rescored = run(llm_server, with_solver(), tasks[:2], sandbox, cache=cache, scorer=_correct_if_solved)
        assert llm_server.count == requests
        assert [(r.correct, r.reason, r.cached) for r in rescored.results] == [(True, None, True)] * 2
        stored = run(llm_server, with_solver(), tasks[:2], sandbox, cache=cache, scorer=_timing_out)
    assert stored.correct == 2 and stored.reasons == {}  # the verdict was stored: not scored a third time


def _key(i: int) -> CacheKey:
    return CacheKey(tree_hash="t", task_hash=f"task-{i}", agent="a", sandbox="s", model="m", sampling="{}",
                    rollout=0)


def _write_many(path: str, start: int, count: int) -> None:
    with EvalCache(Path(path)) as cache:
        for i in range(start, start + count):
            cache.put(_key(i), {"i": i})


def test_eval_cache_keeps_every_write_of_concurrent_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "eval.sqlite")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_write_many, args=(path, p * 100, 100)) for p in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    with EvalCache(Path(path)) as cache:
        assert [w.exitcode for w in workers] == [0, 0, 0] and len(cache) == 300


def test_eval_cache_keeps_every_write_of_concurrent_threads(tmp_path: Path) -> None:
    path = tmp_path / "eval.sqlite"
    shared = EvalCache(path)

    def write_shared(start: int) -> None:
        for i in range(start, start + 100):
            shared.put(_key(i), {"i": i})

    threads = [threading.Thread(target=write_shared, args=(p * 100,)) for p in range(2)]
    threads += [threading.Thread(target=_write_many, args=(str(path), 200 + p * 100, 100)) for p in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(shared) == 400
    shared.close()


def test_eval_cache_uses_wal_journal(tmp_path: Path) -> None:
    EvalCache(tmp_path / "eval.sqlite").close()
    with sqlite3.connect(tmp_path / "eval.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_eval_cache_treats_damaged_row_as_miss(tmp_path: Path) -> None:
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        cache.put(_key(1), {"i": 1})
        cache.flush()
        with sqlite3.connect(tmp_path / "eval.sqlite") as db:
            db.execute("UPDATE entries SET value = '{not json'")
        assert cache.get(_key(1)) is None


def test_eval_cache_rejects_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "eval.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EvalCacheError, match="cannot open the evaluation cache"):
        EvalCache(path)


def test_eval_cache_get_many_reads_more_keys_than_one_query_holds(tmp_path: Path) -> None:
    with EvalCache(tmp_path / "eval.sqlite") as cache:
        for i in range(1200):
            cache.put(_key(i), {"i": i})
        assert len(cache.get_many(_key(i) for i in range(1300))) == 1200


# ------------------------------------------------------------------ records


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_wilson_interval_of_nothing_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_rejects_more_correct_than_tasks() -> None:
    with pytest.raises(ValueError, match="correct <= n"):
        wilson_interval(3, 2)


def test_task_result_round_trips_through_json(llm_server: ScriptedLLM, sandbox: Sandbox,
                                              tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    result = run(llm_server, with_solver(), tasks[:1], sandbox).results[0]
    again = TaskResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_report_notes_dict_holds_per_task_results_without_trajectories(
        llm_server: ScriptedLLM, sandbox: Sandbox, tasks: tuple[Task, ...]) -> None:
    llm_server.policy = solver_policy()
    report = run(llm_server, with_solver(), tasks, sandbox)
    note = report.notes_dict("test", tasks="math:algebra")["test"]
    assert note["tasks"] == "math:algebra" and note["accuracy"] == 1.0 and len(note["results"]) == TEST_TASKS
    assert "trajectory" not in json.dumps(note)
