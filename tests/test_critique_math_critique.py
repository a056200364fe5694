"""The Math-Critique judge over a run's attempts, with a scripted judge model."""

from __future__ import annotations

import re

import pytest

from sciinstruct.cli.main import main
from sciinstruct.critique import CritiqueConfig, agreement, critique_id, run_critique
from sciinstruct.curate.samples import load_critique_scores
from sciinstruct.errors import EXIT_BAD_INPUT
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.llm.base import SamplingParams
from sciinstruct.records import Attempt, Question
from sciinstruct.rundir import RunDir
from scripted import ScriptedBackend

QUESTIONS = [
    Question(id="g", question="What is the acceleration due to gravity?", answer="9.81", unit="m/s^2"),
    Question(id="h", question="How many hydrogen atoms are in one water molecule?", answer="2",
             solution="H2O has two hydrogen atoms."),
]  # fmt: skip


def attempt(aid: str, qid: str, stage: str, response: str, correct: bool | None, **kw) -> Attempt:
    return Attempt(
        id=aid, question_id=qid, stage=stage, messages=[{"role": "user", "content": "..."}],
        response=response, correct=correct, **kw,
    )  # fmt: skip


ATTEMPTS = [
    attempt("a1", "g", "cot", "g is about \\boxed{9.8} m/s^2", True),
    attempt("a2", "g", "cot", "g is \\boxed{12}", False),
    attempt("a3", "h", "reflect", "Mistake: none. \\boxed{3}", False),
    attempt("a4", "h", "cot", "", None, error="HTTP 500"),  # nothing to judge
    attempt("a5", "h", "cot", "Water has \\boxed{2} hydrogens", True),
]


def verdict(prompt: str, _seed: int | None = None) -> str:
    """Scores 9 when the boxed answer is the reference, 2 when not, and rambles on 'hydrogens'."""
    answer = prompt.split("[The Start of Assistant's Answer]")[1]
    if "hydrogens" in answer:
        return "The answer seems fine to me."
    reference = re.search(r"Reference Answer\]\n(?:.*\n\nFinal answer: )?(\S+)", prompt)[1]
    boxed = re.search(r"\\boxed\{([^}]*)\}", answer)[1]
    close = abs(float(boxed) - float(reference)) < 0.05
    return "Agrees with the reference.\nScore: 9" if close else "Wrong result.\nScore: 2"


def scripted_judge() -> ScriptedBackend:
    return ScriptedBackend(verdict, "judge-1", name="judge", completion_tokens=0)


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(run.questions, QUESTIONS)
    write_jsonl(run.attempts, ATTEMPTS)
    return run


def test_judge_scores_attempts_and_reports_agreement(run):
    judge = scripted_judge()
    report = run_critique(run, judge)

    rows = {r["attempt_id"]: r for r in read_jsonl(run.critiques)}
    assert set(rows) == {"a1", "a2", "a3", "a5"}  # the failed generation is not judged
    assert [rows[a]["score"] for a in ("a1", "a2", "a3", "a5")] == [9, 2, 2, None]
    assert set(rows["a1"]) == {
        "id", "attempt_id", "question_id", "score", "explanation", "raw", "judge_model", "usage"
    }  # fmt: skip
    assert rows["a2"]["explanation"] == "Wrong result." and rows["a2"]["judge_model"] == "judge-1"
    assert rows["a5"]["raw"] == "The answer seems fine to me."  # unparseable: raw kept, no score

    prompt = judge.requests[0].messages
    assert prompt[0]["role"] == "system" and "Math-Critique" in prompt[0]["content"]
    assert "acceleration due to gravity" in prompt[1]["content"]
    assert "9.81 m/s^2" in prompt[1]["content"] and "\\boxed{9.8}" in prompt[1]["content"]
    h_prompt = judge.requests[2].messages[1]["content"]
    assert "H2O has two hydrogen atoms." in h_prompt  # the reference solution is shown too

    assert report.agreement.matrix == ((2, 0), (0, 1))
    assert report.agreement.kappa == pytest.approx(1.0)
    stats = run.read_stats()["critique"]
    assert stats["agreement"]["null_scores"] == 1 and stats["judged"] == 4
    assert stats["agreement"]["mean_score"] == {"wrong": 2.0, "correct": 9.0}


def test_rerun_is_resumed_without_calls_or_duplicates(run):
    run_critique(run, scripted_judge())
    first = run.critiques.read_text()
    again = scripted_judge()
    report = run_critique(run, again)
    assert again.requests == [] and report.new == 0 and report.judged == 4
    assert run.critiques.read_text() == first


def test_new_generation_settings_judge_again_and_the_latest_verdict_counts(run):
    run_critique(run, scripted_judge(), CritiqueConfig(max_tokens=512))
    longer = scripted_judge()
    report = run_critique(run, longer, CritiqueConfig(max_tokens=1024))
    assert report.new == 4 and {r.params.max_tokens for r in longer.requests} == {1024}
    rows = list(read_jsonl(run.critiques))
    assert len(rows) == 8 and len({r["id"] for r in rows}) == 8  # old rows stay, new ids
    again = scripted_judge()
    assert run_critique(run, again, CritiqueConfig(max_tokens=1024)).new == 0
    assert again.requests == []
    for changed in (CritiqueConfig(temperature=0.5), CritiqueConfig(seed=7)):
        assert run_critique(run, scripted_judge(), changed).new == 4
    assert len(list(read_jsonl(run.critiques))) == 16
    assert load_critique_scores(run.critiques) == {"a1": 9.0, "a2": 2.0, "a3": 2.0}


def test_critique_id_depends_on_the_verdict_settings():
    prompts = CritiqueConfig().prompts()
    base = critique_id("a1", "judge-1", prompts, SamplingParams(temperature=0, max_tokens=512))
    same = critique_id("a1", "judge-1", prompts, SamplingParams(temperature=0.0, max_tokens=512))
    assert base == same  # an int or float temperature from YAML is the same setting
    others = {
        critique_id("a1", "judge-1", prompts, SamplingParams(temperature=0, max_tokens=1024)),
        critique_id("a1", "judge-1", prompts, SamplingParams(temperature=0.2, max_tokens=512)),
        critique_id("a1", "judge-1", prompts, SamplingParams(0, max_tokens=512, seed=1)),
        critique_id("a1", "judge-2", prompts, SamplingParams(temperature=0, max_tokens=512)),
    }
    assert len(others) == 4 and base not in others


@pytest.mark.parametrize(
    ("config", "judged"),
    [
        (CritiqueConfig(only_wrong=True), {"a2", "a3"}),
        (CritiqueConfig(stages=("reflect",)), {"a3"}),
        (CritiqueConfig(limit=2), {"a1", "a2"}),
    ],
)
def test_subsets(run, config, judged):
    run_critique(run, scripted_judge(), config)
    assert {r["attempt_id"] for r in read_jsonl(run.critiques)} == judged


def test_agreement_on_a_known_table():
    result = agreement([9, 3, 2, 7, 8, None], [True, True, False, False, True, False], threshold=6)
    assert result.matrix == ((1, 1), (1, 2))
    assert result.null_scores == 1 and result.n == 5
    # po = 3/5; pe = 3/5 * 3/5 + 2/5 * 2/5 = 0.52; kappa = (0.6 - 0.52) / 0.48
    assert result.kappa == pytest.approx(0.08 / 0.48)
    assert result.accuracy == pytest.approx(0.6)


def test_agreement_edge_cases():
    assert agreement([9, 8], [True, True]).kappa is None  # one class: kappa undefined
    assert agreement([], []).accuracy is None
    assert agreement([7, None], [None, True]).ungraded == 1


def test_cli_refuses_bad_input_before_loading_a_model(tmp_path):
    run = RunDir(tmp_path / "empty").ensure()
    write_jsonl(run.questions, QUESTIONS)
    assert main(["critique", str(run.root)]) == EXIT_BAD_INPUT  # no attempts.jsonl
    assert main(["annotate", "--run", str(tmp_path / "none")]) == EXIT_BAD_INPUT  # no questions
    write_jsonl(run.attempts, ATTEMPTS)
    assert main(["critique", str(run.root), "--backend", "nope"]) == EXIT_BAD_INPUT
    assert main(["critique", str(run.root), "--threshold", "11"]) == EXIT_BAD_INPUT
