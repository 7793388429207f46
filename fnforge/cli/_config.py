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
from typing import Any  # Any: TOML tables

import click
import platformdirs
import tomli_w

from fnforge.functions import FnforgeError
from fnforge.sandbox import SandboxPolicy

__all__ = ["CONFIG_FILE", "ENV_ISOLATION", "ConfigError", "PolicyChoice", "ToolsetConfig", "UserConfig",
           "choose_policy", "load_config", "load_user_config", "policy_hash", "require_isolation", "sandbox_policy"]

CONFIG_FILE = "fnforge.toml"
ENV_USER_CONFIG = "FNFORGE_CONFIG"
ENV_ISOLATION = "FNFORGE_SANDBOX_ISOLATION"


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
        document = _read_toml(self.path) if self.path.is_file() else {}
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
    document = _read_toml(path)
    sandbox, trust = document.get("sandbox", {}), document.get("trust", {})
    policies = trust.get("policies", []) if isinstance(trust, dict) else None
    if not isinstance(sandbox, dict) or not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
        raise ConfigError(f"{path}: [sandbox] must be a table and [trust] policies a list of strings")
    return UserConfig(path=path, sandbox=dict(sandbox), trusted=tuple(policies))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


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
