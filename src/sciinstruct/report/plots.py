"""PNG plots of a run (matplotlib, Agg backend: no display needed).

Every figure has a title, labelled axes and counts written on the bars, at a size that reads on a
laptop screen and in a GitHub README (8 x 4.5 inches at 120 dpi = 960 x 540 pixels).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sciinstruct.rendering import plot_label  # noqa: E402
from sciinstruct.report.data import RunSummary  # noqa: E402

SIZE = (8, 4.5)
DPI = 120
BLUE, ORANGE, GREY, GREEN, RED = "#4C72B0", "#DD8452", "#8C8C8C", "#55A868", "#C44E52"
plt.rcParams.update(
    {
        "font.size": 11,
        "axes.titlesize": 13,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def _save(fig: plt.Figure, path: Path, counts_on: str = "y") -> Path:
    """Save and close; the axis holding counts gets whole-number ticks (no 2.5 attempts)."""
    for ax in fig.axes:
        axis = ax.xaxis if counts_on == "x" else ax.yaxis
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def bar_counts(counts: Counter[str], title: str, xlabel: str, path: Path, top: int = 15) -> Path:
    """Horizontal bars, largest first; only the `top` largest categories are drawn."""
    items = counts.most_common(top)[::-1]
    fig, ax = plt.subplots(figsize=(SIZE[0], max(2.5, 0.45 * len(items) + 1.2)))
    # positions, not category names: two labels from the data that read the same once cut
    # (plot_label) still get a bar each
    bars = ax.barh(range(len(items)), [v for _, v in items], color=BLUE)
    ax.set_yticks(range(len(items)), [plot_label(k) for k, _ in items])
    ax.bar_label(bars, padding=3)
    ax.set(title=title, xlabel=xlabel)
    ax.margins(x=0.12)
    return _save(fig, path, counts_on="x")


def subjects(summary: RunSummary, path: Path) -> Path:
    """Questions vs kept samples per subject, side by side."""
    names = sorted(
        set(summary.by_subject) | set(summary.kept_by_subject),
        # ties by name: a set's order moves with PYTHONHASHSEED, and the plot must not
        key=lambda s: (-summary.by_subject[s], s),
    )
    fig, ax = plt.subplots(figsize=SIZE)
    x = range(len(names))
    width = 0.4
    q = ax.bar(
        [i - width / 2 for i in x],
        [summary.by_subject[n] for n in names],
        width,
        label="questions",
        color=BLUE,
    )
    k = ax.bar(
        [i + width / 2 for i in x],
        [summary.kept_by_subject[n] for n in names],
        width,
        label="kept samples",
        color=ORANGE,
    )
    ax.bar_label(q, padding=2, fontsize=9)
    ax.bar_label(k, padding=2, fontsize=9)
    ax.set_xticks(
        list(x),
        [plot_label(n) for n in names],
        rotation=20 if len(names) > 6 else 0,
        ha="right" if len(names) > 6 else "center",
    )
    ax.set(title="Questions and kept samples by subject", xlabel="subject", ylabel="count")
    ax.legend(frameon=False)
    return _save(fig, path)


def stages(summary: RunSummary, path: Path) -> Path:
    """Attempts per annotation stage, stacked by outcome."""
    order = [
        s for s in ("cot", "reflect", "hinted", "sample", "eval") if s in summary.attempts_by_stage
    ]
    fig, ax = plt.subplots(figsize=SIZE)
    bottom = [0] * len(order)
    for outcome, color in (("correct", GREEN), ("wrong", RED), ("ungraded", GREY)):
        values = [summary.attempts_by_stage[s][outcome] for s in order]
        if not any(values):
            continue
        bars = ax.bar(order, values, bottom=bottom, label=outcome, color=color)
        ax.bar_label(
            bars,
            labels=[str(v) if v else "" for v in values],
            label_type="center",
            color="white",
            fontweight="bold",
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set(title="Attempts by annotation stage", xlabel="stage", ylabel="attempts")
    ax.legend(frameon=False)
    return _save(fig, path)


def _median(counts: Counter[int]) -> int:
    """The upper median of the values a Counter counts, as `sorted(values)[n // 2]` gives it."""
    middle, seen = sum(counts.values()) // 2, 0
    for value in sorted(counts):
        seen += counts[value]
        if seen > middle:
            return value
    raise ValueError("no values")


def lengths(summary: RunSummary, path: Path) -> Path:
    """Histograms of question and kept-solution lengths (words), medians marked."""
    fig, axes = plt.subplots(1, 2, figsize=SIZE)
    for ax, values, name, color in (
        (axes[0], summary.question_words, "Question", BLUE),
        (axes[1], summary.solution_words, "Solution", ORANGE),
    ):
        if values:
            lengths, counts = zip(*sorted(values.items()), strict=True)
            bins = min(30, max(5, len(lengths)))
            ax.hist(lengths, bins=bins, weights=counts, color=color, edgecolor="white")
            median = _median(values)
            ax.axvline(median, color="black", linestyle="--", linewidth=1)
            ax.text(median, ax.get_ylim()[1] * 0.92, f" median {median}", fontsize=9)
        ax.set(title=f"{name} length", xlabel="words", ylabel="count")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


def funnel(summary: RunSummary, path: Path) -> Path:
    """From questions to kept samples, each step with its count."""
    steps = summary.funnel[::-1]
    fig, ax = plt.subplots(figsize=(SIZE[0], max(2.5, 0.55 * len(steps) + 1.2)))
    bars = ax.barh([plot_label(s) for s, _ in steps], [n for _, n in steps], color=BLUE)
    ax.bar_label(bars, padding=3)
    ax.set(title="From questions to training samples", xlabel="count")
    ax.margins(x=0.12)
    return _save(fig, path, counts_on="x")


def scores(summary: RunSummary, path: Path) -> Path:
    """Classifier scores (kept vs dropped, threshold marked) and judge scores (1-10)."""
    fig, axes = plt.subplots(1, 2, figsize=SIZE)
    ax = axes[0]
    kept, dropped = summary.classifier_kept, summary.classifier_dropped
    if kept or dropped:
        ax.hist(  # the counts drawn as weights at their bins' centres: the same bars
            [kept.centres(), dropped.centres()],
            bins=list(kept.edges),
            weights=[kept.counts, dropped.counts],
            stacked=True,
            color=[GREEN, RED],
            label=["kept", "dropped"],
            edgecolor="white",
        )
        if summary.classifier_threshold is not None:
            ax.axvline(
                summary.classifier_threshold, color="black", linestyle="--", label="threshold"
            )
        ax.legend(frameon=False, fontsize=9)
    else:
        status = "filter skipped" if summary.filter_skipped else "filter has not run"
        ax.text(0.5, 0.5, status, ha="center", va="center", transform=ax.transAxes)
    ax.set(title="Classifier score", xlabel="P(good) - P(bad)", ylabel="samples")
    ax = axes[1]
    if summary.critique_scores:
        judged, counts = zip(*sorted(summary.critique_scores.items()), strict=True)
        ax.hist(
            judged,
            weights=counts,
            bins=[x + 0.5 for x in range(0, 11)],
            color=BLUE,
            edgecolor="white",
        )
        ax.set_xticks(range(1, 11))
    else:
        ax.text(0.5, 0.5, "no critiques", ha="center", va="center", transform=ax.transAxes)
    ax.set(title="Judge score", xlabel="critique score (1-10)", ylabel="attempts")
    return _save(fig, path)
