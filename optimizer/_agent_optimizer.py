"""AgentOptimizer.step: the paper's Algorithm 1 (progressive function update).

One step is one conversation with the optimizer LLM:

1. The first user message is the full prompt (:func:`~optimizer._prompt.build_prompt`)
   with List B equal to List A.
2. Each reply may call one of ``add_function``/``revise_function``/``remove_function``.
   Only the *first* tool call of a reply is considered; any others are answered
   "ignored" (the reference implementation applied them all, so one "action"
   could make several edits).
3. The action is validated (:func:`~optimizer._actions.validate_action`): static
   rules, the sandbox check, then a smoke call. Accepted: it is applied to List B
   and the tool result says what List B now is by reference (each function
   marked as in List A, added or revised in this step: the code is in the
   prompt or in the model's own accepted call), so List B's code is sent once,
   not again with every action. Rejected: the tool result carries the concrete
   reason (cut to :data:`MAX_REASON_CHARS`); the conversation has grown, so the
   retry is never the identical request (and never the same cache key).
4. A reply with no tool call ends the step (TERMINATE), whatever its text says,
   unless it was cut off at the token limit, removed by a content filter, or
   writes a tool call as text that cannot be read: that is answered like a
   rejected proposal.
   The step also ends after ``max_actions`` actions. An action slot that is
   rejected ``1 + max_retries`` times is dropped and counts towards
   ``max_actions`` (so a step makes at most ``max_actions * (1 + max_retries)``
   LLM calls).

The budget covers the whole conversation: every request of the step (prompt,
tool schemas, the turns so far) stays within ``prompt_budget_tokens``. The
first prompt is built for the budget minus room for ``max_actions + 1``
follow-up turns (:data:`TURN_TOKENS` each, at most half the budget); should retries grow the
conversation past the budget anyway, the step ends there (reported in
``StepResult.cut``) with the actions accepted so far.

Each request is a fresh sample: with ``sample`` (the trainer passes run and
step) the response cache keys every call by that name and the call's index, so
a later step never replays an earlier step's reply from the cache, while a
resumed run replays its own steps exactly.

Provider failures (``agents.LLMError``) propagate; model mistakes never raise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any  # Any: chat messages as JSON

from fnforge.agents import Completion, LLMClient, ToolCall, cut_middle, unreadable_text_call
from fnforge.functions import FunctionSet
from fnforge.optimizer._actions import ACTION_TOOLS, Action, ActionRejected, parse_action, proposed_name, validate_action
from fnforge.optimizer._prompt import build_prompt, check_template, estimate_tokens

if TYPE_CHECKING:
    from fnforge.optimizer._evaluation import Report
    from fnforge.sandbox import Sandbox, SandboxPolicy

__all__ = ["Action", "AgentOptimizer", "Failure", "History", "StepResult"]

DEFAULT_PROMPT_BUDGET_TOKENS = 60_000
"""Default budget of every optimizer request of a step (estimated tokens).

Leaves room in a 128k-token context for the replies and for a tokenizer denser
than 4 characters per token.
"""

TURN_TOKENS = 1_500
"""Room kept in the budget for one follow-up turn: a reply with one function, and our short answer."""

MAX_REASON_CHARS = 2_000
"""A rejection reason sent back to the model is cut in the middle to this length."""

_TERMINATE = re.compile(r"\W*TERMINATE\W*$", re.IGNORECASE)
_IGNORED = (
    "Ignored: only the first tool call of a reply is applied. "
    "Send this call again in a separate reply if it is still wanted."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One entry of the failure record: a trial set that did not score better than the best (lower, or a tie).

    Attributes:
        function_set: the rejected trial set.
        score: its training success rate (0..1).
    """

    function_set: FunctionSet
    score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What the optimizer knows at a step (the paper's H).

    Attributes:
        best: the best set so far (List A).
        best_score: its training success rate (0..1).
        report: the evaluation of ``best`` on the training tasks (histories, per-task table).
        failures: the failure record since ``best`` became the best (any order;
            the prompt sorts it ascending by score).
        expected: task id -> reference answer, shown as "expected X, got Y" next to each
            failure in the per-task table. The trainer gives the training tasks' answers
            only: validation and test answers never reach the optimizer.

    Example:
        >>> History(best=fs, best_score=report.accuracy, report=report).failures
        ()
    """

    best: FunctionSet
    best_score: float
    report: Report
    failures: tuple[Failure, ...] = ()
    expected: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """The outcome of one :meth:`AgentOptimizer.step`.

    Attributes:
        function_set: the trial set (List B after the accepted actions).
        actions: the accepted actions, in order.
        rejections: one line per rejected proposal, ``"<tool>(<name>): <reason>"``.
        terminated: the model ended the step itself (a reply with no tool call),
            as opposed to running out of action slots.
        rationale: the assistant's text across the step (for the commit body), without
            a closing TERMINATE.
        prompt_tokens_estimate: estimated tokens of the first request (prompt and tool schemas).
        prompt_budget_tokens: the budget of every request of the step.
        conversation_tokens_estimate: estimated tokens of the step's largest request.
        cut: what was cut to fit the budget, and whether the budget ended the step (empty: nothing).
        llm_calls: chat completions made (cache hits included).
        cached_calls: how many of them came from the response cache.
        tokens: prompt + completion tokens the provider reported for those replies.
        cost: their cost in US dollars (as priced by the client's config).
        transcript: the whole conversation, as OpenAI message dicts, for run artifacts.
    """

    function_set: FunctionSet
    actions: tuple[Action, ...]
    rejections: tuple[str, ...]
    terminated: bool
    rationale: str
    prompt_tokens_estimate: int
    prompt_budget_tokens: int
    conversation_tokens_estimate: int
    cut: tuple[str, ...]
    llm_calls: int
    cached_calls: int
    tokens: int
    cost: float
    transcript: tuple[dict[str, Any], ...] = field(repr=False)

    def describe(self) -> str:
        """``"add solve; revise parse"``, or ``"no change"``: a commit-subject phrase."""
        return "; ".join(a.describe() for a in self.actions) or "no change"


class AgentOptimizer:
    """Proposes function-set updates with an LLM (the paper's AgentOptimizer).

    Args:
        client: an open :class:`agents.LLMClient` for the optimizer model.
        sandbox: the sandbox used for the validation checks and smoke calls.
        policy: the sandbox policy actions are checked against (its allow-list is
            also shown to the model); default: ``sandbox.policy``. The smoke call
            itself runs under ``sandbox.policy``.
        max_actions: accepted actions per step at most (the paper's MAX_NUM = 3).
        max_retries: corrected attempts allowed after a rejected proposal, per action.
        prompt_budget_tokens: budget of every request of a step, tool schemas and the
            turns so far included (estimated tokens, see :func:`optimizer._prompt.estimate_tokens`).
        template: the optimizer prompt template (a toolset's ``prompts/optimizer.md``); default: the package's.

    Raises:
        ValueError: a limit is out of range.
        agents.PromptTemplateError: ``template`` lacks a placeholder or has an unknown one.

    Example (async or needs a provider, so shown, not run)::

        optimizer = AgentOptimizer(client, sandbox, policy=policy)
        result = await optimizer.step(history.best, history)
        result.describe()
        # -> 'add evaluate_expression'
    """

    def __init__(
        self,
        client: LLMClient,
        sandbox: Sandbox,
        *,
        policy: SandboxPolicy | None = None,
        max_actions: int = 3,
        max_retries: int = 3,
        prompt_budget_tokens: int = DEFAULT_PROMPT_BUDGET_TOKENS,
        template: str | None = None,
    ) -> None:
        if max_actions < 1:
            raise ValueError(f"max_actions must be >= 1, got {max_actions}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self._tools_tokens = estimate_tokens(json.dumps(ACTION_TOOLS))
        # room for the follow-up turns, at most half the budget (the budget check ends a longer talk)
        self._turns_reserve = min((max_actions + 1) * TURN_TOKENS, prompt_budget_tokens // 2)
        floor = self._tools_tokens + self._turns_reserve
        if prompt_budget_tokens <= floor:
            raise ValueError(f"prompt_budget_tokens must exceed {floor} (tool schemas and room for "
                             f"the step's turns), got {prompt_budget_tokens}")
        self.client = client
        self.sandbox = sandbox
        self.policy = policy if policy is not None else sandbox.policy
        self.max_actions = max_actions
        self.max_retries = max_retries
        self.prompt_budget_tokens = prompt_budget_tokens
        self.template = None if template is None else check_template(template)

    async def step(self, best: FunctionSet, history: History, *, sample: str = "") -> StepResult:
        """Ask the optimizer LLM for up to ``max_actions`` validated actions on ``best``.

        Args:
            best: List A, the set the actions start from (must equal ``history.best``).
            history: the scores, histories and failure record shown in the prompt.
            sample: names this step's conversation for the response cache (e.g.
                ``"<run>/step-3"``): its calls never share a cache entry with another
                name's. Empty: calls are cached by their content alone.

        Returns:
            The trial set and how it came about.

        Raises:
            ValueError: ``best`` differs from ``history.best``.
            agents.LLMError: the optimizer LLM could not be reached or refused the request.
        """
        if best != history.best:
            raise ValueError("step(best, history): best must equal history.best (List A)")
        prompt = build_prompt(
            best=best,
            best_score=history.best_score,
            report=history.report,
            failures=[(f.function_set, f.score) for f in history.failures],
            max_actions=self.max_actions,
            allowed_modules=self.policy.allowed_modules,
            budget_tokens=self.prompt_budget_tokens - self._tools_tokens - self._turns_reserve,
            expected=history.expected,
            template=self.template,
        )
        run = _StepRun(self, best, sample)
        await run.converse([{"role": "user", "content": prompt.text}])
        return StepResult(
            function_set=run.trial,
            actions=tuple(run.actions),
            rejections=tuple(run.rejections),
            terminated=run.terminated,
            rationale="\n\n".join(run.rationale),
            prompt_tokens_estimate=prompt.tokens_estimate + self._tools_tokens,
            prompt_budget_tokens=self.prompt_budget_tokens,
            conversation_tokens_estimate=run.largest_request,
            cut=prompt.cut + tuple(run.cut),
            llm_calls=run.calls,
            cached_calls=run.cached,
            tokens=run.tokens,
            cost=run.cost,
            transcript=tuple(run.messages),
        )


class _StepRun:
    """The mutable state of one step's conversation (never escapes ``step``)."""

    def __init__(self, optimizer: AgentOptimizer, best: FunctionSet, sample: str) -> None:
        self.opt = optimizer
        self.best = self.trial = best
        self.sample = sample
        self.cut: list[str] = []
        self.largest_request = 0
        self.messages: list[dict[str, Any]] = []
        self.actions: list[Action] = []
        self.rejections: list[str] = []
        self.rationale: list[str] = []
        self.terminated = False
        self.calls = self.cached = self.tokens = 0
        self.cost = 0.0

    async def converse(self, opening: Sequence[dict[str, Any]]) -> None:
        opt = self.opt
        self.messages.extend(opening)
        slots_used = attempts = 0
        while slots_used < opt.max_actions:
            if not self._fits():
                return
            rollout = f"{self.sample}/{self.calls}" if self.sample else 0
            reply = await opt.client.complete(self.messages, tools=ACTION_TOOLS, rollout=rollout)
            self.calls += 1
            self.cached += reply.cached
            self.tokens += reply.usage.total_tokens
            self.cost += reply.cost_usd
            text = _rationale(reply.content)
            if text:
                self.rationale.append(text)
            self.messages.append(reply.to_message())
            first = reply.tool_calls[0] if reply.tool_calls else None
            outcome = await self._attempt(first) if first is not None else self._unfinished(reply)
            if outcome is None:
                self.terminated = True
                return
            if isinstance(outcome, str):
                attempts += 1
                dropped = attempts > opt.max_retries
                slots_used += dropped
                self._answer(first, self._rejected_text(outcome, dropped, attempts, opt.max_actions - slots_used))
                attempts = 0 if dropped else attempts
            else:
                slots_used += 1
                attempts = 0
                self._answer(first, self._applied_text(outcome, opt.max_actions - slots_used))
            for other in reply.tool_calls[1:]:
                self._answer(other, _IGNORED)

    async def _attempt(self, call: ToolCall) -> Action | str:
        """The validated action (applied to List B), or the reason it was rejected."""
        try:
            action = parse_action(call.name, call.arguments)
            action = await validate_action(action, self.trial, sandbox=self.opt.sandbox, policy=self.opt.policy)
        except ActionRejected as exc:
            self.rejections.append(f"{call.name}({proposed_name(call.arguments)}): {exc}")
            return str(exc)
        self.trial = action.apply(self.trial)
        self.actions.append(action)
        return action

    def _unfinished(self, reply: Completion) -> str | None:
        """Why a reply without a tool call is not a deliberate TERMINATE; ``None`` if it is."""
        reason: str | None
        if reply.finish_reason == "length":
            reason = ('your reply was cut off at the token limit (finish_reason "length") before a tool call '
                      "or TERMINATE; think more briefly")
        elif reply.finish_reason == "content_filter":
            reason = "the provider's content filter removed your reply (finish_reason \"content_filter\")"
        else:
            reason = unreadable_text_call(reply.content)
        if reason is not None:
            self.rejections.append(f"reply: {reason}")
        return reason

    def _answer(self, call: ToolCall | None, text: str) -> None:
        """Answer ``call`` with a tool message, or (no call) with a user message."""
        if call is None:
            self.messages.append({"role": "user", "content": text})
        else:
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})

    def _fits(self) -> bool:
        """Whether the next request is within the budget (else the step ends here, and says so)."""
        tokens = estimate_tokens(json.dumps(self.messages, ensure_ascii=False)) + self.opt._tools_tokens  # noqa: SLF001
        if tokens > self.opt.prompt_budget_tokens and self.calls:
            self.cut.append(f"conversation: ended after {self.calls} calls, the next request (~{tokens} tokens) "
                            f"would exceed the {self.opt.prompt_budget_tokens}-token budget")
            return False
        self.largest_request = max(self.largest_request, tokens)
        return True

    def _rejected_text(self, reason: str, dropped: bool, attempts: int, left: int) -> str:
        if dropped:
            tail = (
                f"This action was rejected {attempts} times and is dropped. "
                + (f"You may make {left} more change(s) or reply TERMINATE." if left > 0 else "The step is over.")
            )
        else:
            tail = "Nothing was changed. Fix the problem and call the tool again, or choose another action."
        return f"Rejected: {cut_middle(reason, MAX_REASON_CHARS)}\n\n{tail}"

    def _applied_text(self, action: Action, left: int) -> str:
        lines = [f"Applied: {action.describe()}."]
        if action.note:
            lines.append(action.note)
        lines += ["", "List B is now List A with this step's changes (the code of an added or revised function "
                  "is that of your accepted call):", _list_b_outline(self.best, self.trial), ""]
        if left > 0:
            lines.append(f"You may make {left} more change(s): call another tool, or reply TERMINATE.")
        else:
            lines.append("That was the last change of this step.")
        return "\n".join(lines)


def _list_b_outline(best: FunctionSet, trial: FunctionSet) -> str:
    """One line per function of List B (and per function removed from List A): name, parameters, origin."""
    diff = best.diff(trial)
    lines = []
    for fn in trial:
        origin = "added in this step" if fn.name in diff.added else (
            "revised in this step" if fn.name in diff.revised else "as in List A")
        lines.append(f"- {fn.name}({', '.join(fn.parameters.get('properties', {}))}): {origin}")
    lines += [f"- {name}: removed in this step" for name in diff.removed]
    return "\n".join(lines) or "- (no functions)"


def _rationale(content: str | None) -> str:
    """The reply's text without a closing TERMINATE (the commit body needs the reasons only)."""
    text = (content or "").strip()
    lines = text.splitlines()
    if lines and _TERMINATE.match(lines[-1]):
        text = "\n".join(lines[:-1]).strip()
    return text
