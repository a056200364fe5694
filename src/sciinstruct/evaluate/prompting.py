"""Build the chat prompt of an evaluation question from its benchmark's template.

Zero-shot chain-of-thought is the template alone; few-shot puts the definition's worked examples
before the question as earlier user/assistant turns, which chat models follow better than one long
user message. Templates fill `{question}` and `{choices}` by plain replacement, so LaTeX braces in
a template or a question are never mistaken for format fields.
"""

from __future__ import annotations

from sciinstruct.benchmarks.readers import LETTERS
from sciinstruct.benchmarks.registry import BenchmarkSpec
from sciinstruct.llm.base import Message
from sciinstruct.records import Question


def choices_block(choices: list[str] | None) -> str:
    """ "\\n\\nA. first\\nB. second ..." or "" when the question has no options."""
    if not choices:
        return ""
    return "\n\n" + "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(choices))


def render(template: str, question: str, choices: list[str] | None) -> str:
    return template.replace("{question}", question.strip()).replace(
        "{choices}", choices_block(choices)
    )


def build_messages(spec: BenchmarkSpec, question: Question, shots: int = 0) -> list[Message]:
    """System prompt (if any), `shots` worked examples, then the question."""
    if shots > len(spec.fewshot):
        from sciinstruct.errors import InputError

        raise InputError(
            f"{spec.name} has {len(spec.fewshot)} few-shot examples, {shots} were asked for",
            field="shots",
        )
    messages: list[Message] = []
    if spec.system:
        messages.append({"role": "system", "content": spec.system})
    for example in spec.fewshot[:shots]:
        messages.append(
            {"role": "user", "content": render(spec.template, example.question, example.choices)}
        )
        messages.append({"role": "assistant", "content": example.solution.strip()})
    messages.append(
        {"role": "user", "content": render(spec.template, question.question, question.choices)}
    )
    return messages


def judge_messages(spec: BenchmarkSpec, question: Question, answer: str) -> list[Message]:
    """The judge's prompt: the question, the reference answer and the answer to score."""
    template = spec.judge_template or DEFAULT_JUDGE_TEMPLATE
    text = (
        template.replace("{question}", question.question.strip())
        .replace("{reference}", question.answer.strip())
        .replace("{answer}", answer.strip())
    )
    return [{"role": "user", "content": text}]


# MathUserEval-style judging (ChatGLM-Math): compare with the reference, explain, then score 1-10,
# with the reference itself anchored at 8 so that scores mean the same across judges.
DEFAULT_JUDGE_TEMPLATE = """You are a strict grader of answers to math and science questions.
Compare the assistant's answer with the reference answer: point out every error or omission,
explain briefly, then rate the answer from 1 to 10.
1-2: irrelevant, or an essential factual or mathematical error. 3-4: no serious error but does not
solve the problem. 5-6: mostly solves it, with weaknesses. 7-8: as good as the reference (the
reference itself scores 8). 9-10: clearly better than the reference in every respect.
End with one line in exactly this form: Score: N

[Question]
{question}

[Reference answer]
{reference}

[Assistant's answer]
{answer}
"""
