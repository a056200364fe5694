"""Ingest: every format, every kind of bad row goes to rejected.jsonl with its place and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.errors import InputError
from sciinstruct.ingest import IngestOptions, ingest, parse_mapping
from sciinstruct.jsonl import read_jsonl
from sciinstruct.rundir import RunDir

GOOD = [
    {"question": "A car accelerates at 2 m/s^2 for 3 s from rest. Final speed?", "answer": "6 m/s"},
    {"question": "Molar mass of water?", "answer": "18.015 g/mol", "subject": "Chemistry"},
    {
        "question": "Which is a noble gas?",
        "answer": "B",
        "answer_type": "choice",
        "choices": ["N", "Ar"],
    },
]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rejected(run: RunDir) -> list[dict]:
    return list(read_jsonl(run.rejected))


def test_jsonl_good_rows_are_accepted_with_stable_ids(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    result = ingest(write_jsonl(tmp_path / "q.jsonl", GOOD), run)
    assert (result.read, result.accepted, result.rejected) == (3, 3, [])
    questions = list(read_jsonl(run.questions))
    assert [q["subject"] for q in questions] == ["unknown", "chemistry", "unknown"]
    assert questions[0]["source"] == "q"
    # a re-run adds nothing and says so
    again = ingest(tmp_path / "q.jsonl", run)
    assert (again.accepted, again.already_present) == (0, 3)
    assert len(list(read_jsonl(run.questions))) == 3
    assert run.read_stats()["ingest"]["questions"] == 3


def test_missing_fields_and_wrong_types_are_rejected_with_field(tmp_path: Path) -> None:
    rows = [
        GOOD[0],
        {"answer": "1"},
        {"question": "q2", "answer": {"value": 1}},
        {"question": "q3", "answer": "1", "choices": "[not json"},
        {"question": "q4", "answer": 42},  # a number answer is fine as text
        {"question": "q5", "answer": "1", "answer_type": "essay"},
        {"question": True, "answer": "1"},
    ]
    run = RunDir(tmp_path / "run")
    result = ingest(write_jsonl(tmp_path / "q.jsonl", rows), run)
    assert result.accepted == 2
    got = [(r["line"], r["field"]) for r in rejected(run)]
    assert got == [
        (2, "question"),
        (3, "answer"),
        (4, "choices"),
        (6, "answer_type"),
        (7, "question"),
    ]
    assert rejected(run)[0]["reason"] == "missing required field"
    assert rejected(run)[1]["reason"] == "expected a string, got dict"
    assert list(read_jsonl(run.questions))[1]["answer"] == "42"


def test_non_utf8_line_is_rejected_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(
        json.dumps(GOOD[0]).encode()
        + b"\n"
        + b'{"question": "caf\xe9", "answer": "1"}\n'
        + json.dumps(GOOD[1]).encode()
        + b"\n"
    )
    run = RunDir(tmp_path / "run")
    result = ingest(path, run)
    assert result.accepted == 2
    [bad] = rejected(run)
    assert bad["line"] == 2
    assert bad["reason"].startswith("not UTF-8 (byte 0xe9")


def test_truncated_last_line_is_rejected_as_truncated(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(GOOD[0]) + "\n" + '{"question": "cut', encoding="utf-8")
    run = RunDir(tmp_path / "run")
    result = ingest(path, run)
    assert result.accepted == 1
    assert rejected(run)[0]["line"] == 2
    assert rejected(run)[0]["reason"].startswith("truncated last line")


def test_empty_file_is_an_error_that_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(InputError, match=r"empty\.jsonl: the file is empty"):
        ingest(path, RunDir(tmp_path / "run"))
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    with pytest.raises(InputError, match="no rows found"):
        ingest(blank, RunDir(tmp_path / "run"))


def test_duplicate_ids_in_one_file_are_rejected_pointing_to_the_first(tmp_path: Path) -> None:
    rows = [
        {"id": "q1", "question": "a?", "answer": "1"},
        {"id": "q2", "question": "b?", "answer": "2"},
        {"id": "q1", "question": "c?", "answer": "3"},
    ]
    run = RunDir(tmp_path / "run")
    result = ingest(write_jsonl(tmp_path / "q.jsonl", rows), run)
    assert result.accepted == 2
    [bad] = rejected(run)
    assert (bad["line"], bad["field"]) == (3, "id")
    assert "first on line 1" in bad["reason"]


def test_same_id_with_other_content_in_a_later_file_is_rejected(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    ingest(write_jsonl(tmp_path / "a.jsonl", [{"id": "q1", "question": "a?", "answer": "1"}]), run)
    result = ingest(
        write_jsonl(tmp_path / "b.jsonl", [{"id": "q1", "question": "z?", "answer": "9"}]), run
    )
    assert result.accepted == 0
    assert "already in the run with other content" in rejected(run)[0]["reason"]


def test_mapping_and_unknown_columns_go_to_metadata(tmp_path: Path) -> None:
    rows = [{"problem": "What is 3*4?", "final": 12, "level": "Level 1", "type": "Algebra"}]
    run = RunDir(tmp_path / "run")
    ingest(
        write_jsonl(tmp_path / "math.jsonl", rows),
        run,
        IngestOptions(map="question=problem,answer=final", subject="math"),
    )
    [q] = list(read_jsonl(run.questions))
    assert (q["question"], q["answer"], q["subject"]) == ("What is 3*4?", "12", "math")
    assert q["metadata"] == {"level": "Level 1", "type": "Algebra"}


def test_mapping_errors_say_what_is_expected() -> None:
    with pytest.raises(InputError, match="expected OURS=THEIRS"):
        parse_mapping("question")
    with pytest.raises(InputError, match="'prompt' is not a question field"):
        parse_mapping("prompt=problem")


def test_csv_with_choices_and_a_ragged_row(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "question,answer,answer_type,choices\n"
        '"Which, of these, is a metal?",A,choice,Fe|O|N\n'
        "What is 1+1?,2,numeric\n"
        "too,many,cells,x,y\n",
        encoding="utf-8",
    )
    run = RunDir(tmp_path / "run")
    result = ingest(path, run)
    assert result.accepted == 2
    questions = list(read_jsonl(run.questions))
    assert questions[0]["choices"] == ["Fe", "O", "N"]
    assert questions[0]["question"] == "Which, of these, is a metal?"
    assert rejected(run)[0]["line"] == 4


def test_parquet_and_hf_dataset_dir(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"question": ["q1?", "q2?", None], "answer": ["1", "2", "3"]})
    pq.write_table(table, tmp_path / "q.parquet")
    run = RunDir(tmp_path / "run")
    result = ingest(tmp_path / "q.parquet", run)
    assert result.accepted == 2
    assert (rejected(run)[0]["line"], rejected(run)[0]["field"]) == (3, "question")

    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict(
        {
            "test": datasets.Dataset.from_dict(
                {"problem": ["p1?", "p2?"], "solution": ["s", "t"], "ans": ["7", "8"]}
            )
        }
    )
    dd.save_to_disk(str(tmp_path / "hf"))
    run2 = RunDir(tmp_path / "run2")
    result = ingest(tmp_path / "hf", run2, IngestOptions(map="question=problem,answer=ans"))
    assert result.accepted == 2
    assert [q["solution"] for q in read_jsonl(run2.questions)] == ["s", "t"]


def test_cli_ingest_prints_summary_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = write_jsonl(tmp_path / "q.jsonl", [GOOD[0], {"answer": "x"}])
    run = tmp_path / "run"
    assert main(["ingest", str(path), "--run", str(run)]) == 0
    out = capsys.readouterr()
    assert "ingested 1 question(s)" in out.out and "1 rejected" in out.out
    assert "q.jsonl:2 field 'question': missing required field" in out.err
    assert main(["ingest", str(path), "--run", str(run), "--strict"]) == 2
    assert main(["ingest", str(tmp_path / "nope.jsonl"), "--run", str(run)]) == 2
    assert "nope.jsonl: no such file or directory" in capsys.readouterr().err
    assert main(["ingest", str(path), "--run", str(run), "--map", "bogus"]) == 2


def test_text_fields_refuse_numbers_lists_bools_nul_bytes_and_blobs(tmp_path: Path) -> None:
    rows = [
        GOOD[0],
        {"question": 17, "answer": "x"},  # a wrong --map: the question "17" means nothing
        {"question": ["What", "is"], "answer": "x"},
        {"question": "Speed?", "answer": "3", "unit": 5},
        {"question": "Speed?", "answer": "3", "solution": {"steps": []}},
        {"question": "Speed?", "answer": False},
        {"question": "Speed?", "answer": float("nan")},
        {"question": "Spe\u0000ed?", "answer": "3"},
        {"question": "x" * 100_001, "answer": "3"},
        {"question": "Speed?", "answer": "3", "unit": 10**400},
        {"question": "Pick one", "answer": "A", "choices": [True, False]},
        {"question": "Count?", "answer": 42, "id": 7},  # numbers are fine for answer and id
    ]
    path = tmp_path / "q.jsonl"
    lines = [json.dumps(r) for r in rows] + ['{"question": "Big?", "answer": ' + "9" * 5000 + "}"]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    run = RunDir(tmp_path / "run")
    result = ingest(path, run)
    assert result.accepted == 2
    got = [(r["file"], r["line"], r["field"], r["reason"]) for r in rejected(run)[:-1]]
    assert got == [
        (str(path), 2, "question", "expected a string, got int 17"),
        (str(path), 3, "question", "expected a string, got list"),
        (str(path), 4, "unit", "expected a string, got int 5"),
        (str(path), 5, "solution", "expected a string, got dict"),
        (str(path), 6, "answer", "expected a string, got bool False"),
        (str(path), 7, "answer", "expected a string, got float nan"),
        (str(path), 8, "question", "contains a NUL byte at character 4"),
        (str(path), 9, "question", "100,001 characters, over the 100,000 limit"),
        (str(path), 10, "unit", "expected a string, got int"),  # 400 digits: not shown
        (str(path), 11, "choices", "expected a list of strings"),
    ]
    # an integer too long for Python to read at all: the row is refused, the file goes on
    assert rejected(run)[-1]["line"] == 13 and "4300 digits" in rejected(run)[-1]["reason"]
    last = list(read_jsonl(run.questions))[-1]
    assert (last["id"], last["answer"]) == ("7", "42")


def test_parquet_number_column_where_text_is_required_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "q.parquet"
    pq.write_table(pa.table({"question": [1, 2], "answer": ["a", "b"]}), path)
    run = RunDir(tmp_path / "run")
    result = ingest(path, run)
    assert result.accepted == 0
    assert [(r["line"], r["field"], r["reason"]) for r in rejected(run)] == [
        (1, "question", "expected a string, got int 1"),
        (2, "question", "expected a string, got int 2"),
    ]


def test_a_byte_order_mark_at_the_start_of_a_file_is_not_data(tmp_path: Path) -> None:
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD[0]).encode() + b"\n")
    csv_file = tmp_path / "q.csv"
    csv_file.write_bytes(b"\xef\xbb\xbfquestion,answer\nWhat is 2+2?,4\n")
    run = RunDir(tmp_path / "run")
    assert ingest(jsonl, run).accepted == 1
    assert ingest(csv_file, run).accepted == 1
    assert rejected(run) == []
