"""A scripted OpenAI-compatible LLM server on 127.0.0.1 for tests and benches.

It is a real HTTP server (stdlib ``ThreadingHTTPServer``, one daemon thread per
connection, HTTP/1.1 keep-alive), so the real ``openai`` SDK talks to it exactly
as it would to a provider. Endpoints: ``POST /v1/chat/completions``
(non-streaming, ``tools``/``tool_calls``, ``usage``) and ``GET /v1/models``.

Outside pytest (bench scripts)::

    from tests.llm_server import ScriptedLLM, reply_text
    with ScriptedLLM(lambda req: reply_text(r"\boxed{4}"), latency_s=0.2) as llm:
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
message, headers=...)``, ``Reply(..., reasoning=...)`` (sent as
``reasoning_content``) and ``reply_raw(body)`` (a whole response body sent
verbatim). Ready-made policies: ``answer_with(fn)``,
``scripted_turns(replies)``, ``tool_solver(tool, args_fn)``,
``react_solver(tool, args_fn)``, ``first_then(reply, policy)``.

Recorded replies
----------------
``fixtures/replies/*.json`` are response bodies shaped like what real providers
and servers send (vLLM tool and reasoning parsers, Ollama, llama.cpp, LM
Studio, Azure, OpenAI), each naming its source; ``REPLY_FIXTURES`` loads them
(:class:`ReplyFixture`): one body per consumer (``"tool"``, ``"react"``,
``"optimizer"``) and what fnforge must make of it (:class:`Expectation`). If a policy raises, the server answers 422
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

from tests.llm_server._fixtures import REPLY_FIXTURES, Expectation, ReplyFixture, load_reply_fixtures
from tests.llm_server._messages import Fault, Policy, Reply, Request, TRANSIENT_FAULTS, count_tokens, reply_error, reply_raw, reply_text, reply_tool_call, reply_tool_calls
from tests.llm_server._policies import InFlight, answer_with, first_then, react_solver, scripted_turns, tool_solver
from tests.llm_server._server import ScriptedLLM

__all__ = [
    "Expectation",
    "Fault",
    "InFlight",
    "REPLY_FIXTURES",
    "Policy",
    "Reply",
    "ReplyFixture",
    "Request",
    "ScriptedLLM",
    "TRANSIENT_FAULTS",
    "answer_with",
    "count_tokens",
    "first_then",
    "load_reply_fixtures",
    "react_solver",
    "reply_error",
    "reply_raw",
    "reply_text",
    "reply_tool_call",
    "reply_tool_calls",
    "scripted_turns",
    "tool_solver",
]
