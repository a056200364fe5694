"""The quick demo recipe end to end with the embedded model: every artefact of the run directory
exists and agrees with stats.json, and a second run resumes without an LLM call or retraining."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sciinstruct.flow import run_flow
from sciinstruct.jsonl import read_jsonl
from sciinstruct.recipe import load_recipe

pytestmark = pytest.mark.slow
pytest.importorskip("trl")


def rows(path: Path) -> list[dict]:
    return list(read_jsonl(path))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "run"
    recipe = load_recipe("sciinstruct:recipes/demo_quick.yaml", {"run_dir": str(out)})
    run_flow(recipe)
    return out


def test_every_artefact_exists(demo_run: Path) -> None:
    for name in (
        "config.yaml",
        "questions.jsonl",
        "attempts.jsonl",
        "critiques.jsonl",
        "samples.jsonl",
        "dropped.jsonl",
        "cache.sqlite",
        "stats.json",
        "report.md",
        "export/sft.jsonl",
        "export/dpo.jsonl",
        "export/grpo.jsonl",
        "export/README.md",
        "model/merged/config.json",
        "eval/base/results.json",
        "eval/tuned/results.json",
        "eval/compare/compare.md",
    ):
        assert (demo_run / name).exists(), name
    assert len(list((demo_run / "plots").glob("*.png"))) >= 4


def test_stats_agree_with_the_files(demo_run: Path) -> None:
    stats = json.loads((demo_run / "stats.json").read_text())
    questions = rows(demo_run / "questions.jsonl")
    attempts = rows(demo_run / "attempts.jsonl")
    assert stats["ingest"]["questions"] == len(questions) == 6
    annotate = stats["annotate"]
    assert sum(s["attempts"] for s in annotate["stages"].values()) == len(attempts)
    solved = {a["question_id"] for a in attempts if a["correct"]}
    assert annotate["solved_total"] == len(solved)
    assert annotate["solved_total"] + annotate["unsolved"] + annotate["ungradable"] == 6
    by_stage = Counter(a["stage"] for a in attempts)
    assert {k: v["attempts"] for k, v in annotate["stages"].items()} == dict(by_stage)
    # every question got a cot attempt; reflect only follows a wrong cot
    assert by_stage["cot"] == 6 and by_stage["reflect"] <= 6
    assert len(rows(demo_run / "critiques.jsonl")) == 4  # critique.limit in the recipe
    samples = rows(demo_run / "samples.jsonl")
    assert stats["curate"]["kept_samples"] == len(samples)
    assert {s["question_id"] for s in samples} <= solved
    drops = Counter(f"{d['stage']}:{d['reason']}" for d in rows(demo_run / "dropped.jsonl"))
    assert drops["filter:classifier_below_threshold"] == stats["filter"].get(
        "dropped_classifier_below_threshold", 0
    )
    assert stats["export"]["sft"]["rows"] == len(rows(demo_run / "export/sft.jsonl")) >= 1
    assert stats["export"]["grpo"]["rows"] == len(rows(demo_run / "export/grpo.jsonl")) == 6


def test_before_after_matches_the_eval_results(demo_run: Path) -> None:
    stats = json.loads((demo_run / "stats.json").read_text())
    outcomes = {}
    for label in ("base", "tuned"):
        results = json.loads((demo_run / "eval" / label / "results.json").read_text())
        predictions = rows(demo_run / "eval" / label / "predictions.jsonl")
        # eval.config.limit: 4 questions from each of the recipe's two held-out files
        assert Counter(p["benchmark"] for p in predictions) == {
            "prefix_heldout": 4,
            "demo_heldout": 4,
        }
        outcomes[label] = {
            (p["benchmark"], p["question_id"]): bool(p["correct"]) for p in predictions
        }
        correct = sum(outcomes[label].values())
        summary = stats["before_after"][label]
        assert summary["correct"] == correct
        assert summary["accuracy"] == results["accuracy"] == correct / 8
        for name, row in summary["by_benchmark"].items():
            assert row["correct"] == sum(ok for (b, _), ok in outcomes[label].items() if b == name)
    paired = stats["before_after"]["paired"]
    assert set(paired) == {"prefix_heldout", "demo_heldout", "all"}
    gained = sum(not outcomes["base"][k] and outcomes["tuned"][k] for k in outcomes["base"])
    lost = sum(outcomes["base"][k] and not outcomes["tuned"][k] for k in outcomes["base"])
    assert (paired["all"]["n"], paired["all"]["gained"], paired["all"]["lost"]) == (8, gained, lost)
    assert 0 < paired["all"]["p_value"] <= 1
    report = (demo_run / "report.md").read_text()
    assert "## Before and after training" in report
    tuned = stats["before_after"]["tuned"]["by_benchmark"]["prefix_heldout"]
    assert "| prefix_heldout | " in report and f"{tuned['correct']}/4 = " in report
    assert "## Paired comparison" in (demo_run / "eval/compare/compare.md").read_text()


def test_rerun_resumes_without_llm_calls_or_retraining(demo_run: Path) -> None:
    model_time = (demo_run / "model/merged/config.json").stat().st_mtime
    attempts_before = len(rows(demo_run / "attempts.jsonl"))
    result = run_flow(
        load_recipe("sciinstruct:recipes/demo_quick.yaml", {"run_dir": str(demo_run)})
    )
    stats = json.loads((demo_run / "stats.json").read_text())
    assert stats["annotate"]["cache"]["misses"] == 0
    assert len(rows(demo_run / "attempts.jsonl")) == attempts_before
    assert {"train", "eval"} <= set(result.skipped)
    assert (demo_run / "model/merged/config.json").stat().st_mtime == model_time
