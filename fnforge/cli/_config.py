"""``fnforge.toml``: the toolset's defaults for task, agent, model and sandbox policy.

Read once by the CLI; its values are defaults that command-line flags override.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

from fnforge.functions import FnforgeError
from fnforge.sandbox import SandboxPolicy

__all__ = ["CONFIG_FILE", "ConfigError", "ToolsetConfig", "load_config", "sandbox_policy"]

CONFIG_FILE = "fnforge.toml"


class ConfigError(FnforgeError):
    """Raised when fnforge.toml cannot be read or holds a bad value."""

    exit_code = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolsetConfig:
    """The ``[fnforge]`` table plus the ``[sandbox]`` policy table, as written by ``fnforge init``."""

    task: str = "math:algebra"
    agent: str = "tool"
    model: str = "gpt-4o-mini"
    optimizer_model: str = ""
    sandbox: dict[str, Any] = field(default_factory=dict)

    def to_toml(self) -> str:
        """The file's text (stable layout, so the first commit is reproducible)."""
        table = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sandbox"}
        document: dict[str, Any] = {"fnforge": table}
        if self.sandbox:
            document["sandbox"] = self.sandbox
        return tomli_w.dumps(document)

    def with_values(self, **values: Any) -> ToolsetConfig:
        """A copy with every non-None value of ``values`` set."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def load_config(directory: Path) -> ToolsetConfig:
    """Read ``<directory>/fnforge.toml``; a missing file gives the defaults.

    Raises:
        ConfigError: the file is not valid TOML or has unknown keys or bad values.
    """
    path = directory / CONFIG_FILE
    if not path.is_file():
        return ToolsetConfig()
    try:
        document = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    table = dict(document.get("fnforge", {}))
    known = {f.name for f in fields(ToolsetConfig)} - {"sandbox"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) in [fnforge]: {', '.join(unknown)}")
    config = ToolsetConfig(**table, sandbox=dict(document.get("sandbox", {})))
    if config.agent not in ("tool", "react"):
        raise ConfigError(f"{path}: agent must be 'tool' or 'react', not {config.agent!r}")
    return config


def sandbox_policy(config: ToolsetConfig) -> SandboxPolicy:
    """The sandbox policy of ``fnforge.toml``'s ``[sandbox]`` table (the strict default when empty).

    Raises:
        ConfigError: the table has an unknown key or a bad value.

    Example:
        >>> sandbox_policy(ToolsetConfig(sandbox={"timeout_s": 5})).timeout_s
        5.0
    """
    try:
        return SandboxPolicy.from_dict(config.sandbox)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"fnforge.toml [sandbox]: {exc}") from exc
