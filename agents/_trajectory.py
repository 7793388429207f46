"""Steps and trajectories: the frozen record of one agent run, and its JSON form.

A run is a sequence of steps, in the order they happened:

- ``ModelStep``: one LLM reply (text and/or tool calls), its tokens, latency, retries;
- ``ToolStep``: one tool call executed (or refused) with its result or error;
- ``ErrorStep``: a reply the agent could not act on (unparseable ReAct text),
  with the notice shown to the model;
- ``AnswerStep``: the final answer.

``Trajectory.to_dict()`` is JSON-safe with stable field names and
``schema_version``; ``Trajectory.from_dict`` reads it back. The messages sent
are not stored: they are rendered from the steps (:func:`~agents.render_messages`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias  # Any: JSON values (dict forms of records, request and reply bodies)

from fnforge.agents._records import ToolCall, Usage
from fnforge.agents._exceptions import TrajectoryError

__all__ = [
    "SCHEMA_VERSION",
    "AnswerStep",
    "ErrorStep",
    "ModelStep",
    "Step",
    "StopReason",
    "ToolStep",
    "Trajectory",
    "cut_middle",
    "render_compact",
]

SCHEMA_VERSION = 2
"""Version of :meth:`Trajectory.to_dict`'s form (2: ``system``, ``tools`` and ``cuts`` instead of ``messages``)."""


class StopReason(str, enum.Enum):
    """Why a run ended."""

    ANSWER = "answer"  # the model gave a final answer
    MAX_TURNS = "max_turns"  # AgentConfig.max_turns LLM calls without an answer
    BUDGET = "budget"  # AgentConfig.token_budget exceeded
    ERROR = "error"  # the provider stayed unavailable (see Trajectory.error)
    CONTEXT = "context"  # the conversation stayed too long for the model after one cut (see Trajectory.error)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelStep:
    """One LLM reply: ``content`` is its visible text, ``reasoning`` the model's thinking
    (never read for answers, never shown to the optimizer), ``finish_reason`` as the
    provider sent it (``"length"``: cut at the token limit)."""

    kind: ClassVar[str] = "model"
    turn: int
    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    latency_s: float = 0.0
    retries: int = 0
    cached: bool = False
    cost_usd: float = 0.0
    reasoning: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolStep:
    """One tool call: ``arguments`` is the model's raw text; exactly one of
    ``result`` (what the model was shown) and ``error`` is set.

    ``error_kind`` is snake case: ``unknown_function``, ``bad_arguments``, or the
    sandbox error's class (``sandbox_timeout``, ``sandbox_violation``, ``function_error``...).
    """

    kind: ClassVar[str] = "tool"
    turn: int
    call_id: str
    name: str
    arguments: str
    result: str | None = None
    error: str | None = None
    error_kind: str | None = None
    duration_s: float = 0.0
    called: tuple[str, ...] = ()
    """The function set's functions that returned during this call, by name: the
    called function itself, and any that ``run_python`` code called."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorStep:
    """A reply the agent could not act on; ``message`` is what the model was told."""

    kind: ClassVar[str] = "error"
    turn: int
    error_kind: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerStep:
    """The final answer: ``text`` is the final message, ``answer`` what was extracted."""

    kind: ClassVar[str] = "answer"
    turn: int
    text: str
    answer: str


Step: TypeAlias = ModelStep | ToolStep | ErrorStep | AnswerStep
_STEP_TYPES: dict[str, type[Any]] = {c.kind: c for c in (ModelStep, ToolStep, ErrorStep, AnswerStep)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Trajectory:
    """Everything one agent run did, for scoring, the optimizer and reports.

    Args:
        agent: ``"tool"`` or ``"react"``.
        task_id, question: the task.
        model: the model that answered.
        function_set: tree hash of the function set offered.
        functions: names of the learned functions offered (``run_python`` aside).
        rollout: the sample index.
        steps: the run, step by step.
        system: the system prompt as sent.
        tools: names of every tool offered (the learned functions, and ``run_python`` if offered).
        cuts: turns whose request was cut to fit the model's context (:mod:`agents._cut`).
        final_text: the final message (``None`` unless ``stop`` is ``ANSWER``).
        answer: the extracted answer (``None`` unless ``stop`` is ``ANSWER``).
        stop: why the run ended; ``error`` says what failed when it is ``ERROR``.
        usage, cost_usd: tokens and dollars over all turns (cache hits included).
        latency_s: wall time of the run.
        turns: LLM calls made.
        retries: LLM request retries over all turns.
        failures: LLM calls that failed (after their retries, or refused as too long).
    """

    agent: str
    task_id: str
    question: str
    model: str
    function_set: str
    functions: tuple[str, ...]
    rollout: int
    steps: tuple[Step, ...]
    final_text: str | None
    answer: str | None
    stop: StopReason
    system: str = ""
    tools: tuple[str, ...] = ()
    cuts: tuple[int, ...] = ()
    error: str | None = None
    usage: Usage = Usage()
    cost_usd: float = 0.0
    latency_s: float = 0.0
    turns: int = 0
    retries: int = 0
    failures: int = 0
    schema_version: int = SCHEMA_VERSION

    @property
    def tool_steps(self) -> tuple[ToolStep, ...]:
        return tuple(s for s in self.steps if isinstance(s, ToolStep))

    def function_calls(self) -> dict[str, int]:
        """Learned function name -> successful tool calls that used it, directly or from
        ``run_python`` code (a snippet that calls a function twice counts once), sorted by name."""
        counts = Counter(name for s in self.tool_steps if s.ok
                         for name in {*s.called, *([s.name] if s.name in self.functions else [])}
                         if name in self.functions)
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with ``schema_version``."""
        return {
            "schema_version": self.schema_version,
            "agent": self.agent,
            "task_id": self.task_id,
            "question": self.question,
            "model": self.model,
            "function_set": self.function_set,
            "functions": list(self.functions),
            "rollout": self.rollout,
            "stop": self.stop.value,
            "error": self.error,
            "final_text": self.final_text,
            "answer": self.answer,
            "usage": _usage_dict(self.usage),
            "cost_usd": self.cost_usd,
            "latency_s": self.latency_s,
            "turns": self.turns,
            "retries": self.retries,
            "failures": self.failures,
            "system": self.system,
            "tools": list(self.tools),
            "cuts": list(self.cuts),
            "steps": [_step_dict(s) for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trajectory:
        """Read :meth:`to_dict` output back.

        Raises:
            TrajectoryError: unknown ``schema_version`` or a missing/invalid field.
        """
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise TrajectoryError(f"trajectory schema_version {version!r} is not supported "
                                  f"(this fnforge reads {SCHEMA_VERSION})")
        try:
            return cls(
                agent=data["agent"], task_id=data["task_id"], question=data["question"],
                model=data["model"], function_set=data["function_set"],
                functions=tuple(data["functions"]), rollout=int(data["rollout"]),
                steps=tuple(_step_from(s) for s in data["steps"]), system=str(data["system"]),
                tools=tuple(data["tools"]), cuts=tuple(int(t) for t in data["cuts"]),
                final_text=data["final_text"], answer=data["answer"], stop=StopReason(data["stop"]),
                error=data.get("error"), usage=Usage(**data["usage"]), cost_usd=float(data["cost_usd"]),
                latency_s=float(data["latency_s"]), turns=int(data["turns"]),
                retries=int(data["retries"]), failures=int(data["failures"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TrajectoryError(f"trajectory of task {data.get('task_id')!r} is invalid: "
                                  f"{type(exc).__name__}: {exc}") from exc


def _usage_dict(usage: Usage) -> dict[str, int]:
    data = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    if usage.cached_prompt_tokens:  # absent when 0, as in trajectories written before it was counted
        data["cached_prompt_tokens"] = usage.cached_prompt_tokens
    return data


def _step_dict(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": step.kind}
    for name in step.__dataclass_fields__:
        if name == "kind":
            continue
        value = getattr(step, name)
        if isinstance(value, Usage):
            value = _usage_dict(value)
        elif name == "tool_calls":
            value = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in value]
        out[name] = value
    return out


def _step_from(data: Mapping[str, Any]) -> Step:
    fields = {k: v for k, v in data.items() if k != "kind"}
    step_type = _STEP_TYPES[data["kind"]]
    if "usage" in fields:
        fields["usage"] = Usage(**fields["usage"])
    if "tool_calls" in fields:
        fields["tool_calls"] = tuple(ToolCall(**c) for c in fields["tool_calls"])
    if "called" in fields:
        fields["called"] = tuple(fields["called"])
    return step_type(**fields)  # type: ignore[no-any-return]  # one of the Step classes


def cut_middle(text: str, max_chars: int) -> str:
    """``text`` if short enough, else its head and tail around a ``[... N chars cut ...]`` note."""
    if len(text) <= max_chars:
        return text
    note = f" [... {len(text) - max_chars} chars cut ...] "
    if max_chars < len(note) + 2:
        return text[:max_chars]
    keep = max_chars - len(note)
    head = keep - keep // 2
    return text[:head] + note + text[len(text) - keep // 2:]


def _oneline(text: str | None, limit: int) -> str:
    return cut_middle(" ".join((text or "").split()), limit)


def _model_notes(step: ModelStep) -> str:
    notes = []
    if step.reasoning:
        notes.append(f"thinking of {len(step.reasoning)} chars not shown")
    if step.finish_reason in ("length", "content_filter"):
        notes.append(f"cut: finish_reason {step.finish_reason}")
    return f"  [{'; '.join(notes)}]" if notes else ""


def render_compact(trajectory: Trajectory, max_chars: int = 4000) -> str:
    """A compact text of the run for the optimizer prompt, at most ``max_chars`` long.

    Each line is cut in the middle to a fair share of the budget, then the whole
    text is cut in the middle if still too long. A reasoning model's thinking is
    not shown (only its length): it is scratch work, often with wrong guesses
    the optimizer must not take for the agent's answer.

    Example:
        >>> print(render_compact(traj, 300))
        task t000 | stop=answer | answer=1 | turns=2 | tokens=0 | 0.00 s
        Q: Question of t000?
        [1] assistant: Step 0.
            call run_python({"code": "print(0)"}) -> output of t000 output of t000 output of  [0.000 s]
        [2] assistant: The answer is \\boxed{1}.
    """
    t = trajectory
    item = max(80, max_chars // 6)
    head = (f"task {t.task_id} | stop={t.stop.value} | answer={_oneline(t.answer, 80) or '-'} | "
            f"turns={t.turns} | tokens={t.usage.total_tokens} | {t.latency_s:.2f} s")
    lines = [head, f"Q: {_oneline(t.question, item)}"]
    for step in t.steps:
        if isinstance(step, ModelStep):
            lines.append(f"[{step.turn + 1}] assistant: {_oneline(step.content, item) or '(no text)'}"
                         + _model_notes(step))
        elif isinstance(step, ToolStep):
            call = f"    call {step.name}({_oneline(step.arguments, item // 2)})"
            if step.ok:
                lines.append(f"{call} -> {_oneline(step.result, item)}  [{step.duration_s:.3f} s]")
            else:
                lines.append(f"{call} -> ERROR {step.error_kind}: {_oneline(step.error, item)}")
        elif isinstance(step, ErrorStep):
            lines.append(f"    ERROR {step.error_kind}: {_oneline(step.message, item)}")
    if t.error:
        lines.append(f"provider error: {_oneline(t.error, item)}")
    return cut_middle("\n".join(lines), max_chars)

