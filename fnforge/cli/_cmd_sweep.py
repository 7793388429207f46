"""``fnforge sweep``: a grid of training runs on this machine or a Ray cluster; ``status``, ``transfer``, ``report``.

Library equivalents: ``optimizer.plan_sweep`` / ``run_sweep`` with
``optimizer.LocalEngine`` or ``optimizer.RayEngine``, ``optimizer.sweep_rows``,
``optimizer.write_sweep_report``. A cell is ``fnforge train`` on its own
branch, so every ``train`` option given here is passed through to each cell.
The grid comes from the command line, else ``sweep.toml`` in the toolset, else
the ``[sweep]`` table of ``fnforge.toml``::

    [sweep]
    tasks = ["linear=jsonl:tasks/linear.jsonl", "jsonl:tasks/area.jsonl"]
    seeds = [0, 1]
    models = ["gpt-4o-mini"]
    grid = { batch = [2, 4] }
    train = { train = 20, test = 80, epochs = 10 }
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any  # Any: click's option values and TOML tables

import click
from click.core import ParameterSource

from fnforge import registry
from fnforge.cli._cmd_study import transfer_command
from fnforge.cli._cmd_train import train_command
from fnforge.cli._config import CONFIG_FILE, ConfigError
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._runtime import ENV_API_KEY, ENV_BASE_URL
from fnforge.cli._taskpath import loadable_spec, portable_spec
from fnforge.cli._terminal import visible
from fnforge.optimizer import (
    TRANSFER_FOLDER, CellStatus, Engine, LocalEngine, OptimizerError, RayEngine, SweepError, SweepEvent, SweepGrid,
    SweepRecord, TaskAxis, format_sweep_table, load_sweep, local_workdir, plan_sweep, run_sweep, sweep_csv,
    sweep_dir, sweep_rows, write_sweep_report,
)
from fnforge.tasks import TaskSpec

__all__: list[str] = []

SWEEP_FILE = "sweep.toml"
DEFAULT_ENV = (ENV_BASE_URL, ENV_API_KEY)
# train options the sweep sets per cell, or that make no sense for a cell
_NOT_PASSED = {"task", "agent", "seed", "model", "optimizer_model", "max_cost", "dry_run", "resume", "run_id",
               "as_json", "base_url"}
_PASSED = [copy.copy(p) for p in train_command.params if p.name not in _NOT_PASSED]
_GRID_KEYS = {"name", "tasks", "seeds", "agents", "models", "optimizer_models", "grid", "train"}


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _option_args(name: str, value: Any) -> list[str]:
    """``fnforge train`` arguments for one option value (a flag when boolean)."""
    param = next((p for p in _PASSED if p.name == name or p.opts[0] == f"--{name}"), None)
    if param is None:
        raise click.UsageError(f"{name!r} is not an option of fnforge train")
    flag = param.opts[0]
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, Path) or isinstance(getattr(param, "type", None), click.Path):
        value = str(Path(value).absolute())  # cells run in their own clone: a relative path would move
    return [flag, str(value)]


def _file_table(repo: registry.Repository, path: Path | None) -> dict[str, Any]:
    """The ``[sweep]`` table: of ``--file``, else the toolset's sweep.toml, else its fnforge.toml."""
    candidates = [path] if path is not None else [repo.path / SWEEP_FILE, repo.path / CONFIG_FILE]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            try:
                table = tomllib.loads(candidate.read_text(encoding="utf-8")).get("sweep", {})
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{candidate}: {exc}") from exc
            unknown = sorted(set(table) - _GRID_KEYS)
            if unknown:
                raise ConfigError(f"{candidate}: unknown key(s) in [sweep]: {', '.join(unknown)}")
            if table or path is not None:
                return dict(table)
    return {}


def _task_axis(text: str, repo: registry.Repository, base: str, cwd: Path) -> TaskAxis:
    """A task set as the cells' clones read it: inside the toolset if committed, else by absolute path."""
    axis = TaskAxis.parse(text)
    spec = portable_spec(axis.spec, root=repo.path, cwd=cwd)
    parsed = TaskSpec.parse(spec)
    if parsed.kind == "jsonl" and parsed.path is not None and not parsed.path.is_absolute() \
            and repo.read_file(base, parsed.path.as_posix()) is None:
        click.echo(f"warning: {parsed.path} is not committed in the toolset; the cells read it at its absolute "
                   "path (commit it for workers that do not share this file system)", err=True)
        spec = loadable_spec(spec, root=repo.path)
    return TaskAxis(name=axis.name, spec=spec)


def _grid(ctx: click.Context, options: Mapping[str, Any], repo: registry.Repository, base: str,
          cwd: Path) -> tuple[SweepGrid, str | None]:
    table = _file_table(repo, options["sweep_file"])
    tasks = _split(options["tasks"]) or tuple(table.get("tasks", ()))
    if not tasks:
        raise click.UsageError("no task sets: give --tasks, or a [sweep] table with tasks in sweep.toml or "
                               "fnforge.toml")
    seeds = _split(options["seeds"]) or tuple(str(s) for s in table.get("seeds", (0,)))
    grid_values = dict(table.get("grid", {}))
    for item in options["grid"]:
        key, sep, values = item.partition("=")
        if not sep or not _split(values):
            raise click.UsageError(f"--grid takes OPTION=V1,V2, not {item!r}")
        grid_values[key.strip()] = list(_split(values))
    shared = dict(table.get("train", {}))
    shared.update({p.name: options[p.name] for p in _PASSED if p.name is not None and _given(ctx, p.name)})
    train_args = [a for key, value in shared.items() for a in _option_args(key, value)]
    for key in grid_values:
        _option_args(key, "")  # refuse a grid axis train does not know
    try:
        grid = SweepGrid(tasks=tuple(_task_axis(t, repo, base, cwd) for t in tasks), seeds=tuple(int(s) for s in seeds),
                         agents=_split(options["agents"]) or tuple(table.get("agents", ())),
                         models=_split(options["models"]) or tuple(table.get("models", ())),
                         optimizer_models=_split(options["optimizer_models"]) or tuple(
                             table.get("optimizer_models", ())),
                         options=tuple((k.replace("_", "-"), tuple(str(v) for v in vs)) for k, vs in
                                       grid_values.items()),
                         train_args=tuple(train_args))
    except ValueError as exc:
        raise click.UsageError(f"--seeds takes integers: {exc}") from exc
    return grid, options["name"] or table.get("name")


def _memory(text: str | None) -> int | None:
    """``2GB``, ``512MiB``, ``1.5G`` or bytes -> bytes."""
    if not text:
        return None
    units = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}
    number = text.strip().lower().removesuffix("b")
    unit = number.lstrip("0123456789.")
    try:
        return int(float(number[: len(number) - len(unit)]) * units[unit])
    except (KeyError, ValueError):
        raise click.BadParameter(f"{text!r} is not a size like 2GB or 512MiB", param_hint="--cell-memory") from None


def _engine(options: Mapping[str, Any], record: SweepRecord, repo: registry.Repository) -> tuple[Engine, str]:
    """The engine and the cells' folder on its workers (stable, so a resumed sweep finds its clones)."""
    cells = len(record.cells)
    if options["engine"] == "local":
        parallel = options["parallel"] or max(1, min(cells, os.cpu_count() or 1))
        return LocalEngine(parallel), str(local_workdir(repo, record))
    engine = RayEngine(address=options["address"], cell_cpus=options["cell_cpus"],
                       cell_memory=_memory(options["cell_memory"]), slots=options["parallel"])
    root = options["workdir"] or os.path.join(tempfile.gettempdir(), "fnforge-sweeps")
    key = hashlib.sha256(f"{record.origin}\0{record.created}".encode()).hexdigest()[:8]
    return engine, os.path.join(root, f"{record.name}-{key}")


def _echo_lines(text: str) -> None:
    for line in text.splitlines():
        click.echo(visible(line))


def _printer(event: SweepEvent) -> None:
    click.echo(visible(f"{event.kind:<11} {event.cell}  attempt {event.attempt}  {event.detail}".rstrip()))


@cli.group("sweep", invoke_without_command=True)
@click.option("--tasks", help="Comma-separated task sets, each NAME=SPEC or SPEC; one axis of the grid.")
@click.option("--seeds", help="Comma-separated seeds (default 0).")
@click.option("--agents", help="Comma-separated agent kinds (tool, react; default: fnforge.toml's).")
@click.option("--models", help="Comma-separated agent models (default: fnforge.toml's).")
@click.option("--optimizer-models", help="Comma-separated optimizer models (default: each cell's model).")
@click.option("--grid", multiple=True, metavar="OPTION=V1,V2", help="A train option that varies, e.g. batch=2,4.")
@click.option("--file", "sweep_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A TOML file with a [sweep] table (default: sweep.toml, else fnforge.toml).")
@click.option("--name", help="The sweep's name (default: a digest of the grid).")
@click.option("--from", "base", default="HEAD", show_default=True, help="Where new cell branches start.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Run cells as processes on this machine, or as tasks on a Ray cluster.")
@click.option("--address", help="Ray: the cluster (ray://HOST:10001, auto); default RAY_ADDRESS, else a local Ray.")
@click.option("--parallel", type=click.IntRange(min=1),
              help="Cells at once (default: local, the CPU count; ray, cluster CPUs / --cell-cpus).")
@click.option("--cell-cpus", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Ray: CPUs each cell declares (a cell mostly waits for the LLM; fractions are fine).")
@click.option("--cell-memory", default="2GB", show_default=True, help="Ray: memory each cell declares.")
@click.option("--workdir", help="Ray: folder for the cells' clones on the workers (default: their temp folder).")
@click.option("--origin", help="Repository the workers clone and push to (default: this toolset; on a cluster, "
                               "a URL every node reaches).")
@click.option("--env", "env_names", default=",".join(DEFAULT_ENV), show_default=True,
              help="Environment variables passed from this shell to every cell (none: pass nothing).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Resumed attempts after a cell fails for a transient reason.")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True),
              help="The whole sweep's LLM budget in US dollars, shared out among the cells.")
@click.option("--resume", is_flag=True, help="Continue the sweep (--name, default the latest): unfinished, "
                                             "failed and skipped cells.")
@pass_app
@click.pass_context
def sweep_group(ctx: click.Context, app: AppContext, /, **options: Any) -> None:
    """Run a grid of training runs: one branch and one fnforge train per cell, several at once.

    Axes: task sets, seeds, agents, models, optimizer models and --grid
    options. Every other option below is fnforge train's, given to each cell.
    Cells train sweep/<name>/<cell> (domain/<task> when only the task set
    varies). A killed or failed cell is resumed from its commits. Workers get
    the LLM endpoint and key from the variables named by --env (values never
    stored), else from their own environment.

    Example: fnforge sweep --tasks jsonl:a.jsonl,jsonl:b.jsonl --seeds 0,1 --train 4 --test 4 --epochs 1
    """
    if ctx.invoked_subcommand is not None:
        return
    names = () if options["env_names"].strip().lower() == "none" else _split(options["env_names"])
    env = {name: os.environ[name] for name in names if name in os.environ}
    with registry.open(app.directory) as repo:
        record = _record(ctx, app, repo, options, names)
        engine, workdir = _engine(options, record, repo)
        where = "this toolset" if record.origin_is_toolset else record.origin
        click.echo(f"sweep {record.name}: {len(record.cells)} cells on the {engine.name} engine "
                   f"({engine.slots} at a time); origin: {where}")
        click.echo(f"cells get {', '.join(sorted(env)) or 'no variables'} from this shell (values not shown), "
                   "everything else from their worker's own environment")
        try:
            record = run_sweep(repo, record, engine, workdir=workdir, env=env, on_event=_printer)
        finally:
            engine.close()
        rows = sweep_rows(repo, record)
    _echo_lines(format_sweep_table(rows))
    _totals(record)
    failed = [c for c in record.cells if c.status is CellStatus.FAILED]
    if failed:
        raise OptimizerError(f"{len(failed)} of {len(record.cells)} cells failed ({failed[0].name}: "
                             f"{failed[0].error}); continue with: fnforge sweep --resume --name {record.name}")
    click.echo(f"Read it with: fnforge sweep status {record.name}  |  fnforge sweep transfer {record.name}  |  "
               f"fnforge sweep report {record.name} --out report")


def _record(ctx: click.Context, app: AppContext, repo: registry.Repository, options: Mapping[str, Any],
            env: tuple[str, ...]) -> SweepRecord:
    """The sweep to run: a new one planned from the grid, or the recorded one with --resume."""
    if not options["resume"]:
        base = repo.resolve(options["base"])
        grid, name = _grid(ctx, options, repo, base, app.directory)
        return plan_sweep(repo, grid, name=name, base=base, origin=_origin(options["origin"], app.directory), env=env,
                          max_cost=options["max_cost"], retries=options["retries"])
    fixed = [n for n in ("tasks", "seeds", "agents", "models", "optimizer_models", "grid", "sweep_file", "base",
                         "origin") if _given(ctx, n)]
    fixed += [p.name for p in _PASSED if p.name is not None and _given(ctx, p.name)]
    if fixed:
        raise click.UsageError(f"--{fixed[0].replace('_', '-')} cannot change when resuming a sweep; "
                               "start another sweep (--name) instead")
    record = load_sweep(repo, options["name"])
    changes: dict[str, Any] = {k: options[k] for k in ("max_cost", "retries") if _given(ctx, k)}
    if _given(ctx, "env_names"):
        changes["env"] = env
    return replace(record, **changes)


def _origin(origin: str | None, directory: Path) -> str | None:
    """``--origin`` as the workers read it: a local path made absolute (they run in other folders), a URL as is."""
    if origin is None or not (directory / origin).expanduser().exists():
        return origin
    return str((directory / origin).expanduser().resolve())


def _totals(record: SweepRecord) -> None:
    counts = ", ".join(f"{n} {s.value}" for s, n in record.counts().items() if n)
    budget = f" of ${record.max_cost:.4f}" if record.max_cost is not None else ""
    click.echo(f"Sweep {record.name}: {counts}; spent ${record.cost:.4f}{budget}")


sweep_group.params.extend(_PASSED)


@sweep_group.command("status")
@click.argument("name", required=False)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the cells as JSON.")
@pass_app
def status_command(app: AppContext, name: str | None, csv_path: Path | None, as_json: bool) -> None:
    """Show a sweep's cells: state, attempts, best version, train and test scores, cost.

    NAME defaults to the latest sweep. Best versions come from git (the
    registry's rule); test scores and cost from each cell's run summary.

    Example: fnforge sweep status --csv sweep.csv
    """
    with registry.open(app.directory) as repo:
        record = load_sweep(repo, name)
        rows = sweep_rows(repo, record)
    if csv_path is not None:
        target = csv_path if csv_path.is_absolute() else app.directory / csv_path
        target.write_text(sweep_csv(record, rows), encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"sweep": record.name, "cells": [r.to_dict() for r in rows]}, indent=2))
        return
    click.echo(f"sweep {record.name}: created {record.created}, base {record.base[:7]}, origin "
               f"{'this toolset' if record.origin_is_toolset else record.origin}")
    _echo_lines(format_sweep_table(rows))
    _totals(record)
    if csv_path is not None:
        click.echo(f"Wrote {csv_path}")


def _sizes(record: SweepRecord) -> tuple[int, int]:
    """``--train`` / ``--test`` the cells were given (fnforge train's defaults otherwise)."""
    args = list(record.grid.train_args)
    sizes = {"--train": 20, "--test": 80}
    for flag in sizes:
        if flag in args:
            sizes[flag] = int(args[args.index(flag) + 1])
    return sizes["--train"], max(sizes["--test"], 1)


@sweep_group.command("transfer")
@click.argument("name", required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for transfer.csv and transfer.png (default: the sweep's folder in .git/fnforge).")
@click.pass_context
def sweep_transfer_command(ctx: click.Context, /, name: str | None, out_dir: Path | None, **options: Any) -> None:
    """The transfer matrix of a sweep: each cell's best set on each of its task sets (fnforge transfer).

    Rows are the cells' branches, columns the sweep's task sets (split and seed
    as given, default the test split of seed 0, with the cells' --train/--test).

    Example: fnforge sweep transfer --split test --out study
    """
    app = ctx.find_object(AppContext)
    assert app is not None
    with registry.open(app.directory) as repo:
        record = load_sweep(repo, name)
        folder = sweep_dir(repo, record.name) / TRANSFER_FOLDER
        root = repo.path
    done = [c.branch for c in record.cells if c.status is CellStatus.DONE]
    if not done:
        raise SweepError(f"sweep {record.name} has no finished cell yet")
    n_train, n_test = _sizes(record)
    target = out_dir or folder
    ctx.invoke(transfer_command, **options, branches=",".join(done), n_train=n_train, n_test=n_test,
               task_specs=",".join(loadable_spec(t.spec, root=root) for t in record.grid.tasks), out_dir=target)
    if (target if target.is_absolute() else app.directory / target).resolve() != folder.resolve():
        folder.mkdir(parents=True, exist_ok=True)
        for file in ("transfer.csv", "transfer.png"):
            shutil.copyfile((target if target.is_absolute() else app.directory / target) / file, folder / file)


sweep_transfer_command.params.extend(
    copy.copy(p) for p in transfer_command.params if p.name not in ("branches", "task_specs", "n_train", "n_test",
                                                                    "out_dir"))


@sweep_group.command("report")
@click.argument("name", required=False)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for sweep.html and the cells' reports.")
@pass_app
def sweep_report_command(app: AppContext, name: str | None, out_dir: Path) -> None:
    """Write the sweep's HTML page: cells, scores, a heatmap, the transfer matrix, each cell's run report.

    Example: fnforge sweep report --out report && xdg-open report/sweep.html
    """
    with registry.open(app.directory) as repo:
        record = load_sweep(repo, name)
        page = write_sweep_report(repo, record, out_dir if out_dir.is_absolute() else app.directory / out_dir)
    click.echo(f"Wrote {page}")
