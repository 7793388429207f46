"""``fnforge config``: read and set the toolset's memory in fnforge.toml, like ``git config``.

Library equivalent: ``fnforge.toml``'s ``[fnforge]`` table is plain TOML; the
CLI reads it with ``load_config`` (see ``_config.py``).
"""

from __future__ import annotations

from pathlib import Path

import click

from fnforge import registry
from fnforge.cli._config import (CONFIG_FILE, SETTINGS, CommandError, load_config, parse_config, read_document,
                                 setting_value, write_document)
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._settings import recorded_data, recorded_endpoint
from fnforge.cli._taskpath import portable_spec
from fnforge.cli._terminal import visible

__all__: list[str] = []


@cli.command("config")
@click.argument("key", required=False, metavar="[KEY")
@click.argument("value", required=False, metavar="[VALUE]]")
@click.option("-l", "--list", "listing", is_flag=True, help="List every setting fnforge.toml sets (the default).")
@click.option("--unset", is_flag=True, help="Remove KEY from fnforge.toml (its default applies again).")
@pass_app
def config_command(app: AppContext, key: str | None, value: str | None, listing: bool, unset: bool) -> None:
    """Read or set the toolset's settings in fnforge.toml, the defaults of every command.

    Without KEY: list the settings fnforge.toml sets, one key=value a line.
    With KEY: print the value commands use (its default when fnforge.toml
    does not set it). With KEY VALUE: write it into fnforge.toml; commit the
    file to share it (fnforge commit -m ...; fnforge train commits what a run
    uses). Settings: task, agent, model, optimizer_model, base_url (never a
    key), data (a folder; inside the toolset it is recorded relative to its
    root), train, test, seed, max_turns, question_field, answer_field.

    Example: fnforge config test 40 && fnforge config --list
    """
    with registry.open(app.directory) as repo:
        root = repo.path
    if listing or key is None:
        if value is not None or unset:
            raise CommandError("--list takes no KEY or VALUE")
        for name, shown in _listing(root):
            click.echo(visible(f"{name}={shown}"))
        return
    if key not in SETTINGS:
        raise CommandError(f"unknown setting {key!r}; settings: {', '.join(SETTINGS)}")
    if unset:
        if value is not None:
            raise CommandError("--unset takes KEY only")
        _edit(root, key, None)
        return
    if value is None:
        click.echo(visible(getattr(load_config(root), key)))
        return
    _edit(root, key, _stored(key, value, root=root, cwd=app.directory))


def _listing(root: Path) -> list[tuple[str, str]]:
    path = root / CONFIG_FILE
    table = read_document(path).get("fnforge", {}) if path.is_file() else {}
    load_config(root)  # refuse a broken file rather than list it
    return [(name, str(table[name])) for name in SETTINGS if name in table]


def _stored(key: str, text: str, *, root: Path, cwd: Path) -> object:
    """``text`` as fnforge.toml keeps it: paths made relative to the toolset's root, values checked."""
    if key == "task":
        return portable_spec(text, root=root, cwd=cwd)
    if key == "data":
        folder = Path(text).expanduser()
        folder = folder if folder.is_absolute() else cwd.absolute() / folder
        if not folder.is_dir():
            raise CommandError(f"data {text}: no such folder")
        return recorded_data(folder.resolve(), root)
    if key == "base_url" and recorded_endpoint(text) is None:
        raise CommandError(f"base_url {text!r} cannot be recorded: give an http(s) URL without a user, password "
                           "or query (the key goes in OPENAI_API_KEY)")
    return setting_value(key, text)


def _edit(root: Path, key: str, value: object | None) -> None:
    """Set ``key`` to ``value`` in fnforge.toml (remove it for None), keeping everything else as it is."""
    path = root / CONFIG_FILE
    document = read_document(path) if path.is_file() else {}
    table = dict(document.get("fnforge", {}))
    if value is None and key not in table:
        raise CommandError(f"fnforge.toml does not set {key}")
    if value is None:
        del table[key]
    else:
        table[key] = value
    document["fnforge"] = table
    parse_config(document, where=str(path))  # the file stays valid
    write_document(path, document)
