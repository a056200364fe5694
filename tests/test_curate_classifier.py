"""The quality classifier (`sciinstruct filter`): training, thresholds, metrics, save and reuse."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sciinstruct.curate import FilterConfig, clear_filter, read_dropped, run_filter
from sciinstruct.curate.classifier import (
    examples_from_attempts,
    format_example,
    load_classifier,
    load_labelled,
    split_heldout,
)
from sciinstruct.curate.quality_filter import fold_of, select
from sciinstruct.errors import InputError
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.records import Attempt, Question
from sciinstruct.report import make_report
from sciinstruct.rundir import RunDir

N = 40
SLOPPY = {3, 11, 19, 27, 35}  # correct attempts written like the wrong ones


def careful(i: int) -> str:
    return f"First we write the equation for case {i}. Then we solve it carefully. Therefore the answer is {i}."


def sloppy(i: int) -> str:
    return f"guess maybe probably {i} idk whatever lucky guess"


def classifier_data(n: int = N) -> tuple[list[Question], list[Attempt]]:
    """n questions, each with a right attempt (careful, or sloppy for SLOPPY) and a wrong one."""
    questions = [
        Question(id=f"q{i}", question=f"What is {i} times one?", answer=str(i)) for i in range(n)
    ]
    attempts = []
    for i in range(n):
        good = sloppy(i) if i in SLOPPY else careful(i)
        attempts.append(
            Attempt(
                id=f"ok{i}",
                question_id=f"q{i}",
                stage="cot",
                messages=[],
                response=good,
                correct=True,
            )
        )
        attempts.append(
            Attempt(
                id=f"no{i}",
                question_id=f"q{i}",
                stage="cot",
                messages=[],
                response=sloppy(i + 1),
                correct=False,
            )
        )
    return questions, attempts


def test_tfidf_filter_drops_low_scores_and_counts_match(tmp_path: Path, make_run) -> None:
    run = make_run(*classifier_data())
    stats = run_filter(run, FilterConfig())
    dropped = read_dropped(run.root / "dropped.jsonl", stage="filter")
    assert {r["question_id"] for r in dropped} == {f"q{i}" for i in SLOPPY}
    assert stats["dropped_samples"] == {"classifier_below_threshold": 5}
    assert stats["dropped_classifier_below_threshold"] == len(dropped) == 5
    assert stats["kept"] == N - 5 == len(list(read_jsonl(run.root / "filtered.jsonl")))
    assert all(r["detail"]["score"] < 0 for r in dropped)
    held = stats["metrics"]["heldout"]
    assert held["n"] > 0 and held["accuracy"] >= 0.8 and held["auc"] >= 0.8
    assert stats["metrics"]["scoring"] == "out-of-fold, 5 folds by question"
    on_disk = json.loads(run.stats.read_text())["filter"]
    assert on_disk["kept"] == stats["kept"]
    kept = list(read_jsonl(run.root / "filtered.jsonl"))
    assert all(r["scores"]["classifier"] >= 0 for r in kept)


def test_keep_fraction_and_saved_classifier_reused_on_another_run(tmp_path: Path, make_run) -> None:
    first = make_run(*classifier_data(), name="first")
    run_filter(first, FilterConfig(keep_fraction=0.5))
    assert len(list(read_jsonl(first.root / "filtered.jsonl"))) == N // 2
    assert (first.root / "classifier" / "classifier.json").exists()
    second = make_run(*classifier_data(n=10), name="second")
    stats = run_filter(second, FilterConfig(load=first.root / "classifier"))
    assert stats["metrics"]["loaded_from"] == str(first.root / "classifier")
    assert stats["metrics"]["scoring"] == "one classifier"
    assert stats["dropped_samples"] == {"classifier_below_threshold": 1}  # q3 of q0..q9


def test_labelled_file_and_errors(tmp_path: Path, make_run) -> None:
    labels = tmp_path / "labels.jsonl"
    write_jsonl(
        labels,
        [
            {"question": "q", "solution": "s", "label": "true"},
            {"question": "q", "solution": "t", "label": 0},
        ],
    )
    assert [e.label for e in load_labelled(labels)] == [1, 0]
    write_jsonl(labels, [{"question": "q", "solution": "s", "label": "yes"}])
    with pytest.raises(InputError, match="label must be"):
        load_labelled(labels)
    run = make_run(*classifier_data())
    write_jsonl(run.attempts, [a for a in read_jsonl(run.attempts) if a["correct"]])
    with pytest.raises(InputError, match="need both good and bad examples"):
        run_filter(run, FilterConfig())


def test_heldout_split_is_by_question() -> None:
    run_examples = [
        e
        for i in range(100)
        for e in examples_from_attempts(
            [Question(id=f"q{i}", question="x", answer="1")],
            [
                Attempt(question_id=f"q{i}", stage="cot", messages=[], response=r, correct=c)
                for r, c in (("a", True), ("b", False))
            ],
        )
    ]
    train, held = split_heldout(run_examples, 0.2)
    assert not {e.group for e in train} & {e.group for e in held}
    assert 20 <= len(held) <= 60  # ~20 of 100 questions, two examples each
    assert Counter(e.label for e in held)[1] == len(held) // 2


def test_select_threshold_and_fraction() -> None:
    scores = np.array([0.5, -0.2, 0.1, 0.9, -0.9])
    mask, cut = select(scores, 0.0, None)
    assert mask.tolist() == [True, False, True, True, False] and cut == 0.0
    mask, cut = select(scores, None, 0.4)
    assert mask.tolist() == [True, False, False, True, False] and cut == 0.5


@pytest.mark.slow
@pytest.mark.train
def test_lm_classifier_trains_and_scores(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from sciinstruct.curate.lm_classifier import LMClassifier

    # One thread: on a shared 2-core machine, OpenMP threads spinning against other processes
    # make each step several times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_two_steps(LMClassifier)
    finally:
        torch.set_num_threads(threads)


def _train_two_steps(LMClassifier: type) -> None:
    clf = LMClassifier(batch_size=2, max_length=64, max_steps=2, lr=1e-4)
    before = next(p for p in clf.model.parameters() if p.requires_grad).detach().clone()
    texts = [careful(1), sloppy(2), careful(3), sloppy(4)]
    clf.fit(texts, [1, 0, 1, 0])
    after = next(p for p in clf.model.parameters() if p.requires_grad)
    assert clf.steps_done == 2 and len(clf.losses) == 2
    assert not np.allclose(before.numpy(), after.detach().numpy())
    scores = clf.score(texts)
    assert scores.shape == (4,) and np.all((scores >= -1) & (scores <= 1))


def make_small_run(root: Path) -> RunDir:
    """2 correct and 12 wrong attempts over 7 questions; both correct ones answer q0."""
    run = RunDir(root).ensure()
    questions = [Question(id=f"q{i}", question=f"What is {i} plus one?", answer=str(i + 1)) for i in range(7)]  # fmt: skip
    attempts = [
        Attempt(id=f"ok{j}", question_id="q0", stage="cot", messages=[], response=careful(j), correct=True)
        for j in range(2)
    ] + [
        Attempt(id=f"no{i}-{j}", question_id=f"q{i}", stage="cot", messages=[], response=sloppy(i + j), correct=False)
        for i in range(1, 7)
        for j in range(2)
    ]  # fmt: skip
    write_jsonl(run.questions, questions)
    write_jsonl(run.attempts, attempts)
    return run


@pytest.mark.parametrize("q0_held_out", [True, False])
def test_small_run_with_one_class_folds_is_scored_not_aborted(
    tmp_path: Path, q0_held_out: bool
) -> None:
    run = make_small_run(tmp_path / "run")
    examples = examples_from_attempts(
        [Question(id=f"q{i}", question="x", answer="1") for i in range(7)],
        [Attempt.model_validate(a) for a in read_jsonl(run.attempts)],
    )
    # A seed whose held-out split takes q0 (the only solved question) or leaves it in training.
    seed = next(
        s for s in range(1000) if q0_held_out == held_groups(examples, s).issuperset({"q0"})
    )
    stats = run_filter(run, FilterConfig(seed=seed))

    metrics = stats["metrics"]
    assert stats["candidates"] == 2
    # q0's fold trains on wrong answers only: the full classifier scores its two candidates
    assert metrics["single_class_folds"] == [fold_of("q0", 5, seed)]
    saved, _ = load_classifier(run.root / "classifier")
    kept = list(read_jsonl(run.root / "filtered.jsonl"))
    dropped = read_dropped(run.root / "dropped.jsonl", stage="filter")
    scores = {r["id"]: r["scores"]["classifier"] for r in kept}
    scores |= {r["id"]: r["record"]["scores"]["classifier"] for r in dropped}
    texts = [format_example("What is 0 plus one?", careful(j)) for j in range(2)]
    assert sorted(scores.values()) == pytest.approx(sorted(saved.score(texts)), abs=1e-6)
    assert len(kept) + len(dropped) == 2
    if q0_held_out:
        # Training without q0 has no positives: train on all 14, no held-out estimate.
        assert metrics["train"] == {"n": 14, "positives": 2}
        held = metrics["heldout"]
        assert (held["n"], held["accuracy"], held["auc"]) == (0, None, None)
        outside = 14 - 2 * len(held_groups(examples, seed))  # two attempts per question
        assert held["unavailable"] == (
            f"the {outside} examples outside the held-out split have one class; trained on all 14"
        )
        make_report(run)
        assert f"No classifier held-out estimate: {held['unavailable']}." in run.report.read_text()
    else:
        assert metrics["train"]["positives"] == 2 and metrics["train"]["n"] < 14
        assert "unavailable" not in metrics["heldout"]
        assert metrics["heldout"]["n"] == 14 - metrics["train"]["n"]


def held_groups(examples: list, seed: int) -> set[str]:
    return {e.group for e in split_heldout(examples, 0.2, seed)[1]}


def test_clear_filter_removes_what_an_earlier_filter_left(tmp_path: Path, make_run) -> None:
    run = make_run(*classifier_data())
    run_filter(run, FilterConfig())
    dropped_file = run.root / "dropped.jsonl"
    other = {"kind": "sample", "stage": "curate", "reason": "exact_duplicate", "id": "x",
             "question_id": "q1", "detail": {}, "record": {}}  # fmt: skip
    write_jsonl(dropped_file, [*read_jsonl(dropped_file), other])
    run.update_stats("curate", {"kept_samples": 3})
    assert len(read_dropped(dropped_file, stage="filter")) == 5

    clear_filter(run, "the run has 0 wrong attempts")

    assert not (run.root / "filtered.jsonl").exists()
    assert not (run.root / "classifier").exists()
    assert list(read_jsonl(dropped_file)) == [other]  # other stages' drops stay
    stats = json.loads(run.stats.read_text())
    assert stats["filter"] == {"skipped": "the run has 0 wrong attempts"}
    assert stats["curate"] == {"kept_samples": 3}

    report = make_report(run)  # renders with a skipped filter
    assert report["funnel"] == {
        "questions": N,
        "questions attempted": N,
        "questions solved": N,
        "correct solutions": N,
        "kept by curation": 3,
    }
    assert report["dropped"] == {"curate: exact_duplicate": 1}
    assert (
        "The classifier filter was skipped: the run has 0 wrong attempts." in run.report.read_text()
    )


def test_clear_filter_keeps_a_loaded_classifier(tmp_path: Path, make_run) -> None:
    run = make_run(*classifier_data(n=10))
    run_filter(run, FilterConfig())  # trains and saves RUN/classifier
    run_filter(run, FilterConfig(load=run.root / "classifier"))
    clear_filter(run, "skipped by hand")
    assert (run.root / "classifier" / "classifier.json").exists()
    assert not (run.root / "dropped.jsonl").read_text().strip()
    assert run.read_stats()["filter"] == {"skipped": "skipped by hand"}


def _trained_tfidf(tmp_path: Path):
    from sciinstruct.curate.classifier import TfidfClassifier, save_classifier

    texts = [careful(i) for i in range(20)] + [sloppy(i) for i in range(20)]
    labels = [1] * 20 + [0] * 20
    classifier = TfidfClassifier()
    classifier.fit(texts, labels)
    return classifier, save_classifier(classifier, tmp_path / "clf", {"n": 40})


def test_a_saved_tfidf_classifier_is_data_only_and_scores_exactly_the_same(tmp_path: Path):
    classifier, directory = _trained_tfidf(tmp_path)
    assert sorted(p.name for p in directory.iterdir()) == [
        "classifier.json", "coef.npy", "idf.npy", "intercept.npy", "tfidf.json",
    ]  # fmt: skip
    for array in ("coef", "idf", "intercept"):  # plain float arrays, readable without pickle
        assert np.load(directory / f"{array}.npy", allow_pickle=False).dtype == np.float64
    loaded, meta = load_classifier(directory)
    unseen = [careful(100), sloppy(100), "Then we solve it idk", "", "équation ∫ x dx | `rm -rf`"]
    assert meta["metrics"] == {"n": 40}
    assert np.array_equal(loaded.score(unseen), classifier.score(unseen))  # bit for bit
    assert loaded.score(unseen)[0] > 0 > loaded.score(unseen)[1]


def test_loading_refuses_a_pickle_in_one_line(tmp_path: Path):
    import pickle

    _, directory = _trained_tfidf(tmp_path)
    (directory / "model.joblib").write_bytes(pickle.dumps({"an": "old classifier"}))
    with pytest.raises(InputError) as refused:
        load_classifier(directory)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{directory}: holds model.joblib, a pickle that can run code")


def test_a_pickled_array_is_refused_without_being_unpickled(tmp_path: Path):
    _, directory = _trained_tfidf(tmp_path)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):  # what a hostile file would do when unpickled
            return (marker.write_text, ("code ran",))

    np.save(directory / "coef.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="unreadable tfidf classifier"):
        load_classifier(directory)
    assert not marker.exists()
