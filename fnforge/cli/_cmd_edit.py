"""Working on functions by hand: ``fnforge new``, ``fnforge commit`` and ``fnforge show``.

Library equivalents: :func:`functions.derive_function` (a function's spec
from its signature, type hints and docstring), ``Repository.commit_worktree``,
``Repository.read`` / ``Repository.function_files``.
"""

from __future__ import annotations

import json
import keyword
from pathlib import Path
from typing import Any  # Any: JSON output

import click

from fnforge import registry
from fnforge.cli._config import CommandError, load_config, sandbox_policy
from fnforge.cli._group import AppContext, cli, pass_app
from fnforge.cli._terminal import visible, visible_lines
from fnforge.cli._worktree import working_set
from fnforge.functions import (Function, FunctionSet, FunctionSpecError, Problem, derive_function, from_files,
                               function_stub, plural, to_files)
from fnforge.sandbox import SandboxCheckError, SandboxPolicy, check

__all__: list[str] = []


# -- new ------------------------------------------------------------------------------------------


@cli.command("new")
@click.argument("name")
@click.option("--force", is_flag=True, help="Overwrite an existing functions/NAME.json.")
@pass_app
def new_command(app: AppContext, name: str, force: bool) -> None:
    """Start a function by hand: functions/NAME.py (a stub) and functions/NAME.json derived from it.

    The .json (description, JSON Schema of the parameters, packages) is
    derived from the code as smolagents' get_json_schema does: the docstring
    before its Args: section is the description, each parameter's type hint
    its JSON type and its Args: line its description, a parameter without a
    default is required, and the imports are the packages. If NAME.py exists
    already, only NAME.json is written. Edit the code, then record it with
    fnforge commit (which derives a missing .json the same way).

    Example: fnforge new solve_quadratic && fnforge commit -m "add solve_quadratic"
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CommandError(f"{name!r} is not a Python identifier; a function name is like solve_quadratic")
    with registry.open(app.directory) as repo:
        operation = repo.operation_in_progress()
        if operation is not None:
            raise registry.GitOperationInProgress(operation)
        folder = repo.path / "functions"
        code_file, spec_file = folder / f"{name}.py", folder / f"{name}.json"
        if spec_file.exists() and not force:
            raise CommandError(f"functions/{name}.json exists; pass --force to derive it again from the code")
        written = code_file.exists()
        code = code_file.read_text(encoding="utf-8") if written else function_stub(name)
        function = derive_function(code, name)
        _gate(function, sandbox_policy(load_config(repo.path)))
        folder.mkdir(exist_ok=True)
        if not written:
            code_file.write_text(code, encoding="utf-8")
        spec_file.write_bytes(to_files(FunctionSet((function,)))[f"{name}.json"])
    parameters = ", ".join(function.parameters.get("properties", {})) or "none"
    if written:
        click.echo(f"Derived functions/{name}.json from functions/{name}.py (parameters: {parameters})")
    else:
        click.echo(f"Created functions/{name}.py (a stub: edit it) and functions/{name}.json "
                   f"(parameters: {parameters}); record them with: fnforge commit -m \"add {name}\"")


def _gate(function: Function, policy: SandboxPolicy) -> None:
    """Hand-written code must pass the sandbox's static gate, or clone and verify would refuse the toolset."""
    problems = check(function.code, function.name, policy)
    if problems:
        raise SandboxCheckError(function.name, problems)


# -- commit ---------------------------------------------------------------------------------------


@cli.command("commit")
@click.option("-m", "--message", required=True, help="Subject line (further lines: body).")
@click.option("--score", type=float, help="The set's score, if you measured one.")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True)
@pass_app
def commit_command(app: AppContext, message: str, score: float | None, split: str) -> None:
    """Validate and commit hand edits of functions/ (and fnforge.toml) with Status: manual.

    A functions/NAME.py without its NAME.json gets one derived from its
    signature, type hints and docstring first (as fnforge new does). Every
    function must pass the sandbox's static gate.

    Example: fnforge commit -m "add a seed solve_equation" --score 0.55
    """
    with registry.open(app.directory) as repo:
        for derived in _derive_missing(repo):
            click.echo(f"derived functions/{derived}.json from its signature and docstring")
        policy = sandbox_policy(load_config(repo.path))
        for function in working_set(repo.path, repo):
            _gate(function, policy)
        version = repo.commit_worktree(message, score=score, split=split)
        changes = repo.read(version.parents[0]).diff(repo.read(version.sha))
        click.echo(visible(f"[{repo.head_branch} {version.short}] {version.subject} ({changes.describe()})"))


def _derive_missing(repo: registry.Repository) -> list[str]:
    """Write NAME.json for every functions/NAME.py that has none; return the names."""
    folder = repo.path / "functions"
    if not folder.is_dir() or repo.operation_in_progress() is not None:
        return []  # mid-merge, reading the working tree says what is wrong
    names = sorted(p.stem for p in folder.glob("*.py") if p.is_file() and not (folder / f"{p.stem}.json").exists())
    for name in names:
        function = derive_function((folder / f"{name}.py").read_text(encoding="utf-8"), name)
        (folder / f"{name}.json").write_bytes(to_files(FunctionSet((function,)))[f"{name}.json"])
    return names


# -- show -----------------------------------------------------------------------------------------


@cli.command("show")
@click.argument("target", default="HEAD", metavar="REV[:NAME]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show_command(app: AppContext, target: str, as_json: bool) -> None:
    """Show a version's function set, or one function's spec and code with REV:NAME.

    Any commit can be shown, also one whose code does not parse or breaks a
    sandbox rule (committed with plain git): the problems are listed beneath
    the code.

    Example: fnforge show best/main:solve_equation
    """
    rev, sep, name = target.rpartition(":")
    if not sep:
        rev, name = target, ""
    rev = rev or "HEAD"
    with registry.open(app.directory) as repo:
        entries = _entries(repo.function_files(rev), sandbox_policy(load_config(repo.path)))
        if name:
            if name not in entries:
                raise CommandError(f"unknown function {name!r}; functions in the set: {', '.join(entries) or 'none'}")
            _show_function(rev, name, *entries[name], as_json=as_json)
            return
        version = repo.version(rev)
    if as_json:
        click.echo(visible_lines(json.dumps({**version.to_dict(), "functions": [
            _function_dict(n, *e) for n, e in entries.items()]}, indent=2, ensure_ascii=False)))
        return
    click.echo(f"commit {version.sha}")
    for key, value in version.trailers.items():
        click.echo(visible(f"{key}: {value}"))
    click.echo(f"\n    {visible(version.subject)}")
    for line in version.body.splitlines():
        click.echo(f"    {visible(line)}".rstrip())
    click.echo(f"\n{plural(len(entries), 'function')}:")
    for function_name, (function, _, problems) in entries.items():
        about = (function.description.splitlines() or [""])[0] if function is not None else ""
        flagged = f"({plural(len(problems), 'problem')}: {problems[0]})" if problems else ""
        click.echo(visible("  ".join(["", function_name, *(part for part in (about, flagged) if part)])))


Entry = tuple[Function | None, str, tuple[Problem, ...]]


def _entries(files: dict[str, bytes], policy: SandboxPolicy) -> dict[str, Entry]:
    """Per function of a commit: the function (None when it breaks a rule), its code, and its problems."""
    stems = sorted({Path(n).stem for n in files if n.endswith((".py", ".json"))})
    entries: dict[str, Entry] = {}
    for stem in stems:
        pair = {n: files[n] for n in (f"{stem}.py", f"{stem}.json") if n in files}
        code = pair.get(f"{stem}.py", b"").decode("utf-8", errors="replace")
        try:
            function = from_files(pair)[stem]
        except FunctionSpecError as exc:
            entries[stem] = (None, code, exc.problems)
            continue
        entries[stem] = (function, function.code, tuple(check(function.code, stem, policy)))
    return entries


def _function_dict(name: str, function: Function | None, code: str, problems: tuple[Problem, ...]) -> dict[str, Any]:
    base = function.to_dict() if function is not None else {"name": name, "code": code}
    return {**base, "problems": [str(p) for p in problems]}


def _show_function(rev: str, name: str, function: Function | None, code: str, problems: tuple[Problem, ...], *,
                   as_json: bool) -> None:
    if as_json:
        click.echo(visible_lines(json.dumps(_function_dict(name, function, code, problems), indent=2,
                                            ensure_ascii=False)))
        return
    click.echo(visible(f"# {name}  ({rev}:functions/{name}.py)"))
    if function is not None:
        click.echo(visible(f"# {function.description}"))
        if function.packages:
            click.echo(visible(f"# packages: {', '.join(function.packages)}"))
        click.echo("# parameters: " + json.dumps(function.parameters, sort_keys=True))
    click.echo(visible_lines(code if code.endswith("\n") or not code else code + "\n"), nl=False)
    if problems:
        click.echo(f"# {plural(len(problems), 'problem')}:")
        for problem in problems:
            click.echo(visible(f"#   {problem}"))
