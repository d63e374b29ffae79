"""The review page on 127.0.0.1: a stdlib ThreadingHTTPServer in front of the same ReviewApi router."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from functions.core.labelling.review_api import ApiResponse, ReviewApi, request_from_http

HOST = "127.0.0.1"  # never another interface: the token is the only protection in local mode
MAX_BODY_BYTES = 1024 * 1024


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _handler_for(api: ReviewApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "skillforge-review"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(ApiResponse(413, {"Content-Type": "text/plain"}, b"request body too large"))
                return
            body = self.rfile.read(length) if length else b""
            request = request_from_http(self.command, self.path, dict(self.headers.items()), body)
            self._send(api.handle(request))

        def _send(self, response: ApiResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        # Every method goes through the router, which refuses cross-site writes and preflights.
        do_GET = _serve  # noqa: N815 - http.server's naming
        do_POST = _serve  # noqa: N815
        do_PUT = _serve  # noqa: N815
        do_PATCH = _serve  # noqa: N815
        do_DELETE = _serve  # noqa: N815
        do_OPTIONS = _serve  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the API logs decisions itself

    return Handler


def served_origins(port: int) -> list[str]:
    """The origins a browser sends for this server's own page (the printed URL, or localhost)."""
    return [f"http://{HOST}:{port}", f"http://localhost:{port}"]


def make_server(api: ReviewApi, port: int = 0) -> ThreadingHTTPServer:
    """Binds 127.0.0.1 and allows the page's own origin on `api` (writes from any other are refused)."""
    server = ThreadingHTTPServer((HOST, port), _handler_for(api))
    server.daemon_threads = True
    for origin in served_origins(server.server_address[1]):
        api.allow_origin(origin)
    return server


@contextmanager
def serving(api: ReviewApi, port: int = 0) -> Iterator[str]:
    """Serve in a background thread; yields the base URL."""
    server = make_server(api, port)
    thread = threading.Thread(target=server.serve_forever, name="review-server", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
