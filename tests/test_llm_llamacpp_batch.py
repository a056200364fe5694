"""Continuous batching in one llama.cpp context: a sequence's numbers never depend on the batch."""

from __future__ import annotations

import importlib.util
import random

import pytest

from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
from sciinstruct.llm.llamacpp import default_slots

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="no llama-cpp-python"
)

QUESTIONS = [
    "What is 2 + 3?",
    "Name a noble gas.",
    "What is the unit of force?",
    "Why is ice cold?",
]


def _ask(question: str, seed: int, *, temperature: float = 0.9, max_tokens: int = 24):
    return GenerationRequest(
        [{"role": "user", "content": question}],
        SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed),
    )


def _context(slots: int, reuse: bool = True, flash: bool = True):
    import llama_cpp

    from sciinstruct.embedded_model import gguf_path
    from sciinstruct.llm.llamacpp_batch import BatchedContext

    llm = llama_cpp.Llama(model_path=str(gguf_path()), n_ctx=256, n_threads=1, verbose=False)
    return BatchedContext(
        llm, slots=slots, n_ctx=1024, n_threads=1, prefix_reuse=reuse, flash_attn=flash, trace=True
    )


def _run(
    slots: int,
    requests: list[GenerationRequest],
    order: list[int],
    reuse: bool = True,
    flash: bool = True,
):
    """Texts and per-step logits digests of `requests`, submitted in `order`, by index."""
    context = _context(slots, reuse, flash)
    try:
        futures = {i: context.submit(requests[i]) for i in order}
        texts = {i: f.result().text for i, f in futures.items()}
        digests = {i: context.trace[f] for i, f in futures.items()}
        return texts, digests, dict(context.stats)
    finally:
        context.close()


def test_default_slots_shrink_to_fit_memory():
    assert default_slots(4096, 2, bytes_per_token=1) == 8
    assert default_slots(4096, 2, bytes_per_token=10**12) == 1


@pytest.mark.slow
@needs_llama
@pytest.mark.parametrize("flash", [True, False], ids=["flash_attn", "attention"])
def test_logits_are_bit_identical_at_1_4_and_16_slots_and_in_any_order(flash: bool):
    # 4 questions x 4 seeds: 16 sequences, sampled, so any difference shows in the digests
    requests = [_ask(q, seed) for q in QUESTIONS for seed in range(4)]
    interleaved = [q * 4 + s for s in range(4) for q in range(4)]  # no prompt twice in a row
    shuffled = list(range(16))
    random.Random(7).shuffle(shuffled)

    texts_1, digests_1, stats_1 = _run(1, requests, interleaved, reuse=False, flash=flash)
    assert stats_1["prompt_tokens_copied"] == 0  # every prompt evaluated whole: the reference
    runs = {}
    for slots, order in (
        (1, interleaved), (4, list(range(16))), (4, shuffled), (16, list(range(16)))
    ):  # fmt: skip
        texts, digests, runs[slots] = _run(slots, requests, order, flash=flash)
        assert digests == digests_1, f"slots={slots}, order={order}"
        assert texts == texts_1
    # 16 prompts of 580 tokens in all (4 questions of 145, each asked 4 times): at 16 slots,
    # grouped by question, each question is evaluated once and its 3 repeats copy it whole;
    # without flash attention the other questions also copy the chat template's system prompt
    # they share with question 0 and evaluate the rest (with it, they are evaluated whole:
    # the next test)
    assert runs[16]["prompt_tokens_evaluated"] + runs[16]["prompt_tokens_copied"] == 580
    evaluated = (runs[16]["prompt_tokens_evaluated"], runs[1]["prompt_tokens_evaluated"])
    assert evaluated == ((145, 580) if flash else (71, 220))
    assert all(texts_1.values()) and len(set(texts_1.values())) > 4  # seeds differ
    # sequences that finished left gaps, and the ones after them moved into the gaps (their
    # KV streams copied) so that each step stays one forward pass: the same bits regardless
    assert runs[4]["moves"] > 0 and runs[16]["moves"] > 0


@pytest.mark.slow
@needs_llama
@pytest.mark.parametrize("flash", [True, False], ids=["flash_attn", "attention"])
def test_a_prompt_that_begins_like_a_held_one_gives_the_rows_of_its_whole_evaluation(flash: bool):
    # one long instruction, then rests of 2 to 200 tokens: without flash attention the rest is
    # evaluated after the copied common prefix, bit-identical to evaluating the whole prompt;
    # with it the split rows differ in the last bits, so the prompt is evaluated whole
    instruction = "Solve the following chemistry problem step by step, then give the answer. " * 3
    sentence = "zinc displaces copper from copper sulfate solution and the blue colour fades"
    words = sentence.split(" ")
    rests = [2, 5, 16, 33, 64, 200]
    requests = [
        GenerationRequest(
            [{"role": "user", "content": instruction + " ".join((words * 20)[:n])}],
            SamplingParams(temperature=0.0, max_tokens=1, seed=0),
        )
        for n in rests
    ]
    order = list(range(len(requests)))
    _, whole, _ = _run(1, requests, order, reuse=False, flash=flash)
    _, reused, stats = _run(1, requests, order, reuse=True, flash=flash)
    assert reused == whole
    # the first prompt is evaluated; each later one shares the instruction (about 60 tokens)
    assert (stats["prompt_tokens_copied"] == 0) == flash
    if not flash:
        assert stats["prompt_tokens_copied"] > 60 * (len(rests) - 1)


@pytest.mark.slow
@needs_llama
def test_backend_reports_each_completion_and_errors_without_raising():
    backend = make_backend("llamacpp", n_threads=1, parallel=1, slots=4, n_ctx=128)
    try:
        assert repr(backend) == (
            "LlamaCppBackend(model='SmolLM2-135M-Instruct.Q8_0+flash_attn', parallel=1, slots=4)"
        )
        long = GenerationRequest([{"role": "user", "content": "word " * 150}])
        requests = [_ask(q, 0, temperature=0.0, max_tokens=6) for q in QUESTIONS] + [long]
        seen: dict[int, str] = {}
        out = backend.generate(requests, on_done=lambda i, c: seen.setdefault(i, c.text))
        assert out[4].error.startswith("llama.cpp: Requested tokens (")
        assert "exceed context window of 128" in out[4].error
        assert all(c.ok and c.text.strip() for c in out[:4]), [c.error for c in out]
        assert [c.completion_tokens for c in out[:4]] == [6, 6, 6, 6]
        assert [c.finish_reason for c in out[:4]] == ["length"] * 4
        assert seen == {i: c.text for i, c in enumerate(out)}
        stop = _ask(QUESTIONS[0], 0, temperature=0.0, max_tokens=6)
        first_word = out[0].text.split()[0]
        cut = GenerationRequest(stop.messages, SamplingParams(**{
            **stop.params.to_dict(), "stop": (first_word,)}))  # fmt: skip
        (stopped,) = backend.generate([cut])
        assert stopped.finish_reason == "stop" and first_word not in stopped.text
    finally:
        backend.close()
    assert backend._batched == [] and backend._contexts == []
