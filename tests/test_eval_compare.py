"""Comparison of two evaluation runs: markdown table and PNG plots."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval_scripted import ScriptedBackend
from sciinstruct.errors import InputError
from sciinstruct.evaluate.compare import compare_runs
from sciinstruct.evaluate.runner import EvalConfig, run_eval

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
