"""The cascade's second stage: a model verifier for the pairs the rules cannot decide.

Rules first (they are fast, exact and free); where they cannot decide (no answer found, an
answer they cannot parse, only a last-number fallback, texts that differ, a reference they
cannot read, a proof) a model verifier, on any backend, reads the question, the reference and
the response and grades it, as OpenCompass's CascadeEvaluator does. It speaks one of the formats
of `verifier_formats` (our own prompt, CompassVerifier's A/B/C, xVerify's [Correct]/[Incorrect]),
chosen by name. Its verdict keeps the rules' reason, the verifier's label and its raw reply, so
every model-decided grade can be audited. A response cut off by the token limit is never sent:
it stated no answer to verify.

The label (`Verdict.judge_label`): `correct`; `incorrect`; `invalid` (CompassVerifier's C: cut
off, repetitive or no answer; wrong, but counted apart in eval tables); `unparseable` (a reply
in no form the format knows: the rules' verdict stands); `error` (the backend failed: the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sciinstruct.grading.verdict import Verdict
from sciinstruct.grading.verifier_formats import (
    FORMAT_NAMES,
    REQUIRED_PLACEHOLDERS,
    Decision,
    verifier_format,
)
from sciinstruct.llm.spec import EngineSpec
from sciinstruct.settings import OldKey, deprecated, option

if TYPE_CHECKING:
    from sciinstruct.llm.base import Backend

# A response is shown to the verifier up to this many characters (its end: where the answer
# is); about 1,500-2,000 tokens, so prompt and response fit a server's --max-model-len 4096.
_MAX_RESPONSE_CHARS = 6000


@dataclass(frozen=True)
class VerifierCase:
    """What the verifier reads about one pair."""

    pred: str
    gold: str
    question: str | None = None
    answer_type: str | None = "auto"
    unit: str | None = None
    choices: list[str] | None = None


class Verifier:
    """A model verifier behind the rules (the grader's `judge`, configured by `--judge-*`).

    `backend` is any `sciinstruct.llm` backend (put it behind the response cache: re-grading
    then costs nothing); `format` names the prompt and reply format (`verifier_formats`);
    `lang` picks the shipped template of the `sciinstruct` format; `prompt_dir` is a folder
    whose file of the format's name (`grade_judge.md`, `compassverifier.md`, ...) replaces
    the shipped prompt; `max_tokens` defaults to what the format's replies need."""

    def __init__(
        self,
        backend: Backend,
        *,
        format: str = "sciinstruct",
        lang: str = "en",
        prompt_dir: str | Path | None = None,
        max_tokens: int | None = None,
    ) -> None:
        from sciinstruct.prompt_templates import load_prompts, load_template
        from sciinstruct.settings import package_path

        self.backend = backend
        self.format = verifier_format(format)
        if self.format.template is None:
            self.prompts = load_prompts(lang, prompt_dir)
            self.template = "grade_judge"
        else:
            path = package_path(f"prompts/verifiers/{self.format.template}")
            if prompt_dir is not None and (Path(prompt_dir) / self.format.template).is_file():
                path = Path(prompt_dir) / self.format.template
            self.prompts = load_template(self.format.name, path, REQUIRED_PLACEHOLDERS)
            self.template = self.format.name
        self.max_tokens = max_tokens or self.format.max_tokens

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
    ) -> VerifierCase:
        return VerifierCase(str(pred), str(gold), question, answer_type, unit, choices)

    def needs(self, verdict: Verdict) -> bool:
        """True for a verdict the rules could not really decide (and that is not truncated)."""
        if verdict.truncated or verdict.source != "rules":
            return False
        return verdict.correct is None or not verdict.certain or verdict.fallback

    def review(self, verdicts: Sequence[Verdict], cases: Sequence[VerifierCase]) -> list[Verdict]:
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

    def messages(self, case: VerifierCase) -> list[dict[str, str]]:
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
        return [{"role": "user", "content": self.prompts.render(self.template, record, response)}]

    def _decide(self, verdict: Verdict, raw: str, error: str | None) -> Verdict:
        if error:
            why = f"{verdict.reason}; judge {self.name} failed: {error}"
            return replace(verdict, reason=why, judge_raw="", judge_label="error")
        decision: Decision = self.format.parse(raw)
        if decision.label == "unparseable":
            why = f"{verdict.reason}; judge {self.name} gave no {self.format.expects} verdict"
            return replace(verdict, reason=why, judge_raw=raw, judge_label="unparseable")
        word = decision.label + (f" ({decision.detail})" if decision.detail else "")
        return replace(
            verdict,
            correct=decision.label == "correct",
            reason=f"judge {self.name}: {word} (rules: {verdict.reason})",
            certain=True,
            source="judge",
            judge_raw=raw,
            judge_label=decision.label,
        )


@dataclass(frozen=True)
class JudgeSpec(EngineSpec):
    """Which model verifier judges what the rules cannot, and in which format: the one engine
    spec (`llm.spec.EngineSpec`) as a config section (`judge:` under `annotate` or
    `eval.config` in a recipe; `--judge-backend`, `--judge-model`, `--judge-base-url`,
    `--judge-format`, ... on the command line). No backend, model or URL: no judge."""

    # `judge: {backend: openai}` as written before the judge was an engine spec
    OLD_KEYS: ClassVar[dict[str, OldKey]] = {"backend": deprecated("name")}
    FLAG_PREFIX: ClassVar[str] = "--judge-"

    name: str | None = option(
        None,
        "LLM judge for the answers the grader's rules cannot decide: embedded, openai, "
        "transformers, vllm or llamacpp (default: none; eval's judged benchmarks are judged "
        "by the evaluated model unless one is given).",
        cli_name="backend",
    )
    model: str | None = option(None, "The judge's model.")
    format: str = option(
        "sciinstruct",
        "The judge's prompt and verdict format: sciinstruct (our prompt, any model), "
        "compassverifier or compassverifier-cot (CompassVerifier's A/B/C, C for a truncated, "
        "repetitive or answerless response), xverify ([Correct]/[Incorrect]).",
        choices=FORMAT_NAMES,
    )

    def __post_init__(self) -> None:
        if self.name is None and self.base_url:  # a server's URL alone names an openai judge
            object.__setattr__(self, "name", "openai")
        elif self.name is None and self.model:
            object.__setattr__(self, "name", "embedded")
        super().__post_init__()

    def build(
        self, cache: str | Path | None = None, max_tokens: int | None = None
    ) -> Verifier | None:
        """The judge, behind the response cache at `cache`; None when none is configured.
        `max_tokens` defaults to the format's reply budget."""
        if not self.configured:
            return None
        from sciinstruct.llm import CachedBackend

        engine = self.open()
        wrapped = CachedBackend(engine, cache) if cache else engine
        return Verifier(wrapped, format=self.format, max_tokens=max_tokens)

    def verifier(self, backend: Backend) -> Verifier:
        """A verifier of this spec's format on an engine the caller already made."""
        return Verifier(backend, format=self.format)


def make_verifier(
    backend: str | None,
    model: str | None = None,
    base_url: str | None = None,
    cache: str | Path | None = None,
    max_tokens: int | None = None,
    *,
    format: str = "sciinstruct",
    **options: Any,
) -> Verifier | None:
    """A verifier from the `--judge-backend/--judge-model/--judge-base-url` options (None when
    none is given) speaking `format`, behind the response cache at `cache` when one is given;
    `max_tokens` defaults to the format's; `options` go to the backend (`engine` for the
    embedded one)."""
    spec = JudgeSpec(
        backend, model, (base_url,) if base_url else (), options=options, format=format
    )
    return spec.build(cache, max_tokens)
