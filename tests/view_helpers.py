"""A small, real run directory for the `sciinstruct view` tests.

Every file is written by the project's own stages (ingest, annotate, critique, curate, report,
eval) driven by scripted models: a real model cannot be told to be wrong at cot and right after
reflecting on exactly the questions a test needs. Some model text is hostile on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.critique.math_critique import run_critique
from sciinstruct.curate import CurateConfig, curate
from sciinstruct.evaluate.runner import EvalConfig, run_eval
from sciinstruct.ingest import ingest
from sciinstruct.jsonl import write_jsonl
from sciinstruct.records import Question
from sciinstruct.rundir import RunDir
from scripted import ScriptedBackend

# Text a model might produce that must never run in a reviewer's browser.
HOSTILE = (
    '<script>window.__pwned = "script"</script>'
    "<img src=x onerror=\"window.__pwned = 'onerror'\">"
    "<a href=\"javascript:window.__pwned='href'\">click</a>"
)

QUESTIONS = [
    Question(id="easy", question="What is $2 + 2$?", answer="4", subject="math", source="arith"),
    Question(
        id="fixable",
        question="What is 6 times 7?",
        answer="42",
        subject="math",
        source="arith",
    ),
    Question(
        id="hard",
        question="What is 7 times 13 times 19?",
        answer="1729",
        subject="math",
        source="bank",
    ),
    Question(
        id="physics",
        question="A force of 10 N acts on 2 kg. Acceleration in m/s^2?",
        answer="5",
        subject="physics",
        source="bank",
    ),
    Question(
        id="hostile",
        question="Echo this: " + HOSTILE + " then compute 3 + 3.",
        answer="6",
        subject="chemistry",
        source="bank",
    ),
]


def annotator(prompt: str, seed: int) -> str:
    """Right at cot on `easy` and `physics`, right after reflecting on `fixable`, right only
    with the hint on `hard`; the hostile question gets hostile text and a right answer."""
    if "Real answer:" in prompt:
        real = re.search(r"Real answer: (.+)", prompt).group(1).strip()
        return f"Multiply step by step: $7 \\times 13 = 91$.\nThe answer is \\boxed{{{real}}}."
    if "Incorrect solution:" in prompt:
        if "6 times 7" in prompt:
            return "Mistake: I added.\nCorrected solution: $6 \\times 7 = 42$, so \\boxed{42}."
        return "Mistake: none found.\nCorrected solution: \\boxed{1728}"
    if "2 + 2" in prompt:
        return "Adding: $2 + 2 = 4$. The answer is \\boxed{4}."
    if "6 times 7" in prompt:
        return "Six sevens: \\boxed{36}."
    if "10 N" in prompt:
        return "$a = F/m = 10/2$, so \\boxed{5}."
    if "3 + 3" in prompt:
        return f"{HOSTILE}\nSo the answer is \\boxed{{6}}."
    return "I think it is \\boxed{1728}."


def judge(prompt: str, seed: int) -> str:
    """Agrees with the grader (wrong answers 3/10, right ones 8/10) except on the easy question,
    whose right answer it scores 2/10: one judge-grader disagreement."""
    if "2 + 2" in prompt:
        return f"The solution is sloppy {HOSTILE}. Score: 2"
    if "boxed{1728}" in prompt or "boxed{36}" in prompt:
        return "The final result is wrong. Score: 3"
    return "Sound reasoning. Score: 8"


def evaluator(tuned: bool):
    """Base gets `easy` only; tuned gets `easy` and `fixable` (gained) but not `physics`."""

    def reply(prompt: str, seed: int) -> str:
        if "2 + 2" in prompt:
            return "\\boxed{4}"
        if "6 times 7" in prompt:
            return "\\boxed{42}" if tuned else "\\boxed{36}"
        if "10 N" in prompt:
            return "\\boxed{3}" if tuned else "\\boxed{5}"
        return f"{HOSTILE} \\boxed{{0}}"

    return reply


def build_run(root: Path) -> RunDir:
    """ingest -> annotate -> critique -> curate -> report -> eval base and tuned."""
    from sciinstruct.report import make_report

    run = RunDir(root).ensure()
    source = root.parent / f"{root.name}-questions.jsonl"
    write_jsonl(source, QUESTIONS)
    ingest(source, run)
    config = AnnotateConfig(plan=StagePlan(samples=1, max_tokens=64, seed=1), batch_size=4)
    run_annotate(run, ScriptedBackend(annotator, model="annotator"), config)
    run_critique(run, ScriptedBackend(judge, model="judge"))
    curate(run, CurateConfig(near_dup=False))
    make_report(run)
    eval_questions = root.parent / f"{root.name}-heldout.jsonl"
    write_jsonl(eval_questions, [q for q in QUESTIONS if q.id != "hard"])
    for label, tuned in (("base", False), ("tuned", True)):
        run_eval(
            [str(eval_questions)],
            ScriptedBackend(evaluator(tuned), model=label),
            run.eval_dir / label,
            EvalConfig(),
        )
    return run
