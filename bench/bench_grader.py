"""Grader benchmark: sciinstruct vs plain math-verify on labelled pairs, and throughput.

    .venv/bin/python bench/bench_grader.py [--quick] [--tables v4] [--no-regression]

1. Accuracy, on two tables kept apart:
   - the team's regression table, tests/data/grading/*.jsonl (written by the people who built
     the grader: it shows what they know to handle, not how good it is);
   - the external tables, bench/data/grader_external*.jsonl and grader_worked*.jsonl, each
     version (v1: no suffix, v2: `_v2`, ...) reported on its own, counts only
     (labelled pairs written from real model outputs and public benchmarks' worked solutions,
     frozen before the bench runs and never used to tune a rule), when they exist. A table
     that was measured and then opened to tune the grader is listed in RETIRED and reported as
     development data: only a newer table gives a held-out figure.
   Every pair is graded by `sciinstruct.grading.grade` and by plain math-verify as its README
   shows it, `verify(parse(gold), parse(pred))` with default settings. Plain math-verify runs
   in this repository's sandbox workers (same 10 s hard limit for both), since some adversarial
   inputs hang it inside C code where its `signal.alarm` cannot reach. Per family: accuracy,
   false positives, false negatives; the cases where math-verify is right and we are wrong; and
   the share of correct worked solutions graded correct.
   Per table, hits and errors by the extraction rule that read the answer (`Verdict.rule`).
2. Throughput on typical answers (boxed integers, choices, numbers with units, scientific
   notation, text, identical LaTeX, and 10% that need sympy): grades/s with `grade_many` on 1
   and 2 worker processes, per-call p50/p99 latency of `grade`, and math-verify's grades/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sciinstruct.grading import Verdict

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "grading"
BENCH_DATA = ROOT / "bench" / "data"
HARD_LIMIT_S = 10.0
# Tables that have been measured once and then opened to tune the grader: from then on they
# are development data, reported apart, and only a newer table gives a held-out figure.
RETIRED = {
    "v1": "2026-12-05",
    "v2": "2026-12-05",
    "v3": "2026-12-05",
    "v4": "2026-12-05",
    "v6": "2026-12-06",
    "v7": "2026-12-07",
    "v8": "2026-12-07",
    "v9": "2026-12-07",
    "v10": "2026-12-08",
}


def plain_math_verify(pred: str, gold: str) -> bool:
    """math-verify as its README uses it: parse both with the default configs, then verify.

    Bare strings are wrapped in `$...$` as the README does for its golds; that is the generous
    reading (unwrapped, it misses most bare references).
    """
    from math_verify import parse, verify

    def wrap(s: str) -> str:
        return s if "$" in s or "\\boxed" in s or "\\(" in s else f"${s}$"

    return bool(verify(parse(wrap(gold)), parse(wrap(pred))))


# Run by sandbox workers started with this file's directory on PYTHONPATH.
OPS = {"mv": plain_math_verify}


def load_rows() -> list[dict]:
    """The regression table; a row's group is its `family` or else its file."""
    rows = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            row["file"] = row.get("family") or path.stem
            rows.append(row)
    return rows


def external_versions() -> dict[str, list[Path]]:
    """The frozen external tables by version: `v1` for grader_external.jsonl and
    grader_worked.jsonl, `v2` for grader_external_v2.jsonl and grader_worked_v2.jsonl, ..."""
    versions: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(BENCH_DATA.glob("grader_external*.jsonl")) + sorted(
        BENCH_DATA.glob("grader_worked*.jsonl")
    ):
        suffix = path.stem.split("_", 2)[2] if path.stem.count("_") >= 2 else "v1"
        versions[suffix].append(path)
    return dict(sorted(versions.items()))


def load_external(paths: list[Path]) -> list[dict]:
    """One version's external tables (schema: id, family, pred, gold, answer_type, unit, rtol,
    choices, question, finish_reason, label, source)."""
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            row["file"] = row.get("family") or path.stem
            row["equivalent"] = row["label"]
            row["worked"] = path.stem.startswith("grader_worked")
            rows.append(row)
    return rows


def ours(rows: list[dict]) -> list[Verdict]:
    from sciinstruct.grading import grade

    return [
        grade(
            r["pred"],
            r["gold"],
            r.get("answer_type", "auto"),
            r.get("unit"),
            r.get("rtol"),
            r.get("choices"),
            timeout=HARD_LIMIT_S,
            metadata=r.get("metadata"),
            question=r.get("question"),
            finish_reason=r.get("finish_reason"),
        )
        for r in rows
    ]


def dump_dev_verdicts(path: Path) -> int:
    """Write every development row's full verdict (the regression table and the retired
    external tables), one JSON object a line, in a fixed order: the gate a refactor of the
    grader is held to is that this file does not change (`diff` two dumps)."""
    rows = load_rows()
    for version, paths in external_versions().items():
        if version in RETIRED:
            rows += load_external(paths)
    with path.open("w", encoding="utf-8") as out:
        for i, (r, verdict) in enumerate(zip(rows, ours(rows), strict=True)):
            record = {"row": f"{r['file']}#{r.get('id', i)}", **verdict.to_dict()}
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return len(rows)


def theirs(rows: list[dict], workers: int) -> list[bool]:
    from sciinstruct.grading.sandbox import WorkerPool

    pool = WorkerPool(workers, ops_module="bench_grader")
    try:
        outcomes = pool.run([("mv", (r["pred"], r["gold"])) for r in rows], HARD_LIMIT_S)
    finally:
        pool.close()
    return [bool(o.value) if o.error is None else False for o in outcomes]


def _tally(
    rows: list[dict], mine: list, mv: list, group: Callable[[dict], str]
) -> dict[str, dict[str, int]]:
    """Counts per `group(row)` and for `**all**`: pairs, right, FP and FN for both graders, and
    the bad references (label None) with how many of them we flagged (verdict None)."""
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row, a, b in zip(rows, mine, mv, strict=True):
        label = row["equivalent"]
        for s in (stats[group(row)], stats["**all**"]):
            if label is None:  # a bad reference: we must say so; math-verify has no way to
                s["bad_refs"] += 1
                s["flagged"] += a is None
                continue
            s["n"] += 1
            s["ours_ok"] += a is label
            s["mv_ok"] += b is label
            s["ours_fp"] += a is True and not label
            s["ours_fn"] += a is not True and label
            s["mv_fp"] += b is True and not label
            s["mv_fn"] += b is not True and label
    return stats


def _ordered(stats: dict[str, dict[str, int]]) -> list[str]:
    return sorted(stats, key=lambda name: (name == "**all**", name))


def accuracy_table(rows: list[dict], mine: list, mv: list) -> tuple[str, list[str]]:
    stats = _tally(rows, mine, mv, lambda row: row["file"])
    regressions = [
        f"{row['file']}: pred={row['pred'][:50]!r} gold={row['gold'][:40]!r}"
        for row, a, b in zip(rows, mine, mv, strict=True)
        if row["equivalent"] is not None and b is row["equivalent"] and a is not row["equivalent"]
    ]
    lines = [
        "| family | pairs | ours acc | ours FP | ours FN | math-verify acc | MV FP | MV FN "
        "| bad refs flagged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_row(name, stats[name]) for name in _ordered(stats)]
    return "\n".join(lines), regressions


def _row(name: str, s: dict[str, int]) -> str:
    n = max(s["n"], 1)
    flagged = f"{s['flagged']}/{s['bad_refs']}" if s["bad_refs"] else "-"
    return (
        f"| {name} | {s['n']} | {s['ours_ok'] / n:.1%} | {s['ours_fp']} | {s['ours_fn']} | "
        f"{s['mv_ok'] / n:.1%} | {s['mv_fp']} | {s['mv_fn']} | {flagged} |"
    )


def worked_share(rows: list[dict], mine: list, mv: list) -> str | None:
    """The share of correct worked solutions graded correct, ours and math-verify's."""
    worked = [
        (a, b)
        for r, a, b in zip(rows, mine, mv, strict=True)
        if r.get("worked") and r["equivalent"]
    ]
    if not worked:
        return None
    ours_ok = sum(a is True for a, _ in worked)
    mv_ok = sum(b is True for _, b in worked)
    return (
        f"Correct worked solutions graded correct: sciinstruct {ours_ok}/{len(worked)} "
        f"({ours_ok / len(worked):.1%}), math-verify {mv_ok}/{len(worked)} ({mv_ok / len(worked):.1%})"
    )


def rule_table(rows: list[dict], verdicts: list[Verdict]) -> str:
    """Hits and errors per extraction rule (`Verdict.rule`, `-` when none read an answer):
    which rule reads which share of the answers, and which rules the errors come through."""
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row, verdict in zip(rows, verdicts, strict=True):
        label, s = row["equivalent"], stats[verdict.rule or "-"]
        if label is None:
            continue
        s["n"] += 1
        s["ok"] += verdict.correct is label
        s["fp"] += verdict.correct is True and not label
        s["fn"] += verdict.correct is not True and label
    lines = ["| rule | pairs | right | FP | FN |", "|---|---:|---:|---:|---:|"]
    for name in sorted(stats, key=lambda n: -stats[n]["n"]):
        s = stats[name]
        lines.append(f"| {name} | {s['n']} | {s['ok']} | {s['fp']} | {s['fn']} |")
    return "\n".join(lines)


def kind_table(rows: list[dict], mine: list, mv: list) -> str:
    """The same verdicts split by answer kind: free-form (`answer_type` auto, no choices) is
    math-verify's home ground, and the issue's goal there is never to fall below it."""

    def kind(row: dict) -> str:
        answer_type = row.get("answer_type") or "auto"
        if row.get("choices") or answer_type == "choice":
            return "multiple choice"
        return "free-form" if answer_type == "auto" else f"answer_type {answer_type}"

    stats = _tally(rows, mine, mv, kind)
    lines = [
        "| kind | pairs | ours | ours FP | math-verify | MV FP |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in (name for name in _ordered(stats) if stats[name]["n"]):  # not only bad refs
        s, n = stats[name], stats[name]["n"]
        lines.append(
            f"| {name} | {s['n']} | {s['ours_ok'] / n:.1%} | {s['ours_fp']} | "
            f"{s['mv_ok'] / n:.1%} | {s['mv_fp']} |"
        )
    return "\n".join(lines)


def report_table(title: str, rows: list[dict], show_cases: bool = True) -> None:
    """Print one table, and its hits and errors per rule; `show_cases=False` prints only counts
    (the external table is held out: whoever tunes the grader must not read its cases)."""
    verdicts, mv = ours(rows), theirs(rows, workers=2)
    mine = [v.correct for v in verdicts]
    table, regressions = accuracy_table(rows, mine, mv)
    print(f"## {title}: {len(rows)} labelled pairs\n\n{table}\n")
    print(f"By the rule that read the answer:\n\n{rule_table(rows, verdicts)}\n")
    print(f"By answer kind (the same verdicts):\n\n{kind_table(rows, mine, mv)}\n")
    share = worked_share(rows, mine, mv)
    if share:
        print(f"{share}\n")
    print(f"Cases where math-verify is right and sciinstruct is wrong: {len(regressions)}")
    for line in regressions if show_cases else []:
        print(f"- {line}")
    print()


def typical_pairs(n: int, seed: int = 0, symbolic: bool = True) -> tuple[list[str], list[str]]:
    """Answers as models write them; with `symbolic`, every tenth needs sympy.

    Roughly 30% are wrong. The fractions settle in-process (exact rationals); `x\\sqrt{4}`
    against `2x` goes to the sandbox.
    """
    rng = random.Random(seed)
    preds, golds = [], []
    for i in range(n):
        k = i % 10
        x = rng.randint(1, 999) + 1000 * seed  # each seed its own numbers: no cache carries over
        wrong = rng.random() < 0.3
        if k in (0, 1, 2):
            preds.append(f"Adding them up gives {x}. So the answer is \\boxed{{{x + wrong}}}.")
            golds.append(str(x))
        elif k == 3:
            letter = "ABCD"[x % 4]
            preds.append(f"The answer is ({'ABCD'[(x + wrong) % 4]}).")
            golds.append(letter)
        elif k == 4:
            preds.append(f"E = \\boxed{{{x / 10:.1f}\\,\\mathrm{{kJ}}}}")
            golds.append(f"{x * 100 * (1 + wrong)} J")
        elif k == 5:
            preds.append(f"Answer: {x * 1.1e-19 * (1 + 0.2 * wrong):.3e}")
            golds.append(f"{x * 1.1e-19:.3e}")
        elif k == 6:
            preds.append(f"so it \\boxed{{\\text{{{'decreases' if wrong else 'increases'}}}}}")
            golds.append("increases")
        elif k in (7, 8):
            preds.append(f"\\boxed{{\\frac{{{x}}}{{{x + 1 + wrong}}}}}")
            golds.append(f"\\frac{{{x}}}{{{x + 1}}}")
        elif not symbolic:  # an integer answer in place of the sympy one
            preds.append(f"Therefore the final answer is {x + wrong}.")
            golds.append(str(x))
        else:  # needs sympy: y\sqrt{4} is 2y; y unique, so the cache never answers
            y = i + 100_000 * seed
            preds.append(f"\\boxed{{{y}\\sqrt{{{4 + wrong}}}}}")
            golds.append(f"{2 * y}")
    return preds, golds


def throughput(n: int, symbolic: bool) -> dict[str, float]:
    """Each measurement grades its own fresh pairs, so no cache (ours or the workers') helps."""
    from sciinstruct.grading import grade, grade_many

    result = {}
    warm_preds, warm_golds = typical_pairs(200, seed=0)
    grade_many(warm_preds, warm_golds, workers=2)  # start the workers, build pint's registry
    base = 10 if symbolic else 20
    for workers in (1, 2):
        preds, golds = typical_pairs(n, seed=base + workers, symbolic=symbolic)
        start = time.perf_counter()
        grade_many(preds, golds, workers=workers)
        result[f"grades/s, {workers} worker(s)"] = len(preds) / (time.perf_counter() - start)
    preds, golds = typical_pairs(min(n, 2000), seed=base + 3, symbolic=symbolic)
    latencies = []
    for p, g in zip(preds, golds, strict=True):
        start = time.perf_counter()
        grade(p, g)
        latencies.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(latencies, n=100)
    result["p50 latency (ms)"], result["p99 latency (ms)"] = cuts[49], cuts[98]
    from math_verify import parse, verify

    sample = list(zip(*typical_pairs(max(200, n // 5), base + 4, symbolic), strict=True))
    start = time.perf_counter()
    for p, g in sample:
        verify(parse(g), parse(p))
    result["math-verify grades/s (1 process, same mix)"] = len(sample) / (
        time.perf_counter() - start
    )
    result["sciinstruct (2 workers) / math-verify"] = (
        result["grades/s, 2 worker(s)"] / result["math-verify grades/s (1 process, same mix)"]
    )
    return result


# A long response: a worked solution, where extraction (ours or math-verify's) does the work.
LONG_CHARS = 400


def long_throughput(workers: int = 2) -> dict[str, float]:
    """Grades/s on the development tables' long responses (>= LONG_CHARS; the adversarial rows
    left out, as they exist to hang parsers), cold: our result cache emptied first; math-verify
    as its README calls it, in this process, on the same pairs in the same run."""
    from math_verify import parse, verify

    from sciinstruct.grading import GradeItem, grade_many, grader
    from sciinstruct.grading.sandbox import shared_pool

    rows = [r for r in load_rows() if r["file"] != "adversarial"]
    for version, paths in external_versions().items():
        rows += load_external(paths) if version in RETIRED else []
    # the workers start on 20 short rows, outside the timed set: a warm-up on timed rows left
    # their parses in the workers' own caches
    warm = [GradeItem.from_row(r) for r in rows if len(r["pred"]) < LONG_CHARS][:20]
    rows = [r for r in rows if len(r["pred"]) >= LONG_CHARS]
    items = [GradeItem.from_row(r) for r in rows]
    grade_many(warm, workers=workers)
    # start every worker (short rows may need none), outside the timed part as math-verify's
    # import is; then empty the cache
    shared_pool(workers).run([("number", ("1",))] * workers, HARD_LIMIT_S, parallel=workers)
    grader._cache.clear()
    start = time.perf_counter()
    grade_many(items, workers=workers)
    ours_rate = len(items) / (time.perf_counter() - start)
    start = time.perf_counter()
    for r in rows:
        verify(parse(r["gold"]), parse(r["pred"]))
    theirs_rate = len(rows) / (time.perf_counter() - start)
    return {
        "long responses": len(rows),
        "mean characters": statistics.mean(len(r["pred"]) for r in rows),
        f"sciinstruct grades/s ({workers} workers)": ours_rate,
        "math-verify grades/s (1 process)": theirs_rate,
        "ratio": ours_rate / theirs_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 typical pairs, not 10,000")
    parser.add_argument(
        "--tables",
        nargs="*",
        metavar="VERSION",
        help="external table versions to report (e.g. v4); default all",
    )
    parser.add_argument(
        "--no-regression", action="store_true", help="skip the team's regression table"
    )
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput runs")
    parser.add_argument(
        "--dump-dev",
        type=Path,
        metavar="FILE",
        help="only write every development verdict to FILE (the refactoring gate), then exit",
    )
    args = parser.parse_args()
    if args.dump_dev:
        print(
            f"{dump_dev_verdicts(args.dump_dev):,} development verdicts written to {args.dump_dev}"
        )
        return
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    )
    if not args.no_regression:
        report_table("Regression table (the team's, tests/data/grading)", load_rows())
    versions = external_versions()
    if args.tables:
        versions = {v: paths for v, paths in versions.items() if v in args.tables}
    for version, paths in versions.items():  # each frozen table on its own, counts only
        names = " + ".join(p.name for p in paths)
        status = (
            f"retired to development data on {RETIRED[version]}, not a held-out figure"
            if version in RETIRED
            else "held out"
        )
        report_table(
            f"External table {version} ({names}; {status})",
            load_external(paths),
            show_cases=False,
        )
    if not versions:
        print("## External table\n\nnot there yet: no bench/data/grader_external*.jsonl\n")
    if args.no_throughput:
        return
    long = long_throughput()
    print("\n## Throughput on long real responses (development tables), cold\n")
    print("| measure | value |\n|---|---:|")
    for name, value in long.items():
        print(f"| {name} | {value:,.2f} |" if isinstance(value, float) else f"| {name} | {value} |")
    n = 1000 if args.quick else 10_000
    columns = {"typical": throughput(n, symbolic=False), "10% symbolic": throughput(n, True)}
    print(f"\n## Throughput, {n:,} fresh pairs per measurement\n")
    print("| measure | typical answers | with 10% needing sympy |\n|---|---:|---:|")
    for name in columns["typical"]:
        cells = [columns[c][name] for c in columns]
        shown = [f"{v:,.2f}" if "latency" in name else f"{v:,.0f}" for v in cells]
        print(f"| {name} | {' | '.join(shown)} |")


if __name__ == "__main__":
    main()
