"""The optimizer prompt (paper App. D.1) built within a token budget.

The prompt is the package-data template ``templates/optimizer.md`` filled with
the paper's sections: List A (the best set and its success rate), List B (the
trial set), the failure record (ascending by score), the execution histories
of the training tasks under List A, and the per-task 1/0 table.

Budget. Tokens are *estimated* as ``ceil(characters / 4)``
(:func:`estimate_tokens`), the usual rule of thumb for English and code with
GPT-style tokenizers; it needs no tokenizer and is deterministic. When the
prompt, with every history in full, would exceed the budget, in this order:

1. the failure record drops the code of its sets (changes and scores stay),
   and only then, if the prompt still does not fit:
2. the histories are shortened: failed tasks' histories come first, then the
   solved ones; every history kept gets the same maximal length cap
   (``agents.render_compact`` cuts its long lines, then its middle, with a
   ``[... N chars cut ...]`` marker), and when even a
   floor of :data:`MIN_HISTORY_CHARS` per history does not fit, the
   lowest-priority histories are omitted;
3. List A, List B and the per-task table are never cut. If they alone exceed
   the budget, the prompt is built anyway and the overrun is reported.

Everything cut is reported in :attr:`OptimizerPrompt.cut` and told to the
model in the prompt itself.
"""

from __future__ import annotations

import json
import math
import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fnforge.agents import check_placeholders, cut_middle, render_compact
from fnforge.functions import Function, FunctionSet

if TYPE_CHECKING:
    from fnforge.optimizer._evaluation import Report, TaskResult

__all__ = [
    "CHARS_PER_TOKEN",
    "MIN_HISTORY_CHARS",
    "OptimizerPrompt",
    "TEMPLATE_VALUES",
    "build_prompt",
    "check_template",
    "default_template",
    "estimate_tokens",
    "render_function",
    "render_function_set",
    "render_template",
]

CHARS_PER_TOKEN = 4
"""Characters per token assumed by :func:`estimate_tokens`."""

MIN_HISTORY_CHARS = 800
"""The shortest a kept history is cut to; below it, histories are omitted instead."""

_TEMPLATES = Path(__file__).with_name("templates")  # package data, next to this module
_ANSWER_CHARS = 120  # an expected or given answer in the per-task table (never cut further)
_UNCUT = 10**9  # render_compact's max_chars for a history's full length


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text``: ``ceil(len(text) / CHARS_PER_TOKEN)``.

    Example:
        >>> estimate_tokens("abcdefgh")
        2
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


TEMPLATE_VALUES = ("allowed_modules", "best_score", "failures", "histories", "histories_note", "list_a", "list_b",
                   "max_actions", "n_correct", "n_tasks", "table")
"""The placeholders an optimizer template may use (``$name``); the default uses all of them."""


def default_template(name: str = "optimizer") -> str:
    """The text of the package-data template ``templates/<name>.md``.

    Example:
        >>> default_template().startswith("You are a function optimizer.")
        True
    """
    return (_TEMPLATES / f"{name}.md").read_text(encoding="utf-8")


def check_template(text: str, *, source: str = "optimizer template") -> str:
    """``text`` if it is a usable optimizer template: it uses every value of :data:`TEMPLATE_VALUES` and no other.

    Raises:
        agents.PromptTemplateError: a placeholder is missing, unknown, or malformed (``$`` not
            followed by a name; ``$$`` is a literal dollar).

    Example:
        >>> check_template("$list_a") # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        fnforge.agents.PromptTemplateError: optimizer template: missing placeholders $allowed_modules, ...
    """
    return check_placeholders(text, required=TEMPLATE_VALUES, allowed=TEMPLATE_VALUES, source=source)


def render_template(name: str, values: Mapping[str, object], *, text: str | None = None) -> str:
    """Fill ``text`` (default: the package-data template ``templates/<name>.md``) with ``values``.

    Placeholders are ``$name`` (``$$`` is a literal dollar).

    Raises:
        KeyError: a placeholder has no value, or a value has no placeholder.

    Example:
        >>> render_template("greeting", {"who": "you"}, text="Hello, $who.")
        'Hello, you.'
    """
    template = string.Template(default_template(name) if text is None else text)
    wanted = set(template.get_identifiers())
    missing, extra = sorted(wanted - set(values)), sorted(set(values) - wanted)
    if missing or extra:
        raise KeyError(f"template {name!r}: missing values {missing}, unknown values {extra}")
    return template.substitute({k: str(v) for k, v in values.items()})


def render_function(fn: Function, *, with_code: bool = True) -> str:
    """One function in the paper's five-part signature format."""
    properties = fn.parameters.get("properties", {})
    lines = [
        f"## {fn.name}",
        f"description: {fn.description}",
        f"arguments: {json.dumps(properties, sort_keys=True, ensure_ascii=False)}",
        f"packages: {' '.join(fn.packages) or '(none)'}",
    ]
    if with_code:
        lines += ["code:", "```python", fn.code.rstrip("\n"), "```"]
    return "\n".join(lines)


def render_function_set(function_set: FunctionSet) -> str:
    """Every function of the set, or a note that it is empty."""
    if not len(function_set):
        return "(no functions: the assistant can only run Python code it writes itself)"
    return "\n\n".join(render_function(fn) for fn in function_set)


def _render_failure(index: int, best: FunctionSet, failed: FunctionSet, score: float, *, with_code: bool) -> str:
    diff = best.diff(failed)
    lines = [f"## Failed set {index}: success rate {score:.4f}", f"Changes from List A: {diff.describe()}"]
    for name in diff.added + diff.revised:
        kind = "added" if name in diff.added else "revised"
        body = render_function(failed[name], with_code=with_code)
        lines.append(body.replace(f"## {name}", f"### {name} ({kind})", 1))
    return "\n".join(lines)


def _render_failures(
    best: FunctionSet, failures: Sequence[tuple[FunctionSet, float]], *, with_code: bool
) -> str:
    if not failures:
        return "(empty: no set has failed since List A became the best)"
    ordered = sorted(failures, key=lambda pair: pair[1])
    return "\n\n".join(
        _render_failure(i, best, fs, score, with_code=with_code) for i, (fs, score) in enumerate(ordered, 1)
    )


def _render_table(results: Sequence[TaskResult], expected: Mapping[str, str]) -> str:
    if not results:
        return "(no tasks)"
    return "\n".join(_table_row(r, expected.get(r.task_id)) for r in results)


def _table_row(result: TaskResult, expected: str | None) -> str:
    if result.correct or expected is None:
        return f"{result.task_id}: {1 if result.correct else 0}"
    got = cut_middle(result.answer, _ANSWER_CHARS) if result.answer else "no answer"
    return f"{result.task_id}: 0 (expected {cut_middle(expected, _ANSWER_CHARS)}, got {got})"


def _history_header(result: TaskResult) -> str:
    status = "solved (1)" if result.correct else "failed (0)"
    return f"## Task {result.task_id}: {status}\n"


def _allocate(headers: Sequence[int], bodies: Sequence[int], available: int) -> tuple[int, int]:
    """How many entries to keep (in priority order) and the cap on each body.

    Keeps the most entries whose bodies, cut to ``MIN_HISTORY_CHARS``, fit;
    then the largest cap for which the kept entries fit.
    """
    total = sum(headers) + sum(bodies)
    if total <= available:
        return len(bodies), max(bodies, default=0)
    used, keep = 0, 0
    for head, body in zip(headers, bodies):
        cost = head + min(body, MIN_HISTORY_CHARS)
        if used + cost > available:
            break
        used, keep = used + cost, keep + 1
    if keep == 0:
        return 0, 0
    fixed = sum(headers[:keep])
    kept = sorted(bodies[:keep])
    lo, hi = min(MIN_HISTORY_CHARS, kept[-1]), kept[-1]
    while lo < hi:  # largest cap c with fixed + sum(min(b, c)) <= available
        mid = (lo + hi + 1) // 2
        if fixed + sum(min(b, mid) for b in kept) <= available:
            lo = mid
        else:
            hi = mid - 1
    return keep, lo


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimizerPrompt:
    """The first user message of an optimizer step and what was cut to fit it.

    Attributes:
        text: the prompt.
        tokens_estimate: :func:`estimate_tokens` of ``text``.
        budget_tokens: the budget it was built for.
        cut: one line per kind of cut (empty when nothing was cut).
        stable_chars: how long the start of ``text`` is that the failure record does not change: the
            instructions, List A, its histories and table. The next step with the same List A begins
            with the same characters, which a provider's prompt cache can serve.
    """

    text: str
    tokens_estimate: int
    budget_tokens: int
    cut: tuple[str, ...]
    stable_chars: int = 0


def build_prompt(
    *,
    best: FunctionSet,
    best_score: float,
    report: Report,
    failures: Sequence[tuple[FunctionSet, float]],
    max_actions: int,
    allowed_modules: Sequence[str],
    budget_tokens: int,
    expected: Mapping[str, str] | None = None,
    template: str | None = None,
) -> OptimizerPrompt:
    """Build the optimizer prompt for List A = ``best`` within ``budget_tokens``.

    List B starts equal to List A (the step's tool results say how it changes). The
    sections that change from step to step (List B, the failure record) come after
    those that change only with List A, so that consecutive prompts share a prefix.

    Args:
        best: List A, the best set so far.
        best_score: its training success rate (0..1).
        report: the evaluation of ``best`` on the training tasks (histories and table).
        failures: the failure record, (set, score) pairs in any order.
        max_actions: how many changes the step allows (told to the model).
        allowed_modules: the sandbox's import allow-list (told to the model).
        budget_tokens: the estimated-token budget of the prompt.
        expected: task id -> reference answer of the training tasks: each failure in the
            per-task table then reads ``0 (expected X, got Y)``. Never give it validation or
            test answers (the optimizer would fit them).
        template: the template text (checked with :func:`check_template`); default: the package's.

    Returns:
        The prompt text, its estimated size and what was cut.

    Raises:
        ValueError: ``budget_tokens`` is not positive.
        agents.PromptTemplateError: ``template`` lacks a placeholder or has an unknown one.
    """
    if budget_tokens <= 0:
        raise ValueError("budget_tokens must be positive")
    text = default_template() if template is None else check_template(template)
    results = tuple(report.results)
    values: dict[str, object] = {
        "max_actions": max_actions,
        "allowed_modules": ", ".join(allowed_modules) or "(none)",
        "best_score": f"{best_score:.4f}",
        "n_correct": sum(1 for r in results if r.correct),
        "n_tasks": len(results),
        "list_a": render_function_set(best),
        "list_b": "(same as List A: no change yet in this step)",
        "table": _render_table(results, expected or {}),
        "failures": _render_failures(best, failures, with_code=True),
    }
    ordered = sorted(results, key=lambda r: r.correct)  # stable: failed first, each in report order
    histories = _Histories(ordered)
    budget_chars = budget_tokens * CHARS_PER_TOKEN
    cut: list[str] = []
    if failures and histories.full_chars() > _room_for_histories(text, values, budget_chars, len(ordered)):
        values["failures"] = _render_failures(best, failures, with_code=False)
        cut.append(f"failure record: code of {len(failures)} failed sets omitted (changes and scores kept)")
    fitted = histories.fit(_room_for_histories(text, values, budget_chars, len(ordered)))
    values.update(histories=fitted.text, histories_note=fitted.note)
    prompt = render_template("optimizer", values, text=text)
    tokens = estimate_tokens(prompt)
    over = [] if tokens <= budget_tokens else [
        f"over budget: ~{tokens} tokens for a {budget_tokens}-token budget "
        "(List A, List B and the per-task table are never cut)"]
    return OptimizerPrompt(text=prompt, tokens_estimate=tokens, budget_tokens=budget_tokens,
                           cut=(*cut, *fitted.cut, *over), stable_chars=_stable_chars(text, values))


_NOTE_ROOM = 400  # the histories note is at most this long


def _room_for_histories(text: str, values: Mapping[str, object], budget_chars: int, count: int) -> int:
    """Characters left for the histories once everything else is in the prompt."""
    fixed = len(render_template("optimizer", {**values, "histories": "", "histories_note": ""}, text=text))
    return max(0, budget_chars - fixed - _NOTE_ROOM - 2 * count)


def _stable_chars(text: str, values: Mapping[str, object]) -> int:
    """The length of the prompt's start that no failure record or List B changes (two renderings that
    differ only there agree up to it)."""
    first = render_template("optimizer", {**values, "failures": "\x00", "list_b": "\x00"}, text=text)
    second = render_template("optimizer", {**values, "failures": "\x01", "list_b": "\x01"}, text=text)
    return len(os.path.commonprefix([first, second]))


@dataclass(frozen=True, slots=True)
class _Fitted:
    text: str
    note: str
    cut: tuple[str, ...]


class _Histories:
    """The execution histories of the training tasks, failed first, fitted to a number of characters."""

    def __init__(self, ordered: Sequence[TaskResult]) -> None:
        self.ordered = ordered
        self.headers = [_history_header(r) for r in ordered]
        self.bodies = [render_compact(r.trajectory, _UNCUT) for r in ordered]

    def full_chars(self) -> int:
        return sum(map(len, self.headers)) + sum(map(len, self.bodies))

    def fit(self, available: int) -> _Fitted:
        """Keep and cut histories to fit ``available`` characters (see the module docstring)."""
        keep, cap = _allocate([len(h) for h in self.headers], [len(b) for b in self.bodies], available)
        kept = zip(self.headers[:keep], self.bodies[:keep], self.ordered[:keep])
        entries = [h + (b if len(b) <= cap else render_compact(r.trajectory, cap)) for h, b, r in kept]
        total, shortened = len(self.ordered), sum(1 for b in self.bodies[:keep] if len(b) > cap)
        omitted = self.ordered[keep:]
        cut, notes = [], []
        if shortened:
            cut.append(f"histories: {shortened} of {total} cut in the middle to at most {cap} characters")
            notes.append(f"{shortened} histories are shortened (long lines and the middle cut, marked "
                         "[... N chars cut ...])")
        if omitted:
            failed = sum(1 for r in omitted if not r.correct)
            counts = f"({failed} failed, {len(omitted) - failed} solved)"
            cut.append(f"histories: {len(omitted)} of {total} omitted {counts}")
            notes.append(f"the histories of {len(omitted)} tasks {counts} are omitted")
        note = (f"To fit the prompt budget, {'; '.join(notes)}. Failed tasks come first; the per-task table "
                "below still lists every task.") if notes else (
            f"The conversations of all {total} tasks, failed tasks first.")
        return _Fitted("\n\n".join(entries) if entries else "(omitted: see the note above)", note, tuple(cut))
