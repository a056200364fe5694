"""`sciinstruct view` in a real headless Chromium: review a run, overrule a verdict, and check
that hostile model text runs no script.

Needs Debian's chromium (/usr/bin/chromium) and the `playwright` Python package (driven at that
binary; `playwright install` is never used). `make test` installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sciinstruct.curate import CurateConfig, curate
from sciinstruct.jsonl import read_jsonl
from sciinstruct.rundir import RunDir
from view_helpers import HOSTILE, build_run

CHROMIUM = os.environ.get("SCIINSTRUCT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
pytest.importorskip("playwright.sync_api", reason="pip install playwright (make test does)")
if not shutil.which(CHROMIUM):
    pytest.skip(
        f"no {CHROMIUM}: apt-get install chromium (make test does)", allow_module_level=True
    )


class Server:
    """The view app under uvicorn on a free loopback port, in a thread of the test process."""

    def __init__(self, run: RunDir) -> None:
        import uvicorn

        from sciinstruct.view.app import create_app

        self.sock = socket.socket()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(run), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the view server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    # In a thread: Playwright's sync API keeps an event loop running on this one, and the
    # stages that build the run start their own with asyncio.run.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(build_run, tmp_path / "run").result()


def _page(browser, errors: list[str]):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return page


def _navigate(page, action) -> None:
    """Do `action` and wait for the page it opens: a click only starts a navigation, and a
    locator read at once could see the old page."""
    with page.expect_navigation():
        action()


def test_review_a_run_and_overrule_a_verdict(browser, run, tmp_path):
    errors: list[str] = []
    hard = [r for r in read_jsonl(run.attempts) if r["question_id"] == "hard"]
    hinted = next(r for r in hard if r["stage"] == "hinted")
    fixable_cot = next(
        r for r in read_jsonl(run.attempts) if r["question_id"] == "fixable" and r["stage"] == "cot"
    )
    kept = {s["provenance"]["attempt_ids"][-1] for s in read_jsonl(run.samples)}
    assert hinted["id"] in kept and fixable_cot["id"] not in kept  # what the overrides change

    with Server(run) as server:
        page = _page(browser, errors)
        page.goto(server.url + "/")
        assert page.locator("h1").inner_text() == "Overview"
        funnel = page.locator("table.funnel").inner_text()
        assert "questions\t5" in funnel and "solved by hinted (cumulative)\t5" in funnel
        assert "0 overrides" in page.locator("#overrides").inner_text()
        assert page.locator("#before-after").count() == 1
        assert page.locator(".plots img").count() >= 3

        # filter: the questions table, then one subject, then solved by hinted
        _navigate(page, lambda: page.click("text=Questions"))
        assert page.locator("#count").inner_text().startswith("5 questions")
        page.select_option("select[name=subject]", "physics")
        _navigate(page, lambda: page.click("#filters button"))
        assert page.locator("#count").inner_text().startswith("1 questions")
        assert "10 N" in page.locator("table.questions tbody").inner_text()
        page.goto(server.url + "/questions")
        page.select_option("select[name=solved]", "hinted")
        _navigate(page, lambda: page.click("#filters button"))
        rows = page.locator("table.questions tbody tr")
        assert rows.count() == 1 and "7 times 13 times 19" in rows.inner_text()

        # a question's chain: cot, the reflect under it, the hinted under that; math typeset
        _navigate(page, lambda: rows.locator("a").first.click())
        page.wait_for_selector("body[data-math=done]")
        stages = page.locator("article.attempt .stage").all_inner_texts()
        assert [s.split()[0].lower() for s in stages] == ["cot", "reflect", "hinted"]
        assert page.locator("article.attempt.depth-1.stage-reflect").count() == 1
        assert page.locator("article.attempt.depth-2.stage-hinted").count() == 1
        # "$7 \times 13 = 91$" and the bare "\boxed{1729}" of the hinted solution
        assert page.locator("article.stage-hinted .response .katex").count() == 2
        shot = Path(os.environ.get("SCIINSTRUCT_VIEW_SCREENSHOT", tmp_path / "question.png"))
        page.screenshot(path=str(shot), full_page=True)

        # overrule: the hinted solution is wrong after all
        card = page.locator(f"#a-{hinted['id']}")
        assert "kept" in card.locator("dd.sample").inner_text()
        card.locator("input[value=wrong]").check()
        card.locator("input[name=reason]").fill("copies the hint without deriving it")
        card.locator("input[name=who]").fill("reviewer-1")
        card.locator("button[type=submit]").click()
        page.wait_for_selector("#saved")
        card = page.locator(f"#a-{hinted['id']}")
        assert "wrong by reviewer-1" in card.locator("dd.override").inner_text()

        # and a wrong cot attempt of another question is right after all
        page.goto(server.url + "/question?id=fixable")
        card = page.locator(f"#a-{fixable_cot['id']}")
        card.locator("input[value=correct]").check()
        card.locator("input[name=reason]").fill("36 is a typo for 42 in the last line")
        card.locator("button[type=submit]").click()
        page.wait_for_selector("#saved")

        page.goto(server.url + "/")
        assert "2 overrides" in page.locator("#overrides").inner_text()
        page.goto(server.url + "/questions?overruled=1")
        assert page.locator("#count").inner_text().startswith("2 questions")

    rows = list(read_jsonl(run.overrides))
    assert [(r["attempt_id"], r["verdict"], r["who"]) for r in rows] == [
        (hinted["id"], "wrong", "reviewer-1"),
        (fixable_cot["id"], "correct", rows[1]["who"]),
    ]
    assert rows[0]["reason"] == "copies the hint without deriving it" and rows[0]["when"]
    before = run.attempts.read_bytes()

    stats = curate(run, CurateConfig(near_dup=False))
    kept = {s["provenance"]["attempt_ids"][-1] for s in read_jsonl(run.samples)}
    assert hinted["id"] not in kept and fixable_cot["id"] in kept
    assert stats["overrides"] == {"correct": 1, "wrong": 1}
    assert run.attempts.read_bytes() == before  # overrides never edit attempts.jsonl
    assert errors == []


def test_hostile_model_text_runs_no_script(browser, run):
    errors: list[str] = []
    page = _page(browser, errors)
    # The payload is live: rendered as HTML it does run. (Without this, the test could pass
    # with a payload that never ran anywhere.)
    page.set_content(f"<body>{HOSTILE}</body>")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is not None

    with Server(run) as server:
        page = _page(browser, errors)
        urls = [
            "/",
            "/questions",
            "/questions?q=script",
            "/question?id=hostile",
            "/question?id=easy",  # the judge's critique there is hostile
            "/eval",
            "/eval/pair?benchmark=run-heldout&id=hostile",
        ]
        for url in urls:
            page.goto(server.url + url)
            page.wait_for_load_state("load")
            page.wait_for_timeout(100)
            assert page.evaluate("window.__pwned") is None, url
            # the links in the hostile text must not exist as links
            assert page.locator("a[href^='javascript:']").count() == 0, url
        page.goto(server.url + "/question?id=hostile")
        text = page.locator("article.attempt .response").first.inner_text()
        assert '<script>window.__pwned = "script"</script>' in text  # shown, as text
        page.goto(server.url + "/question?id=easy")
        assert "onerror=" in page.locator("dd.critique").text_content()
    assert errors == []
