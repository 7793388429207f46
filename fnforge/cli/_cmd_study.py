"""Study commands across domains: domains, transfer, merge, report.

Library equivalents: ``optimizer.transfer_matrix``, ``optimizer.merge_domains``,
``optimizer.build_report`` / ``write_report``; the branch -> task-set
resolution below (:func:`branch_domain`) follows what ``fnforge train``
recorded in the branch's fnforge.toml.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any  # Any: click's option values and JSON rows

import click

from fnforge import registry
from fnforge.agents import LLMClient
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._config import CONFIG_FILE, CommandError, ToolsetConfig, committed_config, load_config
from fnforge.cli._runtime import agent_config, llm_config, llm_options, open_eval_cache, open_sandbox, progress_bar
from fnforge.cli._settings import SplitSettings, agent_options, endpoint, resolve_split, split_options
from fnforge.cli._terminal import visible
from fnforge.functions import plural
from fnforge.optimizer import (
    BASELINE_LABEL, MERGE_MODES, Domain, Report, build_report, merge_domains, plot_heatmap, summary_lines,
    transfer_matrix, write_report,
)
from fnforge.tasks import selection_hash

__all__ = ["branch_config", "branch_domain"]

def _split_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise CommandError(f"--{what} needs a comma-separated list")
    return items


def branch_config(repo: registry.Repository, branch: str) -> ToolsetConfig:
    """A branch's fnforge.toml: the working tree's for the checked-out branch, else the one committed at its tip.

    Raises:
        ConfigError: the file is not valid.
    """
    if branch == repo.head_branch and not repo.bare:
        return load_config(repo.path)
    return committed_config(repo.read_file(branch, CONFIG_FILE), where=f"{branch}:{CONFIG_FILE}")


def branch_domain(repo: registry.Repository, branch: str, options: Mapping[str, Any], *, cwd: Path,
                  split: str = "train") -> Domain:
    """The task set a branch trains on (its fnforge.toml's; split flags in ``options`` override) as a :class:`Domain`.

    Warns when its training tasks differ from the ones its best version was scored on.
    """
    resolved = resolve_split(branch_config(repo, branch), root=repo.path, cwd=cwd, **_flags(options))
    chosen = _domain(resolved, split, root=repo.path)
    best = repo.best(branch)
    recorded = registry.TaskSet.parse(best.trailer("Tasks")) if best is not None else None
    if recorded is not None and recorded.digest and split == "train" and (
            recorded.label != chosen.label or not selection_hash(chosen.tasks).startswith(recorded.digest)):
        found = f"{chosen.label} ({plural(len(chosen.tasks), 'task')}, {selection_hash(chosen.tasks)[:12]})"
        click.echo(f"warning: the training tasks of {branch} from its fnforge.toml, {found}, differ from the "
                   f"ones its best version was scored on, {recorded.describe()}", err=True)
    return chosen


def _run_async(app: AppContext, options: dict[str, Any], config: ToolsetConfig, repo: registry.Repository,
               body: Callable[[LLMClient, Any, Any], Any]) -> Any:
    """Run ``body(client, sandbox, cache)`` with the command's LLM settings, sandbox and eval cache."""
    model = options["model"] or config.model
    llm = llm_config(model, base_url=endpoint(options["base_url"], config), state_dir=repo.state_dir,
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
                "task": label or branch_config(repo, info.name).task,
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


def _flags(options: Mapping[str, Any]) -> dict[str, Any]:
    """The split flags of ``options`` (None where not given), as :func:`resolve_split` takes them."""
    names = ("n_train", "n_test", "seed", "data_dir", "question_field", "answer_field")
    return {name: options[name] for name in names}


def _domain(resolved: SplitSettings, split: str, *, root: Path) -> Domain:
    splits = resolved.load(root)
    chosen = splits.train if split == "train" else splits.test
    return Domain(label=chosen.spec, tasks=chosen.tasks)


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
@split_options
@click.option("--no-baseline", is_flag=True, help="Leave out the untrained (empty set) row.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for transfer.csv and transfer.png.")
@agent_options
@llm_options
@pass_app
def transfer_command(app: AppContext, /, branches: str, task_specs: str, split: str, no_baseline: bool, out_dir: Path,
                     **options: Any) -> None:
    """Evaluate each branch's best set on each task set: a transfer matrix (the paper's Fig. 3).

    Rows are trained on, columns tested on; the first row is the untrained
    baseline (no functions). Writes transfer.csv and a heatmap transfer.png.
    Cells already evaluated (by fnforge eval, training or an earlier
    transfer) come from the evaluation cache. Split sizes, seed and data
    are fnforge.toml's unless given; a cell with tasks that failed at the
    provider stops the study (exit 5) and writes nothing.

    Example: fnforge transfer --branches domain/algebra,domain/geometry --tasks math:algebra,math:geometry --out study
    """
    names, specs = _split_list(branches, "branches"), _split_list(task_specs, "tasks")
    with registry.open(app.directory) as repo:
        config = load_config(repo.path)
        sets = []
        for name in names:
            best = repo.best(name)
            if best is None:
                raise registry.RegistryError(f"branch {name!r} has no scored version; train it first")
            sets.append((name, repo.read(best.sha)))
        domains = [_domain(resolve_split(config, root=repo.path, cwd=app.directory, task=spec, **_flags(options)),
                           split, root=repo.path) for spec in specs]
        cells = (len(sets) + (not no_baseline)) * len(domains)
        with progress_bar("transfer", cells) as advance:
            done = 0

            def tick(row: str, column: str, report: Report) -> None:
                nonlocal done
                done += 1
                advance(done)

            matrix = _run_async(app, options, config, repo, lambda client, sandbox, cache: transfer_matrix(
                sets, domains, agent_config(options["agent"], options["max_turns"], config), client=client, sandbox=sandbox, cache=cache,
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
@split_options
@agent_options
@llm_options
@pass_app
def merge_command(app: AppContext, /, branch: str, prefer: str, **options: Any) -> None:
    """Merge another domain branch's functions into the checked-out branch, scored on both domains.

    The merge commit has two parents; its Score is on this branch's training
    tasks, and Score-Ours / Score-Theirs record both domains. Each domain is
    what its branch's fnforge.toml names (task set, split sizes, seed, data);
    --train/--test/--seed/--data override both for this merge.

    Example: fnforge merge domain/geometry --prefer best-score
    """
    with registry.open(app.directory) as repo:
        config = load_config(repo.path)
        ours_name = repo.head_branch
        if ours_name is None:
            raise CommandError("HEAD is detached; switch to the branch to merge into (fnforge switch BRANCH)")
        ours = branch_domain(repo, ours_name, options, cwd=app.directory)
        theirs = branch_domain(repo, branch, options, cwd=app.directory)
        outcome = _run_async(app, options, config, repo, lambda client, sandbox, cache: merge_domains(
            repo, branch, prefer=prefer, ours_domain=ours, theirs_domain=theirs,
            agent_config=agent_config(options["agent"], options["max_turns"], config), client=client, sandbox=sandbox, cache=cache, concurrency=options["concurrency"]))
    version, result = outcome.version, outcome.plan.result
    click.echo(visible(f"[{ours_name} {version.short}] {version.subject}"))
    for conflict in result.conflicts:
        kept = ", ".join(conflict.kept) or "nothing"
        click.echo(visible(f"  conflict {conflict.name}: ours {conflict.ours}, theirs {conflict.theirs} -> "
                           f"{outcome.prefer}: kept {kept}"))
    click.echo(f"  {plural(len(result.function_set), 'function')}; score {outcome.ours.accuracy:.4f} on {ours.label} "
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
