"""Real servers on 127.0.0.1 for the check tests: a scripted HTTP app and a TLS endpoint."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    """What the app received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What a route answers: status, headers, a JSON or text body, after a delay."""

    status: int = 200
    body: Any = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Reply | Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    # The default backlog (5) drops connections under load: each retry costs a second.
    request_queue_size = 128
    daemon_threads = True


class HttpApp:
    """A threaded HTTP/1.1 server answering scripted routes; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Request] = []
        self._server = _Server(("127.0.0.1", 0), self._handler())
        # A short poll keeps shutdown() quick (the default waits up to half a second).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,),
                                        daemon=True)

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, method: str, path: str, reply: Route) -> None:
        """Answer ``method path`` with ``reply`` (or what ``reply(request)`` returns)."""
        self.routes[(method, path)] = reply

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, request: Request) -> Reply:
        self.requests.append(request)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return Reply(404, {"error": "no such route"})
        return route(request) if callable(route) else route

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm
                # and delayed ACKs add 40 ms to every keep-alive response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  dict(self.headers.items()), self.rfile.read(length))
                reply = app._answer(request)
                if reply.delay:
                    time.sleep(reply.delay)
                is_text = isinstance(reply.body, str | bytes)
                body = reply.body if isinstance(reply.body, bytes) else (
                    reply.body if is_text else json.dumps(reply.body)).encode()
                self.send_response(reply.status)
                kind = "text/plain" if is_text else "application/json"
                self.send_header("Content-Type", reply.headers.get("Content-Type", kind))
                for name, value in reply.headers.items():
                    if name != "Content-Type":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler


class TlsEndpoint:
    """A TLS server on 127.0.0.1 presenting one certificate; it completes handshakes only."""

    def __init__(self, cert: Path, key: Path) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.05)  # accept() polls, so that stopping is prompt
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)  # wait until the client is done with us
            except (OSError, ssl.SSLError):
                pass  # a client that rejects the certificate aborts the handshake
            finally:
                conn.close()


def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
