"""Invoking the CLI in tests: ``run`` for any outcome, ``ok`` for a happy path."""

from __future__ import annotations

from click.testing import CliRunner, Result

from fnforge.cli import cli


def run(env: dict[str, str], *args: str) -> Result:
    """Invoke ``fnforge ARGS`` with ``env``; exceptions become the result's exit code."""
    return CliRunner().invoke(cli, list(args), env=env)


def ok(env: dict[str, str], *args: str) -> Result:
    """Invoke ``fnforge ARGS`` and require exit 0 (a crash surfaces as itself)."""
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result
