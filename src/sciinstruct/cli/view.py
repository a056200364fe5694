"""`sciinstruct view RUN`: look at a run in the browser. `sciinstruct override`: overrule a verdict."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from sciinstruct.errors import SciInstructError
from sciinstruct.log import console, err_console

RUN = typer.Argument(..., help="The run directory.", file_okay=False)
INSTALL = "pip install 'sciinstruct[view]'"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def view_command(
    run_dir: Path = RUN,
    port: int = typer.Option(8765, help="Port to listen on (0: any free port)."),
    host: str = typer.Option(
        "127.0.0.1",
        help="Address to bind. Loopback by default: anything else lets other machines read "
        "the run and write overrides.",
    ),
) -> None:
    """Serve a web view of a run (overview, questions, chains, eval) and take overrides."""
    try:
        import uvicorn

        from sciinstruct.view.app import create_app
    except ImportError as exc:
        raise SciInstructError(f"`sciinstruct view` needs {exc.name}: {INSTALL}") from None
    from sciinstruct.rundir import RunDir

    console.print(f"indexing {run_dir} ...", markup=False, highlight=False)
    app = create_app(RunDir(run_dir), host=host)
    if host not in LOOPBACK:
        err_console.print(
            f"[bold yellow]warning:[/] listening on {host}: anyone who can reach this address "
            "can read the run and write overrides.jsonl"
        )
    # Bind first (port 0 picks a free one) so the printed URL is the real one.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it a keep-alive response written in two
    # parts waits for the client's delayed ACK, ~40 ms on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # before the URL is printed: a client may connect at once
    except OSError as exc:
        sock.close()
        raise SciInstructError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    console.print(
        f"sciinstruct view: http://{shown}:{bound_port}/  (Ctrl-C stops)",
        markup=False,
        highlight=False,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])


def override_command(
    run_dir: Path = RUN,
    attempt_id: str = typer.Argument(..., help="The attempt's id (attempts.jsonl `id`)."),
    correct: bool | None = typer.Option(
        None, "--correct/--wrong", help="The verdict that replaces the grader's."
    ),
    reason: str = typer.Option(..., help="Why (kept with the override)."),
    who: str | None = typer.Option(None, help="Reviewer's name [default: the login name]."),
) -> None:
    """Overrule the grader's verdict on one attempt; curate and export honour it next time."""
    from sciinstruct.curate import add_override, find_attempt
    from sciinstruct.errors import InputError
    from sciinstruct.rundir import RunDir

    if correct is None:
        raise InputError("say which verdict: --correct or --wrong")
    run = RunDir(run_dir)
    attempt = find_attempt(run, attempt_id)
    override = add_override(run, attempt.id, correct, reason, who)
    was = {True: "correct", False: "wrong"}.get(attempt.correct, "ungraded")  # type: ignore[arg-type]
    console.print(
        f"override: attempt {attempt.id} ({attempt.stage}, question {attempt.question_id}) "
        f"{was} -> {override.verdict}; written to {run.overrides}. "
        "Run `sciinstruct curate` (and `export`) again to use it.",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("view")(view_command)
    app.command("override")(override_command)
