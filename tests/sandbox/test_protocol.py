"""The parent's side of the protocol: a hostile worker never breaks the parent or crosses calls.

A worker whose guards fell can write anything on its reply pipe (the probes
here run with real builtins and the audit hook off and write straight to
``PROTOCOL_FD``). Whatever it writes, the parent raises a ``SandboxError``
for that call (or, for a well-formed forgery of the current call's own id,
takes it as that call's value: the function could have returned it), and
the next call gets its own, correct answer.
"""

from __future__ import annotations

import json
import os
import struct
import time

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnforge.functions import JSONInputError, load_json
from fnforge.sandbox import (CallResult, Sandbox, SandboxCrash, SandboxError, SandboxPolicy, SandboxTimeout)
from fnforge.sandbox.boundary._encoder import Encoder
from fnforge.sandbox.boundary._protocol import Broken, Overrun, read_message, write_message
from tests.sandbox.conftest import RawSet, fn, one

FORGE = '''
import os, struct, sys
def send(body):
    os.write(PROTOCOL_FD, struct.pack(">I", len(body)) + body)
frame = sys._getframe()
while frame is not None and not hasattr(frame.f_locals.get("self"), "request_id"):
    frame = frame.f_back
RID = frame.f_locals["self"].request_id
'''
LIGHT = SandboxPolicy(allowed_modules=("math",), timeout_s=0.5, kill_grace_s=0.25)


def forge(body: str) -> str:
    return FORGE + body + "\nresult = 1\n"


def answers_next_call(sb: Sandbox) -> bool:
    return sb.call(one("return 5"), "f").value == 5


@pytest.mark.parametrize(("name", "body"), [
    ("deep-nesting", "send(b'[' * 100_000)"),
    ("deep-nesting-closed", "send(b'[' * 5_000 + b']' * 5_000)"),
    ("another-request", "send(json.dumps({'id': 'not-this-one', 'ok': True, 'value': 666}).encode())"),
    ("no-id", "send(b'{\"ok\": true, \"value\": 666}')"),
    ("oversized-header", "os.write(PROTOCOL_FD, struct.pack('>I', 2**31))"),
    ("not-utf8", "send(b'\\xff\\xfe')"),
    ("nan", "send(('{\"id\": \"%s\", \"ok\": true, \"value\": NaN}' % RID).encode())"),
    ("overflowing-number", "send(('{\"id\": \"%s\", \"ok\": true, \"value\": 1e999}' % RID).encode())"),
    ("lone-surrogate", "send(('{\"id\": \"%s\", \"ok\": true, \"value\": \"\\\\ud800\"}' % RID).encode())"),
    ("ok-not-bool", "send(json.dumps({'id': RID, 'ok': 'yes', 'value': 666}).encode())"),
    ("called-outside-set", "send(json.dumps({'id': RID, 'ok': True, 'value': 6, 'called': ['os']}).encode())"),
    ("unknown-error-kind", "send(json.dumps({'id': RID, 'ok': False, 'error': {'kind': 'pwned'}}).encode())"),
    ("error-field-types", "send(json.dumps({'id': RID, 'ok': False, 'error': {'kind': 'check', 'problems': 3}}).encode())"),
])
def test_a_forged_reply_is_a_crash_and_the_next_call_gets_its_own_answer(bare_sandbox, name: str, body: str) -> None:
    with pytest.raises(SandboxCrash):
        bare_sandbox._probe(forge("import json\n" + body))
    assert answers_next_call(bare_sandbox)


def test_a_well_formed_forgery_answers_only_its_own_call(bare_sandbox) -> None:
    code = forge("import json\nsend(json.dumps({'id': RID, 'ok': True, 'value': 666, 'retire': False}).encode())")
    outcome = bare_sandbox._probe(code).value
    assert outcome in (666, 1)  # what the escaped function chose to answer for itself
    assert [bare_sandbox.call(one("return 5"), "f").value for _ in range(3)] == [5, 5, 5]


def test_a_truncated_reply_is_a_hard_timeout_and_the_next_call_gets_its_own_answer() -> None:
    with Sandbox(LIGHT, workers=1, spares=1, _probes=True, _audit=False) as sb:
        with pytest.raises(SandboxTimeout) as caught:
            sb._probe(forge("os.write(PROTOCOL_FD, struct.pack('>I', 1000) + b'{')\nimport time\ntime.sleep(5)"))
        assert caught.value.hard and answers_next_call(sb)


@pytest.fixture(scope="module")
def fuzzed() -> Sandbox:
    with Sandbox(LIGHT, workers=1, spares=1, _probes=True, _audit=False) as sb:
        yield sb


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=48),
                 st.binary(max_size=40).map(lambda b: struct.pack(">I", len(b)) + b),
                 st.binary(max_size=40).map(lambda b: struct.pack(">I", len(b) + 7) + b)))
def test_random_bytes_from_a_worker_never_break_the_parent_or_cross_calls(fuzzed: Sandbox, data: bytes) -> None:
    code = f"import os\nos.write(PROTOCOL_FD, {data!r}) if {bool(data)} else None\nresult = 1"
    try:
        outcome: object = fuzzed._probe(code)
    except SandboxError as exc:
        outcome = exc
    assert (isinstance(outcome, CallResult) and outcome.value == 1) if not data else isinstance(outcome, SandboxError)
    assert answers_next_call(fuzzed)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_read_message_raises_only_protocol_errors_for_any_bytes(data: bytes) -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
        os.close(write_end)
        write_end = -1
        try:
            message = read_message(read_end, limit=1 << 16, deadline=time.monotonic() + 1)
        except (Broken, Overrun):
            return
        assert isinstance(message, dict)
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_bounded_loader_raises_only_its_own_error_for_any_bytes(data: bytes) -> None:
    try:
        load_json(data, max_bytes=1 << 16, max_depth=8)
    except JSONInputError:
        pass


def test_a_large_non_ascii_result_fits_the_reply_limit(sandbox) -> None:
    result = sandbox.call(one("return '字' * 500_000 + '😀' * 200_000"), "f")
    assert (len(result.value), result.truncated) == (700_000, False)


def test_write_message_escapes_lone_surrogates_for_the_wire() -> None:
    read_end, write_end = os.pipe()
    try:
        write_message(write_end, {"text": "\ud800"})
        (size,) = struct.unpack(">I", os.read(read_end, 4))
        assert os.read(read_end, size) == b'{"text":"\\ud800"}'
    finally:
        os.close(read_end)
        os.close(write_end)


# --- what the worker sends is always encodable -----------------------------------------------------


@pytest.mark.parametrize(("body", "expected"), [
    ("return '\\ud800'", "\\ud800"),
    ("return {'\\udfff': 1}", {"\\udfff": 1}),
    ("return ['ok', 'x\\ud83d']", ["ok", "x\\ud83d"]),
])
def test_lone_surrogates_in_a_result_are_sent_as_visible_escapes(sandbox, body: str, expected: object) -> None:
    assert sandbox.call(one(body), "f").value == expected
    assert answers_next_call(sandbox)


def test_lone_surrogates_in_printed_output_and_messages_are_sent_as_visible_escapes(sandbox) -> None:
    assert sandbox.call(one("print('a\\ud800b')\nreturn 1"), "f").stdout == "a\\ud800b\n"
    with pytest.raises(SandboxError) as caught:
        sandbox.call(one("raise ValueError('bad \\udfff')"), "f")
    assert "bad \\udfff" in str(caught.value)
    assert answers_next_call(sandbox)


@pytest.mark.parametrize(("expression", "expected"), [
    ("np.longdouble(1.5)", "1.5"),
    ("np.clongdouble(1 + 2j)", "(1+2j)"),
    ("np.datetime64('2024-01-01')", "2024-01-01"),
    ("np.float16(0.5)", 0.5),
    ("np.array([np.longdouble(2.5)])", ["2.5"]),
    ("np.int8(-3)", -3),
])
def test_odd_numpy_scalars_are_encoded_safely(sandbox, expression: str, expected: object) -> None:
    assert sandbox.call(one(f"import numpy as np\nreturn {expression}"), "f").value == expected


def test_encoder_describes_numpy_scalars_without_a_python_twin() -> None:
    encoder = Encoder(max_chars=1_000, max_depth=5)
    encoder.bind(numpy=numpy)
    assert encoder.encode([numpy.longdouble(1.5), numpy.void(b"ab")]) == (["1.5", "b'ab'"], False)


# --- time: the call's own, never the worker's start-up -------------------------------------------


def test_worker_start_up_does_not_count_against_the_first_call() -> None:
    policy = SandboxPolicy(timeout_s=0.5)  # a cold start with numpy and sympy takes longer than this
    with Sandbox(policy, workers=1, spares=0) as sb:
        started = time.perf_counter()
        result = sb.call(one("return 1"), "f")
        wall = time.perf_counter() - started
    assert result.value == 1 and result.duration_s < wall


@pytest.mark.parametrize("kwargs", [
    {"x": json.loads("[" * 100 + "]" * 100)},
    {"x": float("nan")},
    {"x": float("inf")},
    {"x": "\ud800"},
])
def test_call_rejects_arguments_that_are_not_bounded_json(sandbox, kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="JSON"):
        sandbox.call(one("return 1", params="x"), "f", kwargs)


# --- which functions a call used --------------------------------------------------------------------


def test_call_result_names_the_set_functions_the_call_used(sandbox) -> None:
    fs = RawSet(double=fn("return 2 * x", params="x", name="double"),
                quad=fn("return double(double(x))", params="x", name="quad"),
                unused=fn("return 0", name="unused"))
    assert sandbox.call(fs, "quad", {"x": 1}).called == ("double", "quad")


def test_call_result_leaves_out_functions_that_raised(sandbox) -> None:
    fs = RawSet(fail=fn("raise ValueError('no')", name="fail"),
                outer=fn("try:\n    fail()\nexcept ValueError:\n    pass\nreturn 1", name="outer"))
    assert sandbox.call(fs, "outer").called == ("outer",)


def test_call_result_names_the_functions_a_snippet_called(sandbox) -> None:
    fs = RawSet(double=fn("return 2 * x", params="x", name="double"), half=fn("return x / 2", params="x", name="half"),
                other=fn("return 0", name="other"))
    result = sandbox.run_code(fs, "print(half(double(3)))\nsorted(map(double, [1, 2]))")
    assert (result.called, result.value) == (("double", "half"), [2, 4])


def test_call_result_starts_empty_for_every_call(sandbox) -> None:
    fs = RawSet(double=fn("return 2 * x", params="x", name="double"))
    sandbox.run_code(fs, "double(1)")
    assert sandbox.run_code(fs, "1 + 1").called == ()
