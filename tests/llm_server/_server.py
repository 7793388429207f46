"""The HTTP server: routing, latency, fault injection, request recording."""

from __future__ import annotations

import copy
import os
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.llm_server._messages import TRANSIENT_FAULTS, Fault, Policy, Reply, Request, count_tokens, reply_text

__all__ = ["ScriptedLLM"]


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
    replied: dict[int, float] = field(default_factory=dict)  # request index -> time.time() after its reply
    stopping: threading.Event = field(default_factory=threading.Event)
    prompt_cache: bool = False
    prompts: list[str] = field(default_factory=list)  # what each earlier request sent, for prompt_cache

    def cached_prompt(self, req: Request) -> str | None:
        """With ``prompt_cache``: the longest start of this request's prompt that an earlier one sent
        (as a provider's prefix cache would serve it); call under ``lock``."""
        if not self.prompt_cache:
            return None
        text = json.dumps(req.tools) + json.dumps(req.messages)
        longest = max((len(os.path.commonprefix([text, earlier])) for earlier in self.prompts), default=0)
        self.prompts.append(text)
        return text[:longest]


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
        prompt_cache: report ``usage.prompt_tokens_details.cached_tokens`` like a provider's prefix
            cache: the tokens of the longest start of the request (tools, then messages, as JSON)
            that an earlier request sent.
    """

    def __init__(self, policy: Policy | None = None, *, latency_s: float = 0.0,
                 faults: Any = None, fault_rate: float = 0.0,
                 fault_kinds: Iterable[Fault] = TRANSIENT_FAULTS, seed: int = 0,
                 retry_after_s: float = 0.01, hang_s: float = 5.0,
                 model_ids: Sequence[str] = ("scripted-model",), prompt_cache: bool = False) -> None:
        self._state = _State(policy=policy or (lambda req: reply_text("OK")), latency_s=latency_s,
                             faults=faults, fault_rate=fault_rate, fault_kinds=tuple(fault_kinds),
                             seed=seed, retry_after_s=retry_after_s, hang_s=hang_s, prompt_cache=prompt_cache)
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
    def timings(self) -> list[tuple[float, float | None]]:
        """``(arrived, replied)`` of every chat request in arrival order, as ``time.time()`` values
        (comparable across processes); ``replied`` is ``None`` until the reply is sent, and stays
        ``None`` for a request given a fault."""
        with self._state.lock:
            return [(r.arrived, self._state.replied.get(r.index)) for r in self._state.requests]

    @property
    def policy_errors(self) -> list[BaseException]:
        with self._state.lock:
            return list(self._state.policy_errors)

    def reset(self) -> None:
        """Forget recorded requests and policy errors."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.policy_errors.clear()
            self._state.replied.clear()
            self._state.prompts.clear()

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

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a cancelled request: early rejection) is no error; others are printed."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


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


def _completion(req: Request, reply: Reply, fault: Fault | None, cached: str | None = None) -> dict[str, Any]:
    if reply.raw is not None:
        return copy.deepcopy(dict(reply.raw))
    calls = []
    for call_id, name, raw in reply.tool_calls:
        if fault is Fault.MALFORMED_ARGS:
            raw = raw[: max(1, len(raw) // 2)] + '"'
        elif fault is Fault.DOUBLE_ENCODED:
            raw = json.dumps(raw)
        calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}})
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if calls:
        message["tool_calls"] = calls
    prompt = count_tokens(json.dumps(req.messages)) + (count_tokens(json.dumps(req.tools)) if req.tools else 0)
    completion = count_tokens(reply.content or "") + sum(count_tokens(c[1] + c[2]) for c in reply.tool_calls)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": min(prompt, count_tokens(cached))}
    return {
        "id": f"chatcmpl-{req.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": reply.finish_reason or ("tool_calls" if calls else "stop")}],
        "usage": usage,
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
        arrived = time.time()
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
                          headers={k.lower(): v for k, v in self.headers.items()}, arrived=arrived)
            fault = _pick_fault(state, req)
            req = Request(index=req.index, body=body, headers=req.headers, fault=fault, arrived=arrived)
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
        else:
            with state.lock:
                cached = state.cached_prompt(req)
            self._send(200, _completion(req, reply, fault, cached), reply.headers)
        with state.lock:
            state.replied[req.index] = time.time()
