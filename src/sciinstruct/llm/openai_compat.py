"""`openai` backend: any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp, Ollama, OpenAI).

Requests go out concurrently over keep-alive connections, at most `concurrency` at a time across
all the calls made on one event loop; the connections are opened once per loop and kept (on the
package's own HTTP/1.1 client, `http1.py`, or on httpx when a proxy is configured). Rate limits, server errors, timeouts, dropped connections and unparsable bodies are retried with
exponential backoff and jitter (a Retry-After header wins when the server sends one). A request
that still fails comes back as `Completion(error=reason)`, so the caller records it and goes on.

The API key is read from the environment variable named by `api_key_env` when an event loop's
connections are first opened; it is never kept on the object, logged, or put in a repr or an error message.
Credentials carried by a `base_url` (`user:pass@host`, `?api-key=...`) are sent to the server but
scrubbed from every URL shown in a repr, a log line or an error reason (see `redact_url`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import random
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx

from sciinstruct.errors import InputError
from sciinstruct.llm.balance import LeastBusy
from sciinstruct.llm.base import Completion, GenerationRequest, OnDone, ServerBackend
from sciinstruct.llm.http1 import Http1Client, TransportError
from sciinstruct.llm.http1 import Response as Http1Response
from sciinstruct.llm.retry import backoff_delay, is_retryable_status, parse_retry_after
from sciinstruct.log import logger
from sciinstruct.redact import redact_url, redact_urls

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_POOL_SIZE = 4  # connections per httpx pool: the cheapest per request of 1, 2, 4, 8, 16 tried
_BODY_SNIPPET = 200  # characters of an error body worth keeping in the reason
_Client = Http1Client | httpx.AsyncClient
_Response = Http1Response | httpx.Response
_Slots = asyncio.Queue[_Client]  # one per request allowed in flight, naming its client


def endpoint(base_url: str, path: str) -> str:
    """`path` appended to the base URL's path, its query string (e.g. `?api-version=`) kept."""
    url = httpx.URL(base_url)
    return str(url.copy_with(path=url.path.rstrip("/") + path))


class OpenAIBackend(ServerBackend):
    """Chat completions over HTTP with bounded concurrency and retries.

    `base_url` may list several servers, comma-separated (e.g. from `sciinstruct serve
    --parallel 2`); each request goes to the one with the fewest in flight (`LeastBusy`). When
    `model` is None the first model the server lists under `/models` is used (local servers
    serve exactly one).
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | Sequence[str] | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise InputError(f"concurrency must be >= 1, got {concurrency}", field="concurrency")
        if timeout <= 0:
            raise InputError(f"timeout must be > 0 seconds, got {timeout}", field="timeout")
        if max_retries < 0:
            raise InputError(f"max_retries must be >= 0, got {max_retries}", field="max_retries")
        self.base_urls = _split_urls(
            base_url or os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL)
        )
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.extra_body = dict(extra_body or {})
        self._rng = random.Random()
        # per event loop: its request slots, and the generator that closes its pools (held
        # here: a generator nobody holds is finalised, and the pools closed, at once)
        self._loops: dict[asyncio.AbstractEventLoop, tuple[_Slots, AsyncIterator[None]]] = {}
        # chat endpoints built once: URL parsing per request showed in the client's overhead
        self._servers = LeastBusy([endpoint(u, "/chat/completions") for u in self.base_urls])
        # Requests go out on the package's own HTTP/1.1 client (a tenth of httpx's CPU per
        # request), or on httpx when the environment sends some server's traffic via a proxy.
        self.direct = not any(_proxied(u) for u in self.base_urls)
        self.model = model or self._discover_model()

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.model!r}, "
            f"base_url={','.join(map(redact_url, self.base_urls))!r}, "
            f"concurrency={self.concurrency}, api_key_env={self.api_key_env!r})"
        )

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        if not requests:
            return []
        slots = await self._slots()
        jobs = [self._complete(slots, r, i, on_done) for i, r in enumerate(requests)]
        return list(await asyncio.gather(*jobs))

    async def _slots(self) -> _Slots:
        """This event loop's request slots: `concurrency` of them across every call, each
        naming the connection pool that carries its request.

        Built once per loop and kept: building the pools on every call cost ~30% of a driver
        sending one request per call (httpx reads the proxy settings of the environment for
        each client). httpcore's pool scans all its connections for every request, a cost
        quadratic in the pool size (one pool of 256 ran at 10% of ideal); so `concurrency` is
        spread over small pools sharing one TLS context. The pools belong to their loop and
        are closed when it shuts down (`_close_at_shutdown`).
        """
        loop = asyncio.get_running_loop()
        if loop not in self._loops:
            pools: list[Any]
            if self.direct:
                pools = [Http1Client(self.auth_headers(), _ssl_context())]
            else:
                n_pools = math.ceil(self.concurrency / _POOL_SIZE)
                pools = [
                    httpx.AsyncClient(
                        headers=self.auth_headers(),
                        verify=_ssl_context(),
                        timeout=httpx.Timeout(self.timeout),
                        limits=httpx.Limits(
                            max_connections=_POOL_SIZE, max_keepalive_connections=_POOL_SIZE
                        ),
                    )
                    for _ in range(n_pools)
                ]
            slots: _Slots = asyncio.Queue()
            for i in range(self.concurrency):
                slots.put_nowait(pools[i % len(pools)])
            closer = await _close_at_shutdown(pools, lambda: self._loops.pop(loop, None))
            self._loops[loop] = (slots, closer)
        return self._loops[loop][0]

    async def _complete(
        self,
        slots: _Slots,
        request: GenerationRequest,
        index: int,
        on_done: OnDone | None,
    ) -> Completion:
        payload = self._payload(request)
        client = await slots.get()
        try:
            completion = await self._complete_with_retries(client, payload)
        finally:
            slots.put_nowait(client)
        if on_done is not None:
            on_done(index, completion)
        return completion

    async def _complete_with_retries(self, client: _Client, payload: dict[str, Any]) -> Completion:
        start = time.perf_counter()
        reason = ""
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            response = await self._post(client, payload)
            if isinstance(response, str):
                reason = response
            else:
                outcome = self._read(response, start)
                if isinstance(outcome, Completion):
                    return outcome
                reason, retryable = outcome
                if not retryable:
                    return Completion(error=reason, latency_s=time.perf_counter() - start)
                wait = parse_retry_after(response.headers.get("retry-after"))
            if attempt == self.max_retries:
                break
            if wait is None:
                wait = backoff_delay(attempt, self.backoff_base, self.backoff_max, self._rng)
            wait = min(wait, self.max_retry_after)
            logger.debug("retrying in %.2fs: %s", wait, reason)
            await asyncio.sleep(wait)
        tries = self.max_retries + 1
        return Completion(
            error=f"failed after {tries} attempt{'s' * (tries > 1)}: {reason}",
            latency_s=time.perf_counter() - start,
        )

    async def _post(self, client: _Client, payload: dict[str, Any]) -> _Response | str:
        """One try on the least busy server: its response, or why there was none.

        Chosen per try, so a retry may go to another server than the one that failed.
        """
        with self._servers.pick() as url:
            try:
                async with asyncio.timeout(self.timeout):
                    if isinstance(client, Http1Client):
                        return await client.post(url, _json_body(payload))
                    return await client.post(url, json=payload)
            except (TimeoutError, httpx.TimeoutException):
                return f"no response within {self.timeout:g}s"
            except (httpx.TransportError, TransportError) as exc:
                return self.scrub_secrets(f"connection error ({type(exc).__name__}: {exc})")

    def _read(self, response: _Response, start: float) -> Completion | tuple[str, bool]:
        """A completion, or (reason, retryable) when the response is not one."""
        if response.status_code != 200:
            body = self.scrub_secrets(response.text[:_BODY_SNIPPET].strip())
            reason = f"HTTP {response.status_code} from {redact_url(response.url)}: {body}"
            return reason, is_retryable_status(response.status_code)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
            return Completion(
                text=text,
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                latency_s=time.perf_counter() - start,
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            # Proxies and overloaded servers sometimes answer 200 with a truncated body.
            snippet = self.scrub_secrets(response.text[:_BODY_SNIPPET])
            return f"malformed response ({type(exc).__name__}: {exc}): {snippet!r}", True

    def _payload(self, request: GenerationRequest) -> dict[str, Any]:
        p = request.params
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages_list(),
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_tokens": p.max_tokens,
        }
        if p.seed is not None:
            payload["seed"] = p.seed
        if p.stop:
            payload["stop"] = list(p.stop)
        payload.update(self.extra_body)
        return payload

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header of a request (empty when the key variable is unset)."""
        key = os.environ.get(self.api_key_env, "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def scrub_secrets(self, text: str) -> str:
        """Remove the API key and URL credentials from text bound for a reason or a log (a
        server may echo them back; httpx quotes the request URL in its exceptions)."""
        key = os.environ.get(self.api_key_env, "")
        text = text.replace(key, "<redacted>") if key else text
        return redact_urls(text)

    def _discover_model(self) -> str:
        url = endpoint(self.base_urls[0], "/models")
        try:
            response = httpx.get(url, headers=self.auth_headers(), timeout=min(self.timeout, 30.0))
            response.raise_for_status()
            return str(response.json()["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            reason = self.scrub_secrets(f"{type(exc).__name__}: {exc}")
            raise InputError(
                f"no model given and none could be listed at {redact_url(url)} ({reason}); "
                "pass model=NAME",
                field="model",
            ) from None


async def _close_at_shutdown(
    pools: list[httpx.AsyncClient], forget: Callable[[], object]
) -> AsyncIterator[None]:
    """A started async generator that closes `pools`, then calls `forget`, when finalised.

    asyncio finalises every live async generator of a loop when the loop shuts down
    (`asyncio.run` does so before it closes the loop), so pools kept for the life of a loop are
    closed on that loop, whoever ran it, without a call every caller would have to remember.
    """

    async def closer() -> AsyncIterator[None]:
        try:
            yield
        finally:
            forget()
            for pool in pools:
                await pool.aclose()

    generator = closer()
    await generator.__anext__()
    return generator


def _json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _proxied(url: str) -> bool:
    """Whether HTTP(S)_PROXY / ALL_PROXY (less NO_PROXY) route `url` through a proxy."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for all pools: building one loads the CA bundle (~0.1 s each)."""
    return httpx.create_ssl_context()


def _split_urls(base_url: str | Sequence[str]) -> list[str]:
    urls = base_url.split(",") if isinstance(base_url, str) else list(base_url)
    urls = [u.strip().rstrip("/") for u in urls if u.strip()]
    if not urls:
        raise InputError("base_url is empty", field="base_url")
    return urls
