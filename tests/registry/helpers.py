"""Small builders shared by the registry tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fnforge.functions import Function, FunctionSet


def make_function(name: str, version: int = 0, *, description: str | None = None) -> Function:
    """A valid one-argument function ``name`` whose code and spec depend on ``version``."""
    return Function(
        name=name,
        description=description or f"Adds {version} to x.",
        parameters={"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
        code=f"def {name}(x):\n    return x + {version}\n",
    )


def make_set(*names: str, version: int = 0) -> FunctionSet:
    """A set holding ``make_function(name, version)`` for each name."""
    return FunctionSet(tuple(make_function(n, version) for n in names))


def git(path: Path, *args: str, check: bool = True) -> str:
    """``git -C path args`` (read-only inspection in tests); stdout as text."""
    result = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=False)
    if check and result.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def accepted(score: float, epoch: int = 1, **more: str | int | float) -> dict[str, str | int | float]:
    """Trailers of an accepted training step."""
    return {"Score": score, "Split": "train", "Status": "accepted", "Epoch": epoch, **more}


USER_ENV = {"GIT_AUTHOR_NAME": "A User", "GIT_AUTHOR_EMAIL": "user@example.org",
            "GIT_COMMITTER_NAME": "A User", "GIT_COMMITTER_EMAIL": "user@example.org"}


def user_git(path: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """``git -C path args`` as a user would type it (with an identity): for hand workflows in tests."""
    result = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=False,
                            env={**os.environ, **USER_ENV, **(env or {})})
    if check and result.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout
