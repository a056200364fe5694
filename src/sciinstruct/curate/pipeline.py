"""`sciinstruct curate`: candidates in, training samples out, every drop written down with why.

Order matters and is fixed: contamination first (a leaked question must go whatever its score),
then duplicates (questions, then solutions within a question), then the mixing policy (hinted
solutions, the per-question cap, subject shares) and last the general data mixed in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sciinstruct.curate.decontam import NgramIndex, benchmark_texts
from sciinstruct.curate.dedup import NearDupConfig, find_duplicates
from sciinstruct.curate.droplog import DropLog
from sciinstruct.curate.mix import (
    HINTED_POLICIES,
    HintedPolicy,
    anchored,
    apply_hinted,
    apply_subject_ratios,
    cap_per_question,
    load_general,
    mix_general,
)
from sciinstruct.curate.overrides import (
    Override,
    apply_overrides,
    latest_overrides,
    overruled_wrong,
    source_attempt,
)
from sciinstruct.curate.overrides import counts as override_counts
from sciinstruct.curate.samples import (
    build_samples,
    load_attempts,
    load_critique_scores,
    load_records,
    quality_key,
    question_prompt,
    solution_text,
)
from sciinstruct.jsonl import write_jsonl
from sciinstruct.log import logger
from sciinstruct.records import Question, Sample
from sciinstruct.rundir import RunDir, writes_run
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
    run: RunDir, log: DropLog | None = None
) -> tuple[list[Question], list[Sample], str]:
    """Questions and the candidate samples: the classifier's survivors if `filter` ran.

    Reviewers' overrides (overrides.jsonl) come first: an attempt overruled correct is a
    candidate, one overruled wrong is not (dropped as `overruled_wrong` when `filter` had kept it).
    """
    questions = load_records(run.questions, Question)
    overrides = latest_overrides(run)
    filtered = run.filtered
    if filtered.exists():
        samples = load_records(filtered, Sample)
        if overrides:
            samples = _honour_overrides(run, questions, samples, overrides, log)
        return questions, samples, "filter"
    attempts = apply_overrides(load_attempts(run.attempts), overrides)
    samples = build_samples(questions, attempts, load_critique_scores(run.critiques))
    return questions, samples, "attempts"


def _honour_overrides(
    run: RunDir,
    questions: list[Question],
    samples: list[Sample],
    overrides: dict[str, Override],
    log: DropLog | None,
) -> list[Sample]:
    """The classifier's survivors less those overruled wrong, plus those overruled correct (the
    classifier never saw them: they were not candidates when it ran, so they have no score)."""
    wrong = {id(s) for s in overruled_wrong(samples, overrides)}
    for sample in samples:
        if id(sample) in wrong and log is not None:
            log.drop(
                sample, "overruled_wrong", override=overrides[source_attempt(sample)].to_dict()
            )
    kept = [s for s in samples if id(s) not in wrong]
    present = {source_attempt(s) for s in kept}
    wanted = {a for a, o in overrides.items() if o.correct and a not in present}
    if wanted:
        attempts = load_attempts(run.attempts)
        added = build_samples(
            questions,
            apply_overrides(attempts, overrides),
            load_critique_scores(run.critiques),
        )
        kept += [s for s in added if source_attempt(s) in wanted]
    return kept


@writes_run("curate")
def curate(run: RunDir, config: CurateConfig) -> dict[str, Any]:
    """Run every curation step; write samples.jsonl, the side file and stats.json's section."""
    log = DropLog("curate")
    questions, samples, origin = load_candidates(run, log)
    stats: dict[str, Any] = {"candidates": len(samples), "candidates_from": origin}
    stats["overrides"] = override_counts(latest_overrides(run))
    stats["questions"] = len(questions)

    questions, samples, stats["contamination"] = _decontaminate(questions, samples, config, log)
    if config.dedup:
        near = NearDupConfig(config.near_threshold, config.num_perm) if config.near_dup else None
        questions, samples = _dedup_questions(questions, samples, near, log)
        samples = _dedup_solutions(samples, near, config.solution_scope, log)
    if config.drop_fallback:
        samples = list(log.apply(samples, anchored))
    samples = apply_hinted(samples, config.hinted, config.hinted_weight, log)
    samples = cap_per_question(samples, config.max_per_question, log)
    samples = apply_subject_ratios(samples, config.subject_ratios, log)
    if config.general is not None:
        samples, stats["general"] = mix_general(
            samples, load_general(config.general), config.general_ratio, config.seed
        )

    write_jsonl(run.samples, samples)
    log.save(run.dropped)
    stats.update(log.stats())
    stats["kept_questions"] = len(questions)
    stats["kept_samples"] = len(samples)
    stats["kept_by_subject"] = _count(s.subject for s in samples)
    stats["kept_by_stage"] = _count(s.provenance.stage for s in samples)
    run.update_stats("curate", stats)
    run.update_config("curate", config.to_dict())
    return stats


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(sorted(counts.items()))


def _drop_questions(
    questions: list[Question],
    samples: list[Sample],
    gone: dict[str, tuple[str, dict[str, Any]]],
    log: DropLog,
) -> tuple[list[Question], list[Sample]]:
    """Drop the questions in `gone` (id -> reason, detail) and every sample of them."""
    for question in questions:
        if question.id in gone:
            reason, detail = gone[question.id]
            log.drop_question(question, reason, **detail)
    kept = []
    for sample in samples:
        if sample.question_id in gone:
            reason, detail = gone[sample.question_id]
            log.drop(sample, reason, **detail)
        else:
            kept.append(sample)
    return [q for q in questions if q.id not in gone], kept


def _decontaminate(
    questions: list[Question], samples: list[Sample], config: CurateConfig, log: DropLog
) -> tuple[list[Question], list[Sample], dict[str, Any]]:
    """Questions and solutions sharing an n-gram with a benchmark item are dropped."""
    if not config.benchmarks:
        return questions, samples, {}
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

    gone: dict[str, tuple[str, dict[str, Any]]] = {}
    for question in questions:
        hit = index.check([question_prompt(question)])
        if hit:
            note(hit.items, "questions")
            gone[question.id] = ("contaminated", {"benchmarks": hit.items, "ngrams": hit.ngrams})
    questions, samples = _drop_questions(questions, samples, gone, log)
    kept = []
    for sample in samples:
        hit = index.check([solution_text(sample)])
        if hit:
            note(hit.items, "samples")
            log.drop(sample, "contaminated", benchmarks=hit.items, ngrams=hit.ngrams)
        else:
            kept.append(sample)
    logger.info("decontamination: %d n-grams indexed, n=%d", len(index), config.ngram)
    return questions, kept, report


def _dedup_questions(
    questions: list[Question], samples: list[Sample], near: NearDupConfig | None, log: DropLog
) -> tuple[list[Question], list[Sample]]:
    """Duplicate questions: the one with the best sample stays, the others go with their samples."""
    best: dict[str, tuple[Any, ...]] = {}
    for sample in samples:
        key = quality_key(sample)
        if sample.question_id not in best or key > best[sample.question_id]:
            best[sample.question_id] = key

    def rank(i: int) -> tuple[Any, ...]:
        key = best.get(questions[i].id)
        # Questions with samples beat those without; among equals the earlier question wins.
        return (1, key, -i) if key is not None else (0, (), -i)

    duplicates = find_duplicates([question_prompt(q) for q in questions], rank, near)
    gone = {
        questions[d.index].id: (
            f"{d.kind}_dup_question",
            {"kept": questions[d.kept].id, "similarity": d.similarity},
        )
        for d in duplicates
    }
    return _drop_questions(questions, samples, gone, log)


def _dedup_solutions(
    samples: list[Sample], near: NearDupConfig | None, scope: str, log: DropLog
) -> list[Sample]:
    """Duplicate solutions (within a question, or anywhere): the best-scored one stays."""
    scopes = [s.question_id for s in samples] if scope == "question" else None
    duplicates = find_duplicates(
        [solution_text(s) for s in samples], lambda i: (quality_key(samples[i]), -i), near, scopes
    )
    for d in duplicates:
        log.drop(
            samples[d.index],
            f"{d.kind}_dup_solution",
            kept=samples[d.kept].id,
            similarity=d.similarity,
        )
    gone = {d.index for d in duplicates}
    return [s for i, s in enumerate(samples) if i not in gone]
