"""What decides a scored run, as an evaluation-cache key: derived from content, never from a hand-kept version.

A key covers, for one task run:

- the function set (its ``functions/`` tree hash) and the task (``Task.hash``);
- the agent configuration, and the **code that turns it into requests and a
  verdict**: a digest of the source and package data of ``fnforge.agents``
  (the default prompts ``prompt_*.txt``, the ``run_python`` tool schema, the
  loop, reply parsing), ``fnforge.tasks`` (answer extraction, the scorers),
  ``fnforge.sandbox`` and ``fnforge.functions`` (how tools run and what they
  return), and this evaluation code. The rendered system prompt and the tool
  schemas are functions of that code, the configuration and the function set,
  so an edit of a default prompt is a new key;
- the scorer the task uses (:func:`tasks.scorer_name`) and the versions of the
  libraries results depend on (math-verify and its LaTeX parser, sympy,
  mpmath, numpy, RestrictedPython, openai) and of Python;
- the model, the endpoint (``base_url``: one model name on two servers may be
  two models), the sampling parameters, and the *effective* tools mode (under
  ``auto`` the client may have switched to JSON mode; a run is stored under the
  mode it ended in);
- the sandbox policy and the rollout index.

Nothing else (concurrency, timeouts, retries, the API key) changes a result.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import fnforge.agents
import fnforge.functions
import fnforge.sandbox
import fnforge.tasks
from fnforge.agents import AgentConfig, LLMClient
from fnforge.functions import FunctionSet
from fnforge.sandbox import Sandbox
from fnforge.tasks import Task, scorer_name
from fnforge.optimizer._eval_cache import CacheKey, digest

__all__ = ["LIBRARIES", "KeyMaker", "cache_key", "code_identity", "source_digest", "source_files"]

LIBRARIES = ("math-verify", "latex2sympy2_extended", "antlr4-python3-runtime", "sympy", "mpmath", "numpy",
             "RestrictedPython", "openai")
"""Distributions whose version is part of every key (scoring, function results, requests)."""

_SUFFIXES = (".py", ".txt", ".json", ".md")


def source_files() -> tuple[Path, ...]:
    """The files whose content decides a run: the packages named in the module docstring, and this evaluation."""
    roots = [Path(package.__file__).parent  # type: ignore[arg-type]  # regular packages have a __file__
             for package in (fnforge.agents, fnforge.functions, fnforge.sandbox, fnforge.tasks)]
    here = Path(__file__).parent
    files = [f for root in roots for f in root.rglob("*") if f.suffix in _SUFFIXES and "__pycache__" not in f.parts]
    return tuple(sorted(files) + [here / "_evaluation.py", here / "_result_key.py", here / "_results.py"])


def source_digest(files: Iterable[Path]) -> str:
    """sha256 over the names and contents of ``files`` (their order does not matter)."""
    return digest({f"{path.parent.name}/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
                   for path in files})


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def code_identity() -> str:
    """Digest of the code and library versions that decide a run (see the module docstring)."""
    return digest({"sources": source_digest(source_files()), "python": list(sys.version_info[:2]),
                   "libraries": {name: _version(name) for name in LIBRARIES}})


class KeyMaker:
    """Keys of one evaluation: everything but the task (and the client's tools mode) computed once.

    Args:
        function_set, agent_config, client, sandbox, rollout: what the runs use.
        code: :func:`code_identity` (computed when omitted).
    """

    def __init__(self, function_set: FunctionSet, agent_config: AgentConfig, client: LLMClient, sandbox: Sandbox,
                 rollout: int, *, code: str | None = None) -> None:
        sampling = dict(client.config.sampling())
        self.model = str(sampling.pop("model"))
        self._sampling = {**sampling, "base_url": client.config.base_url}
        self._client = client
        self.tree_hash = function_set.tree_hash
        self._agent = agent_config.to_dict()
        self._code = code_identity() if code is None else code
        self.sandbox = digest(sandbox.policy.to_dict())
        self.rollout = rollout
        self._agents: dict[str, str] = {}
        self._samplings: dict[str, str] = {}

    def _tools_mode(self) -> str:
        configured = self._client.config.tools_mode
        if configured != "auto":
            return configured
        return "json" if self._client.stats.json_mode else "native"

    def key(self, task: Task) -> CacheKey:
        """The key of ``task``'s run, for the client's tools mode now."""
        return CacheKey(
            tree_hash=self.tree_hash, task_hash=task.hash, agent=self._agent_digest(scorer_name(task)),
            sandbox=self.sandbox, model=self.model, sampling=self._sampling_digest(self._tools_mode()),
            rollout=self.rollout)

    def _agent_digest(self, scorer: str) -> str:
        if scorer not in self._agents:  # one per scorer: a digest per task was most of a key's cost
            self._agents[scorer] = digest({"config": self._agent, "code": self._code, "scorer": scorer})
        return self._agents[scorer]

    def _sampling_digest(self, tools_mode: str) -> str:
        if tools_mode not in self._samplings:
            self._samplings[tools_mode] = digest({**self._sampling, "tools_mode": tools_mode})
        return self._samplings[tools_mode]


def cache_key(function_set: FunctionSet, task: Task, agent_config: AgentConfig, *, client: LLMClient,
              sandbox: Sandbox, rollout: int = 0) -> CacheKey:
    """The evaluation-cache key of one run of ``task`` with ``function_set``.

    Example:
        >>> from fnforge.agents import AgentConfig, LLMClient, LLMConfig
        >>> from fnforge.sandbox import Sandbox, SandboxPolicy
        >>> client, sandbox = LLMClient(LLMConfig(model="m")), Sandbox(SandboxPolicy())  # nothing starts yet
        >>> len(cache_key(fs, task, AgentConfig(), client=client, sandbox=sandbox).key)
        64
    """
    return KeyMaker(function_set, agent_config, client, sandbox, rollout).key(task)
