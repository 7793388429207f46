"""``fnforge data pull``: fetch a built-in dataset from upstream, verify it against its pins, lay it out.

A pull is idempotent and repairs: every file already in place that matches
its pins is kept; a missing or damaged one is fetched again (a file copied
from upstream) or rebuilt (MATH's two jsonl files, from the upstream archive).
Each new file is written beside its place, checked (size, sha256, rows) and
only then moved in, so a failed pull never leaves a wrong file behind. A lock
file keeps two pulls into one folder apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from filelock import FileLock

from fnforge.tasks._catalog import DEFAULT_DATA_URL, DataFile, Dataset, dataset
from fnforge.tasks._data import check_file
from fnforge.tasks._exceptions import DataPullError
from fnforge.tasks._math_archive import math_files_from_archive

__all__ = ["DownloadProgress", "PullResult", "PulledFile", "pull_data"]

DownloadProgress = Callable[[str, int, int | None], None]
"""``progress(label, bytes_done, bytes_total_or_None)``, called as a download goes on."""

_CHUNK = 1 << 16
_USER_AGENT = "fnforge-data-pull"


@dataclass(frozen=True, slots=True, kw_only=True)
class PulledFile:
    """What a pull did with one file: ``kept`` (it matched), ``fetched`` (it was missing) or ``replaced`` (damaged).

    ``problem`` says what was wrong with a replaced file; ``rows`` is its record count (None for a licence).
    """

    name: str
    outcome: Literal["kept", "fetched", "replaced"]
    rows: int | None
    problem: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PullResult:
    """The outcome of :func:`pull_data`: the dataset's folder, each file, and the bytes downloaded."""

    dataset: str
    folder: Path
    files: tuple[PulledFile, ...]
    downloaded: int


def pull_data(name: str | Dataset, dest: Path, *, base_url: str = DEFAULT_DATA_URL,
              progress: DownloadProgress | None = None, timeout_s: float = 60.0) -> PullResult:
    """Fetch a built-in dataset into ``dest/<name>/``, verified against its pins.

    Args:
        name: ``gsm8k``, ``math`` or ``tabmwp`` (or a :class:`Dataset` describing another one).
        dest: the data folder; the dataset lands in ``dest/<name>/``, laid out as the loaders read it.
        base_url: where the upstream paths are fetched from (``https://github.com/``,
            or a mirror serving the same paths; ``file://`` URLs work too).
        progress: called with each download's progress.
        timeout_s: socket timeout of each request.

    Returns:
        What was kept, fetched or replaced.

    Raises:
        DataPullError: a download failed, or what it gave does not match the pins.
        TaskDataError: the MATH archive cannot be read.
        ValueError: ``name`` is not a built-in dataset.

    Example (async or needs a provider, so shown, not run)::

        pull_data("gsm8k", Path.home() / ".cache" / "fnforge" / "data")
        # -> PullResult(dataset='gsm8k', ...)
    """
    entry = dataset(name) if isinstance(name, str) else name
    folder = dest / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    fetch = _Fetcher(base_url, progress, timeout_s)
    with FileLock(str(folder / ".pull.lock")):
        present = {f.name: (folder / f.name).exists() for f in entry.files}
        problems = {f.name: check_file(folder / f.name, f) for f in entry.files}
        todo = [f for f in entry.files if problems[f.name] is not None]
        built = _build_from_archive(entry, [f for f in todo if f.source is None], folder, fetch)
        for pin in todo:
            data = built[pin.name] if pin.source is None else fetch.read(pin.source, pin.name)
            _install(folder, pin, data)
    files = tuple(
        PulledFile(name=f.name, rows=f.rows, problem=problems[f.name] if present[f.name] else None,
                   outcome="kept" if problems[f.name] is None else "replaced" if present[f.name] else "fetched")
        for f in entry.files
    )
    return PullResult(dataset=entry.name, folder=folder, files=files, downloaded=fetch.downloaded)


def _build_from_archive(entry: Dataset, pins: list[DataFile], folder: Path, fetch: _Fetcher) -> dict[str, bytes]:
    """The files built from the dataset's archive (downloaded once, to a temporary file, if any is needed)."""
    if not pins:
        return {}
    if entry.archive is None or entry.archive_folder is None:
        raise ValueError(f"dataset {entry.name}: files {[p.name for p in pins]} have no source and no archive")
    with _temporary(folder, ".archive") as (handle, path):
        fetch.to_file(entry.archive, f"{entry.name} archive", handle)
        handle.close()
        return math_files_from_archive(path, entry.archive_folder)


def _install(folder: Path, pin: DataFile, data: bytes) -> None:
    """Check ``data`` against ``pin`` and move it into ``folder/pin.name`` (atomically)."""
    problem = _mismatch(pin, data)
    if problem is not None:
        raise DataPullError(f"{folder / pin.name}: {problem}; upstream changed or the download was corrupted "
                            "(the file was left as it was)")
    with _temporary(folder, f".{pin.name}") as (handle, path):
        handle.write(data)
        handle.close()
        os.replace(path, folder / pin.name)


def _mismatch(pin: DataFile, data: bytes) -> str | None:
    if len(data) != pin.size:
        return f"got {len(data)} bytes, expected {pin.size}"
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin.sha256:
        return f"sha256 {digest[:12]}..., expected {pin.sha256[:12]}..."
    rows = _rows(pin.name, data)
    if rows != pin.rows:
        return f"{rows} rows, expected {pin.rows}"
    return None


def _rows(name: str, data: bytes) -> int | None:
    """Records in a data file: non-blank lines of a ``.jsonl``, top-level entries of a ``.json``."""
    if name.endswith(".jsonl"):
        return sum(1 for line in data.splitlines() if line.strip())
    if name.endswith(".json"):
        parsed = json.loads(data)
        return len(parsed) if isinstance(parsed, dict | list) else None
    return None


@contextlib.contextmanager
def _temporary(folder: Path, prefix: str) -> Iterator[tuple[IO[bytes], Path]]:
    """A new file in ``folder`` (so a rename into place is atomic), removed unless it was moved away.

    Opened with ``x`` rather than ``mkstemp`` so that it gets the umask's mode, as the files beside it do.
    """
    path = folder / f"{prefix}.{secrets.token_hex(6)}.part"
    try:
        with path.open("xb") as handle:
            yield handle, path
    finally:
        path.unlink(missing_ok=True)


class _Fetcher:
    """Downloads paths below one base URL, reporting progress and counting bytes."""

    def __init__(self, base_url: str, progress: DownloadProgress | None, timeout_s: float) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._progress = progress
        self._timeout_s = timeout_s
        self.downloaded = 0

    def read(self, path: str, label: str) -> bytes:
        buffer = io.BytesIO()
        self.to_file(path, label, buffer)
        return buffer.getvalue()

    def to_file(self, path: str, label: str, handle: IO[bytes]) -> None:
        url = self._base + path
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    done += len(chunk)
                    if self._progress is not None:
                        self._progress(label, done, total)
        except urllib.error.HTTPError as exc:
            raise DataPullError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise DataPullError(f"cannot download {url}: {exc.reason}") from exc
        except OSError as exc:  # timeouts and resets mid-transfer
            raise DataPullError(f"cannot download {url}: {exc}") from exc
        self.downloaded += done
