"""The guarded runtime: load a function set, call a function, run a snippet.

Used inside worker processes (``worker/_worker.py`` adds the OS layers,
timers and the protocol around it) and in-process by ``bench/sandbox.py`` to
measure the guard overhead. It never decides limits; it only turns sources
into guarded code and outcomes into JSON-safe replies.

- Each function's module code runs in its own globals (hooks, curated
  builtins, proxies), then every other function of the set is bound there by
  name, so functions can call each other and snippets can call them all.
  What they are bound to is a small counting wrapper (compiled with the
  sandbox's builtins, so the guards treat it as sandboxed code): every call
  that returns records the function's name, and the reply lists the set's
  functions a call used (``CallResult.called``).
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
from typing import Any  # Any: objects of learned code, checked at run time rather than typed

from fnforge.sandbox._policy import SandboxPolicy
from fnforge.sandbox.boundary._encoder import Encoder, clean_text
from fnforge.sandbox.gate._check import SNIPPET, Compiled, compile_function, compile_snippet
from fnforge.sandbox.runtime._files import Attachments, make_open
from fnforge.sandbox.runtime._hooks import make_namespace
from fnforge.sandbox.runtime._libraries import load_libraries
from fnforge.sandbox.runtime._monitor import Monitor, OutputBuffer, PolicyViolation
from fnforge.sandbox.runtime._outcomes import FrameReader, describe, no_audit
from fnforge.sandbox.runtime._proxies import build_proxies, make_importer

__all__ = ["LoadedSet", "Runtime", "check_error"]

_COUNTER = compile(
    "def counted(*args, **kwargs):\n    result = target(*args, **kwargs)\n    record(name)\n    return result\n",
    "<fnforge>", "exec")


@dataclass
class LoadedSet:
    """A function set defined in this process: callables plus the failures to report."""

    functions: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    counted: dict[str, Any] = field(default_factory=dict)  # name -> its counting wrapper


class Runtime:
    """Guarded execution of untrusted functions in the current process."""

    def __init__(self, policy: SandboxPolicy, *, max_sets: int = 32) -> None:
        self.policy = policy
        self.monitor = Monitor()
        self.output = OutputBuffer(policy.max_output_chars)
        self.encoder = Encoder(max_chars=policy.max_result_chars, max_depth=policy.max_result_depth)
        self.called: set[str] = set()  # the set's functions that returned in the current call
        self.read_frames: FrameReader = no_audit  # the worker sets its audit hook's permission
        loaded = load_libraries(policy, self.monitor)
        self.encoder.bind(numpy=loaded.numpy, sympy_basic=loaded.sympy_basic)
        proxies = build_proxies(policy.allowed_modules, self.monitor, loaded.overrides)
        importer = make_importer(proxies, self.monitor)
        self.files = Attachments()  # the current call's files, read by the curated ``open``
        self.template = make_namespace(self.monitor, self.output, importer, loaded.libraries,
                                       internal=(Runtime, Attachments, Encoder, LoadedSet))
        self.template["__builtins__"]["open"] = file_opener = make_open(self.files, self.monitor)
        self.monitor.exposed.add(file_opener)
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
            loaded.counted[name] = self._counter(name, function)
        for name, function in loaded.functions.items():
            namespace = function.__globals__
            for other, wrapper in loaded.counted.items():
                if other != name:
                    namespace.setdefault(other, wrapper)
        self._sets[set_id] = loaded
        while len(self._sets) > self._max_sets:
            self._sets.popitem(last=False)
        return loaded

    def _counter(self, name: str, function: Any) -> Any:
        """``function`` wrapped so that each call that returns adds ``name`` to ``self.called``."""
        namespace = {"__builtins__": self.template["__builtins__"], "__name__": "sandboxed",
                     "target": function, "record": self.called.add, "name": name}
        exec(_COUNTER, namespace)  # noqa: S102 - our own fixed wrapper
        wrapper = namespace["counted"]
        wrapper.__name__ = wrapper.__qualname__ = name
        wrapper.__doc__ = function.__doc__
        return wrapper

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
        return loaded.counted[name](**kwargs)

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
        namespace.update(loaded.counted)
        exec(compiled.body, namespace)  # noqa: S102 - restricted code in guarded globals
        if compiled.last is None:
            return None
        return eval(compiled.last, namespace)  # noqa: S307 - restricted code in guarded globals

    def failure(self, loaded: LoadedSet, name: str) -> dict[str, Any] | None:
        """The recorded load failure of ``name`` (check problems, define error), if any."""
        return loaded.failures.get(name)

    # --- outcomes ----------------------------------------------------------

    def success(self, value: Any) -> dict[str, Any]:
        """The reply for a value: JSON-safe, capped, with captured stdout and the set's functions used."""
        data, truncated = self.encoder.encode(value)
        return {"ok": True, "value": data, "truncated": truncated or self.output.truncated,
                "stdout": clean_text(self.output.text()), "called": sorted(self.called)}

    def describe(self, exc: BaseException, loaded: LoadedSet) -> dict[str, Any]:
        """Classify an exception raised by untrusted code (``_outcomes.py``)."""
        return describe(exc, loaded.sources, self.monitor, self.read_frames)


def check_error(name: str, compiled: Compiled) -> dict[str, Any]:
    """The reply describing a compile failure of ``name``."""
    problems = [{"rule": p.rule, "message": p.message, "line": p.line} for p in compiled.problems]
    return {"kind": "check", "function": name, "problems": problems}
