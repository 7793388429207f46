"""The scripted OpenAI-compatible server itself (raw HTTP, no client library)."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.llm_server import (
    REPLY_FIXTURES,
    Fault,
    Reply,
    Request,
    ScriptedLLM,
    first_then,
    reply_error,
    reply_raw,
    reply_text,
    reply_tool_call,
    scripted_turns,
    tool_solver,
)


def post(server: ScriptedLLM, body: dict[str, Any], timeout: float = 5.0) -> tuple[int, dict[str, str], Any]:
    url = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    try:
        conn.request("POST", f"{url.path}/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(data)
    finally:
        conn.close()


def chat(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


TOOLS = [{"type": "function", "function": {"name": "f", "description": "d",
                                           "parameters": {"type": "object", "properties": {}}}}]


def test_server_does_reply_with_policy_text_and_usage(llm_server: ScriptedLLM) -> None:
    llm_server.policy = lambda req: reply_text(f"echo {req.question}")
    status, _, body = post(llm_server, chat("ping"))
    assert status == 200
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo ping"}
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] > 0


def test_server_does_send_tool_calls_with_raw_arguments(llm_server: ScriptedLLM) -> None:
    llm_server.policy = lambda req: reply_tool_call("f", '{"x": ')
    _, _, body = post(llm_server, chat(tools=TOOLS))
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "f", "arguments": '{"x": '}
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_server_does_record_and_count_requests(llm_server: ScriptedLLM) -> None:
    post(llm_server, chat("one"))
    post(llm_server, chat("two", tools=TOOLS))
    assert llm_server.count == 2
    assert [r.question for r in llm_server.requests] == ["one", "two"]
    assert llm_server.requests[1].tool_names == ["f"]
    llm_server.reset()
    assert llm_server.count == 0


def test_server_does_list_models(llm_server: ScriptedLLM) -> None:
    url = urlsplit(llm_server.base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=5)
    conn.request("GET", f"{url.path}/models")
    body = json.loads(conn.getresponse().read())
    conn.close()
    assert [m["id"] for m in body["data"]] == ["scripted-model"]


@pytest.mark.parametrize(("fault", "status"), [(Fault.RATE_LIMIT, 429), (Fault.SERVER_ERROR, 500)])
def test_server_does_inject_http_faults(llm_server: ScriptedLLM, fault: Fault, status: int) -> None:
    llm_server.set_faults({0: fault})
    code, headers, body = post(llm_server, chat())
    assert code == status and "error" in body
    assert post(llm_server, chat())[0] == 200
    if fault is Fault.RATE_LIMIT:
        assert headers["retry-after-ms"] == "10"


def test_server_does_drop_connection_without_reply(llm_server: ScriptedLLM) -> None:
    llm_server.set_faults([Fault.DROP])
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(llm_server, chat())
    assert llm_server.requests[0].fault is Fault.DROP


def test_server_does_hang_on_timeout_fault(llm_server: ScriptedLLM) -> None:
    llm_server.set_faults(lambda req: Fault.TIMEOUT if req.index == 0 else None)
    with pytest.raises(TimeoutError):
        post(llm_server, chat(), timeout=0.2)


@pytest.mark.parametrize(("fault", "check"), [
    (Fault.MALFORMED_ARGS, lambda raw: pytest.raises(ValueError, json.loads, raw)),
    (Fault.DOUBLE_ENCODED, lambda raw: json.loads(json.loads(raw)) == {"x": 1} or pytest.fail(raw)),
])
def test_server_does_corrupt_tool_call_arguments(llm_server: ScriptedLLM, fault: Fault, check: Any) -> None:
    llm_server.policy = lambda req: reply_tool_call("f", {"x": 1})
    llm_server.set_faults({0: fault})
    _, _, body = post(llm_server, chat(tools=TOOLS))
    check(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])


def test_server_does_draw_seeded_faults_deterministically() -> None:
    def run() -> list[Fault | None]:
        with ScriptedLLM(fault_rate=0.5, seed=7, fault_kinds=(Fault.RATE_LIMIT, Fault.SERVER_ERROR)) as server:
            for _ in range(20):
                try:
                    post(server, chat(), timeout=0.2)
                except (OSError, TimeoutError):
                    pass
            return [r.fault for r in server.requests]

    first = run()
    assert first == run()
    assert 0 < sum(f is not None for f in first) < 20


def test_server_does_answer_policy_error_with_422(llm_server: ScriptedLLM) -> None:
    def broken(req: Request) -> str:
        raise ZeroDivisionError("division by zero")

    llm_server.policy = broken
    status, _, body = post(llm_server, chat())
    assert status == 422 and "ZeroDivisionError" in body["error"]["message"]
    assert isinstance(llm_server.policy_errors[0], ZeroDivisionError)


def test_server_does_send_scripted_error_reply(llm_server: ScriptedLLM) -> None:
    llm_server.policy = lambda req: reply_error(401, "bad key")
    assert post(llm_server, chat())[0] == 401


def test_server_does_serve_32_concurrent_requests_in_parallel(llm_server: ScriptedLLM) -> None:
    # Every reply waits until all 32 requests are being handled at once: only a server that serves
    # them in parallel gets past the barrier (a serial one times out), however slow the machine.
    everyone = threading.Barrier(32, timeout=60)

    def together(req: Request) -> str:
        everyone.wait()
        return "ok"

    llm_server.policy = together
    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(lambda i: post(llm_server, chat(str(i)), timeout=120)[0], range(32)))
    assert codes == [200] * 32 and llm_server.policy_errors == []


def test_request_does_track_turns_and_calls() -> None:
    req = Request(index=0, headers={}, body={"messages": [
        {"role": "system", "content": "Tools: solve"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "1", "type": "function", "function": {"name": "solve", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "1", "content": "42"},
    ]})
    assert (req.turn, req.called("solve"), req.called("other"), req.tool_results()) == (1, True, False, ["42"])
    assert req.offered("solve") and not req.offered("sol")


def test_tool_solver_does_call_then_answer_with_result() -> None:
    policy = tool_solver("f", lambda q: {"q": q})
    first = Request(index=0, headers={}, body={"messages": [{"role": "user", "content": "x"}], "tools": TOOLS})
    reply = policy(first)
    assert not isinstance(reply, str) and reply.tool_calls[0][1] == "f"
    second = Request(index=1, headers={}, body={"tools": TOOLS, "messages": first.messages + [
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "7"}]})
    answer = policy(second)
    assert not isinstance(answer, str) and answer.content is not None and "\\boxed{7}" in answer.content


def test_scripted_turns_does_follow_conversation_turns() -> None:
    policy = scripted_turns(["a", "b"])
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "q"}]
    assert policy(Request(index=0, headers={}, body={"messages": msgs})) == "a"
    msgs += [{"role": "assistant", "content": "a"}, {"role": "user", "content": "more"},
             {"role": "assistant", "content": "b"}]
    assert policy(Request(index=1, headers={}, body={"messages": msgs})) == "b"


def test_server_does_send_a_raw_body_verbatim_even_under_argument_faults(llm_server: ScriptedLLM) -> None:
    body = dict(REPLY_FIXTURES[0].replies[next(iter(REPLY_FIXTURES[0].replies))])
    llm_server.policy = lambda req: reply_raw(body)
    llm_server.set_faults({0: Fault.MALFORMED_ARGS})
    assert post(llm_server, chat())[2] == body


def test_server_does_send_reasoning_as_reasoning_content(llm_server: ScriptedLLM) -> None:
    llm_server.policy = lambda req: Reply(content="4", reasoning="2+2")
    message = post(llm_server, chat())[2]["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("4", "2+2")


def test_first_then_does_reply_first_once_then_follow_the_policy() -> None:
    policy = first_then("first", lambda req: "then")
    req = Request(index=0, headers={}, body={"messages": [{"role": "user", "content": "q"}]})
    assert [policy(req) for _ in range(3)] == ["first", "then", "then"]
