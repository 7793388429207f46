"""Data commands: ``fnforge data list`` and ``fnforge data pull``, the built-in datasets on this machine.

Library equivalents: :func:`tasks.data_inventory` and :func:`tasks.pull_data`.
Commands read a built-in dataset from ``--data`` (or ``FNFORGE_DATA``), else
from the copy ``fnforge data pull`` left in the user cache folder, else from
the slice of MATH and GSM8K that ships with fnforge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from fnforge.cli._group import cli
from fnforge.cli._runtime import ENV_DATA_URL
from fnforge.cli._settings import data_cache_dir, data_option
from fnforge.tasks import DATASETS, DEFAULT_DATA_URL, DataEntry, PullResult, data_inventory, pull_data

__all__: list[str] = []

_ORIGIN = {"folder": "--data", "cache": "pulled", "builtin": "built-in"}
_LICENCES: dict[str, str] = {d.name: d.licence for d in DATASETS}


@cli.group("data")
def data_group() -> None:
    """See and fetch the built-in datasets (MATH, GSM8K, TabMWP).

    Commands read them from --data DIR (or FNFORGE_DATA), else from what
    `fnforge data pull` fetched into the user cache folder, else from the small
    slice of MATH and GSM8K that ships with fnforge (seed-0 selections only).

    Example: fnforge data list
    """


@data_group.command("list")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_command(data_dir: Path | None, as_json: bool) -> None:
    """Show each copy of each dataset on this machine, with its train and test task counts.

    A '*' marks the copy that commands read. The built-in slice serves a
    seed-0 selection only when it fits (e.g. --train 20 --test 80 of one
    MATH subject); anything else asks for `fnforge data pull`.

    Example: fnforge data list --data ../shared/data
    """
    entries = data_inventory(data_dir=data_dir, cache_dir=data_cache_dir())
    if as_json:
        click.echo(json.dumps([_entry_dict(e) for e in entries], indent=2))
        return
    click.echo(f"  {'dataset':<8} {'source':<9} {'train':>6} {'test':>6}  folder")
    for entry in DATASETS:
        rows = [e for e in entries if e.dataset == entry.name]
        for row in rows:
            click.echo(_entry_line(row))
        if not rows:
            click.echo(f"  {entry.name:<8} {'-':<9} {'-':>6} {'-':>6}  not on this machine: "
                       f"fnforge data pull {entry.name}")


def _entry_line(entry: DataEntry) -> str:
    mark = "*" if entry.used else " "
    train = "-" if entry.train is None else str(entry.train)
    test = "-" if entry.test is None else str(entry.test)
    note = f"  ({entry.problem})" if entry.problem else ""
    return f"{mark} {entry.dataset:<8} {_ORIGIN[entry.origin]:<9} {train:>6} {test:>6}  {entry.folder}{note}"


def _entry_dict(entry: DataEntry) -> dict[str, object]:
    return {"dataset": entry.dataset, "source": entry.origin, "folder": str(entry.folder), "train": entry.train,
            "test": entry.test, "problem": entry.problem, "used": entry.used}


@data_group.command("pull")
@click.argument("names", nargs=-1, required=True, type=click.Choice([d.name for d in DATASETS]), metavar="NAME...")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path),
              help="Data folder to fill (default: the user cache folder, which commands read by default; "
                   "elsewhere, use it with --data DIR).")
@click.option("--base-url", envvar=ENV_DATA_URL, show_envvar=True, default=DEFAULT_DATA_URL, show_default=True,
              help="Where the upstream files are fetched from: GitHub, or a mirror serving the same paths.")
def pull_command(names: tuple[str, ...], dest: Path | None, base_url: str) -> None:
    """Download datasets from their upstream repositories, verify them and lay them out for the loaders.

    gsm8k: openai/grade-school-math's train.jsonl and test.jsonl; math: the
    per-problem files of MATH (one archive of aiwaves-cn/agents), converted to
    math_train.jsonl and math_test.jsonl; tabmwp: PromptPG's dev1k, test1k and
    splits files (CC BY-NC-SA 4.0: non-commercial use only). Every file is
    checked against a pinned sha256 and row count. Files already in place and
    intact are kept; missing or damaged ones are fetched again.

    Example: fnforge data pull math gsm8k
    """
    folder = dest if dest is not None else data_cache_dir()
    for name in dict.fromkeys(names):
        with _download_progress() as progress:
            result = pull_data(name, folder, base_url=base_url, progress=progress)
        click.echo(_pull_text(result))
    if dest is not None:
        click.echo(f"Read it with: --data {dest} (or FNFORGE_DATA={dest})")


def _pull_text(result: PullResult) -> str:
    downloaded = f"downloaded {_size(result.downloaded)}" if result.downloaded else "nothing downloaded"
    lines = [f"{result.dataset}: {result.folder} ({downloaded}; sha256 and rows match the pins)"]
    for file in result.files:
        rows = f"{file.rows} rows" if file.rows is not None else ""
        was = f" (was: {file.problem})" if file.problem else ""
        lines.append(f"  {file.name:<22} {rows:>11}  {file.outcome}{was}")
    licence = _LICENCES[result.dataset]
    if licence != "MIT":
        lines.append(f"  licence: {licence}")
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@contextmanager
def _download_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A rich bar per download on a terminal's stderr; a no-op elsewhere."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda label, done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def advance(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bars.add_task(label, total=total)
            bars.update(tasks[label], completed=done)

        yield advance
