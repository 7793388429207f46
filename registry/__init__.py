"""Where the functions are kept: a Git repository per toolset, one commit per function-set version.

Scores, statuses and epochs live in commit trailers (``git log --format='%h
%(trailers:key=Score,valueonly)'``), evaluation evidence in ``git notes
--ref=fnforge``, the best version of each branch in a ``best/<branch>`` tag.
gitpython is imported by ``registry/_git.py`` only.

Example:
    >>> from fnforge import registry
    >>> repo = registry.init("demo", files={"fnforge.toml": b"[fnforge]\\n"})
    >>> _ = repo.commit(fs, subject="epoch 1: add solve", trailers={"Score": 0.65, "Status": "accepted"})
    >>> repo.best().score
    0.65
"""

from __future__ import annotations

import inspect as _inspect

from fnforge.registry._audit import outside_path
from fnforge.registry._best import Measurement, TaskSet, best_of
from fnforge.registry._bisect import BISECT_REV, BisectResult, bisect_run
from fnforge.registry._blame import BlameLine, HistoryEntry, blame_function, function_history
from fnforge.registry._branches import BranchInfo
from fnforge.registry._diff import diff_sets
from fnforge.registry._errors import (
    AlreadyAToolset,
    BranchExists,
    BranchLocked,
    ConcurrentUpdate,
    DetachedHead,
    DirtyWorkingTree,
    GitFailed,
    GitOperationInProgress,
    NotAToolset,
    NothingToCommit,
    RegistryError,
    RemoteError,
    UnknownBranch,
    UnknownRevision,
)
from fnforge.registry._export import EXPORT_FORMATS, export_function_set
from fnforge.registry._merge import (
    MergeConflict,
    MergePlan,
    MergeResult,
    commit_merge,
    merge_function_sets,
    plan_merge,
    rename_function,
)
from fnforge.registry._notes import NOTES_REF
from fnforge.registry._objects import EMPTY_TREE, Identity, STATUSES
from fnforge.registry._remote import BranchSync, SyncReport
from fnforge.registry._repo import Repository, clone, init, open
from fnforge.registry._rules import Finding
from fnforge.registry._verify import FunctionCheck, UnverifiedToolset, Verification, clone_verified, verify
from fnforge.registry._version import Version
from fnforge.registry._writebase import BEST_REFS

__all__ = [
    "AlreadyAToolset",
    "BEST_REFS",
    "BISECT_REV",
    "BisectResult",
    "BlameLine",
    "BranchExists",
    "BranchInfo",
    "BranchLocked",
    "BranchSync",
    "ConcurrentUpdate",
    "DetachedHead",
    "DirtyWorkingTree",
    "EMPTY_TREE",
    "EXPORT_FORMATS",
    "Finding",
    "FunctionCheck",
    "GitFailed",
    "GitOperationInProgress",
    "HistoryEntry",
    "Identity",
    "Measurement",
    "MergeConflict",
    "MergePlan",
    "MergeResult",
    "NOTES_REF",
    "NotAToolset",
    "NothingToCommit",
    "RegistryError",
    "RemoteError",
    "Repository",
    "STATUSES",
    "SyncReport",
    "TaskSet",
    "UnknownBranch",
    "UnknownRevision",
    "UnverifiedToolset",
    "Verification",
    "Version",
    "best_of",
    "bisect_run",
    "blame_function",
    "clone",
    "clone_verified",
    "commit_merge",
    "diff_sets",
    "export_function_set",
    "function_history",
    "init",
    "merge_function_sets",
    "open",
    "outside_path",
    "plan_merge",
    "rename_function",
    "verify",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or _inspect.isfunction(_obj):
        _obj.__module__ = "fnforge.registry"
del _name, _obj
