"""`grade` and `grade_many`: extract the final answer, then decide by answer type.

Cheap checks (numbers and units, choices, text, SMILES, identical strings) run in-process: their
cost is bounded by the length caps in `extract.py`. Symbolic checks go to the sandbox's worker
processes, batched, each under a hard time limit; their results are cached, since RL and
rejection sampling grade the same pairs again and again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sciinstruct.grading import answer_types as types
from sciinstruct.grading import numeric, several
from sciinstruct.grading.equivalence import (
    Pending,
    Step,
    choice_check,
    expression_check,
    external_check,
    numeric_check,
    smiles_check,
    text_check,
    wrong,
)
from sciinstruct.grading.extract import (
    EXPLICIT,
    Candidate,
    brace_depth,
    clean,
    number_word,
    sanitize,
    strip_chat_debris,
    unit_after,
)
from sciinstruct.grading.lexicon import last_math_close
from sciinstruct.grading.numeric import close, normalize_unit, parse_quantity, parse_unit
from sciinstruct.grading.quantities import all_quantities
from sciinstruct.grading.readings import Readings
from sciinstruct.grading.reference import MAX_NESTING, Reference, size_problem
from sciinstruct.grading.rules import extract
from sciinstruct.grading.sandbox import Outcome, default_workers, shared_pool
from sciinstruct.grading.verdict import Verdict, data_error, unsure

if TYPE_CHECKING:
    from sciinstruct.grading.verifier import Verifier
    from sciinstruct.records import Question

_CACHE_SIZE = 100_000
_KILL_MARGIN_S = 0.25


def grade(
    pred: str,
    gold: str,
    answer_type: str = "auto",
    unit: str | None = None,
    rtol: float | None = None,
    choices: list[str] | None = None,
    timeout: float = 5.0,
    *,
    metadata: Mapping[str, Any] | str | None = None,
    question: str | None = None,
    finish_reason: str | None = None,
    judge: Verifier | None = None,
) -> Verdict:
    """Grade one model output `pred` against the reference answer `gold`.

    `answer_type` is inferred from the reference when `auto`; `unit` is the reference's unit when
    it is not written in `gold` (`%` or `percent` make it a percentage); `rtol` is the relative
    tolerance for numbers, None for the question's own (`metadata["rtol"]`, `["atol"]`) or else
    1% (at 1%, a whole-number reference without a unit is a count and must match exactly);
    `choices` are the option texts of a multiple-choice question; `timeout` bounds the whole
    call (seconds: in-process work, a sandbox worker's start-up and every symbolic check; a
    check cut short is reported as timed out, never blamed on the reference); `metadata` is the question's metadata (a dict or its JSON text), passed on
    to the scientific-format checkers. `question`, the question's text, enables one more
    check: an answer that only repeats a quantity the question gives, in another unit than the
    one asked, is wrong even though it converts to the reference (without it, "Convert 230 mm
    to cm." would accept "The error was 230 mm." as 23 cm).

    `finish_reason` is the generation's (`stop`, `length`, ...): a response cut off by the token
    limit (`length`) is credited only for an answer it states explicitly (`\\boxed{}`, "the
    answer is"), never through the last number, and its verdict says `truncated`. `judge` (a
    `Verifier`) decides what the rules cannot: an answer they cannot find or parse, a
    fallback, differing texts, a proof; its verdict records its reason and raw reply.
    """
    # bounds the whole call, in-process work included; the margin is for killing and
    # replacing a worker that ran out of time
    deadline = time.monotonic() + timeout - min(_KILL_MARGIN_S, timeout / 10)
    item = GradeItem(
        pred, gold, answer_type, unit, rtol, choices, metadata, question, finish_reason
    )
    return _grade_items([item], timeout, None, judge, deadline)[0]


def grade_question(
    pred: str,
    question: Question,
    *,
    rtol: float | None = None,
    timeout: float = 5.0,
    finish_reason: str | None = None,
    judge: Verifier | None = None,
) -> Verdict:
    """Grade `pred` against a Question record: its answer, type, unit, choices and metadata
    (per-question tolerances, checker constraints) and its text all go to `grade`, so no caller
    can forget one; `finish_reason` and `judge` as in `grade`."""
    return grade(
        pred,
        question.answer,
        answer_type=question.answer_type,
        unit=question.unit,
        rtol=rtol,
        choices=question.choices,
        timeout=timeout,
        metadata=question.metadata,
        question=question.question,
        finish_reason=finish_reason,
        judge=judge,
    )


def _without_restated_givens(
    verdict: Verdict, question: str | None, unit: str | None, answer: str
) -> Verdict:
    """`verdict`, made wrong when its answer only repeats a quantity given in `question` in
    another unit than the asked one (`unit`, else the one written in the reference `answer`)."""
    if not (
        question and verdict.correct and verdict.answer_type == "numeric" and verdict.extracted
    ):
        return verdict
    stated = parse_quantity(str(answer))
    asked = unit or (stated.unit if stated is not None else "")
    given = restated_given(verdict.extracted, question, asked)
    if given is None:
        return verdict
    return replace(
        verdict,
        correct=False,
        reason=f"repeats the question's given quantity {given!r} instead of answering in {asked}",
    )


def restated_given(extracted: str, question: str, asked_unit: str | None) -> str | None:
    """The quantity given in `question` that `extracted` repeats in a unit other than
    `asked_unit` (the text as the question writes it), or None."""
    answer = parse_quantity(extracted)
    if not asked_unit or answer is None or not answer.unit or answer.percent:
        return None
    unit = parse_unit(answer.unit)
    if unit is None or unit == parse_unit(normalize_unit(asked_unit)):
        return None  # written in the asked unit: an answer, whatever its value
    for found in all_quantities(question):
        given = found.quantity
        if parse_unit(given.unit) == unit and close(given.value, answer.value, 1e-9):
            return found.text
    return None


@dataclass(frozen=True)
class GradeItem:
    """One pair to grade, with everything its reference needs: `grade`'s arguments as a
    record, so a batch mixes answer types, units and tolerances freely."""

    pred: str
    gold: str
    answer_type: str = "auto"
    unit: str | None = None
    rtol: float | None = None
    choices: list[str] | None = None
    metadata: Mapping[str, Any] | str | None = None
    question: str | None = None
    finish_reason: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> GradeItem:
        """A row of a pairs file (`pred`, `gold`, and any of the optional fields by name)."""
        fields = {name: row[name] for name in _ITEM_FIELDS if row.get(name) is not None}
        return cls(**fields)


_ITEM_FIELDS = tuple(GradeItem.__dataclass_fields__)


def grade_many(
    items: Sequence[GradeItem | Mapping[str, Any]] | Sequence[str],
    golds: Sequence[str] | None = None,
    answer_types: Sequence[str] | None = None,
    units: Sequence[str | None] | None = None,
    rtol: float | None = None,
    choices: Sequence[list[str] | None] | None = None,
    workers: int | None = None,
    timeout: float = 5.0,
    *,
    metadata: Sequence[Mapping[str, Any] | str | None] | None = None,
    questions: Sequence[str | None] | None = None,
    finish_reasons: Sequence[str | None] | None = None,
    judge: Verifier | None = None,
) -> list[Verdict]:
    """Grade many pairs; symbolic checks run in parallel on `workers` processes (default: one
    per core, at most 4), batched; cheap checks run in this process; the `judge` gets all the
    pairs the rules cannot decide in one batch.

    `items` are `GradeItem`s (or rows with the same field names), each with its own reference,
    unit and tolerance. The older column form is still read: `items` the predictions and
    `golds`, `answer_types`, ... their columns, with one `rtol` for all of them.
    """
    if golds is not None:
        batch = _columns(items, golds, answer_types, units, rtol, choices, metadata, questions,
                         finish_reasons)  # fmt: skip
    else:
        batch = [i if isinstance(i, GradeItem) else GradeItem.from_row(i) for i in items]
    return _grade_items(batch, timeout, workers or default_workers(), judge)


def _columns(
    preds: Sequence[Any],
    golds: Sequence[str],
    answer_types: Sequence[str] | None,
    units: Sequence[str | None] | None,
    rtol: float | None,
    choices: Sequence[list[str] | None] | None,
    metadata: Sequence[Mapping[str, Any] | str | None] | None,
    questions: Sequence[str | None] | None,
    finish_reasons: Sequence[str | None] | None,
) -> list[GradeItem]:
    """The column form of `grade_many` as items."""
    columns = {"golds": golds, "answer_types": answer_types, "units": units, "choices": choices,
               "metadata": metadata, "questions": questions, "finish_reasons": finish_reasons}  # fmt: skip
    for name, column in columns.items():
        if column is not None and len(column) != len(preds):
            raise ValueError(f"{name} has {len(column)} items but preds has {len(preds)}")
    fields = ("gold", "answer_type", "unit", "choices", "metadata", "question", "finish_reason")
    given = [(field, c) for field, c in zip(fields, columns.values(), strict=True) if c is not None]
    return [GradeItem(p, rtol=rtol, **{f: c[i] for f, c in given}) for i, p in enumerate(preds)]


def _grade_items(
    items: Sequence[GradeItem],
    timeout: float,
    workers: int | None,
    judge: Verifier | None,
    deadline: float | None = None,
) -> list[Verdict]:
    verdicts = _pipelined(items, timeout, workers, deadline)
    verdicts = [
        _without_restated_givens(v, item.question, item.unit, item.gold)
        for v, item in zip(verdicts, items, strict=True)
    ]
    if judge is None:
        return verdicts
    cases = [
        judge.case(i.pred, i.gold, i.question, i.answer_type, i.unit, i.choices) for i in items
    ]
    return judge.review(verdicts, cases)


_CHUNK = 32  # items prepared at a time while the sandbox resolves earlier ones (`_pipelined`)


def _pipelined(
    items: Sequence[GradeItem], timeout: float, workers: int | None, deadline: float | None
) -> list[Verdict]:
    """Every item's verdict before the restated-givens check and the judge. A large batch is
    cut into chunks: while this thread extracts and checks one chunk, up to `workers` threads
    each resolve an earlier chunk on one sandbox worker, so no worker idles through extraction."""
    if len(items) <= _CHUNK or (workers or 1) < 2:
        return _resolve([_prepare(item) for item in items], timeout, workers, deadline)
    shared_pool(workers)  # the pool grows to `workers`; each chunk then runs on one of them
    with ThreadPoolExecutor(workers) as chunks:
        prepared = (  # lazily: a chunk is submitted before the next one is prepared
            [_prepare(i) for i in items[k : k + _CHUNK]] for k in range(0, len(items), _CHUNK)
        )
        futures = [chunks.submit(_resolve, p, timeout, 1, deadline) for p in prepared]
        return [verdict for future in futures for verdict in future.result()]


@dataclass(frozen=True)
class _Prepared:
    """A pair's rule check, and the second look to take if the rules find its answer wrong."""

    step: Step
    second_looks: tuple[tuple[str, tuple[str, tuple[Any, ...]]], ...] = ()  # (rule, task)


def _prepare(item: GradeItem) -> _Prepared:
    ref = Reference.parse(
        item.gold,
        item.answer_type,
        item.unit,
        item.choices,
        item.rtol,
        item.metadata,
        item.question,
    )
    prepared = (
        ref if isinstance(ref, Verdict) else _prepare_step(item.pred, ref, item.finish_reason)
    )
    if not isinstance(prepared, _Prepared):
        prepared = _Prepared(prepared)
    step = prepared.step
    if item.finish_reason != "length":
        return prepared
    if isinstance(step, Verdict):
        return _Prepared(replace(step, truncated=True))
    finish = step.finish
    return _Prepared(replace(step, finish=lambda value: replace(finish(value), truncated=True)))


def _second_look(
    readings: Readings,
    gold: str,
    kind: str,
    unit: str | None,
    rtol: float,
    found: Candidate | None,
    written: bool = False,
) -> tuple[str, tuple[Any, ...]] | None:
    """The sandbox task that reads the whole response with math-verify's own extraction, for a
    pair whose answer the rules may have mis-read: one they found only in unanchored text (or
    not at all). With a unit (the reference's, or SciBench's `10^{-3} J`), math-verify drops
    units, so it cannot tell 2.25 J from 2.25 mJ: what it reads must then be a bare number,
    equal to the reference in its scaled unit or as written. A response cut off by the token
    limit never gets one."""
    if kind not in ("numeric", "expression"):
        return None
    if found is not None and found.how in EXPLICIT:
        return None  # the model's own box or "the answer is": math-verify would read the same
    gold_q = parse_quantity(gold)
    if gold_q is not None and gold_q.percent:
        return None
    golds = [gold]
    bare = bool(unit or (gold_q is not None and gold_q.unit))
    if bare:
        if gold_q is None:
            return None
        power = numeric.split_unit_scale(unit)[0] if unit else 0
        golds = [f"{gold_q.value * 10.0**power!r}"] + ([f"{gold_q.value!r}"] if power else [])
    response = readings.math_verify_view().text
    if number_word(response) is not None:
        return None  # "... $x^2 = 9$ is three.": the rules read the words, math-verify cannot
    gold_unit = numeric.split_unit_scale(unit)[1] if unit else gold_q.unit if gold_q else ""
    if bare and _unit_differs(response, gold_unit):
        return None  # "$h = 0.54$ cm" against metres: math-verify would read a bare 0.54
    if brace_depth(response) > MAX_NESTING:
        return None  # math-verify's parser recurses: 2,000 nested \frac is an attack, not math
    return ("response_equal", (response, tuple(golds), rtol, bare, written))


def _unit_differs(response: str, unit: str) -> bool:
    """True when the response's last math span is followed by a unit other than `unit`."""
    closer = last_math_close(response)
    after = unit_after(response[closer.end() :]).strip() if closer else ""
    return bool(after) and parse_unit(normalize_unit(after)) != parse_unit(normalize_unit(unit))


def _prepare_step(pred: Any, ref: Reference, finish_reason: str | None) -> Step | _Prepared:
    pred_text = sanitize(pred)
    kind, gold_answer, unit, rtol = ref.answer_type, ref.answer, ref.unit, ref.rtol
    if kind in types.EXTERNAL_TYPES:
        options = {
            "unit": unit,
            "rtol": rtol,
            "atol": ref.atol,
            "choices": ref.choices,
            "metadata": ref.metadata,
        }
        return external_check(kind, extract(pred_text), gold_answer, options)
    # what every check below reads (they do not cut it again): the response's own turn
    pred_text = strip_chat_debris(pred_text)
    if kind in ("numeric", "expression"):  # a name such as 2,5-dimethylhexane is left alone
        pred_text = numeric.canonical_numbers(pred_text, _multiplies_out(gold_answer, unit))
    # the question tells which stated quantity is asked; a choice question's words name its
    # options instead
    found = extract(pred_text, ref.question if kind != "choice" else None)
    step = _check(Readings(pred_text), ref, found, finish_reason)
    return _stamped(step, found.rule if found is not None else None)


def _stamped(prepared: Step | _Prepared, rule: str | None) -> Step | _Prepared:
    """`prepared`, whose verdict names `rule` as the one that read the answer unless the check
    read it another way (and named that)."""
    if rule is None:
        return prepared
    if isinstance(prepared, _Prepared):
        return replace(prepared, step=_stamped(prepared.step, rule))
    if isinstance(prepared, Verdict):
        return prepared if prepared.rule else replace(prepared, rule=rule)
    finish = prepared.finish
    return replace(
        prepared, finish=lambda value: _stamped(finish(value), rule), rule=prepared.rule or rule
    )


def _check(
    readings: Readings, ref: Reference, found: Candidate | None, finish_reason: str | None
) -> Step | _Prepared:
    """The check of `found`, the answer the rules ranked first, against `ref`; whatever else
    a check needs of the response, it asks `readings` for."""
    kind, gold_answer, unit, rtol = ref.answer_type, ref.answer, ref.unit, ref.rtol
    written = ref.tolerance.by_figures
    if finish_reason == "length" and (found is None or found.how not in EXPLICIT):
        why = (
            "cut off by the token limit (finish_reason=length) before stating an answer: "
            "a number from unfinished work is not credited"
        )
        shown = found.text[:200] if found else None
        return wrong(
            Verdict(False, why, shown, kind, found is not None and found.fallback), gold_answer
        )
    if kind == "choice":
        return choice_check(found, readings, gold_answer, ref.choices)
    if found is None:
        verdict = Verdict(False, "no answer found in the prediction", None, kind, certain=False)
        second = _second_look(readings, gold_answer, kind, unit, rtol, None, written)
        return _Prepared(wrong(verdict, gold_answer), _looks(_reread(second)))
    problem = size_problem(found.text)
    if problem:
        shown = found.text[:200]
        return wrong(
            Verdict(False, f"prediction: {problem}", shown, kind, found.fallback), gold_answer
        )
    if kind == "numeric" and not unit and numeric.clock_seconds(gold_answer) is not None:
        # 14:05 reads as a number with a unit; a time of day is compared as one
        return expression_check(found, readings, gold_answer, rtol, written)
    second = _second_look(readings, gold_answer, kind, unit, rtol, found, written)
    if kind == "numeric":
        return _Prepared(numeric_check(found, ref, readings), _looks(_reread(second)))
    if kind == "text":
        return text_check(found, readings, gold_answer)
    if kind == "smiles":
        return smiles_check(found, gold_answer)
    # a reference that lists several values: the response's final statement read as a list
    listed = several.plan(found, readings, gold_answer, rtol, ref.question)
    if listed is not None and listed.verdict is not None:
        verdict = Verdict(*listed.verdict, listed.read or found.text, kind, found.fallback)
        return replace(verdict, rule=listed.rule)
    listing = (listed.rule, listed.task) if listed is not None and listed.task else None
    looks = _looks(listing, _reread(second))
    return _Prepared(expression_check(found, readings, gold_answer, rtol, written), looks)


def _looks(*looks: tuple[str, Any] | None) -> tuple[tuple[str, tuple[str, tuple[Any, ...]]], ...]:
    """The second looks that are there, each as `(rule, task)`: the rule names the reading
    that credits the answer when the task finds it right."""
    return tuple(look for look in looks if look is not None and look[1] is not None)


def _reread(task: tuple[str, tuple[Any, ...]] | None) -> tuple[str, Any]:
    """math-verify's own reading of the whole response, as a second look."""
    return "math_verify_response", task


def _multiplies_out(gold: str, unit: str | None) -> bool:
    """Whether `3.5 million` in an answer is read as 3500000: unless the reference names the
    scale itself (`3.5`, unit `million`) or is a small number (3.5 people in millions)."""
    if numeric.names_scale(f"{gold} {unit or ''}"):
        return False
    stated = parse_quantity(clean(gold))
    return stated is None or abs(stated.value) >= 1000


_cache: OrderedDict[tuple[str, tuple[Any, ...]], Any] = OrderedDict()
_cache_lock = threading.Lock()


def _run_cached(
    tasks: list[tuple[str, tuple[Any, ...]]],
    timeout: float,
    workers: int | None,
    deadline: float | None = None,
) -> list[Outcome]:
    """Run sandbox tasks, answering repeats from an LRU cache of successful results; with a
    `deadline` (a `time.monotonic()` instant), none runs past it, and none starts with less
    than `_MIN_TASK_S` left (those report `deadline`)."""
    outcomes: list[Outcome | None] = [None] * len(tasks)
    missing: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
    with _cache_lock:
        for i, task in enumerate(tasks):
            if task in _cache:
                _cache.move_to_end(task)
                outcomes[i] = Outcome(_cache[task])
            else:
                missing.setdefault(task, []).append(i)
    if missing and deadline is not None:
        timeout = min(timeout, deadline - time.monotonic())
        if timeout < _MIN_TASK_S:
            for indexes in missing.values():
                for i in indexes:
                    outcomes[i] = Outcome(error="deadline")
            missing = {}
    if missing:
        unique = list(missing)
        results = shared_pool(workers).run(unique, timeout, parallel=workers, deadline=deadline)
        with _cache_lock:
            for task, result in zip(unique, results, strict=True):
                for i in missing[task]:
                    outcomes[i] = result
                if result.error is None:
                    _cache[task] = result.value
                    if len(_cache) > _CACHE_SIZE:
                        _cache.popitem(last=False)
    return [o if o is not None else Outcome(error="lost") for o in outcomes]


# A sandbox task given less time than this could not finish anyway: it is not started.
_MIN_TASK_S = 0.05


def _resolve(
    prepared: list[_Prepared], timeout: float, workers: int | None, deadline: float | None = None
) -> list[Verdict]:
    """Run every pending symbolic check, then the second looks of the answers found wrong;
    with a `deadline`, whatever does not fit before it is left undone (a second look is
    skipped; a check that could not run is reported as timed out, never blamed on the
    reference)."""
    verdicts = _resolve_steps([p.step for p in prepared], timeout, workers, deadline)
    looks = [
        (i, look)
        for i, (p, v) in enumerate(zip(prepared, verdicts, strict=True))
        if v.correct is False and not v.truncated and not _read_a_unit(v)
        for look in p.second_looks
    ]
    if not looks:
        return verdicts
    outcomes = _run_cached([task for _, (_, task) in looks], timeout, workers, deadline)
    for (i, (rule, _)), outcome in zip(looks, outcomes, strict=True):
        if outcome.error is None and outcome.value[0] is True and not verdicts[i].correct:
            _, reason, extracted = outcome.value
            verdicts[i] = replace(
                verdicts[i],
                correct=True,
                reason=reason,
                extracted=extracted,
                certain=True,
                rule=rule,
            )
    return verdicts


def _read_a_unit(verdict: Verdict) -> bool:
    """True when the rules judged a number with a unit pint knows (`50.7 bar` against atm, `72 m`
    against km): math-verify drops units, so its second look must not overrule that verdict."""
    if verdict.answer_type != "numeric" or not verdict.extracted:
        return False
    stated = parse_quantity(verdict.extracted)
    return stated is not None and bool(stated.unit) and parse_unit(stated.unit) is not None


def _resolve_steps(
    steps: list[Step], timeout: float, workers: int | None, deadline: float | None = None
) -> list[Verdict]:
    """Run every pending symbolic check; a failed one is blamed on the reference only if the
    reference alone also fails."""
    todo = [(i, s) for i, s in enumerate(steps) if isinstance(s, Pending)]
    if not todo:
        return steps  # type: ignore[return-value]
    outcomes = _run_cached([s.task for _, s in todo], timeout, workers, deadline)
    failed = [(i, s, o) for (i, s), o in zip(todo, outcomes, strict=True) if o.error]
    for (i, step), outcome in zip(todo, outcomes, strict=True):
        if not outcome.error:
            steps[i] = step.finish(outcome.value)
    if failed:
        checks = _run_cached(
            [("gold_problem", (s.gold,)) for _, s, _ in failed], timeout, workers, deadline
        )
        for (i, step, outcome), check in zip(failed, checks, strict=True):
            steps[i] = _failure_verdict(step, outcome, check, timeout)
    return steps  # type: ignore[return-value]


def _failure_verdict(step: Pending, outcome: Outcome, check: Outcome, timeout: float) -> Verdict:
    timed_out = outcome.error in ("timeout", "deadline")
    what = f"timed out after {timeout:g} s" if timed_out else outcome.error
    if check.error == "deadline":
        check = Outcome(None)  # no time left to read the reference alone: not blamed on it
    if check.error or check.value:
        why = check.value or f"parsing it {check.error}"
        return replace(data_error(str(why), step.answer_type, step.extracted), rule=step.rule)
    why = f"prediction: symbolic check {what}"
    verdict = Verdict(False, why, step.extracted, step.answer_type, step.fallback, rule=step.rule)
    return unsure(verdict)
