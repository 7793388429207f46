"""What a command runs on: its flag, else the environment, else ``fnforge.toml``, else fnforge's default.

``fnforge.toml`` is the toolset's memory (see :class:`ToolsetConfig`): ``init``
writes it, ``train`` records what each run used, ``fnforge config`` edits it,
and every command that evaluates (``eval``, ``transfer``, ``merge``,
``bisect``, ``train --dry-run``) takes its task set, split sizes, seed, data
folder, agent, model and endpoint from it unless a flag says otherwise for
that call. Paths on the command line are relative to the directory the
command runs in (``-C DIR``); paths in ``fnforge.toml`` are relative to the
toolset's root.

Example (inside a command)::

    config = load_config(repo.path)
    split = resolve_split(config, root=repo.path, cwd=app.directory, n_train=n_train, n_test=n_test,
                          seed=seed, data_dir=data_dir)
    splits = split.load(repo.path)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar  # Any: click's option values and decorated commands
from urllib.parse import urlsplit

import click
import platformdirs

from fnforge.cli._taskpath import load_splits, portable_spec

if TYPE_CHECKING:  # the decorators here are read by every --help; these packages load when a command runs
    from fnforge.cli._config import ToolsetConfig
    from fnforge.tasks import TaskSplits

__all__ = ["ENV_DATA", "SplitSettings", "agent_options", "data_cache_dir", "data_option", "endpoint", "recorded_data",
           "recorded_endpoint", "resolve_split", "split_options", "toolset_root"]

F = TypeVar("F", bound=Callable[..., Any])
ENV_DATA = "FNFORGE_DATA"


def data_option(command: F, *, remembered: bool = False) -> F:
    """Add ``--data DIR`` (or ``FNFORGE_DATA``): the folder holding math/, gsm8k/, tabmwp/.

    The command receives ``data_dir`` (None: fnforge.toml's when ``remembered``,
    else pass ``cache_dir=data_cache_dir()`` to the loaders, which then read the
    pulled copy, else the built-in slice).
    """
    default = "fnforge.toml's data, else " if remembered else ""
    option = click.option("--data", "data_dir", envvar=ENV_DATA, show_envvar=True,
                          type=click.Path(file_okay=False, path_type=Path),
                          help=f"Folder with math/, gsm8k/, tabmwp/ (default: {default}what `fnforge data pull` "
                               "fetched, else the built-in slice of MATH and GSM8K).")
    return option(command)


def data_cache_dir() -> Path:
    """The folder ``fnforge data pull`` fills by default: ``data/`` in the user cache folder.

    Example:
        >>> data_cache_dir().name
        'data'
    """
    return platformdirs.user_cache_path("fnforge", appauthor=False) / "data"


def split_options(command: F) -> F:
    """Add ``--train``, ``--test``, ``--seed``, ``--data``, ``--question-field`` and ``--answer-field``.

    Each defaults to None: "what fnforge.toml says" (see :func:`resolve_split`).
    """
    options = [
        click.option("--train", "n_train", type=click.IntRange(min=0),
                     help="Training tasks of the split (default: fnforge.toml's train, else 20)."),
        click.option("--test", "n_test", type=click.IntRange(min=0),
                     help="Test tasks of the split (default: fnforge.toml's test, else 80)."),
        click.option("--seed", type=int, help="Seeds the train/test split (default: fnforge.toml's seed, else 0)."),
        click.option("--question-field", help="jsonl tasks: the field holding the question "
                                               "(default: fnforge.toml's question_field, else question)."),
        click.option("--answer-field", help="jsonl tasks: the field holding the answer "
                                            "(default: fnforge.toml's answer_field, else answer)."),
    ]
    for option in reversed(options):
        command = option(command)
    return data_option(command, remembered=True)


def agent_options(command: F) -> F:
    """Add ``--agent`` and ``--max-turns`` (None: fnforge.toml's ``agent`` and ``max_turns``)."""
    command = click.option("--max-turns", type=click.IntRange(min=1),
                           help="LLM calls per task for the agent (default: fnforge.toml's max_turns, else 10)."
                           )(command)
    return click.option("--agent", type=click.Choice(["tool", "react"]),
                        help="Agent system (default: fnforge.toml's agent).")(command)


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitSettings:
    """The task set and split a command evaluates on, resolved from flags and ``fnforge.toml``.

    ``task`` is portable (a path inside the toolset is relative to its root);
    ``data_dir`` is absolute, or None for the default lookup (pulled copy, then
    the built-in slice).
    """

    task: str
    n_train: int
    n_test: int
    seed: int
    data_dir: Path | None
    question_field: str
    answer_field: str

    def load(self, root: Path) -> TaskSplits:
        """Both selections, loaded from the toolset at ``root``.

        Raises:
            TaskError: as for :func:`tasks.make_splits`.
        """
        return load_splits(self.task, root=root, cwd=root, n_train=self.n_train, n_test=self.n_test,
                           seed=self.seed, data_dir=self.data_dir, cache_dir=data_cache_dir(),
                           question_field=self.question_field, answer_field=self.answer_field)


def resolve_split(config: ToolsetConfig, *, root: Path, cwd: Path, task: str | None = None,
                  n_train: int | None = None, n_test: int | None = None, seed: int | None = None,
                  data_dir: Path | None = None, question_field: str | None = None,
                  answer_field: str | None = None) -> SplitSettings:
    """The split a command runs on: each value from its argument when given, else from ``config``.

    Args:
        config: the toolset's (or a branch's) ``fnforge.toml``.
        root: the toolset's root.
        cwd: where paths given as arguments are relative to (``-C DIR``).
        task, n_train, n_test, seed, data_dir, question_field, answer_field: the flags (None: not given).

    Raises:
        TaskSpecError: ``task`` is not a task set.
    """
    spec = portable_spec(task, root=root, cwd=cwd) if task is not None else portable_spec(
        config.task, root=root, cwd=root)
    return SplitSettings(
        task=spec, n_train=config.train if n_train is None else n_train,
        n_test=config.test if n_test is None else n_test, seed=config.seed if seed is None else seed,
        data_dir=_given_folder(data_dir, cwd) if data_dir is not None else _recorded_folder(config.data, root),
        question_field=question_field or config.question_field, answer_field=answer_field or config.answer_field)


def _given_folder(folder: Path, cwd: Path) -> Path:
    path = folder.expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else cwd.absolute() / path))


def _recorded_folder(recorded: str, root: Path) -> Path | None:
    """``fnforge.toml``'s data folder, or None (with a warning) when this machine has no such folder."""
    if not recorded:
        return None
    folder = _given_folder(Path(recorded), root)
    if folder.is_dir():
        return folder
    click.echo(f"warning: fnforge.toml's data folder {recorded} is not on this machine; reading the default "
               "data instead (fnforge data list shows it; fnforge config data DIR sets another)", err=True)
    return None


def recorded_data(folder: Path, root: Path) -> str:
    """How ``fnforge.toml`` records a data folder: relative to the toolset's root when inside it, else absolute.

    Example:
        >>> recorded_data(Path("/t/data"), Path("/t")), recorded_data(Path("/srv/data"), Path("/t"))
        ('data', '/srv/data')
    """
    home = Path(os.path.normpath(root.absolute()))
    if folder == home or home in folder.parents:
        return folder.relative_to(home).as_posix() or "."
    return str(folder)


def endpoint(base_url: str | None, config: ToolsetConfig) -> str | None:
    """The endpoint to call: ``--base-url`` (or ``OPENAI_BASE_URL``), else fnforge.toml's, else None (OpenAI)."""
    return base_url or config.base_url or None


def recorded_endpoint(base_url: str | None) -> str | None:
    """``base_url`` if it can be written into a shared file: no user, password or query (where keys hide)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    if parts.username or parts.password or parts.query or parts.fragment or parts.scheme not in ("http", "https"):
        return None
    return base_url


def toolset_root(directory: Path) -> Path:
    """The root of the toolset ``directory`` is in (commands run from any folder of it), else ``directory``."""
    here = directory.absolute()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder if (folder / "fnforge.toml").is_file() else directory
    return directory
