"""The guarded runtime: load a function set, call a function, run a snippet.

Used inside worker processes (``_worker.py`` adds the OS layers, timers and
the protocol around it) and in-process by ``bench/sandbox.py`` to measure the
guard overhead. It never decides limits; it only turns sources into guarded
code and outcomes into JSON-safe replies.

- Each function's module code runs in its own globals (hooks, curated
  builtins, proxies), then every other function of the set is bound there by
  name, so functions can call each other and snippets can call them all.
- Compiled code is cached by (name, source) digest; loaded sets by tree hash
  (an LRU of ``max_sets``), so a warm worker never recompiles a set it has seen.
- A function that fails the static gate or raises while being defined is
  recorded and reported when called; the rest of the set still works.
- ``open`` is the read-only builtin of ``_files.py`` over ``Runtime.files``,
  which the worker fills before a call and empties after it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fnforge.sandbox._boundary import Encoder, cut_text
from fnforge.sandbox._check import SNIPPET, Compiled, compile_function, compile_snippet
from fnforge.sandbox._files import Attachments, make_open
from fnforge.sandbox._guards import Monitor, OutputBuffer, PolicyViolation, make_namespace
from fnforge.sandbox._numpy import ArrayWriter, guarded_ndarray
from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox._proxies import build_proxies, make_importer, patch_sympy, stdlib_overrides

__all__ = ["LoadedSet", "Runtime", "SoftTimeout", "check_error"]

_MAX_MESSAGE = 2_000
_MAX_FRAMES = 15


class SoftTimeout(BaseException):
    """Raised by the worker's SIGALRM handler; a BaseException so ``except Exception`` misses it."""


@dataclass
class LoadedSet:
    """A function set defined in this process: callables plus the failures to report."""

    functions: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)


class Runtime:
    """Guarded execution of untrusted functions in the current process."""

    def __init__(self, policy: SandboxPolicy, *, max_sets: int = 32) -> None:
        self.policy = policy
        self.monitor = Monitor()
        self.output = OutputBuffer(policy.max_output_chars)
        self.encoder = Encoder(max_chars=policy.max_result_chars, max_depth=policy.max_result_depth)
        overrides = stdlib_overrides(self.monitor)
        numpy: Any = None  # the module, when allowed
        basic: Any = None  # sympy.Basic, when allowed
        writable: tuple[type, ...] = ()
        hidden: tuple[type, ...] = ()
        forbidden: tuple[type, ...] = ()
        arrays: Any = None  # numpy's guarded ndarray and the writer for arrays
        if "sympy" in policy.allowed_modules:
            import mpmath  # type: ignore[import-untyped]
            import sympy  # type: ignore[import-untyped]
            from sympy.core.singleton import Singleton  # type: ignore[import-untyped]
            from sympy.multipledispatch import Dispatcher  # type: ignore[import-untyped]

            # mpmath contexts eval strings; Dispatchers are global registries (Q.prime.handler).
            hidden = (mpmath.ctx_base.StandardBaseContext, Dispatcher)
            forbidden = (Singleton,)
            overrides.update(patch_sympy(self.monitor))
            writable += (sympy.MutableDenseMatrix,)
            basic = sympy.Basic
        if "numpy" in policy.allowed_modules:
            import numpy as numpy_module

            numpy = numpy_module
            writable += (numpy.ndarray,)
            arrays = (guarded_ndarray(numpy, self.monitor), ArrayWriter)
            overrides["numpy"] = {"ndarray": arrays[0]}
        self.encoder.bind(numpy=numpy, sympy_basic=basic)
        proxies = build_proxies(policy.allowed_modules, self.monitor, overrides)
        importer = make_importer(proxies, self.monitor)
        self.template = make_namespace(self.monitor, self.output, importer, numpy=numpy,
                                       writable=writable, hidden=hidden, forbidden=forbidden, arrays=arrays)
        self.files = Attachments()  # the current call's files, read by the curated ``open``
        self.template["__builtins__"]["open"] = make_open(self.files, self.monitor)
        self._compiled: dict[str, Compiled] = {}
        self._sets: OrderedDict[str, LoadedSet] = OrderedDict()
        self._max_sets = max_sets

    # --- loading -----------------------------------------------------------

    def cached(self, set_id: str) -> LoadedSet | None:
        """The loaded set for ``set_id`` if this process has it (refreshing its LRU slot)."""
        loaded = self._sets.get(set_id)
        if loaded is not None:
            self._sets.move_to_end(set_id)
        return loaded

    def load(self, set_id: str, functions: list[dict[str, str]]) -> LoadedSet:
        """Compile and define every function; cache the result under ``set_id``."""
        loaded = LoadedSet()
        for item in functions:
            name, code = item["name"], item["code"]
            filename = f"{name}.py"
            loaded.sources[filename] = code.splitlines()
            compiled = self._compile(name, code)
            if compiled.problems or compiled.body is None:
                loaded.failures[name] = check_error(name, compiled)
                continue
            namespace = dict(self.template)
            namespace["__name__"] = f"fnforge.{name}"
            try:
                exec(compiled.body, namespace)  # noqa: S102 - restricted code in guarded globals
            except (PolicyViolation, Exception) as exc:  # noqa: BLE001 - recorded per function
                loaded.failures[name] = self.describe(exc, loaded)
                self.monitor.reset()
                continue
            function = namespace.get(name)
            if not callable(function):
                loaded.failures[name] = {"kind": "function", "exc_type": "NameError", "line": None,
                                         "message": f"the code does not define {name}", "traceback": ""}
                continue
            loaded.functions[name] = function
        for name, function in loaded.functions.items():
            namespace = function.__globals__
            for other, other_function in loaded.functions.items():
                if other != name:
                    namespace.setdefault(other, other_function)
        self._sets[set_id] = loaded
        while len(self._sets) > self._max_sets:
            self._sets.popitem(last=False)
        return loaded

    def _compile(self, name: str, code: str, *, snippet: bool = False) -> Compiled:
        key = hashlib.sha256(f"{snippet}\0{name}\0{code}".encode()).hexdigest()
        compiled = self._compiled.get(key)
        if compiled is None:
            if snippet:
                compiled = compile_snippet(code, self.policy)
            else:
                compiled = compile_function(code, name, self.policy)
            if len(self._compiled) > 4096:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    # --- running -----------------------------------------------------------

    def call(self, loaded: LoadedSet, name: str, kwargs: dict[str, Any]) -> Any:
        """Call ``name`` with ``kwargs``; raises whatever the code raises."""
        return loaded.functions[name](**kwargs)

    def snippet(self, code: str) -> Compiled:
        """Check and compile a ``run_code`` snippet (cached by digest)."""
        return self._compile(SNIPPET, code, snippet=True)

    def run(self, loaded: LoadedSet, compiled: Compiled, code: str) -> Any:
        """Run a compiled snippet with the set's functions in scope; return its last value."""
        if compiled.body is None:
            raise ValueError("the snippet did not compile; check Compiled.problems first")
        loaded.sources[SNIPPET] = code.splitlines()
        namespace = dict(self.template)
        namespace["__name__"] = "__main__"
        namespace.update(loaded.functions)
        exec(compiled.body, namespace)  # noqa: S102 - restricted code in guarded globals
        if compiled.last is None:
            return None
        return eval(compiled.last, namespace)  # noqa: S307 - restricted code in guarded globals

    def failure(self, loaded: LoadedSet, name: str) -> dict[str, Any] | None:
        """The recorded load failure of ``name`` (check problems, define error), if any."""
        return loaded.failures.get(name)

    # --- outcomes ----------------------------------------------------------

    def success(self, value: Any) -> dict[str, Any]:
        """The reply for a value: JSON-safe, capped, with captured stdout."""
        data, truncated = self.encoder.encode(value)
        return {"ok": True, "value": data, "truncated": truncated or self.output.truncated,
                "stdout": self.output.text()}

    def describe(self, exc: BaseException, loaded: LoadedSet) -> dict[str, Any]:
        """Classify an exception raised by untrusted code (violation first: it is sticky)."""
        if self.monitor.violation is not None:
            rule, message = self.monitor.violation
            return {"kind": "violation", "rule": rule, "message": message}
        if isinstance(exc, PolicyViolation):
            return {"kind": "violation", "rule": exc.rule, "message": exc.message}
        if isinstance(exc, SoftTimeout):
            return {"kind": "timeout"}
        if isinstance(exc, MemoryError):
            return {"kind": "memory"}
        with self.monitor.trusted():  # reading tb_frame is audited; no untrusted code runs here
            frames = _own_frames(exc, loaded)
        lines = []
        for filename, lineno, function in frames:
            lines.append(f'  File "{filename}", line {lineno}, in {function}')
            source = loaded.sources[filename]
            if 0 < lineno <= len(source):
                lines.append(f"    {source[lineno - 1].strip()}")
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a message that cannot be printed is still an error
            message = "<message cannot be shown>"
        return {"kind": "function", "exc_type": type(exc).__name__,
                "message": cut_text(message, _MAX_MESSAGE)[0], "traceback": "\n".join(lines),
                "line": frames[-1][1] if frames else None}


def _own_frames(exc: BaseException, loaded: LoadedSet) -> list[tuple[str, int, str]]:
    """(file, line, function) of the untrusted code's frames: the first 3 and the last 12."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in loaded.sources:
            frames.append((code.co_filename, tb.tb_lineno or 0, code.co_name))
        tb = tb.tb_next
    if len(frames) > _MAX_FRAMES:
        frames = frames[:3] + frames[-(_MAX_FRAMES - 3):]
    return frames


def check_error(name: str, compiled: Compiled) -> dict[str, Any]:
    """The reply describing a compile failure of ``name``."""
    problems = [{"rule": p.rule, "message": p.message, "line": p.line} for p in compiled.problems]
    return {"kind": "check", "function": name, "problems": problems}
