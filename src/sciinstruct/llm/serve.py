"""Start an OpenAI-compatible server with the embedded model, on loopback.

Used by `sciinstruct serve`, by the tests (a real endpoint for the `openai` backend) and by the
benchmarks. Each server process batches the requests it receives (`batch_server`: the batched
llama.cpp engine, `slots` sequences decoded together); `slots=1` starts llama-cpp-python's own
server instead, which answers one request at a time. `parallel=N` starts N processes on
consecutive ports; the `openai` backend spreads requests over all of them when given their
comma-separated base URLs.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sciinstruct.embedded_model import gguf_path
from sciinstruct.errors import InputError, SciInstructError, require
from sciinstruct.llm.llamacpp import DEFAULT_FLASH_ATTN, INSTALL, default_threads


@dataclass
class LlamaServer:
    """Running server process(es); `base_url` is the first, `base_urls` all of them."""

    base_urls: list[str]
    processes: list[subprocess.Popen] = field(repr=False)
    log_files: list[Path] = field(repr=False)

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    @property
    def joined_urls(self) -> str:
        """All base URLs, comma-separated: the `base_url` option of the `openai` backend."""
        return ",".join(self.base_urls)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (another process could still take it before we bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def start_server(
    model: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    n_ctx: int = 4096,
    parallel: int = 1,
    n_threads: int | None = None,
    slots: int | None = None,
    flash_attn: bool = DEFAULT_FLASH_ATTN,
    startup_timeout: float = 120.0,
) -> Iterator[LlamaServer]:
    """Start the server(s), wait until `/v1/models` answers, yield, and stop them on exit.
    `slots`: sequences each process decodes together (None: the engine's default).
    `flash_attn`: the attention kernel, as the in-process engine's option (both servers, so a
    seed gives the in-process engine's text at any `slots`)."""
    if slots == 1:
        require("llama_cpp.server.app", "llama-cpp-python's server", INSTALL)
    else:  # the batched server: the engine and llama-cpp-python[server]'s web stack
        for module in ("llama_cpp", "starlette", "uvicorn"):
            require(module, "llama-cpp-python's server", INSTALL)
    path = Path(model) if model else gguf_path()
    if not path.is_file():
        raise InputError("GGUF model file not found", file=str(path), field="model")
    if parallel < 1:
        raise InputError(f"parallel must be >= 1, got {parallel}", field="parallel")
    if slots is not None and slots < 1:
        raise InputError(f"slots must be >= 1, got {slots}", field="slots")
    ports = (
        [port + i for i in range(parallel)] if port else [free_port(host) for _ in range(parallel)]
    )
    threads = n_threads or default_threads(parallel)
    log_dir = Path(tempfile.mkdtemp(prefix="sciinstruct-serve-"))
    server = LlamaServer(
        base_urls=[f"http://{host}:{p}/v1" for p in ports], processes=[], log_files=[]
    )
    started = False
    try:
        for p in ports:
            log = log_dir / f"server-{p}.log"
            server.log_files.append(log)
            with log.open("wb") as out:  # the child keeps its own handle
                command = _server_command(path, host, p, n_ctx, threads, slots, flash_attn)
                server.processes.append(
                    subprocess.Popen(
                        command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                    )
                )
        for url, proc, log in zip(
            server.base_urls, server.processes, server.log_files, strict=True
        ):
            _wait_ready(url, proc, log, startup_timeout)
        started = True
        yield server
    finally:
        _stop(server.processes)
        if started:  # a failed start keeps its logs: the error names them
            shutil.rmtree(log_dir, ignore_errors=True)


def _server_command(
    path: Path,
    host: str,
    port: int,
    n_ctx: int,
    threads: int,
    slots: int | None,
    flash_attn: bool = DEFAULT_FLASH_ATTN,
) -> list[str]:
    common = ["--model", str(path), "--host", host, "--port", str(port),
              "--n_ctx", str(n_ctx), "--n_threads", str(threads),
              "--flash_attn", "true" if flash_attn else "false"]  # fmt: skip
    if slots == 1:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            *common,
            "--n_threads_batch",
            str(threads),
        ]
    extra = [] if slots is None else ["--slots", str(slots)]
    return [sys.executable, "-m", "sciinstruct.llm.batch_server", *common, *extra]


def _wait_ready(base_url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SciInstructError(
                f"llama.cpp server exited with code {proc.returncode} before answering; "
                f"log {log}:\n{tail}"
            )
        try:
            if httpx.get(base_url + "/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SciInstructError(
        f"llama.cpp server at {base_url} did not answer in {timeout:g}s (log {log})"
    )


def _stop(processes: list[subprocess.Popen], grace_s: float = 5.0) -> None:
    """SIGTERM every server, then SIGKILL whatever still runs after `grace_s` in all.

    One shared deadline, not one per process: uvicorn's graceful shutdown can wait on a
    connection a client left open, and Ctrl-C should not take `grace_s` times the servers.
    """
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in processes:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
