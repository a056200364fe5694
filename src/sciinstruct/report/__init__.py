"""`sciinstruct report RUN_DIR`: the analysis SciInstruct publishes, for any run.

Writes RUN/report.md with the tables and RUN/plots/*.png with the pictures, and the numbers to
stats.json's `report` section.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sciinstruct.rendering import md_cell, md_table
from sciinstruct.report import plots
from sciinstruct.report.data import RunSummary, summarize
from sciinstruct.rundir import RunDir

__all__ = ["make_report", "summarize"]


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    """Cells come from the data (subjects, sources, drop reasons): escaped by `md_table`."""
    return md_table(header, rows, align="l" * (len(header) - 1) + "r")


def _counts(title: str, label: str, counts: Counter[str], image: str | None) -> list[str]:
    lines = [f"## {title}", ""]
    if image:
        lines += [f"![{title}](plots/{image})", ""]
    total = sum(counts.values()) or 1
    rows = [(k, v, f"{100 * v / total:.1f}%") for k, v in counts.most_common()]
    return lines + _table((label, "count", "share"), rows) + [""]


def _draw(summary: RunSummary, plots_dir: Path) -> dict[str, str]:
    """Draw each plot that has data; name -> file name."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Path] = {
        "subjects": plots.subjects(summary, plots_dir / "subjects.png"),
        "sources": plots.bar_counts(
            summary.by_source, "Questions by source", "questions", plots_dir / "sources.png"
        ),
        "answer_types": plots.bar_counts(
            summary.by_answer_type,
            "Questions by answer type",
            "questions",
            plots_dir / "answer_types.png",
        ),
        "lengths": plots.lengths(summary, plots_dir / "lengths.png"),
        "funnel": plots.funnel(summary, plots_dir / "funnel.png"),
    }
    if summary.attempts_by_stage:
        drawn["stages"] = plots.stages(summary, plots_dir / "stages.png")
    if summary.classifier_kept or summary.classifier_dropped or summary.critique_scores:
        drawn["scores"] = plots.scores(summary, plots_dir / "scores.png")
    return {name: path.name for name, path in drawn.items()}


def _markdown(run: RunDir, s: RunSummary, images: dict[str, str]) -> str:
    md = [f"# Run report: {md_cell(run.root.name)}", ""]
    md += ["## Funnel", "", f"![Funnel](plots/{images['funnel']})", ""]
    first = s.funnel[0][1] if s.funnel else 0
    md += _table(
        ("step", "count", "of questions"),
        [(k, v, f"{100 * v / first:.1f}%" if first else "-") for k, v in s.funnel],
    ) + [""]
    md += ["## Subjects", "", f"![Subjects](plots/{images['subjects']})", ""]
    md += _table(
        ("subject", "questions", "kept samples"),
        [
            (k, s.by_subject[k], s.kept_by_subject[k])
            for k in sorted(set(s.by_subject) | set(s.kept_by_subject))
        ],
    ) + [""]
    md += _counts("Sources", "source", s.by_source, images.get("sources"))
    md += _counts("Answer types", "answer type", s.by_answer_type, images.get("answer_types"))
    if "stages" in images:
        md += ["## Annotation stages", "", f"![Stages](plots/{images['stages']})", ""]
        md += _table(
            ("stage", "correct", "wrong", "ungraded"),
            [(k, c["correct"], c["wrong"], c["ungraded"]) for k, c in s.attempts_by_stage.items()],
        )
        md.append("")
    md += ["## Lengths", "", f"![Lengths](plots/{images['lengths']})", ""]
    if "scores" in images:
        md += ["## Scores", "", f"![Scores](plots/{images['scores']})", ""]
        metrics = s.stats.get("filter", {}).get("metrics", {}).get("heldout", {})
        if metrics.get("n"):
            md += [
                f"Classifier held-out accuracy {metrics['accuracy']:.3f}, "
                f"AUC {metrics['auc'] if metrics['auc'] is None else round(metrics['auc'], 3)} "
                f"on {metrics['n']} attempts.",
                "",
            ]
        elif metrics.get("unavailable"):
            md += [f"No classifier held-out estimate: {metrics['unavailable']}.", ""]
    if s.filter_skipped:
        md += [f"The classifier filter was skipped: {s.filter_skipped.rstrip('.')}.", ""]
    if s.dropped:
        md += _counts("Dropped samples by reason", "stage: reason", s.dropped, None)
        md += ["Each dropped sample is listed with its reason in `dropped.jsonl`.", ""]
    return "\n".join(md)


def make_report(run: RunDir) -> dict[str, Any]:
    """Write report.md and the plots; return the `report` stats section."""
    summary = summarize(run)
    images = _draw(summary, run.plots_dir)
    run.report.write_text(_markdown(run, summary, images), encoding="utf-8")
    stats = {
        "report": str(run.report),
        "plots": sorted(images.values()),
        "questions": summary.questions,
        "funnel": dict(summary.funnel),
        "dropped": dict(summary.dropped),
    }
    run.update_stats("report", stats)
    return stats
