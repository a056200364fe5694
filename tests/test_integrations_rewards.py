"""The grader as verl, OpenRLHF and TRL rewards, each called exactly as its framework calls it.

verl and OpenRLHF do not install on this CPU machine (verl pins vLLM/flash-attn builds, OpenRLHF
DeepSpeed and vLLM), so their calls are mimicked line for line from their code:
verl `workers/reward_manager/naive.py` and `batch.py` (`BatchRewardManager.verify` and
`__call__`), OpenRLHF `utils/agent.py` (`SingleTurnAgentExecutor._fetch_rewards_via_func`) and
`trainer/ppo_utils/samples_generator.py` (how `extra_logs` become tensors). TRL's own
`GRPOTrainer._calculate_rewards` runs for real.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from types import SimpleNamespace

import pytest

from sciinstruct.errors import InputError
from sciinstruct.integrations import parse_reference
from sciinstruct.integrations.reference import ReferenceError
from sciinstruct.integrations.verl import compute_score, compute_score_batch

ROW_KEYS = {"score", "acc", "pred", "reason", "answer_type", "data_error", "fallback", "certain"}


def verl_naive(compute, rows):
    """verl's NaiveRewardManager loop over (data_source, response, ground_truth, extra_info)."""
    reward_extra_info = defaultdict(list)
    rewards = []
    for data_source, response_str, ground_truth, extra_info in rows:
        extra_info = dict(extra_info or {})
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        score = compute(
            data_source=data_source,
            solution_str=response_str,
            ground_truth=ground_truth,
            extra_info=extra_info,
        )
        if isinstance(score, dict):
            reward = score["score"]
            for key, value in score.items():
                reward_extra_info[key].append(value)
        else:
            reward = score
        rewards.append(reward)
    return rewards, reward_extra_info


def test_verl_compute_score_loads_by_pkg_path_and_grades_units_and_tolerance() -> None:
    # verl's load_module("pkg://sciinstruct.integrations.verl") is importlib.import_module
    compute = importlib.import_module("sciinstruct.integrations.verl").compute_score
    rows = [
        ("sciinstruct", "The energy is \\boxed{3 kJ}", "3000 J", None),
        ("sciinstruct", "So g = \\boxed{9.7} m/s^2", {"answer": "9.81", "unit": "m/s^2"}, None),
        ("sciinstruct", "So g = \\boxed{9.7}", {"answer": "9.81", "tolerance": 0.02}, None),
        ("sciinstruct", "I pick \\boxed{C}", {"answer": "C", "choices": ["1", "2", "3", "4"]}, {}),
    ]
    rewards, info = verl_naive(compute, rows)
    assert rewards == [1.0, 0.0, 1.0, 1.0]  # 9.7 vs 9.81 is 1.1% off: wrong at 1%, right at 2%
    assert info["pred"] == ["3 kJ", "9.7 m/s^2", "9.7", "C"]
    assert info["acc"] == [1.0, 0.0, 1.0, 1.0]
    assert set(info) == ROW_KEYS  # the same keys for every row: verl stacks them per key
    assert all(len(values) == 4 for values in info.values())


def test_verl_extra_info_question_refuses_an_answer_that_restates_a_given() -> None:
    response = "The error was 230 mm."
    plain = compute_score("sci", response, "23 cm")
    asked = compute_score("sci", response, "23 cm", {"question": "Convert 230 mm to cm."})
    assert plain["acc"] == 1.0
    assert asked["acc"] == 0.0 and asked["score"] == 0.0


def test_verl_batch_manager_call_and_shaped_rewards_from_reward_kwargs() -> None:
    # BatchRewardManager.verify: compute_score(data_sources=, solution_strs=, ground_truths=,
    # extra_infos=, **reward_kwargs) with reward_kwargs from custom_reward_function.reward_kwargs
    extras = [{"rollout_reward_scores": {}} for _ in range(3)]
    scores = compute_score_batch(
        data_sources=["sci"] * 3,
        solution_strs=["so \\boxed{4}", "it is 4 I think", "so \\boxed{5}"],
        ground_truths=["4", "4", "4"],
        extra_infos=extras,
        rewards=["correctness", "format"],
        weights=[1.0, 0.5],
    )
    assert [s["score"] for s in scores] == [1.5, 1.0, 0.5]
    assert [s["reward_format"] for s in scores] == [1.0, 0.0, 1.0]
    assert [s["acc"] for s in scores] == [1.0, 1.0, 0.0]


def test_verl_molecule_rewards_by_registry_name() -> None:
    scores = compute_score_batch(
        ["chem"] * 2,
        ["The molecule is \\boxed{CCO}", "The molecule is \\boxed{CCN}"],
        [{"answer": "OCC", "answer_type": "smiles"}] * 2,
        rewards="correctness,validity,tanimoto",
    )
    assert scores[0]["acc"] == 1.0 and scores[0]["reward_tanimoto"] == 1.0
    assert scores[0]["score"] == 3.0  # right, valid, identical fingerprint
    assert scores[1]["acc"] == 0.0 and scores[1]["reward_validity"] == 1.0
    assert 0.0 < scores[1]["reward_tanimoto"] < 1.0


def test_a_bad_reference_is_a_logged_data_error_never_a_crash() -> None:
    row = compute_score("sci", "\\boxed{1}", {"answr": "1"})
    assert row["data_error"] is True and row["score"] == 0.0
    assert "unknown key(s) 'answr'" in row["reason"]
    assert set(row) == ROW_KEYS


def test_an_unknown_reward_name_fails_before_grading_with_a_suggestion() -> None:
    with pytest.raises(InputError, match="did you mean 'format'"):
        compute_score("sci", "\\boxed{1}", "1", rewards=["correctness", "fromat"])


@pytest.mark.parametrize(
    ("ground_truth", "expected"),
    [
        ("3 kJ", ("3 kJ", "auto", None, {})),
        (12, ("12", "auto", None, {})),
        ('{"answer": "2", "unit": "m", "atol": 0.1}', ("2", "auto", "m", {"atol": 0.1})),
        ({"answer": "x", "answer_type": "text", "rtol": 0}, ("x", "text", None, {"rtol": 0.0})),
        ("{1, 2}", ("{1, 2}", "auto", None, {})),  # a set, not JSON: stays the answer
    ],
)
def test_references_as_frameworks_store_them(ground_truth, expected) -> None:
    ref = parse_reference(ground_truth)
    assert (ref.answer, ref.answer_type, ref.unit, ref.metadata) == expected


@pytest.mark.parametrize(
    ("ground_truth", "message"),
    [
        (None, "must be a string or an object"),
        ({"unit": "m"}, "needs an `answer`"),
        ({"answer": "1", "tolerance": -1}, "tolerance must be a number >= 0"),
        ({"answer": "A", "choices": "abcd"}, "choices must be a list"),
    ],
)
def test_unreadable_references_say_what_is_wrong(ground_truth, message) -> None:
    with pytest.raises(ReferenceError, match=message):
        parse_reference(ground_truth)


def test_openrlhf_reward_func_as_the_single_turn_executor_calls_it() -> None:
    torch = pytest.importorskip("torch")
    module = importlib.import_module("sciinstruct.integrations.openrlhf")
    prompt = "<|im_start|>user\nHow much is 2 kJ in J?<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + "2 kJ = \\boxed{2000 J}<|im_end|>", prompt + "It is 20 J.<|im_end|>"]
    # _fetch_rewards_via_func: reward_func(queries[i:i+1], prompts[i:i+1], labels[i:i+1])
    replies = [module.reward_func(queries[i : i + 1], [prompt], ["2000 J"]) for i in range(2)]
    assert [r["rewards"].tolist() for r in replies] == [[1.0], [0.0]]
    assert replies[0]["rewards"].dtype == torch.float32
    assert replies[0]["scores"].tolist() == [1.0]
    # samples_generator: each extra_logs value becomes torch.tensor([value.flatten()[0].item()])
    logged = {k: torch.tensor([v.flatten()[0].item()]) for k, v in replies[1]["extra_logs"].items()}
    assert logged["acc"].tolist() == [0.0] and set(logged) == {"acc", "data_error", "fallback"}
    batch = module.reward_func(queries, [prompt, prompt], ["2000 J", "2000 J"])
    assert batch["rewards"].tolist() == [1.0, 0.0]


def test_openrlhf_shaped_reward_keeps_scores_as_the_verdict() -> None:
    pytest.importorskip("torch")
    from sciinstruct.integrations.openrlhf import make_reward_func, response_of

    shaped = make_reward_func(rewards=["correctness", "format"], weights=[1.0, 0.25])
    reply = shaped(["Q: A: \\boxed{7}", "Q: A: 7"], ["Q: A: ", "Q: A: "], ["7", "8"])
    assert reply["rewards"].tolist() == [1.25, 0.0]
    assert reply["scores"].tolist() == [1.0, 0.0]
    assert response_of("prefix Q: A: 7", "Q: A: ") == "7"
    assert response_of("no prompt here", "Q:") == "no prompt here"


def trl_reward_call(reward_funcs, inputs, completions):
    """Run TRL's own GRPOTrainer._calculate_rewards on a trainer holding only what it reads."""
    from accelerate import Accelerator
    from transformers import TrainerState
    from trl import GRPOTrainer

    metrics, extras = defaultdict(list), defaultdict(list)
    trainer = SimpleNamespace(
        accelerator=Accelerator(cpu=True),
        state=TrainerState(),
        args=SimpleNamespace(report_to=[]),
        reward_funcs=reward_funcs,
        reward_processing_classes=[None] * len(reward_funcs),
        reward_func_names=[f.__name__ for f in reward_funcs],
        environments=None,
        _log_metric=lambda name, value: metrics[name].append(value),
        _log_completion_extra=lambda column, values: extras[column].extend(values),
    )
    prompts = [row["prompt"] for row in inputs]
    ids = [[1, 2, 3] for _ in completions]
    rewards = GRPOTrainer._calculate_rewards(trainer, inputs, prompts, completions, ids)
    return rewards.tolist(), metrics, extras


@pytest.mark.train
def test_trl_grpo_trainer_calls_the_registry_and_the_shaped_reward() -> None:
    pytest.importorskip("trl")
    from sciinstruct.integrations.trl import reward_funcs, shaped_reward

    inputs = [
        {"prompt": "2+2?", "answer": "4", "answer_type": "numeric", "unit": None, "metadata": "{}"},
        {"prompt": "2+2?", "answer": "4", "answer_type": "numeric", "unit": None, "metadata": "{}"},
        {
            "prompt": "speed?",
            "answer": "",
            "answer_type": "numeric",
            "unit": "m/s",
            "metadata": "{}",
        },
    ]
    completions = ["so \\boxed{4}", "maybe 5", "\\boxed{3} m/s"]
    funcs = [*reward_funcs("correctness,format"), shaped_reward("correctness,format", [1, 0.5])]
    rewards, metrics, extras = trl_reward_call(funcs, inputs, completions)
    assert rewards[0] == [1.0, 1.0, 1.5]
    assert rewards[1] == [0.0, 0.0, 0.0]
    assert rewards[2][0] != rewards[2][0]  # NaN: TRL's None for an empty reference
    assert rewards[2][2] != rewards[2][2]
    assert metrics["sciinstruct/accuracy"] == [1 / 3]
    assert metrics["sciinstruct/data_errors"] == [1 / 3]
    assert extras["sciinstruct_pred"] == ["4", "5", ""]  # no reference: nothing read
