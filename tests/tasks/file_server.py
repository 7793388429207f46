"""A static file server on 127.0.0.1 standing in for GitHub in the data-pull tests.

It serves a folder the way ``https://github.com/`` serves the upstream paths
(``<owner>/<repo>/raw/<commit>/<path>``, ``<owner>/<repo>/archive/<commit>.tar.gz``)
and records every path asked for, so a test can see what a pull downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FileServer:
    """A started server: ``base_url`` to pass as ``--base-url``, ``paths`` requested so far."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths: list[str] = []
        handler = partial(_Handler, self.paths, directory=str(root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def put(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``path`` (relative to the base URL)."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, paths: list[str], *args: Any, **kwargs: Any) -> None:
        self._paths = paths
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._paths.append(self.path.lstrip("/"))
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass


@contextmanager
def serve(root: Path) -> Iterator[FileServer]:
    """Serve ``root`` on 127.0.0.1 for the duration of the ``with`` block."""
    server = FileServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
