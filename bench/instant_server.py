"""An instant OpenAI-compatible chat server on loopback: only the client's own cost is measured.

Raw asyncio in its own process, keep-alive HTTP/1.1, one JSON parse per request. Questions of
the form "What is A + B?" (bench_scale's synthetic questions) get a deterministic mix of right
and wrong answers so that every annotation stage runs:

- cot: right when A + B leaves 0 modulo 3, else off by one;
- reflect (the prompt holds "Incorrect solution:"): right when A + B leaves 1 modulo 3;
- hinted (the prompt holds "Real answer: R"): R, so it is always right.

So a third of the questions is solved at cot, a third at reflect and a third only hinted.
The server counts requests, and the most it ever held in flight at once (a request is in flight
from its last body byte read to its answer written), and serves them as JSON on `GET /stats`.

    python bench/instant_server.py PORT [LATENCY_S]     # serves until killed
"""

from __future__ import annotations

import asyncio
import json
import re
import sys

_QUESTION = re.compile(r"What is (\d+) \+ (\d+)")
_REAL = re.compile(r"Real answer: (\d+)")


def answer_for(prompt: str) -> str:
    """The deterministic answer to one prompt (see the module docstring)."""
    found = _QUESTION.search(prompt)
    if found is None:
        return "I cannot tell. \\boxed{0}"
    a, b = int(found.group(1)), int(found.group(2))
    real = _REAL.search(prompt)
    if real is not None:
        value = int(real.group(1))
    else:
        remainder = 1 if "Incorrect solution:" in prompt else 0
        value = a + b if (a + b) % 3 == remainder else a + b + 1
    return f"{a} plus {b} makes {value}, so the answer is \\boxed{{{value}}}."


class Counts:
    """Requests served and the most in flight at once."""

    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def to_json(self) -> bytes:
        return json.dumps({"requests": self.requests, "max_in_flight": self.max_in_flight}).encode()


def _reply(text: str) -> bytes:
    body = json.dumps(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12},
        }  # fmt: skip
    ).encode()
    return _response(body)


def _response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counts: Counts, latency: float
) -> None:
    try:
        while True:  # keep-alive: many requests per connection
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /stats"):
                writer.write(_response(counts.to_json()))
                await writer.drain()
                continue
            if head.startswith(b"POST /reset"):
                counts.__init__()
                writer.write(_response(b"{}"))
                await writer.drain()
                continue
            counts.requests += 1
            counts.in_flight += 1
            counts.max_in_flight = max(counts.max_in_flight, counts.in_flight)
            try:
                if head.startswith(b"GET"):  # /v1/models: model discovery
                    reply = _response(b'{"data": [{"id": "instant"}]}')
                else:
                    messages = json.loads(body)["messages"]
                    reply = _reply(answer_for(messages[-1]["content"]))
                    if latency:
                        await asyncio.sleep(latency)
                writer.write(reply)
                await writer.drain()
            finally:
                counts.in_flight -= 1
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        writer.close()


def serve(port: int, latency: float = 0.0) -> None:
    """Serve on 127.0.0.1:`port` until killed, answering after `latency` seconds (0: at once;
    an instant server holds nothing, so counting requests in flight needs a latency)."""
    counts = Counts()

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, counts, latency),
            "127.0.0.1",
            port,
            backlog=4096,
            limit=2**20,
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
