"""A base URL that is some web server, not an OpenAI-compatible API, fails at once with that diagnosis (issue 14)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fnforge.agents import LLMClient, LLMConfig, LLMRejected

pytestmark = pytest.mark.anyio
USER: list[dict[str, Any]] = [{"role": "user", "content": "What is 2+2?"}]


class _Quiet(SimpleHTTPRequestHandler):
    """python -m http.server: POST gets 501 with an HTML page."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _HtmlPage(BaseHTTPRequestHandler):
    """A web app that answers every POST with 200 and an HTML page."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b"<!doctype html><html><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Counting(handler):  # type: ignore[valid-type, misc]
        def parse_request(self) -> bool:  # counted before the reply is sent: the client may read it at once
            parsed: bool = super().parse_request()
            if parsed:
                seen.append(self.command)
            return parsed

    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=[_Quiet, _HtmlPage], ids=["501", "html"])
def web_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    yield from _serve(request.param)


async def test_complete_rejects_a_web_server_at_the_first_reply(web_server: tuple[str, list[str]]) -> None:
    url, seen = web_server
    config = LLMConfig(model="m", base_url=url, api_key="k", backoff_s=0.005, backoff_max_s=0.02, timeout_s=5.0,
                       max_retries=4)
    async with LLMClient(config) as client:
        with pytest.raises(LLMRejected, match="is not an OpenAI-compatible endpoint") as info:
            await client.complete(USER)
    assert info.value.exit_code == 5 and "usually ends in /v1" in str(info.value)
    assert seen == ["POST"]
