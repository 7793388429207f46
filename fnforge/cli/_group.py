"""The click group, its global options, and the one place errors become exit codes.

Command modules are ``fnforge/_cmd_*.py``; each registers its commands on
``cli``. A module is imported only when one of its commands runs (see
``COMMAND_MODULES``), so ``fnforge log`` does not pay for openai or matplotlib.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any  # Any: click's context objects

import click

from fnforge.cli._terminal import visible

__all__ = ["COMMAND_MODULES", "COMMAND_SUMMARIES", "AppContext", "FnforgeGroup", "cli", "main", "pass_app"]

COMMAND_MODULES = {
    **dict.fromkeys(("init", "log", "best", "diff", "rollback", "branch", "switch"), "registry"),
    **dict.fromkeys(("new", "commit", "show"), "edit"),
    "config": "config",
    **dict.fromkeys(("check", "call", "trust"), "sandbox"),
    "eval": "eval",
    "train": "train",
    **dict.fromkeys(("push", "pull", "remote"), "sync"),
    **dict.fromkeys(("export", "clone", "verify", "blame", "bisect", "bisect-step"), "share"),
    **dict.fromkeys(("domains", "transfer", "merge", "report"), "study"),
    "data": "data",
    "sweep": "sweep",
}
"""Command name -> the ``fnforge/_cmd_<module>.py`` that defines it."""

COMMAND_SUMMARIES: dict[str, str | None] = {
    "best": "Show a branch's best version for a task set: what best/<branch> names everywhere.",
    "bisect": "Find the training step that broke a task: git bisect run with the evaluator as the test.",
    "bisect-step": None,
    "blame": "Show which training step (commit, epoch, run) introduced each line of a function.",
    "branch": "Create, list and delete branches (one per task domain, e.g. domain/algebra).",
    "call": "Run one function of the toolset in the sandbox and print its result as JSON.",
    "check": "Check one function's source against the sandbox rules, without running it.",
    "clone": "Clone a toolset and verify it before anything in it can run.",
    "commit": "Validate and commit hand edits of functions/ (and fnforge.toml) with Status: manual.",
    "config": "Read or set the toolset's settings in fnforge.toml, the defaults of every command.",
    "data": "See and fetch the built-in datasets (MATH, GSM8K, TabMWP).",
    "diff": "Per-function unified diff between two versions (the second defaults to HEAD).",
    "domains": "List each branch's task, best train score, test score, functions and last run.",
    "eval": "Score REV's functions (default HEAD) on a split of a task set; note the result on its commit.",
    "export": "Export the function set of REV (default HEAD) for use outside fnforge.",
    "init": "Create a toolset repository: fnforge.toml, an empty functions/ folder, and a first commit.",
    "log": "List a branch's versions, newest first: sha, status, score, epoch, subject.",
    "merge": "Merge another domain branch's functions into the checked-out branch, scored on both domains.",
    "new": "Start a function by hand: functions/NAME.py (a stub) and functions/NAME.json derived from it.",
    "pull": "Fetch branches, best pointers and notes from REMOTE; create or fast-forward the local branches.",
    "push": "Push branches, their best pointers and the evaluation notes to REMOTE (a name or URL; default origin).",
    "remote": "Add remotes that carry notes and best pointers with every git fetch.",
    "report": "Write an HTML report of a training run: learning curve, best set, histories, calls, complexity.",
    "pull": "Fetch branches, best pointers and notes from REMOTE; create or fast-forward the local branches.",
    "push": "Push branches, their best pointers and the evaluation notes to REMOTE (a name or URL; default origin).",
    "remote": "Add remotes that carry notes and best pointers with every git fetch.",
    "rollback": "Restore an earlier version by a revert commit (Status: rollback); history is kept.",
    "show": "Show a version's function set, or one function's spec and code with REV:NAME.",
    "switch": "Check out BRANCH (like git switch; plain git switch works too), refusing to lose edits in functions/.",
    "sweep": "Run a grid of training runs: one branch and one fnforge train per cell, several at once.",
    "train": "Train the branch's functions: optimizer step, evaluate, commit, roll back, early stop.",
    "transfer": "Evaluate each branch's best set on each task set: a transfer matrix (the paper's Fig. 3).",
    "trust": "Trust this toolset's fnforge.toml [sandbox] table, exactly as it is now, to widen your limits.",
    "verify": "Re-check a toolset without running it: functions, trailers, notes, best pointers, task paths.",
}
"""Command name -> the first paragraph of its help (``None``: a hidden command), for ``fnforge --help``,
which lists the commands without importing their modules. tests/fnforge/test_help.py checks that the
list equals the one the commands themselves give."""


@dataclass(frozen=True, slots=True)
class AppContext:
    """What every command gets: the toolset directory and the debug flag."""

    directory: Path
    debug: bool


class FnforgeGroup(click.Group):
    """A group that loads command modules on demand, prints ``Error: <message>``
    for FnforgeError and exits with its code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"fnforge.cli._cmd_{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``fnforge --help``, from :data:`COMMAND_SUMMARIES` (click's own
        layout and shortening, without importing any command module)."""
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMAND_SUMMARIES:
                summary = COMMAND_SUMMARIES[name]
                if summary is not None:
                    rows.append((name, click.Command(name, help=summary)))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Imported here: `fnforge --help` must not pay for fnforge.functions (jsonschema); any
            # FnforgeError comes from a command that has imported it already.
            from fnforge.functions import FnforgeError

            if not isinstance(exc, FnforgeError) or (ctx.obj is not None and ctx.obj.debug):
                raise
            click.echo(f"Error: {visible(str(exc))}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=FnforgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    help="Run as if fnforge was started in DIR (like git -C).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="fnforge")
@click.pass_context
def cli(ctx: click.Context, directory: Path, debug: bool) -> None:
    """fnforge: train an LLM agent's functions and keep every version in Git.

    Example: fnforge init demo && fnforge -C demo log
    """
    ctx.obj = AppContext(directory=directory, debug=debug)


pass_app = click.make_pass_decorator(AppContext)


def main() -> None:
    """Console entry point: run the command, then end the process at once.

    Python's own shutdown frees every object and module one by one (with the
    openai SDK loaded, 0.2-0.3 s after the last line is printed), work that a
    process about to end throws away. So once the command is done (it closes
    its own files, pools and workers), ``atexit`` handlers run, the output is
    flushed and the process exits with ``os._exit``. A crash (any exception
    but the ``SystemExit`` every command ends with) takes Python's normal path,
    and so does a run under a profiler or tracer (cProfile writes its data
    when the program returns).
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        cli()
        return
    try:
        cli()
    except SystemExit as exc:
        status = _exit_status(exc.code)
    else:
        status = 0
    atexit._run_exitfuncs()  # what a normal exit would run: multiprocessing, logging, weakref finalizers
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away, or a stream closed
        status = status or 1
    os._exit(status)


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives: None is 0, an int itself, anything else is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
