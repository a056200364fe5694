"""`sciinstruct grade`: grade one answer, or a JSONL file of pairs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from sciinstruct.cli.options import build_config, config_options
from sciinstruct.errors import InputError
from sciinstruct.grading.verifier import JudgeSpec
from sciinstruct.settings import check_declared, option

_SURROGATES = re.compile("[\ud800-\udfff]")
_CHUNK = 2000  # rows graded per grade_many call: one progress step, bounded memory


@dataclass(frozen=True)
class GradeOptions:
    """How `grade` grades: each option declared once (a row's own field in --file wins)."""

    answer_type: str = option(
        "auto",
        "auto, numeric, expression, choice, text, smiles, formula, sequence, molecule_design "
        "or proof (per-row answer_type in --file wins).",
        flag="--type",
        short="-t",
    )
    unit: str | None = option(None, "The reference's unit, if not in GOLD.")
    rtol: float | None = option(
        None, "Relative tolerance for numbers [default: a row's metadata.rtol, else 0.01].", min=0
    )
    workers: int | None = option(None, "Processes for symbolic checks.", min=1)
    question: str | None = option(
        None,
        "The question's text: an answer that only repeats a quantity it gives, converted, "
        "is wrong (per-row `question` in --file wins).",
        short="-q",
    )
    finish_reason: str | None = option(
        None,
        "How the generation ended; `length` (cut off) credits only a stated answer "
        "(per-row `finish_reason` in --file wins).",
    )
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    judge_cache: str | None = option(
        None, "Response cache for the judge (a .sqlite file); re-grading then costs nothing."
    )

    def __post_init__(self) -> None:
        from sciinstruct.grading.answer_types import resolve

        check_declared(self)
        try:
            resolve(self.answer_type)
        except ValueError as exc:
            raise InputError(str(exc), field="answer_type") from None


def register(app: typer.Typer) -> None:
    app.command("grade")(config_options(GradeOptions)(grade_command))


def grade_command(
    given: dict[str, Any],
    pred: str | None = typer.Argument(None, help="The model's answer or full solution."),
    gold: str | None = typer.Argument(None, help="The reference answer."),
    file: Path | None = typer.Option(
        None,
        "--file",
        "-f",
        help="JSONL rows with pred, gold (answer_type, unit, rtol, choices, metadata, equivalent).",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where --file verdicts go (default: stdout)."
    ),
) -> None:
    """Grade PRED against GOLD and print one JSON verdict, or grade every row of --file."""
    from sciinstruct.grading import grade

    if file is None and (pred is None or gold is None):
        raise InputError("give PRED and GOLD, or --file pairs.jsonl")
    if file is not None and pred is not None:
        raise InputError("give either PRED GOLD or --file, not both")
    opts = build_config(GradeOptions, given)
    answer_type, unit, rtol, workers = opts.answer_type, opts.unit, opts.rtol, opts.workers
    question, finish_reason = opts.question, opts.finish_reason
    judge = opts.judge.build(opts.judge_cache)
    try:
        if file is not None:
            defaults = {"question": question, "finish_reason": finish_reason}
            _grade_file(file, out, answer_type, unit, rtol, workers, defaults, judge)
            return
        verdict = grade(
            str(pred),
            str(gold),
            answer_type=answer_type,
            unit=unit,
            rtol=rtol,
            question=question,
            finish_reason=finish_reason,
            judge=judge,
        )
        typer.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
    finally:
        if judge is not None:
            judge.backend.close()


def _read_pairs(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows with string `pred` and `gold`; every other line becomes a `file:line: why` error."""
    if not path.exists():
        raise InputError("file not found", file=str(path))
    rows, errors = [], []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                errors.append(f"{where}: not a JSON object ({exc})")
                continue
            if not isinstance(row, dict):
                errors.append(f"{where}: expected a JSON object, got {type(row).__name__}")
                continue
            missing = [k for k in ("pred", "gold") if not isinstance(row.get(k), str | int | float)]
            if missing:
                errors.append(f"{where}: field '{missing[0]}' missing or not a string")
                continue
            rows.append(row)
    return rows, errors


def _grade_file(
    path: Path,
    out: Path | None,
    answer_type: str,
    unit: str | None,
    rtol: float | None,
    workers: int | None,
    defaults: dict[str, str | None],
    judge: Any,
) -> None:
    from sciinstruct.jsonl import write_jsonl
    from sciinstruct.log import err_console, progress

    rows, errors = _read_pairs(path)
    for error in errors:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    if not rows:
        raise InputError("no gradable rows (each needs 'pred' and 'gold')", file=str(path))
    graded: list[dict[str, Any]] = []
    with progress() as bar:
        task = bar.add_task("grading", total=len(rows))
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            graded += _grade_chunk(chunk, answer_type, unit, rtol, workers, defaults, judge)
            bar.advance(task, len(chunk))
    if out is None:
        for row in graded:
            typer.echo(json.dumps(row, ensure_ascii=False))
    else:
        write_jsonl(out, graded)
    err_console.print(_summary(graded, len(errors)), highlight=False)


def _grade_chunk(
    chunk: list[dict[str, Any]],
    answer_type: str,
    unit: str | None,
    rtol: float | None,
    workers: int | None,
    defaults: dict[str, str | None],
    judge: Any,
) -> list[dict[str, Any]]:
    """Grade rows, each with its own answer_type, unit, choices, metadata, question,
    finish_reason and rtol (else the flags')."""
    from sciinstruct.grading import GradeItem, grade_many

    items = [
        GradeItem(
            str(r["pred"]),
            str(r["gold"]),
            answer_type=r.get("answer_type") or answer_type,
            unit=r.get("unit") or unit,
            rtol=float(r["rtol"]) if r.get("rtol") is not None else rtol,
            choices=r.get("choices"),
            metadata=r.get("metadata"),
            question=r.get("question") or defaults["question"],
            finish_reason=r.get("finish_reason") or defaults["finish_reason"],
        )
        for r in chunk
    ]
    verdicts = grade_many(items, workers=workers, judge=judge)
    return [
        {k: _writable(v) for k, v in {**row, **verdict.to_dict()}.items()}
        for row, verdict in zip(chunk, verdicts, strict=True)
    ]


def _writable(value: Any) -> Any:
    """A value with lone surrogates (undecodable input bytes) replaced, so it can be written."""
    return _SURROGATES.sub("\ufffd", value) if isinstance(value, str) else value


def _summary(graded: list[dict[str, Any]], bad_rows: int) -> str:
    """One line: counts, and accuracy against the `equivalent` labels when rows carry them."""
    right = sum(r["correct"] is True for r in graded)
    data_errors = sum(r["correct"] is None for r in graded)
    judged = sum(r.get("source") == "judge" for r in graded)
    truncated = sum(bool(r.get("truncated")) for r in graded)
    line = f"graded {len(graded)} rows: {right} correct, {data_errors} ungradable"
    if judged:
        line += f", {judged} decided by the judge"
    if truncated:
        line += f", {truncated} cut off by the token limit"
    if bad_rows:
        line += f", {bad_rows} bad rows skipped"
    labelled = [r for r in graded if isinstance(r.get("equivalent"), bool)]
    if labelled:
        agree = sum(r["correct"] is r["equivalent"] for r in labelled)
        fp = sum(r["correct"] is True and not r["equivalent"] for r in labelled)
        fn = sum(r["correct"] is not True and r["equivalent"] for r in labelled)
        line += (
            f"; accuracy {agree / len(labelled):.2%} on {len(labelled)} labelled rows "
            f"({fp} false positives, {fn} false negatives)"
        )
    return line
