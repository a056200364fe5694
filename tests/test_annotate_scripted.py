"""The annotation loop against a scripted model that answers wrong on purpose.

The script makes every cot attempt wrong, so reflect and hinted are exercised; it decides each
answer from the prompt it is given, which lets the tests check what each stage showed the model.
Grading is the real grader.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest

from sciinstruct.annotate import AnnotateConfig, StagePlan, load_prompts, run_annotate
from sciinstruct.errors import InputError
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.records import Attempt, Question
from sciinstruct.rundir import RunDir
from scripted import ScriptedBackend

Q_HARD = Question(id="hard", question="What is 7 times 13 times 19?", answer="1729", subject="math")
Q_EASY = Question(id="easy", question="What is 2 + 2?", answer="4", subject="math")


def scripted(script: Callable[[str], str | None]) -> ScriptedBackend:
    """The shared scripted backend answering from the prompt alone; None is a 503."""
    return ScriptedBackend(
        lambda prompt, _seed: script(prompt),
        "scripted-1",
        error="HTTP 503: overloaded",
        prompt_tokens=20,
        completion_tokens=10,
    )


def stubborn(prompt: str) -> str:
    """Wrong at cot; reflect fixes only the easy question; hinted copies the real answer."""
    if "Real answer:" in prompt:
        real = re.search(r"Real answer: (.+)", prompt).group(1).strip()
        return f"Multiply step by step to reach the result.\nThe answer is \\boxed{{{real}}}."
    if "Incorrect solution:" in prompt:
        if "2 + 2" in prompt:
            return "Mistake: I added 1.\nCorrected solution: 2 + 2 = 4, so \\boxed{4}."
        return "Mistake: none found.\nCorrected solution: \\boxed{1728}"
    return "I think it is \\boxed{1728}." if "13" in prompt else "It is \\boxed{5}."


CONFIG = AnnotateConfig(plan=StagePlan(samples=2, max_tokens=64, seed=100), batch_size=3)


def attempts_of(run: RunDir) -> list[Attempt]:
    return [Attempt.model_validate(row) for row in read_jsonl(run.attempts)]


def test_reflect_and_hinted_run_with_the_right_prompts(tmp_path):
    run = RunDir(tmp_path / "run")
    backend = scripted(stubborn)
    funnel = run_annotate(run, backend, CONFIG, questions=[Q_HARD, Q_EASY])

    attempts = attempts_of(run)
    by_stage = {s: [a for a in attempts if a.stage == s] for s in ("cot", "reflect", "hinted")}
    assert [len(by_stage[s]) for s in ("cot", "reflect", "hinted")] == [4, 2, 1]
    assert all(a.correct is False for a in by_stage["cot"])
    assert sorted(a.metadata["seed"] for a in by_stage["cot"]) == [100, 100, 101, 101]

    # reflect: shows the wrong attempt, never the reference answer
    hard_reflect = next(a for a in by_stage["reflect"] if a.question_id == "hard")
    prompt = hard_reflect.messages[-1]["content"]
    assert "I think it is \\boxed{1728}." in prompt and "1729" not in prompt
    assert hard_reflect.parent_id in {a.id for a in by_stage["cot"] if a.question_id == "hard"}
    easy_reflect = next(a for a in by_stage["reflect"] if a.question_id == "easy")
    assert easy_reflect.correct is True and easy_reflect.extracted == "4"

    # hinted: only the unsolved question, given the reference, revising the last wrong attempt
    (hinted,) = by_stage["hinted"]
    assert hinted.question_id == "hard" and hinted.correct is True
    assert "Real answer: 1729" in hinted.messages[-1]["content"]
    assert hinted.parent_id == hard_reflect.id
    assert hinted.metadata["hinted"] is True
    assert hinted.messages[0]["role"] == "system"

    assert funnel.to_stats()["solved"] == {"cot": 0, "reflect": 1, "hinted": 1}
    stats = run.read_stats()["annotate"]
    assert stats["unsolved"] == 0 and stats["solved_total"] == 2
    assert stats["stages"]["cot"]["completion_tokens"] == 40
    assert stats["cache"] == {"hits": 0, "misses": 7}
    assert run.read_config()["annotate"]["plan"]["samples"] == 2
    assert len(backend.requests) == 7


def test_rerun_makes_no_call_and_writes_nothing(tmp_path):
    run = RunDir(tmp_path / "run")
    run_annotate(run, scripted(stubborn), CONFIG, questions=[Q_HARD, Q_EASY])
    before = run.attempts.read_text()

    again = scripted(stubborn)
    funnel = run_annotate(run, again, CONFIG, questions=[Q_HARD, Q_EASY])
    assert again.requests == []
    assert run.attempts.read_text() == before
    assert funnel.to_stats()["solved_total"] == 2
    assert all(s["requests"] == 0 for s in funnel.to_stats()["stages"].values())


def test_resuming_with_another_model_is_refused_and_nothing_is_lost(tmp_path):
    run = RunDir(tmp_path / "run")
    run_annotate(run, scripted(stubborn), CONFIG, questions=[Q_HARD, Q_EASY])
    before = run.attempts.read_text()
    other = scripted(stubborn)
    other.model = "scripted-2"
    with pytest.raises(InputError, match=r"attempts.jsonl: holds attempts by model 'scripted-1'"):
        run_annotate(run, other, CONFIG, questions=[Q_HARD, Q_EASY])
    assert other.requests == [] and run.attempts.read_text() == before
    assert run.read_config()["annotate"]["model"] == "scripted-1"
    run.update_config("annotate", {})  # the low-level loop checks the attempts themselves
    with pytest.raises(InputError, match="holds attempts by model 'scripted-1'"):
        run_annotate(run, other, CONFIG, questions=[Q_HARD, Q_EASY])


def test_lost_attempts_file_is_rebuilt_from_the_cache(tmp_path):
    run = RunDir(tmp_path / "run")
    run_annotate(run, scripted(stubborn), CONFIG, questions=[Q_HARD, Q_EASY])
    first = {a.id: a.response for a in attempts_of(run)}
    run.attempts.unlink()

    again = scripted(stubborn)
    run_annotate(run, again, CONFIG, questions=[Q_HARD, Q_EASY])
    assert again.requests == []
    rebuilt = attempts_of(run)
    assert {a.id: a.response for a in rebuilt} == first
    assert all(a.usage.cached for a in rebuilt)


def test_failed_generation_is_recorded_then_retried_under_a_new_id(tmp_path):
    run = RunDir(tmp_path / "run")
    down = scripted(lambda p: None if "2 + 2" in p else stubborn(p))
    config = AnnotateConfig(stages=("cot",), plan=StagePlan(samples=1, max_tokens=64))
    funnel = run_annotate(run, down, config, questions=[Q_HARD, Q_EASY])
    (failed,) = [a for a in attempts_of(run) if a.question_id == "easy"]
    assert failed.error == "HTTP 503: overloaded" and failed.correct is None
    assert funnel.outcomes["failed"] == 1 and funnel.outcomes["unsolved"] == 1

    up = scripted(lambda p: "2 + 2 = 4, so \\boxed{4}.")
    funnel = run_annotate(run, up, config, questions=[Q_HARD, Q_EASY])
    assert len(up.requests) == 1  # only the failed slot is asked again
    easy = [a for a in attempts_of(run) if a.question_id == "easy"]
    assert len(easy) == 2 and easy[1].id != failed.id
    assert easy[1].metadata["retry"] == 1 and easy[1].correct is True
    assert funnel.to_stats()["solved"]["cot"] == 1 and funnel.outcomes["failed"] == 0


def test_hinted_that_misses_the_reference_is_kept_and_unsolved(tmp_path):
    run = RunDir(tmp_path / "run")
    hopeless = scripted(lambda p: "The answer is \\boxed{0}.")
    funnel = run_annotate(run, hopeless, CONFIG, questions=[Q_HARD])
    hinted = [a for a in attempts_of(run) if a.stage == "hinted"]
    assert len(hinted) == 1 and hinted[0].correct is False
    assert funnel.outcomes["unsolved"] == 1 and funnel.solved == 0


def test_stages_subset_and_questions_from_the_run(tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(run.questions, [Q_HARD, Q_EASY])
    backend = scripted(stubborn)
    config = AnnotateConfig(stages=("cot", "hinted"), plan=StagePlan(samples=1, max_tokens=64))
    funnel = run_annotate(run, backend, config, limit=1)
    assert [a.stage for a in attempts_of(run)] == ["cot", "hinted"]
    assert attempts_of(run)[1].parent_id == attempts_of(run)[0].id  # hinted follows the wrong cot
    assert funnel.questions == 1 and funnel.to_stats()["solved"] == {"cot": 0, "hinted": 1}


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        (("reflect", "cot"), "in the order cot, reflect, hinted"),
        (("reflect",), "include 'cot'"),
        (("think",), "stages must be among"),
    ],
)
def test_bad_stage_lists_are_refused(stages, message):
    with pytest.raises(InputError, match=message):
        AnnotateConfig(stages=stages)


def test_user_prompt_dir_overrides_one_template(tmp_path):
    (tmp_path / "cot.md").write_text("Solve: {question}\nBox it: \\boxed{{}}")
    prompts = load_prompts("en", tmp_path)
    text = prompts.render("cot", Q_EASY)
    assert text == "Solve: What is 2 + 2?\nBox it: \\boxed{{}}"
    assert prompts.sources["cot"] == str(tmp_path / "cot.md")
    assert prompts.sources["reflect"].endswith("en/reflect.md")


def test_templates_are_checked(tmp_path):
    (tmp_path / "cot.md").write_text("Solve the problem.")
    with pytest.raises(InputError, match=r"cot.md: template 'cot' must contain \{question\}"):
        load_prompts("en", tmp_path)
    (tmp_path / "cot.md").unlink()
    (tmp_path / "reflect.md").write_text("{question}\n{attempt}\nHint: {answer}")
    with pytest.raises(InputError, match="must not contain {answer}"):
        load_prompts("en", tmp_path)
    with pytest.raises(InputError, match="unknown prompt language 'fr'"):
        load_prompts("fr")


def test_chinese_prompts_and_system_override():
    prompts = load_prompts("zh", system="Be brief.")
    assert "题目" in prompts.render("cot", Q_EASY)
    assert "真实答案：4" in prompts.render("hinted", Q_EASY, "\\boxed{5}")
    assert prompts.system == "Be brief."


def test_cut_off_last_line_is_reported_and_its_attempt_rebuilt(tmp_path):
    run = RunDir(tmp_path / "run")
    run_annotate(run, scripted(stubborn), CONFIG, questions=[Q_HARD, Q_EASY])
    lines = run.attempts.read_bytes().splitlines(keepends=True)
    run.attempts.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # a kill mid-write

    again = scripted(stubborn)
    funnel = run_annotate(run, again, CONFIG, questions=[Q_HARD, Q_EASY])
    assert again.requests == []  # the lost attempt comes back from the cache
    assert run.read_stats()["annotate"]["skipped_lines"] == 1
    assert len(attempts_of(run)) == len(lines) and funnel.solved == 2


def test_next_stage_starts_without_waiting_for_other_questions(tmp_path):
    """Question 'easy' goes on to reflect while the slow cot of 'hard' is still in flight."""
    events: list[str] = []

    class Timed(ScriptedBackend):  # the shared fake, with the order of batches recorded
        async def agenerate(self, requests):
            prompt = requests[0].messages[-1]["content"]
            label = ("reflect " if "Incorrect solution:" in prompt else "cot ") + (
                "easy" if "2 + 2" in prompt else "hard"
            )
            events.append("start " + label)
            await asyncio.sleep(0.3 if label == "cot hard" else 0.0)
            events.append("end " + label)
            return self.generate(requests)

    config = AnnotateConfig(
        stages=("cot", "reflect"), plan=StagePlan(samples=1), batch_size=1, concurrency=2
    )
    run_annotate(
        RunDir(tmp_path / "run"),
        Timed(lambda prompt, _seed: stubborn(prompt)),
        config,
        questions=[Q_HARD, Q_EASY],
    )
    assert events.index("end reflect easy") < events.index("end cot hard")


def test_config_chooses_the_prompt_language(tmp_path):
    run = RunDir(tmp_path / "run")
    config = AnnotateConfig(stages=("cot",), plan=StagePlan(samples=1), language="zh")
    run_annotate(run, scripted(stubborn), config, questions=[Q_EASY])
    (only,) = attempts_of(run)
    assert "题目" in only.messages[-1]["content"] and "2 + 2" in only.messages[-1]["content"]
    assert run.read_config()["annotate"]["prompts"]["cot"].endswith("zh/cot.md")


def test_attempts_record_the_answer_type_and_a_last_number_verdict(tmp_path):
    run = RunDir(tmp_path / "run")
    # no box, no "answer", no statement of the result: only the text's last number
    rambling = (
        "Let me think about this carefully. We start with two apples and then someone hands us "
        "two more apples, which we put in the same basket together with the first ones, and now "
        "we count everything in the basket one more time, slowly: 1, 2, 3, 4"
    )
    plain = scripted(lambda prompt: rambling)
    config = AnnotateConfig(stages=("cot",), plan=StagePlan(samples=1))
    run_annotate(run, plain, config, questions=[Q_EASY])
    [attempt] = attempts_of(run)
    assert attempt.correct is True
    assert attempt.metadata["answer_type"] == "numeric"
    assert attempt.metadata["fallback"] is True  # curate --drop-fallback reads this
