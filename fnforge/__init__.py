"""fnforge: train an LLM agent's functions and keep every version in Git.

The library lives in one namespace. Each subpackage owns one idea and is
imported on first use, so ``import fnforge`` (and the command line's start-up)
stays cheap:

- ``fnforge.functions``: what is learned (``Function``, ``FunctionSet``);
- ``fnforge.registry``: where it is kept (``Repository``: Git versions, best, roll-back);
- ``fnforge.sandbox``: where it runs (``Sandbox``, ``SandboxPolicy``, ``check``);
- ``fnforge.agents``: who uses it (``LLMClient``, ``AgentConfig``, ``Trajectory``);
- ``fnforge.tasks``: what it is judged on (``load_tasks``, ``make_splits``, scorers);
- ``fnforge.optimizer``: how it learns (``evaluate``, ``AgentOptimizer``, ``Trainer``);
- ``fnforge.cli``: the command line.

The most used names are re-exported here:

    >>> from fnforge import FunctionSet, Repository, Trainer
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any  # Any: whichever public object a lazy attribute names

if TYPE_CHECKING:  # the real imports, for type checkers and readers
    from fnforge.agents import AgentConfig, LLMClient, LLMConfig, Trajectory
    from fnforge.functions import FnforgeError, Function, FunctionSet
    from fnforge.optimizer import AgentOptimizer, EvalCache, TrainConfig, Trainer, evaluate
    from fnforge.registry import Repository
    from fnforge.sandbox import Sandbox, SandboxPolicy
    from fnforge.tasks import Task, TaskSpec, load_tasks, make_splits

__all__ = [
    "AgentConfig", "AgentOptimizer", "EvalCache", "FnforgeError", "Function", "FunctionSet", "LLMClient",
    "LLMConfig", "Repository", "Sandbox", "SandboxPolicy", "Task", "TaskSpec", "TrainConfig", "Trainer",
    "Trajectory", "evaluate", "load_tasks", "make_splits",
]

_HOME = {
    "agents": ("AgentConfig", "LLMClient", "LLMConfig", "Trajectory"),
    "functions": ("FnforgeError", "Function", "FunctionSet"),
    "optimizer": ("AgentOptimizer", "EvalCache", "TrainConfig", "Trainer", "evaluate"),
    "registry": ("Repository",),
    "sandbox": ("Sandbox", "SandboxPolicy"),
    "tasks": ("Task", "TaskSpec", "load_tasks", "make_splits"),
}
_SUBPACKAGE_OF = {name: package for package, names in _HOME.items() for name in names}


def __getattr__(name: str) -> Any:  # Any: the value is whichever public object was asked for
    package = _SUBPACKAGE_OF.get(name)
    if package is None:
        raise AttributeError(f"module 'fnforge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fnforge.{package}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
