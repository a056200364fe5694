"""Compare evaluation runs side by side (base vs tuned): a markdown table and PNG plots.

Each run is an `sciinstruct eval` output directory. The first run is the baseline: every other
column shows its value and the change from the baseline, and a change whose confidence intervals
do not overlap is marked with `*` (a conservative sign that it is not noise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.rendering import file_stem, md_cell, md_code, md_table, plot_label


def load_run(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "results.json"
    if not path.exists():
        raise InputError("not an evaluation output directory (no results.json)", file=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg})", file=str(path), line=exc.lineno) from exc


def _labels(dirs: Sequence[Path], runs: Sequence[dict[str, Any]]) -> list[str]:
    """Run labels: the directory name, with the model when directory names repeat."""
    names = [d.name or str(d) for d in dirs]
    if len(set(names)) < len(names):
        names = [f"{n} ({r.get('model', '?')})" for n, r in zip(names, runs, strict=True)]
    return names


def _value(entry: dict[str, Any] | None) -> tuple[float | None, float, float, bool]:
    """(value, ci_low, ci_high, is_score) of a benchmark or subject entry; accuracy in percent."""
    if entry is None:
        return None, 0.0, 0.0, False
    if entry.get("mean_score") is not None or entry.get("metric") == "mean_score":
        return entry.get("mean_score"), entry.get("ci_low", 0.0), entry.get("ci_high", 0.0), True
    if entry.get("accuracy") is None:
        return None, 0.0, 0.0, False
    return 100 * entry["accuracy"], 100 * entry["ci_low"], 100 * entry["ci_high"], False


def comparison_rows(
    runs: Sequence[dict[str, Any]],
) -> list[tuple[str, str, list[dict[str, Any] | None]]]:
    """(benchmark, subject or "all", entry per run) for every benchmark and subject in any run."""
    rows: list[tuple[str, str, list[dict[str, Any] | None]]] = []
    benchmarks = list(dict.fromkeys(b for r in runs for b in r["benchmarks"]))
    for name in benchmarks:
        entries = [r["benchmarks"].get(name) for r in runs]
        rows.append((name, "all", entries))
        subjects = list(dict.fromkeys(s for e in entries if e for s in e.get("subjects", {})))
        for subject in subjects:
            rows.append(
                (name, subject, [e["subjects"].get(subject) if e else None for e in entries])
            )
    return rows


def _cell(entry: dict[str, Any] | None, base: dict[str, Any] | None) -> str:
    value, low, high, is_score = _value(entry)
    if value is None:
        return "–"
    text = f"{value:.2f}" if is_score else f"{value:.1f}"
    base_value, base_low, base_high, _ = _value(base)
    if base is not None and entry is not base and base_value is not None:
        delta = value - base_value
        separated = low > base_high or high < base_low
        text += (
            f" ({delta:+.2f}{'*' if separated else ''})"
            if is_score
            else f" ({delta:+.1f}{'*' if separated else ''})"
        )
    n = entry.get("n", 0)
    return f"{text} [n={n}]"


def comparison_markdown(labels: Sequence[str], runs: Sequence[dict[str, Any]]) -> str:
    lines = [
        "# Evaluation comparison",
        "",
        "Accuracy in % (judged benchmarks: mean judge score 1-10); in brackets the change from "
        f"the first run, {md_code(labels[0])}; `*`: 95% intervals do not overlap.",
        "",
    ]
    lines += md_table(
        ["benchmark", "subject", *labels],
        [
            [name, subject, *(_cell(e, entries[0]) for e in entries)]
            for name, subject, entries in comparison_rows(runs)
        ],
    )
    overall = [r.get("overall", {}) for r in runs]
    cells = [_cell(o or None, overall[0] or None) for o in overall]
    lines += [
        "",
        *md_table(["overall (graded benchmarks, micro-average)", *labels], [["all", *cells]]),
        "",
    ]
    lines += [
        "Models: "
        + "; ".join(
            f"{md_code(lbl)} = {md_cell(r.get('model'))} ({md_cell(r.get('backend'))})"
            for lbl, r in zip(labels, runs, strict=True)
        ),
        "",
    ]
    return "\n".join(lines)


def paired_markdown(labels: Sequence[str], dirs: Sequence[Path]) -> str:
    """Each run against the first on the questions both graded: McNemar's exact test."""
    from sciinstruct.evaluate.paired import paired_comparison

    lines = [
        "## Paired comparison with the first run",
        "",
        "On the questions both runs graded: `gained` wrong in the first run and right in this "
        "one, `lost` the reverse; p: McNemar's exact test on those discordant questions "
        "(two-sided). Unlike overlapping intervals, this uses that the questions are the same.",
        "",
    ]
    rows = [
        [label, name, r.n, r.both, r.gained, r.lost, f"{100 * r.change:+.1f}",
         f"{r.p_value:.3g}{'*' if r.significant() else ''}"]
        for label, directory in zip(labels[1:], dirs[1:], strict=True)
        for name, r in paired_comparison(dirs[0], directory).items()
    ]  # fmt: skip
    header = ["run", "benchmark", "n", "both right", "gained", "lost", "change", "p"]
    lines += md_table(header, rows, align="llrrrrrr")
    return "\n".join([*lines, "", "`*`: p < 0.05.", ""])


def _bar_plot(
    path: Path,
    title: str,
    groups: list[str],
    labels: Sequence[str],
    values: list[list[tuple[float | None, float, float]]],
    ylabel: str,
) -> None:
    """Grouped bars, one group per benchmark or subject, one bar per run, with 95% CI whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * len(labels) ** 0.5), 4.5))
    for i, label in enumerate(map(plot_label, labels)):
        xs = [g + (i - (len(labels) - 1) / 2) * width for g in range(len(groups))]
        heights = [v[i][0] or 0.0 for v in values]
        errors = [
            [max(0.0, (v[i][0] or 0) - v[i][1]) if v[i][0] is not None else 0 for v in values],
            [max(0.0, v[i][2] - (v[i][0] or 0)) if v[i][0] is not None else 0 for v in values],
        ]
        ax.bar(xs, heights, width, yerr=errors, capsize=3, label=label)
    ax.set_xticks(range(len(groups)), [plot_label(g) for g in groups], rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(plot_label(title, 80))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare_runs(dirs: Sequence[str | Path], out: str | Path) -> Path:
    """Write `out/compare.md`, `out/compare_benchmarks.png` and one
    `out/compare_subjects_<benchmark>.png` per graded benchmark with subjects; return the markdown
    path. The first directory is the baseline."""
    if len(dirs) < 2:
        raise InputError(f"compare needs at least two run directories, got {len(dirs)}")
    paths = [Path(d) for d in dirs]
    runs = [load_run(p) for p in paths]
    labels = _labels(paths, runs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    markdown = out / "compare.md"
    text = comparison_markdown(labels, runs)
    if all((p / "predictions.jsonl").exists() for p in paths):
        text += "\n" + paired_markdown(labels, paths)
    markdown.write_text(text, encoding="utf-8")
    rows = comparison_rows(runs)
    overview = [
        (name, entries)
        for name, subject, entries in rows
        if subject == "all" and not any(_value(e)[3] for e in entries)
    ]
    if overview:
        _bar_plot(
            out / "compare_benchmarks.png",
            "Accuracy by benchmark",
            [n for n, _ in overview],
            labels,
            [[_value(e)[:3] for e in entries] for _, entries in overview],
            "accuracy (%)",
        )
    for name in dict.fromkeys(n for n, s, _ in rows if s != "all"):
        subject_rows = [(s, entries) for n, s, entries in rows if n == name and s != "all"]
        is_score = any(_value(e)[3] for _, es in subject_rows for e in es)
        _bar_plot(
            out / f"compare_subjects_{file_stem(name)}.png",
            f"{name} by subject",
            [s for s, _ in subject_rows],
            labels,
            [[_value(e)[:3] for e in entries] for _, entries in subject_rows],
            "mean judge score" if is_score else "accuracy (%)",
        )
    return markdown
