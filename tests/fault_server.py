"""A small OpenAI-compatible server on loopback that fails on purpose, for the retry tests.

The URL path chooses the failure and how many times it happens before the server answers
normally: `base_url = f"{root}/{mode}/{times}/{tag}/v1"` with mode one of `500`, `429` (with
`Retry-After`), `hang` (no answer for `hang_s`), `malformed` (200 with a broken JSON body), `drop`
(connection closed without a response), `truncate` (a body cut short of its content-length),
`ok`. `tag` keeps the counters of two tests apart. `chaos` instead fails each try with
probability `times` percent, with one of those six faults drawn at random (bench_chaos.py).
Every request's arrival time is recorded per path, and per request (`requests`, `served`: the
tries and the answers of each distinct request). Answers echo the last message unless an
`answer` function is given. The server stops by itself after `lifetime_s`.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRY_AFTER_S = 1  # what the 429 answers ask the client to wait
FAULTS = ("500", "429", "hang", "malformed", "drop", "truncate")  # what `chaos` draws from


def request_key(request: dict) -> str:
    """One distinct request: its messages and sampling settings (the model is the same)."""
    fields = {k: v for k, v in request.items() if k != "model"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        prefix = self.path.rsplit("/v1/", 1)[0]
        request = json.loads(body)
        key = request_key(request)
        mode, times = self.server.record(prefix, key)
        if mode == "chaos":
            fault = self.server.draw_fault(times)
            if fault is not None:
                self._fail(fault)
                return
        elif mode != "ok" and len(self.server.arrivals[prefix]) <= times:
            self._fail(mode)
            return
        # counted before it goes out: the client may read the answer and check the count
        # before this handler thread runs again
        self.server.served_one(prefix, key)
        self._answer(request)

    def _fail(self, mode: str) -> None:
        if mode == "500":
            self._send(500, b'{"error": "internal error (injected)"}')
        elif mode == "429":
            wait = str(self.server.retry_after_s)
            self._send(429, b'{"error": "rate limited"}', {"Retry-After": wait})
        elif mode == "hang":
            time.sleep(self.server.hang_s)  # bounded: the handler thread always ends
            self.close_connection = True
        elif mode == "malformed":
            self._send(200, b'{"choices": [{"message": {"content": "trunc')
        elif mode == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif mode == "truncate":  # promise 400 bytes, send 30, hang up
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "400")
            self.end_headers()
            self.wfile.write(b'{"choices": [{"message": {"co')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self._send(400, f'{{"error": "unknown fault mode {mode}"}}'.encode())

    def _answer(self, request: dict) -> None:
        if self.server.answer_delay_s:
            time.sleep(self.server.answer_delay_s)
        reply = {
            "id": "fault-ok",
            "object": "chat.completion",
            "model": request.get("model", "fault"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.server.answer(request)},
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

    def __init__(
        self,
        hang_s: float,
        answer: Callable[[dict], str] | None = None,
        answer_delay_s: float = 0.0,
        retry_after_s: float = RETRY_AFTER_S,
        seed: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang_s = hang_s
        self.answer = answer or (lambda request: f"echo: {request['messages'][-1]['content']}")
        self.answer_delay_s = answer_delay_s
        self.retry_after_s = retry_after_s
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.requests: dict[str, Counter[str]] = defaultdict(Counter)  # prefix -> key -> tries
        self.served: dict[str, Counter[str]] = defaultdict(Counter)  # prefix -> key -> answers
        self.faults: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """A client that hung up first (a kill, a timeout) is the point of this server, not an
        error worth a traceback on stderr."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def record(self, prefix: str, key: str = "") -> tuple[str, int]:
        """Note the arrival; return (mode, times) parsed from `/{mode}/{times}/{tag}`."""
        with self._lock:
            self.arrivals[prefix].append(time.monotonic())
            self.requests[prefix][key] += 1
        parts = prefix.strip("/").split("/")
        return parts[0], int(parts[1]) if len(parts) > 1 else 0

    def draw_fault(self, percent: int) -> str | None:
        """A fault for this try with probability `percent`%, else None."""
        with self._lock:
            if self._rng.random() * 100 >= percent:
                return None
            fault = self._rng.choice(FAULTS)
            self.faults[fault] += 1
            return fault

    def served_one(self, prefix: str, key: str) -> None:
        with self._lock:
            self.served[prefix][key] += 1

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, mode: str, times: int, tag: str) -> str:
        return f"{self.root}/{mode}/{times}/{tag}/v1"

    def hits(self, mode: str, times: int, tag: str) -> int:
        return len(self.arrivals[f"/{mode}/{times}/{tag}"])


@contextmanager
def run_fault_server(
    hang_s: float = 3.0, lifetime_s: float = 300.0, **options: object
) -> Iterator[FaultServer]:
    """Serve in a daemon thread; stop on exit, or after `lifetime_s` whatever happens.
    `options` go to FaultServer (answer, answer_delay_s, retry_after_s, seed)."""
    server = FaultServer(hang_s, **options)  # type: ignore[arg-type]
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
