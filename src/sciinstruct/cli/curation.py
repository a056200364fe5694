"""`filter`, `curate`, `export` and `report`: from graded attempts to training files and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.options import build_config, config_options
from sciinstruct.curate import CurateConfig, FilterConfig
from sciinstruct.errors import InputError, SciInstructError
from sciinstruct.export import ExportOptions
from sciinstruct.log import console

RUN = typer.Argument(..., help="The run directory.", file_okay=False)


def _ratios(values: list[str]) -> dict[str, float]:
    """`math=2` `physics=1` -> {"math": 2.0, "physics": 1.0}."""
    ratios = {}
    for value in values:
        subject, sep, number = value.partition("=")
        try:
            ratios[subject.strip().lower()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not subject.strip():
            raise InputError(f"expected SUBJECT=RATIO, got {value!r}", field="--subject-ratio")
    return ratios


@config_options(FilterConfig, exclude=("options",))
def filter_command(
    given: dict[str, Any],
    run_dir: Path = RUN,
    lm_model: Path | None = typer.Option(
        None, help="lm: base model directory [default: the embedded model]."
    ),
    epochs: float | None = typer.Option(None, help="lm: passes over the training attempts."),
    max_steps: int | None = typer.Option(None, help="lm: stop after this many optimizer steps."),
    lr: float | None = typer.Option(None, help="lm: learning rate."),
    batch_size: int | None = typer.Option(None, help="lm: batch size."),
    max_length: int | None = typer.Option(
        None, help="lm: tokens per example (long solutions keep their end)."
    ),
) -> None:
    """Train the quality classifier on graded attempts and keep the samples it rates well.

    The lm options left unset take the LM classifier's own defaults (`curate/lm_classifier.py`).
    """
    from sciinstruct.curate.quality_filter import run_filter
    from sciinstruct.rundir import RunDir

    config = build_config(FilterConfig, given)
    if config.model == "lm":
        lm = {
            "model": lm_model,
            "epochs": epochs,
            "max_steps": max_steps,
            "lr": lr,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": config.seed,
        }
        config.options = {k: v for k, v in lm.items() if v is not None}
    stats = run_filter(RunDir(run_dir), config)
    held = stats["metrics"].get("heldout", {})
    console.print(
        f"filter: kept {stats['kept']} of {stats['candidates']} samples "
        f"(held-out accuracy {held.get('accuracy')}, AUC {held.get('auc')})"
    )


@config_options(CurateConfig, exclude=("subject_ratios",))
def curate_command(
    given: dict[str, Any],
    run_dir: Path = RUN,
    subject_ratio: list[str] = typer.Option(
        [], help="SUBJECT=RATIO, repeatable: relative shares of the named subjects."
    ),
) -> None:
    """Dedup, decontaminate and mix; writes samples.jsonl and every drop to dropped.jsonl."""
    from sciinstruct.curate.pipeline import curate
    from sciinstruct.rundir import RunDir

    if subject_ratio:
        given = {**given, "subject_ratios": _ratios(subject_ratio)}
    config = build_config(CurateConfig, given)
    stats = curate(RunDir(run_dir), config)
    dropped = ", ".join(f"{k} {v}" for k, v in stats["dropped_samples"].items()) or "none"
    console.print(
        f"curate: kept {stats['kept_samples']} of {stats['candidates']} samples; dropped: {dropped}"
    )


@config_options(ExportOptions)
def export_command(
    given: dict[str, Any],
    run_dir: Path = RUN,
    format: list[str] = typer.Option(
        ["sft"], "--format", "-f", help="sft, rft, dpo or grpo (repeatable)."
    ),
    parquet: bool = typer.Option(True, help="Also write Parquet files."),
) -> None:
    """Write training files (JSONL + Parquet) and a dataset card to RUN/export/."""
    from sciinstruct.export import export_run
    from sciinstruct.rundir import RunDir

    formats = [f for value in format for f in value.split(",") if f]
    options = build_config(ExportOptions, given)
    stats = export_run(RunDir(run_dir), formats, options, parquet=parquet)
    for fmt, values in stats.items():
        console.print(
            f"export {fmt}: {values['rows']} rows -> {run_dir / 'export' / values['files'][0]}"
        )


def report_command(
    run_dir: Path = RUN,
    compare: list[Path] = typer.Option(
        [], help="Also compare these run directories (evaluation results)."
    ),
    out: Path | None = typer.Option(
        None, help="Comparison output directory [default: RUN/compare]."
    ),
) -> None:
    """Counts, lengths, funnel and score distributions of a run: report.md and plots/*.png.

    With --compare, RUN and the other directories are evaluation outputs (results.json) shown
    side by side: `sciinstruct report eval/base --compare eval/tuned`.
    """
    from sciinstruct.report import make_report
    from sciinstruct.rundir import RunDir

    run = RunDir(run_dir)
    # An evaluation output directory has results.json but no questions: nothing to report on
    # as a run, only to compare.
    is_eval_dir = (run_dir / "results.json").exists() and not run.questions.exists()
    if not (is_eval_dir and compare):
        stats = make_report(run)
        console.print(f"report: {stats['report']} with {len(stats['plots'])} plots")
    if compare:
        try:
            from sciinstruct.evaluate.compare import compare_runs
        except ImportError as exc:
            raise SciInstructError(
                "--compare needs sciinstruct.evaluate.compare, not in this build"
            ) from exc
        written = compare_runs([run_dir, *compare], out or run_dir / "compare")
        console.print(f"comparison: {written}")


def register(app: typer.Typer) -> None:
    app.command("filter")(filter_command)
    app.command("curate")(curate_command)
    app.command("export")(export_command)
    app.command("report")(report_command)
