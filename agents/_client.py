"""The LLM client: ``openai.AsyncOpenAI`` with our retries, concurrency limit, cache and costs.

This is the only module that imports ``openai``, and it does so when a client
opens, not when it is imported: ``import fnforge.agents`` (and every
``fnforge CMD --help``) stays free of the SDK's 0.5 s import. The SDK's own
retries are off (``max_retries=0``): this client retries 429, 5xx, timeouts,
dropped connections and unreadable replies with exponential backoff and
jitter, honouring ``Retry-After``, and releases its concurrency slot while it
waits.

A request is the SDK's documented low-level ``post("/chat/completions",
body=..., cast_to=str)``: the body is already the JSON we mean to send, and
the typed ``chat.completions.create`` would walk it through the SDK's
parameter transform (about 1.7 ms of CPU per request, most of the client's
cost per task) only to hand back the same JSON.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast  # Any: JSON bodies; the SDK's loose objects

from fnforge.agents._cache import ResponseCache, request_key
from fnforge.agents._exceptions import LLMContextExceeded, LLMRejected, LLMUnavailable
from fnforge.agents._jsonmode import json_mode_messages, parse_json_reply
from fnforge.agents._records import ClientStats, Completion, LLMConfig, ToolCall, Usage
from fnforge.agents._replies import read_message

if TYPE_CHECKING:
    import openai

__all__ = ["LLMClient"]

NO_API_KEY = "fnforge-no-api-key"
"""Sent when ``LLMConfig.api_key`` is ``None`` (local servers ignore keys; the SDK
would otherwise read ``OPENAI_API_KEY`` itself)."""

_RETRY_AFTER_MAX_S = 300.0
# How providers say "the conversation does not fit the model's context" (codes, types and messages):
# OpenAI/Azure/Groq, llama.cpp, OpenAI's per-string cap, vLLM/DeepSeek/Mistral/OpenRouter, llama.cpp
# and Ollama logs, vLLM's prompt check, llama-cpp-python, LM Studio, Gemini, Anthropic-compatible.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error", "string_above_max_length",
                            "request_too_large"})
_CONTEXT_MESSAGE = re.compile(
    r"maximum context length|context[ _-]length[ _-]exceeded|exceeds? (?:the )?(?:available |maximum )?"
    r"context (?:length|size|window)|longer than the maximum model length|exceeds? context window"
    r"|context length of only|exceeds the maximum number of tokens|prompt is too long", re.IGNORECASE)
_CONTEXT_STATUSES = frozenset({400, 413, 422, 500})
_NOT_FOUND_STATUSES = frozenset({404, 405, 501})  # what a web server without the API answers a POST with


class _ToolsUnsupported(Exception):
    """The provider rejected ``tools`` (HTTP 400): switch to JSON mode."""


class _Transient(Exception):
    """One attempt failed in a way a retry may fix."""

    def __init__(self, reason: str, status: int | None, retry_after: float | None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


class LLMClient:
    """An async chat-completion client; open it with ``async with``.

    Example (async or needs a provider, so shown, not run)::

        async with LLMClient(LLMConfig(model="m", base_url=url)) as client:
            reply = await client.complete([{"role": "user", "content": "2+2?"}])
    """

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._sdk: openai.AsyncOpenAI | None = None
        self._cache: ResponseCache | None = None
        self._sem: asyncio.Semaphore | None = None
        self._opened = self._closed = False
        self._json_mode = config.tools_mode == "json"
        self._inflight: dict[str, asyncio.Future[tuple[dict[str, Any], int]]] = {}
        self._rng = random.Random()
        self._counts = dict(requests=0, retries=0, failures=0, cache_hits=0,
                            prompt_tokens=0, completion_tokens=0, cached_prompt_tokens=0, unmetered=0)
        self._cost = 0.0

    async def __aenter__(self) -> LLMClient:
        if self._opened:
            raise RuntimeError("an LLMClient can be opened only once")
        self._opened = True
        cfg = self.config
        self._cache = ResponseCache(cfg.cache_path) if cfg.cache_path is not None else None
        self._sem = asyncio.Semaphore(cfg.concurrency)
        return self

    def _connection(self) -> openai.AsyncOpenAI:
        """The SDK client, made (and the SDK imported: 0.5 s) by the first request: what a caller
        starts between opening this client and its first request (evaluate's warm-ups, a fully
        cached run) never waits for it."""
        if self._sdk is None:
            import openai  # here, not at the top: see the module docstring

            cfg = self.config
            self._sdk = openai.AsyncOpenAI(api_key=cfg.api_key or NO_API_KEY, base_url=cfg.base_url,
                                           timeout=cfg.timeout_s, max_retries=0)
        return self._sdk

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections and the cache file."""
        self._closed = True
        if self._sdk is not None:
            await self._sdk.close()
        if self._cache is not None:
            self._cache.close()

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters."""
        return ClientStats(**self._counts, cost_usd=self._cost, json_mode=self._json_mode)

    def cost(self, usage: Usage, model: str | None = None) -> float:
        """US dollars for ``usage``: the price of the configured model, else of ``model``
        (the name the provider reported), else 0."""
        prices = self.config.prices
        price_in, price_out = prices.get(self.config.model) or prices.get(model or "") or (0.0, 0.0)
        return (usage.prompt_tokens * price_in + usage.completion_tokens * price_out) / 1e6

    async def complete(self, messages: Sequence[Mapping[str, Any]],
                       tools: Sequence[Mapping[str, Any]] | None = None, *,
                       rollout: int | str = 0, cache: bool = True) -> Completion:
        """One chat completion.

        Args:
            messages: the conversation (OpenAI message dicts).
            tools: OpenAI ``tools`` entries, or ``None``.
            rollout: sample index or name (e.g. ``"run/step/call"``); distinct values never
                share a cache entry.
            cache: ``False`` bypasses the cache (the reply is still stored).

        Returns:
            The reply; tool calls keep their raw argument strings.

        Raises:
            LLMUnavailable: transient failures outlasted ``max_retries``.
            LLMContextExceeded: the provider refused the conversation as too long for the model.
            LLMRejected: the provider refused the request.
            LLMCacheError: the cache file cannot be read or written.
        """
        if not self._opened or self._closed:
            raise RuntimeError("LLMClient is not open; use `async with LLMClient(config) as client`")
        started = time.perf_counter()
        while True:
            json_mode = bool(tools) and self._json_mode
            body = self._body(messages, tools, json_mode)
            try:
                data, retries, cached = await self._fetch(body, bool(tools), rollout, cache)
            except _ToolsUnsupported:
                self._json_mode = True
                continue
            names = [str((t.get("function") or {}).get("name", "")) for t in tools or ()]
            return self._completion(data, json_mode, names, retries, cached, time.perf_counter() - started)

    def _body(self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None,
              json_mode: bool) -> dict[str, Any]:
        cfg = self.config
        msgs = [dict(m) for m in messages]
        body: dict[str, Any] = {"model": cfg.model, "temperature": cfg.temperature}
        if tools and json_mode:
            msgs = json_mode_messages(msgs, [dict(t) for t in tools])
        elif tools:
            body["tools"] = [dict(t) for t in tools]
        body["messages"] = msgs
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        if cfg.max_tokens is not None:
            body["max_tokens"] = cfg.max_tokens
        return body

    async def _fetch(self, body: dict[str, Any], has_tools: bool, rollout: int | str,
                     use_cache: bool) -> tuple[dict[str, Any], int, bool]:
        cache = self._cache if use_cache else None
        key = request_key(body, rollout=rollout, endpoint=self.config.base_url) if self._cache is not None else ""
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                self._counts["cache_hits"] += 1
                return hit, 0, True
            pending = self._inflight.get(key)
            if pending is not None:  # an identical request is on its way: share its reply
                try:
                    data, _ = await asyncio.shield(pending)
                except asyncio.CancelledError:
                    if not pending.cancelled():
                        raise  # we were cancelled ourselves
                else:
                    self._counts["cache_hits"] += 1
                    return data, 0, True
        future: asyncio.Future[tuple[dict[str, Any], int]] = asyncio.get_running_loop().create_future()
        if cache is not None:
            self._inflight[key] = future
        try:
            data, retries = await self._post(body, has_tools)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: there may be no other waiter
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result((data, retries))
        if self._cache is not None:
            self._cache.put(key, data)
        return data, retries, False

    async def _post(self, body: dict[str, Any], has_tools: bool) -> tuple[dict[str, Any], int]:
        cfg, attempt = self.config, 0
        while True:
            try:
                async with self._semaphore():
                    self._counts["requests"] += 1
                    data = await self._attempt(body, has_tools, attempt)
                self._count_usage(data)
                return data, attempt
            except _Transient as exc:
                failure = exc
            if attempt >= cfg.max_retries:
                self._counts["failures"] += 1
                raise LLMUnavailable(
                    f"{cfg.model} at {cfg.base_url}: {failure.reason}; gave up after {attempt + 1} attempts",
                    status=failure.status, attempts=attempt + 1) from failure.__cause__
            attempt += 1
            self._counts["retries"] += 1
            await asyncio.sleep(self._delay(attempt, failure.retry_after))

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            raise RuntimeError("LLMClient is not open; use `async with LLMClient(config) as client`")
        return self._sem

    async def _attempt(self, body: dict[str, Any], has_tools: bool, attempt: int) -> dict[str, Any]:
        """One HTTP request; transient failures raise ``_Transient``."""
        sdk = self._connection()
        import openai  # imported by _connection already: a lookup

        cfg = self.config
        try:
            text = await sdk.post("/chat/completions", body=body, cast_to=str)
        except openai.APIStatusError as exc:
            status, reason = exc.status_code, f"HTTP {exc.status_code}: {_message(exc)}"
            if status in _NOT_FOUND_STATUSES and "json" not in exc.response.headers.get("content-type", ""):
                self._counts["failures"] += 1  # a web server without the API: no retry can help
                raise LLMRejected(_not_an_api(cfg.base_url, status, _content_type(exc.response)), status=status,
                                  attempts=attempt + 1) from exc
            if status in _CONTEXT_STATUSES and _context_exceeded(status, exc.body, _message(exc)):
                self._counts["failures"] += 1
                raise LLMContextExceeded(f"the conversation is too long for {cfg.model} at {cfg.base_url} ({reason})",
                                         status=status, attempts=attempt + 1) from exc
            if status in (408, 409, 429) or status >= 500:
                raise _Transient(reason, status, _retry_after(exc.response.headers)) from exc
            if status == 400 and has_tools and cfg.tools_mode == "auto" and "tool" in reason.lower():
                raise _ToolsUnsupported() from exc
            self._counts["failures"] += 1
            raise LLMRejected(f"the provider at {cfg.base_url} refused the request ({reason})",
                              status=status, attempts=attempt + 1) from exc
        except openai.APITimeoutError as exc:
            raise _Transient(f"timed out after {cfg.timeout_s:g} s", None, None) from exc
        except openai.APIConnectionError as exc:
            raise _Transient(f"connection failed ({exc.__cause__ or exc})", None, None) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            if text.lstrip()[:1] == "<":  # a web page (HTML or XML): no retry can help
                self._counts["failures"] += 1
                raise LLMRejected(_not_an_api(cfg.base_url, 200, "a markup page"), status=200,
                                  attempts=attempt + 1) from exc
            raise _Transient(f"unreadable reply ({exc})", 200, None) from exc
        try:
            _check_reply(data)
        except (ValueError, TypeError) as exc:
            raise _Transient(f"unreadable reply ({exc})", 200, None) from exc
        return cast("dict[str, Any]", data)  # shape checked by _check_reply

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        if retry_after is not None:
            return min(retry_after, _RETRY_AFTER_MAX_S) + self._rng.uniform(0, cfg.backoff_s)
        cap = min(cfg.backoff_max_s, cfg.backoff_s * 2.0 ** (attempt - 1))
        return cap / 2 + self._rng.uniform(0, cap / 2)

    def _count_usage(self, data: dict[str, Any]) -> None:
        if not isinstance(data.get("usage"), dict):
            self._counts["unmetered"] += 1
        usage = _usage(data)
        self._counts["prompt_tokens"] += usage.prompt_tokens
        self._counts["completion_tokens"] += usage.completion_tokens
        self._counts["cached_prompt_tokens"] += usage.cached_prompt_tokens
        self._cost += self.cost(usage, data.get("model") or None)

    def _completion(self, data: dict[str, Any], json_mode: bool, tool_names: list[str], retries: int,
                    cached: bool, latency_s: float) -> Completion:
        choice = data["choices"][0]
        parts = read_message(choice.get("message") or {}, tool_names=tool_names)
        content, calls = parts.content, list(parts.tool_calls)
        if json_mode and not calls:
            content, parsed = parse_json_reply(content)
            calls = [ToolCall(id=f"json_call_{i}", name=n, arguments=a) for i, (n, a) in enumerate(parsed)]
        usage = _usage(data)
        return Completion(content=content, tool_calls=tuple(calls), finish_reason=choice.get("finish_reason"),
                          reasoning=parts.reasoning, refusal=parts.refusal,
                          usage=usage, cost_usd=self.cost(usage, data.get("model") or None),
                          latency_s=latency_s, retries=retries, cached=cached,
                          model=str(data.get("model") or self.config.model))


def _check_reply(data: object) -> None:
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        filtered = data.get("prompt_filter_results")
        why = f"; prompt_filter_results: {json.dumps(filtered)[:300]}" if filtered else ""
        raise ValueError(f"no choices in the reply{why}")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ValueError("no message in the reply")


def _content_type(response: Any) -> str:  # Any: the SDK's HTTP response (httpx's type, by another name in some)
    return str(response.headers.get("content-type", "")).split(";")[0].strip() or "no content type"


def _not_an_api(base_url: str, status: int, kind: str) -> str:
    """Why a reply shows that ``base_url`` is some web server, not an OpenAI-compatible API."""
    return (f"{base_url} is not an OpenAI-compatible endpoint: POST /chat/completions answered HTTP {status} "
            f"with {kind}, not an API reply; check --base-url (or OPENAI_BASE_URL): it usually ends in /v1")


def _usage(data: dict[str, Any]) -> Usage:
    found = data.get("usage")
    usage: dict[str, Any] = found if isinstance(found, dict) else {}
    found_details = usage.get("prompt_tokens_details")
    details: dict[str, Any] = found_details if isinstance(found_details, dict) else {}
    return Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0),
                 completion_tokens=int(usage.get("completion_tokens") or 0),
                 cached_prompt_tokens=int(details.get("cached_tokens") or 0))


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(exc.message)


def _context_exceeded(status: int, body: object, message: str) -> bool:
    """The refusal (HTTP ``status``, JSON ``body``) says the conversation outgrew the model's context."""
    if status == 413:  # the request outgrew a size cap
        return True
    err = body.get("error", body) if isinstance(body, dict) else None
    fields = [err.get("code"), err.get("type")] if isinstance(err, dict) else []
    if any(isinstance(f, str) and f.lower() in _CONTEXT_CODES for f in fields):
        return True
    return _CONTEXT_MESSAGE.search(message) is not None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None
