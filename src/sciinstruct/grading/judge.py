"""The cascade's second stage: an LLM judge for the pairs the rules cannot decide.

Rules first (they are fast, exact and free); where they cannot decide (no answer found, an
answer they cannot parse, only a last-number fallback, texts that differ, a reference they
cannot read, a proof) the judge, on any backend, reads the question, the reference and the
response and answers CORRECT or INCORRECT, as OpenCompass's CascadeEvaluator does. Its verdict
keeps the rules' reason, the judge's decision and its raw reply, so every judged grade can be
audited. The prompt is `prompts/<lang>/grade_judge.md`. A response cut off by the token limit
is never sent: it stated no answer to judge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sciinstruct.grading.verdict import Verdict
from sciinstruct.llm.spec import EngineSpec
from sciinstruct.settings import option

if TYPE_CHECKING:
    from sciinstruct.llm.base import Backend

# A response is shown to the judge up to this many characters (its end: where the answer is).
_MAX_RESPONSE_CHARS = 6000
# The decision is the last CORRECT / INCORRECT the judge writes (its template asks for a final
# "Verdict:" line; small models often add words around it).
_DECISION = re.compile(r"\b(IN)?CORRECT\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeCase:
    """What the judge reads about one pair."""

    pred: str
    gold: str
    question: str | None = None
    answer_type: str | None = "auto"
    unit: str | None = None
    choices: list[str] | None = None


class GradeJudge:
    """An LLM judge behind the rules. `backend` is any `sciinstruct.llm` backend (put it behind
    the response cache: re-grading then costs nothing); `lang` picks the shipped template and
    `prompt_dir` a folder whose `grade_judge.md` replaces it."""

    def __init__(
        self,
        backend: Backend,
        *,
        lang: str = "en",
        prompt_dir: str | Path | None = None,
        max_tokens: int = 256,
    ) -> None:
        from sciinstruct.prompt_templates import load_prompts

        self.backend = backend
        self.prompts = load_prompts(lang, prompt_dir)
        self.max_tokens = max_tokens

    @property
    def name(self) -> str:
        return f"{self.backend.name}:{self.backend.model}"

    @staticmethod
    def case(
        pred: Any,
        gold: Any,
        question: str | None = None,
        answer_type: str | None = "auto",
        unit: str | None = None,
        choices: list[str] | None = None,
    ) -> JudgeCase:
        return JudgeCase(str(pred), str(gold), question, answer_type, unit, choices)

    def needs(self, verdict: Verdict) -> bool:
        """True for a verdict the rules could not really decide (and that is not truncated)."""
        if verdict.truncated or verdict.source != "rules":
            return False
        return verdict.correct is None or not verdict.certain or verdict.fallback

    def review(self, verdicts: Sequence[Verdict], cases: Sequence[JudgeCase]) -> list[Verdict]:
        """`verdicts` with each undecided one replaced by the judge's, all asked in one batch."""
        from sciinstruct.llm.base import GenerationRequest, SamplingParams

        todo = [i for i, verdict in enumerate(verdicts) if self.needs(verdict)]
        if not todo:
            return list(verdicts)
        params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=self.max_tokens, seed=0)
        requests = [GenerationRequest(self.messages(cases[i]), params) for i in todo]
        completions = self.backend.generate(requests)
        out = list(verdicts)
        for i, completion in zip(todo, completions, strict=True):
            out[i] = self._decide(verdicts[i], completion.text, completion.error)
        return out

    def messages(self, case: JudgeCase) -> list[dict[str, str]]:
        """The chat prompt for one pair."""
        from sciinstruct.records import Question

        response = case.pred[-_MAX_RESPONSE_CHARS:]
        fields: dict[str, Any] = {
            "question": case.question or "(the question was not given)",
            "answer": case.gold if case.gold.strip() else "(none)",
            "unit": case.unit,
        }
        try:
            record = Question(
                **fields, choices=case.choices, answer_type=case.answer_type or "auto"
            )
        except ValueError:  # an odd type or too few choices: still worth judging
            record = Question(**fields)
        return [{"role": "user", "content": self.prompts.render("grade_judge", record, response)}]

    def _decide(self, verdict: Verdict, raw: str, error: str | None) -> Verdict:
        if error:
            why = f"{verdict.reason}; judge {self.name} failed: {error}"
            return replace(verdict, reason=why, judge_raw="")
        decisions = _DECISION.findall(raw)
        if not decisions:
            why = f"{verdict.reason}; judge {self.name} gave no CORRECT/INCORRECT verdict"
            return replace(verdict, reason=why, judge_raw=raw)
        correct = decisions[-1] == ""  # the last group is empty for CORRECT, "IN" for INCORRECT
        word = "correct" if correct else "incorrect"
        return replace(
            verdict,
            correct=correct,
            reason=f"judge {self.name}: {word} (rules: {verdict.reason})",
            certain=True,
            source="judge",
            judge_raw=raw,
        )


@dataclass(frozen=True)
class JudgeSpec(EngineSpec):
    """Which LLM judges what the rules cannot: the one engine spec (`llm.spec.EngineSpec`) as a
    config section (`judge:` under `annotate` or `eval.config` in a recipe; `--judge-backend`,
    `--judge-model`, `--judge-base-url`, ... on the command line). Empty: no judge."""

    # `judge: {backend: openai}` as written before the judge was an engine spec
    RENAMED: ClassVar[dict[str, str]] = {"backend": "name"}
    FLAG_PREFIX: ClassVar[str] = "--judge-"

    name: str | None = option(
        None,
        "LLM judge for the answers the grader's rules cannot decide: embedded, openai, "
        "transformers, vllm or llamacpp (default: none; eval's judged benchmarks are judged "
        "by the evaluated model unless one is given).",
        cli_name="backend",
    )
    model: str | None = option(None, "The judge's model.")

    def __post_init__(self) -> None:
        if self.name is None and self.base_url:  # a server's URL alone names an openai judge
            object.__setattr__(self, "name", "openai")
        elif self.name is None and self.model:
            object.__setattr__(self, "name", "embedded")
        super().__post_init__()

    def build(self, cache: str | Path | None = None, max_tokens: int = 256) -> GradeJudge | None:
        """The judge, behind the response cache at `cache`; None when none is configured."""
        if not self.configured:
            return None
        from sciinstruct.llm import CachedBackend

        engine = self.open()
        return GradeJudge(CachedBackend(engine, cache) if cache else engine, max_tokens=max_tokens)


def make_judge(
    backend: str | None,
    model: str | None = None,
    base_url: str | None = None,
    cache: str | Path | None = None,
    max_tokens: int = 256,
    **options: Any,
) -> GradeJudge | None:
    """A judge from the `--judge-backend/--judge-model/--judge-base-url` options (None when
    none is given), behind the response cache at `cache` when one is given; `options` go to
    the backend (`engine` for the embedded one)."""
    spec = JudgeSpec(backend, model, (base_url,) if base_url else (), options=options)
    return spec.build(cache, max_tokens)
