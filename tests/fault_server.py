"""A small OpenAI-compatible server on loopback that fails on purpose, for the retry tests.

The URL path chooses the failure and how many times it happens before the server answers
normally: `base_url = f"{root}/{mode}/{times}/{tag}/v1"` with mode one of `500`, `429` (with
`Retry-After`), `hang` (no answer for `hang_s`), `malformed` (200 with a broken JSON body), `drop`
(connection closed without a response), `ok`. `tag` keeps the counters of two tests apart.
Every request's arrival time is recorded per path. The server stops by itself after `lifetime_s`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRY_AFTER_S = 1  # what the 429 answers ask the client to wait


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        prefix = self.path.rsplit("/v1/", 1)[0]
        mode, times = self.server.record(prefix)
        if mode != "ok" and len(self.server.arrivals[prefix]) <= times:
            self._fail(mode)
        else:
            self._answer(json.loads(body))

    def _fail(self, mode: str) -> None:
        if mode == "500":
            self._send(500, b'{"error": "internal error (injected)"}')
        elif mode == "429":
            self._send(429, b'{"error": "rate limited"}', {"Retry-After": str(RETRY_AFTER_S)})
        elif mode == "hang":
            time.sleep(self.server.hang_s)  # bounded: the handler thread always ends
            self.close_connection = True
        elif mode == "malformed":
            self._send(200, b'{"choices": [{"message": {"content": "trunc')
        elif mode == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self._send(400, f'{{"error": "unknown fault mode {mode}"}}'.encode())

    def _answer(self, request: dict) -> None:
        last = request["messages"][-1]["content"]
        reply = {
            "id": "fault-ok",
            "object": "chat.completion",
            "model": request.get("model", "fault"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"echo: {last}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        }
        self._send(200, json.dumps(reply).encode())

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hang_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang_s = hang_s
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def record(self, prefix: str) -> tuple[str, int]:
        """Note the arrival; return (mode, times) parsed from `/{mode}/{times}/{tag}`."""
        with self._lock:
            self.arrivals[prefix].append(time.monotonic())
        parts = prefix.strip("/").split("/")
        return parts[0], int(parts[1]) if len(parts) > 1 else 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, mode: str, times: int, tag: str) -> str:
        return f"{self.root}/{mode}/{times}/{tag}/v1"

    def hits(self, mode: str, times: int, tag: str) -> int:
        return len(self.arrivals[f"/{mode}/{times}/{tag}"])


@contextmanager
def run_fault_server(hang_s: float = 3.0, lifetime_s: float = 300.0) -> Iterator[FaultServer]:
    """Serve in a daemon thread; stop on exit, or after `lifetime_s` whatever happens."""
    server = FaultServer(hang_s)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    timer = threading.Timer(lifetime_s, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        yield server
    finally:
        timer.cancel()
        server.shutdown()
        server.server_close()
