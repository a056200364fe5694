"""Comparison of two evaluation runs: markdown table and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.evaluate.compare import compare_runs
from sciinstruct.evaluate.paired import mcnemar, paired_comparison
from sciinstruct.evaluate.runner import EvalConfig, run_eval
from scripted import ScriptedBackend

MINI = str(Path(__file__).parent / "fixtures" / "benchmarks" / "questions" / "mini.jsonl")
RIGHT = {
    "6 times 7": "\\boxed{42}",
    "100 m in 20 s": "\\boxed{5} m/s",
    "photosynthesis": "\\boxed{B}",
    "2 + 2": "\\boxed{4}",
}


def _run(out: Path, right: set[str], model: str) -> Path:
    def reply(text: str, seed: int) -> str:
        key = next(k for k in RIGHT if k in text)
        return RIGHT[key] if key in right else "\\boxed{0}"

    run_eval([MINI], ScriptedBackend(reply, model=model), out, EvalConfig())
    return out


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    base = _run(tmp_path / "base", {"6 times 7"}, "base-model")
    tuned = _run(tmp_path / "tuned", {"6 times 7", "2 + 2", "photosynthesis"}, "tuned-model")
    return base, tuned


def test_compare_writes_table_and_plots(two_runs, tmp_path):
    out = tmp_path / "cmp"
    markdown = compare_runs(list(two_runs), out)
    text = markdown.read_text()
    assert "| benchmark | subject | base | tuned |" in text
    assert "| mini | all | 25.0 [n=4] | 75.0 (+50.0) [n=4] |" in text
    assert "| mini | math | 50.0 [n=2] | 100.0 (+50.0) [n=2] |" in text
    assert "| mini | biology | 0.0 [n=1] | 100.0 (+100.0) [n=1] |" in text
    assert "| all | 25.0 [n=4] | 75.0 (+50.0) [n=4] |" in text  # overall
    assert "`tuned` = tuned-model (scripted)" in text
    for png in ("compare_benchmarks.png", "compare_subjects_mini.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_compare_needs_results(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(InputError, match="no results.json"):
        compare_runs([tmp_path / "a", tmp_path / "a"], tmp_path / "out")
    with pytest.raises(InputError, match="at least two"):
        compare_runs([tmp_path / "a"], tmp_path / "out")


def test_report_compare_cli_on_eval_dirs(two_runs, tmp_path, capsys):
    from sciinstruct.cli.main import main

    base, tuned = two_runs
    out = tmp_path / "cli-cmp"
    assert main(["report", str(base), "--compare", str(tuned), "--out", str(out)]) == 0
    assert "| all | 25.0 [n=4] | 75.0 (+50.0) [n=4] |" in (out / "compare.md").read_text()
    assert f"comparison: {out / 'compare.md'}" in capsys.readouterr().out
    assert not (base / "report.md").exists()  # an eval dir is compared, not reported on


def test_compare_adds_the_paired_test(two_runs, tmp_path):
    text = compare_runs(list(two_runs), tmp_path / "cmp").read_text()
    # tuned fixes 2 questions and breaks none: two-sided exact binomial p = 2 * 0.5**2 = 0.5
    assert "| tuned | mini | 4 | 1 | 2 | 0 | +50.0 | 0.5 |" in text


def test_mcnemar_counts_discordant_pairs_and_gives_the_exact_p():
    first = {f"q{i}": i < 10 for i in range(40)}  # right on q0..q9
    second = {f"q{i}": i < 2 or 10 <= i < 22 for i in range(40)}  # keeps 2, gains 12, loses 8
    r = mcnemar(first, second)
    assert (r.n, r.both, r.gained, r.lost, r.neither) == (40, 2, 12, 8, 18)
    assert r.change == pytest.approx(4 / 40)
    # P(X <= 8) for X ~ Bin(20, 1/2), doubled: sum_{k<=8} C(20, k) / 2**20 * 2
    assert r.p_value == pytest.approx(2 * sum(math.comb(20, k) for k in range(9)) / 2**20)
    assert not r.significant()
    lopsided = mcnemar(first, {q: True for q in first})  # gains 30, loses none
    assert lopsided.p_value == pytest.approx(2 * 0.5**30) and lopsided.significant()
    assert mcnemar(first, first).p_value == 1.0  # no discordant pair: no evidence either way


def test_paired_comparison_uses_only_questions_both_runs_graded(two_runs, tmp_path):
    base, tuned = two_runs
    rows = (tuned / "predictions.jsonl").read_text().splitlines()
    (tuned / "predictions.jsonl").write_text("\n".join(rows[:2]) + "\n")  # tuned saw 2 questions
    result = paired_comparison(base, tuned)
    assert list(result) == ["mini"] and result["mini"].n == 2
    (tuned / "predictions.jsonl").write_text("{broken\n")
    with pytest.raises(InputError, match=r"predictions.jsonl:1: invalid JSON"):
        paired_comparison(base, tuned)
