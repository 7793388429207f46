"""A scripted OpenAI-compatible LLM server on 127.0.0.1 for tests and benches.

It is a real HTTP server (stdlib ``ThreadingHTTPServer``, one daemon thread per
connection, HTTP/1.1 keep-alive), so the real ``openai`` SDK talks to it exactly
as it would to a provider. Endpoints: ``POST /v1/chat/completions``
(non-streaming, ``tools``/``tool_calls``, ``usage``) and ``GET /v1/models``.

Outside pytest (bench scripts)::

    from tests.llm_server import ScriptedLLM, reply_text
    with ScriptedLLM(lambda req: reply_text(r"\\boxed{4}"), latency_s=0.2) as llm:
        client = LLMClient(LLMConfig(model="m", base_url=llm.base_url))

In pytest use the ``llm_server`` fixture (``tests/conftest.py``): a started
server whose ``policy``, ``latency_s`` and faults tests may set.

Policy API
----------
A *policy* is any callable ``policy(req: Request) -> Reply | str``. It runs in
the server's handler thread once per (non-faulted) chat request and decides
the reply; a ``str`` is shorthand for ``reply_text(str)``. ``Request`` gives:

- ``req.body`` (the parsed JSON), ``req.model``, ``req.messages``, ``req.tools``
  (the ``tools`` list or ``[]``), ``req.tool_names``, ``req.index`` (0-based
  arrival order), ``req.headers``;
- ``req.question`` (first user message), ``req.system`` (system text, ``""``
  if none), ``req.last`` (last message), ``req.turn`` (number of assistant
  messages so far = which turn of the conversation this is);
- ``req.offered(name)``: the tool is in ``tools`` (native) or named as a word in
  the system prompt (ReAct / JSON-mode prompts);
- ``req.called(name)``: an earlier assistant message called it (native
  ``tool_calls``, or an ``Action: name`` line in ReAct text);
- ``req.tool_results()``: the ``role: tool`` message contents, in order;
  ``req.observation()``: text after ``Observation:`` in the last user message.

Build replies with ``reply_text(content)``, ``reply_tool_call(name, args)``
(``args`` a dict is JSON-encoded; a ``str`` is sent verbatim, e.g. malformed
JSON), ``reply_tool_calls([(name, args), ...])``, ``reply_error(status,
message, headers=...)``. Ready-made policies: ``answer_with(fn)``,
``scripted_turns(replies)``, ``tool_solver(tool, args_fn)``,
``react_solver(tool, args_fn)``. If a policy raises, the server answers 422
``policy error: ...`` (not retried by clients, so the test fails loudly) and
keeps the exception in ``server.policy_errors``.

Faults
------
A fault replaces or corrupts the reply of one request: ``RATE_LIMIT`` (429 with
``Retry-After``/``retry-after-ms`` = ``retry_after_s``), ``SERVER_ERROR`` (500),
``DROP`` (connection closed without a response), ``TIMEOUT`` (no reply for
``hang_s``, then close), ``MALFORMED_ARGS`` (tool-call arguments cut to invalid
JSON) and ``DOUBLE_ENCODED`` (arguments JSON-encoded twice; the last two only
change replies that have tool calls). Choose them with ``faults=`` (a mapping
``{request_index: Fault}``, a sequence indexed by request index, or a callable
``(Request) -> Fault | None``) and/or ``fault_rate=`` with ``fault_kinds`` and
``seed`` (deterministic per request index). Every request is recorded in
``server.requests`` (faulted ones too, with ``req.fault`` set) and counted in
``server.count``; ``server.reset()`` clears both.
"""

from __future__ import annotations

import enum
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Fault",
    "Policy",
    "Reply",
    "Request",
    "ScriptedLLM",
    "answer_with",
    "react_solver",
    "reply_error",
    "reply_text",
    "reply_tool_call",
    "reply_tool_calls",
    "scripted_turns",
    "tool_solver",
]


class Fault(enum.Enum):
    """What goes wrong with one request."""

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    DROP = "drop"
    TIMEOUT = "timeout"
    MALFORMED_ARGS = "malformed_args"
    DOUBLE_ENCODED = "double_encoded"


TRANSIENT_FAULTS = (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.TIMEOUT)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server sends back: a chat completion or an HTTP error."""

    content: str | None = None
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # (id, name, raw arguments)
    status: int = 200
    error: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    finish_reason: str | None = None


def reply_text(content: str) -> Reply:
    """A plain assistant message (no tool calls): the agent's final answer."""
    return Reply(content=content)


def _args_text(args: Mapping[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(dict(args))


def reply_tool_call(name: str, args: Mapping[str, Any] | str, *, content: str | None = None,
                    call_id: str | None = None) -> Reply:
    """One native tool call; a ``str`` ``args`` is sent verbatim (raw JSON text)."""
    return Reply(content=content, tool_calls=((call_id or "call_0", name, _args_text(args)),))


def reply_tool_calls(calls: Iterable[tuple[str, Mapping[str, Any] | str]]) -> Reply:
    """Several native tool calls in one assistant message."""
    return Reply(tool_calls=tuple((f"call_{i}", n, _args_text(a)) for i, (n, a) in enumerate(calls)))


def reply_error(status: int, message: str = "scripted error",
                headers: Mapping[str, str] | None = None) -> Reply:
    """An HTTP error with an OpenAI-style ``{"error": {...}}`` body."""
    return Reply(status=status, error=message, headers=tuple((headers or {}).items()))


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed chat-completion request, as a policy sees it."""

    index: int
    body: dict[str, Any]
    headers: dict[str, str]
    fault: Fault | None = None

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.tools]

    @property
    def system(self) -> str:
        return "\n".join(_text(m) for m in self.messages if m.get("role") in ("system", "developer"))

    @property
    def question(self) -> str:
        return next((_text(m) for m in self.messages if m.get("role") == "user"), "")

    @property
    def last(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}

    @property
    def turn(self) -> int:
        return sum(1 for m in self.messages if m.get("role") == "assistant")

    def offered(self, name: str) -> bool:
        if self.tools:
            return name in self.tool_names
        return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", self.system) is not None

    def called(self, name: str) -> bool:
        for m in self.messages:
            if m.get("role") != "assistant":
                continue
            if any(c.get("function", {}).get("name") == name for c in m.get("tool_calls") or []):
                return True
            if re.search(rf"Action\s*\d*\s*:\s*`?{re.escape(name)}\b", _text(m)):
                return True
            if re.search(rf'"tool"\s*:\s*"{re.escape(name)}"', _text(m)):
                return True
        return False

    def tool_results(self) -> list[str]:
        return [_text(m) for m in self.messages if m.get("role") == "tool"]

    def observation(self) -> str | None:
        if self.last.get("role") != "user":
            return None
        m = re.search(r"Observation\s*\d*\s*:\s*(.*)", _text(self.last), re.S)
        return m.group(1).strip() if m else None


Policy = Callable[[Request], "Reply | str"]


def _text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def count_tokens(text: str) -> int:
    """A deterministic stand-in tokenizer: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


# ---------------------------------------------------------------- policies


def answer_with(fn: Callable[[str], object]) -> Policy:
    """Answer ``\\boxed{fn(question)}`` at once, without tools."""
    return lambda req: reply_text(f"The answer is \\boxed{{{fn(req.question)}}}.")


def scripted_turns(replies: Sequence[Reply | str]) -> Policy:
    """Reply ``replies[req.turn]`` (the last one again once they run out)."""
    if not replies:
        raise ValueError("scripted_turns needs at least one reply")
    return lambda req: replies[min(req.turn, len(replies) - 1)]


def _result_value(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()
    return value if isinstance(value, str) else json.dumps(value)


def tool_solver(tool: str, args_fn: Callable[[str], Mapping[str, Any] | str], *,
                fallback: str = "unknown") -> Policy:
    """Native tools: call ``tool`` with ``args_fn(question)`` (a dict, or raw argument
    text) when offered and not yet called; after its result, answer
    ``\\boxed{<result>}``; when it is not offered, answer ``\\boxed{<fallback>}``."""

    def policy(req: Request) -> Reply:
        results = req.tool_results()
        if results and req.called(tool):
            return reply_text(f"The result is \\boxed{{{_result_value(results[-1])}}}.")
        if req.offered(tool) and not req.called(tool):
            return reply_tool_call(tool, args_fn(req.question), call_id=f"call_{req.turn}")
        return reply_text(f"I cannot compute this: \\boxed{{{fallback}}}")

    return policy


def react_solver(tool: str, args_fn: Callable[[str], Mapping[str, Any]], *,
                 fallback: str = "unknown") -> Policy:
    """ReAct text variant of ``tool_solver``: ``Action: tool`` / ``Action Input: {json}``,
    then ``Final Answer: \\boxed{<observation>}``."""

    def policy(req: Request) -> str:
        obs = req.observation()
        if obs is not None and req.called(tool):
            return f"Thought: I have the result.\nFinal Answer: \\boxed{{{_result_value(obs)}}}"
        if req.offered(tool) and not req.called(tool):
            args = json.dumps(dict(args_fn(req.question)))
            return f"Thought: I should use {tool}.\nAction: {tool}\nAction Input: {args}"
        return f"Thought: no tool helps.\nFinal Answer: \\boxed{{{fallback}}}"

    return policy


# ---------------------------------------------------------------- server


@dataclass
class _State:
    policy: Policy
    latency_s: float
    faults: Mapping[int, Fault] | Sequence[Fault | None] | Callable[[Request], Fault | None] | None
    fault_rate: float
    fault_kinds: tuple[Fault, ...]
    seed: int
    retry_after_s: float
    hang_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Request] = field(default_factory=list)
    policy_errors: list[BaseException] = field(default_factory=list)
    model_requests: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)


class ScriptedLLM:
    """The server. Start/stop with ``start()``/``stop()`` or as a context manager.

    Args:
        policy: decides replies (see the module docstring).
        latency_s: sleep before each chat reply (``0`` for none).
        faults: explicit fault schedule (mapping or sequence by request index,
            or a callable of the ``Request``).
        fault_rate: probability that a request gets a fault from ``fault_kinds``,
            drawn from ``random.Random(f"{seed}:{index}")``.
        retry_after_s: the delay advertised by ``RATE_LIMIT`` replies.
        hang_s: how long ``TIMEOUT`` keeps the client waiting.
        model_ids: ids listed by ``GET /v1/models``.
    """

    def __init__(self, policy: Policy | None = None, *, latency_s: float = 0.0,
                 faults: Any = None, fault_rate: float = 0.0,
                 fault_kinds: Iterable[Fault] = TRANSIENT_FAULTS, seed: int = 0,
                 retry_after_s: float = 0.01, hang_s: float = 5.0,
                 model_ids: Sequence[str] = ("scripted-model",)) -> None:
        self._state = _State(policy=policy or (lambda req: reply_text("OK")), latency_s=latency_s,
                             faults=faults, fault_rate=fault_rate, fault_kinds=tuple(fault_kinds),
                             seed=seed, retry_after_s=retry_after_s, hang_s=hang_s)
        self.model_ids = tuple(model_ids)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def policy(self) -> Policy:
        """The reply policy; settable while the server runs."""
        return self._state.policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        self._state.policy = policy

    @property
    def latency_s(self) -> float:
        """Seconds each chat reply is delayed; settable while the server runs."""
        return self._state.latency_s

    @latency_s.setter
    def latency_s(self, latency_s: float) -> None:
        self._state.latency_s = latency_s

    def set_faults(self, faults: Any = None, *, rate: float = 0.0,
                   kinds: Iterable[Fault] = TRANSIENT_FAULTS, seed: int = 0) -> None:
        """Replace the fault schedule and rate (``set_faults()`` turns faults off)."""
        with self._state.lock:
            self._state.faults, self._state.fault_rate = faults, rate
            self._state.fault_kinds, self._state.seed = tuple(kinds), seed

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("ScriptedLLM is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[Request]:
        """Every chat request received so far (a copy), in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def count(self) -> int:
        """How many chat requests arrived (faulted ones included)."""
        with self._state.lock:
            return len(self._state.requests)

    @property
    def policy_errors(self) -> list[BaseException]:
        with self._state.lock:
            return list(self._state.policy_errors)

    def reset(self) -> None:
        """Forget recorded requests and policy errors."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.policy_errors.clear()

    def start(self) -> ScriptedLLM:
        handler = type("_BoundHandler", (_Handler,), {"state": self._state, "model_ids": self.model_ids})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        self._state.stopping.clear()
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True


def _pick_fault(state: _State, req: Request) -> Fault | None:
    faults = state.faults
    if callable(faults):
        fault = faults(req)
        if fault is not None:
            return fault
    elif isinstance(faults, Mapping):
        if req.index in faults:
            return faults[req.index]
    elif faults is not None and req.index < len(faults) and faults[req.index] is not None:
        return faults[req.index]
    if state.fault_rate > 0:
        rng = random.Random(f"{state.seed}:{req.index}")
        if rng.random() < state.fault_rate:
            return rng.choice(state.fault_kinds)
    return None


def _completion(req: Request, reply: Reply, fault: Fault | None) -> dict[str, Any]:
    calls = []
    for call_id, name, raw in reply.tool_calls:
        if fault is Fault.MALFORMED_ARGS:
            raw = raw[: max(1, len(raw) // 2)] + '"'
        elif fault is Fault.DOUBLE_ENCODED:
            raw = json.dumps(raw)
        calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}})
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if calls:
        message["tool_calls"] = calls
    prompt = count_tokens(json.dumps(req.messages)) + (count_tokens(json.dumps(req.tools)) if req.tools else 0)
    completion = count_tokens(reply.content or "") + sum(count_tokens(c[1] + c[2]) for c in reply.tool_calls)
    return {
        "id": f"chatcmpl-{req.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": reply.finish_reason or ("tool_calls" if calls else "stop")}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms ACK stalls
    state: _State
    model_ids: tuple[str, ...]

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def _send(self, status: int, body: object, headers: Iterable[tuple[str, str]] = ()) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(status, "server_error")
        self._send(status, {"error": {"message": message, "type": kind, "code": None}}, headers)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            with self.state.lock:
                self.state.model_requests += 1
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fnforge-tests"}
                    for m in self.model_ids]
            self._send(200, {"object": "list", "data": data})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._error(400, "request body is not JSON")
            return
        state = self.state
        with state.lock:
            req = Request(index=len(state.requests), body=body,
                          headers={k.lower(): v for k, v in self.headers.items()})
            fault = _pick_fault(state, req)
            req = Request(index=req.index, body=body, headers=req.headers, fault=fault)
            state.requests.append(req)
            latency, policy = state.latency_s, state.policy
            retry_after, hang = state.retry_after_s, state.hang_s
        if latency > 0:
            time.sleep(latency)
        if fault is Fault.TIMEOUT:
            state.stopping.wait(hang)
            self.close_connection = True
            return
        if fault is Fault.DROP:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is Fault.RATE_LIMIT:
            self._error(429, "rate limited (scripted)", [
                ("Retry-After", str(max(0, round(retry_after)))),
                ("retry-after-ms", str(int(retry_after * 1000)))])
            return
        if fault is Fault.SERVER_ERROR:
            self._error(500, "internal error (scripted)")
            return
        try:
            reply = policy(req)
            if isinstance(reply, str):
                reply = reply_text(reply)
        except Exception as exc:  # a broken policy must fail the test loudly, not hang it
            with state.lock:
                state.policy_errors.append(exc)
            self._error(422, f"policy error: {type(exc).__name__}: {exc}")
            return
        if reply.status != 200:
            self._error(reply.status, reply.error or "error", reply.headers)
            return
        self._send(200, _completion(req, reply, fault), reply.headers)
