"""Codec round trip and tree-hash determinism, checked against git itself."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fnforge import registry
from fnforge.functions import Function, FunctionSet, read_dir, write_dir

NAMES = ("solve", "parse", "area", "count_primes", "f")
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@st.composite
def functions(draw: st.DrawFn, name: str) -> Function:
    constant = draw(st.integers(-10**6, 10**6))
    doc = draw(st.sampled_from(["", '    """Docstring."""\n']))
    packages = draw(st.lists(st.sampled_from(["math", "re", "fractions"]), unique=True, max_size=2))
    imports = "".join(f"import {p}\n" for p in packages)
    optional = draw(st.booleans())
    parameters: dict[str, Any] = {
        "type": "object", "properties": {"x": {"type": "integer", "description": draw(_TEXT)}}, "required": ["x"]
    }
    signature = "x"
    if optional:
        parameters["properties"]["y"] = {"type": "array", "items": {"type": "string"}}
        signature = "x, y=None"
    code = f"{imports}\ndef {name}({signature}):\n{doc}    return x + {constant}\n"
    return Function(name=name, description=draw(_TEXT), parameters=parameters, packages=tuple(packages), code=code)


@st.composite
def function_sets(draw: st.DrawFn) -> FunctionSet:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    return FunctionSet(tuple(draw(functions(name)) for name in names))


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[registry.Repository]:
    with registry.init(tmp_path_factory.mktemp("codec") / "t", files={"fnforge.toml": b""}) as repo:
        yield repo


@settings(max_examples=40, deadline=None)
@given(function_sets())
def test_codec_directory_round_trip_is_identity(function_set: FunctionSet) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_dir(function_set, Path(tmp) / "functions")
        assert read_dir(Path(tmp) / "functions") == function_set


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(function_sets())
def test_tree_hash_is_deterministic_and_equals_git(shared_repo: registry.Repository, function_set: FunctionSet) -> None:
    first = shared_repo.commit(function_set, subject="round trip", branch="main")
    again = shared_repo.commit(FunctionSet(tuple(reversed(function_set.functions))), subject="again", branch="main")
    result = subprocess.run(["git", "-C", str(shared_repo.path), "rev-parse", f"{first.sha}:functions"],
                            capture_output=True, text=True)
    from_git = result.stdout.strip() if result.returncode == 0 else registry.EMPTY_TREE
    assert function_set.tree_hash == first.tree_hash == again.tree_hash == from_git
    assert shared_repo.read(first.sha) == function_set
