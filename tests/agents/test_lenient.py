"""The lenient readers: what models write where JSON or Python is expected.

The property tests state the safety rule: strict JSON always means what JSON
says; other text is accepted only when every standard reading of it (JSON,
Python literal) that succeeds agrees; nothing cut short is ever completed.
"""

from __future__ import annotations

import ast
import json
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.agents import read_code, read_json_object
from fnforge.agents._lenient import read_call

SCALARS = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                      max_leaves=12)
OBJECTS = st.dictionaries(st.text(max_size=6), VALUES, max_size=5)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@settings(max_examples=150, deadline=None)
@given(OBJECTS, st.sampled_from([None, 2]), st.booleans())
def test_read_json_object_does_read_strict_json_as_itself(obj: dict[str, Any], indent: int | None, ascii_: bool) -> None:
    text = json.dumps(obj, indent=indent, ensure_ascii=ascii_)
    read = read_json_object(text)
    assert read.value is not None and canonical(read.value) == canonical(obj) and read.repairs == ()


@settings(max_examples=100, deadline=None)
@given(OBJECTS)
def test_read_json_object_does_undo_double_encoding_and_fences(obj: dict[str, Any]) -> None:
    text = json.dumps(obj)
    for wrapped in (json.dumps(text), json.dumps(json.dumps(text)), f"```json\n{text}\n```",
                    f"The arguments:\n```\n{text}\n```\nDone."):
        read = read_json_object(wrapped)
        assert read.value is not None and canonical(read.value) == canonical(obj), wrapped


@settings(max_examples=150, deadline=None)
@given(OBJECTS)
def test_read_json_object_does_read_python_dict_literals(obj: dict[str, Any]) -> None:
    read = read_json_object(repr(obj))
    assert read.value is not None and canonical(read.value) == canonical(obj)


@settings(max_examples=100, deadline=None)
@given(OBJECTS.filter(bool), st.data())
def test_read_json_object_refuses_text_cut_short(obj: dict[str, Any], data: st.DataObject) -> None:
    text = json.dumps(obj)
    cut = data.draw(st.integers(1, len(text) - 1))
    read = read_json_object(text[:cut])
    assert read.value is None and read.error


# A renderer mixing JSON and Python habits: quote styles, escapes that mean different things
# in the two languages (\/ is "/" in JSON, "\/" in Python), True/true, trailing commas.
KEYS = st.text(alphabet=st.sampled_from("ab//'\"\\é\n"), max_size=4)
STRINGS = st.text(alphabet=st.sampled_from("xy///'\"\\é\n\t"), max_size=5)


@st.composite
def mixed_text(draw: st.DrawFn, depth: int = 0, kind: str | None = None) -> str:
    kinds = ["str", "num", "const", "list", "obj"] if depth < 2 else ["str", "num", "const"]
    kind = kind or draw(st.sampled_from(kinds))
    if kind == "str":
        return render_string(draw, draw(STRINGS))
    if kind == "num":
        return draw(st.sampled_from(["0", "-3", "2.5", "1e3", "1_000", "0x10", "007"]))
    if kind == "const":
        return draw(st.sampled_from(["true", "True", "false", "False", "null", "None", "NaN"]))
    items = draw(st.lists(mixed_text(depth + 1), min_size=1 if depth == 0 else 0, max_size=3))
    if kind == "obj":
        keys = [render_string(draw, draw(KEYS)) for _ in items]
        items = [f"{k}: {v}" for k, v in zip(keys, items)]
    comma = "," if items and draw(st.booleans()) else ""
    body = ", ".join(items) + comma
    return f"[{body}]" if kind == "list" else "{" + body + "}"


MIXED_OBJECTS = mixed_text(kind="obj")


def render_string(draw: st.DrawFn, text: str) -> str:
    quote = draw(st.sampled_from(["'", '"']))
    out = []
    for char in text:
        if char in (quote, "\\"):
            out.append("\\" + char)
        elif char == "/" and draw(st.booleans()):
            out.append("\\/")
        elif char == "\n":
            out.append(draw(st.sampled_from(["\\n", "\n"])))
        elif char == "é" and draw(st.booleans()):
            out.append("\\u00e9")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def python_reading(text: str) -> Any:
    with warnings.catch_warnings():  # "\/" is an invalid escape: a warning, not an error, in Python 3.11
        warnings.simplefilter("ignore")
        value = ast.literal_eval(text)
    return json.loads(json.dumps(value, allow_nan=False))  # tuples become lists; non-JSON values raise


@settings(max_examples=250, deadline=None)
@given(MIXED_OBJECTS)
def test_read_json_object_never_contradicts_json_or_python(text: str) -> None:
    """Strict JSON is the protocol: when it reads the text, that is the meaning. Otherwise the
    text is accepted only if every standard reading that succeeds (here: Python) agrees."""
    read = read_json_object(text)
    try:
        strict = json.loads(text)
    except ValueError:
        strict = None
    try:
        python = python_reading(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        python = None
    if read.value is None:
        return
    if strict is not None:
        assert canonical(read.value) == canonical(strict)
    elif python is not None:
        assert canonical(read.value) == canonical(python)


@st.composite
def python_flavoured_json(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """JSON text with Python's True/None and maybe a trailing comma (so: not strict JSON), whose
    strings sometimes escape "/" as "\\/" and non-ASCII as "\\uXXXX" surrogate pairs: escapes
    JSON and Python read differently. Returns the text and its meaning as JSON."""
    obj = draw(st.dictionaries(st.text(alphabet="ab/é😀", max_size=3), st.none() | st.booleans()
                               | st.integers(-99, 99) | st.text(alphabet="x/é😀\n\"", max_size=4), max_size=3))
    obj.pop("flag", None)
    ascii_ = draw(st.booleans())

    def quoted(text: str) -> str:
        return "".join("\\/" if c == "/" and draw(st.booleans()) else c for c in json.dumps(text, ensure_ascii=ascii_))

    def value(v: Any) -> str:
        return {None: "None", True: "True", False: "False"}.get(v, "") if v is None or isinstance(v, bool) else (
            quoted(v) if isinstance(v, str) else str(v))

    items = [f"{quoted(k)}: {value(v)}" for k, v in obj.items()] + ['"flag": True']
    return "{" + ", ".join(items) + draw(st.sampled_from(["", ","])) + "}", {**obj, "flag": True}


@settings(max_examples=250, deadline=None)
@given(python_flavoured_json())
def test_read_json_object_refuses_non_json_that_reads_two_ways(case: tuple[str, dict[str, Any]]) -> None:
    """Text that is not strict JSON is accepted only when its JSON reading and its Python reading
    agree; when an escape makes them differ it is refused, never guessed."""
    text, json_meaning = case
    read = read_json_object(text)
    if canonical(python_reading(text)) != canonical(json_meaning):
        assert read.value is None and read.error is not None and "read two ways" in read.error
    else:
        assert read.value is not None and canonical(read.value) == canonical(json_meaning)


@pytest.mark.parametrize(("text", "expected", "repair"), [
    ("{'a': 1, 'b': True, 'c': None}", {"a": 1, "b": True, "c": None}, "Python literal"),
    ('{"a": 1, "b": [2, 3,],}', {"a": 1, "b": [2, 3]}, "trailing comma"),
    ('{"a": True, "b": None}', {"a": True, "b": None}, "Python constant"),
    ('{"code": "print(1)\nprint(2)"}', {"code": "print(1)\nprint(2)"}, "control character in a string"),
    ('"{\\"a\\": 1}"', {"a": 1}, "double encoding"),
    ('```json\n{"a": 1}\n```', {"a": 1}, "Markdown fence"),
])
def test_read_json_object_does_name_what_it_repaired(text: str, expected: dict[str, Any], repair: str) -> None:
    read = read_json_object(text)
    assert read.value == expected and repair in read.repairs


@pytest.mark.parametrize(("text", "reason"), [
    ('{"a": "x\\/y", "b": True}', "read two ways"),
    ('{"a": 1, "a": 2}', "appears twice"),
    ('{"a": [1, 2', "ends before it is complete (2 brackets still open)"),
    ('{"a": "unterminated', "ends before it is complete (a string still open)"),
    ("{'a': {1, 2}}", "a set is not a JSON value"),
    ("{1: 'a'}", "keys must be quoted strings"),
    ('{"a": Infinity}', "Infinity is not a JSON value"),
    ("```json\n{}\n```\n```json\n{}\n```", "2 Markdown code blocks"),
    ("[1, 2]", "not an array"),
    ("Sure! Here you go.", "not valid JSON"),
])
def test_read_json_object_rejects_with_reason(text: str, reason: str) -> None:
    read = read_json_object(text)
    assert read.value is None and read.error is not None and reason in read.error


@pytest.mark.parametrize(("text", "expected"), [
    ("```python\nprint(1)\n```", "print(1)\n"),
    ("```\nprint(1)\n```", "print(1)\n"),
    ("~~~py\nprint(1)\n~~~", "print(1)\n"),
    ("Here it is:\n```python\nprint(1)\n```\nIt prints 1.", "print(1)\n"),
    ("```python\nprint(1)\n", "print(1)\n"),  # the closing fence was cut off
])
def test_read_code_does_unwrap_one_python_fence(text: str, expected: str) -> None:
    read = read_code(text)
    assert (read.code, read.error, read.unfenced) == (expected, None, True)


@pytest.mark.parametrize(("text", "reason"), [
    ("```python\na = 1\n```\n```python\nb = 2\n```", "2 Markdown code blocks"),
    ("```bash\nls\n```", "block of 'bash', not Python"),
])
def test_read_code_rejects_ambiguous_fences_with_reason(text: str, reason: str) -> None:
    read = read_code(text)
    assert read.error is not None and reason in read.error


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="`~pythonx=1\n #'\"", max_size=40))
def test_read_code_never_changes_valid_python(body: str) -> None:
    code = f'doc = """\n{body.replace(chr(34), "")}\n"""\n'
    try:
        ast.parse(code)
    except SyntaxError:
        return
    assert read_code(code).code == code


@pytest.mark.parametrize(("text", "expected"), [
    ("f(n=5)", {"n": 5}),
    ("f(5, 'x')", {"n": 5, "s": "x"}),
    ('f({"n": 5})', {"n": 5}),
    ("f(n=True, s=None)", {"n": True, "s": None}),
])
def test_read_call_does_read_call_syntax(text: str, expected: dict[str, Any]) -> None:
    read = read_call(text, "f", ["n", "s"])
    assert read is not None and read.value == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("f(1, 2, 3)", "takes 2 parameter(s)"),
    ("f(n=x)", "literal values"),
    ("f(1, n=2)", "twice"),
])
def test_read_call_rejects_unreadable_calls(text: str, reason: str) -> None:
    read = read_call(text, "f", ["n", "s"])
    assert read is not None and read.value is None and reason in (read.error or "")


def test_read_call_does_ignore_text_that_is_no_call_of_the_tool() -> None:
    assert read_call("g(n=5)", "f", ["n"]) is None and read_call('{"n": 5}', "f", ["n"]) is None
