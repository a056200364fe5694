"""`sciinstruct serve`: a local OpenAI-compatible endpoint backed by the embedded model."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer

from sciinstruct.log import console, err_console


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback keeps it private."),
    port: int = typer.Option(8080, help="Port of the first server (the next ones follow it)."),
    model: Path | None = typer.Option(
        None, help="A GGUF file; default: the embedded SmolLM2-135M-Instruct."
    ),
    n_ctx: int = typer.Option(4096, "--n-ctx", help="Context length in tokens."),
    parallel: int = typer.Option(1, help="Server processes, on consecutive ports."),
    slots: int | None = typer.Option(
        None,
        help="Requests each process decodes together (default: fit to memory, at most 16); "
        "1: llama-cpp-python's own server, one request at a time.",
    ),
    flash_attn: bool | None = typer.Option(
        None,
        "--flash-attn/--no-flash-attn",
        help="llama.cpp's flash-attention kernel (default: on, as the in-process engine); "
        "off gives the texts of the engine before it was the default.",
    ),
) -> None:
    """Serve the embedded model over llama.cpp's OpenAI-compatible API until Ctrl-C.

    Use it through the `openai` backend with base_url set to the printed URL."""
    from sciinstruct.llm.serve import start_server

    # Ctrl-C and SIGTERM (`kill`, docker stop, systemd) both stop the servers with us. Installed
    # explicitly: a process started with SIGINT ignored (a background job, some launchers and
    # test runners) would otherwise never see Ctrl-C, and SIGTERM would orphan the servers.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    kernel = {} if flash_attn is None else {"flash_attn": flash_attn}
    try:
        with start_server(
            model, host=host, port=port, n_ctx=n_ctx, parallel=parallel, slots=slots, **kernel
        ) as server:
            for url in server.base_urls:
                console.print(url, highlight=False, soft_wrap=True)
            err_console.print(f"serving {server.joined_urls} — Ctrl-C to stop", highlight=False)
            try:
                while server.alive():
                    time.sleep(1.0)
            except KeyboardInterrupt:
                err_console.print("stopped")
                return
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise typer.Exit(code=1)  # a server process died on its own


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
