"""Attachments: files a call may read by plain name, and the read-only ``open`` that serves them.

A call's files (``Sandbox.call(..., files={name: bytes})``) cross the pipe
base64-encoded and live **in the worker's memory only**: the worker never
writes them to disk. After lockdown it could not anyway (seccomp refuses
``open`` for writing, ``RLIMIT_FSIZE`` is 0, Landlock grants no write right,
``unlink`` is denied), and loosening any of those for the worker's own step
would loosen it for the untrusted code that shares the process. So the
"working directory" sandboxed code sees is virtual: the curated ``open``
looks a name up in this call's mapping and never touches the filesystem, so
the audit hook and Landlock need no new rule and still deny every real path.

Decisions:

- names are plain: no ``/`` or ``\\``, no NUL, no leading ``.``, at most 255
  characters; the total size of one call's files is capped by
  ``SandboxPolicy.max_attachment_bytes`` (checked by the parent and again by
  the worker).
- ``open(name, mode="r", buffering=-1, encoding=None, errors=None, newline=None)``:
  modes ``r``/``rt``/``rb`` only. A path (absolute, ``..``, any ``/``) or a
  non-string file (a descriptor) is a ``file-read`` violation, a writing
  mode a ``file-write`` violation; a plain name not provided raises
  ``FileNotFoundError`` listing the provided names. A leading ``./`` is
  accepted (it names the same file).
- ``open`` returns a :class:`SandboxFile` over an in-memory stream: read,
  readline, readlines, iteration, seek/tell, context manager. No ``fileno``,
  ``buffer``, ``raw`` or any attribute reaching the stream (it lives in a
  ``_`` slot the guards refuse); the class cannot be subclassed or built
  from sandboxed code.
- after each call the mapping is emptied and every file opened in the call
  is closed, so a handle stashed in a function's globals reads nothing later.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Mapping
from typing import Any  # Any: bytes or text, by the mode a file was opened in

from fnforge.sandbox.runtime._monitor import Monitor

__all__ = ["Attachments", "SandboxFile", "decode_files", "encode_files", "make_open", "name_problem"]

_MAX_NAME_CHARS = 255
_TEXT_MODES = frozenset({"r", "rt", "tr"})
_BINARY_MODES = frozenset({"rb", "br"})
_TOKEN = object()  # only this module can build a SandboxFile


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a plain attachment name, or None when it is."""
    if type(name) is not str:
        return "a file name must be a string"
    if not name or len(name) > _MAX_NAME_CHARS:
        return f"a file name must have 1 to {_MAX_NAME_CHARS} characters"
    if "/" in name or "\\" in name or "\0" in name:
        return f"file name {name!r} must be a plain name (no '/', '\\\\' or NUL)"
    if name.startswith("."):
        return f"file name {name!r} must not start with '.'"
    return None


def _checked(files: Mapping[str, bytes], limit: int) -> dict[str, bytes]:
    total = 0
    checked: dict[str, bytes] = {}
    for name, data in files.items():
        problem = name_problem(name)
        if problem is not None:
            raise ValueError(f"bad attachment: {problem}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"attachment {name!r} must be bytes, not {type(data).__name__}")
        checked[name] = bytes(data)
        total += len(checked[name])
        if total > limit:
            raise ValueError(f"attachments are larger than the sandbox policy's max_attachment_bytes "
                             f"({limit} bytes); {name!r} passes the limit")
    return checked


def encode_files(files: Mapping[str, bytes] | None, limit: int) -> dict[str, str]:
    """The parent's side: check names and sizes, then base64-encode for the JSON protocol.

    Raises:
        ValueError: ``files`` is not a mapping, a name is not plain, a value is not
            bytes, or the files total more than ``limit`` bytes.
    """
    if files is None:
        return {}
    if not isinstance(files, Mapping):
        raise ValueError(f"files must be a mapping of file name to bytes, not {type(files).__name__}")
    return {name: base64.b64encode(data).decode("ascii") for name, data in _checked(files, limit).items()}


def decode_files(data: object, limit: int) -> dict[str, bytes]:
    """The worker's side: decode a request's ``files`` and check them again.

    Raises:
        ValueError: a malformed entry, a bad name or too many bytes.
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("files must be an object")
    decoded: dict[str, bytes] = {}
    for name, text in data.items():
        if type(text) is not str or len(text) > 2 * limit + 8:
            raise ValueError("each file must be a base64 string within the size limit")
        try:
            decoded[name] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"file {name!r} is not valid base64") from None
    return _checked(decoded, limit)


class SandboxFile:
    """A read-only, in-memory file as sandboxed code sees it (``open``'s return value)."""

    __slots__ = ("_stream", "name", "mode")

    def __init__(self, stream: io.BytesIO | io.TextIOWrapper, name: str, mode: str, token: object) -> None:
        if token is not _TOKEN:
            raise TypeError("files are opened with open(name)")
        self._stream = stream
        self.name = name
        self.mode = mode

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("SandboxFile cannot be subclassed")

    def __repr__(self) -> str:
        return f"<sandbox file {self.name!r} mode={self.mode!r}>"

    def read(self, size: int | None = -1) -> Any:  # Any: bytes or text, by the mode
        return _stream(self).read(size)

    def readline(self, size: int = -1) -> Any:  # Any: bytes or text, by the mode
        return _stream(self).readline(size)

    def readlines(self, hint: int = -1) -> list[Any]:  # Any: bytes or text, by the mode
        return _stream(self).readlines(hint)

    def seek(self, offset: int, whence: int = 0) -> int:
        return _stream(self).seek(offset, whence)

    def tell(self) -> int:
        return _stream(self).tell()

    def readable(self) -> bool:
        return not _stream(self).closed

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return _stream(self).closed

    def close(self) -> None:
        _stream(self).close()

    def __iter__(self) -> SandboxFile:
        _stream(self).readable()  # raises on a closed file, as a real one does
        return self

    def __next__(self) -> Any:
        line = _stream(self).readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self) -> SandboxFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_STREAM_SLOT: Any = SandboxFile.__dict__["_stream"]  # the slot descriptor: refuses anything but a SandboxFile


def _stream(file: SandboxFile) -> io.BytesIO | io.TextIOWrapper:
    stream: io.BytesIO | io.TextIOWrapper = _STREAM_SLOT.__get__(file, SandboxFile)
    return stream


class Attachments:
    """This call's files (name -> bytes) and the files opened from them."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.opened: list[SandboxFile] = []

    def load(self, files: dict[str, bytes]) -> None:
        self.clear()
        self.files = dict(files)

    def clear(self) -> None:
        """Forget the files and close every handle opened in the call."""
        self.files = {}
        opened, self.opened = self.opened, []
        for file in opened:
            _stream(file).close()

    def listing(self) -> str:
        names = ", ".join(sorted(self.files))
        return f"files in the working directory: {names}" if names else "the working directory has no files"


def make_open(attachments: Attachments, monitor: Monitor) -> Callable[..., SandboxFile]:
    """The ``open`` builtin of sandboxed code, serving ``attachments`` read-only."""

    def open(file: Any, mode: Any = "r", buffering: Any = -1, encoding: Any = None,  # noqa: A001
             errors: Any = None, newline: Any = None) -> SandboxFile:
        """Open a file of the working directory for reading: ``open(name)`` or ``open(name, "rb")``."""
        if type(file) is not str:
            monitor.refuse("file-read", "open() takes the plain name of a file in the working directory")
        if type(mode) is not str or (mode not in _TEXT_MODES and mode not in _BINARY_MODES):
            if type(mode) is str and any(c in mode for c in "wax+"):
                monitor.refuse("file-write", "files are read-only in the sandbox; use open(name) or open(name, 'rb')")
            raise ValueError(f"invalid mode: {mode!r}; use 'r' or 'rb'")
        name = file[2:] if file.startswith("./") else file
        if name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            monitor.refuse("file-read", f"open() reads only files of the working directory by plain name, "
                           f"not {file!r}; {attachments.listing()}")
        data = attachments.files.get(name)
        if data is None:
            raise FileNotFoundError(f"no file {name!r} in the working directory; {attachments.listing()}")
        if type(buffering) is not int:
            raise TypeError("buffering must be an integer")
        stream: io.BytesIO | io.TextIOWrapper
        if mode in _BINARY_MODES:
            if encoding is not None or errors is not None or newline is not None:
                raise ValueError("binary mode doesn't take an encoding, errors or newline argument")
            stream = io.BytesIO(data)
        else:
            for label, value in (("encoding", encoding), ("errors", errors), ("newline", newline)):
                if value is not None and type(value) is not str:
                    raise TypeError(f"{label} must be a string or None")
            stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding or "utf-8",
                                      errors=errors, newline=newline)
        handle = SandboxFile(stream, name, mode, _TOKEN)
        attachments.opened.append(handle)
        return handle

    return open
