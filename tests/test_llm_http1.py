"""The small HTTP/1.1 client under the `openai` backend: keep-alive, chunked bodies, early closes.

A raw asyncio server on loopback answers each request as the test scripts it, so every way a
response can be framed (content-length, chunked, ended by a close) is exercised on real sockets.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from sciinstruct.llm.http1 import Http1Client, ReadError


async def _serve(script):
    """A server answering request n with `script[n]` (raw bytes); returns (server, log) where log
    records (connection number, request head) per request."""
    log: list[tuple[int, bytes]] = []
    connections = 0

    async def handle(reader, writer):
        nonlocal connections
        connections += 1
        me = connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                answer = script[len(log)]
                log.append((me, head))
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer or answer.endswith(b"CUT"):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the client left, or the test is over

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, log


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def test_keep_alive_chunked_and_close_framings():
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b'5\r\n{"a":\r\n3;ext=1\r\n 1}\r\n0\r\nx-trailer: t\r\n\r\n'
    )
    script = [
        _ok(b'{"n": 1}'),
        chunked,
        _ok(b'{"n": 3}', b"connection: close\r\n"),
        _ok(b'{"n": 4}'),
    ]

    async def main():
        server, log = await _serve(script)
        port = server.sockets[0].getsockname()[1]
        url = f"http://user:p%40ss@127.0.0.1:{port}/v1/chat/completions?api-version=2"
        client = Http1Client({"x-extra": "1"})
        try:
            out = [await client.post(url, json.dumps({"i": i}).encode()) for i in range(4)]
        finally:
            await client.aclose()
            server.close()
        return out, log, port

    out, log, port = asyncio.run(main())
    assert [r.status_code for r in out] == [200, 200, 200, 200]
    assert [r.json() for r in out] == [{"n": 1}, {"a": 1}, {"n": 3}, {"n": 4}]
    # one connection for three requests, a new one after the server's `connection: close`
    assert [conn for conn, _ in log] == [1, 1, 1, 2]
    head = log[0][1].decode()
    assert head.startswith("POST /v1/chat/completions?api-version=2 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{port}\r\n" in head
    assert "authorization: Basic dXNlcjpwQHNz" in head  # user:p@ss
    assert "x-extra: 1" in head and "content-length: 8" in head


def test_a_body_cut_short_is_a_read_error_and_the_connection_is_not_reused():
    script = [b'HTTP/1.1 200 OK\r\ncontent-length: 400\r\n\r\n{"cho CUT', _ok(b"{}")]

    async def main():
        server, log = await _serve(script)
        port = server.sockets[0].getsockname()[1]
        client = Http1Client()
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        try:
            with pytest.raises(ReadError, match="without sending complete message body"):
                await client.post(url, b"{}")
            second = await client.post(url, b"{}")
        finally:
            await client.aclose()
            server.close()
        return second, log

    second, log = asyncio.run(main())
    assert second.status_code == 200 and second.content == b"{}"
    assert [conn for conn, _ in log] == [1, 2]


def test_the_backend_keeps_one_connection_across_calls_of_one_loop():
    from sciinstruct.llm import GenerationRequest
    from sciinstruct.llm.openai_compat import OpenAIBackend

    reply = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})

    async def main():
        server, log = await _serve([_ok(reply.encode())] * 10)
        port = server.sockets[0].getsockname()[1]
        backend = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", concurrency=4)
        request = GenerationRequest([{"role": "user", "content": "x"}])
        try:
            out = [await backend.agenerate([request]) for _ in range(10)]
        finally:
            server.close()
        return out, log

    out, log = asyncio.run(main())
    assert [c.text for [c] in out] == ["hi"] * 10
    assert {conn for conn, _ in log} == {1}  # one request per call, one connection for all


def test_a_proxy_in_the_environment_sends_requests_through_httpx(monkeypatch):
    from sciinstruct.llm.openai_compat import OpenAIBackend

    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert OpenAIBackend("m", base_url="http://10.1.2.3:8000/v1").direct
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert not OpenAIBackend("m", base_url="http://10.1.2.3:8000/v1").direct
    monkeypatch.setenv("NO_PROXY", "10.1.2.3")
    assert OpenAIBackend("m", base_url="http://10.1.2.3:8000/v1").direct
