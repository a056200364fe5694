"""A grading server on loopback for tests, a request held in flight, and a worker ops module
that can be made to hang.

`stall_ops` is the real worker ops (`sciinstruct.integrations.grade_ops`) except that a response
of exactly `STALL` sleeps forever: a stand-in for a completion that escapes the grader's own
time limit, which no real input should do on demand; and `SLEEP <s>` takes s seconds, a slow
item on demand.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from sciinstruct.integrations.server import ServerConfig, create_app

HERE = Path(__file__).resolve().parent


@contextmanager
def running_server(config: ServerConfig, app: Any = None) -> Iterator[str]:
    """Serve `app` (default `create_app(config)`) on a free loopback port; yields its URL."""
    import uvicorn

    app = create_app(config) if app is None else app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # workers start (import sympy) before the server is up
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("grading server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def post(url: str, path: str, body: object, **kw: object) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, **kw)


@contextmanager
def held_request(url: str, body: object, queued: int) -> Iterator[dict[str, httpx.Response]]:
    """Post `body` to `/grade` from a thread and come back once the server counts `queued`
    items waiting or running; yields the dict its reply lands in (under "reply") when it is
    answered, and waits for that on leaving."""
    held: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: held.update(reply=post(url, "/grade", body)))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while httpx.get(url + "/health").json()["queued"] < queued:
            assert time.monotonic() < deadline, f"the server never held {queued} items"
            time.sleep(0.02)
        yield held
    finally:
        thread.join(60)


class HeldClock:
    """`time.monotonic`, except that while `held` it stands still: every request in a burst
    then sees the server's admission in the same state, however the machine staggers them."""

    def __init__(self) -> None:
        self.held: float | None = None

    def __call__(self) -> float:
        return time.monotonic() if self.held is None else self.held

    def hold(self) -> None:
        self.held = time.monotonic()

    def go(self) -> None:
        self.held = None
