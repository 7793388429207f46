"""Study commands across domains: domains, transfer, merge, report.

Library equivalents: ``optimizer.transfer_matrix``, ``optimizer.merge_domains``,
``optimizer.build_report`` / ``write_report``; the branch -> task-set
resolution below (:func:`branch_domain`) follows what ``fnforge train``
recorded for the branch's run.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, Literal, TypeVar  # Any: click's option values and JSON rows

import click

from fnforge import registry
from fnforge.agents import AgentConfig, LLMClient
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._config import CONFIG_FILE, ToolsetConfig, load_config
from fnforge.cli._terminal import visible
from fnforge.cli._runtime import (data_cache_dir, data_option, llm_config, llm_options, open_eval_cache, open_sandbox,
                                  progress_bar)
from fnforge.optimizer import Report
from fnforge.optimizer import (
    BASELINE_LABEL, MERGE_MODES, Domain, TrainingError, build_report, find_run, merge_domains, plot_heatmap,
    summary_lines, transfer_matrix, write_report,
)
from fnforge.cli._taskpath import load_splits
from fnforge.tasks import selection_hash

__all__ = ["branch_domain", "domain_settings"]

T = TypeVar("T", bound=Callable[..., Any])
_DEFAULTS = {"n_train": 20, "n_test": 80, "seed": 0}


def _split_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise click.UsageError(f"--{what} needs a comma-separated list")
    return items


def domain_settings(repo: registry.Repository, branch: str) -> dict[str, Any]:
    """Task set, sizes, seed and data folder a branch was trained with.

    From the record of the run that made the branch's best version
    (``.git/fnforge/runs/<run>/run.json``); for a branch without one (e.g. a
    clone) from that version's ``Tasks`` trailer, else the branch's own
    ``fnforge.toml``, with ``fnforge train``'s default sizes.
    """
    best = repo.best(branch) or repo.version(branch)
    if best.run:
        try:
            record = find_run(repo, branch, best.run)
        except TrainingError:
            record = None
        if record is not None and record.settings.get("task"):
            return {**_DEFAULTS, **{k: record.settings[k] for k in ("task", "n_train", "n_test", "seed", "agent",
                                                                     "max_turns", "data_dir") if k in record.settings}}
    recorded = registry.TaskSet.parse(best.trailer("Tasks"))
    if recorded.label:
        settings = {**_DEFAULTS, "task": recorded.label}
        if recorded.n is not None:
            settings["n_train"] = recorded.n
        return settings
    data = repo.read_file(branch, CONFIG_FILE)
    table = tomllib.loads(data.decode()).get("fnforge", {}) if data else {}
    return {**_DEFAULTS, "task": table.get("task", ToolsetConfig().task)}


def branch_domain(repo: registry.Repository, branch: str, *, split: str = "train",
                  data_dir: Path | None = None) -> Domain:
    """The task set a branch was trained on (its training or test split) as a :class:`Domain`."""
    settings = domain_settings(repo, branch)
    domain = _domain(settings["task"], split, settings, data_dir, root=repo.path, cwd=repo.path)
    best = repo.best(branch)
    recorded = registry.TaskSet.parse(best.trailer("Tasks")).digest if best is not None and split == "train" else None
    if recorded and not selection_hash(domain.tasks).startswith(recorded):
        click.echo(f"warning: the training tasks of {branch} found now ({selection_hash(domain.tasks)[:12]}) "
                   f"differ from the ones recorded in its best commit ({recorded})", err=True)
    return domain


def _domain(spec: str, split: str, settings: dict[str, Any], data_dir: Path | None, *, root: Path,
            cwd: Path) -> Domain:
    """The tasks of ``spec`` (given in ``cwd``; paths inside the toolset are recorded relative to ``root``)."""
    folder = data_dir or (Path(settings["data_dir"]) if settings.get("data_dir") else None)
    splits = load_splits(spec, root=root, cwd=cwd, n_train=settings["n_train"], n_test=settings["n_test"],
                         seed=settings["seed"], data_dir=folder, cache_dir=data_cache_dir())
    chosen = splits.train if split == "train" else splits.test
    return Domain(label=chosen.spec, tasks=chosen.tasks)


def _run_async(app: AppContext, options: dict[str, Any], config: ToolsetConfig, repo: registry.Repository,
               body: Callable[[LLMClient, Any, Any], Any]) -> Any:
    """Run ``body(client, sandbox, cache)`` with the command's LLM settings, sandbox and eval cache."""
    model = options["model"] or config.model
    llm = llm_config(model, base_url=options["base_url"], state_dir=repo.state_dir,
                     use_cache=not options["no_cache"], concurrency=options["concurrency"])

    async def main() -> Any:
        cache = open_eval_cache(repo.state_dir, enabled=not options["no_cache"])
        try:
            # Workers start on the first call: none when every cell is cached.
            with closing(open_sandbox(config, workers=options["concurrency"])) as sandbox:
                async with LLMClient(llm) as client:
                    return await body(client, sandbox, cache)
        finally:
            if cache is not None:
                cache.close()

    return asyncio.run(main())


def _agent(options: dict[str, Any], config: ToolsetConfig) -> AgentConfig:
    chosen = options["agent"] or config.agent  # click and load_config both allow only tool or react
    kind: Literal["tool", "react"] = "react" if chosen == "react" else "tool"
    return AgentConfig(kind=kind, max_turns=options["max_turns"])


def _agent_options(command: T) -> T:
    command = click.option("--max-turns", type=click.IntRange(min=1), default=10, show_default=True,
                           help="LLM calls per task for the agent.")(command)
    return click.option("--agent", type=click.Choice(["tool", "react"]),
                        help="Agent system (default: fnforge.toml's).")(command)


# -- domains --------------------------------------------------------------------------------------


@cli.command("domains")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def domains_command(app: AppContext, as_json: bool) -> None:
    """List each branch's task, best train score, test score, functions and last run.

    Per branch, its current task set (the one it was last trained on), the
    best version for it (fnforge best), that version's test score on the same
    task set (from its notes), its functions and the branch's last run.

    Example: fnforge domains
    """
    rows: list[dict[str, Any]] = []  # Any: the JSON row, with values of several types
    with registry.open(app.directory) as repo:
        for info in repo.branch_list():
            versions = repo.log(info.name)
            label = registry.TaskSet.parse(info.tasks).label if info.tasks else None
            test = next((m.score for m in repo.scores(info.name, "test", tasks=label)
                         if m.version.sha == info.best_sha), None) if info.best_sha else None
            last = next((v for v in versions if v.run), None)
            rows.append({
                "branch": info.name, "current": info.current,
                "task": label or domain_settings(repo, info.name)["task"],
                "best": info.best_sha[:7] if info.best_sha else None, "train": info.best_score,
                "test": test,
                "functions": len(repo.read(info.best_sha or info.sha)),
                "last_run": last.run if last else None,
                "last_run_time": last.time.strftime("%Y-%m-%d %H:%M") if last else None,
            })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("branch", "task", "best", "train", "test", "functions", "last run")
    table = [header] + [(
        ("* " if r["current"] else "  ") + r["branch"], r["task"], r["best"] or "-", _fmt(r["train"]),
        _fmt(r["test"]), str(r["functions"]),
        f"{r['last_run']} ({r['last_run_time']})" if r["last_run"] else "-") for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo(visible("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()))


def _short(spec: str) -> str:
    """A task-set label without the folders of its path (``jsonl:/data/qa.jsonl`` -> ``jsonl:qa.jsonl``)."""
    kind, sep, rest = spec.partition(":")
    return f"{kind}:{Path(rest).name}" if sep and kind in ("jsonl", "gaia") and "/" in rest else spec


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# -- transfer -------------------------------------------------------------------------------------


@cli.command("transfer")
@click.option("--branches", required=True, help="Comma-separated branches; each one's best set is a row.")
@click.option("--tasks", "task_specs", required=True, help="Comma-separated task sets; each is a column.")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--train", "n_train", type=click.IntRange(min=1), default=20, show_default=True,
              help="Training tasks per task set (as fnforge train --train).")
@click.option("--test", "n_test", type=click.IntRange(min=1), default=80, show_default=True,
              help="Test tasks per task set (as fnforge train --test).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the train/test split.")
@click.option("--no-baseline", is_flag=True, help="Leave out the untrained (empty set) row.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for transfer.csv and transfer.png.")
@_agent_options
@llm_options
@data_option
@pass_app
def transfer_command(app: AppContext, /, branches: str, task_specs: str, split: str, n_train: int, n_test: int,
                     seed: int, no_baseline: bool, out_dir: Path, **options: Any) -> None:
    """Evaluate each branch's best set on each task set: a transfer matrix (the paper's Fig. 3).

    Rows are trained on, columns tested on; the first row is the untrained
    baseline (no functions). Writes transfer.csv and a heatmap transfer.png.
    Cells already evaluated (by fnforge eval, training or an earlier
    transfer) come from the evaluation cache.

    Example: fnforge transfer --branches domain/algebra,domain/geometry --tasks math:algebra,math:geometry --out study
    """
    names, specs = _split_list(branches, "branches"), _split_list(task_specs, "tasks")
    settings = {"n_train": n_train, "n_test": n_test, "seed": seed}
    with registry.open(app.directory) as repo:
        config = load_config(repo.path)
        sets = []
        for name in names:
            best = repo.best(name)
            if best is None:
                raise registry.RegistryError(f"branch {name!r} has no scored version; train it first")
            sets.append((name, repo.read(best.sha)))
        domains = [_domain(spec, split, settings, options["data_dir"], root=repo.path, cwd=app.directory)
                   for spec in specs]
        cells = (len(sets) + (not no_baseline)) * len(domains)
        with progress_bar("transfer", cells) as advance:
            done = 0

            def tick(row: str, column: str, report: Report) -> None:
                nonlocal done
                done += 1
                advance(done)

            matrix = _run_async(app, options, config, repo, lambda client, sandbox, cache: transfer_matrix(
                sets, domains, _agent(options, config), client=client, sandbox=sandbox, cache=cache,
                concurrency=options["concurrency"], baseline=not no_baseline, progress=tick))
    target = out_dir if out_dir.is_absolute() else app.directory / out_dir
    target.mkdir(parents=True, exist_ok=True)
    (target / "transfer.csv").write_text(matrix.to_csv(), encoding="utf-8")
    rows = [f"{r} (no functions)" if r == BASELINE_LABEL else r for r in matrix.rows]
    plot_heatmap(rows, [_short(c) for c in matrix.columns], matrix.scores, target / "transfer.png",
                 title=f"Transfer on the {split} split (rows: trained on, columns: tested on)")
    click.echo(matrix.format_table(column_label=_short))
    click.echo(f"Wrote {target / 'transfer.csv'} and {target / 'transfer.png'}")


# -- merge ----------------------------------------------------------------------------------------


@cli.command("merge")
@click.argument("branch")
@click.option("--prefer", type=click.Choice(MERGE_MODES), default="both", show_default=True,
              help="For a function changed on both sides: ours, theirs, the variant of the better-scoring "
                   "merge (best-score), or both (theirs renamed <name>_<branch>).")
@_agent_options
@llm_options
@data_option
@pass_app
def merge_command(app: AppContext, /, branch: str, prefer: str, **options: Any) -> None:
    """Merge another domain branch's functions into the checked-out branch, scored on both domains.

    The merge commit has two parents; its Score is on this branch's training
    tasks, and Score-Ours / Score-Theirs record both domains.

    Example: fnforge merge domain/geometry --prefer best-score
    """
    with registry.open(app.directory) as repo:
        config = load_config(repo.path)
        ours_name = repo.head_branch
        if ours_name is None:
            raise click.UsageError("HEAD is detached; switch to the branch to merge into")
        ours = branch_domain(repo, ours_name, data_dir=options["data_dir"])
        theirs = branch_domain(repo, branch, data_dir=options["data_dir"])
        outcome = _run_async(app, options, config, repo, lambda client, sandbox, cache: merge_domains(
            repo, branch, prefer=prefer, ours_domain=ours, theirs_domain=theirs, agent_config=_agent(options, config),
            client=client, sandbox=sandbox, cache=cache, concurrency=options["concurrency"]))
    version, result = outcome.version, outcome.plan.result
    click.echo(visible(f"[{ours_name} {version.short}] {version.subject}"))
    for conflict in result.conflicts:
        kept = ", ".join(conflict.kept) or "nothing"
        click.echo(visible(f"  conflict {conflict.name}: ours {conflict.ours}, theirs {conflict.theirs} -> "
                           f"{outcome.prefer}: kept {kept}"))
    click.echo(f"  {len(result.function_set)} functions; score {outcome.ours.accuracy:.4f} on {ours.label} "
               f"(ours), {outcome.theirs.accuracy:.4f} on {theirs.label} (theirs)")


# -- report ---------------------------------------------------------------------------------------


@cli.command("report")
@click.option("--branch", help="Branch to report on (default: the checked-out one).")
@click.option("--run", "run_id", help="Run id (default: the branch's latest; 'all' for every run).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for index.html and the PNGs.")
@pass_app
def report_command(app: AppContext, branch: str | None, run_id: str | None, out_dir: Path) -> None:
    """Write an HTML report of a training run: learning curve, best set, histories, calls, complexity.

    The page is self-contained (images inlined); the PNGs are written next to it.

    Example: fnforge report --branch domain/algebra --out report && xdg-open report/index.html
    """
    with registry.open(app.directory) as repo:
        report = build_report(repo, branch=branch, run=run_id)
        target = out_dir if out_dir.is_absolute() else app.directory / out_dir
        index = write_report(report, target)
    for line in summary_lines(report):
        click.echo(visible(line))
    click.echo(f"Wrote {index}")
