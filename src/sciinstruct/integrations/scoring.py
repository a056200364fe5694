"""One scoring core for every RL framework: a response and its reference in, a flat dict out.

The dict is what verl logs per sample (`reward_extra_info`) and what OpenRLHF and the grading
server send back, so its keys are the same for every row of a selection of rewards:

- `score`: the reward, the weighted sum of the selected rewards that apply to the row (a reward
  returning None for a row, such as molecule validity on a numeric question, is left out);
- `acc`: 1.0 when the grader finds the answer right, else 0.0;
- `pred`: the extracted answer ("" when none; verl's majority vote reads `pred`);
- `reason`, `answer_type`, `data_error` (the reference, not the response, is at fault),
  `fallback` (the answer was only the last number), `certain`;
- `reward_<name>` for each selected reward besides `correctness` (0.0 where it does not apply).

`correctness` is the grader's verdict (`sciinstruct.grading.grade`, with the reference's unit,
type, choices, tolerance and the question's text); every other name is looked up in the reward
registry (`sciinstruct.train.rewards`: `format`, `extracted`, `validity`, `constraints`,
`tanimoto`, `checks`, or `module:function`) and called with the columns TRL would pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sciinstruct.grading import Verdict, grade
from sciinstruct.integrations.reference import Reference, ReferenceError, parse_reference
from sciinstruct.train import get_reward

DEFAULT_TIMEOUT_S = 5.0
# Threads grading one batch: the grader's symbolic checks run in its sandbox processes, so
# threads overlap them; more than the sandbox's few workers would only queue.
_BATCH_THREADS = 4


@dataclass(frozen=True)
class RewardSelection:
    """Which rewards make the score, and their weights (1.0 each unless given)."""

    names: tuple[str, ...] = ("correctness",)
    weights: tuple[float, ...] = (1.0,)

    @classmethod
    def of(
        cls,
        rewards: str | Sequence[str] | None = None,
        weights: Mapping[str, float] | Sequence[float] | None = None,
    ) -> RewardSelection:
        """From an adapter's arguments: names as a list or `a,b` text, weights as a list in
        the same order or a `{name: weight}` mapping. Unknown names fail here, before any
        grading, with the registry's did-you-mean."""
        if rewards is None:
            names: tuple[str, ...] = ("correctness",)
        elif isinstance(rewards, str):
            names = tuple(n.strip() for n in rewards.split(",") if n.strip())
        else:
            names = tuple(str(n) for n in rewards)
        if not names:
            raise ValueError("select at least one reward (for example `correctness`)")
        if len(set(names)) != len(names):
            raise ValueError(f"a reward is selected twice in {list(names)}")
        for name in names:
            if name != "correctness":
                get_reward(name)  # raises InputError naming the known rewards
        if weights is None:
            values = (1.0,) * len(names)
        elif isinstance(weights, Mapping):
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise ValueError(f"weights for rewards not selected: {unknown} (selected: {names})")
            values = tuple(float(weights.get(n, 1.0)) for n in names)
        else:
            values = tuple(float(w) for w in weights)
            if len(values) != len(names):
                raise ValueError(f"{len(values)} weights for {len(names)} rewards {list(names)}")
        return cls(names, values)


CORRECTNESS = RewardSelection()


def score_one(
    response: str,
    ground_truth: Any,
    question: str | None = None,
    selection: RewardSelection = CORRECTNESS,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """Score one response against its reference (see the module docstring for the keys)."""
    rows = score_many(
        [response],
        [ground_truth],
        [question],
        selection,
        timeout=timeout,
        finish_reasons=[finish_reason],
    )
    return rows[0]


def score_many(
    responses: Sequence[str],
    ground_truths: Sequence[Any],
    questions: Sequence[str | None] | None = None,
    selection: RewardSelection = CORRECTNESS,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    finish_reasons: Sequence[str | None] | None = None,
) -> list[dict[str, Any]]:
    """Score each response against its own reference; one dict per response, in order."""
    n = len(responses)
    questions = list(questions) if questions is not None else [None] * n
    finish_reasons = list(finish_reasons) if finish_reasons is not None else [None] * n
    for name, column in (
        ("ground_truths", ground_truths),
        ("questions", questions),
        ("finish_reasons", finish_reasons),
    ):
        if len(column) != n:
            raise ValueError(f"{name} has {len(column)} items but there are {n} responses")
    refs: list[Reference | ReferenceError] = []
    for gt, q in zip(ground_truths, questions, strict=True):
        try:
            refs.append(parse_reference(gt, q))
        except ReferenceError as exc:
            refs.append(exc)

    def verdict_of(i: int) -> Verdict | ReferenceError:
        ref = refs[i]
        if isinstance(ref, ReferenceError):
            return ref
        return grade(
            responses[i],
            ref.answer,
            answer_type=ref.answer_type,
            unit=ref.unit,
            choices=ref.choices,
            timeout=timeout,
            metadata=ref.metadata,
            question=ref.question,
            finish_reason=finish_reasons[i],
        )

    # `grade` per item (not a batch call) keeps this independent of the grader's batch API
    if n > 1:
        with ThreadPoolExecutor(min(n, _BATCH_THREADS)) as pool:
            verdicts = list(pool.map(verdict_of, range(n)))
    else:
        verdicts = [verdict_of(i) for i in range(n)]
    shaped = _shaped_rewards(responses, refs, selection)
    return [
        _row(verdict, {name: values[i] for name, values in shaped.items()}, selection)
        for i, verdict in enumerate(verdicts)
    ]


def _shaped_rewards(
    responses: Sequence[str],
    refs: Sequence[Reference | ReferenceError],
    selection: RewardSelection,
) -> dict[str, list[float | None]]:
    """Each selected registry reward over the batch, called with TRL's columns; rows whose
    reference could not be read get None from every reward."""
    others = [name for name in selection.names if name != "correctness"]
    if not others:
        return {}
    good = [i for i, ref in enumerate(refs) if isinstance(ref, Reference)]
    rows = [refs[i].columns() for i in good]  # type: ignore[union-attr]
    keys = ("answer", "answer_type", "unit", "choices", "metadata")
    columns = {key: [row[key] for row in rows] for key in keys}
    prompts = [refs[i].question or "" for i in good]  # type: ignore[union-attr]
    out: dict[str, list[float | None]] = {}
    for name in others:
        values: list[float | None] = [None] * len(refs)
        if good:
            got = get_reward(name)([responses[i] for i in good], prompts=prompts, **columns)
            for i, value in zip(good, got, strict=True):
                values[i] = value
        out[name] = values
    return out


def _row(
    verdict: Verdict | ReferenceError,
    shaped: Mapping[str, float | None],
    selection: RewardSelection,
) -> dict[str, Any]:
    if isinstance(verdict, ReferenceError):  # the data's fault: reported, scored 0, never graded
        row: dict[str, Any] = {
            "score": 0.0,
            "acc": 0.0,
            "pred": "",
            "reason": f"reference: {verdict}",
            "answer_type": "auto",
            "data_error": True,
            "fallback": False,
            "certain": False,
        }
        row.update({f"reward_{name}": 0.0 for name in shaped})
        return row
    acc = 1.0 if verdict.correct else 0.0
    parts = {"correctness": None if verdict.correct is None else acc, **shaped}
    score = sum(
        weight * parts[name]  # type: ignore[operator]
        for name, weight in zip(selection.names, selection.weights, strict=True)
        if parts[name] is not None
    )
    row = {
        "score": float(score),
        "acc": acc,
        "pred": verdict.extracted or "",
        "reason": verdict.reason,
        "answer_type": verdict.answer_type,
        "data_error": verdict.correct is None,
        "fallback": verdict.fallback,
        "certain": verdict.certain,
    }
    for name, value in shaped.items():
        row[f"reward_{name}"] = 0.0 if value is None else float(value)
    return row
