"""Errors raised by agents/ (exit code 5 from the CLI, but a bad prompt template: 2).

Tree::

    FnforgeError                 (functions)
    └── AgentError               exit 5   root of agents/
        ├── LLMCacheError        the on-disk response cache cannot be opened or read
        ├── PromptTemplateError  exit 2: a prompt template has a missing or unknown placeholder
        ├── TrajectoryError      a stored trajectory cannot be read back
        └── LLMError             a chat-completion call failed; .status, .attempts
            ├── LLMUnavailable   transient failures (429, 5xx, timeouts, dropped
            │                    connections, unreadable replies) outlasted every retry
            └── LLMRejected      the provider refused the request (401, 403, 404, 400...):
                │                retrying cannot help
                └── LLMContextExceeded  the conversation is longer than the model's context

Model-caused faults (malformed tool arguments, unknown functions, sandbox
errors, unparseable ReAct text) are never raised: they become error steps that
the model sees. ``solve`` records ``LLMUnavailable`` in the trajectory
(``StopReason.ERROR``) and lets ``LLMRejected`` propagate, except
``LLMContextExceeded``: the run cuts its conversation and retries once, then
records it (``StopReason.CONTEXT``).
"""

from __future__ import annotations

from fnforge.functions import FnforgeError

__all__ = [
    "AgentError",
    "LLMCacheError",
    "LLMContextExceeded",
    "LLMError",
    "LLMRejected",
    "LLMUnavailable",
    "PromptTemplateError",
    "TrajectoryError",
]


class AgentError(FnforgeError):
    """Root of the errors agents/ raises on purpose; never raised itself."""

    exit_code = 5


class LLMError(AgentError):
    """Raised when a chat-completion call fails; see the two leaves.

    Attributes:
        status: the last HTTP status, or ``None`` (timeout, dropped connection).
        attempts: how many HTTP requests were made for the call.
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class LLMUnavailable(LLMError):
    """Raised when a call still fails transiently after ``max_retries`` retries."""


class LLMRejected(LLMError):
    """Raised when the provider refuses the request itself (auth, model, bad request)."""


class LLMContextExceeded(LLMRejected):
    """Raised when the provider refuses a request as longer than the model's context window.

    OpenAI and Azure say so with ``code: context_length_exceeded`` (HTTP 400),
    vLLM and DeepSeek with "maximum context length", llama.cpp with
    ``exceed_context_size_error`` (HTTP 400, or 500 in older builds), LM Studio,
    Gemini and others in their own words, and a proxy with HTTP 413. It depends
    on one conversation, not on the provider, so it is never retried as it is.
    """


class LLMCacheError(AgentError):
    """Raised when the response cache file cannot be opened, read or written."""


class PromptTemplateError(AgentError):
    """Raised when a prompt template (a toolset's ``prompts/`` file) lacks a placeholder the prompt needs,
    uses one that is never filled, or has a ``$`` that starts no placeholder: a usage error (exit 2)."""

    exit_code = 2


class TrajectoryError(AgentError):
    """Raised when a stored trajectory has an unknown schema_version or a bad field."""
