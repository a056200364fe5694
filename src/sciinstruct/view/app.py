"""The web app of `sciinstruct view`: Starlette routes over one run directory.

Safety, because every model output is hostile text:
- Jinja2 autoescapes everything; no template marks run data as safe. Math is typeset in the
  browser by KaTeX (shipped in the package) from text nodes, with `trust` off.
- A Content-Security-Policy allows scripts from this origin only: an injected inline script or
  `onerror=` attribute would not run even if escaping failed somewhere.
- Nothing in a URL names a file: questions and attempts are looked up in the index, plots by
  the names listed in RUN/plots. The only write appends to overrides.jsonl, on a same-origin POST
  carrying this server's token. The Host header must name the server (DNS rebinding).
"""

from __future__ import annotations

import getpass
import hmac
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sciinstruct.curate import add_override, latest_overrides
from sciinstruct.curate.overrides import counts
from sciinstruct.errors import InputError
from sciinstruct.rundir import RunDir
from sciinstruct.view import queries
from sciinstruct.view.index import RunIndex, eval_dirs

HERE = Path(__file__).parent
MAX_FORM_BYTES = 16_384
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)  # style-src allows inline styles: KaTeX sizes its boxes with style attributes
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True
    )
    env.filters["pretty"] = _pretty
    env.filters["pct"] = lambda x: "–" if x is None else f"{100 * x:.1f}%"
    env.filters["urlq"] = lambda x: quote(str(x), safe="")
    return env


class ViewApp:
    """State of one served run: its index, the templates and the write token."""

    def __init__(self, run: RunDir, token: str | None = None) -> None:
        self.run = run
        self.index = RunIndex.open(run)
        self.env = _environment()
        self.token = token or secrets.token_urlsafe(32)
        self.user = _user()

    def render(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        template = self.env.get_template(name)
        html = template.render(run=str(self.run.root), token=self.token, request=request, **context)
        return HTMLResponse(html, status_code=status)

    def aggregates(self) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """The overview's counts over every row and the eval comparison, kept until a file
        changes. Called once at start-up too, so that the first page does not pay for them
        (McNemar's test imports scipy: about a second)."""
        data = self.index.memo("overview", queries.overview)
        evaluation = self.index.memo("eval", lambda db: queries.eval_summary(self.run, db))
        changes = self.index.memo("before_after", lambda db: queries.before_after(db, evaluation))
        return data, evaluation, changes

    # -- pages --------------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        data, evaluation, changes = self.aggregates()
        overrides = latest_overrides(self.run)
        return self.render(
            "overview.html",
            request,
            data=data,
            overrides=counts(overrides),
            plots=queries.plots(self.run),
            pair=evaluation["pair"],
            before_after=changes,
        )

    def questions(self, request: Request) -> Response:
        filters = queries.Filters.from_query(request.query_params)
        page = _int(request.query_params.get("page"), 1)
        overridden = set(latest_overrides(self.run)) if filters.overruled else set()
        with self.index.connect() as db:
            result = queries.question_page(db, filters, page, overridden)
        facets = self.index.memo("facets", queries.facets)
        return self.render("questions.html", request, filters=filters, page=result, facets=facets)

    def question(self, request: Request) -> Response:
        question_id = request.query_params.get("id", "")
        with self.index.connect() as db:
            detail = queries.question_detail(self.run, db, question_id, latest_overrides(self.run))
        if detail is None:
            return self.render(
                "error.html", request, 404, message=f"No question with id {question_id!r}."
            )
        saved = request.query_params.get("saved")
        return self.render("question.html", request, d=detail, saved=saved, user=self.user)

    def evaluation(self, request: Request) -> Response:
        summary = self.index.memo("eval", lambda db: queries.eval_summary(self.run, db))
        return self.render("eval.html", request, e=summary)

    def pair(self, request: Request) -> Response:
        benchmark = request.query_params.get("benchmark", "")
        question_id = request.query_params.get("id", "")
        with self.index.connect() as db:
            found = queries.predictions_of(self.run, db, benchmark, question_id)
        order = [d.name for d in eval_dirs(self.run)]
        columns = sorted(found.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)
        if not columns:
            return self.render("error.html", request, 404, message="No such prediction.")
        return self.render(
            "pair.html", request, benchmark=benchmark, question_id=question_id, columns=columns
        )

    def plot(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in queries.plots(self.run):  # only listed names: no path reaches elsewhere
            return Response("not found", status_code=404)
        return FileResponse(self.run.plots_dir / name, media_type="image/png")

    # -- the one write --------------------------------------------------------------------------
    async def override(self, request: Request) -> Response:
        refusal = _cross_site(request)
        if refusal:
            return self.render("error.html", request, 403, message=refusal)
        if request.headers.get("content-type", "").split(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            return self.render("error.html", request, 400, message="Expected a form.")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return self.render("error.html", request, 413, message="Form too large.")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not hmac.compare_digest(form.get("token", ""), self.token):
            return self.render("error.html", request, 403, message="Missing or wrong form token.")
        attempt_id, verdict = form.get("attempt_id", ""), form.get("verdict", "")
        with self.index.connect() as db:
            question_id = queries.attempt_question(db, attempt_id)
        if question_id is None:
            return self.render("error.html", request, 404, message="No such attempt.")
        if verdict not in ("correct", "wrong"):
            return self.render("error.html", request, 400, message="Choose correct or wrong.")
        try:
            add_override(
                self.run, attempt_id, verdict == "correct", form.get("reason", ""), form.get("who")
            )
        except InputError as exc:
            return self.render("error.html", request, 400, message=str(exc))
        target = f"/question?id={quote(question_id, safe='')}&saved={quote(attempt_id, safe='')}"
        return RedirectResponse(f"{target}#a-{quote(attempt_id, safe='')}", status_code=303)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _cross_site(request: Request) -> str | None:
    """Why a POST is refused as not same-origin, or None. Browsers send Origin on every POST
    (Referer as a fallback); Sec-Fetch-Site, when sent, must say same-origin."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site not in (None, "same-origin"):
        return f"Refused a {fetch_site} request: overrides are written from this app only."
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return "Refused a request without Origin or Referer."
    parts = urlsplit(origin)
    if parts.netloc != request.headers.get("host") or parts.scheme != request.url.scheme:
        return "Refused a request from another origin."
    return None


async def _headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def create_app(
    run_dir: RunDir | str | Path, host: str = "127.0.0.1", token: str | None = None
) -> Starlette:
    """The ASGI app for one run directory (indexed now, re-indexed when its files change)."""
    from starlette.middleware.base import BaseHTTPMiddleware

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.questions.exists():
        raise InputError("not a run directory (no questions.jsonl)", file=str(run.questions))
    view = ViewApp(run, token)
    view.aggregates()
    hosts = ["*"] if host in ("0.0.0.0", "::") else sorted({*LOOPBACK, host})
    routes = [
        Route("/", view.overview),
        Route("/questions", view.questions),
        Route("/question", view.question),
        Route("/eval", view.evaluation),
        Route("/eval/pair", view.pair),
        Route("/plots/{name}", view.plot),
        Route("/override", view.override, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
        Middleware(BaseHTTPMiddleware, dispatch=_headers),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.view = view
    return app
