"""Every command documents itself with an example, and the lazy command table is complete."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import fnforge.cli
from fnforge.cli import cli
from fnforge.cli._group import COMMAND_MODULES


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if command.hidden:
            continue
        found.append(prefix + (name,))
        if isinstance(command, click.Group):
            found += all_commands(command, prefix + (name,))
    return found


@pytest.mark.parametrize("path", all_commands(cli), ids=" ".join)
def test_command_help_shows_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Example" in result.output


def test_top_level_help_shows_an_example() -> None:
    result = CliRunner().invoke(cli, ["--help"], catch_exceptions=False)
    assert result.exit_code == 0 and "Example: fnforge init demo" in result.output


def test_command_table_names_exactly_the_commands_the_modules_define() -> None:
    package = Path(fnforge.cli.__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        if info.name.startswith("_cmd_"):
            importlib.import_module(f"fnforge.cli.{info.name}")
    defined = {name: cmd.callback.__module__.removeprefix("fnforge.cli._cmd_") for name, cmd in cli.commands.items()}
    assert defined == COMMAND_MODULES


def test_registry_commands_do_not_import_openai_or_matplotlib() -> None:
    code = "import sys; from fnforge.cli import cli; cli.get_command(None, 'log'); print('openai' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
