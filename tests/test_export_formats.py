"""`export`: the four formats, loadable by `datasets` and accepted by TRL's data utilities."""

from __future__ import annotations

import json
import sqlite3
import statistics
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sciinstruct.curate import (
    CurateConfig,
    curate,
    iter_attempts,
    iter_records,
    load_critique_scores,
)
from sciinstruct.errors import InputError
from sciinstruct.export import ExportOptions, export_run
from sciinstruct.export.card import FormatStats
from sciinstruct.export.chat_formats import dpo_rows, rft_rows
from sciinstruct.export.writer import write_parquet
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.rundir import RunDir


def att(aid: str, qid: str, response: str, correct: bool | None, stage: str = "cot") -> Attempt:
    return Attempt(
        id=aid,
        question_id=qid,
        stage=stage,
        messages=[{"role": "user", "content": "p"}],  # type: ignore[arg-type]
        response=response,
        correct=correct,
    )


@pytest.fixture()
def run(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(
        run.questions,
        [
            Question(
                id="q1",
                question="What is 2 + 3?",
                answer="5",
                answer_type="numeric",
                subject="math",
            ),
            Question(
                id="q2",
                question="Speed of an object after 2 s of free fall?",
                answer="19.6",
                unit="m/s",
                answer_type="numeric",
                subject="physics",
            ),
            Question(
                id="q3",
                question="Which gas do plants absorb?",
                answer="B",
                answer_type="choice",
                choices=["Oxygen", "Carbon dioxide"],
                subject="biology",
            ),
            Question(
                id="q4", question="What is 2 + 3?", answer="5", subject="math"
            ),  # duplicate of q1
        ],
    )
    write_jsonl(
        run.attempts,
        [
            att("a1", "q1", "2 plus 3 makes 5. The answer is \\boxed{5}.", True),
            att("a2", "q1", "Adding the two numbers gives five, so \\boxed{5}.", True),
            att("a3", "q1", "2 + 3 = 6, so \\boxed{6}.", False),
            att("a4", "q2", "v = g t = 9.8 * 2 = 19.6 m/s.", True),
            att("a5", "q2", "v = g t^2 = 39.2 m/s.", False),
            att("a6", "q2", "v = 19.6 m/s using the hint.", True, stage="hinted"),
            att("a7", "q3", "Plants take in carbon dioxide: B.", True),
            att("a8", "q4", "It is 5.", True),
        ],
    )
    write_jsonl(
        run.critiques,
        [
            {
                "id": "c1",
                "attempt_id": "a1",
                "question_id": "q1",
                "score": 9,
                "explanation": "",
                "raw": "",
                "judge_model": "j",
                "usage": {},
            },
            {
                "id": "c2",
                "attempt_id": "a2",
                "question_id": "q1",
                "score": 5,
                "explanation": "",
                "raw": "",
                "judge_model": "j",
                "usage": {},
            },
            {
                "id": "c4",
                "attempt_id": "a4",
                "question_id": "q2",
                "score": None,
                "explanation": "",
                "raw": "",
                "judge_model": "j",
                "usage": {},
            },
        ],
    )
    curate(run, CurateConfig(max_per_question=1))
    return run


def test_export_rows_follow_the_contract(run: RunDir) -> None:
    stats = export_run(run, ["sft", "rft", "dpo", "grpo"], ExportOptions(rft_k=4))
    sft = list(read_jsonl(run.export_dir / "sft.jsonl"))
    # q4 is a duplicate of q1; each remaining question keeps its best solution (cap 1)
    assert [(r["question_id"], r["stage"]) for r in sft] == [
        ("q1", "cot"),
        ("q2", "cot"),
        ("q3", "cot"),
    ]
    assert sft[0]["messages"][1]["content"].startswith("2 plus 3") and sft[0]["weight"] == 1.0
    assert sft[2]["messages"][0]["content"].endswith("A. Oxygen\nB. Carbon dioxide")
    rft = list(read_jsonl(run.export_dir / "rft.jsonl"))
    assert sorted(r["question_id"] for r in rft) == ["q1", "q1", "q2", "q2", "q3"]  # cap lifted
    dpo = list(read_jsonl(run.export_dir / "dpo.jsonl"))
    assert [(r["question_id"], r["rejected"][0]["content"][:9]) for r in dpo] == [
        ("q1", "2 + 3 = 6"),
        ("q2", "v = g t^2"),
    ]
    assert dpo[0]["prompt"] == [{"role": "user", "content": "What is 2 + 3?"}]
    assert dpo[0]["chosen"][0]["role"] == "assistant"
    grpo = list(read_jsonl(run.export_dir / "grpo.jsonl"))
    assert [r["question_id"] for r in grpo] == ["q1", "q2", "q3"]  # q4 dropped as a duplicate
    assert grpo[1] == {
        "prompt": [{"role": "user", "content": "Speed of an object after 2 s of free fall?"}],
        "answer": "19.6",
        "answer_type": "numeric",
        "unit": "m/s",
        "choices": None,
        "metadata": "{}",
        "question_id": "q2",
        "subject": "physics",
    }
    # the option texts and metadata reach the reward functions (an option's text grades right)
    assert grpo[2]["choices"] == ["Oxygen", "Carbon dioxide"] and grpo[2]["answer"] == "B"
    assert {k: v["rows"] for k, v in stats.items()} == {"sft": 3, "rft": 5, "dpo": 2, "grpo": 3}
    assert json.loads(run.stats.read_text())["export"]["dpo"]["files"] == [
        "dpo.jsonl",
        "dpo.parquet",
    ]
    card = (run.export_dir / "README.md").read_text()
    assert "config_name: grpo" in card and "| rows | 5 |" in card and "exact_dup_question" in card
    assert "`choices`" in card and "`metadata`" in card


def test_dpo_critique_thresholds(run: RunDir) -> None:
    # a2 (critique 5) is not good enough to be chosen at chosen_min 6, a1 (9) is; with
    # rejected_max 5, a2 also counts as rejected for q1
    export_run(run, ["dpo"], ExportOptions(chosen_min=6, rejected_max=5, dpo_pairs=3))
    dpo = list(read_jsonl(run.export_dir / "dpo.jsonl"))
    assert [r["question_id"] for r in dpo] == ["q1", "q2"]


def test_files_load_with_datasets_and_trl_utilities(run: RunDir) -> None:
    datasets = pytest.importorskip("datasets")
    data_utils = pytest.importorskip("trl.data_utils")
    from transformers import AutoTokenizer

    from sciinstruct.embedded_model import hf_model_dir

    export_run(run, ["sft", "rft", "dpo", "grpo"])
    tokenizer = AutoTokenizer.from_pretrained(hf_model_dir())
    for fmt, rows in (("sft", 3), ("rft", 5), ("dpo", 2), ("grpo", 3)):
        for kind in ("json", "parquet"):
            path = run.export_dir / f"{fmt}.{kind if kind == 'parquet' else 'jsonl'}"
            ds = datasets.load_dataset(kind, data_files=str(path), split="train")
            assert len(ds) == rows
            assert data_utils.is_conversational(ds[0])
            out = data_utils.apply_chat_template(ds[0], tokenizer)
            key = "text" if fmt in ("sft", "rft") else "prompt"
            assert "<|im_start|>user" in out[key]
            if fmt == "dpo":
                assert out["chosen"].strip() and out["rejected"].strip()


def test_unknown_format_and_missing_samples(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "empty").ensure()
    with pytest.raises(InputError, match="unknown export format 'kto'"):
        export_run(run, ["kto"])
    with pytest.raises(InputError, match="run `sciinstruct curate` first"):
        export_run(run, ["sft"])


@pytest.mark.slow
@pytest.mark.train
def test_trl_trainers_prepare_the_exported_files(run: RunDir, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    import torch

    from sciinstruct.embedded_model import hf_model_dir

    export_run(run, ["sft", "dpo"], parquet=False)

    def load(fmt: str) -> object:
        return datasets.load_dataset(
            "json", data_files=str(run.export_dir / f"{fmt}.jsonl"), split="train"
        )

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # shared 2-core machine: spinning OpenMP threads only slow it down
    try:
        common = {"report_to": [], "use_cpu": True, "max_steps": 1}
        sft = trl.SFTTrainer(
            model=str(hf_model_dir()),
            args=trl.SFTConfig(output_dir=str(tmp_path / "sft"), **common),
            train_dataset=load("sft"),
        )
        assert len(sft.train_dataset) == 3
        assert len(sft.train_dataset[0]["input_ids"]) > 10  # chat template applied, tokenized
        dpo = trl.DPOTrainer(
            model=sft.model,
            args=trl.DPOConfig(output_dir=str(tmp_path / "dpo"), **common),
            train_dataset=load("dpo"),
            processing_class=sft.processing_class,
        )
        assert len(dpo.train_dataset) == 2
        assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(dpo.train_dataset.column_names)
        assert len(dpo.train_dataset[0]["rejected_ids"]) > 3
    finally:
        torch.set_num_threads(threads)


def test_dpo_and_rft_rows_wait_in_sqlite_not_in_memory(run: RunDir, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "scratch.sqlite")
    questions = iter_records(run.questions, Question)
    samples = iter_records(run.samples, Sample)
    dpo = list(
        dpo_rows(
            questions,
            samples,
            iter_attempts(run.attempts),
            load_critique_scores(run.critiques),
            ExportOptions(),
            db,
        )
    )
    assert [r["question_id"] for r in dpo] == ["q1", "q2"]
    # Every question's prompt, the three curated solutions, the two wrong attempts of their
    # questions: on disk, one row each.
    assert db.execute("SELECT question FROM prompt").fetchall() == [
        ("q1",),
        ("q2",),
        ("q3",),
        ("q4",),
    ]
    assert db.execute("SELECT question FROM chosen ORDER BY seq").fetchall() == [
        ("q1",),
        ("q2",),
        ("q3",),
    ]
    assert db.execute("SELECT question, critique, text FROM rejected").fetchall() == [
        ("q1", 11.0, "2 + 3 = 6, so \\boxed{6}."),
        ("q2", 11.0, "v = g t^2 = 39.2 m/s."),
    ]
    rft = list(rft_rows(iter_records(run.samples, Sample), ExportOptions(), db))
    assert len(rft) == 3
    assert db.execute("SELECT question FROM rft ORDER BY seq").fetchall() == [
        ("q1",),
        ("q2",),
        ("q3",),
    ]


def test_export_leaves_no_scratch_file(run: RunDir) -> None:
    export_run(run, ["rft", "dpo"])
    assert sorted(p.name for p in run.export_dir.iterdir()) == [
        "README.md",
        "dpo.jsonl",
        "dpo.parquet",
        "rft.jsonl",
        "rft.parquet",
    ]


def test_parquet_is_built_from_the_jsonl_in_chunks(tmp_path: Path) -> None:
    rows = [{"question_id": f"q{i}", "unit": "m/s" if i == 4 else None} for i in range(5)]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    groups = write_parquet(tmp_path / "rows.parquet", tmp_path / "rows.jsonl", chunk_rows=2)
    written = pq.ParquetFile(tmp_path / "rows.parquet")
    assert groups == 3
    assert [written.metadata.row_group(i).num_rows for i in range(3)] == [2, 2, 1]
    # The null-only first chunk does not fix `unit` as null: the schema is unified first.
    assert str(written.schema_arrow.field("unit").type) == "string"
    assert written.read().to_pylist() == rows


@pytest.mark.parametrize(
    "lengths", [[2, 2], [1, 2], [5], [3, 1, 2], [1, 3], [4, 4, 9, 1, 7, 7], list(range(1, 102))]
)
def test_answer_length_mean_and_median_from_counts_are_statistics_own(lengths) -> None:
    """The same values (an int where statistics gives an int) from a count per length."""
    stats = FormatStats()
    for n in lengths:
        stats.add({"question_id": "q", "messages": [{"content": " ".join("w" * n)}]})
    expected = {"mean": round(statistics.mean(lengths), 1), "median": statistics.median(lengths)}
    got = stats.result()["answer_words"]
    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_format_stats_keep_counts_not_rows() -> None:
    stats = FormatStats()
    rows = [
        {"question_id": "q1", "subject": "math", "messages": [{"content": "a b c"}]},
        {"question_id": "q1", "subject": "math", "messages": [{"content": "a"}]},
        {"question_id": "q2", "messages": [{"content": "a b"}]},
    ]
    assert list(stats.counted(iter(rows))) == rows
    assert stats.answers == {3: 1, 1: 1, 2: 1}  # rows by answer length, not a value a row
    assert (len(stats.questions), "q2" in stats.questions) == (2, True)  # ids in SQLite
    assert stats.result() == {
        "rows": 3,
        "questions": 2,
        "by_subject": {"math": 2},
        "answer_words": {"mean": 2.0, "median": 2},
    }
