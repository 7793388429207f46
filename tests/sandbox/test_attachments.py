"""Attachments: ``files=`` on Sandbox.call/run_code and the read-only ``open`` of snippets.

The files live in the worker's memory only (``sandbox/_files.py``); ``open``
never touches the filesystem. Adversarial rows prove every way out is refused
with the error type we expect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from fnforge.sandbox import (FunctionError, SandboxCheckError, SandboxError, SandboxPolicy, SandboxViolation, check)
from tests.sandbox.conftest import TEST_POLICY, RawSet, fn

EMPTY = RawSet()
FILES = {"a.txt": b"first line\nsecond line\n", "data.bin": bytes(range(256))}
CHECK, VIOLATION, FUNCTION = SandboxCheckError, SandboxViolation, FunctionError


@dataclass(frozen=True)
class Escape:
    id: str
    code: str
    error: type[SandboxError]
    detail: str  # the violation rule, or the exception type inside FunctionError, or a check message part


ESCAPES = [
    # --- paths instead of plain names ----------------------------------------------------------
    Escape("absolute-etc-passwd", "open('/etc/passwd').read()", VIOLATION, "file-read"),
    Escape("parent-dir", "open('../x').read()", VIOLATION, "file-read"),
    Escape("dotdot", "open('..')", VIOLATION, "file-read"),
    Escape("dot-dir", "open('.')", VIOLATION, "file-read"),
    Escape("through-provided-name", "open('a.txt/../../../etc/passwd')", VIOLATION, "file-read"),
    Escape("proc-self-cwd", "open('/proc/self/cwd/stderr.log')", VIOLATION, "file-read"),
    Escape("proc-self-fd", "open('/proc/self/fd/0')", VIOLATION, "file-read"),
    Escape("backslash", "open('..\\\\a.txt')", VIOLATION, "file-read"),
    Escape("file-descriptor", "open(0).read()", VIOLATION, "file-read"),
    Escape("bytes-path", "open(b'a.txt')", VIOLATION, "file-read"),
    Escape("caught-refusal-still-fails", "try:\n    open('/etc/passwd')\nexcept Exception:\n    pass\n1",
           VIOLATION, "file-read"),
    # --- writing ---------------------------------------------------------------------------------
    Escape("mode-w", "open('a.txt', 'w')", VIOLATION, "file-write"),
    Escape("mode-r-plus", "open('a.txt', 'r+')", VIOLATION, "file-write"),
    Escape("mode-append", "open('a.txt', 'a')", VIOLATION, "file-write"),
    Escape("mode-exclusive-new", "open('new.txt', 'x')", VIOLATION, "file-write"),
    Escape("mode-wb-keyword", "open('a.txt', mode='wb')", VIOLATION, "file-write"),
    Escape("mode-unknown", "open('a.txt', 'U')", FUNCTION, "ValueError"),
    Escape("opener-argument", "open('a.txt', opener=print)", FUNCTION, "TypeError"),
    # --- names that were not provided ------------------------------------------------------------
    Escape("name-not-provided", "open('b.txt')", FUNCTION, "FileNotFoundError"),
    Escape("real-cwd-file-not-served", "open('stderr.log')", FUNCTION, "FileNotFoundError"),
    Escape("hidden-name", "open('.bashrc')", FUNCTION, "FileNotFoundError"),
    # --- the wrapper -------------------------------------------------------------------------------
    Escape("wrapper-private-file", "open('a.txt')._file", CHECK, "_file"),
    Escape("wrapper-private-stream", "open('a.txt')._stream", CHECK, "_stream"),
    Escape("wrapper-bound-self", "open('a.txt').read.__self__", CHECK, "__self__"),
    Escape("wrapper-getattr-private", "getattr(open('a.txt'), '_str' + 'eam')", VIOLATION,
           "private-attribute"),
    Escape("wrapper-buffer", "open('a.txt').buffer", FUNCTION, "AttributeError"),
    Escape("wrapper-raw", "open('a.txt', 'rb').raw", FUNCTION, "AttributeError"),
    Escape("wrapper-fileno", "getattr(open('a.txt'), 'fileno')()", FUNCTION, "AttributeError"),
    Escape("wrapper-write", "open('a.txt').write('x')", FUNCTION, "AttributeError"),
    Escape("wrapper-rename", "f = open('a.txt')\nf.name = '/etc/passwd'", VIOLATION, "write"),
    # type() of a file is the runtime's own class: the value screen refuses it (it was a TypeError before)
    Escape("wrapper-build-from-class", "type(open('a.txt'))(None, 'x', 'r', None)", VIOLATION, "unsafe-value"),
    Escape("wrapper-subclass", "class F(type(open('a.txt'))):\n    pass", VIOLATION, "unsafe-value"),
    Escape("wrapper-unbound-method", "type(open('a.txt')).read([1, 2])", VIOLATION, "unsafe-value"),
    Escape("binary-with-encoding", "open('a.txt', 'rb', encoding='utf-8')", FUNCTION, "ValueError"),
    Escape("encoding-not-text", "open('a.txt', encoding='zlib').read()", FUNCTION, "LookupError"),
]


@pytest.mark.parametrize("escape", ESCAPES, ids=[e.id for e in ESCAPES])
def test_open_rejects_escape_with_expected_error(sandbox, escape: Escape) -> None:
    with pytest.raises(escape.error) as caught:
        sandbox.run_code(EMPTY, escape.code, files=FILES)
    error = caught.value
    if isinstance(error, SandboxViolation):
        assert error.rule == escape.detail
    elif isinstance(error, FunctionError):
        assert error.exc_type == escape.detail
    else:
        assert escape.detail in str(error)


# ------------------------------------------------------------------------ reading works


def test_open_does_read_a_provided_text_file(sandbox) -> None:
    code = "with open('a.txt') as f:\n    text = f.read()\ntext"
    assert sandbox.run_code(EMPTY, code, files=FILES).value == "first line\nsecond line\n"


def test_open_does_read_a_provided_file_as_bytes(sandbox) -> None:
    code = "data = open('data.bin', 'rb').read()\n[len(data), data[0], data[255]]"
    assert sandbox.run_code(EMPTY, code, files=FILES).value == [256, 0, 255]


def test_open_does_iterate_lines_and_readline(sandbox) -> None:
    code = "f = open('./a.txt')\nfirst = f.readline()\n[first, [line for line in f], f.tell() > 0]"
    assert sandbox.run_code(EMPTY, code, files=FILES).value == ["first line\n", ["second line\n"], True]


def test_open_does_decode_with_the_given_encoding_and_errors(sandbox) -> None:
    files = {"latin.txt": "café".encode("latin-1")}
    code = "[open('latin.txt', encoding='latin-1').read(), open('latin.txt', errors='replace').read()]"
    assert sandbox.run_code(EMPTY, code, files=files).value == ["café", "caf\ufffd"]


def test_open_rejects_undecodable_text_with_unicode_error(sandbox) -> None:
    with pytest.raises(FunctionError) as caught:
        sandbox.run_code(EMPTY, "open('x.txt').read()", files={"x.txt": b"\xff\xfe\xfa"})
    assert caught.value.exc_type == "UnicodeDecodeError"


def test_open_does_list_the_provided_names_when_a_name_is_missing(sandbox) -> None:
    with pytest.raises(FunctionError) as caught:
        sandbox.run_code(EMPTY, "open('sales.csv')", files=FILES)
    assert "a.txt, data.bin" in caught.value.message


def test_function_does_read_a_handle_passed_from_the_snippet(sandbox) -> None:
    functions = RawSet(first_line=fn("return handle.readline().strip()", params="handle", name="first_line"))
    assert sandbox.run_code(functions, "first_line(open('a.txt'))", files=FILES).value == "first line"


def test_call_does_accept_files_for_a_learned_function(sandbox) -> None:
    assert sandbox.call(RawSet(f=fn("return 7")), "f", {}, files=FILES).value == 7


# ------------------------------------------------------------------------ files do not outlive their call


def test_open_rejects_a_file_provided_to_a_previous_call(sandbox) -> None:
    sandbox.run_code(EMPTY, "open('secret.txt').read()", files={"secret.txt": b"s3cret"})
    for _ in range(3):  # whichever worker serves the call
        with pytest.raises(FunctionError) as caught:
            sandbox.run_code(EMPTY, "open('secret.txt').read()")
        assert caught.value.exc_type == "FileNotFoundError"


def test_stashed_handle_is_closed_after_its_call(sandbox) -> None:
    body = "if handle is not None:\n    STASH.append(handle)\n    return len(STASH)\nreturn STASH[-1].read()"
    stash = RawSet(keep=fn(body, params="handle=None", name="keep", header="STASH = []"))
    assert sandbox.run_code(stash, "keep(open('a.txt'))", files=FILES).value == 1
    with pytest.raises(FunctionError) as caught:
        sandbox.run_code(stash, "keep()")  # the same worker: it already holds this set
    assert caught.value.exc_type == "ValueError" and "closed file" in caught.value.message


def test_open_does_not_follow_a_symlink_planted_in_the_worker_directory(sandbox) -> None:
    sandbox.run_code(EMPTY, "1")  # the workers are started
    planted = []
    for worker in list(sandbox._all):
        link = os.path.join(worker.directory, "passwd")
        try:
            os.symlink("/etc/passwd", link)
        except OSError:
            continue
        planted.append(link)
    try:
        with pytest.raises(FunctionError) as caught:
            sandbox.run_code(EMPTY, "open('passwd').read()", files=FILES)
        assert planted and caught.value.exc_type == "FileNotFoundError"
    finally:
        for link in planted:
            os.unlink(link)


# ------------------------------------------------------------------------ the parent's checks


@pytest.mark.parametrize("name", ["../x", "a/b", "/etc/passwd", ".hidden", "", "a\0b", "a\\b", "x" * 256])
def test_run_code_rejects_a_file_name_that_is_not_plain(sandbox, name: str) -> None:
    with pytest.raises(ValueError, match="bad attachment"):
        sandbox.run_code(EMPTY, "1", files={name: b"x"})


def test_call_rejects_a_file_value_that_is_not_bytes(sandbox) -> None:
    with pytest.raises(ValueError, match="must be bytes"):
        sandbox.call(RawSet(f=fn("return 1")), "f", files={"a.txt": "text"})  # type: ignore[dict-item]


def test_run_code_rejects_files_that_are_not_a_mapping(sandbox) -> None:
    with pytest.raises(ValueError, match="mapping"):
        sandbox.run_code(EMPTY, "1", files=[("a.txt", b"x")])  # type: ignore[arg-type]


def test_run_code_rejects_files_larger_than_the_policy_allows(sandbox) -> None:
    limit = TEST_POLICY.max_attachment_bytes
    with pytest.raises(ValueError, match="max_attachment_bytes"):
        sandbox.run_code(EMPTY, "1", files={"a.bin": bytes(limit // 2 + 1), "b.bin": bytes(limit // 2)})


def test_policy_rejects_max_attachment_bytes_above_32_mib() -> None:
    with pytest.raises(ValueError, match="max_attachment_bytes"):
        SandboxPolicy(max_attachment_bytes=33 * 1024 * 1024)


def test_check_rejects_open_in_a_learned_function() -> None:
    (problem,) = check(fn("return open(name).read()", params="name"), "f")
    assert problem.rule == "name" and "'open'" in problem.message


def test_call_rejects_open_in_a_learned_function_even_with_files(sandbox) -> None:
    with pytest.raises(SandboxCheckError):
        sandbox.call(RawSet(f=fn("return open('a.txt').read()")), "f", files=FILES)
