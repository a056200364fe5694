"""A LoRA adapter on the llama.cpp engines: the tuned model on the engine and weights of its base.

The adapter is a tiny PEFT LoRA (rank 4, random non-zero A and B) on the dequantised embedded
model; the engines convert it to a GGUF LoRA themselves.
"""

from __future__ import annotations

import random

import pytest

from sciinstruct.errors import InputError
from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
from sciinstruct.llm.base import cache_key
from sciinstruct.llm.cache import CachedBackend, ResponseCache

pytest.importorskip("llama_cpp")
pytest.importorskip("peft")

from lora_helpers import random_lora  # noqa: E402  (needs peft)

QUESTIONS = [
    "What is 2 + 3?",
    "Name a noble gas.",
    "What is the unit of force?",
    "Why is ice cold?",
]


def _ask(question: str, *, temperature: float = 0.0, seed: int = 0, max_tokens: int = 32):
    return GenerationRequest(
        [{"role": "user", "content": question}],
        SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed),
    )


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    return random_lora(tmp_path_factory.mktemp("lora") / "adapter")


def _texts(requests, **options) -> tuple[str, list[str]]:
    backend = make_backend("llamacpp", n_threads=1, parallel=1, n_ctx=1024, **options)
    try:
        return backend.model, [c.text for c in backend.generate(requests)]
    finally:
        backend.close()


@pytest.mark.slow
def test_batched_engine_with_adapter_gives_the_one_at_a_time_texts_not_the_bases(adapter):
    requests = [_ask(q) for q in QUESTIONS]
    one_model, one = _texts(requests, slots=1, lora=str(adapter))
    batched_model, batched = _texts(requests, slots=4, lora=str(adapter))
    base_model, base = _texts(requests, slots=4)
    assert batched == one  # greedy, 4 sequences a step against 1
    assert all(t.strip() for t in one)
    # measured: all 4 greedy texts change (the adapter moves the logits by ~1 on average)
    assert [t != b for t, b in zip(one, base, strict=True)] == [True] * 4
    assert one_model == batched_model == base_model + one_model[len(base_model) :]
    assert one_model.startswith("SmolLM2-135M-Instruct.Q8_0+flash_attn+lora@")
    assert len(one_model.split("@")[-1]) == 16


@pytest.mark.slow
def test_adapter_logits_do_not_depend_on_the_batch(adapter):
    """Every logits row each sequence samples from, bit for bit, at 1 and 4 slots and in
    shuffled order (with F32 factors 1 of 4 greedy texts already differed: llamafile's sgemm
    sums several rows otherwise than one)."""
    import llama_cpp

    from sciinstruct.embedded_model import gguf_path
    from sciinstruct.llm.llamacpp_batch import BatchedContext
    from sciinstruct.llm.lora_gguf import lora_file

    lora = lora_file(adapter, gguf_path())
    requests = [_ask(q, temperature=0.9, seed=s, max_tokens=16) for q in QUESTIONS for s in (0, 1)]
    shuffled = list(range(len(requests)))
    random.Random(3).shuffle(shuffled)
    runs = []
    for slots, order, reuse in ((1, range(len(requests)), False), (4, shuffled, True)):
        llm = llama_cpp.Llama(model_path=str(gguf_path()), n_ctx=256, n_threads=1, verbose=False)
        context = BatchedContext(
            llm, slots=slots, n_ctx=512, n_threads=1, prefix_reuse=reuse, trace=True, lora=lora
        )
        try:
            futures = {i: context.submit(requests[i]) for i in order}
            texts = {i: f.result().text for i, f in futures.items()}
            runs.append((texts, {i: context.trace[f] for i, f in futures.items()}))
        finally:
            context.close()
    assert runs[1] == runs[0]
    assert len(set(runs[0][0].values())) > 4  # seeds and questions give other texts


@pytest.mark.slow
def test_tuned_texts_are_never_served_from_the_base_models_cache(adapter, tmp_path):
    requests = [_ask(q, max_tokens=12) for q in QUESTIONS[:2]]
    cache = ResponseCache(tmp_path / "cache.sqlite")
    base = make_backend("llamacpp", n_threads=1, parallel=1, slots=2, n_ctx=512)
    tuned = make_backend("llamacpp", n_threads=1, parallel=1, slots=2, n_ctx=512, lora=adapter)
    other = random_lora(tmp_path / "other", seed=1)
    try:
        keys = {cache_key(b.name, b.model, requests[0]) for b in (base, tuned)}
        assert len(keys) == 2
        base_out = CachedBackend(base, cache).generate(requests)
        cached_tuned = CachedBackend(tuned, cache)
        tuned_out = cached_tuned.generate(requests)
        assert (cached_tuned.hits, cached_tuned.misses) == (0, 2)
        assert not any(c.cached for c in tuned_out)
        assert [c.text for c in tuned_out] != [c.text for c in base_out]
        again = CachedBackend(tuned, cache)
        assert [c.text for c in again.generate(requests)] == [c.text for c in tuned_out]
        assert again.hits == 2
    finally:
        base.close()
        tuned.close()
    # another adapter (the same shapes, other weights) is another model
    from sciinstruct.embedded_model import gguf_path
    from sciinstruct.llm.lora_gguf import lora_digest, lora_file

    digests = {lora_digest(lora_file(a, gguf_path())) for a in (adapter, other)}
    assert len(digests) == 2


def test_bad_lora_paths_fail_in_one_line(tmp_path):
    from sciinstruct.embedded_model import gguf_path

    with pytest.raises(InputError, match="PEFT adapter directory or a .gguf LoRA"):
        make_backend("llamacpp", parallel=1, slots=1, lora=str(tmp_path / "missing"))
    with pytest.raises(InputError, match=r"not a LoRA adapter \(general.type='model'"):
        make_backend("llamacpp", parallel=1, slots=1, lora=str(gguf_path()))
    with pytest.raises(InputError, match="not a PEFT adapter directory"):
        make_backend("llamacpp", parallel=1, slots=1, lora=str(tmp_path))


def test_an_adapter_for_other_shapes_is_refused(tmp_path):
    """A GGUF LoRA whose tensors do not fit the model: llama.cpp refuses it, we say why."""
    import gguf
    import numpy as np

    path = tmp_path / "wrong.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 8.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.ones((4, 100), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.ones((576, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    for slots in (1, 2):
        with pytest.raises(InputError, match="tensor shapes do not match the model"):
            make_backend("llamacpp", parallel=1, slots=slots, n_ctx=256, lora=str(path))
