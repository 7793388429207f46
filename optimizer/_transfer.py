"""Cross-domain evaluation: the transfer matrix (the paper's Fig. 3) and scoring a merge on both domains.

A *domain* is a label plus its tasks (e.g. ``math:algebra`` and its test
split). :func:`transfer_matrix` evaluates each function set (usually each
domain branch's best set, plus the untrained empty set as a baseline row) on
each domain; :func:`merge_domains` merges one branch into another and scores
the merged set on both domains' training tasks. Every evaluation goes through
:func:`~optimizer.evaluate` with the caller's cache, so a cell scored before
(by ``fnforge eval`` or training) costs no LLM call.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fnforge.functions import FunctionSet
from fnforge.optimizer._evaluation import Report, evaluate
from fnforge.optimizer._exceptions import OptimizerError
from fnforge.optimizer._run_state import check_measured
from fnforge.registry import Repository, Version
from fnforge.registry import MergePlan, commit_merge, plan_merge
from fnforge.sandbox import check
from fnforge.tasks import selection_hash

if TYPE_CHECKING:
    from fnforge.agents import AgentConfig, LLMClient
    from fnforge.optimizer._eval_cache import EvalCache
    from fnforge.sandbox import Sandbox
    from fnforge.tasks import Task

__all__ = [
    "BASELINE_LABEL",
    "MERGE_MODES",
    "Domain",
    "MergeOutcome",
    "TransferMatrix",
    "merge_domains",
    "transfer_matrix",
]

MERGE_MODES = ("ours", "theirs", "best-score", "both")
"""How :func:`merge_domains` resolves a function changed on both sides."""

BASELINE_LABEL = "untrained"
"""The label of the baseline row: the empty function set."""

CellProgress = Callable[[str, str, Report], None]
"""``progress(row, column, report)`` after each cell."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Domain:
    """A task set to test on (or train on): its label and its tasks."""

    label: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferMatrix:
    """Scores of function sets (rows: trained on) on task sets (columns: tested on).

    ``reports[i][j]`` is the evaluation of row i's set on column j's tasks;
    ``trees[i]`` the row's function-set tree hash.
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    trees: tuple[str, ...]
    reports: tuple[tuple[Report, ...], ...]

    @property
    def scores(self) -> tuple[tuple[float, ...], ...]:
        """Accuracy per cell, row by row."""
        return tuple(tuple(r.accuracy for r in row) for row in self.reports)

    def score(self, row: str, column: str) -> float:
        """The accuracy of one cell.

        Raises:
            KeyError: no such row or column.
        """
        return self.reports[self.rows.index(row)][self.columns.index(column)].accuracy

    def to_csv(self) -> str:
        """One line per cell: ``trained_on,tested_on,accuracy,correct,n,ci95_low,ci95_high,tree``.

        Example:
            >>> matrix = TransferMatrix(rows=("none",), columns=("arithmetic",), trees=("4b825dc",),
            ...                         reports=((report,),))
            >>> print(matrix.to_csv(), end="")
            trained_on,tested_on,accuracy,correct,n,ci95_low,ci95_high,tree
            none,arithmetic,0.6667,2,3,0.2077,0.9385,4b825dc
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["trained_on", "tested_on", "accuracy", "correct", "n", "ci95_low", "ci95_high", "tree"])
        for row, tree, reports in zip(self.rows, self.trees, self.reports):
            for column, report in zip(self.columns, reports):
                writer.writerow([row, column, f"{report.accuracy:.4f}", report.correct, report.n,
                                 f"{report.ci95[0]:.4f}", f"{report.ci95[1]:.4f}", tree])
        return out.getvalue()

    def format_table(self, *, column_label: Callable[[str], str] = str) -> str:
        """The matrix as aligned text: rows = trained on, columns = tested on.

        Args:
            column_label: shortens a column's label for display (e.g. drops a path's folders).
        """
        corner = "trained on \\ tested on"
        first = max([len(corner), *(len(r) for r in self.rows)])
        columns = [column_label(c) for c in self.columns]
        widths = [max(len(c), 6) for c in columns]
        lines = [corner.ljust(first) + "".join(f"  {c:>{w}}" for c, w in zip(columns, widths))]
        for row, scores in zip(self.rows, self.scores):
            lines.append(row.ljust(first) + "".join(f"  {s:>{w}.4f}" for s, w in zip(scores, widths)))
        return "\n".join(lines)


async def transfer_matrix(
    sets: Sequence[tuple[str, FunctionSet]],
    domains: Sequence[Domain],
    agent_config: AgentConfig,
    *,
    client: LLMClient,
    sandbox: Sandbox,
    cache: EvalCache | None = None,
    concurrency: int = 8,
    baseline: bool = True,
    progress: CellProgress | None = None,
) -> TransferMatrix:
    """Evaluate every set on every domain (cells in row order, each evaluation concurrent and cached).

    Args:
        sets: ``(row label, function set)``, e.g. each domain branch's best set.
        domains: the columns.
        agent_config: the agent system all cells use.
        client: an open LLM client.
        sandbox: where tool calls run.
        cache: the evaluation cache (cells already scored cost nothing).
        concurrency: tasks in flight per cell.
        baseline: put the untrained row (the empty set) first.
        progress: called after each cell.

    Returns:
        The matrix.

    Raises:
        ValueError: no sets or no domains, or a repeated label.
        ProviderOutage: a cell had tasks that failed at the provider (no matrix is returned).

    Example (async or needs a provider, so shown, not run)::

        m = await transfer_matrix([("domain/algebra", fs)], [Domain(label="math:algebra", tasks=test)],
                                  AgentConfig(), client=client, sandbox=sandbox)
        print(m.format_table())
    """
    rows = [(BASELINE_LABEL, FunctionSet())] if baseline else []
    rows += list(sets)
    if not rows or not domains:
        raise ValueError("a transfer matrix needs at least one function set and one task set")
    for what, labels in (("row", [r for r, _ in rows]), ("column", [d.label for d in domains])):
        if len(set(labels)) != len(labels):
            raise ValueError(f"{what} labels must be unique: {', '.join(labels)}")
    reports: list[tuple[Report, ...]] = []
    for label, function_set in rows:
        row: list[Report] = []
        for domain in domains:
            report = await evaluate(function_set, domain.tasks, agent_config, client=client, sandbox=sandbox,
                                    cache=cache, concurrency=concurrency)
            check_measured(report, f"the cell {label} x {domain.label} was not measured")
            row.append(report)
            if progress is not None:
                progress(label, domain.label, report)
        reports.append(tuple(row))
    return TransferMatrix(
        rows=tuple(r for r, _ in rows),
        columns=tuple(d.label for d in domains),
        trees=tuple(fs.tree_hash for _, fs in rows),
        reports=tuple(reports),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeOutcome:
    """A scored, committed merge: the commit, the plan, its scores on both domains, and the mode used.

    ``prefer`` is what resolved the conflicts (``best-score`` resolves to
    ``ours`` or ``theirs``: whichever merged set scored higher on both domains).
    """

    version: Version
    plan: MergePlan
    ours: Report
    theirs: Report
    prefer: str


async def merge_domains(
    repo: Repository,
    other: str,
    *,
    prefer: str,
    ours_domain: Domain,
    theirs_domain: Domain,
    agent_config: AgentConfig,
    client: LLMClient,
    sandbox: Sandbox,
    cache: EvalCache | None = None,
    concurrency: int = 8,
    branch: str | None = None,
) -> MergeOutcome:
    """Merge branch ``other`` into ``branch``, score the merged set on both domains' training tasks, commit.

    The commit has two parents and ``Status: merge``; ``Score`` is the score
    on ours' training tasks (comparable with the branch's history), and
    ``Score-Ours`` / ``Score-Theirs`` with ``Tasks`` / ``Tasks-Theirs`` record
    both. The note holds both evaluations (``train`` and ``train-theirs``).

    Args:
        repo: the toolset.
        other: the branch to merge in.
        prefer: ``ours``, ``theirs``, ``both`` (keep theirs renamed) or
            ``best-score`` (build the ``ours`` and ``theirs`` merges, keep the
            one with more correct tasks over both domains; ties keep ours).
        ours_domain, theirs_domain: each branch's training tasks.
        agent_config, client, sandbox, cache, concurrency: as for :func:`evaluate`.
        branch: the branch merged into (default: the checked-out one).

    Raises:
        OptimizerError: a merged function fails the sandbox's static gate.
        ProviderOutage: a merged set's evaluation had tasks that failed at the provider (nothing is committed).
        RegistryError: ``other`` is already merged, or the branch moved meanwhile.
        ValueError: an unknown ``prefer``.

    Example (async or needs a provider, so shown, not run)::

        out = await merge_domains(repo, "domain/geometry", prefer="both", ours_domain=a, theirs_domain=g,
                                  agent_config=AgentConfig(), client=client, sandbox=sandbox)
    """
    if prefer not in MERGE_MODES:
        raise ValueError(f"prefer must be one of {', '.join(MERGE_MODES)}, not {prefer!r}")

    async def score(plan: MergePlan) -> tuple[Report, Report]:
        _check_merged(plan, sandbox)
        function_set = plan.result.function_set
        ours = await evaluate(function_set, ours_domain.tasks, agent_config, client=client, sandbox=sandbox,
                              cache=cache, concurrency=concurrency)
        theirs = await evaluate(function_set, theirs_domain.tasks, agent_config, client=client, sandbox=sandbox,
                                cache=cache, concurrency=concurrency)
        for report in (ours, theirs):
            check_measured(report, "nothing was merged")
        return ours, theirs

    used = prefer
    if prefer == "best-score":
        plan = plan_merge(repo, other, prefer="ours", branch=branch)
        ours_report, theirs_report = await score(plan)
        used = "ours"
        if plan.result.conflicts:
            alternative = plan_merge(repo, other, prefer="theirs", branch=branch)
            alt_ours, alt_theirs = await score(alternative)
            if alt_ours.correct + alt_theirs.correct > ours_report.correct + theirs_report.correct:
                plan, ours_report, theirs_report, used = alternative, alt_ours, alt_theirs, "theirs"
    else:
        plan = plan_merge(repo, other, prefer=prefer, branch=branch)
        ours_report, theirs_report = await score(plan)
    version = commit_merge(repo, plan, subject=f"merge {other} into {plan.branch}: {plan.result.describe()}",
                           body=_merge_body(plan, prefer, used),
                           trailers=_merge_trailers(ours_report, theirs_report, ours_domain, theirs_domain,
                                                    model=client.config.model, other=other, prefer=prefer))
    note = ours_report.notes_dict("train", split="train", tasks=_describe(ours_domain), merge=True)
    note.update(theirs_report.notes_dict("train-theirs", split="train", tasks=_describe(theirs_domain)))
    repo.add_note(version.sha, note)
    return MergeOutcome(version=version, plan=plan, ours=ours_report, theirs=theirs_report, prefer=used)


def _check_merged(plan: MergePlan, sandbox: Sandbox) -> None:
    for function in plan.result.function_set:
        problems = check(function.code, function.name, sandbox.policy)
        if problems:
            raise OptimizerError(f"merged function {function.name!r} fails the sandbox check: "
                                 + "; ".join(str(p) for p in problems))


def _describe(domain: Domain) -> str:
    return f"{domain.label} ({len(domain.tasks)} tasks, sha256:{selection_hash(domain.tasks)[:12]})"


def _merge_body(plan: MergePlan, prefer: str, used: str) -> str:
    base = f"Merge base {plan.base[:7] if plan.base else 'none'}"
    if not plan.result.conflicts:
        return f"{base}; no function was changed on both sides."
    chose = f" (chose {used})" if prefer == "best-score" else ""
    lines = [f"{base}; conflicts resolved with --prefer {prefer}{chose}:"]
    for conflict in plan.result.conflicts:
        lines.append(f"- {conflict.name}: ours {conflict.ours}, theirs {conflict.theirs}; kept "
                     + (", ".join(conflict.kept) or "nothing"))
    return "\n".join(lines)


def _merge_trailers(ours: Report, theirs: Report, ours_domain: Domain, theirs_domain: Domain, *, model: str,
                    other: str, prefer: str) -> dict[str, str | int | float]:
    return {"Score": ours.accuracy, "Metric": "accuracy", "Split": "train", "Status": "merge",
            "Tasks": _describe(ours_domain), "Model": model, "Score-Ours": f"{ours.accuracy:.4f}",
            "Score-Theirs": f"{theirs.accuracy:.4f}", "Tasks-Theirs": _describe(theirs_domain),
            "Merged-Branch": other, "Prefer": prefer}
