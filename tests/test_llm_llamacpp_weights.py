"""The `weights` option: the embedded GGUF converted once by llama.cpp, cached, atomically."""

from __future__ import annotations

import pytest

from sciinstruct.errors import InputError
from sciinstruct.llm.llamacpp_weights import (
    check_weights,
    converted_path,
    gguf_file_type,
    weights_file,
)

pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def source():
    from sciinstruct.embedded_model import gguf_path

    return gguf_path()


def test_a_bad_weights_value_names_the_accepted_ones():
    with pytest.raises(InputError, match="unknown weights 'q3'.*q8_0.*f16"):
        check_weights("q3")
    assert check_weights("Q8_0") == "q8_0"


def test_source_and_its_own_type_load_the_shipped_file(source):
    assert weights_file(source, "source") == source
    assert weights_file(source, "q4_1") == source  # the embedded file is Q4_1 already


def test_q8_0_is_converted_once_into_the_cache_keyed_by_the_source_hash(
    source, tmp_path, monkeypatch
):
    monkeypatch.setenv("SCIINSTRUCT_HOME", str(tmp_path))
    target = converted_path(source, "q8_0")
    assert target.parent == tmp_path / "models" / "gguf" and ".q8_0." in target.name
    path = weights_file(source, "q8_0")
    assert path == target and gguf_file_type(path) == "q8_0"
    # ~8.5 bits a weight against Q4_1's ~5: larger than the source, smaller than F16 would be
    assert 1.3 * source.stat().st_size < path.stat().st_size < 2.0 * source.stat().st_size
    assert not list(target.parent.glob("*.tmp"))  # the temporary file was renamed, none left
    mtime = path.stat().st_mtime_ns
    assert weights_file(source, "q8_0").stat().st_mtime_ns == mtime  # reused, not rewritten


def test_the_backend_loads_the_converted_weights_under_its_own_identity(source):
    from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend

    request = GenerationRequest(
        [{"role": "user", "content": "What is 2 + 2?"}],
        SamplingParams(temperature=0.0, max_tokens=8, seed=0),
    )
    texts = {}
    for weights in ("source", "q8_0"):
        backend = make_backend("llamacpp", n_threads=1, parallel=1, slots=4, weights=weights)
        try:
            suffix = "Q4_1" if weights == "source" else "Q8_0"
            assert backend.model == f"SmolLM2-135M-Instruct.{suffix}+flash_attn"
            texts[weights] = backend.generate([request])[0]
        finally:
            backend.close()
    assert all(c.ok and c.completion_tokens > 0 for c in texts.values())
    with pytest.raises(InputError, match="unknown weights"):
        make_backend("llamacpp", weights="int3")
