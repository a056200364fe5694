"""`sciinstruct filter`: train (or load) the quality classifier, score candidates, keep the best.

Candidates are the correct attempts of the run as samples. Each gets `scores["classifier"]`; those
under the threshold (or outside the top fraction) are dropped with reason
`classifier_below_threshold`. Survivors go to RUN/filtered.jsonl, which `curate` then reads.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from sciinstruct.curate.classifier import (
    SCORE_CHUNK,
    Example,
    QualityClassifier,
    evaluate,
    examples_from_attempts,
    format_example,
    in_share,
    load_classifier,
    load_labelled,
    make_classifier,
    save_classifier,
    split_heldout,
)
from sciinstruct.curate.droplog import DropLog
from sciinstruct.curate.labels import check_trainable
from sciinstruct.curate.samples import (
    critique_scores,
    iter_attempts,
    iter_records,
    iter_samples,
    question_text,
    solution_text,
)
from sciinstruct.errors import InputError
from sciinstruct.jsonl import write_jsonl
from sciinstruct.log import logger
from sciinstruct.records import Question, Sample, stable_id
from sciinstruct.rundir import RunDir, writes_run
from sciinstruct.scratch import scratch_db
from sciinstruct.settings import check_declared, option

REASON = "classifier_below_threshold"

CLASSIFIERS = ("tfidf", "lm")


@dataclass
class FilterConfig:
    """How to get a classifier and whom it keeps. `threshold` and `keep_fraction` exclude each
    other; scores are P(good) - P(bad) in [-1, 1], so 0.0 keeps what looks more good than bad."""

    model: str = option(
        "tfidf",
        "Classifier: tfidf (fast) or lm (SciGLM's: fine-tuned causal LM).",
        choices=CLASSIFIERS,
    )
    labels: Path | None = option(
        None, "Train on this JSONL of question/solution/label instead of the run's attempts."
    )
    load: Path | None = option(
        None,
        "Use a saved classifier directory instead of training. Only data files are read "
        "(tfidf.json + .npy arrays, or safetensors); a directory holding a pickle is refused.",
    )
    save: Path | None = option(
        None, "Where to save the trained classifier [default: RUN/classifier]."
    )
    threshold: float | None = option(
        0.0, "Keep samples scoring at least this; scores are P(good) - P(bad) in [-1, 1]."
    )
    keep_fraction: float | None = option(
        None, "Keep this top fraction instead of using a threshold.", gt=0.0, max=1.0
    )
    heldout: float = option(0.2, "Fraction of questions held out to report accuracy and AUC.")
    # Candidates are the run's own correct attempts, i.e. training positives: a model that saw
    # a solution scores it too kindly. With k folds by question, each candidate is scored by a
    # model trained without its question. Default: 5 for tfidf (seconds), off for lm (k x cost).
    cross_fit: int | None = option(
        None,
        "Score each candidate with a model trained without its question, over k folds "
        "[default: 5 for tfidf, 0 (off) for lm].",
    )
    # A few tens of thousands of examples are plenty for a TF-IDF model, and its fit holds
    # ~10 KB per example: the cap keeps a run of a million questions within memory.
    max_train: int = option(
        50_000,
        "Train on about this many graded attempts at most, whole questions drawn by a stable "
        "hash (a larger run's memory stays bounded).",
        min=2,
    )
    seed: int = option(0, "Seed of the held-out split and training.")
    options: dict[str, Any] = option({}, "lm: the classifier's constructor options.")

    def __post_init__(self) -> None:
        check_declared(self)
        if self.keep_fraction is not None:
            self.threshold = None
        if self.cross_fit is None:
            self.cross_fit = 5 if self.model == "tfidf" else 0
        if self.cross_fit == 1 or self.cross_fit < 0:
            raise InputError(
                f"--cross-fit must be 0 (off) or at least 2 folds, got {self.cross_fit}"
            )


def select(
    scores: np.ndarray, threshold: float | None, keep_fraction: float | None
) -> tuple[np.ndarray, float]:
    """Boolean keep mask and the effective threshold (the lowest kept score for a fraction)."""
    if keep_fraction is None:
        cut = -math.inf if threshold is None else threshold
        return scores >= cut, cut
    n_keep = math.ceil(keep_fraction * scores.size)
    order = np.argsort(-scores, kind="stable")  # ties keep their original order
    mask = np.zeros(scores.size, dtype=bool)
    mask[order[:n_keep]] = True
    return mask, float(scores[order[n_keep - 1]]) if n_keep else math.inf


def _two_classes(examples: list[Example]) -> bool:
    return len({e.label for e in examples}) == 2


def _train(
    config: FilterConfig, questions: Path, attempts: Path
) -> tuple[Any, dict[str, Any], list[Example]]:
    """The classifier, its metrics and the examples it learnt from (none when loaded).

    It trains on the questions outside the held-out split. A small run may leave that side with
    one class (a small model solves few questions); it then trains on everything and reports no
    held-out metrics rather than stopping. Only a run with one class overall is an error.
    """
    if config.load is not None:
        classifier, meta = load_classifier(config.load)
        return classifier, {"loaded_from": str(config.load), **meta.get("metrics", {})}, []
    if config.labels is not None:
        examples, source = load_labelled(config.labels), str(config.labels)
    else:
        lines = _count_lines(attempts)
        fraction = min(1.0, config.max_train / lines) if lines else 1.0
        # Only the questions of the training share are held (all of them below `max_train`).
        shared = (
            q
            for q in iter_records(questions, Question)
            if fraction == 1.0 or in_share(q.id, fraction)
        )
        examples = examples_from_attempts(shared, iter_attempts(attempts), fraction)
        source = "attempts" if fraction == 1.0 else f"attempts of {fraction:.1%} of the questions"
    check_trainable([e.label for e in examples], f"{config.model} classifier")
    train, heldout = split_heldout(examples, config.heldout, config.seed)
    unavailable = None
    if not _two_classes(train):
        unavailable = (
            f"the {len(train)} examples outside the held-out split have one class; "
            f"trained on all {len(examples)}"
        )
        logger.warning("classifier: %s, so there is no held-out estimate", unavailable)
        train, heldout = examples, []
    classifier = make_classifier(config.model, **config.options)
    classifier.fit([e.text for e in train], [e.label for e in train])
    held = evaluate(classifier, heldout)
    if unavailable:
        held["unavailable"] = unavailable
    metrics = {
        "trained_on": source,
        "train": {"n": len(train), "positives": sum(e.label for e in train)},
        "heldout": held,
    }
    return classifier, metrics, examples


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))


def fold_of(group: str, folds: int, seed: int = 0) -> int:
    """The cross-fitting fold of a question: a stable hash, the same on every machine."""
    return int(stable_id("fold", str(seed), group, length=8), 16) % folds


class Candidates:
    """The run's candidates (correct attempts as samples) in a scratch SQLite file, in attempt
    order, each with its cross-fitting fold: scored a fold and a chunk at a time, then written
    out, never all in memory."""

    def __init__(self, db: sqlite3.Connection, samples: Iterable[Sample], folds: int, seed: int):
        self.db = db
        db.execute("CREATE TABLE candidate (seq INTEGER PRIMARY KEY, fold INTEGER, record TEXT)")
        for sample in samples:  # `samples` may read the same database: one row at a time
            db.execute(
                "INSERT INTO candidate (fold, record) VALUES (?, ?)",
                (
                    fold_of(sample.question_id, folds, seed) if folds else 0,
                    sample.model_dump_json(),
                ),
            )
        db.execute("CREATE INDEX candidate_fold ON candidate (fold, seq)")
        (self.count,) = db.execute("SELECT COUNT(*) FROM candidate").fetchone()

    def __len__(self) -> int:
        return self.count

    def chunks(self, fold: int | None = None) -> Iterator[tuple[list[int], list[Sample]]]:
        """(row positions, samples) of one fold (or all), `SCORE_CHUNK` at a time."""
        where = "" if fold is None else f"WHERE fold = {int(fold)}"
        cursor = self.db.execute(f"SELECT seq, record FROM candidate {where} ORDER BY seq")
        while rows := cursor.fetchmany(SCORE_CHUNK):
            yield [seq - 1 for seq, _ in rows], [Sample.model_validate_json(r) for _, r in rows]

    def __iter__(self) -> Iterator[Sample]:
        for _, samples in self.chunks():
            yield from samples


def out_of_fold_scores(
    config: FilterConfig,
    examples: list[Example],
    candidates: Candidates,
    full: QualityClassifier,
) -> tuple[np.ndarray, list[int]]:
    """Score each candidate with a classifier trained on the other folds (folds by question).

    A fold whose training side has one class (few questions solved) cannot train its own model;
    its candidates are scored by `full`, the run's saved classifier, which saw them. Returns the
    scores and the folds that fell back, which the caller reports.
    """
    folds = int(config.cross_fit or 0)
    scores = np.zeros(len(candidates))
    fell_back: list[int] = []
    for k in range(folds):
        chunks = candidates.chunks(k)
        first = next(chunks, None)
        if first is None:
            continue
        train = [e for e in examples if fold_of(e.group, folds, config.seed) != k]
        if _two_classes(train):
            model = make_classifier(config.model, **config.options)
            model.fit([e.text for e in train], [e.label for e in train])
        else:
            model = full
            fell_back.append(k)
        for targets, samples in chain([first], chunks):
            scores[targets] = _score(model, samples)
    return scores, fell_back


def _score(classifier: QualityClassifier, samples: list[Sample]) -> np.ndarray:
    """Scores of a chunk of samples."""
    if not samples:
        return np.empty(0)
    return classifier.score([format_example(question_text(s), solution_text(s)) for s in samples])


@writes_run("filter")
def run_filter(run: RunDir, config: FilterConfig) -> dict[str, Any]:
    """Score every candidate; write filtered.jsonl, the side file and stats.json's section."""
    if not run.attempts.exists():
        raise InputError(
            "missing attempts.jsonl: run the stage that writes it first", file=str(run.attempts)
        )
    with scratch_db(run.root) as db:
        return _filter(run, config, db)


def _filter(run: RunDir, config: FilterConfig, db: sqlite3.Connection) -> dict[str, Any]:
    folds = int(config.cross_fit or 0)
    samples = iter_samples(
        iter_records(run.questions, Question),
        iter_attempts(run.attempts),
        critique_scores(run.critiques, db),
        db,
    )
    candidates = Candidates(db, samples, folds, config.seed)
    classifier, metrics, examples = _train(config, run.questions, run.attempts)
    save_dir = config.save or run.classifier_dir
    if config.load is None:
        save_classifier(classifier, save_dir, metrics)

    if config.cross_fit and config.load is None and config.labels is None and len(candidates):
        scores, fell_back = out_of_fold_scores(config, examples, candidates, classifier)
        metrics["scoring"] = f"out-of-fold, {config.cross_fit} folds by question"
        if fell_back:
            # Their candidates were scored by a model that saw them: kinder than out-of-fold.
            metrics["single_class_folds"] = fell_back
            logger.warning(
                "classifier: folds %s had one class to train on; scored by the full classifier",
                fell_back,
            )
    else:
        scores = np.zeros(len(candidates))
        for targets, chunk in candidates.chunks():
            scores[targets] = _score(classifier, chunk)
        metrics["scoring"] = "one classifier"
    del examples
    mask, cut = select(scores, config.threshold, config.keep_fraction)
    log = DropLog("filter")

    def kept() -> Iterator[Sample]:
        for sample, score, keep in zip(candidates, scores, mask, strict=True):
            sample.scores["classifier"] = round(float(score), 6)
            if keep:
                yield sample
            else:
                log.drop(sample, REASON, score=round(float(score), 6), threshold=cut)

    n_kept = write_jsonl(run.filtered, kept())
    log.save(run.dropped)

    heldout = metrics.get("heldout", {})
    logger.info(
        "classifier held-out accuracy %s, AUC %s", heldout.get("accuracy"), heldout.get("auc")
    )
    stats = {
        "model": classifier.kind,
        "classifier_dir": str(config.load or save_dir),
        "metrics": metrics,
        "candidates": len(candidates),
        "kept": n_kept,
        "threshold": None if math.isinf(cut) else cut,
        "keep_fraction": config.keep_fraction,
        **log.stats(),
    }
    run.update_stats("filter", stats)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    run.update_config("filter", settings)
    return stats


def clear_filter(run: RunDir, reason: str) -> None:
    """Record that the filter stage was skipped, and remove what an earlier filter run left.

    Without this, `curate` would read a stale filtered.jsonl and the report would count stale
    drops. Removes RUN/filtered.jsonl, the filter's rows of RUN/dropped.jsonl and RUN/classifier
    (unless the earlier run had loaded that classifier with `--load`: then it is the user's);
    stats.json's `filter` section becomes `{"skipped": reason}`. A classifier saved elsewhere
    with `--save` is the user's and stays.
    """
    loaded = run.read_config().get("filter", {}).get("load")
    (run.filtered).unlink(missing_ok=True)
    if (run.dropped).exists():
        DropLog("filter").save(run.dropped)  # no rows: removes the filter's rows only
    classifier_dir = run.classifier_dir
    was_loaded = loaded is not None and Path(loaded).resolve() == classifier_dir.resolve()
    if classifier_dir.is_dir() and not was_loaded:
        shutil.rmtree(classifier_dir)
    run.update_stats("filter", {"skipped": reason})
