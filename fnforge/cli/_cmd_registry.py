"""Registry commands: init, log, best, diff, rollback, branch create|list|delete, switch.

Each parses its arguments, calls one ``registry`` function and formats the
result; errors are ``registry`` / ``functions`` exceptions that the group
turns into ``Error: <message>`` and an exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any  # Any: click's option values and JSON output

import click

from fnforge import registry
from fnforge.cli._config import CONFIG_FILE, CommandError, ToolsetConfig, load_config
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._settings import recorded_data, recorded_endpoint, resolve_split, split_options
from fnforge.cli._taskpath import portable_spec
from fnforge.cli._terminal import visible, visible_lines
from fnforge.functions import FnforgeError

__all__ = ["status_mark"]

_MARKS = {"accepted": "✓", "rejected": "✗", "rollback": "↺", "initial": "●", "manual": "✎", "merge": "⑂"}
_ASCII_MARKS = {"accepted": "+", "rejected": "x", "rollback": "<", "initial": "*", "manual": "m", "merge": "Y"}


def status_mark(status: str | None, *, ascii_only: bool = False) -> str:
    """The one-character mark ``fnforge log`` shows for a status (``·`` / ``.``: no fnforge Status, e.g. a git commit)."""
    marks = _ASCII_MARKS if ascii_only else _MARKS
    return marks.get(status or "", "." if ascii_only else "·")


def _ascii_only() -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "".join(_MARKS.values()).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _score(version: registry.Version) -> str:
    return f"{version.score:.4f}" if version.score is not None else "-"


def _line(version: registry.Version, *, best: bool = False, ascii_only: bool = False,
          score: float | None | str = "trailer", also: str = "") -> str:
    """One ``log`` line; ``score`` replaces the trailer's Score (e.g. a test score from the notes); ``also``:
    more score columns (validation and test, next to train)."""
    epoch = f"e{version.epoch}" if version.epoch is not None else "-"
    mark = status_mark(version.status, ascii_only=ascii_only)
    tail = " [best]" if best else ""
    shown = _score(version) if score == "trailer" else ("-" if score is None else f"{score:.4f}")
    return f"{version.short} {mark} {shown:>6}{also} {epoch:>4}  {visible(version.subject)}{tail}"


def _side_by_side(version: registry.Version, tests: dict[str, float]) -> str:
    """`` val 0.5000 test 0.6250`` (``-`` where not measured): train, validation and test in one line."""
    val, test = version.trailer("Val-Score"), tests.get(version.sha)
    val_text = f"{float(val):.4f}" if val is not None else "-"
    return f" val {val_text:>6} test {f'{test:.4f}' if test is not None else '-':>6}"


def _test_scores(repo: registry.Repository, branch: str | None, query: str | None) -> dict[str, float]:
    scores: dict[str, float] = {}
    for found in repo.scores(branch, "test", tasks=query):
        scores.setdefault(found.version.sha, found.score)
    return scores


_TASK_HELP = ("Task set whose scores count: a label (jsonl:qa.jsonl), a description or sha256:PREFIX "
              "(default: the branch's current one, that of its newest scored commit).")


def _task_query(repo: registry.Repository, app: AppContext, task: str | None) -> str | None:
    """``--task`` as the toolset records it (a path relative to the toolset's root)."""
    if task is None or "sha256:" in task:
        return task
    try:
        return portable_spec(task, root=repo.path, cwd=app.directory)
    except FnforgeError:
        return task  # not a spec the loaders know: match it as written


def _no_scores(repo: registry.Repository, where: str, split: str, task: str | None) -> registry.RegistryError:
    known = repo.task_sets(where, split)
    which = f"task set {task!r}" if task else f"{split} split"
    listing = f"; scored task sets: {'; '.join(t.describe() for t in known)}" if known and task else ""
    return registry.RegistryError(f"no scored version on {where!r} ({which}){listing}")


def _json(data: Any) -> None:
    click.echo(visible_lines(json.dumps(data, indent=2, ensure_ascii=False)))


@cli.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--task", help="Task the toolset is trained on (default math:algebra).")
@click.option("--agent", type=click.Choice(["tool", "react"]), help="Agent system (default tool).")
@click.option("--model", help="Model the agent runs on (default gpt-4o-mini).")
@click.option("--optimizer-model", help="The optimizer's model (default: --model).")
@click.option("--base-url", help="OpenAI-compatible endpoint to record (never a key; default: OpenAI's).")
@split_options
@pass_app
def init_command(app: AppContext, directory: Path | None, task: str | None, agent: str | None, model: str | None,
                 optimizer_model: str | None, base_url: str | None, n_train: int | None, n_test: int | None,
                 seed: int | None, data_dir: Path | None, question_field: str | None,
                 answer_field: str | None) -> None:
    """Create a toolset repository: fnforge.toml, an empty functions/ folder, and a first commit.

    DIRECTORY defaults to the current one (or -C DIR). fnforge.toml records
    the task set, split sizes and seed, data folder, agent, models and
    endpoint: the defaults of every later command (see fnforge config). A
    task set that does not exist is refused here.

    Example: fnforge init demo --task math:algebra --agent react --model gpt-4o-mini
    """
    target = app.directory / directory if directory is not None else app.directory
    if base_url is not None and recorded_endpoint(base_url) is None:
        raise CommandError(f"--base-url {base_url!r} cannot be recorded: give an http(s) URL without a user, "
                           "password or query (the key goes in OPENAI_API_KEY)")
    split = resolve_split(ToolsetConfig(), root=target, cwd=app.directory, task=task, n_train=n_train,
                          n_test=n_test, seed=seed, data_dir=data_dir, question_field=question_field,
                          answer_field=answer_field)
    if data_dir is not None and (split.data_dir is None or not split.data_dir.is_dir()):
        raise CommandError(f"--data {data_dir}: no such folder")
    config = ToolsetConfig().with_values(
        task=split.task, agent=agent, model=model, optimizer_model=optimizer_model, base_url=base_url,
        train=split.n_train, test=split.n_test, seed=split.seed, question_field=split.question_field,
        answer_field=split.answer_field,
        data=recorded_data(split.data_dir, target) if split.data_dir is not None else None)
    repo = registry.init(target, files={CONFIG_FILE: config.to_toml().encode()})
    try:
        (repo.path / "functions").mkdir(exist_ok=True)
        click.echo(
            f"Initialized toolset in {repo.path} (task {config.task}, agent {config.agent}, model {config.model})"
        )
    finally:
        repo.close()


@cli.command("log")
@click.argument("branch", required=False)
@click.option("-n", "--limit", type=click.IntRange(min=1), help="Show at most N versions.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Scores shown: train (the commits' trailers) or test (the notes of fnforge eval and training).")
@click.option("--task", help=_TASK_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
@pass_app
def log_command(app: AppContext, branch: str | None, limit: int | None, split: str, task: str | None,
                as_json: bool) -> None:
    """List a branch's versions, newest first: sha, status, score, epoch, subject.

    Status marks: ✓ accepted, ✗ rejected, ↺ rollback, ● initial, ✎ manual,
    ⑂ merge, · none (a commit made with plain git); ASCII + x < * m Y . when
    the terminal lacks them. [best] marks the best version (fnforge best) on
    the split and task set shown. With --split test the score column is the
    test score recorded in the commit's notes (- when it was not evaluated).
    On a branch trained with --val, train, validation and test scores stand
    side by side, and [best] is the validation-selected best.

    Example: fnforge log domain/algebra -n 20 --split test
    """
    with registry.open(app.directory) as repo:
        versions = repo.log(branch, limit=limit)
        query = _task_query(repo, app, task)
        best = repo.best_score(branch, split, tasks=query)
        best_sha = best.version.sha if best is not None else None
        scores = _test_scores(repo, branch, query) if split != "train" else {}
        validated = split == "train" and any(v.trailer("Val-Score") is not None for v in versions)
        tests = _test_scores(repo, branch, query) if validated else {}
        if as_json:
            _json([{**v.to_dict(), **({"score": scores.get(v.sha)} if split != "train" else {}),
                    "best": v.sha == best_sha} for v in versions])
            return
        ascii_only = _ascii_only()
        click.echo("\n".join(
            _line(v, best=v.sha == best_sha, ascii_only=ascii_only,
                  score=scores.get(v.sha) if split != "train" else "trailer",
                  also=_side_by_side(v, tests) if validated else "") for v in versions))


@cli.command("best")
@click.argument("branch", required=False)
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Which split's scores count (test: the notes of fnforge eval --split test and training).")
@click.option("--task", help=_TASK_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@pass_app
def best_command(app: AppContext, branch: str | None, split: str, task: str | None, as_json: bool) -> None:
    """Show a branch's best version for a task set: what best/<branch> names everywhere.

    The highest score on that exact task set (spec, size, content hash,
    split, metric) among commits with valid trailers, first parents only;
    rejected trials never count; ties go to the later acceptance; a batch
    run is judged by its own record; a run that selected on validation
    (train --val) by its validation scores. Also puts the branch's pointer
    refs/fnforge/best/<branch> right if plain git moved the branch.

    Example: fnforge best domain/algebra --split test --task math:algebra
    """
    with registry.open(app.directory) as repo:
        where = branch or repo.head_branch or "HEAD"
        found = repo.best_score(branch, split, tasks=_task_query(repo, app, task))
        if found is None:
            raise _no_scores(repo, where, split, task)
        name = branch if branch is not None else repo.head_branch
        if name in repo.branches():
            repo.update_best_refs([name])
        validated = split == "train" and found.val_score is not None
        tests = _test_scores(repo, branch, None) if validated else {}
        if as_json:
            _json({**found.version.to_dict(), "score": found.score, "split": split,
                   "tasks": found.task_set.describe(), "val_score": found.val_score,
                   "test_score": tests.get(found.version.sha)})
            return
        click.echo(_line(found.version, ascii_only=_ascii_only(), score=found.score,
                         also=_side_by_side(found.version, tests) if validated else ""))
        if found.task_set.label:
            click.echo(f"  on {found.task_set.describe()}, {split} split")


@cli.command("diff")
@click.argument("old", metavar="REV")
@click.argument("new", metavar="[REV]", default="HEAD")
@click.option("--tasks", "split", flag_value="train", default=None,
              help="List the training tasks that flipped between the two (from their notes), with the exact "
                   "sign test of the second over the first, instead of the code diff.")
@pass_app
def diff_command(app: AppContext, old: str, new: str, split: str | None) -> None:
    """Per-function unified diff between two versions (the second defaults to HEAD).

    With --tasks: the tasks (and rollouts) right in one and wrong in the
    other, paired on the training results their notes record.

    Example: fnforge diff best/main HEAD --tasks
    """
    with registry.open(app.directory) as repo:
        if split is None:
            click.echo(visible_lines(repo.diff(old, new)), nl=False)
            return
        from fnforge.optimizer import task_flips  # here: `fnforge diff` without --tasks stays quick to start

        flips = task_flips(_results(repo, old, split), _results(repo, new, split))
        for sign, units in (("+", flips.gained), ("-", flips.lost)):
            for unit in units:
                change = "wrong -> right" if sign == "+" else "right -> wrong"
                click.echo(f"{sign} {visible(unit)}  ({change})")
        click.echo(f"{len(flips.gained)} gained, {len(flips.lost)} lost of {flips.paired} paired {split} tasks; "
                   f"exact sign test ({new} better than {old}, one-sided): p = {flips.p_value:.4g}")


def _results(repo: registry.Repository, rev: str, split: str) -> list[dict[str, Any]]:
    entry = (repo.note(rev) or {}).get(split)
    results = entry.get("results") if isinstance(entry, dict) else None
    if not isinstance(results, list):
        raise registry.RegistryError(f"{rev} has no per-task {split} results in its notes; "
                                     f"evaluate it with `fnforge eval {rev}`")
    return [r for r in results if isinstance(r, dict)]


@cli.command("rollback")
@click.option("--to", "to", metavar="REV", help="Version to restore (default: the branch's best).")
@click.option("--branch", help="Branch to roll back (default: the checked-out one).")
@pass_app
def rollback_command(app: AppContext, to: str | None, branch: str | None) -> None:
    """Restore an earlier version by a revert commit (Status: rollback); history is kept.

    Example: fnforge rollback --to best/main
    """
    with registry.open(app.directory) as repo:
        version = repo.rollback(to, branch=branch, allow_empty=False)
        restored = version.trailer("Restores") or ""
        click.echo(f"Rolled back to {restored[:7]}: new commit {version.short} (score {_score(version)})")


@cli.group("branch", invoke_without_command=True)
@click.pass_context
def branch_group(ctx: click.Context) -> None:
    """Create, list and delete branches (one per task domain, e.g. domain/algebra).

    Without a subcommand: list.

    Example: fnforge branch create domain/algebra --from best/main
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(branch_list_command)


@branch_group.command("create")
@click.argument("name")
@click.option("--from", "start", default="HEAD", show_default=True, metavar="REV", help="Where the branch starts.")
@pass_app
def branch_create_command(app: AppContext, name: str, start: str) -> None:
    """Create a branch (and its best pointer) without switching to it.

    Example: fnforge branch create domain/algebra --from best/main
    """
    with registry.open(app.directory) as repo:
        version = repo.create_branch(name, start)
        click.echo(f"Created branch {name} at {version.short}")


@branch_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def branch_list_command(app: AppContext, as_json: bool = False) -> None:
    """List branches: current mark, name, tip, best version, score and its task set.

    Also puts every best pointer (refs/fnforge/best/<branch>) right if plain
    git moved a branch, and removes pointers of deleted branches.

    Example: fnforge branch list
    """
    with registry.open(app.directory) as repo:
        infos = repo.branch_list()
        repo.update_best_refs()
    if as_json:
        _json([{"name": i.name, "sha": i.sha, "current": i.current, "best": i.best_sha, "best_score": i.best_score,
                "tasks": i.tasks} for i in infos])
        return
    width = max((len(i.name) for i in infos), default=0)
    for info in infos:
        best = "best -"
        if info.best_sha is not None and info.best_score is not None:
            best = f"best {info.best_sha[:7]} {info.best_score:.4f}"
            if info.tasks:
                best += f" on {registry.TaskSet.parse(info.tasks).label}"
        click.echo(visible(f"{'*' if info.current else ' '} {info.name:<{width}}  {info.sha[:7]}  {best}"))


@branch_group.command("delete")
@click.argument("name")
@pass_app
def branch_delete_command(app: AppContext, name: str) -> None:
    """Delete a branch and its best pointer (not the checked-out one).

    Example: fnforge branch delete domain/old
    """
    with registry.open(app.directory) as repo:
        sha = repo.delete_branch(name)
    click.echo(f"Deleted branch {name} (was {sha[:7]})")


@cli.command("switch")
@click.argument("branch")
@click.option("-c", "--create", is_flag=True, help="Create BRANCH at HEAD first (like git switch -c).")
@pass_app
def switch_command(app: AppContext, branch: str, create: bool) -> None:
    """Check out BRANCH (like git switch; plain git switch works too), refusing to lose edits in functions/.

    Each branch has its own fnforge.toml, so after a switch every command
    runs on that branch's task set and settings.

    Example: fnforge switch -c domain/geometry
    """
    with registry.open(app.directory) as repo:
        if create:
            repo.create_branch(branch, "HEAD")
        repo.switch(branch)
        version = repo.version("HEAD")
        task = load_config(repo.path).task
    click.echo(visible(f"Switched to {'a new ' if create else ''}branch {branch} at {version.short}: "
                       f"{version.subject} (task {task})"))
