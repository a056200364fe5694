"""From predictions to numbers: per-benchmark and per-subject accuracy, pass@k, judge scores,
written as `results.json` (for programs, with an `accuracy` field per benchmark and overall) and
`summary.md` (for people).

Counting rules: a question whose reference the grader cannot parse is a data error, reported as
`ungradable` and left out of accuracy; a failed generation or an answer that cannot be extracted
is wrong. With k samples a question counts as correct when its majority-vote answer is.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciinstruct.benchmarks.registry import BenchmarkSpec
from sciinstruct.evaluate.metrics import accuracy, majority_vote, mean_interval, pass_at_k
from sciinstruct.rendering import md_cell, md_code, md_table

Prediction = dict[str, Any]


def _by_question(predictions: Sequence[Prediction]) -> dict[str, list[Prediction]]:
    grouped: dict[str, list[Prediction]] = defaultdict(list)
    for row in predictions:
        grouped[row["question_id"]].append(row)
    return {qid: sorted(rows, key=lambda r: r["sample"]) for qid, rows in grouped.items()}


def question_outcome(samples: Sequence[Prediction]) -> bool | None:
    """Correct, wrong, or None (ungradable) for one question from its k graded samples."""
    gradable = [s for s in samples if s.get("correct") is not None]
    if not gradable:
        return None
    if len(samples) == 1:
        return bool(gradable[0]["correct"])
    index, _ = majority_vote([s.get("extracted") for s in gradable])
    return bool(gradable[index]["correct"]) if index is not None else False


def _pass_ks(samples: int) -> list[int]:
    """k = 1, 2, 4, ... up to the number of samples, and the number of samples itself."""
    ks, k = [], 1
    while k < samples:
        ks.append(k)
        k *= 2
    return [*ks, samples]


def summarize_graded(
    spec: BenchmarkSpec, predictions: Sequence[Prediction], samples: int
) -> dict[str, Any]:
    grouped = _by_question(predictions)
    outcomes = {qid: question_outcome(rows) for qid, rows in grouped.items()}
    subject_of = {qid: rows[0]["subject"] for qid, rows in grouped.items()}
    graded = [ok for ok in outcomes.values() if ok is not None]
    subjects: dict[str, list[bool]] = defaultdict(list)
    for qid, ok in outcomes.items():
        if ok is not None:
            subjects[subject_of[qid]].append(ok)
    result: dict[str, Any] = {
        **accuracy(graded).to_dict(),
        "metric": "majority_vote_accuracy" if samples > 1 else "accuracy",
        "questions": len(grouped),
        "ungradable": sum(ok is None for ok in outcomes.values()),
        "generation_errors": sum(bool(r.get("error")) for r in predictions),
        "no_answer": sum(r.get("extracted") is None and not r.get("error") for r in predictions),
        "fallback_extractions": sum(bool(r.get("fallback")) for r in predictions),
        # cut off by the token limit: credited only for an explicitly stated answer
        "truncated": sum(bool(r.get("truncated")) for r in predictions),
        "truncated_correct": sum(
            bool(r.get("truncated")) and r.get("correct") is True for r in predictions
        ),
        # verdicts the rules could not decide, decided by the grading judge (--judge-*)
        "judge_decided": sum(r.get("graded_by") == "judge" for r in predictions),
        # of those, responses the verifier found invalid (cut off, repetitive, no answer):
        # wrong, but not the same failure as a wrong answer, so counted apart
        "invalid": sum(r.get("judge_label") == "invalid" for r in predictions),
        # replies in no form the verifier's format knows: the rules' verdict stood
        "judge_unparseable": sum(r.get("judge_label") == "unparseable" for r in predictions),
        "subjects": {s: accuracy(flags).to_dict() for s, flags in sorted(subjects.items())},
    }
    if samples > 1:
        per_question = [
            (len(g), sum(bool(r["correct"]) for r in g))
            for g in (
                [r for r in rows if r.get("correct") is not None] for rows in grouped.values()
            )
            if len(g) == samples
        ]
        result["pass_at_k"] = (
            {
                str(k): sum(pass_at_k(n, c, k) for n, c in per_question) / len(per_question)
                for k in _pass_ks(samples)
            }
            if per_question
            else {}
        )
    return result


def summarize_judged(predictions: Sequence[Prediction]) -> dict[str, Any]:
    scored = [r for r in predictions if r.get("score") is not None]
    mean, low, high = mean_interval([float(r["score"]) for r in scored])
    subjects: dict[str, list[float]] = defaultdict(list)
    for row in scored:
        subjects[row["subject"]].append(float(row["score"]))
    histogram = {str(s): sum(r["score"] == s for r in scored) for s in range(1, 11)}
    return {
        "accuracy": None,  # open-ended answers have no right/wrong; see mean_score
        "metric": "mean_score",
        "mean_score": mean,
        "ci_low": low,
        "ci_high": high,
        "n": len(scored),
        "questions": len({r["question_id"] for r in predictions}),
        "unparseable_judgments": sum(
            r.get("score") is None and not r.get("judge_error") for r in predictions
        ),
        "judge_errors": sum(bool(r.get("judge_error")) for r in predictions),
        "score_histogram": histogram,
        "judge_model": next((r.get("judge_model") for r in predictions), None),
        "subjects": {
            s: dict(zip(("mean_score", "ci_low", "ci_high"), mean_interval(v), strict=True))
            | {"n": len(v)}
            for s, v in sorted(subjects.items())
        },
    }


def summarize(
    spec: BenchmarkSpec, predictions: Sequence[Prediction], samples: int
) -> dict[str, Any]:
    """One benchmark's entry of results.json."""
    body = (
        summarize_judged(predictions)
        if spec.mode == "judged"
        else summarize_graded(spec, predictions, samples)
    )
    return {"version": spec.version, "mode": spec.mode, **body}


def overall(benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Micro-averaged accuracy over the graded benchmarks (each question counts once)."""
    graded = [b for b in benchmarks.values() if b["mode"] == "graded"]
    correct, n = sum(b["correct"] for b in graded), sum(b["n"] for b in graded)
    flags = [True] * correct + [False] * (n - correct)
    return {**accuracy(flags).to_dict(), "benchmarks": len(graded)}


def write_results(out: Path, results: dict[str, Any]) -> None:
    """`results.json` (atomically) and `summary.md`."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / "results.json")
    (out / "summary.md").write_text(summary_markdown(results), encoding="utf-8")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def summary_markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation of {md_code(results['model'])} ({md_cell(results['backend'])})",
        "",
    ]
    rows: list[list[Any]] = []
    for name, b in results["benchmarks"].items():
        if b["mode"] == "judged":
            mean = "n/a" if b["mean_score"] is None else f"{b['mean_score']:.2f}"
            rows.append(
                [name, "mean judge score (1-10)", mean, f"{b['ci_low']:.2f}-{b['ci_high']:.2f}",
                 b["n"], f"{b['unparseable_judgments']} unparseable judgments"]
            )  # fmt: skip
            continue
        notes = [
            f"{b[k]} {k.replace('_', ' ')}"
            for k in (
                "ungradable",
                "generation_errors",
                "no_answer",
                "fallback_extractions",
                "truncated",
                "judge_decided",
                "invalid",
                "judge_unparseable",
            )
            if b.get(k)
        ]
        notes += [f"pass@{k} {_pct(v)}" for k, v in b.get("pass_at_k", {}).items()]
        rows.append(
            [name, f"{b['metric'].replace('_', ' ')} %", _pct(b["accuracy"]),
             f"{_pct(b['ci_low'])}-{_pct(b['ci_high'])}", b["n"], "; ".join(notes)]
        )  # fmt: skip
    lines += md_table(["benchmark", "metric", "value", "95% CI", "n", "notes"], rows)
    o = results["overall"]
    lines += [
        "",
        f"**Overall** (graded benchmarks, micro-average): {_pct(o['accuracy'])}% "
        f"(95% CI {_pct(o['ci_low'])}-{_pct(o['ci_high'])}, n={o['n']})",
        "",
    ]
    lines += ["## Per subject", ""]
    rows = []
    for name, b in results["benchmarks"].items():
        for subject, s in b["subjects"].items():
            if b["mode"] == "judged":
                value, low, high = (
                    f"{s['mean_score']:.2f}",
                    f"{s['ci_low']:.2f}",
                    f"{s['ci_high']:.2f}",
                )
            else:
                value, low, high = _pct(s["accuracy"]), _pct(s["ci_low"]), _pct(s["ci_high"])
            rows.append([name, subject, value, f"{low}-{high}", s["n"]])
    lines += md_table(["benchmark", "subject", "value", "95% CI", "n"], rows)
    config = results["config"]
    lines += [
        "",
        f"Settings: shots={config['shots']}, samples={config['samples']}, "
        f"limit={config['limit']}, seed={config['seed']}. "
        "Every prediction, with its prompt, extracted answer and verdict, is in `predictions.jsonl`.",
        "",
    ]
    return "\n".join(lines)
