"""Sandbox commands: ``fnforge check`` and ``fnforge call``, the way a person debugs a function.

Library equivalents: :func:`sandbox.check` and :meth:`sandbox.Sandbox.call`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fnforge import registry
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._config import load_config, sandbox_policy
from fnforge.functions import FunctionSet, read_dir
from fnforge.sandbox import Sandbox, SandboxCheckError, check

__all__: list[str] = []


@cli.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The function's name (default: the file name without .py).")
@pass_app
def check_command(app: AppContext, file: Path, name: str | None) -> None:
    """Check one function's source against the sandbox rules, without running it.

    Prints "ok", or exits 4 with every problem and its line. The policy is the
    [sandbox] table of fnforge.toml in the toolset directory (-C), if any.

    Example: fnforge check functions/solve.py
    """
    policy = sandbox_policy(load_config(app.directory))
    function = name or file.stem
    try:
        source = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{file} is not UTF-8 text ({exc.reason})", param_hint="FILE") from None
    problems = check(source, function, policy)
    if problems:
        raise SandboxCheckError(function, problems)
    click.echo("ok")


@cli.command("call")
@click.argument("name")
@click.option("--args", "args_json", default="{}", show_default=True, metavar="JSON",
              help="Keyword arguments as one JSON object.")
@click.option("--rev", help="Take the function set from this commit (default: the functions/ folder).")
@pass_app
def call_command(app: AppContext, name: str, args_json: str, rev: str | None) -> None:
    """Run one function of the toolset in the sandbox and print its result as JSON.

    What the function prints goes to stderr; a failure is one line naming its
    kind (timeout, memory, violation, the function's own exception) and exits 4.

    Example: fnforge call solve_quadratic --args '{"a": 1, "b": -3, "c": 2}'
    """
    arguments = _arguments(args_json)
    policy = sandbox_policy(load_config(app.directory))
    function_set = _function_set(app.directory, rev)
    with Sandbox(policy, workers=1, spares=0) as sandbox:
        result = sandbox.call(function_set, name, arguments)
    if result.stdout:
        click.echo(result.stdout, err=True, nl=not result.stdout.endswith("\n"))
    click.echo(json.dumps(result.value, ensure_ascii=False))
    if result.truncated:
        click.echo("[the sandbox cut this result or its output]", err=True)


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint="--args") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object, e.g. '{\"x\": 1}'", param_hint="--args")
    return value


def _function_set(directory: Path, rev: str | None) -> FunctionSet:
    if rev is not None:
        repo = registry.open(directory)
        try:
            return repo.read(rev)
        finally:
            repo.close()
    folder = directory / "functions"
    if not folder.is_dir():
        raise click.UsageError(f"{folder} is not a folder; run this in a toolset or pass -C DIR")
    return read_dir(folder)
