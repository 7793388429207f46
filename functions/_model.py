"""Function and FunctionSet: the learnable parameters, as immutable values."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any  # Any: JSON Schemas and dict forms

from fnforge.functions._errors import FnforgeError, FunctionSpecError, Problem
from fnforge.functions._validate import validate_function

__all__ = ["Function", "FunctionSet", "FunctionSetDiff", "FunctionSetError"]


class FunctionSetError(FnforgeError):
    """Raised when an edit names a function the set lacks (or already has)."""

    exit_code = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Function:
    """One learned function: its spec (what the LLM sees) and its code.

    Validated when built; the code is normalised to end with one newline and
    ``packages`` to a sorted tuple, so equal functions serialise identically.

    Raises:
        FunctionSpecError: the name, code and schema break a rule.

    Example:
        >>> Function(name="double", description="Twice x.", packages=(),
        ...          parameters={"type": "object", "properties": {"x": {"type": "number"}},
        ...                      "required": ["x"]},
        ...          code="def double(x):\\n    return 2 * x\\n").name
        'double'
    """

    name: str
    description: str
    parameters: dict[str, Any]
    packages: tuple[str, ...] = ()
    code: str

    def __post_init__(self) -> None:
        problems = validate_function(
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            packages=self.packages,
            code=self.code,
        )
        if problems:
            raise FunctionSpecError(str(self.name), problems)
        object.__setattr__(self, "code", self.code.replace("\r\n", "\n").rstrip() + "\n")
        object.__setattr__(self, "description", self.description.strip())
        object.__setattr__(self, "packages", tuple(sorted({p.strip() for p in self.packages})))
        # A private deep copy: nobody can mutate a Function through the dict they passed.
        object.__setattr__(self, "parameters", copy.deepcopy(self.parameters))

    def to_openai_tool(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry for this function."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters),
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: name, description, parameters, packages, code."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": copy.deepcopy(self.parameters),
            "packages": list(self.packages),
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Function:
        """Build from :meth:`to_dict` output.

        Raises:
            FunctionSpecError: a field is missing or breaks a rule.
        """
        missing = [k for k in ("name", "description", "parameters", "code") if k not in data]
        if missing:
            raise FunctionSpecError(
                str(data.get("name", "?")),
                [Problem(rule="fields", message=f"the field {k!r} is missing") for k in missing],
            )
        return cls(
            name=data["name"],
            description=data["description"],
            parameters=data["parameters"],
            packages=tuple(data.get("packages", ())),
            code=data["code"],
        )


@dataclass(frozen=True, slots=True)
class FunctionSetDiff:
    """Names added, removed and revised between two sets (each sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    revised: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.revised)

    def describe(self) -> str:
        """A commit-subject phrase, e.g. ``add solve; revise parse; remove old``."""
        parts = [f"add {n}" for n in self.added]
        parts += [f"revise {n}" for n in self.revised]
        parts += [f"remove {n}" for n in self.removed]
        return "; ".join(parts) or "no change"


@dataclass(frozen=True, slots=True)
class FunctionSet:
    """An immutable set of functions keyed by name; edits return a new set.

    Iteration yields functions sorted by name. ``tree_hash`` is the Git tree
    id of the set's canonical ``functions/`` directory: the identity of the
    set, equal to what ``git rev-parse HEAD:functions`` prints for a commit
    holding it.

    Example:
        >>> FunctionSet().add(f).remove(f.name) == FunctionSet()
        True
    """

    functions: tuple[Function, ...] = ()
    _by_name: dict[str, Function] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.functions, key=lambda f: f.name))
        names = [f.name for f in ordered]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise FunctionSetError(f"function names must be unique; repeated: {', '.join(duplicates)}")
        object.__setattr__(self, "functions", ordered)
        object.__setattr__(self, "_by_name", {f.name: f for f in ordered})

    def __iter__(self) -> Iterator[Function]:
        return iter(self.functions)

    def __len__(self) -> int:
        return len(self.functions)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Function:
        try:
            return self._by_name[name]
        except KeyError:
            raise FunctionSetError(_unknown(name, self.names)) from None

    @property
    def names(self) -> tuple[str, ...]:
        """The functions' names, sorted."""
        return tuple(self._by_name)

    def add(self, function: Function) -> FunctionSet:
        """A new set with ``function`` added.

        Raises:
            FunctionSetError: a function of that name exists (use revise).
        """
        if function.name in self:
            raise FunctionSetError(f"function {function.name!r} already exists; revise it instead")
        return FunctionSet(self.functions + (function,))

    def revise(self, function: Function) -> FunctionSet:
        """A new set with the function of the same name replaced.

        Raises:
            FunctionSetError: no function has that name (use add).
        """
        if function.name not in self:
            raise FunctionSetError(_unknown(function.name, self.names) + "; add it instead")
        return FunctionSet(tuple(function if f.name == function.name else f for f in self))

    def remove(self, name: str) -> FunctionSet:
        """A new set without the function called ``name``.

        Raises:
            FunctionSetError: no function has that name.
        """
        if name not in self:
            raise FunctionSetError(_unknown(name, self.names))
        return FunctionSet(tuple(f for f in self if f.name != name))

    def diff(self, other: FunctionSet) -> FunctionSetDiff:
        """What changes going from this set to ``other``."""
        mine, theirs = set(self.names), set(other.names)
        return FunctionSetDiff(
            added=tuple(sorted(theirs - mine)),
            removed=tuple(sorted(mine - theirs)),
            revised=tuple(sorted(n for n in mine & theirs if self[n] != other[n])),
        )

    def to_openai_tools(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` list for every function, sorted by name."""
        return [f.to_openai_tool() for f in self]

    @property
    def tree_hash(self) -> str:
        """Git tree sha1 of the canonical ``functions/`` directory for this set."""
        from fnforge.functions._codec import to_files

        entries = b"".join(
            b"100644 " + name.encode() + b"\0" + _blob_id(content)
            for name, content in sorted(to_files(self).items(), key=lambda kv: kv[0].encode())
        )
        return hashlib.sha1(b"tree %d\0" % len(entries) + entries).hexdigest()


def _blob_id(content: bytes) -> bytes:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).digest()


def _unknown(name: str, names: tuple[str, ...]) -> str:
    known = ", ".join(names) if names else "none"
    return f"unknown function {name!r}; functions in the set: {known}"


def canonical_json(data: Any) -> str:  # Any: any JSON-serialisable value
    """The one JSON layout fnforge writes: sorted keys, 2-space indent, newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def json_digest(data: Any) -> str:  # Any: any JSON-serialisable value
    """The one content digest of a JSON value fnforge keys caches by: sha256 hex of its compact
    canonical JSON (sorted keys, no spaces, UTF-8).

    Example:
        >>> json_digest({"b": 1, "a": [1, 2]}) == json_digest({"a": [1, 2], "b": 1})
        True
    """
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
