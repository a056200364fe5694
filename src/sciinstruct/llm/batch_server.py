"""An OpenAI-compatible chat server around the batched llama.cpp engine.

`sciinstruct serve` starts it (`python -m sciinstruct.llm.batch_server`): every request that
reaches the process goes into one `LlamaCppBackend`'s batched contexts, so concurrent clients
share decoding steps instead of queueing for one. It speaks what the `openai` backend sends:
`POST /v1/chat/completions` (no streaming) and `GET /v1/models`. A request and its seed get the
same text here as from the in-process engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sciinstruct.llm.base import GenerationRequest, SamplingParams


def create_app(backend: Any, model_id: str) -> Any:
    """The Starlette app serving `backend` (a batched `LlamaCppBackend`) as `model_id`."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def models(_: Any) -> JSONResponse:
        return JSONResponse(
            {"object": "list", "data": [{"id": model_id, "object": "model", "owned_by": "me"}]}
        )

    async def chat(http: Any) -> JSONResponse:
        try:
            request = parse_chat_request(await http.json())
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
        completion = await asyncio.wrap_future(backend.submit(request))
        if not completion.ok:
            return _error(400, completion.error or "generation failed")
        return JSONResponse({
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_id,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": completion.text},
                "finish_reason": completion.finish_reason,
            }],
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
        })  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        backend.close()  # finishes what is in flight, then frees the contexts

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def parse_chat_request(body: Any) -> GenerationRequest:
    """A chat-completions body as a request; ValueError names the field that is wrong."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    if body.get("stream"):
        raise ValueError("stream: streaming is not supported by this server")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: expected a non-empty list of {role, content} objects")
    for i, m in enumerate(messages):
        if not (isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role")):
            raise ValueError(f"messages[{i}]: expected an object with role and string content")
    stop = body.get("stop") or ()
    defaults = SamplingParams()
    params = SamplingParams(
        temperature=float(_field(body, "temperature", defaults.temperature)),
        top_p=float(_field(body, "top_p", defaults.top_p)),
        max_tokens=int(_field(body, "max_tokens", defaults.max_tokens)),
        seed=None if body.get("seed") is None else int(body["seed"]),
        stop=(stop,) if isinstance(stop, str) else tuple(str(s) for s in stop),
    )
    return GenerationRequest([{"role": m["role"], "content": m["content"]} for m in messages],
                             params)  # fmt: skip


def _field(body: dict[str, Any], name: str, default: Any) -> Any:
    value = body.get(name)
    return default if value is None else value


def _error(status: int, message: str) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error"}}, status_code=status
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the GGUF file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n_ctx", type=int, default=4096, help="context of each sequence")
    parser.add_argument("--n_threads", type=int, default=None)
    parser.add_argument("--slots", type=int, default=None, help="sequences decoded together")
    parser.add_argument(
        "--flash_attn", choices=["true", "false"], default=None,
        help="attention kernel (default: the engine's, DEFAULT_FLASH_ATTN)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    import uvicorn

    from sciinstruct.llm.llamacpp import DEFAULT_FLASH_ATTN, LlamaCppBackend

    flash_attn = DEFAULT_FLASH_ATTN if args.flash_attn is None else args.flash_attn == "true"
    backend = LlamaCppBackend(
        args.model, n_ctx=args.n_ctx, n_threads=args.n_threads, parallel=1, slots=args.slots,
        flash_attn=flash_attn,
    )  # fmt: skip
    uvicorn.run(
        create_app(backend, str(args.model)), host=args.host, port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
