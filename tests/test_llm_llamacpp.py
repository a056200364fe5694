"""The in-process llama.cpp engine: a batch split across parallel contexts."""

from __future__ import annotations

import importlib.util

import pytest

from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
from sciinstruct.llm.llamacpp import split_by_prompt

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="no llama-cpp-python"
)

QUESTIONS = [
    "What is 2 + 3?",
    "Name a noble gas.",
    "What is the unit of force?",
    "Why is ice cold?",
]


def _ask(question: str, seed: int = 0) -> GenerationRequest:
    return GenerationRequest(
        [{"role": "user", "content": question}],
        SamplingParams(temperature=0.0, max_tokens=8, seed=seed),
    )


def test_split_keeps_each_prompts_samples_together_and_in_order():
    a, b, c = (_ask(q) for q in QUESTIONS[:3])
    requests = [a, b, a, c, a, b]
    assert split_by_prompt(requests, 2) == [[0, 2, 4], [1, 5, 3]]
    assert split_by_prompt(requests, 1) == [[0, 2, 4, 1, 5, 3]]
    assert split_by_prompt(requests[:1], 4) == [[0]]
    assert split_by_prompt([], 2) == []


@pytest.mark.slow
@needs_llama
def test_parallel_contexts_return_the_same_texts_in_order():
    requests = [_ask(q, seed) for seed in (1, 2) for q in QUESTIONS]  # 4 prompts x 2 samples
    one = make_backend("llamacpp", n_threads=1, parallel=1, slots=1)  # one request at a time
    two = make_backend("llamacpp", n_threads=1, parallel=2, slots=4)  # batched, split in two
    try:
        assert repr(two) == (
            "LlamaCppBackend(model='SmolLM2-135M-Instruct.Q8_0+flash_attn', parallel=2, slots=4)"
        )
        serial, split = one.generate(requests), two.generate(requests)
        assert all(c.ok and c.text.strip() for c in split), [c.error for c in split]
        assert [c.text for c in split] == [c.text for c in serial]
        # greedy: both samples of a prompt agree, and each row answers its own prompt
        assert [c.text for c in split[:4]] == [c.text for c in split[4:]]
        assert len({c.text for c in split[:4]}) == 4
        assert [c.completion_tokens for c in split] == [c.completion_tokens for c in serial]
    finally:
        one.close()
        two.close()
    assert two._batched == [] and two._pool._shutdown


# What one seed gives under each attention kernel (SmolLM2-135M as Q8_0, "What is 2 + 3?",
# temperature 0.9, seed 0, 24 tokens), and the engine's name, the response cache's key: other
# numbers, other texts, so another name. If llama.cpp's numbers ever change under a name, this
# fails: give the new numbers a new name, or a resumed run would mix two engines' texts.
KERNELS = {
    "flash_attn": (
        "SmolLM2-135M-Instruct.Q8_0+flash_attn",
        "A very classic and solvable math problem. To be precise, the answer is 2 + 3, which can",
    ),
    "attention": (
        "SmolLM2-135M-Instruct.Q8_0",
        "To calculate 2 + 3, you simply add them together and then take the floor of both sides, "
        "which results",
    ),
}


@pytest.mark.slow
@needs_llama
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_each_kernel_has_its_name_and_gives_one_text_at_every_slot_count(kernel: str):
    """Flash attention is the default, one request at a time (`slots=1`) and batched alike;
    `flash_attn=False` is the engine before it: the old name, so its cache is reused."""
    request = GenerationRequest(
        [{"role": "user", "content": QUESTIONS[0]}],
        SamplingParams(temperature=0.9, max_tokens=24, seed=0),
    )
    options = {} if kernel == "flash_attn" else {"flash_attn": False}  # {}: the default
    name, text = KERNELS[kernel]
    for slots in (1, 4):
        backend = make_backend("llamacpp", n_threads=1, parallel=1, slots=slots, **options)
        try:
            assert backend.model == name
            assert [c.text for c in backend.generate([request])] == [text], f"slots={slots}"
        finally:
            backend.close()
