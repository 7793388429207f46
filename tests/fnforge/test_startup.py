"""Start-up and exit of the ``fnforge`` process (issue 18), checked by what is imported and what is printed,
never by the clock.

``fnforge --help`` lists the commands without importing any command module;
``fnforge CMD --help`` imports the command's module but none of the heavy
libraries (the openai SDK alone takes 0.5 s). The console entry point ends the
process with ``os._exit`` once the command is done: its exit status and output
must be what a normal exit gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fnforge.cli import cli
from fnforge.cli._group import COMMAND_MODULES, COMMAND_SUMMARIES

HEAVY = ("openai", "numpy", "sympy", "matplotlib", "math_verify", "jsonschema", "lizard", "pydantic")
"""Libraries that no --help may import (each costs 0.05-0.7 s)."""

_PROBE = """
import json, sys
from fnforge.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="fnforge", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(*args: str) -> set[str]:
    """Every module imported by ``fnforge ARGS`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True)
    return set(json.loads(done.stderr.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_top_level_help_does_import_no_command_module_and_no_library() -> None:
    modules = modules_after("--help")
    assert [m for m in modules if m.startswith("fnforge.") and m not in ("fnforge.cli", "fnforge.cli._group",
                                                                         "fnforge.cli._terminal")] == []
    assert heavy(modules) == []


@pytest.mark.parametrize("command", sorted(COMMAND_SUMMARIES))
def test_command_help_does_import_no_heavy_library(command: str) -> None:
    assert heavy(modules_after(command, "--help")) == []


@pytest.mark.parametrize("command", ["eval", "train"])
def test_help_of_a_command_that_calls_the_llm_does_import_no_library_package(command: str) -> None:
    modules = modules_after(command, "--help")
    assert {"fnforge.agents", "fnforge.optimizer", "fnforge.registry", "fnforge.tasks"} & modules == set()


def fnforge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).parent / "fnforge"
    return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_top_level_help_does_list_the_commands_as_they_describe_themselves(width: int) -> None:
    ctx = click.Context(cli, info_name="fnforge")
    for name in COMMAND_MODULES:
        cli.get_command(ctx, name)  # import every command module
    listed, own = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    cli.format_commands(ctx, listed)  # from COMMAND_SUMMARIES
    click.Group.format_commands(cli, ctx, own)  # click's, from the commands themselves
    assert listed.getvalue() == own.getvalue()


def test_every_command_module_entry_has_a_summary_for_fnforge_help() -> None:
    assert set(COMMAND_SUMMARIES) == set(COMMAND_MODULES)  # a command missing here is missing from --help


def test_fnforge_does_exit_zero_with_all_its_output_through_a_pipe() -> None:
    done = fnforge("--help")
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert done.returncode == 0 and listed == sorted(n for n, summary in COMMAND_SUMMARIES.items() if summary)


def test_fnforge_does_exit_with_the_usage_status_for_an_unknown_command() -> None:
    done = fnforge("no-such-command")
    assert done.returncode == 2 and "No such command" in done.stderr and done.stdout == ""


def test_fnforge_does_exit_with_the_error_class_status_and_one_line(tmp_path: Path) -> None:
    done = fnforge("-C", str(tmp_path / "missing"), "log")
    assert done.returncode == 3 and done.stderr.startswith("Error: ") and len(done.stderr.splitlines()) == 1
