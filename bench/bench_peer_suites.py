"""Peers' grader suites: sciinstruct vs plain math-verify on the cases of other graders' tests.

    .venv/bin/python bench/bench_peer_suites.py [--out bench/results/peer_suites.md]

The suites are the test modules that peers ship in their source distributions on PyPI
(`SUITES`), downloaded once into ~/.cache/sciinstruct/peer_suites/ with `pip download` and read
straight from the archive: nothing of them is vendored here, and none of their modules is
imported or run (pip itself asks the sdist's build backend for its metadata).
`peer_suite_cases.read_module` turns each module into (prediction, gold, expected) cases with
`ast`, and says which tests it could not read and why.

Every case is graded, in one run, by `sciinstruct.grading.grade_many` (no answer type, unit
or tolerance given) and by plain math-verify, `verify(parse(gold), parse(pred))` with default
settings, as bench_grader.py runs it (bare strings wrapped in `$...$`, the generous reading),
and also with the strings as they are. Math-verify also runs under the settings the peer's
test used, which shows that the cases were read as the test means them. Every math-verify run
goes through this repository's sandbox workers (10 s hard limit each). A grader is right on a
case when it credits the pair (for us `Verdict.correct is True`) exactly when the test expects
a match: a verdict of None ("bad reference") credits nothing.

Cases whose test changes what "equal" means (math-verify's `strict=False`,
`allow_set_relation_comp=True`, a `precision` other than its default 6) are reported apart:
their expected value holds only under that setting. A test that only narrows extraction
(LaTeX only, expressions only, \\boxed first) keeps its cases in the main table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tarfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peer_suite_cases import PeerCase, Unread, read_module

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path.home() / ".cache" / "sciinstruct" / "peer_suites"
HARD_LIMIT_S = 10.0
MV_DEFAULT_PRECISION = 6


@dataclass(frozen=True)
class Suite:
    """A peer's test suite in its PyPI source distribution: the files that hold grading cases."""

    name: str
    requirement: str  # name==version, for pip download
    files: tuple[str, ...]  # paths inside the archive, below its top folder; () for tests/*.py


SUITES = (
    Suite("math-verify", "math-verify==0.9.0", ()),
    # lm-eval's other tests are about the harness, not about grading answers
    Suite("lm-eval minerva_math", "lm-eval==0.4.13", ("tests/test_minerva_math.py",)),
    # inspect-evals' math scorers (MATH, AIME); its other scorer tests grade other things
    Suite(
        "inspect-evals math scorers",
        "inspect-evals==0.28.0",
        ("tests/math/test_scorer.py", "tests/aime_common/test_aime_common.py"),
    ),
)
# Looked at on PyPI and left out, for the report: their source distributions carry no test of
# (prediction, gold) pairs.
NOT_USED = {
    "latex2sympy2-extended==1.11.0": "no tests in the sdist",
    "lighteval==0.13.0": "no tests in the sdist",
    "verl==0.9.1": "no tests in the sdist",
    "opencompass==0.5.4": "no tests in the sdist",
    "evalscope==1.14.1": "no tests in the sdist",
    "xfinder==0.2.6": "no tests in the sdist",
    "symbolic-math-verify==0.2.1": "tests check YAML derivations, not answers against golds",
    "trl==1.16.0": "no tests in the sdist",
    "areal==1.0.4": "its sdist does not build here (maturin)",
    "verifiers==0.4.0": "its tests hold no answer-grading cases",
    "mathruler==0.1.0": "no source distribution that pip can fetch",
    "skythought==0.1.0": "needs Python < 3.11",
}


# Cases to read with care, keyed by (file, test id): what a reader of the list should know.
NOTES = {
    ("tests/test_yujianll.py", "test_string_extraction[9]"): (
        "the peer's label looks wrong (1 + 1/e is not 1 - 1/e); do not tune towards it"
    ),
    **{
        ("tests/test_all.py", f"test_latex_notation[{i}]"): (
            "False is math-verify's extraction (no newline inside $...$), not the answer, 9"
        )
        for i in (5, 6)
    },
}


def pip_command(suite: Suite, cache: Path) -> list[str]:
    return [
        sys.executable, "-m", "pip", "download", suite.requirement,
        "--no-deps", "--no-binary", ":all:", "-d", str(cache),
    ]  # fmt: skip


def sdist(suite: Suite, cache: Path) -> Path:
    """The suite's source archive in `cache`, downloaded when it is not there yet."""
    if (found := _cached(suite, cache)) is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    command = pip_command(suite, cache)
    done = subprocess.run(command, capture_output=True, text=True)
    found = _cached(suite, cache)
    if done.returncode != 0 or found is None:
        shown = " ".join(command[2:]).replace(str(Path.home()), "~")
        raise SystemExit(f"could not download {suite.requirement} (offline?); run: {shown}")
    return found


def _cached(suite: Suite, cache: Path) -> Path | None:
    # sdists are named NAME-VERSION.tar.gz, the name with - or _ as its maker wrote it
    wanted = suite.requirement.replace("==", "-").replace("_", "-").lower() + ".tar.gz"
    for path in sorted(cache.glob("*.tar.gz")):
        name, _, rest = path.name.lower().partition("-")
        if f"{name.replace('_', '-')}-{rest}" == wanted:
            return path
    return None


def read_suite(suite: Suite, archive: Path) -> tuple[list[PeerCase], list[Unread]]:
    cases: list[PeerCase] = []
    unread: list[Unread] = []
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            inner = member.name.split("/", 1)[1] if "/" in member.name else member.name
            wanted = inner in suite.files if suite.files else _is_test_module(inner)
            if not (member.isfile() and wanted):
                continue
            handle = tar.extractfile(member)
            assert handle is not None  # a regular file
            got, missed = read_module(handle.read().decode("utf-8"), suite.name, inner)
            cases += got
            unread += missed
    return cases, unread


def _is_test_module(inner: str) -> bool:
    folder, _, name = inner.rpartition("/")
    return folder == "tests" and name.startswith("test") and name.endswith(".py")


def meaning_setting(config: dict[str, Any]) -> str | None:
    """The setting of the peer's test that changes what counts as equal, or None."""
    changed = []
    if config.get("strict") is False:
        changed.append("strict=False")
    if config.get("allow_set_relation_comp"):
        changed.append("allow_set_relation_comp=True")
    if config.get("precision", MV_DEFAULT_PRECISION) != MV_DEFAULT_PRECISION:
        changed.append(f"precision={config['precision']}")
    return ", ".join(changed) or None


def config_label(case: PeerCase) -> str:
    """A short name for how the peer's test reads and compares: `latex+expr`, `latex`, ...,
    with the settings that change the meaning of equal."""
    types = case.config.get("match_types")
    if isinstance(types, list):
        label = "+".join(types)
    else:
        label = str(case.config.get("scorer") or case.config.get("normalizer") or types)
    extra = meaning_setting(case.config)
    return f"{label}, {extra}" if extra else label


# -- math-verify, run in sandbox workers started with this file's folder on PYTHONPATH -----------


def mv_plain(pred: str, gold: str) -> bool:
    """bench_grader.py's plain math-verify: default settings, bare strings wrapped in `$...$`."""
    from bench_grader import plain_math_verify

    return plain_math_verify(pred, gold)


def mv_raw(pred: str, gold: str) -> bool:
    """Plain math-verify on the strings as they are."""
    from math_verify import parse, verify

    return bool(verify(parse(gold), parse(pred)))


def mv_own(pred: str, gold: str, comparator: str, config: dict[str, Any]) -> bool | None:
    """math-verify under the settings the peer's test passed (None for a peer that is not
    math-verify: its code is not run here)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    if comparator not in {"compare_strings", "verify"}:
        return None
    targets: list[Any] = []
    types = config.get("match_types")
    if isinstance(types, list):
        for kind in types:
            if kind == "latex":
                targets.append(LatexExtractionConfig(boxed_match_priority=0))
            elif kind == "expr":
                targets.append(ExprExtractionConfig())
    parsed = (parse(gold, targets), parse(pred, targets)) if targets else (parse(gold), parse(pred))
    return bool(
        verify(
            *parsed,
            float_rounding=config.get("precision", MV_DEFAULT_PRECISION),
            strict=config.get("strict", True),
            allow_set_relation_comp=config.get("allow_set_relation_comp", False),
        )
    )


OPS = {"mv_plain": mv_plain, "mv_raw": mv_raw, "mv_own": mv_own}


def math_verify_runs(cases: list[PeerCase]) -> dict[str, list[bool | None]]:
    from sciinstruct.grading.sandbox import WorkerPool

    here = str(Path(__file__).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])
    pool = WorkerPool(2, ops_module="bench_peer_suites")
    tasks = {
        "mv_plain": [("mv_plain", (c.pred, c.gold)) for c in cases],
        "mv_raw": [("mv_raw", (c.pred, c.gold)) for c in cases],
        "mv_own": [("mv_own", (c.pred, c.gold, c.comparator, c.config)) for c in cases],
    }
    try:
        runs = {name: pool.run(batch, HARD_LIMIT_S) for name, batch in tasks.items()}
    finally:
        pool.close()
    # an error or a timeout is math-verify saying "not equal", as its verify does itself
    return {
        name: [(o.value if o.value is None else bool(o.value)) if o.error is None else False
               for o in outcomes]
        for name, outcomes in runs.items()
    }  # fmt: skip


# -- the report ----------------------------------------------------------------------------------


@dataclass
class Graded:
    case: PeerCase
    ours: bool | None  # Verdict.correct
    reason: str
    rule: str | None
    extracted: str | None
    mv: bool
    mv_raw: bool
    mv_own: bool | None

    @property
    def ours_right(self) -> bool:
        return (self.ours is True) is self.case.expected

    @property
    def mv_right(self) -> bool:
        return self.mv is self.case.expected


def grade_all(cases: list[PeerCase]) -> list[Graded]:
    from sciinstruct.grading import GradeItem, grade_many

    verdicts = grade_many(
        [GradeItem(c.pred, c.gold) for c in cases], workers=2, timeout=HARD_LIMIT_S
    )
    mv = math_verify_runs(cases)
    return [
        Graded(case, v.correct, v.reason, v.rule, v.extracted, bool(a), bool(b), own)
        for case, v, a, b, own in zip(
            cases, verdicts, mv["mv_plain"], mv["mv_raw"], mv["mv_own"], strict=True
        )
    ]


def table(groups: dict[str, list[Graded]]) -> list[str]:
    lines = [
        "| group | cases | ours | math-verify | MV right & ours wrong | ours right & MV wrong "
        "| MV, strings as they are | MV under the test's settings agrees |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    everything = [g for graded in groups.values() for g in graded]
    for name, graded in [*groups.items(), ("**all**", everything)]:
        if not graded:
            continue
        n = len(graded)
        ours = sum(g.ours_right for g in graded)
        mv = sum(g.mv_right for g in graded)
        raw = sum(g.mv_raw is g.case.expected for g in graded)
        mv_only = sum(g.mv_right and not g.ours_right for g in graded)
        ours_only = sum(g.ours_right and not g.mv_right for g in graded)
        own = [g for g in graded if g.mv_own is not None]
        agrees = sum(g.mv_own is g.case.expected for g in own)
        shown_own = f"{agrees}/{len(own)}" if own else "n/a"
        lines.append(
            f"| {name} | {n} | {ours / n:.1%} | {mv / n:.1%} | {mv_only} | {ours_only} "
            f"| {raw / n:.1%} | {shown_own} |"
        )
    return lines


def by(graded: list[Graded], key) -> dict[str, list[Graded]]:
    groups: dict[str, list[Graded]] = defaultdict(list)
    for g in graded:
        groups[key(g)].append(g)
    return dict(sorted(groups.items()))


def _cell(text: str | None, width: int = 90) -> str:
    if text is None:
        return "-"
    text = text.replace("\n", "\\n").replace("|", "\\|")
    return f"`{text if len(text) <= width else text[: width - 3] + '...'}`"


def case_list(graded: list[Graded]) -> list[str]:
    lines = [
        "| file | test | config | pred | gold | expected | ours: rule, reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in graded:
        c = g.case
        note = NOTES.get((c.file, c.test_id))
        lines.append(
            f"| {c.file} | {c.test_id} (line {c.line}) | {config_label(c)} | {_cell(c.pred)} "
            f"| {_cell(c.gold)} | {c.expected} | {g.rule or '-'}: {_cell(g.reason, 70)} "
            f"(verdict {g.ours}){f'; note: {note}' if note else ''} |"
        )
    return lines


def once_each(cases: list[PeerCase]) -> list[PeerCase]:
    """The cases with repeats dropped: a suite that tests the same pair twice (the same pred,
    gold and expected value, in any file or test) counts it once."""
    seen: set[tuple[str, str, str, bool]] = set()
    kept = []
    for case in cases:
        key = (case.suite, case.pred, case.gold, case.expected)
        if key not in seen:
            seen.add(key)
            kept.append(case)
    return kept


def report(
    graded: list[Graded], unread: list[Unread], archives: dict[str, Path], repeats: int = 0
) -> str:
    main = [g for g in graded if meaning_setting(g.case.config) is None]
    apart = [g for g in graded if meaning_setting(g.case.config) is not None]
    sources = ", ".join(f"`{p.name}`" for p in archives.values())
    out = [
        "# Peers' grader suites",
        "",
        f"{datetime.date.today().isoformat()}. `.venv/bin/python bench/bench_peer_suites.py` "
        f"(sources: {sources}, from PyPI, read with `ast`, never run). "
        f"{len(graded) + repeats} cases read; {repeats} repeat a pair their suite already "
        f"tests and are counted once, leaving {len(graded)}; {len(unread)} tests or rows not "
        "read (listed at the end).",
        "",
        "Goal (issue 22): >= 95%, and at most 5 cases where math-verify is right and we are "
        "wrong. Math-verify is `verify(parse(gold), parse(pred))` with default settings, bare "
        "strings wrapped in `$...$` as bench_grader.py runs it (the column 'strings as they are' "
        "leaves them bare); the last column runs it under each test's own settings, a check "
        "that the cases were read as their tests mean them. Right means: credited exactly when "
        "the test expects a match (our verdict None, a bad reference, credits nothing).",
        "",
        f"## Main table: {len(main)} cases (settings that keep the meaning of equal)",
        "",
        "By suite:",
        "",
        *table(by(main, lambda g: g.case.suite)),
        "",
        "By file:",
        "",
        *table(by(main, lambda g: f"{g.case.suite}: {g.case.file}")),
        "",
        "By the settings the peer's test used:",
        "",
        *table(by(main, lambda g: config_label(g.case))),
        "",
    ]
    lost = [g for g in main if g.mv_right and not g.ours_right]
    out += [f"### Math-verify right, ours wrong: {len(lost)}", "", *case_list(lost), ""]
    raw_only = [
        g for g in main if g.mv_raw is g.case.expected and not g.mv_right and not g.ours_right
    ]
    out += [
        f"Also right for math-verify on the strings as they are (not on wrapped ones), and "
        f"wrong for us: {len(raw_only)}",
        "",
        *case_list(raw_only),
        "",
    ]
    won = [g for g in main if g.ours_right and not g.mv_right]
    out += [f"### Ours right, math-verify wrong: {len(won)}", "", *case_list(won), ""]
    both = [g for g in main if not g.ours_right and not g.mv_right]
    out += [f"### Both wrong: {len(both)}", "", *case_list(both), ""]
    out += [
        f"## Apart: {len(apart)} cases whose test changes the meaning of equal",
        "",
        "Their expected value holds under the peer's setting only (shown in the config column).",
        "",
        *table(by(apart, lambda g: config_label(g.case))),
        "",
        *case_list([g for g in apart if not g.ours_right]),
        "",
        f"## Not read: {len(unread)}",
        "",
        "| suite | file | test | why |",
        "|---|---|---|---|",
        *[f"| {u.suite} | {u.file} | {u.test_id} (line {u.line}) | {u.why} |" for u in unread],
        "",
        "Also looked at on PyPI and not used: "
        + "; ".join(f"`{name}` ({why})" for name, why in NOT_USED.items())
        + ".",
    ]
    return "\n".join(out) + "\n"


def summary_line(graded: list[Graded]) -> str:
    """The row for bench/results/_summary.md."""
    main = [g for g in graded if meaning_setting(g.case.config) is None]
    n = len(main)
    ours = sum(g.ours_right for g in main) / n
    mv = sum(g.mv_right for g in main) / n
    lost = sum(g.mv_right and not g.ours_right for g in main)
    raw_lost = sum(g.mv_raw is g.case.expected and not g.ours_right for g in main)
    suites = ", ".join(suite.requirement for suite in SUITES)
    return (
        f"| grader accuracy vs plain math-verify on peers' own grader test suites ({suites}: "
        "their tests' cases, read from the PyPI sdists) | ≥ 95%, ≤ 5 where MV is right and we "
        f"are wrong | {ours:.1%} vs {mv:.1%} on {n} cases; **{lost} where MV is right and we are "
        f"wrong** ({raw_lost} against MV on unwrapped strings) | `bench/bench_peer_suites.py` |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the sdists are kept")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peer_suites.md")
    args = parser.parse_args()
    archives = {suite.name: sdist(suite, args.cache) for suite in SUITES}
    cases: list[PeerCase] = []
    unread: list[Unread] = []
    for suite in SUITES:
        got, missed = read_suite(suite, archives[suite.name])
        cases += got
        unread += missed
    distinct = once_each(cases)
    graded = grade_all(distinct)
    text = report(graded, unread, archives, repeats=len(cases) - len(distinct))
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"summary row:\n{summary_line(graded)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
