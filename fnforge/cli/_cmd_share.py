"""Sharing and auditing commands: export, clone, verify, blame, bisect (push and pull: ``_cmd_sync.py``).

Library equivalents: ``registry.export_function_set``, ``registry.clone_verified``
/ ``registry.verify``, ``registry.blame_function``, ``registry.bisect_run``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tomllib
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any  # Any: click's option values

import click

from fnforge import registry, sandbox
from fnforge.agents import AgentConfig, LLMClient
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._cmd_study import branch_domain
from fnforge.cli._config import (CONFIG_FILE, CommandError, ConfigError, choose_policy, load_config, require_isolation,
                                 sandbox_policy)
from fnforge.cli._runtime import agent_config, llm_config, llm_options, open_eval_cache
from fnforge.cli._settings import agent_options, endpoint, split_options
from fnforge.cli._terminal import visible, visible_lines
from fnforge.functions import FnforgeError, FunctionSet, load_json, plural
from fnforge.optimizer import Report, check_measured, evaluate
from fnforge.registry import (
    BISECT_REV, EXPORT_FORMATS, FunctionCheck, UnverifiedToolset, Verification, bisect_run, blame_function,
    clone_verified, export_function_set, verify,
)
from fnforge.tasks import Task

__all__: list[str] = []

_TRUST_HELP = (
    "Check under the toolset's own fnforge.toml [sandbox] policy instead of the strict default "
    "(only for toolsets you trust: a shared toolset can widen its own policy)."
)


def _gate(trust_policy: bool) -> tuple[Callable[[registry.Repository], FunctionCheck], str]:
    """A ``gate(repo) -> check`` and the words naming the policy it checks under."""

    def gate(repo: registry.Repository) -> FunctionCheck:
        policy = sandbox_policy(load_config(repo.path), trust=True) if trust_policy else sandbox.SandboxPolicy()
        return lambda function: sandbox.check(function.code, function.name, policy)

    words = "the toolset's own [sandbox] policy" if trust_policy else "the strict default sandbox policy"
    return gate, words


def _widening(repo: registry.Repository) -> str | None:
    """A hint when the toolset's fnforge.toml asks for more than the default sandbox limits."""
    try:
        wider = choose_policy(load_config(repo.path)).requested.widening()
    except ConfigError as exc:
        return f"its fnforge.toml cannot be read: {exc}"
    if wider:
        return (f"its fnforge.toml asks for more than the default sandbox limits ({'; '.join(wider)}); "
                "fnforge runs it within your limits unless you run: fnforge -C DIR trust")
    return None


def _report(verification: Verification, policy_words: str) -> None:
    click.echo(f"{verification.summary()} (under {policy_words})")
    for finding in verification.findings:
        _finding(finding, err=False)


def _finding(finding: registry.Finding, *, err: bool) -> None:
    click.echo(f"  {visible(finding)}", err=err)
    if finding.advice:
        click.echo(f"    hint: {visible(finding.advice)}", err=err)


# -- export ---------------------------------------------------------------------------------------


@cli.command("export")
@click.argument("rev", default="HEAD", metavar="[REV]")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="openai: tools JSON; python: one module (plain, unsandboxed code); mcp: MCP stdio server "
                   "that runs every call in the sandbox.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@pass_app
def export_command(app: AppContext, rev: str, fmt: str, out: Path | None) -> None:
    """Export the function set of REV (default HEAD) for use outside fnforge.

    Example: fnforge export best/main --format mcp --out math_tools_server.py
    """
    with registry.open(app.directory) as repo:
        version = repo.version(rev)
        function_set = repo.read(version.sha)
        score = f", score {version.score:.4f}" if version.score is not None else ""
        origin = f"{repo.path.name}@{version.short} ({rev}{score})"
        policy: dict[str, object] = {}
        if fmt == "mcp":
            policy = _policy_table(repo.read_file(version.sha, CONFIG_FILE))
        text = export_function_set(function_set, fmt, origin=origin, sandbox_policy=policy)
    if out is None:
        click.echo(text, nl=False)
        return
    path = out if out.is_absolute() else app.directory / out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if fmt == "mcp":
        path.chmod(0o755)
    click.echo(f"Exported {plural(len(function_set), 'function')} from {version.short} as {fmt} to {path}")


def _policy_table(data: bytes | None) -> dict[str, object]:
    """The ``[sandbox]`` table of a committed fnforge.toml, validated as a policy."""
    if data is None:
        return {}
    try:
        table = dict(tomllib.loads(data.decode()).get("sandbox", {}))
        sandbox.SandboxPolicy.from_dict(table)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise ConfigError(f"fnforge.toml [sandbox]: {exc}") from exc
    return table


# -- clone / verify -------------------------------------------------------------------------------


@cli.command("clone")
@click.argument("url")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--trust-policy", is_flag=True, help=_TRUST_HELP)
@pass_app
def clone_command(app: AppContext, url: str, directory: Path, trust_policy: bool) -> None:
    """Clone a toolset and verify it before anything in it can run.

    Every version of every function is re-checked by the sandbox's static gate,
    and trailers and notes are validated. If anything fails, the clone is
    deleted and the failing functions are named.

    Example: fnforge clone https://example.org/toolsets/math.git math
    """
    gate, words = _gate(trust_policy)
    target = directory if directory.is_absolute() else app.directory / directory
    try:
        repo, verification = clone_verified(url, target, gate=gate)
    except UnverifiedToolset as exc:
        for finding in exc.verification.errors[1:]:
            _finding(finding, err=True)
        raise
    with repo:
        branches = repo.branches()
        click.echo(f"Cloned {visible(url)} into {repo.path}: {plural(len(branches), 'branch', 'branches')}: "
                   f"{visible(', '.join(branches))}")
        _report(verification, words)
        hint = _widening(repo)
        if hint:
            click.echo(f"note: {hint}", err=True)


@cli.command("verify")
@click.option("--trust-policy", is_flag=True, help=_TRUST_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_app
def verify_command(app: AppContext, trust_policy: bool, as_json: bool) -> None:
    """Re-check a toolset without running it: functions, trailers, notes, best pointers, task paths.

    Each finding is an error or a warning with one line of advice: stale or
    dangling best pointers, notes that were not fetched, scores that no
    longer describe their commit (rebased or amended), invalid hand-written
    trailers, task paths that only work on this machine. Exits with an error
    naming the failing functions when any check fails.

    Example: fnforge -C math verify
    """
    gate, words = _gate(trust_policy)
    with registry.open(app.directory) as repo:
        verification = verify(repo, check=gate(repo))
        hint = None if trust_policy else _widening(repo)
        where = str(repo.path)
    if as_json:
        click.echo(json.dumps({
            "ok": verification.ok, "commits": verification.commits,
            "function_versions": verification.function_versions, "notes": verification.notes,
            "failed_functions": list(verification.failed_functions),
            "findings": [{"severity": f.severity, "kind": f.kind, "name": f.name, "commit": f.commit,
                          "message": f.message, "advice": f.advice} for f in verification.findings],
        }, indent=2))
    elif verification.ok:
        _report(verification, words)
    if not verification.ok:
        if not as_json:
            click.echo(f"{verification.summary()} (under {words})", err=True)
            for finding in verification.findings:
                _finding(finding, err=True)
        if hint:
            click.echo(f"hint: {hint}", err=True)
        raise UnverifiedToolset(where, verification)


# -- blame ----------------------------------------------------------------------------------------


@cli.command("blame")
@click.argument("name")
@click.option("--rev", default="HEAD", show_default=True, help="Version to blame.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines' records.")
@pass_app
def blame_command(app: AppContext, name: str, rev: str, as_json: bool) -> None:
    """Show which training step (commit, epoch, run) introduced each line of a function.

    Lines a rejected trial changed and a roll-back restored are credited to the
    step that first wrote them, not to the roll-back.

    Example: fnforge blame solve_equation --rev best/domain/algebra
    """
    with registry.open(app.directory) as repo:
        lines = blame_function(repo, name, rev=rev)
    if as_json:
        click.echo(visible_lines(json.dumps([line.to_dict() for line in lines], indent=2, ensure_ascii=False)))
        return
    runs = max((len(line.run or "-") for line in lines), default=1)
    for line in lines:
        epoch = f"e{line.epoch}" if line.epoch is not None else "-"
        score = f"{line.score:.4f}" if line.score is not None else "-"
        click.echo(f"{line.short} {epoch:>4} {visible(line.status or '-'):<8} {score:>6} "
                   f"{visible(line.run or '-'):<{runs}} {line.number:>3}| {visible_lines(line.text)}")


# -- bisect ---------------------------------------------------------------------------------------


@cli.command("bisect")
@click.option("--task", "task_ids", required=True,
              help="Comma-separated task ids that broke (from the branch's task set, e.g. test/algebra/12.json).")
@click.option("--good", help="A version that solved them (default: the newest one whose notes say so).")
@click.option("--bad", default="HEAD", show_default=True, help="A version that fails them.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Which split of the branch's task set holds the tasks.")
@split_options
@agent_options
@llm_options
@pass_app
def bisect_command(app: AppContext, /, task_ids: str, good: str | None, bad: str, split: str, **options: Any) -> None:
    """Find the training step that broke a task: git bisect run with the evaluator as the test.

    Both ends are evaluated first: the good end must solve every task and
    the bad end fail one, else there is nothing to bisect. Runs in a private
    worktree (your checkout is untouched), first parents only; rejected
    trials are skipped. Each candidate is evaluated on the tasks through the
    evaluation cache, so versions scored before cost nothing. The task set
    and split are the branch's fnforge.toml's unless given.

    Example: fnforge bisect --task train/algebra/7.json --good best/main~4
    """
    ids = [t.strip() for t in task_ids.split(",") if t.strip()]
    with registry.open(app.directory) as repo:
        config = load_config(repo.path)
        branch = repo.head_branch or "HEAD"
        domain = branch_domain(repo, branch, options, cwd=app.directory, split=split)
        by_id = {task.id: task for task in domain.tasks}
        missing = [i for i in ids if i not in by_id]
        if missing:
            shown = ", ".join(list(by_id)[:5]) + (", ..." if len(by_id) > 5 else "")
            raise CommandError(f"no task {missing[0]!r} in the {split} split of {domain.label}; ids: {shown}")
        good_rev = good or _last_good(repo, bad, ids)
        agent = agent_config(options["agent"], options["max_turns"], config)
        plan = {
            "tasks": [by_id[i].to_dict() for i in ids],
            "agent": {"kind": agent.kind, "max_turns": agent.max_turns},
            "model": options["model"] or config.model, "base_url": endpoint(options["base_url"], config),
            "use_cache": not options["no_cache"], "concurrency": options["concurrency"],
            "policy": sandbox_policy(config).to_dict(),
        }
        _check_ends(repo, plan, good=good_rev, bad=bad)
        plan_path = repo.state_dir / "bisect" / f"plan-{os.getpid()}.json"
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        command = [sys.executable, "-c", "from fnforge.cli import main; main()", "bisect-step", str(plan_path)]
        try:
            result = bisect_run(repo, good=good_rev, bad=bad, command=command)
        finally:
            plan_path.unlink(missing_ok=True)
    click.echo(f"Bisecting between good {result.good[:7]} and bad {result.bad[:7]} (first parents):")
    for sha, verdict in result.verdicts:
        click.echo(f"  {sha[:7]} {verdict}")
    first = result.first_bad
    if first is None:
        click.echo(f"Could not decide between: {', '.join(c[:7] for c in result.candidates)} (skipped versions)")
        return
    epoch = f"epoch {first.epoch}" if first.epoch is not None else "no epoch"
    click.echo(f"First bad version: {first.short} {visible(first.subject)} ({visible(first.status or '-')}, "
               f"{epoch}, run {visible(first.run or '-')})")


def _check_ends(repo: registry.Repository, plan: dict[str, Any], *, good: str, bad: str) -> None:
    """Refuse unless ``good`` solves every task of the plan and ``bad`` fails one (both evaluated now, cached)."""
    good_failed = _failures(repo.read(good), plan, repo.state_dir)
    if good_failed:
        raise CommandError(f"the good end {good} ({repo.resolve(good)[:7]}) fails {', '.join(good_failed)} too, so "
                           "there is nothing to bisect; name a version that solves them with --good")
    if not _failures(repo.read(bad), plan, repo.state_dir):
        tasks = ", ".join(t["id"] for t in plan["tasks"])
        raise CommandError(f"the bad end {bad} ({repo.resolve(bad)[:7]}) solves {tasks}, as the good end does, "
                           "so there is nothing to bisect; name a version that fails with --bad")


def _last_good(repo: registry.Repository, bad: str, ids: list[str]) -> str:
    """The newest version up to ``bad`` whose notes record every task in ``ids`` as correct."""
    for version in repo.log(bad):
        if version.status == "rejected":
            continue
        note = repo.note(version.sha) or {}
        correct = {}
        for evaluation in note.values():
            if isinstance(evaluation, dict):
                for result in evaluation.get("results") or []:
                    if isinstance(result, dict) and "task_id" in result:
                        correct[result["task_id"]] = bool(result.get("correct"))
        if all(correct.get(i) for i in ids):
            return version.sha
    raise CommandError(f"no version up to {bad} is recorded as solving {', '.join(ids)}; pass --good REV")


@cli.command("bisect-step", hidden=True)
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def bisect_step_command(app: AppContext, plan_file: Path) -> None:
    """Judge BISECT_HEAD for fnforge bisect (git bisect run's test): exit 0 good, 1 bad, 125 skip, 255 abort.

    Example: fnforge bisect-step .git/fnforge/bisect/plan-123.json
    """
    try:
        code = _judge(app, load_json(plan_file.read_bytes(), max_bytes=64 << 20))
    except (FnforgeError, OSError, ValueError) as exc:
        click.echo(f"Error: {exc}", err=True)
        code = 255
    sys.exit(code)


def _judge(app: AppContext, plan: dict[str, Any]) -> int:
    with registry.open(app.directory) as repo:
        version = repo.version(BISECT_REV)
        if version.status == "rejected":
            click.echo(f"{version.short} {visible(version.subject)}: rejected trial, skipped")
            return 125
        try:
            function_set = repo.read(version.sha)
        except FnforgeError as exc:
            click.echo(f"{version.short}: unreadable function set ({visible(exc)}), skipped")
            return 125
        state_dir = repo.state_dir
    failed = _failures(function_set, plan, state_dir)
    verdict = f"fails {', '.join(failed)}" if failed else "solves every task"
    click.echo(f"{version.short} {visible(version.subject)}: {visible(verdict)}")
    return 1 if failed else 0


def _failures(function_set: FunctionSet, plan: dict[str, Any], state_dir: Path) -> list[str]:
    """The ids of the plan's tasks ``function_set`` fails (evaluated through the cache).

    Raises:
        ProviderOutage: a task failed at the provider: no verdict.
    """
    tasks = [Task.from_dict(t) for t in plan["tasks"]]
    llm = llm_config(plan["model"], base_url=plan["base_url"], state_dir=state_dir, use_cache=plan["use_cache"],
                     concurrency=plan["concurrency"])

    async def run() -> Report:
        async with LLMClient(llm) as client:
            with closing(sandbox.Sandbox(sandbox.SandboxPolicy.from_dict(plan["policy"]), workers=1,
                                         require_isolation=require_isolation())) as box:
                return await evaluate(function_set, tasks, AgentConfig(**plan["agent"]), client=client,
                                      sandbox=box, cache=open_eval_cache(state_dir, enabled=plan["use_cache"]),
                                      concurrency=plan["concurrency"])

    report = asyncio.run(run())
    check_measured(report, "no verdict on this version")
    return [r.task_id for r in report.results if not r.correct]
