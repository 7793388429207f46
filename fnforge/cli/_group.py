"""The click group, its global options, and the one place errors become exit codes.

Command modules are ``fnforge/_cmd_*.py``; each registers its commands on
``cli``. A module is imported only when one of its commands runs (see
``COMMAND_MODULES``), so ``fnforge log`` does not pay for openai or matplotlib.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from fnforge.cli._terminal import visible
from fnforge.functions import FnforgeError

__all__ = ["COMMAND_MODULES", "AppContext", "FnforgeGroup", "cli", "main", "pass_app"]

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
}
"""Command name -> the ``fnforge/_cmd_<module>.py`` that defines it."""


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

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FnforgeError as exc:
            if ctx.obj is not None and ctx.obj.debug:
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
    """Console entry point."""
    cli()
