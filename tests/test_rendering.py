"""Hostile text in rendered outputs: tables keep their shape, labels never reach mathtext."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sciinstruct.evaluate.results import summary_markdown
from sciinstruct.export.card import dataset_card
from sciinstruct.jsonl import write_jsonl
from sciinstruct.records import Question
from sciinstruct.rendering import file_stem, md_cell, md_code, md_table, plot_label
from sciinstruct.report import make_report
from sciinstruct.rundir import RunDir

HOSTILE = "a|b\nc\r\n`x` <script>\\|$\\frac{1}{$ \x00\x1b[31m"


def cells(line: str) -> list[str]:
    """Split a markdown table row the way GitHub does: on `|` not preceded by a backslash."""
    if re.fullmatch(r"\|[-:|]+\|", line):
        return line[1:-1].split("|")  # the rule under the header
    assert line.startswith("| ") and line.endswith(" |"), line
    return re.split(r"(?<!\\)\|", line[1:-1])


def test_a_cell_escapes_pipes_newlines_backticks_html_and_control_characters():
    assert md_cell(HOSTILE) == (
        "a\\|b<br>c<br>\\`x\\` &lt;script&gt;\\\\\\|$\\\\frac{1}{$ \ufffd\ufffd[31m"
    )
    assert md_cell(12.5) == "12.5" and md_cell("  plain  ") == "plain"
    assert md_cell("x" * 100_000) == "x" * 199 + "…"
    assert md_cell("caf\udce9") == "caf?"  # a byte that was not UTF-8 (surrogateescape)


def test_a_table_keeps_its_columns_whatever_the_cells_hold():
    lines = md_table(["subject", "count"], [[HOSTILE, 3], ["|||", "\n\n"]], align="lr")
    assert lines[1] == "|---|---:|"
    assert len(lines) == 4 and all("\n" not in line for line in lines)
    assert all(len(cells(line)) == 2 for line in lines[2:])
    with pytest.raises(ValueError, match="3 cells for 2 columns"):
        md_table(["a", "b"], [[1, 2, 3]])


def test_inline_code_and_plot_labels_and_file_names():
    assert md_code("gpt-4o") == "`gpt-4o`"
    assert md_code("a ``b`` c") == "```a ``b`` c```"
    assert md_code("`edge`") == "`` `edge` ``"
    assert plot_label("$\\frac{1}{$ and\nmore " + "x" * 60) == (
        "\\$\\frac{1}{\\$ and more " + "x" * 18 + "…"  # cut to 40, then escaped
    )
    assert file_stem("../../etc/passwd") == "_.._etc_passwd"
    assert file_stem("gsm8k") == "gsm8k" and file_stem("") == "_"


def test_a_report_of_a_run_with_hostile_subjects_and_sources(tmp_path: Path):
    run = RunDir(tmp_path / "run").ensure()
    questions = [
        Question(id=f"q{i}", question=f"Q{i}?", answer="1", subject=s, source=src)
        for i, (s, src) in enumerate(
            [(HOSTILE, "$\\frac{"), ("math", HOSTILE), ("math|physics", "`")] * 2
        )
    ]
    write_jsonl(run.questions, questions)
    make_report(run)  # mathtext would raise on "$\frac{" in a label; nothing is evaluated
    text = run.report.read_text()
    for table in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.M):
        rows = table.strip().split("\n")
        assert {len(cells(r)) for r in rows} == {len(cells(rows[0]))}, table
    assert "a\\|b<br>c" in text and "<script>" not in text
    assert sorted(p.name for p in run.plots_dir.glob("*.png"))


def test_eval_summary_and_dataset_card_escape_names_from_data():
    results = {
        "model": "evil`model|x",
        "backend": "openai",
        "benchmarks": {
            "b|1": {
                "mode": "graded", "metric": "accuracy", "accuracy": 0.5, "ci_low": 0.1,
                "ci_high": 0.9, "n": 2, "subjects": {"phys\nics": {
                    "accuracy": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 2}},
            }
        },
        "overall": {"accuracy": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 2},
        "config": {"shots": 0, "samples": 1, "limit": None, "seed": 0},
    }  # fmt: skip
    summary = summary_markdown(results)
    assert summary.startswith("# Evaluation of ``evil`model|x`` (openai)")
    rows = [line for line in summary.splitlines() if line.startswith("| b\\|1")]
    assert [len(cells(r)) for r in rows] == [6, 5]
    card, _ = dataset_card(
        "set|1", {"sft": [{"question_id": "q", "subject": "a|b", "messages": [
            {"role": "assistant", "content": "x"}]}]}, {},
    )  # fmt: skip
    assert "| a\\|b | 1 |" in card
