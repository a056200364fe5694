"""A small keep-alive HTTP/1.1 client for JSON POSTs, on asyncio streams.

The `openai` backend sends one small request per attempt, and with an instant server the
client is most of the driver's cost: httpx (its models, anyio, h11) spent ~1 ms of CPU per
request on this machine, this client ~0.1 ms. It does what OpenAI-compatible servers need and
no more: keep-alive connections per origin, TLS, bodies sized by content-length or chunked or
ended by a close, `user:pass@` in the URL as Basic auth. No proxies, redirects or compression
(it asks for `identity`): the backend uses httpx when the environment names a proxy for a host.

Failures raise `TransportError` subclasses named like httpx's (`ConnectError`, `ReadError`,
`RemoteProtocolError`) so reasons read the same whichever client carried the request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

_MAX_HEAD = 1 << 20  # bytes of status line and headers accepted (a stream's read limit)


class TransportError(Exception):
    """No (complete) response: the connection failed, closed early or spoke no HTTP."""


class ConnectError(TransportError):
    pass


class ReadError(TransportError):
    pass


class RemoteProtocolError(TransportError):
    pass


@dataclass
class Response:
    """What the backend reads of a response (the names of httpx's `Response`)."""

    status_code: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass(frozen=True)
class _Target:
    """A URL split once: where to connect and what to send in the request line."""

    scheme: str
    host: str
    port: int
    target: bytes  # path and query
    host_header: bytes
    authorization: bytes | None  # from user:pass@ in the URL

    @classmethod
    def parse(cls, url: str) -> _Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        default = port == (443 if parts.scheme == "https" else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = b"Basic " + base64.b64encode(pair.encode())
        return cls(
            parts.scheme, parts.hostname, port, target.encode(),
            (host if default else f"{host}:{port}").encode(), auth,
        )  # fmt: skip

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


@dataclass
class Http1Client:
    """Keep-alive connections per origin, shared by every request of one event loop.

    At most as many connections as requests in flight are ever open (the caller bounds those);
    a connection goes back to its origin's idle list when its response was read to the end.
    """

    headers: dict[str, str] = field(default_factory=dict)  # sent with every request
    ssl_context: ssl.SSLContext | None = None
    _idle: dict[tuple[str, str, int], list[_Connection]] = field(default_factory=dict)
    _targets: dict[str, _Target] = field(default_factory=dict)
    _closed: bool = False

    def __post_init__(self) -> None:
        self._fixed = b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in self.headers.items()
        )

    async def post(self, url: str, body: bytes) -> Response:
        """POST a JSON `body` to `url` and read the whole response."""
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = _Target.parse(url)
        head = b"".join(
            (
                b"POST ", target.target, b" HTTP/1.1\r\nhost: ", target.host_header,
                b"\r\ncontent-type: application/json\r\naccept: application/json\r\n"
                b"accept-encoding: identity\r\ncontent-length: ", str(len(body)).encode(), b"\r\n",
                b"authorization: " + target.authorization + b"\r\n" if target.authorization else b"",
                self._fixed, b"\r\n",
            )
        )  # fmt: skip
        idle = self._idle.setdefault(target.origin, [])
        conn = None
        while idle and conn is None:
            conn = idle.pop()
            if not conn.open:  # closed by the server while idle (its keep-alive timeout)
                conn.close()
                conn = None
        if conn is None:
            conn = await self._connect(target)
        response = await conn.exchange(head + body, url)
        self._keep(conn, target, response)
        return response

    def _keep(self, conn: _Connection, target: _Target, response: Response) -> None:
        if conn.reusable and not self._closed:
            self._idle.setdefault(target.origin, []).append(conn)
        else:
            conn.close()

    async def _connect(self, target: _Target) -> _Connection:
        context = None
        if target.scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
        try:
            reader, writer = await asyncio.open_connection(
                target.host, target.port, ssl=context, limit=_MAX_HEAD
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()


class _Connection:
    """One TCP (or TLS) connection carrying one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reusable = False

    @property
    def open(self) -> bool:
        """Neither end has closed it (a server's close is seen once the loop has read it)."""
        return not (self.reader.at_eof() or self.writer.is_closing())

    async def exchange(self, request: bytes, url: str) -> Response:
        """Send `request` and read its whole response; on any failure the connection is
        closed and the error raised (the backend decides whether to try again)."""
        self.reusable = False
        part = "response"
        try:
            self.writer.write(request)
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, headers, keep_alive = _parse_head(head)
            part = "message body"
            # 204 and 304 carry no body whatever their headers say (RFC 9112, 6.3)
            content = b"" if status in (204, 304) else await self._body(headers)
            self.reusable = keep_alive
            return Response(status, headers, content, url)
        except asyncio.IncompleteReadError:
            self.close()
            raise ReadError(f"peer closed connection without sending complete {part}") from None
        except asyncio.LimitOverrunError:
            self.close()
            raise RemoteProtocolError("response head or chunk line too long") from None
        except (ConnectionError, OSError) as exc:
            self.close()
            raise ReadError(str(exc) or type(exc).__name__) from None
        except BaseException:  # a timeout or cancellation mid-response: the stream is unusable
            self.close()
            raise

    async def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower().endswith("chunked"):
            parts = []
            while True:
                line = await self.reader.readuntil(b"\r\n")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise RemoteProtocolError(f"bad chunk size line {line[:40]!r}") from None
                if size == 0:
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    return b"".join(parts)
                parts.append((await self.reader.readexactly(size + 2))[:-2])
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise RemoteProtocolError(f"bad content-length {length[:40]!r}") from None
            return await self.reader.readexactly(n)
        self.reusable = False
        return await self.reader.read()  # the body ends when the server closes

    def close(self) -> None:
        self.reusable = False
        if not self.writer.is_closing():
            self.writer.close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """Status, headers and whether the connection may carry another request."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise RemoteProtocolError(f"not an HTTP/1.x response: {lines[0][:60]!r}")
    try:
        status = int(rest[:3])
    except ValueError:
        raise RemoteProtocolError(f"bad status line {lines[0][:60]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
    return status, headers, keep_alive
