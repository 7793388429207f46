"""``fnforge eval``: score one revision's functions on a task split, cached, and note the result on its commit.

The command resolves the revision, ``fnforge.toml`` and the flags into tasks,
an LLM client and a sandbox, calls :func:`optimizer.evaluate` once, writes the
per-task results to the commit's ``git notes --ref=fnforge`` and prints the
accuracy with its 95% interval. The note is where the trainer records its test
evaluation and where ``fnforge best --split test`` / ``log --split test`` read:
under the split's name (``test``) for the commit's own task set, under
``test@<task set>`` for another one, with ``split`` and ``tasks`` (the exact
task set: spec, size, content hash) inside.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._runtime import llm_options
from fnforge.cli._settings import agent_options, split_options
from fnforge.cli._terminal import visible_lines

if TYPE_CHECKING:  # imported by the command when it runs: `fnforge eval --help` stays cheap
    from fnforge.agents import AgentConfig, LLMConfig
    from fnforge.cli._config import ToolsetConfig
    from fnforge.functions import FunctionSet
    from fnforge.optimizer import Report
    from fnforge.tasks import Task

__all__: list[str] = []


@cli.command("eval")
@click.argument("rev", required=False)
@click.option("--worktree", is_flag=True,
              help="Score functions/ as it is now, uncommitted edits included (no REV; nothing is noted).")
@click.option("--task", "task_spec",
              help="Task set, e.g. math:algebra, gsm8k (default: the one REV was trained on, else fnforge.toml's).")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True,
              help="Which side of the split to evaluate on.")
@split_options
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N tasks of the split.")
@agent_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@llm_options
@pass_app
def eval_command(app: AppContext, rev: str | None, worktree: bool, task_spec: str | None, split: str,
                 n_train: int | None, n_test: int | None, seed: int | None, data_dir: Path | None,
                 question_field: str | None, answer_field: str | None, limit: int | None, agent: str | None,
                 max_turns: int | None, as_json: bool, model: str | None, base_url: str | None, concurrency: int,
                 no_cache: bool) -> None:
    """Score REV's functions (default HEAD) on a split of a task set; note the result on its commit.

    The task set, split sizes, seed, data, agent, model and endpoint are
    fnforge.toml's (what init and train recorded) unless a flag says
    otherwise, so `fnforge eval best/main` re-scores the trained set on its
    test tasks. --task defaults to the task set REV was trained on (its Tasks
    trailer), else fnforge.toml's. The result is noted on REV's commit, where
    `fnforge best --split test` and `fnforge log --split test` read it; an
    evaluation with tasks that failed at the provider exits 5 and notes
    nothing. With uncommitted edits in functions/ it says that they are not
    what it scores; --worktree scores them (and notes nothing). Results are
    cached in .git/fnforge/eval-cache.sqlite: evaluating a set again on the
    same tasks, agent and model makes no LLM call. Set OPENAI_API_KEY, or
    --base-url (OPENAI_BASE_URL) for a local server.

    Example: fnforge eval best/main --split test --task math:algebra --json
    """
    from fnforge import registry
    from fnforge.cli._config import CommandError, load_config
    from fnforge.cli._runtime import agent_config, llm_config, run_async
    from fnforge.cli._settings import endpoint, resolve_split
    from fnforge.cli._worktree import working_set
    from fnforge.optimizer import check_measured
    from fnforge.optimizer import load_prompts

    if worktree and rev is not None:
        raise CommandError(f"--worktree scores the working tree; leave out the revision {rev!r}")
    repo = registry.open(app.directory)
    try:
        config = load_config(repo.path)
        sha = repo.resolve(rev or "HEAD")
        edited = repo.uncommitted()
        function_set = working_set(repo.path, repo) if worktree else repo.read(sha)
        if edited and not worktree:
            click.echo(f"warning: functions/ has uncommitted changes ({', '.join(edited[:3])}"
                       f"{', ...' if len(edited) > 3 else ''}); this scores {rev or 'HEAD'} ({sha[:7]}) as "
                       "committed: pass --worktree to score the working tree", err=True)
        own = registry.TaskSet.parse(repo.version(sha).trailer("Tasks")).label
        resolved = resolve_split(config, root=repo.path, cwd=app.directory, task=task_spec, n_train=n_train,
                                 n_test=n_test, seed=seed, data_dir=data_dir, question_field=question_field,
                                 answer_field=answer_field)
        if task_spec is None and own:  # recorded specs are relative to the toolset's root
            resolved = replace(resolved, task=own)
        splits = resolved.load(repo.path)
        selection = splits.train if split == "train" else splits.test
        tasks = selection.tasks[:limit]
        if not tasks:
            raise CommandError(f"the {split} split of {selection.spec} is empty; raise --{split}")
        evaluated = replace(selection, tasks=tasks)
        agent_settings = load_prompts(repo.path).agent_config(  # the toolset's prompts/ templates, if any
            agent_config(agent, max_turns, config))
        llm = llm_config(model or config.model, base_url=endpoint(base_url, config), state_dir=repo.state_dir,
                         use_cache=not no_cache, concurrency=concurrency)
        report = run_async(_evaluate(function_set, tasks, agent_settings, llm, config, repo.state_dir,
                                     concurrency=concurrency, use_cache=not no_cache), concurrency=concurrency)
        check_measured(report, "no score was recorded")
        context = {"split": split, "tasks": evaluated.describe(), "seed": resolved.seed, "limit": limit,
                   "model": llm.model, "agent": agent_settings.kind, "max_turns": agent_settings.max_turns}
        if not worktree:
            key = split if selection.spec == own or not own else f"{split}@{selection.spec}"
            repo.add_note(sha, report.notes_dict(key, **context))
    finally:
        repo.close()
    shown = f"{sha[:7]}+edits" if worktree else sha[:7]
    if as_json:
        click.echo(json.dumps({"commit": None if worktree else sha, "worktree": worktree, **context,
                               **report.to_dict()}, indent=2, ensure_ascii=False))
    else:
        click.echo(visible_lines(_text(shown, selection.spec, split, report)))


async def _evaluate(function_set: FunctionSet, tasks: Sequence[Task], agent_config: AgentConfig, llm: LLMConfig,
                    config: ToolsetConfig, state_dir: Path, *, concurrency: int, use_cache: bool) -> Report:
    from fnforge.agents import LLMClient
    from fnforge.cli._runtime import open_eval_cache, open_sandbox, progress_bar
    from fnforge.optimizer import TaskResult, evaluate

    cache = open_eval_cache(state_dir, enabled=use_cache)
    try:
        sandbox = open_sandbox(config, workers=concurrency)  # evaluate starts the workers if a task has to run
        with progress_bar("eval", len(tasks)) as advance, closing(sandbox):

            def progress(done: int, total: int, result: TaskResult) -> None:
                advance(done)

            async with LLMClient(llm) as client:
                return await evaluate(function_set, tasks, agent_config, client=client, sandbox=sandbox,
                                      cache=cache, concurrency=concurrency, progress=progress)
    finally:
        if cache is not None:
            cache.close()


def _text(shown: str, spec: str, split: str, report: Report) -> str:
    low, high = report.ci95
    lines = [
        f"{shown} on {spec} ({split}, {report.n} tasks): accuracy {report.accuracy:.1%} "
        f"({report.correct}/{report.n}), 95% CI [{low:.1%}, {high:.1%}]",
        f"tokens {report.tokens:,}  cost ${report.cost:.4f}  wall {report.wall_s:.1f} s"
        + (f"  ({report.cached} cached)" if report.cached else ""),
    ]
    if report.function_calls:
        calls = ", ".join(f"{name} {count}" for name, count in report.function_calls.items())
        lines.append(f"successful function calls: {calls}")
    others = ", ".join(f"{reason} {n}" for reason, n in report.reasons.items() if reason != "outage")
    if others:
        lines.append(f"counted wrong without a judged answer: {others}")
    return "\n".join(lines)
