"""What is learned: Function, FunctionSet, their canonical files, and static validation.

Also what every other package builds on: the root error ``FnforgeError``, the
bounded JSON loader, and the SQLite ``Store`` under both caches (agents'
LLM responses, optimizer's evaluation results).
"""

from __future__ import annotations

from fnforge.functions._codec import from_files, read_dir, to_files, write_dir
from fnforge.functions._derive import derive_function, function_stub
from fnforge.functions._errors import FnforgeError, FunctionSpecError, Problem
from fnforge.functions._json import JSONInputError, load_json
from fnforge.functions._files import write_atomic
from fnforge.functions._model import (Function, FunctionSet, FunctionSetDiff, FunctionSetError, canonical_json,
                                     json_digest)
from fnforge.functions._store import STORE_VERSION, Store
from fnforge.functions._validate import RESERVED_NAMES, validate_function
from fnforge.functions._words import plural

__all__ = [
    "FnforgeError",
    "Function",
    "FunctionSet",
    "FunctionSetDiff",
    "FunctionSetError",
    "FunctionSpecError",
    "JSONInputError",
    "Problem",
    "RESERVED_NAMES",
    "STORE_VERSION",
    "Store",
    "canonical_json",
    "derive_function",
    "from_files",
    "function_stub",
    "json_digest",
    "load_json",
    "plural",
    "read_dir",
    "to_files",
    "validate_function",
    "write_atomic",
    "write_dir",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "fnforge.functions"
