"""`sciinstruct curate`: candidates in, training samples out, every drop written down with why.

Order matters and is fixed: contamination first (a leaked question must go whatever its score),
then duplicates (questions, then solutions within a question), then the mixing policy (hinted
solutions, the per-question cap, subject shares) and last the general data mixed in.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from sciinstruct.curate.decontam import NgramIndex, benchmark_texts
from sciinstruct.curate.dedup import NearDupConfig, duplicates
from sciinstruct.curate.droplog import DropLog
from sciinstruct.curate.mix import (
    HINTED_POLICIES,
    HintedPolicy,
    anchored,
    apply_hinted,
    apply_subject_ratios,
    cap_per_question,
    drop_unless,
    load_general,
    mix_general,
)
from sciinstruct.curate.overrides import (
    Override,
    apply_overrides,
    is_overruled_wrong,
    latest_overrides,
    source_attempt,
)
from sciinstruct.curate.overrides import counts as override_counts
from sciinstruct.curate.samples import (
    critique_scores,
    iter_attempts,
    iter_records,
    iter_samples,
    quality_key,
    question_prompt,
    sample_table,
    solution_text,
)
from sciinstruct.jsonl import write_jsonl
from sciinstruct.log import logger
from sciinstruct.records import Question, Sample
from sciinstruct.rundir import RunDir, writes_run
from sciinstruct.scratch import DiskDict, RecordTable, scratch_db
from sciinstruct.settings import check_declared, option

SOLUTION_SCOPES = ("question", "global")


@dataclass
class CurateConfig:
    """What `curate` does; every field is also a command-line flag (`cli/options.py`)."""

    dedup: bool = option(True, "Drop exact and near duplicates.")
    near_dup: bool = option(True, "Also MinHash LSH near duplicates.")
    near_threshold: float = option(
        0.8, "Jaccard similarity of word 3-grams that makes a near duplicate.", gt=0.0, max=1.0
    )
    num_perm: int = option(128, "MinHash permutations (more: finer similarity, slower).", min=1)
    # "question": a question keeps only distinct solutions; "global": no two samples anywhere
    # share a solution.
    solution_scope: str = option(
        "question", "Dedup solutions within a 'question' or 'global'.", choices=SOLUTION_SCOPES
    )
    benchmarks: list[Path] = option(
        [],
        "Benchmark to decontaminate against: a registered name (gsm8k), a .yaml definition, a "
        "shipped set (eval_set) or a JSONL file; repeatable.",
        flag="--benchmark",
    )
    ngram: int = option(13, "Words in the n-grams compared with benchmarks.", min=1)
    hinted: HintedPolicy = option(
        "keep", "Hinted solutions: keep, downweight or drop.", choices=HINTED_POLICIES
    )
    hinted_weight: float = option(
        0.5, "Weight of hinted solutions with --hinted downweight.", min=0.0
    )
    # With a weak annotator many fallback-graded solutions are rambling texts that happen to
    # end on the right number.
    drop_fallback: bool = option(
        False,
        "Drop solutions graded correct only by their last number (no boxed or stated answer).",
    )
    max_per_question: int | None = option(None, "At most this many solutions per question.", min=1)
    subject_ratios: dict[str, float] = option(
        {}, "Relative shares of the named subjects (the CLI's --subject-ratio SUBJECT=RATIO)."
    )
    general: Path | None = option(None, "General instruction data (JSONL) to mix in.")
    general_ratio: float = option(0.1, "Share of general data in the result.", min=0.0, lt=1.0)
    seed: int = option(0, "Seed for sampling general data.")

    def __post_init__(self) -> None:
        # Checked here so a bad value is one clear line, not a failure halfway through the run.
        check_declared(self)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["benchmarks"] = [str(p) for p in self.benchmarks]
        values["general"] = str(self.general) if self.general else None
        return values


def load_candidates(
    run: RunDir,
    questions: RecordTable[Question],
    samples: RecordTable[Sample],
    log: DropLog | None = None,
) -> str:
    """Fill the tables with the questions and the candidate samples: the classifier's survivors
    if `filter` ran (returns "filter"), else the run's correct attempts ("attempts").

    Reviewers' overrides (overrides.jsonl) come first: an attempt overruled correct is a
    candidate, one overruled wrong is not (dropped as `overruled_wrong` when `filter` had kept it).
    """
    questions.extend(iter_records(run.questions, Question))
    overrides = latest_overrides(run)
    if run.filtered.exists():
        present = _survivors(run, samples, overrides, log)
        # Those overruled correct since: the classifier never saw them (they were not
        # candidates when it ran), so they come without a score.
        wanted = {a for a, o in overrides.items() if o.correct and a not in present}
        if wanted:
            samples.extend(
                s for s in _attempt_samples(run, overrides) if source_attempt(s) in wanted
            )
        return "filter"
    samples.extend(_attempt_samples(run, overrides))
    return "attempts"


def _survivors(
    run: RunDir, samples: RecordTable[Sample], overrides: dict[str, Override], log: DropLog | None
) -> set[str]:
    """The classifier's survivors less those overruled wrong, into `samples`; returns the
    survivors' attempts that have an override (to tell which overruled correct are missing)."""
    present = set()
    for sample in iter_records(run.filtered, Sample):
        if is_overruled_wrong(sample, overrides):
            if log is not None:
                override = overrides[source_attempt(sample) or ""]
                log.drop(sample, "overruled_wrong", override=override.to_dict())
            continue
        if source_attempt(sample) in overrides:
            present.add(source_attempt(sample) or "")
        samples.extend([sample])
    return present


def _attempt_samples(run: RunDir, overrides: dict[str, Override]) -> Iterator[Sample]:
    """The samples of the run's attempts with the reviewers' verdicts, built in a scratch file of
    their own (the questions, each attempt's parent)."""
    with scratch_db(run.root) as db:
        yield from iter_samples(
            iter_records(run.questions, Question),
            apply_overrides(iter_attempts(run.attempts), overrides),
            critique_scores(run.critiques, db),
            db,
        )


@writes_run("curate")
def curate(run: RunDir, config: CurateConfig) -> dict[str, Any]:
    """Run every curation step; write samples.jsonl, the side file and stats.json's section.

    Questions and samples wait in a scratch SQLite file; each step passes over them, dropping
    (and logging) some, so memory does not grow with the run."""
    with scratch_db(run.root) as db:
        return _curate(run, config, db)


def _curate(run: RunDir, config: CurateConfig, db: sqlite3.Connection) -> dict[str, Any]:
    log = DropLog("curate")
    questions = RecordTable(db, "question", Question, {"id": lambda q: q.id})
    samples = sample_table(db)
    origin = load_candidates(run, questions, samples, log)
    questions.index("id")
    samples.index("question")
    stats: dict[str, Any] = {"candidates": len(samples), "candidates_from": origin}
    stats["overrides"] = override_counts(latest_overrides(run))
    stats["questions"] = len(questions)

    stats["contamination"] = _decontaminate(questions, samples, config, log)
    if config.dedup:
        near = NearDupConfig(config.near_threshold, config.num_perm) if config.near_dup else None
        _dedup_questions(questions, samples, near, log)
        _dedup_solutions(samples, near, config.solution_scope, log)
    if config.drop_fallback:
        drop_unless(samples, anchored, log)
    apply_hinted(samples, config.hinted, config.hinted_weight, log)
    cap_per_question(samples, config.max_per_question, log)
    apply_subject_ratios(samples, config.subject_ratios, log)
    general: list[Sample] = []
    if config.general is not None:
        general, stats["general"] = mix_general(
            len(samples), load_general(config.general), config.general_ratio, config.seed
        )

    subjects: Counter[str] = Counter()
    stages: Counter[str] = Counter()

    def counted(records: Iterable[Sample]) -> Iterator[Sample]:
        for sample in records:
            subjects[sample.subject] += 1
            stages[sample.provenance.stage] += 1
            yield sample

    kept = write_jsonl(run.samples, counted(chain(samples.records(), general)))
    log.save(run.dropped)
    stats.update(log.stats())
    stats["kept_questions"] = len(questions)
    stats["kept_samples"] = kept
    stats["kept_by_subject"] = dict(sorted(subjects.items()))
    stats["kept_by_stage"] = dict(sorted(stages.items()))
    run.update_stats("curate", stats)
    run.update_config("curate", config.to_dict())
    return stats


def _drop_questions(
    questions: RecordTable[Question], samples: RecordTable[Sample], gone: DiskDict, log: DropLog
) -> None:
    """Drop the questions in `gone` (id -> JSON [reason, detail]) and every sample of them."""
    for seq, question in questions.where(f"id IN (SELECT key FROM {gone.table})"):
        reason, detail = json.loads(gone[question.id])
        log.drop_question(question, reason, **detail)
        questions.drop(seq)
    for seq, sample in samples.where(f"question IN (SELECT key FROM {gone.table})"):
        reason, detail = json.loads(gone[sample.question_id])
        log.drop(sample, reason, **detail)
        samples.drop(seq)


def _decontaminate(
    questions: RecordTable[Question],
    samples: RecordTable[Sample],
    config: CurateConfig,
    log: DropLog,
) -> dict[str, Any]:
    """Questions and solutions sharing an n-gram with a benchmark item are dropped."""
    if not config.benchmarks:
        return {}
    index = NgramIndex([benchmark_texts(p) for p in config.benchmarks], n=config.ngram)
    report: dict[str, Any] = {
        b.name: {
            "questions": 0,
            "samples": 0,
            "items": [],
            "short_items": index.short_items[b.name],
        }
        for b in index.benchmarks
    }

    def note(hit_items: dict[str, list[str]], kind: str) -> None:
        for name, ids in hit_items.items():
            report[name][kind] += 1
            report[name]["items"] = sorted(set(report[name]["items"]) | set(ids))

    gone = DiskDict(questions.db, "contaminated")
    for _, question in questions:
        hit = index.check([question_prompt(question)])
        if hit:
            note(hit.items, "questions")
            detail = {"benchmarks": hit.items, "ngrams": hit.ngrams}
            gone[question.id] = json.dumps(["contaminated", detail])
    _drop_questions(questions, samples, gone, log)
    for seq, sample in samples:
        hit = index.check([solution_text(sample)])
        if hit:
            note(hit.items, "samples")
            log.drop(sample, "contaminated", benchmarks=hit.items, ngrams=hit.ngrams)
            samples.drop(seq)
    logger.info("decontamination: %d n-grams indexed, n=%d", len(index), config.ngram)
    return report


def _dedup_questions(
    questions: RecordTable[Question],
    samples: RecordTable[Sample],
    near: NearDupConfig | None,
    log: DropLog,
) -> None:
    """Duplicate questions: the one with the best sample stays, the others go with their samples."""

    def rank(seq: int) -> tuple[Any, ...]:
        question = questions.get(seq)
        keys = [quality_key(s) for _, s in samples.where("question = ?", (question.id,))]
        # Questions with samples beat those without; among equals the earlier question wins.
        return (1, max(keys), -seq) if keys else (0, (), -seq)

    texts = ((seq, question_prompt(q), None) for seq, q in questions)
    gone = DiskDict(questions.db, "duplicate_question")
    for d in duplicates(texts, rank, near):
        detail = {"kept": questions.get(d.kept).id, "similarity": d.similarity}
        gone[questions.get(d.index).id] = json.dumps([f"{d.kind}_dup_question", detail])
    _drop_questions(questions, samples, gone, log)


def _dedup_solutions(
    samples: RecordTable[Sample], near: NearDupConfig | None, scope: str, log: DropLog
) -> None:
    """Duplicate solutions (within a question, or anywhere): the best-scored one stays."""
    texts = (
        (seq, solution_text(s), s.question_id if scope == "question" else None)
        for seq, s in samples
    )
    found = duplicates(texts, lambda seq: (quality_key(samples.get(seq)), -seq), near)
    for d in found:
        sample = samples.get(d.index)
        kept = samples.get(d.kept).id
        log.drop(sample, f"{d.kind}_dup_solution", kept=kept, similarity=d.similarity)
        samples.drop(d.index)
