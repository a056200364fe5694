"""The `openai` backend against a fault-injection server and a real llama.cpp server."""

from __future__ import annotations

import asyncio
import random

import pytest

from fault_server import RETRY_AFTER_S, run_fault_server
from sciinstruct.errors import InputError
from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
from sciinstruct.llm.balance import LeastBusy
from sciinstruct.llm.openai_compat import OpenAIBackend
from sciinstruct.llm.retry import backoff_delay, is_retryable_status, parse_retry_after

FAST = {"backoff_base": 0.02, "backoff_max": 0.1, "timeout": 5.0}


def _ask(text: str, **params) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": text}], SamplingParams(**params))


@pytest.fixture(scope="module")
def faults():
    with run_fault_server(hang_s=3.0) as server:
        yield server


@pytest.mark.parametrize("mode", ["500", "malformed", "drop"])
def test_transient_failures_are_retried_until_success(faults, mode):
    backend = OpenAIBackend("m", base_url=faults.url(mode, 2, "retry"), max_retries=3, **FAST)
    [c] = backend.generate([_ask("hello")])
    assert c.ok, c.error
    assert c.text == "echo: hello"
    assert (c.prompt_tokens, c.completion_tokens) == (11, 3)
    assert faults.hits(mode, 2, "retry") == 3  # two failures, then the answer


def test_retry_after_is_honoured(faults):
    backend = OpenAIBackend("m", base_url=faults.url("429", 1, "ra"), **FAST)
    [c] = backend.generate([_ask("hi")])
    assert c.ok and c.text == "echo: hi"
    first, second = faults.arrivals["/429/1/ra"]
    # the backoff alone would wait <= 0.02 s; the server asked for RETRY_AFTER_S
    assert second - first >= RETRY_AFTER_S * 0.95


def test_hang_past_timeout_is_retried(faults):
    backend = OpenAIBackend(
        "m", base_url=faults.url("hang", 1, "t"), timeout=0.5, backoff_base=0.01, backoff_max=0.01
    )
    [c] = backend.generate([_ask("slow")])
    assert c.ok and c.text == "echo: slow"
    assert faults.hits("hang", 1, "t") == 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("500", "HTTP 500"),
        ("429", "HTTP 429"),
        ("malformed", "malformed response"),
        ("drop", "connection error"),
        ("hang", "no response within 0.3s"),
    ],
)
def test_request_that_keeps_failing_comes_back_with_its_reason(faults, mode, reason):
    backend = OpenAIBackend(
        "m", base_url=faults.url(mode, 99, "fail"), max_retries=2, timeout=0.3,
        backoff_base=0.01, backoff_max=0.01, max_retry_after=0.01,
    )  # fmt: skip
    out = backend.generate([_ask("a"), _ask("b")])
    assert len(out) == 2
    for c in out:
        assert not c.ok and c.text == ""
        assert c.error.startswith("failed after 3 attempts: ")
        assert reason in c.error
    assert faults.hits(mode, 99, "fail") == 6  # 2 requests x 3 attempts, none lost


def test_client_error_is_not_retried(faults):
    backend = OpenAIBackend("m", base_url=faults.url("teapot", 99, "4xx"), **FAST)
    [c] = backend.generate([_ask("x")])
    assert c.error.startswith("HTTP 400 ")
    assert faults.hits("teapot", 99, "4xx") == 1


def test_results_keep_request_order_under_concurrency(faults):
    backend = OpenAIBackend("m", base_url=faults.url("ok", 0, "order"), concurrency=8, **FAST)
    out = backend.generate([_ask(f"q{i}") for i in range(40)])
    assert [c.text for c in out] == [f"echo: q{i}" for i in range(40)]


def test_several_base_urls_share_the_load(faults):
    urls = [faults.url("ok", 0, "a"), faults.url("ok", 0, "b")]
    backend = OpenAIBackend("m", base_url=",".join(urls), **FAST)
    backend.generate([_ask(str(i)) for i in range(6)])
    assert faults.hits("ok", 0, "a") == faults.hits("ok", 0, "b") == 3


def test_one_request_per_call_still_reaches_every_server(faults):
    # annotate sends one request per call: counting per call sent all of them to the first URL
    urls = [faults.url("ok", 0, "solo-a"), faults.url("ok", 0, "solo-b")]
    backend = OpenAIBackend("m", base_url=",".join(urls), **FAST)
    for i in range(6):
        backend.generate([_ask(str(i))])
    assert faults.hits("ok", 0, "solo-a") == faults.hits("ok", 0, "solo-b") == 3


def test_concurrent_calls_are_balanced_across_servers(faults):
    urls = [faults.url("ok", 0, "cc-a"), faults.url("ok", 0, "cc-b")]
    backend = OpenAIBackend("m", base_url=",".join(urls), **FAST)

    async def four_calls_of_one() -> None:
        await asyncio.gather(*(backend.agenerate([_ask(f"c{i}")]) for i in range(4)))

    asyncio.run(four_calls_of_one())
    assert faults.hits("ok", 0, "cc-a") == faults.hits("ok", 0, "cc-b") == 2


def test_least_busy_prefers_the_idle_server_and_takes_turns_on_ties():
    servers = LeastBusy(["a", "b", "c"])
    with servers.pick() as first, servers.pick() as second:
        assert (first, second) == ("a", "b")
        with servers.pick() as third:
            assert third == "c"
            assert servers.in_flight == [1, 1, 1]
        with servers.pick() as fourth:  # c is free again, a and b are busy
            assert fourth == "c"
    assert servers.in_flight == [0, 0, 0]
    with pytest.raises(ValueError):
        LeastBusy([])


def test_api_key_is_sent_but_never_shown(faults, monkeypatch):
    monkeypatch.setenv("SCI_TEST_KEY", "sk-secret-123")
    backend = OpenAIBackend("m", base_url=faults.url("500", 99, "key"), api_key_env="SCI_TEST_KEY",
                            max_retries=0, **FAST)  # fmt: skip
    assert backend.auth_headers() == {"Authorization": "Bearer sk-secret-123"}
    [c] = backend.generate([_ask("x")])
    assert "sk-secret-123" not in repr(backend) + str(vars(backend)) + c.error
    assert backend.scrub_secrets("echoed sk-secret-123") == "echoed <redacted>"


def test_model_is_discovered_or_the_error_says_what_to_pass():
    with pytest.raises(InputError, match="pass model=NAME"):
        OpenAIBackend(base_url="http://127.0.0.1:9/v1", timeout=1.0)


def test_retry_helpers():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    rng = random.Random(0)
    delays = [backoff_delay(a, 0.5, 4.0, rng) for a in range(6)]
    assert all(0.25 * 2**a <= d <= 0.5 * 2**a for a, d in enumerate(delays[:3]))
    assert all(2.0 <= d <= 4.0 for d in delays[3:])  # capped at 4 s
    assert is_retryable_status(429) and is_retryable_status(503)
    assert not is_retryable_status(400) and not is_retryable_status(401)


def test_openai_backend_against_real_llama_server(llama_server_url):
    backend = make_backend("openai", base_url=llama_server_url, concurrency=2)
    assert backend.model  # discovered from /v1/models
    # Greedy: llama.cpp reuses the cached prompt for a repeated request and recomputes only the
    # last token's logits, so a sampled (temperature > 0) token can differ in the last bits.
    requests = [_ask("Say hello.", max_tokens=8, seed=s, temperature=0.0) for s in (1, 2, 1)]
    out = asyncio.run(backend.agenerate(requests))
    assert all(c.ok for c in out), [c.error for c in out]
    assert all(c.text.strip() and 0 < c.completion_tokens <= 8 for c in out)
    assert all(c.prompt_tokens > 5 for c in out)
    assert out[0].text == out[2].text  # same request, same answer


def test_credentials_in_base_url_never_reach_errors_or_repr(faults):
    root = faults.url("500", 99, "cred").replace("http://", "http://alice:pa55word@")
    backend = OpenAIBackend("m", base_url=root + "?api-key=sekrit&api-version=1", max_retries=1,
                            **FAST)  # fmt: skip
    [c] = backend.generate([_ask("x")])
    assert faults.hits("500", 99, "cred") == 2  # the query string did not break the path
    expected = f"HTTP 500 from {faults.url('500', 99, 'cred')}/chat/completions: "
    assert c.error.startswith(f"failed after 2 attempts: {expected}")
    shown = c.error + repr(backend)
    assert "alice" not in shown and "pa55word" not in shown and "sekrit" not in shown
    assert f"base_url='{faults.url('500', 99, 'cred')}'" in repr(backend)


def test_credentials_in_base_url_are_scrubbed_from_connection_errors():
    url = "http://bob:hunter2@127.0.0.1:9/v1?api-key=sekrit"
    with pytest.raises(InputError) as e:
        OpenAIBackend(base_url=url, timeout=1.0)
    assert "at http://127.0.0.1:9/v1/models (" in str(e.value)
    assert "hunter2" not in str(e.value) and "sekrit" not in str(e.value)
    backend = OpenAIBackend("m", base_url=url, max_retries=0, timeout=1.0)
    [c] = backend.generate([_ask("x")])
    assert c.error.startswith("failed after 1 attempt: connection error (ConnectError")
    assert "hunter2" not in c.error and "sekrit" not in c.error


def test_redact_url_and_endpoint():
    from sciinstruct.llm.openai_compat import endpoint
    from sciinstruct.redact import redact_url, redact_urls

    assert redact_url("https://u:p@h.example/v1?api-key=k#x") == "https://h.example/v1"
    assert redact_urls("for url 'https://u:p@h/v1/models?key=k' failed") == (
        "for url 'https://h/v1/models' failed"
    )
    assert endpoint("https://h/openai/v1?api-version=2", "/chat/completions") == (
        "https://h/openai/v1/chat/completions?api-version=2"
    )


def test_a_truncated_body_is_retried_until_success(faults):
    backend = OpenAIBackend("m", base_url=faults.url("truncate", 2, "cut"), max_retries=3, **FAST)
    [c] = backend.generate([_ask("whole")])
    assert c.ok and c.text == "echo: whole"
    assert faults.hits("truncate", 2, "cut") == 3
    assert sum(faults.served["/truncate/2/cut"].values()) == 1
