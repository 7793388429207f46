"""Sharing a toolset through git remotes: push, pull, remote add.

Library equivalents: ``Repository.push``, ``Repository.pull``, ``Repository.add_remote``.
"""

from __future__ import annotations

import click

from fnforge import registry
from fnforge.cli._group import AppContext, cli, pass_app

__all__: list[str] = []


def _sync_lines(report: registry.SyncReport) -> None:
    width = max((len(b.name) for b in report.branches), default=0)
    changes = max((len(b.change) for b in report.branches), default=0)
    for branch in report.branches:
        best = f"best {branch.best[:7]} {branch.best_score:.4f}" if branch.best and branch.best_score is not None \
            else "best -"
        click.echo(f"  {branch.name:<{width}}  {branch.change:<{changes}}  {best}")


@cli.command("push")
@click.argument("remote", default="origin")
@click.option("--branch", "branches", multiple=True, metavar="NAME",
              help="Push only this branch (repeatable; default: every branch).")
@click.option("--with-answers", is_flag=True,
              help="Share each task's model answer in the notes too (left out by default; they stay local).")
@pass_app
def push_command(app: AppContext, remote: str, branches: tuple[str, ...], with_answers: bool) -> None:
    """Push branches, their best pointers and the evaluation notes to REMOTE (a name or URL; default origin).

    The notes are merged with the remote's first, so pushing again after more
    training is a fast-forward. Shared notes keep task ids, correctness,
    tokens and cost but not the model's answers, unless --with-answers.
    A branch that moved on at the remote is refused: fnforge pull first.

    Example: fnforge push origin --branch domain/algebra
    """
    with registry.open(app.directory) as repo:
        report = repo.push(remote, list(branches) or None, answers=with_answers)
    click.echo(f"To {remote}")
    _sync_lines(report)
    kept = "with the model's answers" if report.answers else "without the model's answers"
    click.echo(f"  notes on {report.notes} commit{'s' * (report.notes != 1)} ({kept})")


@cli.command("pull")
@click.argument("remote", default="origin")
@click.option("--branch", "branches", multiple=True, metavar="NAME",
              help="Pull only this branch (repeatable; default: every branch of the remote).")
@pass_app
def pull_command(app: AppContext, remote: str, branches: tuple[str, ...]) -> None:
    """Fetch branches, best pointers and notes from REMOTE; create or fast-forward the local branches.

    Notes merge with yours (yours win on a clash). A branch that diverged is
    refused before anything moves: merge it with git, then pull again.

    Example: fnforge pull origin
    """
    with registry.open(app.directory) as repo:
        report = repo.pull(remote, list(branches) or None)
    click.echo(f"From {remote}")
    _sync_lines(report)
    click.echo(f"  notes on {report.notes} commit{'s' * (report.notes != 1)} fetched")


@cli.group("remote")
def remote_group() -> None:
    """Add remotes that carry notes and best pointers with every git fetch.

    Example: fnforge remote add team https://example.org/toolsets/math.git
    """


@remote_group.command("add")
@click.argument("name")
@click.argument("url")
@pass_app
def remote_add_command(app: AppContext, name: str, url: str) -> None:
    """Add remote NAME at URL, configured so that plain git fetch / pull bring notes and best pointers.

    Example: fnforge remote add team /srv/toolsets/math.git
    """
    with registry.open(app.directory) as repo:
        repo.add_remote(name, url)
    click.echo(f"Added remote {name} ({url}); git fetch {name} brings its notes and best pointers")
