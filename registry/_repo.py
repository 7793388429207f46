"""``Repository`` and the functions that make one: ``init``, ``open``, ``clone``."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from fnforge.functions import FunctionSet
from fnforge.registry._branches import BranchesMixin
from fnforge.registry._diff import DiffMixin
from fnforge.registry._errors import AlreadyAToolset, GitFailed, NotAToolset, RegistryError, RemoteError
from fnforge.registry._git import GitRepo
from fnforge.registry._objects import EMPTY_TREE, Identity, TreeEntry, build_commit, format_message
from fnforge.registry._remote import RemoteMixin
from fnforge.registry._write import CONFIG_FILE, WritingMixin
from fnforge.registry._writebase import LEGACY_BEST_TAGS

__all__ = ["Repository", "clone", "init", "open"]

DEFAULT_GITIGNORE = b"__pycache__/\n*.pyc\n"
StrPath = str | os.PathLike[str]


class Repository(WritingMixin, BranchesMixin, RemoteMixin, DiffMixin):
    """A toolset repository: every function-set version is a commit with its score in trailers.

    Make one with :func:`registry.init`, :func:`registry.open` or
    :func:`registry.clone`; close it (or use ``with``) to stop git helper
    processes. Reading: ``resolve``, ``is_ancestor``, ``read``, ``read_file``,
    ``version``, ``log``, ``best``, ``best_score``, ``scores``, ``task_sets``,
    ``note``, ``notes_for``, ``diff``, ``branches``, ``branch_list``, ``best_refs``.
    Writing (one writer per branch, see ``lock``): ``commit``,
    ``commit_worktree``, ``rollback``, ``create_branch``, ``delete_branch``,
    ``switch``, ``add_note``, ``update_best_refs``, ``push``, ``pull``,
    ``add_remote``, ``configure_sharing``. Places: ``path``, ``git_dir``,
    ``state_dir`` (``<git-dir>/fnforge/``), ``head_branch``.

    Example:
        >>> with registry.open("demo") as repo:
        ...     print(repo.best().score)
        0.65
    """

    def __enter__(self) -> Repository:
        return self


def _is_toolset(git: GitRepo) -> bool:
    if git.work_tree is not None and (git.work_tree / CONFIG_FILE).is_file():
        return True
    repo = Repository(git)
    try:
        return repo.read_file("HEAD", CONFIG_FILE) is not None
    except RegistryError:
        return False


def open(path: StrPath = ".", *, identity: Identity | None = None) -> Repository:  # noqa: A001
    """Open the toolset repository at ``path`` (or one of its parent directories).

    A toolset is a Git repository whose working tree (or HEAD, when bare) has ``fnforge.toml``.

    Args:
        path: a directory inside the toolset.
        identity: author/committer of new commits (default ``fnforge <fnforge@localhost>``).

    Raises:
        NotAToolset: no toolset there (``not a toolset: <absolute path>``).

    Example:
        >>> repo = registry.open("demo")
        >>> repo.head_branch
        'main'
    """
    where = Path(path).absolute()
    git = GitRepo.discover(where, identity or Identity())
    if git is None:
        raise NotAToolset(str(where))
    if not _is_toolset(git):
        git.close()
        raise NotAToolset(str(where))
    repo = Repository(git)
    try:
        repo.configure_sharing()
    except RegistryError:
        pass  # e.g. a read-only repository: reading still works
    return repo


def init(
    path: StrPath,
    *,
    files: Mapping[str, bytes] | None = None,
    functions: FunctionSet | None = None,
    branch: str = "main",
    identity: Identity | None = None,
    subject: str = "init toolset",
) -> Repository:
    """Create a toolset repository and its first commit (``Status: manual``, no score).

    The first commit holds ``files`` (e.g. ``fnforge.toml``; a ``.gitignore``
    for ``__pycache__`` is added unless given) and ``functions`` (default: none),
    and they are checked out.

    Args:
        path: the directory (created if missing).
        files: top-level file name -> content.
        functions: a seed function set.
        branch: the first branch's name.
        identity: author/committer of fnforge's commits.
        subject: the first commit's subject.

    Raises:
        AlreadyAToolset: ``path`` already holds a git repository.
        RegistryError: a file to write already exists in ``path``.
        ValueError: a file name is not a plain top-level name.

    Example:
        >>> repo = registry.init("new-toolset", files={"fnforge.toml": b"[fnforge]\\n"})
        >>> [v.subject for v in repo.log()]
        ['init toolset']
    """
    where = Path(path).absolute()
    contents = dict(files or {})
    contents.setdefault(".gitignore", DEFAULT_GITIGNORE)
    for name in contents:
        if not name or "/" in name or name in (".", "..", ".git", "functions"):
            raise ValueError(f"init files are top-level file names, not {name!r}")
    if (where / ".git").exists():
        existing = GitRepo.discover(where, Identity())
        toolset = existing is not None and existing.work_tree == where.resolve() and _is_toolset(existing)
        if existing is not None:
            existing.close()
        raise AlreadyAToolset(str(where), toolset=toolset)
    for name in [*contents, "functions"]:
        if (where / name).exists():
            raise RegistryError(f"{where / name} already exists; fnforge init needs a directory without it")
    created = not where.exists()
    git = GitRepo.create(where, branch, identity or Identity())
    try:
        entries = [TreeEntry("100644", name, git.write_object("blob", data)) for name, data in contents.items()]
        repo = Repository(git)
        tree = repo._write_functions(functions or FunctionSet(), set())
        if tree != EMPTY_TREE:
            entries.append(TreeEntry("40000", "functions", tree))
        root = repo._write_tree(entries)
        message = format_message(subject, "", {"Status": "manual"})
        commit = git.write_object(
            "commit", build_commit(tree=root, parents=[], identity=git.identity, when=time.time(), message=message)
        )
        git.check("read-tree", "-m", "-u", EMPTY_TREE, commit)
        repo._update_refs([f"create refs/heads/{branch} {commit}"], "init")
        repo.configure_sharing()
    except BaseException:
        git.close()
        shutil.rmtree(where if created else where / ".git", ignore_errors=True)
        raise
    return repo


def clone(url: str, dest: StrPath, *, identity: Identity | None = None) -> Repository:
    """Clone a toolset: every remote branch becomes a local branch; notes and best pointers come along.

    The clone is configured like every toolset (see :meth:`Repository.configure_sharing`),
    so a later plain ``git fetch`` or ``git pull`` brings notes and pointers too.

    Args:
        url: anything ``git clone`` takes (a path to a bare repository, ssh, https).
        dest: the new directory.
        identity: author/committer of new commits.

    Raises:
        RemoteError: git could not clone.
        NotAToolset: the repository has no ``fnforge.toml`` (the clone is removed).

    Example:
        >>> copy = registry.clone(str(repo.path), "math")
        >>> copy.read().names
        ('double', 'solve')
    """
    where = Path(dest).absolute()
    existed = where.exists()
    try:
        git = GitRepo.clone(url, where, identity or Identity())
    except GitFailed as exc:
        raise RemoteError(f"clone of {url!r} failed: {exc.stderr.strip().splitlines()[-1]}") from exc
    repo = Repository(git)
    try:
        repo.configure_sharing()
        fetched = repo._fetch("origin", ["notes", "best"], scratch=False)
        _adopt_remote_branches(repo)
        if git.read_ref(fetched["notes"]) is not None:
            repo._merge_notes_from(fetched["notes"])
        if not _is_toolset(git):
            raise NotAToolset(url)
    except BaseException:
        repo.close()
        if not existed:
            shutil.rmtree(where, ignore_errors=True)
        raise
    return repo


def _adopt_remote_branches(repo: Repository) -> None:
    git = repo._git
    out = git.check("for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin/")
    names = [n for n in out.splitlines() if n and n != "HEAD"]
    for name in names:
        if git.read_ref(f"refs/heads/{name}") is None:
            git.check("branch", "--quiet", "--track", name, f"refs/remotes/origin/{name}")
    if git.read_ref("HEAD") is None and names:
        git.check("checkout", "--quiet", "main" if "main" in names else names[0])
    legacy = git.check("for-each-ref", "--format=delete %(refname) %(objectname)", LEGACY_BEST_TAGS)
    if legacy.strip():
        git.check("update-ref", "--stdin", input=legacy.encode())
    repo.update_best_refs()
