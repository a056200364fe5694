"""One parser per published benchmark format: raw rows in, Questions out.

Each parser knows its benchmark's published field names and conventions (GSM8K's `#### answer`,
MATH's last `\\boxed{}`, SciBench's LaTeX units, SciEval's inline options, GPQA's unshuffled
correct answer) and records the published subset in `metadata["subset"]`. A row that lacks what
its format needs is an InputError naming the file, line and field.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sciinstruct.benchmarks.registry import BenchmarkSpec
from sciinstruct.errors import InputError
from sciinstruct.grading.extract import find_boxed
from sciinstruct.records import Question, stable_id
from sciinstruct.rows import Row

LETTERS = "ABCDEFGHIJ"


def _field(row: Row, name: str) -> Any:
    if name not in row.data or row.data[name] in (None, ""):
        raise InputError("missing or empty", file=row.file, line=row.line, field=name)
    return row.data[name]


def _question(row: Row, spec: BenchmarkSpec, **fields: Any) -> Question:
    fields.setdefault("source", spec.name)
    try:
        return Question(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(
            first["msg"], file=row.file, line=row.line, field=str(first["loc"][0])
        ) from exc


def parse_questions(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """Rows in the sciinstruct Question schema; `fields:` renames published columns."""
    rename = {column: name for name, column in spec.fields.items()}
    for row in rows:
        data = {rename.get(k, k): v for k, v in row.data.items()}
        yield _question(row, spec, **data)


def parse_gsm8k(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """GSM8K: `answer` is the worked solution ending in `#### <number>` (commas in thousands)."""
    for row in rows:
        solution = str(_field(row, "answer"))
        if "####" not in solution:
            raise InputError(
                "no '#### <answer>' line", file=row.file, line=row.line, field="answer"
            )
        final = solution.rsplit("####", 1)[1].strip().replace(",", "")
        yield _question(
            row,
            spec,
            question=_field(row, "question"),
            answer=final,
            solution=solution,
            subject="math",
            answer_type="numeric",
        )


def parse_math(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """MATH (`problem`, `solution`, `type`, `level`) and MATH-500 (adds `answer`, `subject`)."""
    for row in rows:
        solution = str(row.data.get("solution") or "")
        answer = row.data.get("answer") or (find_boxed(solution) or "").strip()
        if not answer:
            raise InputError(
                "no `answer` and no \\boxed{} in `solution`",
                file=row.file,
                line=row.line,
                field="solution",
            )
        subset = row.data.get("subject") or row.data.get("type") or "unknown"
        yield _question(
            row,
            spec,
            question=_field(row, "problem"),
            answer=str(answer),
            solution=solution or None,
            subject="math",
            metadata={"subset": str(subset), "level": row.data.get("level")},
        )


_SCALE = re.compile(r"^\s*(?:\\times\s*)?10\^\{?(-?\d+)\}?\s*")


def scibench_unit(raw: str) -> tuple[str | None, int]:
    """SciBench units are LaTeX (`$\\mathrm{~kJ} \\mathrm{~mol}^{-1}$`, `$10^{-19} \\mathrm{~J}$`):
    return a plain unit for pint and the power of ten the answer is quoted in."""
    text = raw.replace("$", "").strip()
    exponent = 0
    match = _SCALE.match(text)
    if match:
        exponent, text = int(match.group(1)), text[match.end() :]
    text = re.sub(r"\\mathrm\{([^}]*)\}", r"\1", text)
    text = text.replace("~", " ").replace("\\,", " ").replace("\\%", "%")
    text = re.sub(r"\^\{([^}]*)\}", r"^\1", text)
    text = " ".join(text.split())
    return (text or None), exponent


def parse_scibench(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """SciBench: `problem_text`, `answer_number`, LaTeX `unit`, textbook in `source`."""
    for row in rows:
        unit, exponent = scibench_unit(str(row.data.get("unit") or ""))
        number = str(_field(row, "answer_number")).strip()
        answer = number
        if exponent:
            try:
                answer = format(float(number) * 10**exponent, ".12g")
            except ValueError as exc:
                raise InputError(
                    f"not a number: {number!r}", file=row.file, line=row.line, field="answer_number"
                ) from exc
        yield _question(
            row,
            spec,
            question=_field(row, "problem_text"),
            answer=answer,
            unit=unit,
            answer_type="numeric",
            solution=row.data.get("solution") or None,
            metadata={
                "subset": str(row.data.get("source", "")),
                "problemid": str(row.data.get("problemid", "")).strip(),
                "unit_latex": row.data.get("unit"),
            },
        )


_OPTION_LINE = re.compile(r"^\s*([A-J])[.)]\s+(.*\S)\s*$")


def split_options(text: str) -> tuple[str, list[str]]:
    """Split "stem\\nA. x\\nB. y\\n...\\nAnswer:" into the stem and the option texts; no options
    unless the trailing lines are lettered A, B, C, ... in order."""
    body = text.rstrip().removesuffix("Answer:").rstrip()
    lines = body.splitlines()
    found: list[tuple[str, str]] = []
    while lines and (match := _OPTION_LINE.match(lines[-1])):
        found.insert(0, (match.group(1), match.group(2)))
        lines.pop()
    if len(found) < 2 or "".join(letter for letter, _ in found) != LETTERS[: len(found)]:
        return body.strip(), []
    return "\n".join(lines).strip(), [option for _, option in found]


def parse_scieval(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """SciEval: `question` (options inline), `answer` a one-element list, `type` multiple-choice,
    judge (yes/no) or filling, `category` the science, `ability` and `task_name` the subset."""
    kinds = {"multiple-choice": "choice", "judge": "text", "filling": "auto"}
    for row in rows:
        kind = str(_field(row, "type"))
        if kind not in kinds:
            raise InputError(
                f"unknown type {kind!r} (expected {', '.join(kinds)})",
                file=row.file,
                line=row.line,
                field="type",
            )
        answer = _field(row, "answer")
        answer = str(answer[0] if isinstance(answer, list) else answer)
        stem, options = split_options(str(_field(row, "question")))
        if kind != "multiple-choice":
            stem, options = str(row.data["question"]).rstrip().removesuffix("Answer:").strip(), []
        yield _question(
            row,
            spec,
            id=str(row.data.get("id") or ""),
            question=stem,
            answer=answer,
            choices=options or None,
            answer_type=kinds[kind],
            subject=str(row.data.get("category") or "unknown"),
            metadata={
                "subset": str(row.data.get("task_name", "")),
                "ability": row.data.get("ability"),
            },
        )


def _subset_of(file: str, split: str) -> str:
    """`college_physics_test.csv` -> `college_physics` (MMLU, C-Eval file naming)."""
    return Path(file).stem.removesuffix(f"_{split}")


def _choice_question(
    row: Row, spec: BenchmarkSpec, stem: str, options: list[str], letter: str, **extra: Any
) -> Question:
    letter = letter.strip().upper()
    if letter not in LETTERS[: len(options)]:
        raise InputError(
            f"answer {letter!r} is not one of {LETTERS[: len(options)]}",
            file=row.file,
            line=row.line,
            field="answer",
        )
    return _question(
        row, spec, question=stem, answer=letter, choices=options, answer_type="choice", **extra
    )


def parse_mmlu(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """MMLU CSV rows (question, A, B, C, D, answer letter) or the HF layout (choices, answer index)."""
    for row in rows:
        data = row.data
        if "choices" in data:
            options = [str(c) for c in data["choices"]]
            letter = LETTERS[int(data["answer"])]
            subset = str(data.get("subject", ""))
        else:
            options = [str(_field(row, k)) for k in "ABCD"]
            letter = str(_field(row, "answer"))
            subset = _subset_of(row.file, spec.source.split)
        yield _choice_question(
            row, spec, str(_field(row, "question")), options, letter, metadata={"subset": subset}
        )


def parse_ceval(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """C-Eval CSV (id, question, A, B, C, D, answer[, explanation]); the subset is the file name."""
    for row in rows:
        options = [str(_field(row, k)) for k in "ABCD"]
        yield _choice_question(
            row,
            spec,
            str(_field(row, "question")),
            options,
            str(_field(row, "answer")),
            solution=row.data.get("explanation") or None,
            metadata={
                "subset": _subset_of(row.file, spec.source.split),
                "ceval_id": row.data.get("id"),
            },
        )


def parse_gpqa(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """GPQA CSV: the correct answer and three incorrect ones, shuffled with a seed taken from the
    record id so every run (and every machine) sees the same option order."""
    for row in rows:
        correct = str(_field(row, "Correct Answer")).strip()
        options = [correct] + [str(_field(row, f"Incorrect Answer {i}")).strip() for i in (1, 2, 3)]
        record = str(row.data.get("Record ID") or stable_id(str(row.data["Question"])))
        random.Random(record).shuffle(options)
        yield _choice_question(
            row,
            spec,
            str(_field(row, "Question")).strip(),
            options,
            LETTERS[options.index(correct)],
            solution=row.data.get("Explanation") or None,
            metadata={
                "subset": str(row.data.get("High-level domain", "")),
                "subdomain": row.data.get("Subdomain"),
                "record_id": record,
            },
        )


def parse_agieval(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """AGIEval (SAT-Math): `passage`, `question`, `options` like "(A)12", `label` the letter."""
    for row in rows:
        options = [re.sub(r"^\([A-J]\)\s*", "", str(o)).strip() for o in _field(row, "options")]
        stem = "\n\n".join(str(p) for p in (row.data.get("passage"), row.data["question"]) if p)
        yield _choice_question(
            row,
            spec,
            stem,
            options,
            str(_field(row, "label")),
            subject="math",
            solution=row.data.get("explanation") or None,
        )


def parse_mathusereval(rows: Iterable[Row], spec: BenchmarkSpec) -> Iterator[Question]:
    """MathUserEval: `question`, an open-ended `reference` answer, `category`/`subcategory`."""
    for row in rows:
        yield _question(
            row,
            spec,
            id=f"mathusereval-{row.data.get('question_id', row.line)}",
            question=_field(row, "question"),
            answer=_field(row, "reference"),
            answer_type="text",
            subject="math",
            metadata={
                "subset": str(row.data.get("subcategory", "")),
                "category": row.data.get("category"),
            },
        )


Parser = Callable[[Iterable[Row], BenchmarkSpec], Iterator[Question]]

# format name -> (parser, file pattern inside a data directory, CSV columns when there is no header)
FORMATS: dict[str, tuple[Parser, str, list[str] | None]] = {
    "questions": (parse_questions, "*.jsonl", None),
    "gsm8k": (parse_gsm8k, "*.jsonl", None),
    "math": (parse_math, "*.json*", None),
    "scibench": (parse_scibench, "*.json", None),
    "scieval": (parse_scieval, "*.json", None),
    "mmlu": (parse_mmlu, "*.csv", ["question", "A", "B", "C", "D", "answer"]),
    "ceval": (parse_ceval, "*.csv", None),
    "gpqa": (parse_gpqa, "*.csv", None),
    "agieval": (parse_agieval, "*.jsonl", None),
    "mathusereval": (parse_mathusereval, "*.jsonl", None),
}
