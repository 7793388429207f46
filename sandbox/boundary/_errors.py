"""The sandbox's errors: one root below ``FnforgeError``, leaves that carry data.

Tree::

    FnforgeError                      (functions)
    └── SandboxError                  exit 4; never raised itself
        ├── SandboxCheckError         the source broke a static rule (.problems, .function)
        ├── UnknownFunctionError      call() named a function that is not in the set (.name)
        ├── SandboxTimeout            the call ran past its time limit (.limit_s)
        ├── SandboxMemoryError        the call ran out of its address space (.limit_mb)
        ├── SandboxViolation          the code tried something the policy forbids (.rule)
        ├── FunctionError             the untrusted code raised (.exc_type, .message, .traceback)
        └── SandboxCrash              the worker died or broke the protocol (.detail)
    SandboxIsolationError             exit 4; the host cannot provide a core OS layer (.layers, .missing)

``SandboxIsolationError`` is not a ``SandboxError`` on purpose: code that
handles a failed call (an agent showing the error to its model, the optimizer
rejecting an action) catches ``SandboxError``, and must not swallow a host
that cannot isolate any call at all: that stops the command.

Every message is one line an LLM can act on. Caller misuse (a closed
``Sandbox``, non-JSON arguments) raises ``RuntimeError``/``TypeError``/
``ValueError`` instead, as STYLE.md asks.
"""

from __future__ import annotations

from fnforge.functions import FnforgeError, Problem

__all__ = [
    "FunctionError",
    "SandboxCheckError",
    "SandboxCrash",
    "SandboxError",
    "SandboxIsolationError",
    "SandboxMemoryError",
    "SandboxTimeout",
    "SandboxViolation",
    "UnknownFunctionError",
]


class SandboxError(FnforgeError):
    """Base of every sandbox error; catch it to handle any failed check or call."""

    exit_code = 4


class SandboxCheckError(SandboxError):
    """Raised when a function's source (or a ``run_code`` snippet) fails the static gate.

    ``problems`` lists every broken rule with its line; ``function`` names the
    function (``"<run_python>"`` for a snippet).
    """

    def __init__(self, function: str, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.function = function
        self.problems = tuple(problems)
        detail = "; ".join(str(p) for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{function} has {count} {noun}: {detail}")


class UnknownFunctionError(SandboxError):
    """Raised when ``Sandbox.call`` names a function the function set does not contain."""

    def __init__(self, name: str, available: tuple[str, ...]) -> None:
        self.name = name
        self.available = available
        names = ", ".join(available) or "none"
        super().__init__(f"no function named {name!r} in this set; available: {names}")


class SandboxTimeout(SandboxError):
    """Raised when a call runs longer than ``SandboxPolicy.timeout_s`` (the worker is replaced)."""

    def __init__(self, limit_s: float, *, hard: bool = False) -> None:
        self.limit_s = limit_s
        self.hard = hard
        how = "; the worker was killed" if hard else ""
        super().__init__(f"the call ran longer than the {limit_s:g} s time limit{how}")


class SandboxMemoryError(SandboxError):
    """Raised when a call exceeds ``SandboxPolicy.memory_mb`` of address space."""

    def __init__(self, limit_mb: int) -> None:
        self.limit_mb = limit_mb
        super().__init__(f"the call ran out of memory (limit {limit_mb} MB)")


class SandboxViolation(SandboxError):
    """Raised when the code tried something the policy forbids, even if it caught the refusal.

    ``rule`` names the policy rule (e.g. ``private-attribute``, ``module-attribute``,
    ``write``, ``import``, ``process``, ``network``, ``file-read``).
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.detail = message
        super().__init__(f"sandbox violation ({rule}): {message}")


class FunctionError(SandboxError):
    """Raised when the untrusted code itself raised an exception.

    ``traceback`` holds only the frames of the untrusted code's own lines.
    """

    def __init__(self, exc_type: str, message: str, traceback: str, *, line: int | None) -> None:
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback
        self.line = line
        where = f" (line {line})" if line is not None else ""
        text = f"{exc_type}: {message}" if message else exc_type
        super().__init__(f"{text}{where}")


class SandboxCrash(SandboxError):
    """Raised when a worker died or broke the protocol for a reason other than a limit.

    The worker is always replaced: nothing it sends after a protocol error is believed.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"the sandbox worker crashed: {detail}")


class SandboxIsolationError(FnforgeError):
    """Raised before any untrusted code runs when the host cannot provide a core OS layer.

    ``layers`` maps each layer to its state (``on`` or ``off: <reason>``), as
    ``Sandbox.isolation`` reports it; ``missing`` names the core layers that
    are off. Not a ``SandboxError`` (see the module docstring). The opt-out is ``Sandbox(..., require_isolation=False)`` (the CLI:
    ``FNFORGE_SANDBOX_ISOLATION=best-effort``), which runs with the guards only.
    """

    exit_code = 4

    def __init__(self, layers: dict[str, str], missing: tuple[str, ...]) -> None:
        self.layers = dict(layers)
        self.missing = missing
        detail = "; ".join(f"{name} {layers.get(name, 'off: not reported')}" for name in missing)
        super().__init__(
            f"this host cannot isolate untrusted code ({detail}); run fnforge on Linux with user or mount "
            f"namespaces and seccomp available, or opt out with FNFORGE_SANDBOX_ISOLATION=best-effort "
            f"(Sandbox(require_isolation=False)) to run with the Python guards only"
        )
