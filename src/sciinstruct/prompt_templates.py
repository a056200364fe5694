"""Prompt templates: text files per language, filled with a question's fields.

Templates live in files (`sciinstruct/prompts/<lang>/*.md`), not in code, so a user can read,
translate or replace them. Placeholders are `{question}`, `{answer}`, `{reference}`, `{attempt}`
and `{subject}`; any other braces (`\\boxed{}`, `\\frac{a}{b}`) are left alone, which is why we
do not use `str.format`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sciinstruct.errors import InputError
from sciinstruct.records import Question
from sciinstruct.settings import package_path

LANGUAGES = ("en", "zh")
PLACEHOLDER = re.compile(r"\{(question|answer|reference|attempt|subject)\}")

# file name -> (placeholders it must contain (a tuple means "one of"), placeholders it must not)
RULES: dict[str, tuple[tuple[str | tuple[str, ...], ...], tuple[str, ...]]] = {
    "system": ((), ()),
    "cot": (("question",), ()),
    # The point of `reflect` is that the model finds its mistake without being told the answer.
    "reflect": (("question", "attempt"), ("answer", "reference")),
    "hinted": (("question", ("answer", "reference")), ()),
    "critique_system": ((), ()),
    "critique": (("question", "attempt", ("answer", "reference")), ()),
    # the grader's model verifier (sciinstruct.grading.verifier): decides what the rules cannot
    "grade_judge": (("question", "attempt", ("answer", "reference")), ()),
}
NO_ATTEMPT = "(none)"


def shipped_dir(lang: str = "en") -> Path:
    """The folder of the templates shipped for a language."""
    if lang not in LANGUAGES:
        raise InputError(f"unknown prompt language {lang!r}; shipped: {', '.join(LANGUAGES)}")
    return package_path(f"prompts/{lang}")


@dataclass(frozen=True)
class PromptSet:
    """The templates of one language, possibly with some replaced by the user's files."""

    templates: dict[str, str]
    sources: dict[str, str]  # template name -> file it came from, for config.yaml and errors

    @property
    def system(self) -> str:
        return self.templates["system"]

    def render(self, name: str, question: Question, attempt: str | None = None) -> str:
        """Fill template `name` with the fields of `question` (and the attempt under review)."""
        values = {
            "question": question_block(question),
            "answer": question.answer,
            "reference": reference_block(question),
            "attempt": attempt if attempt and attempt.strip() else NO_ATTEMPT,
            "subject": question.subject if question.subject != "unknown" else "science",
        }
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.templates[name])

    def with_system(self, text: str, source: str = "--system-prompt") -> PromptSet:
        """The same set with another system prompt (empty text: no system message)."""
        return PromptSet({**self.templates, "system": text}, {**self.sources, "system": source})


def load_prompts(
    lang: str = "en", directory: str | Path | None = None, system: str | None = None
) -> PromptSet:
    """Shipped templates of `lang`, overridden file by file by `directory`, checked.

    `system` replaces the system prompt: either the text itself or the path of a file.
    """
    base = shipped_dir(lang)
    templates: dict[str, str] = {}
    sources: dict[str, str] = {}
    user_dir = Path(directory) if directory is not None else None
    if user_dir is not None and not user_dir.is_dir():
        raise InputError("prompt directory not found", file=str(user_dir))
    for name in RULES:
        path = base / f"{name}.md"
        if user_dir is not None and (user_dir / f"{name}.md").exists():
            path = user_dir / f"{name}.md"
        templates[name] = path.read_text(encoding="utf-8").strip()
        sources[name] = str(path)
    prompts = PromptSet(templates, sources)
    if system is not None:
        path = Path(system)
        is_file = len(system) < 4096 and "\n" not in system and path.is_file()
        prompts = prompts.with_system(
            path.read_text(encoding="utf-8").strip() if is_file else system,
            str(path) if is_file else "--system-prompt",
        )
    check_prompts(prompts)
    return prompts


def check_prompts(prompts: PromptSet) -> None:
    """Refuse templates that lack a placeholder they need or leak the reference into `reflect`."""
    for name, (required, forbidden) in RULES.items():
        check_template(name, prompts.templates[name], prompts.sources[name], required, forbidden)


def check_template(
    name: str,
    text: str,
    source: str,
    required: tuple[str | tuple[str, ...], ...],
    forbidden: tuple[str, ...] = (),
) -> None:
    """Refuse template `name` (read from `source`) when it lacks a `required` placeholder (a
    tuple means "one of") or contains a `forbidden` one."""
    found = set(PLACEHOLDER.findall(text))
    for need in required:
        options = need if isinstance(need, tuple) else (need,)
        if not found.intersection(options):
            wanted = " or ".join("{" + o + "}" for o in options)
            raise InputError(f"template '{name}' must contain {wanted}", file=source)
    for leak in sorted(found.intersection(forbidden)):
        raise InputError(
            f"template '{name}' must not contain {{{leak}}}: the model revises its attempt "
            "without seeing the reference answer",
            file=source,
        )


def load_template(
    name: str, path: str | Path, required: tuple[str | tuple[str, ...], ...]
) -> PromptSet:
    """A one-template set from the file at `path` (outside any language's folder: a model
    verifier's own prompt format, say), checked for its `required` placeholders."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"prompt template '{name}' not found", file=str(file))
    text = file.read_text(encoding="utf-8").strip()
    check_template(name, text, str(file), required)
    return PromptSet({name: text}, {name: str(file)})


def question_block(question: Question) -> str:
    """The question as the model sees it: text, lettered choices, the unit wanted."""
    parts = [question.question.strip()]
    if question.choices:
        parts.append(
            "\n".join(f"{chr(ord('A') + i)}. {choice}" for i, choice in enumerate(question.choices))
        )
    if question.unit:
        parts.append(f"(Give the answer in {question.unit}.)")
    return "\n\n".join(parts)


def reference_block(question: Question) -> str:
    """The reference answer, then the reference solution when the question has one."""
    answer = question.answer.strip()
    if question.unit and question.unit not in answer:
        answer = f"{answer} {question.unit}"
    if question.solution and question.solution.strip():
        return f"{question.solution.strip()}\n\nFinal answer: {answer}"
    return answer


def messages(prompts: PromptSet, user: str, system_name: str = "system") -> list[dict[str, str]]:
    """A chat prompt: the system message (unless empty) and one user message."""
    system = prompts.templates[system_name]
    head = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": user}]
