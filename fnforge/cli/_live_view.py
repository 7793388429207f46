"""How ``fnforge train`` shows a run: a rich live display on a terminal, one line per step elsewhere.

Both views are ``on_event`` sinks for :class:`optimizer.Trainer`. The live view
shows the step and phase, a progress bar over the phase's tasks, a table of the
latest steps (epoch, status, train score, best so far, optimizer requests,
change), and the epoch, patience, tokens and cost. The epoch of a step is the
number of accepted updates after it, as in its commit's ``Epoch`` trailer and
``summary.json``. At the end both print :func:`summary_table`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fnforge.cli._terminal import visible
from fnforge.functions import plural
from fnforge.optimizer import (
    Phase, PhaseStarted, RunFinished, RunStarted, RunStop, RunSummary, Spend, StepFinished, StepRecord, StepStatus,
    TaskDone, TrainEvent,
)

__all__ = ["LiveView", "PlainView", "print_summary", "step_line", "summary_rows"]

_STYLE = {StepStatus.INITIAL: "blue", StepStatus.ACCEPTED: "green", StepStatus.REJECTED: "red",
          StepStatus.UNCHANGED: "dim"}
_MARK = {StepStatus.INITIAL: "●", StepStatus.ACCEPTED: "✓", StepStatus.REJECTED: "✗", StepStatus.UNCHANGED: "·"}
_STOP = {RunStop.EPOCHS: "reached {epochs}", RunStop.PATIENCE: "early stop after {patience} without improvement", RunStop.MAX_STEPS: "reached --max-steps", RunStop.BUDGET: "budget spent"}
_ROWS = 12
_PHASE_LABEL = {Phase.INITIAL: "step 0 · evaluating the initial set",
                Phase.OPTIMIZE: "step {step} · asking the optimizer LLM…",
                Phase.EVALUATE: "step {step} · evaluating the trial",
                Phase.BASELINE: "step {step} · scoring the best",
                Phase.TEST: "test · evaluating the best set",
                Phase.VALIDATE: "step {step} · validating"}


def _spent(spent: Spend) -> str:
    return f"{spent.tokens:,} tokens, ${spent.cost:.4f}"


def _requests(event: StepRecord) -> str:
    """The optimizer requests of a step: ``2``, ``2 (2 cached)``, or ``-`` for the initial evaluation."""
    if event.status is StepStatus.INITIAL:
        return "-"
    return f"{event.optimizer_calls}" + (f" ({event.optimizer_cached} cached)" if event.optimizer_cached else "")


def step_line(finished: StepFinished) -> str:
    """The one-line form of a finished step (what the plain view prints)."""
    event = finished.record
    commit = (event.commit or "-")[:7]
    tail = f" (rolled back: {event.rollback[:7]})" if event.rollback else ""
    return (f"step {event.step:>3}  {event.status.value:<9} train {event.score:.4f}  best {event.best_score:.4f}  "
            f"opt {_requests(event):>2}  {commit:<7}  {visible(event.subject)}{tail}")


def _started_line(event: RunStarted) -> str:
    verb = f"resuming run {event.run_id} after step {event.step}" if event.resumed else f"run {event.run_id}"
    steps = f", max steps {event.max_steps}" if event.max_steps is not None else ""
    return (f"{verb} on {event.branch}: {event.train_tasks} train / {event.test_tasks} test tasks, "
            f"epochs {event.epochs}, patience {event.patience}{steps}")


def summary_rows(summary: RunSummary, *, epochs: int, patience: int) -> list[tuple[str, str]]:
    """The end-of-run facts as (label, value): why it stopped, steps, scores, test score, best commit, spend."""
    stop = _STOP[summary.stop].format(epochs=plural(epochs, "accepted epoch"),
                                      patience=plural(patience, "step"))
    rows = [("stopped", stop + (" (resumed)" if summary.resumed else "")),
            ("steps", f"{summary.steps} ({summary.epochs} accepted, {summary.rejected} rejected, "
                      f"{summary.unchanged} unchanged)")]
    calls = sum(r.optimizer_calls for r in summary.history)
    cached = sum(r.optimizer_cached for r in summary.history)
    rows.append(("optimizer", plural(calls, "request") + (f" ({cached} from the cache)" if cached else "")))
    rows.append(("train score", f"{summary.initial_score:.4f} -> {summary.best_score:.4f}"))
    if summary.best_val is not None:
        rows.append(("val score", f"{summary.best_val:.4f} (selects the best)"))
    if summary.test is not None:
        test = summary.test
        rows.append(("test score", f"{test.accuracy:.4f} ({test.correct}/{test.n}, 95% CI "
                                   f"{test.ci95[0]:.2f}-{test.ci95[1]:.2f}), functions: {test.policy} "
                                   f"({len(test.functions)})"))
    else:
        why = "budget spent" if summary.stop is RunStop.BUDGET else "no test tasks"
        rows.append(("test score", f"not evaluated ({why}); run: fnforge eval best/{summary.branch} --split test"))
    names = ", ".join(summary.best_functions) or "(no functions)"
    rows.append(("best", f"{summary.best_commit[:7]}  {names}"))
    rows.append(("spent", f"{summary.tokens:,} tokens, ${summary.cost:.4f}"))
    rows.append(("cached", f"{summary.cached_tokens:,} of {summary.prompt_tokens:,} prompt tokens "
                           f"({summary.cached_share:.0%}) from the provider's prompt cache"))
    return rows


def print_summary(console: Console, summary: RunSummary, *, epochs: int, patience: int) -> None:
    """The end-of-run facts, then where the summary is and how to read the run (lines never wrapped or padded)."""
    console.print(Text(f"Training run {summary.run_id} ({summary.branch})", style="bold"), soft_wrap=True)
    for label, value in summary_rows(summary, epochs=epochs, patience=patience):
        console.print(Text.assemble((f"{label:<12}", "bold"), " ", visible(value)), soft_wrap=True)
    console.print(f"Run summary: {_shown_path(summary.path)}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"Read it with: fnforge log  |  fnforge report --run {summary.run_id} --out report", soft_wrap=True,
                  markup=False, highlight=False)


def _shown_path(path: str) -> str:
    """``path`` relative to the working directory when it is below it, else as given."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


class PlainView:
    """Prints one line when the run starts and one per finished step (logs, pipes, tests)."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self._echo = echo

    def __call__(self, event: TrainEvent) -> None:
        if isinstance(event, RunStarted):
            self._echo(_started_line(event))
        elif isinstance(event, StepFinished):
            self._echo(step_line(event))


class LiveView:
    """A rich live display of a run; use as a context manager around the run.

    Example (async or needs a provider, so shown, not run)::

        with LiveView(Console()) as view:
            summary = asyncio.run(trainer.run())    # with on_event=view
    """

    def __init__(self, console: Console) -> None:
        self._live = Live(console=console, refresh_per_second=8, transient=False)
        self._header = "starting"
        self._phase: PhaseStarted | None = None
        self._progress: TaskDone | None = None
        self._rows: list[StepRecord] = []
        self._finished = False  # the last frame lists every step, step 0 included
        self._epochs = self._patience = 0
        self._stale, self._epoch = 0, 0
        self._spent = Spend()

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._phase, self._finished = None, True
        self._live.update(self._render(), refresh=True)
        self._live.stop()

    def __call__(self, event: TrainEvent) -> None:
        if isinstance(event, RunStarted):
            self._header = _started_line(event)
            self._epochs, self._patience, self._spent = event.epochs, event.patience, event.spent
        elif isinstance(event, PhaseStarted):
            self._phase, self._progress = event, None
        elif isinstance(event, TaskDone):
            self._progress, self._spent = event, event.spent
        elif isinstance(event, StepFinished):
            self._rows.append(event.record)
            self._stale, self._epoch, self._spent = event.stale, event.record.epoch, event.spent
        elif isinstance(event, RunFinished):
            self._phase = None
        # Task progress waits for the next auto-refresh; phase and step changes show at once.
        self._live.update(self._render(), refresh=not isinstance(event, TaskDone))

    def _render(self) -> RenderableType:
        parts: list[RenderableType] = [Text(self._header, style="bold")]
        if self._phase is not None:
            phase = self._phase
            line = Table.grid(padding=(0, 1))
            label = _PHASE_LABEL[phase.phase].format(step=phase.step)
            if phase.phase is Phase.OPTIMIZE or not phase.total:
                line.add_row(Text(label))
            else:
                done = self._progress.done if self._progress is not None else 0
                correct = self._progress.correct if self._progress is not None else 0
                line.add_row(Text(label), ProgressBar(total=phase.total, completed=done, width=30),
                             Text(f"{done}/{phase.total} tasks, {correct} correct"))
            parts.append(line)
        if self._rows:
            parts.append(self._table())
        parts.append(Text(f"epoch {self._epoch}/{self._epochs} · without improvement {self._stale}/"
                          f"{self._patience} · {_spent(self._spent)}", style="dim"))
        return Group(*parts)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name, justify in (("step", "right"), ("epoch", "right"), ("status", "left"), ("train", "right"),
                              ("best", "right"), ("opt", "right"), ("commit", "left"), ("change", "left")):
            table.add_column(name, justify=justify, no_wrap=name != "change")  # type: ignore[arg-type]
        for row in self._rows if self._finished else self._rows[-_ROWS:]:
            style = _STYLE[row.status]
            table.add_row(str(row.step), str(row.epoch), Text(f"{_MARK[row.status]} {row.status.value}", style=style),
                          f"{row.score:.4f}", f"{row.best_score:.4f}", _requests(row), (row.commit or "-")[:7],
                          visible(row.subject) + (f" (rolled back: {row.rollback[:7]})" if row.rollback else ""))
        return table
