"""What each page shows, read from the index (counts, filters) and the source files (texts)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from sqlite3 import Connection
from typing import Any

from sciinstruct.curate import Override
from sciinstruct.rundir import RunDir
from sciinstruct.view.index import SOLVED_ORDER, eval_dirs, read_line

PER_PAGE = 50
SOLVED_VALUES = (*SOLVED_ORDER[:3], "unsolved", "ungradable")
CURATION_VALUES = ("kept", "dropped")


# -- overview -------------------------------------------------------------------------------------
def overview(db: Connection) -> dict[str, Any]:
    """The funnel, attempts per stage and per-subject yield, counted from the index."""
    one = db.execute
    questions = one("SELECT count(*) FROM questions").fetchone()[0]
    solved = dict(one("SELECT solved, count(*) FROM questions GROUP BY solved").fetchall())
    curation = dict(one("SELECT curation, count(*) FROM questions GROUP BY curation").fetchall())
    stage_rows = one(
        "SELECT stage, count(*), sum(correct = 1), sum(correct = 0), sum(correct IS NULL) "
        "FROM attempts GROUP BY stage"
    ).fetchall()
    order = {s: i for i, s in enumerate(SOLVED_ORDER)}
    stages = sorted(
        (
            {"stage": s, "attempts": n, "correct": c or 0, "wrong": w or 0, "ungraded": u or 0}
            for s, n, c, w, u in stage_rows
        ),
        key=lambda r: order.get(r["stage"], len(order)),
    )
    attempted = questions - solved.get("", 0)
    funnel = [("questions", questions), ("attempted", attempted)]
    total_solved = 0
    for stage in SOLVED_ORDER:
        if solved.get(stage):
            total_solved += solved[stage]
            funnel.append((f"solved by {stage} (cumulative)", total_solved))
    samples = one("SELECT count(*) FROM samples").fetchone()[0]
    if samples:
        funnel += [("questions kept", curation.get("kept", 0)), ("samples kept", samples)]
    subjects = [
        {
            "subject": s,
            "questions": n,
            "solved": k or 0,
            "kept": kept or 0,
            "yield": (kept or 0) / n if n else 0.0,
        }
        for s, n, k, kept in one(
            "SELECT subject, count(*), sum(solved IN ('cot','reflect','hinted','sample')), "
            "sum(curation = 'kept') FROM questions GROUP BY subject ORDER BY count(*) DESC"
        ).fetchall()
    ]
    drops = one(
        "SELECT stage, reason, count(*) FROM drops WHERE kind = 'sample' "
        "GROUP BY stage, reason ORDER BY count(*) DESC"
    ).fetchall()
    return {
        "questions": questions,
        "attempts": sum(r["attempts"] for r in stages),
        "critiques": one("SELECT count(*) FROM critiques").fetchone()[0],
        "samples": samples,
        "disagree": one("SELECT count(*) FROM questions WHERE disagree = 1").fetchone()[0],
        "funnel": funnel,
        "stages": stages,
        "subjects": subjects,
        "drops": [{"stage": s, "reason": r, "count": c} for s, r, c in drops],
    }


def plots(run: RunDir) -> list[str]:
    """Names of the report's PNG plots, the only files the app serves from the run."""
    if not run.plots_dir.is_dir():
        return []
    inside = run.root.resolve()
    return sorted(
        p.name
        for p in run.plots_dir.glob("*.png")
        if p.is_file() and p.resolve().is_relative_to(inside)  # no links out of the run
    )


# -- the questions table --------------------------------------------------------------------------
@dataclass
class Filters:
    """The questions table's filters, from the query string; unknown values are ignored."""

    q: str = ""
    subject: str = ""
    source: str = ""
    answer_type: str = ""
    solved: str = ""
    curation: str = ""
    disagree: bool = False
    overruled: bool = False

    @classmethod
    def from_query(cls, params: Any) -> Filters:
        def get(name: str) -> str:
            return str(params.get(name, "") or "").strip()[:200]

        return cls(
            q=get("q"),
            subject=get("subject"),
            source=get("source"),
            answer_type=get("answer_type"),
            solved=get("solved") if get("solved") in SOLVED_VALUES else "",
            curation=get("curation") if get("curation") in CURATION_VALUES else "",
            disagree=get("disagree") == "1",
            overruled=get("overruled") == "1",
        )

    def query_string(self, **change: Any) -> str:
        """This filter as a query string, with some values changed (for links)."""
        from urllib.parse import urlencode

        values = {**self.__dict__, **change}
        pairs = {k: ("1" if v is True else v) for k, v in values.items() if v not in ("", False)}
        return urlencode(pairs)


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def question_page(
    db: Connection, filters: Filters, page: int, overridden: set[str], per_page: int = PER_PAGE
) -> Page:
    """One page of questions matching `filters`, in input order."""
    where, args = [], []
    for column in ("subject", "source", "answer_type", "solved", "curation"):
        value = getattr(filters, column)
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if filters.disagree:
        where.append("disagree = 1")
    if filters.q:
        where.append("(id = ? OR text LIKE ? ESCAPE '\\')")
        args += [filters.q, _like(filters.q)]
    if filters.overruled:
        ids = sorted(_questions_of(db, overridden))
        where.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
        args += ids
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = db.execute(f"SELECT count(*) FROM questions {clause}", args).fetchone()[0]
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = db.execute(
        "SELECT id, subject, source, answer_type, substr(text, 1, 240) AS text, solved, "
        f"curation, disagree, attempts FROM questions {clause} ORDER BY n LIMIT ? OFFSET ?",
        [*args, per_page, (page - 1) * per_page],
    ).fetchall()
    return Page([dict(r) for r in rows], total, page, pages)


def _questions_of(db: Connection, attempt_ids: set[str]) -> set[str]:
    out: set[str] = set()
    ids = sorted(attempt_ids)
    for start in range(0, len(ids), 500):  # SQLite caps the number of parameters
        chunk = ids[start : start + 500]
        sql = f"SELECT question_id FROM attempts WHERE id IN ({','.join('?' * len(chunk))})"
        out.update(r[0] for r in db.execute(sql, chunk))
    return out


def facets(db: Connection) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for name, value, count in db.execute("SELECT name, value, count FROM facets"):
        out.setdefault(name, []).append((value, count))
    return out


# -- one question ---------------------------------------------------------------------------------
def question_detail(
    run: RunDir, db: Connection, question_id: str, overrides: dict[str, Override]
) -> dict[str, Any] | None:
    """The question, its attempts as a chain (revisions under what they revise), and for each
    attempt its critique, override, sample and drop."""
    row = db.execute(
        "SELECT off, len, solved, curation FROM questions WHERE id = ?", (question_id,)
    )
    found = row.fetchone()
    if found is None:
        return None
    question = read_line(run.questions, found["off"], found["len"])
    attempts = [
        read_line(run.attempts, r["off"], r["len"])
        for r in db.execute(
            "SELECT off, len FROM attempts WHERE question_id = ? ORDER BY n", (question_id,)
        )
    ]
    ids = [a["id"] for a in attempts]
    marks = ",".join("?" * len(ids))
    critiques = {
        r["attempt_id"]: read_line(run.critiques, r["off"], r["len"])
        for r in db.execute(f"SELECT * FROM critiques WHERE attempt_id IN ({marks})", ids)
    }
    samples = {
        r["attempt_id"]: read_line(run.samples, r["off"], r["len"])
        for r in db.execute("SELECT * FROM samples WHERE question_id = ?", (question_id,))
    }
    drops = [
        {**dict(r), "row": read_line(run.dropped, r["off"], r["len"])}
        for r in db.execute("SELECT * FROM drops WHERE question_id = ?", (question_id,))
    ]
    for attempt in attempts:
        attempt["critique"] = critiques.get(attempt["id"])
        attempt["override"] = overrides.get(attempt["id"])
        attempt["sample"] = samples.get(attempt["id"])
        attempt["drops"] = [d for d in drops if d["attempt_id"] == attempt["id"]]
    return {
        "question": question,
        "solved": found["solved"],
        "curation": found["curation"],
        "chain": chain(attempts),
        "question_drops": [d for d in drops if d["kind"] == "question"],
    }


def chain(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attempts in the order they happened as a tree: each attempt followed by the revisions of
    it (`depth` 1, 2...), roots in file order. A parent id pointing nowhere makes a root."""
    by_id = {a["id"]: a for a in attempts}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for attempt in attempts:
        parent = attempt.get("parent_id")
        children.setdefault(parent if parent in by_id else None, []).append(attempt)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(attempt: dict[str, Any], depth: int) -> None:
        if attempt["id"] in seen:  # a cycle in hand-edited data
            return
        seen.add(attempt["id"])
        out.append({**attempt, "depth": depth})
        for child in children.get(attempt["id"], []):
            visit(child, depth + 1)

    for root in children.get(None, []):
        visit(root, 0)
    out += [{**a, "depth": 0} for a in attempts if a["id"] not in seen]
    return out


def attempt_question(db: Connection, attempt_id: str) -> str | None:
    row = db.execute("SELECT question_id FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
    return row[0] if row else None


# -- evaluation -----------------------------------------------------------------------------------
def eval_summary(run: RunDir, db: Connection) -> dict[str, Any]:
    """Per-run results.json (per benchmark and subject), and the gained/lost questions of the
    first two runs (base, tuned)."""
    import json

    indexed = {r[0] for r in db.execute("SELECT DISTINCT label FROM predictions")}
    labels = [d.name for d in eval_dirs(run) if d.name in indexed]  # base, tuned, others
    results = {}
    for label in labels:
        path = run.eval_dir / label / "results.json"
        if path.is_file():
            try:
                results[label] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                results[label] = {"error": f"{path.name} is not valid JSON"}
    pair_row = db.execute("SELECT value FROM meta WHERE key = 'pair'").fetchone()
    pair = json.loads(pair_row[0]) if pair_row else None
    changes: dict[str, dict[str, list[dict[str, Any]]]] = {}
    counts: dict[str, Counter[str]] = {}
    if pair:
        for r in db.execute("SELECT * FROM eval_pairs ORDER BY benchmark, question_id"):
            kind = {(0, 1): "gained", (1, 0): "lost"}.get((r["first"], r["second"]))
            bench = counts.setdefault(r["benchmark"], Counter())
            bench[kind or ("both" if r["first"] else "neither")] += 1
            if kind:
                changes.setdefault(r["benchmark"], {"gained": [], "lost": []})[kind].append(dict(r))
    return {"labels": labels, "results": results, "pair": pair, "changes": changes,
            "counts": counts}  # fmt: skip


def before_after(db: Connection, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per benchmark: the first two runs' accuracy and McNemar's exact test on their pairs."""
    from sciinstruct.evaluate.paired import mcnemar

    if not summary["pair"]:
        return []
    first, second = (summary["results"].get(label, {}) for label in summary["pair"])
    rows = []
    for name in summary["counts"]:
        pairs = db.execute(
            "SELECT question_id, first, second FROM eval_pairs WHERE benchmark = ?", (name,)
        ).fetchall()
        test = mcnemar({q: bool(a) for q, a, _ in pairs}, {q: bool(b) for q, _, b in pairs})
        rows.append(
            {
                "benchmark": name,
                "before": (first.get("benchmarks") or {}).get(name),
                "after": (second.get("benchmarks") or {}).get(name),
                "test": test.to_dict(),
            }
        )
    return rows


def predictions_of(
    run: RunDir, db: Connection, benchmark: str, question_id: str
) -> dict[str, list[dict[str, Any]]]:
    """label -> the predictions (all samples) of one question, for side by side."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in db.execute(
        "SELECT label, off, len FROM predictions WHERE benchmark = ? AND question_id = ? "
        "ORDER BY label, sample",
        (benchmark, question_id),
    ):
        path = run.eval_dir / r["label"] / "predictions.jsonl"
        out.setdefault(r["label"], []).append(read_line(path, r["off"], r["len"]))
    return out
