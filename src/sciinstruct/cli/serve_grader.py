"""`sciinstruct serve-grader`: the grader over HTTP for RL trainers (verl, OpenRLHF, any client).

`--executor local` (the default) serves one app on uvicorn, its items graded in `--workers`
processes; `--executor ray --replicas N` deploys the same app on Ray Serve with N replicas
behind Ray's own HTTP proxy (Ray balances; nothing here does).
"""

from __future__ import annotations

import ipaddress
import os

import typer

from sciinstruct.errors import InputError
from sciinstruct.log import err_console

EXECUTORS = ("local", "ray")
TOKEN_ENV = "SCIINSTRUCT_GRADER_TOKEN"
KEEP_ALIVE_S = 65  # idle seconds before a connection is closed: past the longest Retry-After


def register(app: typer.Typer) -> None:
    app.command("serve-grader")(serve_grader)


def serve_grader(
    host: str = typer.Option(
        "127.0.0.1", help="Interface to bind; anything but loopback is reachable by others."
    ),
    port: int = typer.Option(8765, help="Port to listen on."),
    workers: int | None = typer.Option(
        None, min=1, help="Grading processes (per replica); default: one per core, at most 4."
    ),
    timeout: float = typer.Option(
        5.0, min=0.01, help="Seconds an item may take unless it names its own `timeout`."
    ),
    max_item_timeout: float = typer.Option(
        60.0, min=0.01, help="Largest `timeout` an item may ask."
    ),
    max_queue: int = typer.Option(
        1024,
        min=1,
        help="Items waiting or being graded before requests are answered 429 (the hard cap; "
        "a request is also answered 429 while the work ahead would delay it over 1 s).",
    ),
    max_body_mb: float = typer.Option(16.0, min=0.001, help="Largest request body (MiB): 413."),
    rewards: str = typer.Option(
        "correctness", help="Reward registry names summed into the score, comma-separated."
    ),
    weights: str | None = typer.Option(None, help="Their weights, comma-separated (default 1)."),
    token_env: str = typer.Option(
        TOKEN_ENV, help="Environment variable holding a bearer token clients must send, if set."
    ),
    executor: str = typer.Option("local", help="`local` (uvicorn) or `ray` (Ray Serve)."),
    replicas: int = typer.Option(1, min=1, help="Ray Serve replicas (with --executor ray)."),
) -> None:
    """Serve POST /grade, POST /get_reward (OpenRLHF's remote reward) and GET /health."""
    from sciinstruct.integrations.scoring import RewardSelection
    from sciinstruct.integrations.server import ServerConfig

    if executor not in EXECUTORS:
        raise InputError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if replicas > 1 and executor != "ray":
        raise InputError("--replicas needs --executor ray (one local server is one replica)")
    try:
        weight_values = None if weights is None else [float(w) for w in weights.split(",")]
        selection = RewardSelection.of(rewards, weight_values)
        config = ServerConfig(
            workers=workers or ServerConfig().workers,
            max_queue=max_queue,
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            item_timeout=timeout,
            max_item_timeout=max_item_timeout,
            selection=selection,
            token=os.environ.get(token_env) or None,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if not _is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] binding {host}: the grader is reachable from other machines"
            + ("" if config.token else f"; set {token_env} to require a bearer token"),
            highlight=False,
        )
    auth = f"bearer token from ${token_env}" if config.token else "no token"
    err_console.print(
        f"grading on http://{host}:{port} ({executor}, {config.workers} workers"
        f"{f' x {replicas} replicas' if executor == 'ray' else ''}, rewards "
        f"{','.join(selection.names)}, {auth}) — Ctrl-C to stop",
        highlight=False,
    )
    if executor == "ray":
        from sciinstruct.integrations.ray_serve import serve_on_ray

        serve_on_ray(config, host=host, port=port, replicas=replicas)
        return
    import uvicorn

    from sciinstruct.integrations.server import create_app

    # a client told to retry after up to 60 s (Retry-After's cap) finds its connection still
    # open: with uvicorn's default of 5 s, a retry racing the idle close ends in a reset
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
