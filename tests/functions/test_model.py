"""Function and FunctionSet: validation, immutable edits, diff, tools, tree hash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.functions import Function, FunctionSet, FunctionSetError, FunctionSpecError, from_files, to_files


def make(name: str = "double", body: str = "return 2 * x", doc: str = "Twice x.") -> Function:
    return Function(
        name=name,
        description=doc,
        parameters={"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
        code=f"def {name}(x):\n    {body}\n",
    )


def test_function_normalises_code_to_one_trailing_newline() -> None:
    fn = Function(
        name="f",
        description="d",
        parameters={"type": "object", "properties": {}},
        code="def f():\r\n    return 1\n\n\n",
    )
    assert fn.code == "def f():\n    return 1\n"


def test_function_parameters_are_a_private_copy() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
    fn = Function(name="f", description="d", parameters=schema, code="def f(x):\n    return x\n")
    schema["properties"]["y"] = {"type": "number"}
    assert set(fn.parameters["properties"]) == {"x"}


def test_set_add_returns_new_set_and_leaves_original() -> None:
    empty = FunctionSet()
    one = empty.add(make())
    assert len(empty) == 0 and one.names == ("double",)


def test_set_add_rejects_existing_name() -> None:
    with pytest.raises(FunctionSetError, match="already exists; revise it instead"):
        FunctionSet().add(make()).add(make())


def test_set_revise_replaces_function_of_same_name() -> None:
    revised = FunctionSet().add(make()).revise(make(body="return x + x"))
    assert "x + x" in revised["double"].code


def test_set_revise_rejects_unknown_name() -> None:
    with pytest.raises(FunctionSetError, match="unknown function 'double'"):
        FunctionSet().revise(make())


def test_set_remove_is_by_function_name_and_really_removes() -> None:
    # The reference implementation computed removals from dict field names; ours is by name.
    fs = FunctionSet().add(make("a")).add(make("b"))
    after = fs.remove("a")
    assert after.names == ("b",)
    assert "a" not in after
    assert [t["function"]["name"] for t in after.to_openai_tools()] == ["b"]


def test_set_remove_rejects_unknown_name_listing_known_ones() -> None:
    with pytest.raises(FunctionSetError, match="functions in the set: a"):
        FunctionSet().add(make("a")).remove("name")


def test_set_getitem_unknown_raises_fnforge_error() -> None:
    with pytest.raises(FunctionSetError, match="unknown function 'zz'"):
        FunctionSet()["zz"]


def test_set_rejects_duplicate_names() -> None:
    with pytest.raises(FunctionSetError, match="repeated: a"):
        FunctionSet((make("a"), make("a")))


def test_set_iterates_sorted_by_name() -> None:
    fs = FunctionSet((make("c"), make("a"), make("b")))
    assert [f.name for f in fs] == ["a", "b", "c"]


def test_diff_reports_added_removed_revised() -> None:
    before = FunctionSet((make("a"), make("b")))
    after = before.remove("a").revise(make("b", body="return x")).add(make("c"))
    diff = before.diff(after)
    assert (diff.added, diff.removed, diff.revised) == (("c",), ("a",), ("b",))
    assert diff.describe() == "add c; revise b; remove a"


def test_diff_of_equal_sets_is_empty() -> None:
    fs = FunctionSet((make("a"),))
    assert not fs.diff(fs)
    assert fs.diff(fs).describe() == "no change"


def test_to_openai_tools_has_function_entries() -> None:
    (tool,) = FunctionSet((make(),)).to_openai_tools()
    assert tool == {
        "type": "function",
        "function": {
            "name": "double",
            "description": "Twice x.",
            "parameters": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
        },
    }


def test_empty_set_tree_hash_is_gits_empty_tree() -> None:
    assert FunctionSet().tree_hash == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def test_tree_hash_changes_when_one_function_changes() -> None:
    fs = FunctionSet((make("a"), make("b")))
    assert fs.tree_hash != fs.revise(make("b", body="return x")).tree_hash


def test_from_dict_rejects_missing_fields() -> None:
    with pytest.raises(FunctionSpecError, match="the field 'code' is missing"):
        Function.from_dict({"name": "f", "description": "d", "parameters": {"type": "object"}})


names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: n not in {"if", "in", "is", "or", "as", "and", "def", "for", "not", "del", "try", "run_python"}
)
bodies = st.integers(-1000, 1000).map(lambda n: f"return x + {n}")
docs = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip)


@st.composite
def function_sets(draw: st.DrawFn) -> FunctionSet:
    chosen = draw(st.lists(names, unique=True, max_size=6))
    return FunctionSet(tuple(make(n, draw(bodies), draw(docs)) for n in chosen))


@settings(max_examples=60, deadline=None)
@given(function_sets())
def test_codec_round_trip_is_identity_and_deterministic(fs: FunctionSet) -> None:
    files = to_files(fs)
    again = from_files(files)
    assert again == fs
    assert to_files(again) == files
    assert again.tree_hash == fs.tree_hash
