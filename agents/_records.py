"""The records the LLM client takes and returns: config, replies, usage, counters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal  # Any: JSON values (dict forms of records, request and reply bodies)

__all__ = ["ClientStats", "Completion", "LLMConfig", "ToolCall", "Usage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMConfig:
    """How to reach one OpenAI-compatible model and how to sample it.

    The CLI resolves ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` and flags into this;
    nothing in agents/ reads the environment (the ``openai`` SDK may still add
    ``OPENAI_ORG_ID``/``OPENAI_PROJECT_ID`` headers of its own).

    Args:
        model: the model name sent to the provider.
        base_url: the endpoint, e.g. ``http://localhost:11434/v1`` for Ollama.
        api_key: the key; ``None`` sends a placeholder (fine for local servers).
        temperature, seed, max_tokens: sampling parameters (``None``: not sent).
        concurrency: requests in flight at once, per client.
        max_retries: retries of one call after a transient failure.
        timeout_s: per-request timeout.
        backoff_s, backoff_max_s: first and largest retry delay (doubling, jittered).
        prices: ``{model: (usd per 1M input tokens, usd per 1M output tokens)}``.
        cache_path: SQLite response cache file, or ``None`` for no cache.
        tools_mode: ``"native"`` tools, ``"json"`` (tools described in the prompt),
            or ``"auto"``: native, switching to JSON for good when the provider
            rejects ``tools`` with HTTP 400.

    Raises:
        ValueError: a number is out of range or ``tools_mode`` is unknown.

    Example:
        >>> LLMConfig(model="gpt-4o", seed=0).temperature
        0.0
    """

    model: str
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    concurrency: int = 8
    max_retries: int = 5
    timeout_s: float = 120.0
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cache_path: Path | None = None
    tools_mode: Literal["auto", "native", "json"] = "auto"

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("LLMConfig.model must not be empty")
        if self.concurrency < 1:
            raise ValueError(f"LLMConfig.concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0:
            raise ValueError(f"LLMConfig.max_retries must be >= 0, got {self.max_retries}")
        if self.timeout_s <= 0 or self.backoff_s < 0 or self.backoff_max_s < self.backoff_s:
            raise ValueError("LLMConfig needs timeout_s > 0 and 0 <= backoff_s <= backoff_max_s")
        if self.tools_mode not in ("auto", "native", "json"):
            raise ValueError(f"LLMConfig.tools_mode must be auto, native or json, got {self.tools_mode!r}")
        object.__setattr__(self, "prices", dict(self.prices))

    def sampling(self) -> dict[str, Any]:
        """What decides a reply besides the prompt: model and sampling parameters.

        Evaluation caches key on this (with the rollout index).
        """
        return {"model": self.model, "temperature": self.temperature, "seed": self.seed,
                "max_tokens": self.max_tokens, "tools_mode": self.tools_mode}


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Token counts of one or more calls, as the provider reported them.

    ``cached_prompt_tokens`` is the part of ``prompt_tokens`` the provider served from its prompt cache
    (``usage.prompt_tokens_details.cached_tokens``; 0 where it does not say).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens,
                     cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """One tool call as the model wrote it; ``arguments`` is the raw JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """One assistant reply and what it cost.

    ``content`` is the visible text: a reasoning model's thinking (``<think>``
    blocks, or the provider's ``reasoning_content``/``reasoning`` field) is in
    ``reasoning`` instead; a refusal with no text is the content, and is kept in
    ``refusal`` too. Tool calls a server left as text in the reply (Hermes
    ``<tool_call>`` tags, Mistral ``[TOOL_CALLS]``, a bare JSON call) are in
    ``tool_calls`` like native ones.

    ``latency_s`` is the wall time of the call (queueing and retries included);
    ``cost_usd`` is what the reply cost when it was made (a cached reply
    reports its original usage and cost with ``cached=True``).
    """

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    usage: Usage = Usage()
    cost_usd: float = 0.0
    latency_s: float = 0.0
    retries: int = 0
    cached: bool = False
    model: str = ""

    def to_message(self) -> dict[str, Any]:
        """The assistant message to append to the conversation.

        The reasoning is left out: it is not part of the conversation (DeepSeek's
        API refuses requests that send it back, chat templates drop it).
        """
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientStats:
    """Counters of one client since it opened.

    ``requests`` counts HTTP attempts; ``failures`` calls that raised; tokens and
    cost count only replies fetched from the provider (not cache hits);
    ``unmetered`` counts those replies that reported no ``usage`` (their tokens
    and cost are missing from the totals); ``cached_prompt_tokens`` is the part
    of ``prompt_tokens`` the provider served from its prompt cache.
    """

    requests: int = 0
    retries: int = 0
    failures: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cost_usd: float = 0.0
    json_mode: bool = False
    unmetered: int = 0
