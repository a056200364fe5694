"""Backend factory and the in-process engines (real SmolLM2-135M, small max_tokens)."""

from __future__ import annotations

import importlib.util

import pytest

from sciinstruct.errors import InputError, MissingDependencyError
from sciinstruct.llm import Backend, GenerationRequest, SamplingParams, make_backend

MATH = [{"role": "user", "content": "What is 2 + 3? Answer with the number."}]


def _ask(
    seed: int = 0, temperature: float = 0.7, max_tokens: int = 12, stop=()
) -> GenerationRequest:
    return GenerationRequest(MATH, SamplingParams(temperature, 0.95, max_tokens, seed, tuple(stop)))


def test_unknown_backend_names_the_valid_ones():
    with pytest.raises(InputError, match=r"unknown backend 'opneai'; did you mean 'openai'\?") as e:
        make_backend("opneai")
    assert "embedded, openai, transformers, vllm" in str(e.value)


def test_unknown_option_lists_the_accepted_ones():
    with pytest.raises(InputError, match="does not take option.* concurency.*accepted: base_url"):
        make_backend("openai", model="m", concurency=4)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_missing_gives_the_install_line():
    with pytest.raises(MissingDependencyError) as e:
        make_backend("vllm", model="Qwen/Qwen2.5-0.5B-Instruct")
    assert e.value.install == 'pip install "sciinstruct[vllm]"'
    assert 'run `pip install "sciinstruct[vllm]"`' in str(e.value)


@pytest.mark.slow
def test_embedded_generation_runs_and_returns_text(embedded_backend):
    assert isinstance(embedded_backend, Backend)
    out = embedded_backend.generate([_ask(1), _ask(2), _ask(1), _ask(0, temperature=0)])
    assert all(c.ok and c.text.strip() for c in out), [c.error for c in out]
    assert all(0 < c.completion_tokens <= 12 and c.prompt_tokens > 10 for c in out)
    assert out[0].text == out[2].text  # same seed, same sample
    assert "5" in out[3].text  # greedy SmolLM2 gets this one right


@pytest.mark.slow
def test_embedded_stops_at_max_tokens_and_stop_strings(embedded_backend):
    [long, stopped] = embedded_backend.generate(
        [_ask(0, temperature=0, max_tokens=3), _ask(0, temperature=0, max_tokens=12, stop=["5"])]
    )
    assert long.finish_reason == "length" and long.completion_tokens == 3
    assert stopped.finish_reason == "stop" and "5" not in stopped.text


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="no transformers")
def test_transformers_batches_with_per_row_seeds():
    backend = make_backend("transformers", batch_size=4)
    alone = backend.generate([_ask(7)])[0]
    batch = backend.generate([_ask(3), _ask(7), _ask(0, temperature=0), _ask(7, max_tokens=4)])
    assert all(c.ok and c.text.strip() for c in batch)
    # a row's sample depends on its seed, not on its batch mates
    assert batch[1].text == alone.text
    assert batch[3].completion_tokens <= 4 and alone.text.startswith(batch[3].text.rstrip())
    assert "5" in batch[2].text


def test_embedded_falls_back_to_transformers_without_llama_cpp(monkeypatch):
    import sciinstruct.llm as llm

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "llama_cpp" else real(name)
    )
    assert llm.embedded_engine() == "transformers"
    monkeypatch.undo()
    assert llm.embedded_engine() == ("llamacpp" if real("llama_cpp") else "transformers")
