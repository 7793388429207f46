"""What the commands that run agents share: LLM settings, the sandbox, the data folder, the caches.

This is the one place the command line turns flags, environment variables and
``fnforge.toml`` into the objects the library takes (nothing below ``fnforge/``
reads the environment):

- :func:`llm_options`: the click options ``--model``, ``--base-url`` (or
  ``OPENAI_BASE_URL``), ``--concurrency`` and ``--no-cache``, for any command
  (``--data`` and the split flags are in ``_settings``);
- :func:`llm_config`: those values plus ``OPENAI_API_KEY`` -> ``agents.LLMConfig``
  (with the response cache in the repository's state folder);
- :func:`agent_config`: ``--agent`` and ``--max-turns``, else ``fnforge.toml``'s -> ``agents.AgentConfig``;
- :func:`open_sandbox`: ``[sandbox]`` of ``fnforge.toml`` -> a sandbox;
- :func:`open_eval_cache`: the repository's ``eval-cache.sqlite``;
- :func:`progress_bar`: a rich progress bar on a terminal's stderr, a no-op elsewhere;
- :func:`run_async`: ``asyncio.run`` with a thread pool sized for the tasks in flight.

Example (inside a command)::

    config = load_config(repo.path)
    llm = llm_config(model or config.model, base_url=base_url, state_dir=repo.state_dir,
                     use_cache=not no_cache, concurrency=concurrency)
    with open_sandbox(config, workers=concurrency) as sandbox, progress_bar("eval", n) as tick:
        ...

Only click is imported with this module: the library, rich and platformdirs
are imported by the functions that use them, so that ``fnforge CMD --help``
(which imports the command's module, and so this one) stays cheap.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar  # Any: click's option values and decorated commands

import click

if TYPE_CHECKING:
    from fnforge.agents import AgentConfig, LLMConfig
    from fnforge.cli._config import ToolsetConfig
    from fnforge.optimizer import EvalCache
    from fnforge.sandbox import Sandbox

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_DATA_URL",
    "EVAL_CACHE_FILE",
    "LLM_CACHE_FILE",
    "PRICES",
    "agent_config",
    "llm_config",
    "llm_options",
    "open_eval_cache",
    "open_sandbox",
    "progress_bar",
    "run_async",
]

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_DATA_URL = "FNFORGE_DATA_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
EVAL_CACHE_FILE = "eval-cache.sqlite"
LLM_CACHE_FILE = "llm-cache.sqlite"
MAX_SANDBOX_WORKERS = 8

PRICES: Mapping[str, tuple[float, float]] = {
    # USD per 1M (input, output) tokens, OpenAI list prices; unlisted models cost 0.
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-08-06": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4-1106-preview": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3-mini": (1.10, 4.40),
}

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_SPARE_THREADS = 4  # beyond one per task in flight: cache writes, warm-ups


def llm_options(command: F) -> F:
    """Add ``--model``, ``--base-url``, ``--concurrency`` and ``--no-cache`` to a command.

    The command receives ``model`` (None: use fnforge.toml's), ``base_url``
    (None: OpenAI), ``concurrency`` and ``no_cache``.
    """
    options = [
        click.option("--model", help="Model to run (default: fnforge.toml's model)."),
        click.option("--base-url", envvar=ENV_BASE_URL, show_envvar=True,
                     help=f"OpenAI-compatible endpoint (default {DEFAULT_BASE_URL}); the key is ${ENV_API_KEY}."),
        click.option("--concurrency", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Tasks (and LLM requests) in flight at once."),
        click.option("--no-cache", is_flag=True,
                     help="Neither read nor write cached results and LLM responses: run everything again."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def llm_config(model: str, *, base_url: str | None = None, state_dir: Path | None = None,
               use_cache: bool = True, concurrency: int = 8,
               environ: Mapping[str, str] | None = None) -> LLMConfig:
    """The LLM client settings for ``model``, from flags and the environment.

    Args:
        model: the model name.
        base_url: the endpoint; ``None`` means OpenAI's.
        state_dir: the repository's state folder; its ``llm-cache.sqlite`` caches responses.
        use_cache: ``False`` disables the response cache.
        concurrency: requests in flight at once.
        environ: where ``OPENAI_API_KEY`` is read (default ``os.environ``).

    Returns:
        The config, with :data:`PRICES` for cost accounting.

    Raises:
        ConfigError: the model name is empty.

    Example:
        >>> llm_config("gpt-4o-mini", base_url="http://127.0.0.1:8000/v1").base_url
        'http://127.0.0.1:8000/v1'
    """
    from fnforge.agents import LLMConfig
    from fnforge.cli._config import ConfigError

    env = os.environ if environ is None else environ
    if not model:
        raise ConfigError("no model given: pass --model or set model in fnforge.toml")
    cache = state_dir / LLM_CACHE_FILE if state_dir is not None and use_cache else None
    return LLMConfig(model=model, base_url=base_url or DEFAULT_BASE_URL, api_key=env.get(ENV_API_KEY) or None,
                     concurrency=concurrency, prices=dict(PRICES), cache_path=cache)


def agent_config(agent: str | None, max_turns: int | None, config: ToolsetConfig) -> AgentConfig:
    """The agent settings: ``agent`` and ``max_turns`` (flags or a run's recorded settings), else fnforge.toml's.

    Raises:
        ConfigError: the agent kind is neither ``tool`` nor ``react``.

    Example:
        >>> from fnforge.cli._config import ToolsetConfig
        >>> agent_config("react", None, ToolsetConfig()).kind
        'react'
    """
    from fnforge.agents import AgentConfig
    from fnforge.cli._config import agent_kind

    return AgentConfig(kind=agent_kind(agent or config.agent), max_turns=max_turns or config.max_turns)


def open_sandbox(config: ToolsetConfig, *, workers: int = 2) -> Sandbox:
    """A sandbox with ``fnforge.toml``'s policy and ``workers`` processes (at most the CPU count and 8).

    The workers start on the first call (``with`` starts them at once), so a
    fully cached evaluation under ``contextlib.closing(open_sandbox(...))``
    spawns no process. Close it when done.

    Raises:
        ConfigError: the ``[sandbox]`` table is bad (or ``FNFORGE_SANDBOX_ISOLATION`` is).
    """
    from fnforge.cli._config import require_isolation, sandbox_policy
    from fnforge.sandbox import Sandbox

    cap = min(MAX_SANDBOX_WORKERS, os.cpu_count() or 1)
    return Sandbox(sandbox_policy(config), workers=max(1, min(workers, cap)), require_isolation=require_isolation())


def open_eval_cache(state_dir: Path, *, enabled: bool = True) -> EvalCache | None:
    """The repository's evaluation cache (``<state_dir>/eval-cache.sqlite``), or ``None`` when disabled.

    Raises:
        EvalCacheError: the file cannot be opened.
    """
    from fnforge.optimizer import EvalCache

    return EvalCache(state_dir / EVAL_CACHE_FILE) if enabled else None


def run_async(main: Coroutine[Any, Any, T], *, concurrency: int) -> T:
    """``asyncio.run(main)`` with a thread pool sized for ``concurrency`` tasks in flight.

    asyncio's default pool (behind ``asyncio.to_thread``: sandbox calls, MATH
    comparisons, cache writes) has min(32, CPUs + 4) threads: on two cores, six
    tasks waiting in sandbox calls would hold up every other thread's work.

    Example:
        >>> run_async(asyncio.sleep(0, "done"), concurrency=8)
        'done'
    """

    async def sized() -> T:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(concurrency + _SPARE_THREADS))
        return await main

    return asyncio.run(sized())


@contextmanager
def progress_bar(description: str, total: int, *, min_total: int = 2) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr, shown only on a terminal and for ``total >= min_total``.

    Yields ``advance(done)``, which sets the bar to ``done`` of ``total``.

    Example:
        >>> with progress_bar("eval", 80) as advance:
        ...     advance(1)
    """
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal or total < min_total:
        yield lambda done: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task_id = progress.add_task(description, total=total)
        yield lambda done: progress.update(task_id, completed=done)
