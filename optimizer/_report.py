"""What a training run did, read back from the toolset repository: the data behind ``fnforge report``.

Everything comes from commits, trailers and notes (no LLM, no sandbox):

- the learning curve: every scored step of the run (``Status`` initial,
  accepted, rejected, merge, manual; roll-backs only restore and are not steps),
  x = the ``Step`` trailer;
- the best commit of the run, its score, and its test score (the ``test`` note
  the trainer writes after a run, or ``fnforge eval --split test``);
- per function of the best set: code, cyclomatic complexity (``lizard``, as the
  paper's Tables 5-6), its history (``git log -p`` of its files) and its
  successful calls per epoch (``function_calls`` of each step's ``train`` note).

:func:`write_report` renders it as one self-contained HTML page plus PNGs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fnforge import registry
from fnforge.functions import Function, plural
from fnforge.optimizer._run_state import UnknownRun, unchanged_steps
from fnforge.registry import function_history

__all__ = [
    "FunctionReport",
    "RunReport",
    "StepPoint",
    "build_report",
    "function_complexity",
    "summary_lines",
    "write_report",
]

_STEP_STATUSES = ("initial", "accepted", "rejected", "manual", "merge")


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPoint:
    """One scored step of a run: where it sits on the learning curve."""

    step: int
    epoch: int | None
    status: str
    score: float
    commit: str
    subject: str
    val_score: float | None = None  # ``Val-Score``: initial and accepted steps of a run with validation tasks


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionReport:
    """One function of the best set: its code, complexity, history and use.

    Args:
        function: the function as the best commit holds it.
        complexity: lizard's cyclomatic complexity of ``def <name>`` (nested helpers excluded).
        nloc: lines of code (lizard's count, without comments and blank lines).
        helpers: nested functions inside it.
        history: ``(short sha, status, subject, patch)`` per commit that changed it, newest first.
        calls: ``(epoch, successful calls on the training tasks)`` per scored epoch of the run.
    """

    function: Function
    complexity: int
    nloc: int
    helpers: int
    history: tuple[tuple[str, str, str, str], ...]
    calls: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """The report of one run (or of a whole branch when it has no ``Run`` trailers)."""

    branch: str
    run: str | None
    runs: tuple[str, ...]
    steps: tuple[StepPoint, ...]
    best_commit: str | None
    best_score: float | None
    test_score: float | None
    test_n: int | None
    tasks: str | None
    functions: tuple[FunctionReport, ...]
    best_val: float | None = None

    @property
    def mean_complexity(self) -> float | None:
        """Mean cyclomatic complexity of the best set's functions (the paper's Table 6 figure)."""
        values = [f.complexity for f in self.functions]
        return sum(values) / len(values) if values else None


def function_complexity(function: Function) -> tuple[int, int, int]:
    """``(cyclomatic complexity, nloc, nested helpers)`` of ``def <name>`` per ``lizard``.

    Example:
        >>> function_complexity(Function(name="f", description="d", parameters={"type": "object", "properties": {}},
        ...                     code="def f():\\n    return 1\\n"))
        (1, 2, 0)
    """
    import lizard  # here, not at the top: `import fnforge.optimizer` stays cheap

    analysis = lizard.analyze_file.analyze_source_code(f"{function.name}.py", function.code)
    own = [f for f in analysis.function_list if f.name == function.name]
    helpers = len(analysis.function_list) - len(own)
    if not own:
        return 1, analysis.nloc, helpers
    return int(own[0].cyclomatic_complexity), int(own[0].nloc), helpers


def build_report(repo: registry.Repository, *, branch: str | None = None, run: str | None = None) -> RunReport:
    """Read a run's learning curve, best set, test score, histories and call counts from ``repo``.

    Args:
        repo: the toolset.
        branch: the branch (default: the checked-out one).
        run: the run id (``Run`` trailer); default the branch's latest run.
            ``"all"`` takes every scored commit of the branch.

    Returns:
        The report data.

    Raises:
        UnknownRevision: the branch does not exist.
        UnknownRun: ``run`` is not a run of the branch (exit code 2).

    Example:
        >>> build_report(repo, branch="main").best_score
        0.65
    """
    name = branch or repo.head_branch or "HEAD"
    versions = list(reversed(repo.log(name)))  # oldest first
    runs = tuple(dict.fromkeys(v.run for v in versions if v.run))
    if run is None:
        chosen = runs[-1] if runs else None
    elif run == "all":
        chosen = None
    elif run in runs:
        chosen = run
    else:
        known = ", ".join(runs) if runs else "none"
        raise UnknownRun(f"no run {run!r} on {name}; runs there: {known}")
    in_run = [v for v in versions if chosen is None or v.run == chosen]
    steps = _steps(in_run) if chosen is None else _with_unchanged(_steps(in_run), repo, chosen)
    best = registry.best_of(list(reversed(in_run)), "train")
    test_score, test_n = _test_score(repo, best.sha) if best is not None else (None, None)
    functions: tuple[FunctionReport, ...] = ()
    if best is not None:
        calls = _calls_by_epoch(repo, in_run)
        functions = tuple(
            _function_report(repo, fn, best.sha, calls.get(fn.name, ())) for fn in repo.read(best.sha)
        )
    tasks = best.trailer("Tasks") if best is not None else None
    return RunReport(
        branch=name, run=chosen, runs=runs, steps=steps, best_commit=best.sha if best else None,
        best_score=best.score if best else None, test_score=test_score, test_n=test_n, tasks=tasks,
        functions=functions, best_val=_float(best.trailer("Val-Score")) if best is not None else None,
    )


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _steps(versions: Sequence[registry.Version]) -> tuple[StepPoint, ...]:
    points: list[StepPoint] = []
    for version in versions:
        if version.score is None or version.status not in _STEP_STATUSES:
            continue
        step_text = version.trailer("Step")
        step = int(step_text) if step_text and step_text.isdigit() else (points[-1].step + 1 if points else 0)
        points.append(StepPoint(step=step, epoch=version.epoch, status=str(version.status), score=version.score,
                                commit=version.sha, subject=version.subject,
                                val_score=_float(version.trailer("Val-Score"))))
    return tuple(points)


def _with_unchanged(points: tuple[StepPoint, ...], repo: registry.Repository, run: str) -> tuple[StepPoint, ...]:
    """``points`` with the run's steps that committed nothing (this clone's journal), in step order."""
    scored = {p.step for p in points}
    quiet = [StepPoint(step=r.step, epoch=r.epoch, status="unchanged", score=r.score, commit="", subject=r.subject)
             for r in unchanged_steps(repo, run) if r.step not in scored]
    return tuple(sorted((*points, *quiet), key=lambda p: p.step))


def _test_score(repo: registry.Repository, sha: str) -> tuple[float | None, int | None]:
    note = repo.note(sha) or {}
    test = note.get("test")
    if isinstance(test, dict) and isinstance(test.get("accuracy"), (int, float)):
        n = test.get("n")
        return float(test["accuracy"]), n if isinstance(n, int) else None
    return None, None


def _calls_by_epoch(repo: registry.Repository, versions: Sequence[registry.Version]) -> dict[str, tuple[tuple[int, int], ...]]:
    """function -> (epoch, successful calls) from the ``train`` notes of the run's best-so-far commits.

    Per epoch the set that held it is the one accepted (or initial) at that epoch: its
    training evaluation is what the optimizer read before the next step.
    """
    per_epoch: dict[int, dict[str, int]] = {}
    for version in versions:
        if version.status not in ("initial", "accepted", "merge", "manual") or version.score is None:
            continue
        note = repo.note(version.sha) or {}
        train = note.get("train")
        if not isinstance(train, dict) or not isinstance(train.get("function_calls"), dict):
            continue
        epoch = version.epoch if version.epoch is not None else len(per_epoch)
        counts = {str(k): int(v) for k, v in train["function_calls"].items() if isinstance(v, int)}
        names = set(counts) | set(repo.read(version.sha).names)
        per_epoch[epoch] = {n: counts.get(n, 0) for n in names}
    calls: dict[str, list[tuple[int, int]]] = {}
    for epoch, counts in sorted(per_epoch.items()):
        for name, count in counts.items():
            calls.setdefault(name, []).append((epoch, count))
    return {name: tuple(series) for name, series in calls.items()}


def _function_report(
    repo: registry.Repository, function: Function, sha: str, calls: tuple[tuple[int, int], ...]
) -> FunctionReport:
    ccn, nloc, helpers = function_complexity(function)
    history = tuple(
        (e.version.short, e.version.status or "", e.version.subject, e.patch)
        for e in function_history(repo, function.name, rev=sha)
    )
    return FunctionReport(function=function, complexity=ccn, nloc=nloc, helpers=helpers, history=history,
                          calls=calls)


def summary_lines(report: RunReport) -> list[str]:
    """A short terminal summary of the report (a few lines).

    Example:
        >>> summary_lines(build_report(repo))[0]
        'branch main: 3 steps (1 accepted, 1 rejected, 0 unchanged)'
    """
    counts = {s: sum(1 for p in report.steps if p.status == s) for s in ("accepted", "rejected", "unchanged")}
    run = f", run {report.run}" if report.run else ""
    lines = [f"branch {report.branch}{run}: {plural(len(report.steps), 'step')} "
             f"({counts['accepted']} accepted, {counts['rejected']} rejected, {counts['unchanged']} unchanged)"]
    if report.best_commit is None:
        return lines + ["no scored version yet"]
    first = report.steps[0].score if report.steps else None
    start = f"{first:.4f} -> " if first is not None else ""
    test = f", test {report.test_score:.4f}" if report.test_score is not None else ", test: not evaluated"
    val = f", val {report.best_val:.4f}" if report.best_val is not None else ""
    lines.append(f"best {report.best_commit[:7]}: train {start}{report.best_score:.4f}{val}{test}")
    mean = report.mean_complexity
    complexity_text = f", mean cyclomatic complexity {mean:.1f}" if mean is not None else ""
    count = len(report.functions)
    lines.append(f"{count} function{'s' * (count != 1)}{complexity_text}")
    for fr in report.functions:
        last = fr.calls[-1][1] if fr.calls else 0
        lines.append(f"  {fr.function.name:<28} complexity {fr.complexity:>2}  successful calls (last epoch) {last}")
    return lines


def write_report(report: RunReport, out_dir: Path) -> Path:
    """Write ``index.html`` (self-contained: images inlined) and the PNGs into ``out_dir``.

    Returns:
        The path of ``index.html``.

    Example:
        >>> write_report(build_report(repo), Path("report"))
        PosixPath('report/index.html')
    """
    from fnforge.optimizer._plots import plot_function_calls, plot_learning_curve
    from fnforge.optimizer._report_html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    curve = plot_learning_curve(
        [(p.step, p.score, p.status) for p in report.steps], out_dir / "learning-curve.png",
        test_score=report.test_score, title=f"Learning curve: {report.branch}" + (f" ({report.run})" if report.run else ""),
        val_points=[(p.step, p.val_score) for p in report.steps if p.val_score is not None],
    )
    calls = {fr.function.name: fr.calls for fr in report.functions if fr.calls}
    calls_png = plot_function_calls(calls, out_dir / "function-calls.png") if calls else None
    index = out_dir / "index.html"
    index.write_text(render_html(report, curve_png=curve, calls_png=calls_png), encoding="utf-8")
    return index
