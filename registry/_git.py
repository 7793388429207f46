"""The one module that touches gitpython: discovery, the object database, refs and git commands.

Objects are read through gitpython's persistent ``git cat-file --batch``
process and written as loose objects by gitdb in-process (zlib, temp file +
rename), so a commit costs no subprocess until its refs move. Commands run with an explicit
environment: the caller's ``GIT_DIR``-style variables are dropped, the
identity is fnforge's own, and local commands ignore the user's global and
system git config (remote commands keep it, for credentials and URL rewrites).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import git
import gitdb  # type: ignore[import-untyped]

from fnforge.registry._errors import GitFailed
from fnforge.registry._objects import Identity

__all__ = ["Completed", "GitRepo"]

# Variables that would point git at another repository, index or config than ours.
_FOREIGN = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_EDITOR", "GIT_PAGER",
)


@dataclass(frozen=True, slots=True)
class Completed:
    """What a git command left: exit status, stdout bytes, stderr text."""

    returncode: int
    stdout: bytes
    stderr: str


def _environment(identity: Identity, *, remote: bool) -> dict[str, str]:
    # The child needs PATH, HOME (for ssh) etc., so start from the parent's environment;
    # this copy is the registry's only environment access and reads no setting from it.
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env.update(
        GIT_AUTHOR_NAME=identity.name,
        GIT_AUTHOR_EMAIL=identity.email,
        GIT_COMMITTER_NAME=identity.name,
        GIT_COMMITTER_EMAIL=identity.email,
        LC_ALL="C",
        LANGUAGE="C",
    )
    if not remote:
        env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return env


class GitRepo:
    """A gitpython ``Repo`` plus fnforge's command runner and ref reader."""

    def __init__(self, repo: git.Repo, identity: Identity) -> None:
        self._repo = repo
        self.identity = identity
        self.git_dir = Path(repo.git_dir).resolve()
        self.common_dir = Path(repo.common_dir).resolve()
        self.bare = bool(repo.bare)
        self.work_tree = None if self.bare else Path(str(repo.working_tree_dir)).resolve()
        # gitpython's own odb.store spawns `git hash-object` per object; gitdb's loose
        # database compresses in-process and renames a temp file into place.
        self._loose = gitdb.LooseObjectDB(str(self.common_dir / "objects"))
        self._env_local = _environment(identity, remote=False)
        self._env_remote = _environment(identity, remote=True)
        repo.git.update_environment(**{k: self._env_local[k] for k in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL")})

    # -- discovery -----------------------------------------------------------------

    @classmethod
    def discover(cls, path: Path, identity: Identity) -> GitRepo | None:
        """The repository containing ``path`` (searching upwards), or None."""
        try:
            repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        return cls(repo, identity)

    @classmethod
    def create(cls, path: Path, branch: str, identity: Identity) -> GitRepo:
        """``git init --initial-branch=<branch> path`` (creating the directory)."""
        path.mkdir(parents=True, exist_ok=True)
        env = _environment(identity, remote=False)
        result = subprocess.run(
            ["git", "init", "-q", f"--initial-branch={branch}", str(path)],
            capture_output=True, env=env, check=False,
        )
        if result.returncode:
            raise GitFailed("init", result.stderr.decode(errors="replace"))
        return cls(git.Repo(path), identity)

    @classmethod
    def clone(cls, url: str, dest: Path, identity: Identity) -> GitRepo:
        """``git clone url dest`` with the user's remote settings."""
        env = _environment(identity, remote=True)
        result = subprocess.run(
            ["git", "clone", "-q", "--end-of-options", url, str(dest)], capture_output=True, env=env, check=False
        )
        if result.returncode:
            raise GitFailed("clone", result.stderr.decode(errors="replace"))
        return cls(git.Repo(dest), identity)

    def close(self) -> None:
        """Stop gitpython's persistent cat-file processes."""
        self._repo.close()

    # -- commands ------------------------------------------------------------------

    def run(self, *args: str, input: bytes | None = None, remote: bool = False) -> Completed:
        """Run ``git <args>`` in this repository; never raises for a non-zero exit."""
        cwd = self.work_tree or self.git_dir
        argv = ["git", f"--git-dir={self.git_dir}"]
        if self.work_tree is not None:
            argv.append(f"--work-tree={self.work_tree}")
        result = subprocess.run(
            [*argv, *args],
            input=input,
            capture_output=True,
            cwd=cwd,
            env=self._env_remote if remote else self._env_local,
            check=False,
        )
        return Completed(result.returncode, result.stdout, result.stderr.decode(errors="replace"))

    def check(self, *args: str, input: bytes | None = None, remote: bool = False) -> str:
        """Run ``git <args>`` and return stdout as text.

        Raises:
            GitFailed: git exited non-zero.
        """
        result = self.run(*args, input=input, remote=remote)
        if result.returncode:
            raise GitFailed(args[0], result.stderr)
        return result.stdout.decode(errors="replace")

    # -- objects -------------------------------------------------------------------

    def read_object(self, sha: str) -> tuple[str, bytes]:
        """``(type, content)`` of an object.

        Raises:
            GitFailed: no such object.
        """
        try:
            stream = self._repo.odb.stream(bytes.fromhex(sha))
        except (ValueError, gitdb.exc.BadObject) as exc:
            raise GitFailed("cat-file", f"fatal: object {sha} is missing") from exc
        return stream.type.decode(), stream.read()

    def write_object(self, kind: str, data: bytes) -> str:
        """Store an object (a no-op when its loose file exists) and return its id."""
        header = f"{kind} {len(data)}\0".encode()
        sha = hashlib.sha1(header + data).hexdigest()
        if not (self.common_dir / "objects" / sha[:2] / sha[2:]).exists():
            self._loose.store(gitdb.IStream(kind.encode(), len(data), io.BytesIO(data)))
        return sha

    # -- refs ----------------------------------------------------------------------

    def read_ref(self, name: str) -> str | None:
        """The sha a ref (``HEAD``, ``refs/heads/main``...) points at, following symrefs; None if absent."""
        for _ in range(5):
            value = self._read_ref_once(name)
            if value is None or not value.startswith("ref: "):
                return value
            name = value[5:]
        return None

    def symbolic_head(self) -> str | None:
        """The ref HEAD names (``refs/heads/main``), or None when HEAD is detached."""
        value = self._read_ref_once("HEAD")
        return value[5:] if value is not None and value.startswith("ref: ") else None

    def _read_ref_once(self, name: str) -> str | None:
        base = self.git_dir if name == "HEAD" else self.common_dir
        try:
            text = (base / name).read_text().strip()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            text = ""
        if text:
            return text
        try:
            packed = (self.common_dir / "packed-refs").read_text()
        except FileNotFoundError:
            return None
        for line in packed.splitlines():
            if line and line[0] not in "#^":
                sha, _, ref = line.partition(" ")
                if ref == name:
                    return sha
        return None
