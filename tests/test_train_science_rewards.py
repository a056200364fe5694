"""Shaped GRPO rewards on hand-picked completions: concrete values, None where not applicable."""

from __future__ import annotations

import json

import pytest

from sciinstruct.errors import InputError
from sciinstruct.train.rewards import REWARDS, completion_text, get_reward, register_reward
from sciinstruct.train.science_rewards import (
    constraint_reward,
    extracted_answer,
    tanimoto_reward,
    validity_reward,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
DESIGN = json.dumps({"mw_min": 150, "mw_max": 200, "max_rings": 0, "connected": True})


def boxed(text: str) -> str:
    return f"Let me think step by step.\nSo the answer is \\boxed{{{text}}}"


def test_tanimoto_to_itself_is_one_and_to_others_less() -> None:
    completions = [boxed("O=C(O)c1ccccc1OC(C)=O"), boxed("CCO"), boxed("C1CC("), boxed("C9H8O4")]
    rewards = tanimoto_reward(
        completions,
        answer=[ASPIRIN, ASPIRIN, ASPIRIN, "C9H8O4"],
        answer_type=["smiles", "smiles", "smiles", "formula"],
    )
    assert rewards[0] == 1.0
    assert 0.0 < rewards[1] < 0.2
    assert rewards[2] == 0.0  # not a molecule
    assert rewards[3] is None  # not a molecule task


def test_tanimoto_on_a_design_task_with_a_similarity_target() -> None:
    answer = json.dumps({"similar_to": ASPIRIN, "min_similarity": 0.5})
    assert tanimoto_reward([boxed(ASPIRIN)], answer=[answer], answer_type=["molecule_design"]) == [
        1.0
    ]
    assert tanimoto_reward([boxed("CCO")], answer=[DESIGN], answer_type=["molecule_design"]) == [
        None
    ]


def test_constraint_reward_is_the_fraction_met() -> None:
    # aspirin: MW 180.16 is inside [150, 200], one molecule, but one ring > 0 -> 3 of 4
    rewards = constraint_reward(
        [boxed(ASPIRIN), boxed("CCCCCCCCCCC(=O)O"), boxed("not a molecule"), boxed("CCO")],
        answer=[DESIGN, DESIGN, DESIGN, "{broken"],
        answer_type=["molecule_design"] * 4,
    )
    assert rewards == [0.75, 1.0, 0.0, None]


def test_validity_by_answer_type() -> None:
    completions = [
        boxed("CCO"),
        boxed("C1CC("),
        boxed("ATGC"),
        boxed("AUGC"),
        boxed("C2H6O"),
        boxed("42"),
        "no box here at all, sorry I cannot tell anything definite about it because it is long and winding",
    ]
    rewards = validity_reward(
        completions,
        answer=["CCO", "CCO", "GCAT", "GCAT", "C2H6O", "42", "CCO"],
        answer_type=["smiles", "smiles", "sequence", "sequence", "formula", "numeric", "smiles"],
        metadata=[
            {},
            {},
            {"sequence_kind": "dna"},
            json.dumps({"sequence_kind": "dna"}),
            {},
            {},
            {},
        ],
    )
    assert rewards == [1.0, 0.0, 1.0, 0.0, 1.0, None, 0.0]


def test_format_reward_and_chat_completions() -> None:
    chat = [{"role": "assistant", "content": boxed("C2H6O")}]
    assert completion_text(chat) == boxed("C2H6O")
    long_ramble = "I am not sure.\n" * 30
    assert extracted_answer([chat, long_ramble], answer=["x", "y"]) == [1.0, 0.0]
    assert get_reward("extracted") is extracted_answer


def test_registry_adds_and_finds_rewards_by_name() -> None:
    assert {"format", "extracted", "validity", "constraints", "tanimoto", "checks"} <= set(REWARDS)

    @register_reward("length_test")
    def length_reward(completions, **kwargs):
        return [float(len(completion_text(c))) for c in completions]

    try:
        assert get_reward("length_test")(["abc"]) == [3.0]
        with pytest.raises(InputError, match="did you mean 'tanimoto'"):
            get_reward("tanimto")
        with pytest.raises(ValueError, match="already registered"):
            register_reward("format")(length_reward)
    finally:
        REWARDS.pop("length_test")


def test_checks_reward_grades_sciformat_types_only() -> None:
    rewards = get_reward("checks")(
        [boxed("H12C6O6"), boxed("C6H12O5"), boxed("5")],
        answer=["C6H12O6", "C6H12O6", "5"],
        answer_type=["formula", "formula", "numeric"],
    )
    assert rewards == [1.0, 0.0, None]


def test_rewards_on_generated_rows_as_trl_passes_them() -> None:
    """Dataset columns arrive as keyword lists; a perfect answer earns full shaped reward."""
    from sciinstruct.generators import generate

    rows = generate("design-properties", 3, 2) + generate("transcription", 2, 2)
    perfect = [
        boxed(r.metadata["example"] if r.answer_type == "molecule_design" else r.answer)
        for r in rows
    ]
    columns = {
        "answer": [r.answer for r in rows],
        "answer_type": [r.answer_type for r in rows],
        "metadata": [r.metadata for r in rows],
    }
    assert validity_reward(perfect, **columns) == [1.0] * 5
    assert constraint_reward(perfect, **columns) == [1.0, 1.0, 1.0, None, None]
    assert get_reward("checks")(perfect, **columns) == [1.0] * 5
