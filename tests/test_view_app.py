"""`sciinstruct view` without a browser: what each page finds, the write guards, the index, and
overrides in `curate`, `export` and the `override` command."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.curate import CurateConfig, curate, read_dropped
from sciinstruct.curate.overrides import add_override, latest_overrides
from sciinstruct.errors import InputError
from sciinstruct.export import export_run
from sciinstruct.jsonl import JsonlWriter, read_jsonl, write_jsonl
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.rundir import RunDir
from view_helpers import build_run

pytest.importorskip("starlette", reason="pip install 'sciinstruct[view]'")
from starlette.testclient import TestClient  # noqa: E402

from sciinstruct.view.app import create_app  # noqa: E402

ORIGIN = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> RunDir:
    return build_run(tmp_path_factory.mktemp("view") / "run")


@pytest.fixture
def run(built: RunDir, tmp_path: Path) -> RunDir:
    """A private copy of the built run, so that tests may write to it."""
    import shutil

    shutil.copytree(built.root, tmp_path / "run")
    return RunDir(tmp_path / "run")


def client(run: RunDir) -> TestClient:
    return TestClient(create_app(run, token="t0ken"), base_url=ORIGIN)


def attempt_of(run: RunDir, question_id: str, stage: str) -> dict:
    return next(
        r
        for r in read_jsonl(run.attempts)
        if r["question_id"] == question_id and r["stage"] == stage
    )


def kept_attempts(run: RunDir) -> set[str]:
    return {s["provenance"]["attempt_ids"][-1] for s in read_jsonl(run.samples)}


def test_pages_show_the_run(run):
    c = client(run)
    overview = c.get("/").text
    assert re.search(r"<b>8</b> attempts", overview) and re.search(r"<b>5</b> samples", overview)
    # the judge scored the easy question's right answer 2/10: one disagreement
    assert re.search(r'href="/questions\?disagree=1"><b>1</b>', overview)
    assert '<td>solved by reflect (cumulative)</td><td class="num">4</td>' in overview

    page = c.get("/questions", params={"disagree": "1"}).text
    assert "1 questions" in page and "/question?id=easy" in page
    page = c.get("/questions", params={"q": "13 TIMES"}).text  # case-insensitive search
    assert "1 questions" in page and "/question?id=hard" in page
    page = c.get("/questions", params={"q": "100%_"}).text  # LIKE wildcards are literal
    assert "0 questions" in page

    evaluation = c.get("/eval").text
    assert "1 gained, 1 lost" in evaluation
    gained = evaluation.split("<h4>gained")[1].split("<h4>lost")[0]
    assert "id=fixable" in gained and "id=physics" not in gained
    pair = c.get("/eval/pair", params={"benchmark": "run-heldout", "id": "physics"}).text
    assert pair.index("<h2>base</h2>") < pair.index("<h2>tuned</h2>")
    assert "\\boxed{5}" in pair and "\\boxed{3}" in pair


def test_questions_are_paginated_in_input_order(tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(
        run.questions,
        [Question(id=f"q{i:03d}", question=f"Question number {i}", answer="1") for i in range(120)],
    )
    c = client(run)
    first = c.get("/questions").text
    assert "120 questions, page 1 of 3" in first
    assert first.index("id=q000") < first.index("id=q049") and "id=q050" not in first
    last = c.get("/questions", params={"page": "3"}).text
    assert "id=q100" in last and "id=q119" in last and "id=q099" not in last
    assert "page 3 of 3" in c.get("/questions", params={"page": "99"}).text  # clamped


def test_writes_need_the_token_and_the_same_origin(run):
    c = client(run)
    aid = attempt_of(run, "hard", "hinted")["id"]
    form = {"attempt_id": aid, "verdict": "wrong", "reason": "r", "token": "t0ken"}
    same = {"Origin": ORIGIN}
    assert c.post("/override", data={**form, "token": "nope"}, headers=same).status_code == 403
    assert c.post("/override", data={**form, "token": ""}, headers=same).status_code == 403
    evil = {"Origin": "http://evil.example"}
    assert c.post("/override", data=form, headers=evil).status_code == 403
    assert c.post("/override", data=form).status_code == 403  # no Origin, no Referer
    cross = {**same, "Sec-Fetch-Site": "cross-site"}
    assert c.post("/override", data=form, headers=cross).status_code == 403
    assert c.get("/override").status_code == 405
    assert not run.overrides.exists()

    bad = {**form, "verdict": "maybe"}
    assert c.post("/override", data=bad, headers=same).status_code == 400
    blank = {**form, "reason": "  "}
    assert c.post("/override", data=blank, headers=same).status_code == 400
    unknown = {**form, "attempt_id": "../../etc/passwd"}
    assert c.post("/override", data=unknown, headers=same).status_code == 404
    assert not run.overrides.exists()

    ok = c.post("/override", data=form, headers=same, follow_redirects=False)
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/question?id=hard&saved={aid}#a-{aid}"
    (row,) = read_jsonl(run.overrides)
    assert (row["attempt_id"], row["verdict"], row["reason"]) == (aid, "wrong", "r")


def test_no_file_outside_the_listed_plots_is_served(run):
    c = client(run)
    assert c.get("/plots/funnel.png").headers["content-type"] == "image/png"
    (run.root / "secret.png").write_bytes(b"x")
    for name in ("..%2Fsecret.png", "..%2Fstats.json", "%2Fetc%2Fpasswd", "stats.json"):
        assert c.get(f"/plots/{name}").status_code == 404, name
    assert c.get("/static/../stats.json").status_code == 404
    assert c.get("/question", params={"id": "../questions.jsonl"}).status_code == 404


def test_host_header_must_name_the_server(run):
    c = client(run)
    assert c.get("/", headers={"Host": "attacker.example"}).status_code == 400
    assert c.get("/", headers={"Host": "localhost:8765"}).status_code == 200


def test_security_headers(run):
    response = client(run).get("/question", params={"id": "hostile"})
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>window" not in response.text and "&lt;script&gt;window" in response.text


def test_index_is_rebuilt_when_a_file_changes_and_not_before(run):
    c = client(run)
    index = c.app.state.view.index
    assert index.path == run.view_index and run.view_index.exists()
    assert not index.refresh()  # nothing changed
    before = c.get("/questions").text
    assert "5 questions" in before
    with JsonlWriter(run.questions) as writer:
        writer.write(Question(id="new", question="A sixth question", answer="1").to_json_dict())
    assert "6 questions" in c.get("/questions").text
    assert not index.refresh()


def test_read_only_run_keeps_its_index_in_the_temp_folder(run):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    run.view_index.unlink(missing_ok=True)
    os.chmod(run.root, 0o555)
    try:
        index = client(run).app.state.view.index
        assert index.path.parent != run.root and index.path.exists()
    finally:
        os.chmod(run.root, 0o755)


def test_override_command_and_curate_from_attempts(run, capsys):
    hinted = attempt_of(run, "hard", "hinted")["id"]
    wrong_cot = attempt_of(run, "fixable", "cot")["id"]
    assert hinted in kept_attempts(run) and wrong_cot not in kept_attempts(run)

    code = main(["override", str(run.root), hinted, "--wrong", "--reason", "copies the hint"])
    assert code == 0 and "correct -> wrong" in capsys.readouterr().out
    assert main(["override", str(run.root), wrong_cot, "--correct", "--reason", "typo"]) == 0
    assert main(["override", str(run.root), "nope", "--correct", "--reason", "x"]) == 2
    assert "no attempt with id 'nope'" in capsys.readouterr().err
    assert main(["override", str(run.root), hinted, "--reason", "x"]) == 2  # no verdict

    stats = curate(run, CurateConfig(near_dup=False))
    assert hinted not in kept_attempts(run) and wrong_cot in kept_attempts(run)
    assert stats["overrides"] == {"correct": 1, "wrong": 1}
    # the reviewer changes their mind: the last row wins
    add_override(run, hinted, True, "on reflection it derives it", "r2")
    curate(run, CurateConfig(near_dup=False))
    assert hinted in kept_attempts(run)
    assert len(list(read_jsonl(run.overrides))) == 3 and latest_overrides(run)[hinted].correct


def test_curate_after_filter_honours_overrides(run):
    # `filter` kept these candidates; the reviewer then disagrees with one and adds another
    samples = [Sample.model_validate(r) for r in read_jsonl(run.samples)]
    write_jsonl(run.filtered, samples)
    hinted = attempt_of(run, "hard", "hinted")["id"]
    wrong_cot = attempt_of(run, "fixable", "cot")["id"]
    add_override(run, hinted, False, "copies the hint", "r")
    add_override(run, wrong_cot, True, "typo", "r")
    stats = curate(run, CurateConfig(near_dup=False))
    assert stats["candidates_from"] == "filter"
    assert hinted not in kept_attempts(run) and wrong_cot in kept_attempts(run)
    (drop,) = [r for r in read_dropped(run.dropped) if r["reason"] == "overruled_wrong"]
    assert drop["record"]["provenance"]["attempt_ids"][-1] == hinted
    assert drop["detail"]["override"]["reason"] == "copies the hint"


def test_export_drops_solutions_overruled_after_curate(run):
    hinted = attempt_of(run, "hard", "hinted")
    export_run(run, ["sft", "dpo"], parquet=False)
    sft = list(read_jsonl(run.export_dir / "sft.jsonl"))
    assert any(r["question_id"] == "hard" for r in sft)

    add_override(run, hinted["id"], False, "copies the hint", "r")
    export_run(run, ["sft", "dpo"], parquet=False)
    sft = list(read_jsonl(run.export_dir / "sft.jsonl"))
    assert [r["question_id"] for r in sft if r["question_id"] == "hard"] == []
    assert len(sft) == 4


def test_overrides_never_touch_attempts_and_bad_rows_are_named(run):
    before = run.attempts.read_bytes()
    add_override(run, attempt_of(run, "easy", "cot")["id"], False, "lucky", "r")
    assert run.attempts.read_bytes() == before
    with open(run.overrides, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"attempt_id": "x", "verdict": "maybe"}) + "\n")
    with pytest.raises(InputError, match=r"overrides.jsonl:2.*'verdict'"):
        latest_overrides(run)


def test_view_command_refuses_a_folder_without_questions(tmp_path, capsys):
    assert main(["view", str(tmp_path)]) == 2
    assert "no questions.jsonl" in capsys.readouterr().err


def test_apply_overrides_keeps_the_graders_verdict(run):
    from sciinstruct.curate.overrides import apply_overrides

    row = attempt_of(run, "hard", "hinted")
    add_override(run, row["id"], False, "copies the hint", "r")
    (changed,) = apply_overrides([Attempt.model_validate(row)], latest_overrides(run))
    assert changed.correct is False and changed.metadata["override"]["grader"] is True
    assert changed.grade_reason == "overruled wrong by r: copies the hint"


def test_the_demo_prints_the_view_command():
    from sciinstruct.cli.run import view_command

    assert view_command(Path("demo-run")) == "sciinstruct view demo-run"
    assert view_command(Path("my runs/a")) == "sciinstruct view 'my runs/a'"
