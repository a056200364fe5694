"""The grading server on Ray Serve: the same Starlette app, N replicas, Ray's HTTP proxy.

Each replica builds its own app (its own worker processes and admission queue) from the config;
Ray Serve's proxy spreads requests over the replicas and a replica answers 429 when its queue is
full, exactly as one local server does. Needs Ray Serve: `pip install "ray[serve]==2.60.0"`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sciinstruct.integrations.server import ServerConfig, create_app

INSTALL = 'pip install "ray[serve]==2.60.0"'


def _serve_module() -> Any:
    try:
        from ray import serve
    except ImportError as exc:  # ray without its serve extra raises ImportError naming grpc etc.
        raise ImportError(f"--executor ray needs Ray Serve: {INSTALL} ({exc})") from exc
    return serve


def deployment(config: ServerConfig, replicas: int) -> Any:
    """The bound Ray Serve application: `replicas` copies of the grading app."""
    serve = _serve_module()

    def build_app() -> Any:  # a plain function: Ray Serve calls it on each replica (a partial
        return create_app(config)  # would be taken for the ASGI app itself)

    ingress = serve.ingress(build_app)()
    # each replica's own workers are separate processes: it needs a CPU per worker
    options = {"num_cpus": 1}
    return serve.deployment(
        ingress, name="sciinstruct-grader", num_replicas=replicas, ray_actor_options=options
    ).bind()


def serve_on_ray(config: ServerConfig, host: str, port: int, replicas: int) -> None:
    """Start Ray Serve's proxy on `host:port`, deploy, and serve until interrupted. Joins the
    cluster at `RAY_ADDRESS` when set, else starts a local one."""
    serve = _serve_module()
    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), logging_level="WARNING")
    serve.start(http_options={"host": host, "port": port})
    serve.run(deployment(config, replicas), name="sciinstruct-grader", route_prefix="/")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        serve.shutdown()
