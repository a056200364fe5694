"""The instruction-quality classifier (SciGLM's data classifier): is this solution a good one?

It learns from the run's own graded attempts (a correct solution is a positive, a wrong one a
negative) or from a labelled file, and scores each candidate sample with P(good) - P(bad), a value
in [-1, 1] whichever model is used, so one threshold means the same thing for both:

- `tfidf`: TF-IDF word and bigram features with logistic regression (scikit-learn). Trains in
  seconds anywhere; the default.
- `lm`: SciGLM's own kind, a causal LM fine-tuned to answer True/False after the question and
  solution, scored as P(True) - P(False) (see `lm_classifier.py`).

A trained classifier is a directory with `classifier.json` (kind, metrics) and the model files,
so it can score another run. The files hold data only, never a pickle: a classifier directory
from someone else cannot run code when loaded. `tfidf` is `tfidf.json` (settings, vocabulary)
and `.npy` arrays read with `allow_pickle=False`; `lm` is a safetensors model directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sciinstruct.curate.labels import check_trainable
from sciinstruct.curate.samples import question_prompt
from sciinstruct.errors import InputError
from sciinstruct.records import Attempt, Question, stable_id
from sciinstruct.rows import read_rows

META = "classifier.json"
KINDS = ("tfidf", "lm")


@dataclass(frozen=True)
class Example:
    """A text to judge, its label (1 good, 0 bad) and the group it must not be split from."""

    text: str
    label: int
    group: str


def format_example(question: str, solution: str) -> str:
    """The one text both models see: the question, then the solution."""
    return f"Question: {question.strip()}\n\nSolution: {solution.strip()}"


class QualityClassifier(Protocol):
    kind: str

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None: ...

    def score(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


def examples_from_attempts(
    questions: Iterable[Question], attempts: Iterable[Attempt], fraction: float = 1.0
) -> list[Example]:
    """Graded attempts with a response: correct ones are positives, wrong ones negatives.

    With `fraction` < 1 only the questions a stable hash puts in that share are read (all of a
    question's attempts or none), so a large run trains on a bounded sample."""
    by_id = {q.id: q for q in questions}
    examples = []
    for attempt in attempts:
        question = by_id.get(attempt.question_id)
        if question is None or attempt.correct is None or attempt.error:
            continue
        if not attempt.response.strip():
            continue
        if fraction < 1.0 and _share(question.id) >= fraction:
            continue
        text = format_example(question_prompt(question), attempt.response)
        examples.append(Example(text, int(attempt.correct), question.id))
    return examples


def _share(group: str) -> float:
    """Where a question falls in [0, 1): the same on every machine."""
    return int(stable_id("train-sample", group, length=8), 16) / 16**8


def in_share(question_id: str, fraction: float) -> bool:
    """Whether `examples_from_attempts(..., fraction)` reads this question's attempts."""
    return _share(question_id) < fraction


def _parse_label(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return int(value.strip().lower() in ("true", "1"))
    return None


def load_labelled(path: str | Path) -> list[Example]:
    """Rows `{"question", "solution" (or "response"), "label": true/false/1/0}`."""
    path = Path(path)
    if not path.exists():
        raise InputError("labelled file not found", file=str(path))
    examples = []
    for line in read_rows(path, fmt="jsonl"):
        row = line.data or {}
        solution = row.get("solution", row.get("response"))
        label = _parse_label(row.get("label"))
        if not isinstance(row.get("question"), str) or not isinstance(solution, str):
            raise line.error("needs `question` and `solution`")
        if label is None:
            raise line.error(f"label must be true/false or 1/0, got {row.get('label')!r}", "label")
        group = str(row.get("question_id") or stable_id(row["question"]))
        examples.append(Example(format_example(row["question"], solution), label, group))
    return examples


def split_heldout(
    examples: Sequence[Example], fraction: float, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Train / held-out split by question, so no question's solutions sit on both sides."""
    if not 0.0 <= fraction < 1.0:
        raise InputError(f"held-out fraction must be in [0, 1), got {fraction}")

    # A stable hash of (seed, group) puts each question on one side on every machine.
    def held(group: str) -> bool:
        return int(stable_id(str(seed), group, length=8), 16) / 16**8 < fraction

    train = [e for e in examples if not held(e.group)]
    heldout = [e for e in examples if held(e.group)]
    return train, heldout


def evaluate(classifier: QualityClassifier, examples: Sequence[Example]) -> dict[str, Any]:
    """Held-out accuracy (score > 0 means good) and ROC AUC (None with a single class)."""
    from sklearn.metrics import roc_auc_score

    if not examples:
        return {"n": 0, "accuracy": None, "auc": None}
    labels = np.array([e.label for e in examples])
    scores = classifier.score([e.text for e in examples])
    accuracy = float(((scores > 0).astype(int) == labels).mean())
    auc = float(roc_auc_score(labels, scores)) if 0 < labels.sum() < labels.size else None
    return {"n": int(labels.size), "positives": int(labels.sum()), "accuracy": accuracy, "auc": auc}


class TfidfClassifier:
    """TF-IDF (words and bigrams) + logistic regression; classes weighted to their frequency."""

    kind = "tfidf"

    def __init__(self, c: float = 1.0, max_features: int = 50_000) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        # sublinear_tf: a word said ten times is not ten times the evidence.
        self.pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=max_features),
            LogisticRegression(C=c, class_weight="balanced", max_iter=1000),
        )

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None:
        check_trainable(labels, "tfidf classifier")
        self.pipeline.fit(list(texts), list(labels))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty(0)
        # a chunk at a time: the TF-IDF matrix of a whole large run would not fit in memory
        good = np.concatenate(
            [
                self.pipeline.predict_proba(list(texts[i : i + SCORE_CHUNK]))[:, 1]
                for i in range(0, len(texts), SCORE_CHUNK)
            ]
        )
        return 2.0 * good - 1.0  # P(good) - P(bad)

    def save(self, directory: Path) -> None:
        """Settings and vocabulary as JSON, the learnt numbers as `.npy` arrays: no pickle."""
        vectorizer, model = self.pipeline[0], self.pipeline[-1]
        directory.mkdir(parents=True, exist_ok=True)
        vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        state = {
            "format": TFIDF_FORMAT,
            "vectorizer": _plain_params(vectorizer),
            "logistic_regression": _plain_params(model),
            "vocabulary": vocabulary,  # term of column i at index i
            "classes": [int(c) for c in model.classes_],
        }
        (directory / TFIDF_STATE).write_text(json.dumps(state) + "\n", encoding="utf-8")
        for name, array in (
            ("idf", vectorizer.idf_),
            ("coef", model.coef_),
            ("intercept", model.intercept_),
        ):
            np.save(directory / f"{name}.npy", np.asarray(array, dtype=np.float64), False)

    @classmethod
    def load(cls, directory: Path) -> TfidfClassifier:
        """Rebuild the fitted pipeline from the saved data; refuses anything but data."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        state_path = directory / TFIDF_STATE
        if not state_path.exists():
            raise InputError(
                f"not a saved tfidf classifier (no {TFIDF_STATE})", file=str(directory)
            )
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("format") != TFIDF_FORMAT:
                raise ValueError(f"format {state.get('format')!r}, expected {TFIDF_FORMAT}")
            params = state["vectorizer"]
            params["ngram_range"] = tuple(params["ngram_range"])
            params["dtype"] = np.dtype(params["dtype"]).type
            vectorizer = TfidfVectorizer(**params)
            model = LogisticRegression(**state["logistic_regression"])
            arrays = {
                name: np.load(directory / f"{name}.npy", allow_pickle=False)
                for name in ("idf", "coef", "intercept")
            }
            vocabulary = state["vocabulary"]
            vectorizer.vocabulary_ = {term: i for i, term in enumerate(vocabulary)}
            vectorizer.idf_ = arrays["idf"]
            model.classes_ = np.array(state["classes"])
            model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
            model.n_features_in_ = len(vocabulary)
            if arrays["idf"].shape != (len(vocabulary),) or model.coef_.shape[1] != len(vocabulary):
                raise ValueError("array shapes do not match the vocabulary")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # np.load refuses a pickled array with ValueError: nothing is unpickled
            raise InputError(f"unreadable tfidf classifier: {exc}", file=str(directory)) from None
        classifier = cls.__new__(cls)
        classifier.pipeline = make_pipeline(vectorizer, model)
        return classifier


SCORE_CHUNK = 10_000  # texts vectorised at once when scoring
TFIDF_STATE = "tfidf.json"
TFIDF_FORMAT = 1
# Files that deserialize by running code (pickle and its wrappers); a classifier holding one is
# refused before anything is read from it.
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle", ".pt", ".pth", ".bin")


def _plain_params(estimator: Any) -> dict[str, Any]:
    """An estimator's constructor parameters as JSON values (dtype by name; no callables)."""
    params = {}
    for key, value in estimator.get_params().items():
        if key == "dtype":
            value = np.dtype(value).name
        elif isinstance(value, tuple):
            value = list(value)
        elif value is not None and not isinstance(value, str | int | float | bool | list):
            raise InputError(f"cannot save {type(estimator).__name__}.{key}={value!r} as data")
        params[key] = value
    return params


def refuse_pickles(directory: Path) -> None:
    """A one-line error if `directory` holds a file that would be unpickled to load it."""
    found = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )
    if found:
        raise InputError(
            f"holds {found[0].relative_to(directory)}, a pickle that can run code when loaded; "
            "classifiers are loaded only from data files (tfidf.json + .npy, or safetensors): "
            "retrain it with `sciinstruct filter --save DIR`",
            file=str(directory),
        )


def make_classifier(kind: str, **options: Any) -> QualityClassifier:
    """A fresh classifier of `kind` ("tfidf" or "lm"); options go to its constructor."""
    if kind == "tfidf":
        return TfidfClassifier(**options)
    if kind == "lm":
        from sciinstruct.curate.lm_classifier import LMClassifier

        return LMClassifier(**options)
    raise InputError(f"unknown classifier {kind!r}: expected one of {', '.join(KINDS)}")


def save_classifier(
    classifier: QualityClassifier, directory: str | Path, metrics: dict[str, Any]
) -> Path:
    """Write the model and `classifier.json` (kind and held-out metrics)."""
    directory = Path(directory)
    classifier.save(directory)
    meta = {"kind": classifier.kind, "metrics": metrics}
    (directory / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return directory


def load_classifier(directory: str | Path) -> tuple[QualityClassifier, dict[str, Any]]:
    """A saved classifier and its metadata, to score another run."""
    directory = Path(directory)
    meta_path = directory / META
    if not meta_path.exists():
        raise InputError(f"not a saved classifier (no {META})", file=str(directory))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    refuse_pickles(directory)
    if meta.get("kind") == "tfidf":
        return TfidfClassifier.load(directory), meta
    if meta.get("kind") == "lm":
        from sciinstruct.curate.lm_classifier import LMClassifier

        return LMClassifier.load(directory), meta
    raise InputError(
        f"unknown classifier kind {meta.get('kind')!r}", file=str(meta_path), field="kind"
    )
