"""`report`: markdown tables and PNG plots of a run, and the CLI commands end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sciinstruct.cli.main import main
from sciinstruct.jsonl import write_jsonl
from sciinstruct.records import Attempt, Question
from sciinstruct.report import make_report
from sciinstruct.rundir import RunDir


def report_data() -> tuple[list[Question], list[Attempt], list[dict]]:
    """22 questions over three subjects, attempts at cot and reflect, and a critique of each."""
    subjects = ["math"] * 12 + ["physics"] * 6 + ["chemistry"] * 4
    questions = [
        Question(
            id=f"q{i}",
            question=f"Question number {i} about {s} " + "word " * (i % 7),
            answer=str(i),
            subject=s,
            source="bank" if i % 3 else "exam",
            answer_type="numeric" if i % 2 else "expression",
        )
        for i, s in enumerate(subjects)
    ]
    attempts = []
    for i in range(len(questions)):
        good = f"Careful derivation for {i}, step by step. Therefore the answer is {i}."
        attempts.append(
            Attempt(
                id=f"c{i}",
                question_id=f"q{i}",
                stage="cot",
                messages=[],
                response=good if i % 4 and i != 21 else f"guess {i + 1}",
                correct=bool(i % 4),
            )
        )
        if not i % 4:
            attempts.append(
                Attempt(
                    id=f"r{i}",
                    question_id=f"q{i}",
                    stage="reflect",
                    messages=[],
                    parent_id=f"c{i}",
                    response=good,
                    correct=i % 8 == 0,
                )
            )
    critiques = [
        {
            "id": f"k{i}",
            "attempt_id": f"c{i}",
            "question_id": f"q{i}",
            "score": 3 + i % 8,
            "explanation": "",
            "raw": "",
            "judge_model": "j",
            "usage": {},
        }
        for i in range(len(questions))
    ]
    return questions, attempts, critiques


def test_report_writes_markdown_and_plots(tmp_path: Path, make_run) -> None:
    run = make_run(*report_data())
    # q21's correct solution reads like the wrong ones: the classifier drops it
    assert main(["filter", str(run.root)]) == 0
    assert (
        main(["curate", str(run.root), "--subject-ratio", "math=1", "--subject-ratio", "physics=1"])
        == 0
    )
    stats = make_report(run)
    assert stats["plots"] == [
        "answer_types.png",
        "funnel.png",
        "lengths.png",
        "scores.png",
        "sources.png",
        "stages.png",
        "subjects.png",
    ]
    for name in stats["plots"]:
        assert (run.plots_dir / name).stat().st_size > 10_000  # a real picture, not an empty frame
    # 16 correct cot (i % 4 != 0) + 3 correct reflect (q0, q8, q16) = 19 solutions; the filter
    # drops q21's; math (11) is cut to physics' 5, chemistry (2 left) is not named and passes
    assert stats["funnel"] == {
        "questions": 22,
        "questions attempted": 22,
        "questions solved": 19,
        "correct solutions": 19,
        "kept by classifier": 18,
        "kept by curation": 12,
    }
    report = run.report.read_text()
    assert "![Funnel](plots/funnel.png)" in report
    assert "| math | 12 | 5 |" in report
    assert "| filter: classifier_below_threshold | 1 |" in report
    assert "| curate: subject_ratio | 6 |" in report


def test_report_of_a_run_with_questions_only(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "fresh").ensure()
    write_jsonl(run.questions, [Question(question="What is 1 + 1?", answer="2")])
    stats = make_report(run)
    assert stats["funnel"] == {"questions": 1}
    assert "scores.png" not in stats["plots"]


def test_cli_export_and_bad_ratio(tmp_path: Path, make_run) -> None:
    run = make_run(*report_data())
    assert main(["curate", str(run.root), "--hinted", "drop", "--max-per-question", "1"]) == 0
    assert main(["export", str(run.root), "--format", "sft,grpo", "--no-parquet"]) == 0
    assert sorted(p.name for p in run.export_dir.iterdir()) == [
        "README.md",
        "grpo.jsonl",
        "sft.jsonl",
    ]
    assert json.loads(run.stats.read_text())["export"]["grpo"]["rows"] == 22
    assert main(["curate", str(run.root), "--subject-ratio", "math"]) == 2


def test_score_histogram_bins_as_matplotlib_does() -> None:
    """The report keeps classifier scores as 20 counters; they must be the very bars `hist`
    would draw from the raw values (numpy's binning: half-open bins, the last one closed)."""
    import random

    import numpy as np

    from sciinstruct.report.data import Histogram

    rng = random.Random(7)
    values = [rng.uniform(-1.2, 1.2) for _ in range(2000)] + [-1.0, -0.5, 0.0, 0.3, 1.0, 1.0]
    histogram = Histogram()
    for v in values:
        histogram.add(v)
    expected, _ = np.histogram(values, bins=list(histogram.edges))
    assert histogram.counts == expected.tolist()
    assert sum(histogram.counts) == sum(-1.0 <= v <= 1.0 for v in values)
    assert not Histogram()


def test_length_median_from_counts_is_the_upper_median() -> None:
    from collections import Counter

    from sciinstruct.report.plots import _median

    for values in ([5], [3, 1], [4, 4, 9, 1], [2, 7, 7, 7, 1, 30, 12]):
        assert _median(Counter(values)) == sorted(values)[len(values) // 2]


def test_the_subjects_plot_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # Two subjects with equal counts: their order came from a set, so the PNG's bytes moved
    # with PYTHONHASHSEED from one run of the same data to the next.
    script = (
        "import sys; from collections import Counter; from pathlib import Path\n"
        "from sciinstruct.report import plots\n"
        "from sciinstruct.report.data import RunSummary\n"
        "s = RunSummary(by_subject=Counter(physics=3, chemistry=3, biology=3, math=5),\n"
        "               kept_by_subject=Counter(physics=1, chemistry=2))\n"
        "plots.subjects(s, Path(sys.argv[1]))\n"
    )
    images = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"subjects-{seed}.png"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True)
        images.append(out.read_bytes())
    assert images[0] == images[1] == images[2]
