"""Sandbox commands: ``fnforge check``, ``fnforge call`` and ``fnforge trust``.

Library equivalents: :func:`sandbox.check`, :meth:`sandbox.Sandbox.call` and
``SandboxPolicy.narrowed``/``widening`` (``fnforge trust`` only records a
decision in the user's config, see ``_config.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any  # Any: JSON arguments and results

import click

from fnforge import registry
from fnforge.cli._config import (CommandError, choose_policy, load_config, load_user_config, require_isolation,
                                 sandbox_policy)
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._settings import toolset_root
from fnforge.cli._terminal import visible_lines
from fnforge.cli._worktree import working_set
from fnforge.functions import FunctionSet, JSONInputError, load_json
from fnforge.sandbox import Sandbox, SandboxCheckError, check

__all__: list[str] = []

_MAX_ARGS_BYTES = 1 << 20
_MAX_ARGS_DEPTH = 64
_TRUST_HELP = ("Run under the toolset's own fnforge.toml [sandbox] table even where it asks for more than your "
               "limits, for this command only (see fnforge trust).")


@cli.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="The function's name (default: the file name without .py).")
@pass_app
def check_command(app: AppContext, file: Path, name: str | None) -> None:
    """Check one function's source against the sandbox rules, without running it.

    Prints "ok", or exits 4 with every problem and its line. The policy is the
    [sandbox] table of fnforge.toml in the toolset directory (-C), within your
    limits (see fnforge trust).

    Example: fnforge check functions/solve.py
    """
    policy = sandbox_policy(load_config(toolset_root(app.directory)))
    function = name or file.stem
    path = app.directory / file  # relative to -C DIR, as git's paths are
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{file} is not UTF-8 text ({exc.reason})", param_hint="FILE") from None
    except OSError as exc:
        raise click.BadParameter(f"{file}: {exc.strerror}", param_hint="FILE") from None
    problems = check(source, function, policy)
    if problems:
        raise SandboxCheckError(function, problems)
    click.echo("ok")


@cli.command("call")
@click.argument("name")
@click.option("--args", "args_json", default="{}", show_default=True, metavar="JSON",
              help="Keyword arguments as one JSON object (at most 1 MiB, nested at most 64 deep).")
@click.option("--rev", help="Take the function set from this commit (default: the functions/ folder).")
@click.option("--trust-policy", is_flag=True, help=_TRUST_HELP)
@pass_app
def call_command(app: AppContext, name: str, args_json: str, rev: str | None, trust_policy: bool) -> None:
    """Run one function of the toolset in the sandbox and print its result as JSON.

    What the function prints goes to stderr; a failure is one line naming its
    kind (timeout, memory, violation, the function's own exception) and exits 4.
    Control characters in the output are shown as \\uXXXX escapes. The OS
    layers must be available; FNFORGE_SANDBOX_ISOLATION=best-effort opts out.

    Example: fnforge call solve_quadratic --args '{"a": 1, "b": -3, "c": 2}'
    """
    arguments = _arguments(args_json)
    root = toolset_root(app.directory)
    policy = sandbox_policy(load_config(root), trust=trust_policy)
    function_set = _function_set(root, rev)
    with Sandbox(policy, workers=1, spares=0, require_isolation=require_isolation()) as sandbox:
        result = sandbox.call(function_set, name, arguments)
    if result.stdout:
        click.echo(visible_lines(result.stdout), err=True, nl=not result.stdout.endswith("\n"))
    click.echo(visible_lines(json.dumps(result.value, ensure_ascii=False)))
    if result.truncated:
        click.echo("[the sandbox cut this result or its output]", err=True)


@cli.command("trust")
@click.option("--revoke", is_flag=True, help="Stop trusting the table (it is cut back to your limits again).")
@pass_app
def trust_command(app: AppContext, revoke: bool) -> None:
    """Trust this toolset's fnforge.toml [sandbox] table, exactly as it is now, to widen your limits.

    A toolset's table may always narrow the sandbox; where it asks for more
    (a longer timeout, more memory, another module), fnforge runs it within
    your limits until you trust it. This records the table's SHA-256 in your
    user config (see the README); editing the table makes it untrusted again.

    Example: fnforge -C math trust
    """
    user = load_user_config()
    choice = choose_policy(load_config(toolset_root(app.directory)), user=user)
    if revoke:
        user.with_trust(choice.digest, trusted=False).save()
        click.echo(f"No longer trusting this [sandbox] table ({choice.digest[:19]}); recorded in {user.path}")
        return
    if not choice.widening:
        click.echo("Nothing to trust: this [sandbox] table asks for no more than your limits.")
        return
    user.with_trust(choice.digest, trusted=True).save()
    click.echo(f"Trusting this [sandbox] table ({choice.digest[:19]}), which widens your limits: "
               f"{'; '.join(choice.widening)}; recorded in {user.path}")


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = load_json(text, max_bytes=_MAX_ARGS_BYTES, max_depth=_MAX_ARGS_DEPTH)
    except JSONInputError as exc:
        raise click.BadParameter(f"not usable JSON ({exc})", param_hint="--args") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object, e.g. '{\"x\": 1}'", param_hint="--args")
    return value


def _function_set(root: Path, rev: str | None) -> FunctionSet:
    if rev is not None:
        with registry.open(root) as repo:
            return repo.read(rev)
    if not (root / "functions").is_dir():
        raise CommandError(f"{root / 'functions'} is not a folder; run this in a toolset or pass -C DIR")
    try:
        repo = registry.open(root)
    except registry.NotAToolset:
        return working_set(root)  # a functions/ folder outside any toolset
    with repo:
        return working_set(root, repo)
