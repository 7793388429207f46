"""``git bisect run`` over a toolset's history, in a private worktree that nobody else sees.

The bisection runs in a temporary linked worktree (``<git-dir>/fnforge/bisect/``)
started with ``--no-checkout`` (nothing is checked out: the candidate is the
worktree's ``BISECT_HEAD``) and ``--first-parent`` (one step of a branch at a
time, merged-in history is not entered). The user's checkout, index and
bisect state are untouched. The test command runs in the worktree's
directory and answers git's way: exit 0 good, 1-124 or 126-127 bad, 125
skip (the candidate cannot be judged, e.g. a rejected trial), >= 128 abort.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fnforge.registry._errors import GitFailed, RegistryError
from fnforge.registry._git import GitRepo
from fnforge.registry._repo import Repository
from fnforge.registry._version import Version

__all__ = ["BISECT_REV", "BisectResult", "bisect_run"]

BISECT_REV = "BISECT_HEAD"
"""The revision the test command judges (in its working directory, the bisect worktree)."""

_FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit", re.M)
_LOG_LINE = re.compile(r"^# (good|bad|skip): \[([0-9a-f]{40})\]", re.M)


@dataclass(frozen=True, slots=True, kw_only=True)
class BisectResult:
    """What ``git bisect run`` found.

    Args:
        good, bad: the two ends (full shas).
        first_bad: the first bad version, or None when git could not tell
            (only skipped candidates were left; see ``candidates``).
        candidates: with ``first_bad`` None, the commits among which the first bad one is.
        verdicts: ``(commit, "good" | "bad" | "skip")`` per tested candidate, in order.
        output: git's own output, for the curious.
    """

    good: str
    bad: str
    first_bad: Version | None
    candidates: tuple[str, ...]
    verdicts: tuple[tuple[str, str], ...]
    output: str


def bisect_run(
    repo: Repository,
    *,
    good: str,
    bad: str,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> BisectResult:
    """Find the first bad version between ``good`` and ``bad`` with ``git bisect run <command>``.

    Args:
        repo: the toolset.
        good: a version where the behaviour was right (an ancestor of ``bad``).
        bad: a version where it is wrong.
        command: the test, run once per candidate in the bisect worktree
            (``BISECT_HEAD`` there names the candidate).
        env: extra environment variables for the command.

    Returns:
        The result; the first bad version's trailers say which step and run it was.

    Raises:
        UnknownRevision: ``good`` or ``bad`` names no commit.
        RegistryError: ``good`` is not an ancestor of ``bad``, or the test command aborted the bisection.

    Example:
        >>> judge = ["sh", "-c", "test ! -f functions/double.py"]  # exit 0: this version is good
        >>> bisect_run(repo, good="HEAD~2", bad="HEAD", command=judge).first_bad.subject
        'epoch 1: add double'
    """
    good_sha, bad_sha = repo.resolve(good), repo.resolve(bad)
    if good_sha == bad_sha or not repo.is_ancestor(good_sha, bad_sha):
        raise RegistryError(f"cannot bisect: {good} is not an earlier version of {bad}")
    place = repo.state_dir / "bisect" / f"wt-{secrets.token_hex(4)}"
    place.parent.mkdir(parents=True, exist_ok=True)
    repo._git.check("worktree", "add", "--quiet", "--detach", "--no-checkout", str(place), bad_sha)
    worktree = GitRepo.discover(place, repo.identity)
    try:
        if worktree is None:
            raise RegistryError(f"the bisect worktree {place} cannot be opened")
        worktree.check("bisect", "start", "--no-checkout", "--first-parent", bad_sha, good_sha)
        if env:
            worktree._env_local.update(env)
        result = worktree.run("bisect", "run", *command)
        output = result.stdout.decode(errors="replace") + result.stderr
        log = worktree.run("bisect", "log").stdout.decode(errors="replace")
        worktree.run("bisect", "reset")
    finally:
        if worktree is not None:
            worktree.close()
        repo._git.run("worktree", "remove", "--force", str(place))
        shutil.rmtree(place, ignore_errors=True)
        repo._git.run("worktree", "prune")
    start = log.find("git bisect start")
    verdicts = tuple((sha, verdict) for verdict, sha in _LOG_LINE.findall(log[max(start, 0):]))
    found = _FIRST_BAD.search(output)
    if found:
        return BisectResult(good=good_sha, bad=bad_sha, first_bad=repo.version(found.group(1)),
                            candidates=(found.group(1),), verdicts=verdicts, output=output)
    candidates = tuple(re.findall(r"^([0-9a-f]{40})$", output, re.M))
    if result.returncode and not candidates:
        reason = [line for line in output.strip().splitlines() if line.strip()][-1:] or ["no output"]
        raise GitFailed("bisect run", f"error: {reason[0]}")
    return BisectResult(good=good_sha, bad=bad_sha, first_bad=None, candidates=candidates, verdicts=verdicts,
                        output=output)
