"""The worker pool: concurrency, caching, replacement of dead or overrunning workers, lifecycle."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fnforge.sandbox import Sandbox, SandboxCrash, SandboxPolicy, SandboxTimeout, UnknownFunctionError
from tests.sandbox.conftest import TEST_POLICY, RawSet, fn, one

PID = "import os\nresult = os.getpid()"


def test_concurrent_calls_from_many_threads_are_all_correct(sandbox) -> None:
    fs = RawSet(square=fn("return x * x", params="x", name="square"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(pool.map(lambda x: sandbox.call(fs, "square", {"x": x}).value, range(64)))
    assert values == [x * x for x in range(64)]


def test_call_result_reports_its_duration(sandbox) -> None:
    fs = one("return 1")
    sandbox.call(fs, "f")  # the worker has loaded the set: the next call is one exchange
    started = time.perf_counter()
    result = sandbox.call(fs, "f")
    assert 0 < result.duration_s <= time.perf_counter() - started


def test_timeout_is_reported_by_the_soft_timer_and_a_replacement_serves_the_next_call(sandbox) -> None:
    with pytest.raises(SandboxTimeout) as caught:
        sandbox.call(one("while True:\n    pass"), "f")
    assert caught.value.limit_s == 1.0 and not caught.value.hard  # the worker's own timer answered
    assert sandbox.call(one("return 'alive'"), "f").value == "alive"


def test_run_code_timeout_is_reported(sandbox) -> None:
    with pytest.raises(SandboxTimeout):
        sandbox.run_code(RawSet(), "while True:\n    pass")


def test_worker_that_blocks_the_soft_timer_is_killed_at_the_hard_limit(probe_sandbox) -> None:
    code = "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\nwhile True:\n    pass"
    started = time.monotonic()
    with pytest.raises(SandboxTimeout) as caught:
        probe_sandbox._probe(code)
    # The parent killed it (``hard``), and not before its deadline; an upper bound would only measure the load.
    assert caught.value.hard and time.monotonic() - started >= TEST_POLICY.timeout_s + TEST_POLICY.kill_grace_s - 0.05
    assert probe_sandbox.call(one("return 2"), "f").value == 2


def test_crashed_worker_raises_crash_and_is_replaced(bare_sandbox) -> None:
    with pytest.raises(SandboxCrash, match="killed by SIGSEGV"):
        bare_sandbox._probe("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert bare_sandbox.call(one("return 3"), "f").value == 3


def test_cpu_time_limit_is_set_per_call(bare_sandbox) -> None:
    code = "import resource\nu = resource.getrusage(resource.RUSAGE_SELF)\n" \
           "result = resource.getrlimit(resource.RLIMIT_CPU)[0] - (u.ru_utime + u.ru_stime)"
    assert 0 < bare_sandbox._probe(code).value <= TEST_POLICY.timeout_s + TEST_POLICY.kill_grace_s + 2


def test_workers_are_recycled_after_max_calls() -> None:
    policy = SandboxPolicy(max_calls_per_worker=2)
    with Sandbox(policy, workers=1, spares=1, _probes=True) as sb:
        pids = {sb._probe(PID).value for _ in range(5)}
    assert len(pids) == 3


def test_a_warm_worker_keeps_a_loaded_set_between_calls() -> None:
    fs = RawSet(f="STATE = []\n" + fn("STATE.append(1)\nreturn len(STATE)"))
    with Sandbox(TEST_POLICY, workers=1, spares=0) as sb:
        assert [sb.call(fs, "f").value for _ in range(3)] == [1, 2, 3]


def test_worker_environment_does_not_inherit_secrets(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with Sandbox(TEST_POLICY, workers=1, spares=0, _probes=True, _audit=False) as sb:
        value = sb._probe("import os\nresult = os.environ.get('OPENAI_API_KEY')").value
    assert value is None


def test_unknown_function_is_rejected_before_any_worker_starts() -> None:
    sb = Sandbox(TEST_POLICY)
    with pytest.raises(UnknownFunctionError):
        sb.call(one("return 1"), "g")
    assert not sb._all
    sb.close()


def test_call_rejects_non_json_arguments(sandbox) -> None:
    with pytest.raises(TypeError, match="JSON"):
        sandbox.call(one("return x", params="x"), "f", {"x": object()})


def test_closed_sandbox_refuses_calls() -> None:
    sb = Sandbox(TEST_POLICY, workers=1, spares=0)
    sb.close()
    with pytest.raises(RuntimeError, match="closed"):
        sb.call(one("return 1"), "f")


def test_close_kills_every_worker() -> None:
    with Sandbox(TEST_POLICY, workers=2, spares=1) as sb:
        sb.call(one("return 1"), "f")
        processes = [w.process for w in sb._all]
    assert len(processes) == 3 and all(p.poll() is not None for p in processes)


def test_probes_are_refused_unless_enabled(sandbox) -> None:
    with pytest.raises(RuntimeError, match="probes are disabled"):
        sandbox._probe("result = 1")


def test_sandbox_rejects_zero_workers() -> None:
    with pytest.raises(ValueError, match="workers"):
        Sandbox(TEST_POLICY, workers=0)
