"""``fnforge train``: the paper's Algorithm 2 on the checked-out branch, live, resumable, on a budget.

The command resolves flags, ``fnforge.toml`` and the environment into the
library's objects (tasks, LLM clients, sandbox, caches), then runs one
:class:`optimizer.Trainer` and prints its summary. ``--resume`` rebuilds the
same run from its record (``.git/fnforge/runs/<run>/run.json``); only the
stop rules (``--epochs``, ``--patience``, ``--max-steps``), the budget, the
test-time policy and the connection settings may change on resume. Flags that
make the run what it is may be repeated with the run's own values.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from contextlib import closing, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any  # Any: click's option values and recorded run settings (JSON)

import click
from click.core import ParameterSource

from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._runtime import PRICES, agent_config, llm_config, llm_options, open_eval_cache, open_sandbox, run_async
from fnforge.cli._settings import (SplitSettings, agent_options, data_cache_dir, endpoint, recorded_data,
                                   recorded_endpoint, resolve_split, split_options)
from fnforge.cli._taskpath import load_splits

if TYPE_CHECKING:  # imported when the command runs: `fnforge train --help` stays cheap
    from rich.console import Console

    from fnforge import registry
    from fnforge.cli._config import ToolsetConfig
    from fnforge.optimizer import DryRunPlan, RunRecord, RunSummary, TrainConfig
    from fnforge.tasks import Task

__all__: list[str] = []

# Settings that make a run what it is: fixed by its record, refused with --resume.
_IDENTITY = ("task", "agent", "n_train", "n_test", "seed", "batch", "accept", "model", "optimizer_model",
             "max_actions", "max_retries", "max_turns", "n_val", "select", "rollouts", "alpha")


@cli.command("train")
@click.option("--task", help="Task set (default: fnforge.toml's), e.g. math:algebra, gsm8k, jsonl:qa.jsonl.")
@split_options
@click.option("--val", "n_val", type=click.IntRange(min=0), default=0, show_default=True,
              help="Validation tasks drawn from the train pool, disjoint from train and test: they pick the "
                   "run's best and drive the early stop, so a lucky training score does not.")
@click.option("--select", type=click.Choice(["train", "val"]),
              help="What picks the best and the early stop (default: val with --val, else train).")
@click.option("--rollouts", type=click.IntRange(min=1), default=1, show_default=True,
              help="Evaluate each task K times (distinct rollouts); scores are means, tests paired per rollout.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Stop after this many accepted updates.")
@click.option("--patience", type=click.IntRange(min=1), default=10, show_default=True,
              help="Early stop after this many steps in a row without improvement.")
@click.option("--max-steps", type=click.IntRange(min=0), help="Stop after this many optimizer steps.")
@click.option("--max-actions", type=click.IntRange(min=1), default=3, show_default=True,
              help="Optimizer actions per step.")
@click.option("--max-retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Corrected attempts after a rejected action.")
@click.option("--accept", type=click.Choice(["strict", "ties", "significant"]), default="strict", show_default=True,
              help="Accept only a better score (the paper), also an equal one (the authors' code), or only an "
                   "improvement the exact sign test on paired outcomes finds significant.")
@click.option("--alpha", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level of --accept significant.")
@click.option("--no-early-reject", "no_early_reject", is_flag=True,
              help="Evaluate every trial fully, even once it can no longer be accepted (same decisions).")
@click.option("--batch", type=click.IntRange(min=1), help="Evaluate each step on a seeded random batch of N tasks.")
@click.option("--test-functions", type=click.Choice(["all", "used"]), default="all", show_default=True,
              help="Test with all functions, or only those used successfully in the last training evaluation.")
@click.option("--optimizer-model", help="The optimizer's model (default: --model).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Stop cleanly once the run spent this many tokens.")
@click.option("--max-cost", type=click.FloatRange(min=0, min_open=True),
              help="Stop cleanly once the run spent this many US dollars.")
@click.option("--dry-run", is_flag=True, help="Print the LLM calls and tokens a run would take; call nothing.")
@click.option("--resume", is_flag=True, help="Continue the branch's interrupted run where its commits end.")
@click.option("--run", "run_id", help="With --resume: the run id to continue (default: the branch's latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary (or the dry-run plan) as JSON.")
@agent_options
@llm_options
@pass_app
@click.pass_context
def train_command(ctx: click.Context, app: AppContext, /, **options: Any) -> None:
    """Train the branch's functions: optimizer step, evaluate, commit, roll back, early stop.

    Every step is a commit (Status: accepted | rejected, with its Score); a
    rejected trial is followed by a roll-back commit to the best. The run's
    summary is written to .git/fnforge/runs/<run>/summary.json. Task set,
    split sizes, seed, data, agent, models and endpoint default to
    fnforge.toml's; a run that uses other values first commits them to
    fnforge.toml ("settings: ..."), so later commands and clones use them too.
    A provider outage stops the run with exit code 5 (continue with
    --resume). Set OPENAI_API_KEY, or --base-url (OPENAI_BASE_URL) for a
    local server.

    Example: fnforge train --task math:algebra --train 20 --test 80 --model gpt-4o-mini
    """
    from fnforge import registry
    from fnforge.cli._config import CommandError, load_config
    from fnforge.cli._live_view import print_summary
    from fnforge.optimizer import find_run, plan_run

    repo = registry.open(app.directory)
    try:
        config = load_config(repo.path)
        branch = repo.head_branch
        if branch is None:
            raise CommandError("HEAD is detached; switch to a branch to train it (fnforge switch BRANCH)")
        record = None
        if options["resume"]:
            record = find_run(repo, branch, options["run_id"])
            _refuse_identity_changes(ctx, options, record)
            settings = dict(record.settings)
            train_config = replace(record.config, **_overrides(ctx, options))
            data_dir = options["data_dir"] or (Path(settings["data_dir"]) if settings.get("data_dir") else None)
        else:
            if options["run_id"] is not None:
                raise CommandError("--run names the run to continue: use it with --resume")
            split = resolve_split(config, root=repo.path, cwd=app.directory, task=options["task"],
                                  n_train=options["n_train"], n_test=options["n_test"], seed=options["seed"],
                                  data_dir=options["data_dir"], question_field=options["question_field"],
                                  answer_field=options["answer_field"])
            if split.n_train < 1:
                raise CommandError("training needs at least one task: --train 1 or more")
            settings = _settings(options, config, split)
            train_config = _train_config(options, split.seed)
            data_dir = split.data_dir
        train, test, val, label = _tasks(settings, data_dir, repo.path)
        if options["dry_run"]:
            plan = plan_run(repo.read(branch), train, test, agent_config(settings["agent"],
                            settings["max_turns"], config), train_config, max_actions=settings["max_actions"],
                            max_retries=settings["max_retries"], prices=PRICES, model=settings["model"],
                            optimizer_model=settings["optimizer_model"])
            click.echo(json.dumps(plan.to_dict(), indent=2) if options["as_json"] else _plan_text(plan, settings))
            return
        if record is None:
            _record_settings(repo, config, settings, options, split)
        summary = _run(repo, config, settings, train_config, record, (train, test, val), label, options)
    finally:
        repo.close()
    if options["as_json"]:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        print_summary(_console(), summary, epochs=train_config.epochs, patience=train_config.patience)


def _settings(options: Mapping[str, Any], config: ToolsetConfig, split: SplitSettings) -> dict[str, Any]:
    """The run record's settings: what makes the run what it is (``--resume`` rebuilds it from them)."""
    model = options["model"] or config.model
    return {"task": split.task, "agent": options["agent"] or config.agent, "n_train": split.n_train,
            "n_test": split.n_test, "seed": split.seed, "model": model,
            "optimizer_model": options["optimizer_model"] or config.optimizer_model or model,
            "max_actions": options["max_actions"], "max_retries": options["max_retries"],
            "max_turns": options["max_turns"] or config.max_turns,
            "data_dir": str(split.data_dir) if split.data_dir else None,
            "question_field": split.question_field, "answer_field": split.answer_field, "n_val": options["n_val"]}


def _record_settings(repo: registry.Repository, config: ToolsetConfig, settings: Mapping[str, Any],
                     options: Mapping[str, Any], split: SplitSettings) -> None:
    """Write what this run uses into fnforge.toml and commit it, so later commands and clones use it too.

    Compared with HEAD's committed fnforge.toml: nothing is committed when the run uses what it says.
    """
    from fnforge import registry
    from fnforge.cli._config import CONFIG_FILE, committed_config, save_config

    given_data = options["data_dir"] is not None and split.data_dir is not None
    wanted = config.with_values(
        task=split.task, agent=settings["agent"], model=settings["model"], train=split.n_train,
        test=split.n_test, seed=split.seed, max_turns=settings["max_turns"],
        question_field=split.question_field, answer_field=split.answer_field,
        optimizer_model=options["optimizer_model"], base_url=recorded_endpoint(options["base_url"]),
        data=recorded_data(split.data_dir, repo.path) if given_data and split.data_dir else None)
    committed = committed_config(repo.read_file("HEAD", CONFIG_FILE), where=f"HEAD:{CONFIG_FILE}")
    changed = committed.changed(wanted) + (("sandbox",) if committed.sandbox != wanted.sandbox else ())
    if not changed:
        return
    edited = repo.uncommitted()
    if edited:
        raise registry.DirtyWorkingTree(edited)
    save_config(repo.path, wanted)
    shown = ", ".join(name if name == "sandbox" else f"{name} {getattr(wanted, name)}" for name in changed)
    repo.commit_worktree(f"settings: {shown}")


def _train_config(options: Mapping[str, Any], seed: int) -> TrainConfig:
    from fnforge.optimizer import TrainConfig

    if options["select"] == "val" and not options["n_val"]:
        raise click.UsageError("--select val needs validation tasks: add --val N")
    if options["n_val"] and options["batch"] is not None:
        raise click.UsageError("--val and --batch do not combine (a batch score compares with nothing)")
    return TrainConfig(epochs=options["epochs"], patience=options["patience"], max_steps=options["max_steps"],
                       accept=options["accept"], batch=options["batch"], seed=seed,
                       concurrency=options["concurrency"], test_functions=options["test_functions"],
                       max_tokens=options["max_tokens"], max_cost=options["max_cost"], alpha=options["alpha"],
                       rollouts=options["rollouts"], early_reject=not options["no_early_reject"],
                       select=options["select"])


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _refuse_identity_changes(ctx: click.Context, options: Mapping[str, Any], record: RunRecord) -> None:
    """Refuse a flag given on resume with a value other than the run's (the same value is fine)."""
    from fnforge.cli._config import CommandError

    cfg = record.config
    recorded = {"n_val": 0, **record.settings, "batch": cfg.batch, "accept": cfg.accept, "select": cfg.select,
                "rollouts": cfg.rollouts, "alpha": cfg.alpha}
    for name in _IDENTITY:
        if _given(ctx, name) and options[name] != recorded.get(name):
            flag = {"n_train": "train", "n_test": "test", "n_val": "val"}.get(name, name).replace("_", "-")
            raise CommandError(f"--{flag} cannot change when resuming run {record.run_id} "
                               f"(it is {recorded.get(name)!r}); start a new run instead")


def _overrides(ctx: click.Context, options: Mapping[str, Any]) -> dict[str, Any]:
    names = ("epochs", "patience", "max_steps", "max_tokens", "max_cost", "concurrency", "test_functions")
    changes = {name: options[name] for name in names if _given(ctx, name)}
    if _given(ctx, "no_early_reject"):  # decisions do not depend on it
        changes["early_reject"] = not options["no_early_reject"]
    return changes


def _tasks(settings: Mapping[str, Any], data_dir: Path | None,
           root: Path) -> tuple[tuple[Task, ...], tuple[Task, ...], tuple[Task, ...], str]:
    splits = load_splits(settings["task"], root=root, cwd=root, n_train=settings["n_train"],
                         n_test=settings["n_test"], seed=settings["seed"], data_dir=data_dir,
                         cache_dir=data_cache_dir(), question_field=settings.get("question_field", "question"),
                         answer_field=settings.get("answer_field", "answer"), n_val=int(settings.get("n_val") or 0))
    val = splits.val.tasks if splits.val is not None else ()
    return splits.train.tasks, splits.test.tasks, val, splits.train.spec


def _run(repo: registry.Repository, config: ToolsetConfig, settings: Mapping[str, Any], train_config: TrainConfig,
         record: RunRecord | None, splits: tuple[tuple[Task, ...], ...], label: str,
         options: Mapping[str, Any]) -> RunSummary:
    from fnforge.agents import LLMClient
    from fnforge.cli._live_view import LiveView, PlainView
    from fnforge.optimizer import AgentOptimizer, Trainer, load_prompts

    train, test, val = splits
    concurrency, use_cache = options["concurrency"], not options["no_cache"]
    agent_llm = llm_config(settings["model"], base_url=endpoint(options["base_url"], config), state_dir=repo.state_dir,
                           use_cache=use_cache, concurrency=concurrency)
    optimizer_llm = replace(agent_llm, model=settings["optimizer_model"])
    prompts = load_prompts(repo.path)  # the toolset's prompts/ templates, checked before any call
    agent = prompts.agent_config(agent_config(settings["agent"], settings["max_turns"], config))
    console = _console()
    live = console.is_terminal and not options["as_json"]
    view = LiveView(console) if live else PlainView(lambda line: click.echo(line, err=options["as_json"]))

    async def train_async() -> RunSummary:
        async with LLMClient(agent_llm) as client, LLMClient(optimizer_llm) as optimizer_client:
            # not `with open_sandbox(...)`: evaluate starts the workers once the first requests are out
            with closing(open_sandbox(config, workers=concurrency)) as sandbox:
                optimizer = AgentOptimizer(optimizer_client, sandbox, policy=sandbox.policy,
                                           max_actions=settings["max_actions"], max_retries=settings["max_retries"],
                                           template=prompts.optimizer)
                trainer = Trainer(repo, train=train, test=test, agent=agent, client=client, optimizer=optimizer,
                                  sandbox=sandbox, config=train_config, tasks_label=label, on_event=view, val=val,
                                  cache=open_eval_cache(repo.state_dir, enabled=use_cache))
                if record is not None:
                    return await trainer.resume(record)
                return await trainer.run(settings=settings)

    try:
        with view if isinstance(view, LiveView) else nullcontext():
            return run_async(train_async(), concurrency=concurrency)
    except KeyboardInterrupt:
        click.echo("Interrupted. Every finished step is committed; continue with: fnforge train --resume", err=True)
        sys.exit(130)


def _console() -> Console:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=120, highlight=False)


def _plan_text(plan: DryRunPlan, settings: Mapping[str, Any]) -> str:
    def calls(e: Any) -> str:
        return f"{e.calls_typical:,} LLM calls (at most {e.calls_max:,}), ~{e.tokens:,} tokens"

    batch = f" (batch of {plan.step_tasks})" if plan.step_tasks < plan.train_tasks else ""
    typical = plan.step
    lines = [
        "Dry run: no LLM is called. Estimates (4 characters a token, typical 2 agent calls per task):",
        f"  tasks            {plan.train_tasks} train{batch}, {plan.test_tasks} test",
        f"  initial eval     {calls(plan.initial)}",
        f"  per step         {calls(typical)}",
        f"    optimizer      {calls(plan.optimizer_step)}  [{settings['optimizer_model']}]",
        f"    evaluation     {calls(plan.evaluation_step)}  [{settings['model']}]",
        f"  test eval        {calls(plan.test)}",
        f"  steps            at most {plan.max_steps} (epochs x patience, or --max-steps)",
        f"  prompt cache     ~{plan.optimizer_step.cached_share:.0%} of optimizer and "
        f"~{plan.evaluation_step.cached_share:.0%} of agent prompt tokens expected cached by the provider",
        f"  estimated cost   ${plan.cost(1):.4f} for 1 step, ${plan.cost(plan.max_steps):.2f} for "
        f"{plan.max_steps} steps (list prices; 0 for unpriced models)",
    ]
    return "\n".join(lines)
