"""``fnforge.toml``: the toolset's defaults for task, agent, model and sandbox policy.

Read once by the CLI; its values are defaults that command-line flags override.

The ``[sandbox]`` table travels with a toolset, so it is as untrusted as the
toolset's code: it may narrow the sandbox, never widen it on its own. The
user's limits are the strict default, or the ``[sandbox]`` table of the
user's own ``config.toml`` (in the platform's user config folder, e.g.
``~/.config/fnforge/config.toml``; ``FNFORGE_CONFIG`` names another file). A
toolset's table beyond them is cut back to them, with a warning, unless the
user trusts exactly that table: ``fnforge trust`` records its SHA-256 in the
user's config (``[trust] policies``), and ``--trust-policy`` trusts it for one
command. Any change to the table makes it untrusted again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal  # Any: TOML tables

import click
import platformdirs
import tomli_w

from fnforge.functions import FnforgeError
from fnforge.sandbox import SandboxPolicy
from fnforge.tasks import TaskSpec, TaskSpecError

__all__ = ["CONFIG_FILE", "ENV_ISOLATION", "SETTINGS", "AgentKind", "CommandError", "ConfigError", "PolicyChoice",
           "ToolsetConfig", "UserConfig", "agent_kind", "choose_policy", "committed_config", "load_config",
           "load_user_config", "parse_config", "policy_hash", "read_document", "require_isolation", "sandbox_policy",
           "save_config", "setting_value", "write_document"]

CONFIG_FILE = "fnforge.toml"
ENV_USER_CONFIG = "FNFORGE_CONFIG"
ENV_ISOLATION = "FNFORGE_SANDBOX_ISOLATION"

AgentKind = Literal["tool", "react"]
# A lookup turns a checked str into the Literal that AgentConfig takes, without a cast.
_AGENT_KINDS: dict[str, AgentKind] = {"tool": "tool", "react": "react"}


class CommandError(FnforgeError):
    """Raised when a command is asked for something that cannot be done as asked (exit 2, like a bad flag).

    One ``Error:`` line, as for every fnforge error (click's own usage errors add the usage line).
    """

    exit_code = 2


class ConfigError(CommandError):
    """Raised when fnforge.toml cannot be read or holds a bad value, or a setting is unknown."""


def agent_kind(value: str) -> AgentKind:
    """The agent kind ``value`` names (``--agent``, fnforge.toml's ``agent`` or a run's recorded one).

    Raises:
        ConfigError: ``value`` is neither ``tool`` nor ``react``.

    Example:
        >>> agent_kind("react")
        'react'
    """
    try:
        return _AGENT_KINDS[value]
    except KeyError:
        raise ConfigError(f"agent must be 'tool' or 'react', not {value!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolsetConfig:
    """The ``[fnforge]`` table (the defaults of every command) plus the ``[sandbox]`` policy table.

    ``fnforge init`` writes it and ``fnforge train`` records what a run used, so
    later commands (and clones) run on the same task set, split, data, agent,
    model and endpoint. ``data`` is relative to the toolset's root when inside
    it; empty strings mean "not set" (the built-in default applies). The API
    key is never stored.
    """

    task: str = "math:algebra"
    agent: str = "tool"
    model: str = "gpt-4o-mini"
    optimizer_model: str = ""
    base_url: str = ""
    data: str = ""
    train: int = 20
    test: int = 80
    seed: int = 0
    max_turns: int = 10
    question_field: str = "question"
    answer_field: str = "answer"
    sandbox: dict[str, Any] = field(default_factory=dict)

    def to_toml(self) -> str:
        """The file's text: the keys every toolset records, then the others that are set (stable layout)."""
        default = ToolsetConfig()
        table = {name: getattr(self, name) for name in SETTINGS
                 if name in _ALWAYS_WRITTEN or getattr(self, name) not in ("", getattr(default, name))}
        document: dict[str, Any] = {"fnforge": table}
        if self.sandbox:
            document["sandbox"] = self.sandbox
        return tomli_w.dumps(document)

    def with_values(self, **values: Any) -> ToolsetConfig:
        """A copy with every non-None value of ``values`` set."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def changed(self, other: ToolsetConfig) -> tuple[str, ...]:
        """The settings whose values differ in ``other`` (in :data:`SETTINGS` order)."""
        return tuple(name for name in SETTINGS if getattr(self, name) != getattr(other, name))


SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(ToolsetConfig) if f.name != "sandbox")
"""The keys of the ``[fnforge]`` table, in the order the file lists them."""
_ALWAYS_WRITTEN = frozenset({"task", "agent", "model", "train", "test", "seed"})
_COUNTS = {"train": 0, "test": 0, "seed": None, "max_turns": 1}  # integer settings and their minimum


def setting_value(name: str, text: str) -> Any:
    """The value of setting ``name`` written as ``text`` (``fnforge config KEY VALUE``), checked.

    Raises:
        ConfigError: ``name`` is no setting, or ``text`` is no valid value for it.
    """
    if name not in SETTINGS:
        raise ConfigError(f"unknown setting {name!r}; settings: {', '.join(SETTINGS)}")
    value: Any = text
    if name in _COUNTS:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, not {text!r}") from None
    _check_value(name, value)
    if name == "task":  # checked when set; a file that names a bad one fails where the task set is read
        try:
            TaskSpec.parse(value)
        except TaskSpecError as exc:
            raise ConfigError(f"task: {exc}") from None
    return value


def _check_value(name: str, value: Any) -> None:
    if name in _COUNTS:
        least = _COUNTS[name]
        if not isinstance(value, int) or isinstance(value, bool) or (least is not None and value < least):
            raise ConfigError(f"{name} must be an integer" + (f" of at least {least}" if least is not None else "")
                              + f", not {value!r}")
    elif not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    elif name == "agent":
        agent_kind(value)
    elif name in ("model", "question_field", "answer_field") and not value.strip():
        raise ConfigError(f"{name} must not be empty")


def load_config(directory: Path) -> ToolsetConfig:
    """Read ``<directory>/fnforge.toml``; a missing file gives the defaults.

    Raises:
        ConfigError: the file is not valid TOML or has unknown keys or bad values.
    """
    path = directory / CONFIG_FILE
    if not path.is_file():
        return ToolsetConfig()
    return parse_config(read_document(path), where=str(path))


def read_document(path: Path) -> dict[str, Any]:
    """The TOML document of a ``fnforge.toml`` (for editing it table by table).

    Raises:
        ConfigError: the file is not valid TOML.
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def parse_config(document: dict[str, Any], *, where: str) -> ToolsetConfig:
    """A ``fnforge.toml`` document (already parsed) as a config.

    Raises:
        ConfigError: unknown keys or bad values (the message starts with ``where``).
    """
    table = document.get("fnforge", {})
    sandbox = document.get("sandbox", {})
    if not isinstance(table, dict) or not isinstance(sandbox, dict):
        raise ConfigError(f"{where}: [fnforge] and [sandbox] must be tables")
    unknown = sorted(set(table) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [fnforge]: {', '.join(unknown)}")
    for name, value in table.items():
        try:
            _check_value(name, value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return ToolsetConfig(**table, sandbox=dict(sandbox))


def committed_config(data: bytes | None, *, where: str) -> ToolsetConfig:
    """The config in the bytes of a committed ``fnforge.toml`` (``Repository.read_file``); None gives the defaults.

    Raises:
        ConfigError: not valid TOML, unknown keys or bad values (the message starts with ``where``).
    """
    if data is None:
        return ToolsetConfig()
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return parse_config(document, where=where)


def save_config(directory: Path, config: ToolsetConfig) -> Path:
    """Write ``config`` as ``<directory>/fnforge.toml`` (other tables of the file are kept) and return its path."""
    path = directory / CONFIG_FILE
    document = read_document(path) if path.is_file() else {}
    document.update(tomllib.loads(config.to_toml()))
    if not config.sandbox:
        document.pop("sandbox", None)
    write_document(path, document)
    return path


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Write a TOML document (see :func:`read_document`)."""
    path.write_text(tomli_w.dumps(document), encoding="utf-8")


def policy_hash(table: dict[str, Any]) -> str:
    """The identity of a ``[sandbox]`` table: ``sha256:`` of its canonical JSON.

    Example:
        >>> policy_hash({"timeout_s": 5})[:13]
        'sha256:b29db5'
    """
    text = json.dumps(table, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class UserConfig:
    """The user's own ``config.toml``: their sandbox limits and the toolset policies they trust."""

    path: Path
    sandbox: dict[str, Any] = field(default_factory=dict)
    trusted: tuple[str, ...] = ()

    def limits(self) -> SandboxPolicy:
        """The user's limits: the ``[sandbox]`` table, or the strict default.

        Raises:
            ConfigError: the table has an unknown key or a bad value.
        """
        try:
            return SandboxPolicy.from_dict(self.sandbox)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.path} [sandbox]: {exc}") from exc

    def with_trust(self, digest: str, *, trusted: bool) -> UserConfig:
        """A copy that trusts (or no longer trusts) the policy ``digest``."""
        kept = tuple(d for d in self.trusted if d != digest)
        return replace(self, trusted=(*kept, digest) if trusted else kept)

    def save(self) -> None:
        """Write the file back (other tables in it are kept)."""
        document = read_document(self.path) if self.path.is_file() else {}
        document["trust"] = {**document.get("trust", {}), "policies": list(self.trusted)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(tomli_w.dumps(document), encoding="utf-8")


def load_user_config(environ: dict[str, str] | None = None) -> UserConfig:
    """Read the user's ``config.toml`` (``FNFORGE_CONFIG``, else the platform's user config folder).

    Raises:
        ConfigError: the file is not valid TOML or its tables have the wrong shape.
    """
    env = os.environ if environ is None else environ
    path = Path(env[ENV_USER_CONFIG]) if env.get(ENV_USER_CONFIG) else (
        platformdirs.user_config_path("fnforge") / "config.toml")
    if not path.is_file():
        return UserConfig(path=path)
    document = read_document(path)
    sandbox, trust = document.get("sandbox", {}), document.get("trust", {})
    policies = trust.get("policies", []) if isinstance(trust, dict) else None
    if not isinstance(sandbox, dict) or not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
        raise ConfigError(f"{path}: [sandbox] must be a table and [trust] policies a list of strings")
    return UserConfig(path=path, sandbox=dict(sandbox), trusted=tuple(policies))


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChoice:
    """The policy a command runs under, and why.

    ``requested`` is what the toolset's table asks for; ``widening`` what it asks
    beyond the user's limits (empty when nothing); ``trusted`` whether the user
    trusts the table, so ``policy`` is ``requested`` (else it is cut back).
    """

    policy: SandboxPolicy
    requested: SandboxPolicy
    widening: tuple[str, ...]
    trusted: bool
    digest: str


def choose_policy(config: ToolsetConfig, *, trust: bool = False, user: UserConfig | None = None) -> PolicyChoice:
    """The sandbox policy for ``config``'s ``[sandbox]`` table under the user's limits and trust.

    Args:
        config: the toolset's configuration.
        trust: trust the table for this command (``--trust-policy``).
        user: the user's configuration (read with :func:`load_user_config` when omitted).

    Raises:
        ConfigError: a table has an unknown key or a bad value (e.g. beyond a hard maximum).

    Example:
        >>> choose_policy(ToolsetConfig(sandbox={"timeout_s": 600}), user=UserConfig(path=Path("none"))).policy.timeout_s
        2.0
    """
    user = user if user is not None else load_user_config()
    try:
        requested = SandboxPolicy.from_dict(config.sandbox)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"fnforge.toml [sandbox]: {exc}") from exc
    limits = user.limits()
    digest = policy_hash(config.sandbox)
    widening = requested.widening(limits)
    trusted = trust or digest in user.trusted
    policy = requested if trusted or not widening else requested.narrowed(limits)
    return PolicyChoice(policy=policy, requested=requested, widening=widening, trusted=trusted, digest=digest)


def sandbox_policy(config: ToolsetConfig, *, trust: bool = False) -> SandboxPolicy:
    """The policy to run ``config``'s functions under; warns on stderr when the table was cut back.

    Raises:
        ConfigError: a table has an unknown key or a bad value.

    Example:
        >>> sandbox_policy(ToolsetConfig(sandbox={"timeout_s": 1})).timeout_s
        1.0
    """
    choice = choose_policy(config, trust=trust)
    if choice.widening and not choice.trusted:
        click.echo(f"warning: fnforge.toml asks for a wider sandbox than yours ({'; '.join(choice.widening)}); "
                   "running within your limits (trust it with: fnforge trust)", err=True)
    return choice.policy


def require_isolation(environ: dict[str, str] | None = None) -> bool:
    """Whether untrusted code needs every core OS layer: False only for ``FNFORGE_SANDBOX_ISOLATION=best-effort``.

    Raises:
        ConfigError: the variable has another value than ``required`` or ``best-effort``.
    """
    value = (os.environ if environ is None else environ).get(ENV_ISOLATION, "required")
    if value not in ("required", "best-effort"):
        raise ConfigError(f"{ENV_ISOLATION} must be 'required' or 'best-effort', not {value!r}")
    return value == "required"
