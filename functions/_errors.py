"""The root of fnforge's exception tree and the errors of one function's spec.

Tree (each package owns one root below ``FnforgeError``)::

    FnforgeError                     exit 1
    ├── FunctionSpecError            exit 2   functions/: a function breaks a rule
    ├── RegistryError                exit 3   registry/
    ├── SandboxError                 exit 4   sandbox/
    ├── AgentError                   exit 5   agents/ (LLM provider failures)
    ├── TaskError                    exit 6   tasks/ (task data)
    └── OptimizerError               exit 1   optimizer/

The CLI catches ``FnforgeError`` once, prints ``Error: <message>`` and exits
with the class's ``exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FnforgeError", "FunctionSpecError", "Problem"]


class FnforgeError(Exception):
    """Base of every error fnforge raises on purpose; never raised itself."""

    exit_code: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One broken rule in a function's source or spec.

    ``str(problem)`` is one sentence an LLM can act on, e.g.
    ``line 4: import of 'os' is not allowed; allowed modules: math, sympy``.
    """

    rule: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.message}"


class FunctionSpecError(FnforgeError):
    """Raised when a function's name, code or JSON Schema breaks a rule.

    ``problems`` lists every broken rule; the message joins them.
    """

    exit_code = 2

    def __init__(self, name: str, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.name = name
        self.problems = tuple(problems)
        detail = "; ".join(str(p) for p in self.problems)
        super().__init__(f"function {name!r}: {detail}")
