"""`sciinstruct serve-grader` on loopback: batches, OpenRLHF's protocol, hostile items, limits."""

from __future__ import annotations

import math
import threading
import time

import httpx
import pytest

from grade_server_helpers import HERE, HeldClock, held_request, post, running_server
from sciinstruct.cli.serve_grader import _is_loopback
from sciinstruct.integrations.admission import Admission, Cost
from sciinstruct.integrations.http_errors import HTTPError
from sciinstruct.integrations.scoring import RewardSelection
from sciinstruct.integrations.server import KILL_MARGIN_S, OVERLOADED, ServerConfig, create_app


@pytest.fixture
def stall_ops(monkeypatch: pytest.MonkeyPatch) -> str:
    """Workers that run `stall_ops` (tests/): the real grading, and `STALL`, which hangs."""
    import os

    monkeypatch.setenv("PYTHONPATH", f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return "stall_ops"


@pytest.fixture(scope="module")
def url():
    config = ServerConfig(workers=2, selection=RewardSelection.of("correctness,format"))
    with running_server(config) as base:
        yield base


def test_a_batch_gets_one_verdict_per_item_with_its_own_reference(url) -> None:
    items = [
        {"response": "The work is \\boxed{3 kJ}", "reference": "3000 J"},
        {"response": "So \\boxed{12 m/s}", "reference": {"answer": "12.5", "unit": "m/s"}},
        {"response": "So \\boxed{12 m/s}", "reference": {"answer": "12.5 m/s", "tolerance": 0.05}},
        {"response": "I choose B.", "reference": {"answer": "B", "choices": ["1", "2", "3"]}},
        {"response": "x = \\boxed{(x+1)^2}", "reference": "x^2+2x+1"},
    ]
    reply = post(url, "/grade", {"items": items})
    assert reply.status_code == 200
    verdicts = reply.json()["verdicts"]
    assert [v["acc"] for v in verdicts] == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert [v["reward_format"] for v in verdicts] == [1.0, 1.0, 1.0, 0.0, 1.0]
    assert verdicts[0]["score"] == 2.0 and verdicts[0]["pred"] == "3 kJ"
    assert not any(v["timed_out"] for v in verdicts)
    # a request may choose its own rewards
    only = post(url, "/grade", {"items": items[:1], "rewards": ["correctness"]}).json()
    assert only["verdicts"][0]["score"] == 1.0 and "reward_format" not in only["verdicts"][0]


def test_openrlhf_remote_reward_protocol(url) -> None:
    prompt = "<|im_start|>user\nWhat is 6 x 7?<|im_end|>\n<|im_start|>assistant\n"
    body = {
        "query": [prompt + "6 x 7 = \\boxed{42}", prompt + "It is 48."],
        "prompts": [prompt, prompt],
        "labels": ["42", "42"],
    }
    reply = post(url, "/get_reward", body)
    assert reply.status_code == 200
    data = reply.json()
    assert data["rewards"] == [2.0, 0.0] and data["scores"] == [1.0, 0.0]
    assert data["extra_logs"]["acc"] == [1.0, 0.0]
    assert data["extra_logs"]["timed_out"] == [0.0, 0.0]


def test_real_hostile_items_inside_a_batch_are_answered_within_their_limit(url) -> None:
    items = [
        {"response": "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "reference": "1"},
        {"response": "\\boxed{10^{10^{10^{10^{10}}}}}", "reference": "10^{10}", "timeout": 2},
        {"response": "The answer is " + "9" * 100_000, "reference": "9"},
        {"response": "so \\boxed{4}", "reference": "4"},
    ]
    start = time.monotonic()
    verdicts = post(url, "/grade", {"items": items}).json()["verdicts"]
    elapsed = time.monotonic() - start
    assert [v["acc"] for v in verdicts] == [0.0, 0.0, 0.0, 1.0]
    assert elapsed < 5.0 + KILL_MARGIN_S + 1.0


def test_an_item_that_hangs_its_worker_is_cut_off_and_the_worker_replaced(stall_ops) -> None:
    config = ServerConfig(workers=1, ops_module=stall_ops)
    with running_server(config) as base:
        items = [
            {"response": "so \\boxed{4}", "reference": "4"},
            {"response": "STALL", "reference": "4", "timeout": 1.0},
            {"response": "so \\boxed{5}", "reference": "4"},
        ]
        start = time.monotonic()
        verdicts = post(base, "/grade", {"items": items}).json()["verdicts"]
        assert time.monotonic() - start < 1.0 + KILL_MARGIN_S + 1.0 + 60  # the kill, and a restart
        assert [v["timed_out"] for v in verdicts] == [False, True, False]
        assert [v["acc"] for v in verdicts] == [1.0, 0.0, 0.0]
        assert "killed and replaced" in verdicts[1]["reason"]
        # the single worker was replaced: the server still grades
        after = post(base, "/grade", {"items": items[:1]}).json()["verdicts"]
        assert after[0]["acc"] == 1.0


def test_a_full_queue_answers_429_and_recovers(stall_ops) -> None:
    config = ServerConfig(workers=1, max_queue=2, ops_module=stall_ops)
    with running_server(config) as base:
        stall = {"items": [{"response": "STALL", "reference": "1", "timeout": 2.0}] * 2}
        with held_request(base, stall, queued=2) as held:
            refused = post(base, "/grade", {"items": [{"response": "1", "reference": "1"}]})
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert "queue full" in refused.json()["error"]
        assert [v["timed_out"] for v in held["reply"].json()["verdicts"]] == [True, True]
        never = post(base, "/grade", {"items": [{"response": "1", "reference": "1"}] * 3})
        assert never.status_code == 413 and "more than the server queues (2)" in never.text
        assert httpx.get(base + "/health").json()["queued"] == 0
        ok = post(base, "/grade", {"items": [{"response": "\\boxed{1}", "reference": "1"}]})
        assert ok.status_code == 200 and ok.json()["verdicts"][0]["acc"] == 1.0


TOWER, CHEAP = Cost(5.5, True), Cost(5.5, False)


def test_admission_counts_expensive_items_at_their_limit_on_a_lane_of_their_own() -> None:
    admission = Admission(workers=2, max_queue=100, slack=1.0)
    assert admission.lanes == 1  # expensive items may hold one of the two workers
    admission.record(0.01, expensive=False)
    # two towers on an idle server: one lane, so two rounds of their 5.5 s limit, + 1 s
    towers = admission.admit([TOWER, TOWER])
    assert towers.budget_s == pytest.approx(2 * 5.5 + 1.0)
    assert [u.started is not None for u in towers.units] == [True, False]
    # a third would start after both, 11 s late: refused with the excess over the 1 s slack
    with pytest.raises(HTTPError) as busy:
        admission.admit([TOWER])
    assert busy.value.status == 429 and busy.value.headers == {"Retry-After": "10"}
    assert "delay this request about 11.0 s" in busy.value.message
    # cheap items never queue behind them: the other worker is theirs; their budget is their
    # limit + 1 s (8 x 0.01 s is only the estimate)
    cheap = admission.admit([CHEAP] * 8)
    assert cheap.budget_s == pytest.approx(5.5 + 1.0)
    assert cheap.units[0].started is not None
    # a mixed batch: its tower would wait 11 s for the lane, so the batch is refused whole
    with pytest.raises(HTTPError):
        admission.admit([CHEAP, TOWER])
    admission.release(towers)  # answered: the lane is free and the cheap unit still runs
    mixed = admission.admit([CHEAP, TOWER])
    assert mixed.budget_s == pytest.approx(5.5 + 1.0)
    assert [u.expensive for u in mixed.units] == [True, False]  # the long pole first
    # cheap work queued past the slack is refused as before: units of 8 x 0.1 s on 2 workers
    admission.record(0.19, expensive=False)  # the mean of two: 0.1 s
    admission.release(cheap)
    admission.release(mixed)
    for _ in range(4):  # two run, two wait 0.8 s
        admission.admit([CHEAP] * 8)
    with pytest.raises(HTTPError) as busy:  # this one would wait 1.6 s
        admission.admit([CHEAP] * 8)
    assert "about 1.6 s" in busy.value.message and busy.value.headers == {"Retry-After": "1"}


def test_waiting_expensive_units_let_cheap_ones_pass_but_not_the_reverse() -> None:
    admission = Admission(workers=3, max_queue=100)
    assert admission.lanes == 2
    admission.record(0.01, expensive=False)
    towers = admission.admit([TOWER] * 3)  # two lanes run, the third tower waits
    assert [u.started is not None for u in towers.units] == [True, True, False]
    cheap = admission.admit([CHEAP] * 20)  # 8 + 8 + 4: the first takes the third worker
    assert [u.started is not None for u in cheap.units] == [True, False, False]
    assert list(admission.waiting) == [towers.units[2], *cheap.units[1:]]
    running = admission.running[0]
    admission._drop(running)  # a tower ends: its lane and worker go to the waiting tower,
    admission._grant()  # which is older than the cheap units behind it
    assert towers.units[2].started is not None and cheap.units[1].started is None
    # one worker, no lane to spare: a cheap item waits for a running tower at its limit
    single = Admission(workers=1, max_queue=10)
    single.record(0.01, expensive=False)
    single.admit([TOWER])
    with pytest.raises(HTTPError) as busy:
        single.admit([CHEAP])
    assert busy.value.headers == {"Retry-After": "5"}  # 5.5 s ahead, 1 s of slack


def test_admission_measures_each_class_and_checks_the_hard_cap() -> None:
    admission = Admission(workers=2, max_queue=40, slack=1.0)
    # unmeasured, a cheap item is assumed to take its whole limit and Retry-After is only 1
    admission.admit([CHEAP] * 8)
    admission.admit([CHEAP] * 8)  # the second worker
    with pytest.raises(HTTPError) as busy:
        admission.admit([CHEAP])
    assert busy.value.headers == {"Retry-After": "1"}
    for seconds in (0.2, 0.4):  # a plain mean over the first items
        admission.record(seconds, expensive=False)
    assert admission.cheap_s == pytest.approx(0.3) and admission.expensive_s is None
    admission.record(4.8, expensive=True)  # towers are averaged apart, for the backstop only
    assert admission.expensive_s == 4.8 and admission.cheap_s == pytest.approx(0.3)
    # past 20 items a cheap sample moves the average by 1/20, and counts at most 4 x it: an
    # item the scan missed does not make the server shed load for long
    steady = Admission(workers=1, max_queue=10)
    for _ in range(20):
        steady.record(0.01, expensive=False)
    steady.record(2.6, expensive=False)
    assert steady.cheap_s == pytest.approx(0.01 + 0.05 * 0.03)
    assert steady.slow_cheap == 1 and steady.graded == {"cheap": 21, "expensive": 0}
    with pytest.raises(HTTPError) as full:  # the hard cap: 16 + 36 > 40, 12 x 0.3 s on 2
        admission.admit([CHEAP] * 36)
    assert "queue full" in full.value.message and full.value.headers == {"Retry-After": "2"}
    with pytest.raises(HTTPError) as never:
        admission.admit([CHEAP] * 41)
    assert never.value.status == 413


def test_dispatch_overhead_comes_out_of_the_slack_and_fades() -> None:
    admission = Admission(workers=1, max_queue=100, slack=1.0)
    admission.record(0.1, expensive=False)
    admission.admit([CHEAP] * 8)  # 0.8 s running
    admission.record_overhead(0.5)  # units recently took 0.5 s more than their items
    with pytest.raises(HTTPError) as busy:  # 0.8 s ahead is more than 1 - 0.5 s
        admission.admit([CHEAP])
    assert "more than the 0.5 s a request may wait" in busy.value.message
    for _ in range(10):  # 0.5 x 0.9^10 = 0.17 s: 0.8 s ahead is within 1 - 0.17 s again
        admission.record_overhead(0.0)
    assert admission.overhead_s == pytest.approx(0.5 * 0.9**10)
    admission.admit([CHEAP])


def test_a_unit_that_can_no_longer_end_within_its_budget_is_too_late() -> None:
    admission = Admission(workers=1, max_queue=10)
    admission.record(0.01, expensive=False)
    plan = admission.admit([CHEAP])
    unit = plan.units[0]
    assert not admission.too_late(unit)
    unit.deadline = time.monotonic() + 0.001  # 0.01 s of work, 1 ms left
    assert admission.too_late(unit)


def test_a_request_is_timed_from_its_arrival_to_its_reply_written() -> None:
    # the server's lateness once came from a lifetime maximum and from admission to the end of
    # grading only: a phase read a worst left by requests before it, and the time a request
    # spent before admission (its body read and parsed) or after (its reply) was never counted
    clock = HeldClock()
    clock.hold()
    t0 = clock()
    admission = Admission(workers=1, max_queue=10, slack=1.0, clock=clock)
    admission.record(0.1, expensive=False)
    first = admission.admit([CHEAP])  # an idle server takes it; 0.1 s of work now runs
    # the time since it arrived is out of the slack: 0.5 s spent reading, 0.1 s ahead: taken
    second = admission.admit([CHEAP], arrived=t0 - 0.5)
    assert second.deadline == pytest.approx(t0 - 0.5 + 5.5 + 1.0) and second.arrived == t0 - 0.5
    with pytest.raises(HTTPError) as busy:  # 0.95 s spent reading, 0.2 s ahead: refused
        admission.admit([CHEAP], arrived=t0 - 0.95)
    assert busy.value.status == 429
    admission.record_lag(0.4)  # and so is the event loop's lag: 0.5 + 0.4 + 0.2 > 1 s
    with pytest.raises(HTTPError):
        admission.admit([CHEAP], arrived=t0 - 0.5)
    # lateness is counted when the reply is written (finish), not when grading ends (release)
    clock.held = t0 + 7.0
    admission.release(first)
    admission.release(second)
    assert admission.late == 0 and admission.worst_over_s is None
    assert admission.finish(first) == pytest.approx(0.5)
    assert admission.finish(second) == pytest.approx(1.0)
    assert admission.late == 2 and admission.window() == pytest.approx(1.0)
    # a new window holds only what finished since: an on-time request, 6 s inside its budget
    assert admission.window() is None
    admission.record_lag(0.0)
    on_time = admission.admit([CHEAP])
    clock.held += 0.5
    admission.release(on_time)
    admission.finish(on_time)
    assert admission.window() == pytest.approx(-6.0)
    assert admission.worst_over_s == pytest.approx(1.0) and admission.late == 2


def test_each_reply_carries_the_servers_own_timing_and_health_a_window(stall_ops) -> None:
    # one worker: three cheap-looking items of 1 s each under a 1 s timeout (limit 1.5 s, so
    # a budget of 2.5 s) end about 0.5 s late; the single cheap item after them is on time
    config = ServerConfig(workers=1, ops_module=stall_ops)
    with running_server(config) as base:
        ok = {"items": [{"response": "\\boxed{1}", "reference": "1"}]}
        for _ in range(3):  # cheap items measured (about 0.01 s)
            assert post(base, "/grade", ok).status_code == 200
        httpx.get(base + "/health?window=1")  # a fresh window
        slow = {"items": [{"response": "SLEEP 1.0", "reference": "1", "timeout": 1.0}] * 3}
        start = time.monotonic()
        late = post(base, "/grade", slow)
        client_s = time.monotonic() - start
        assert [v["timed_out"] for v in late.json()["verdicts"]] == [False] * 3
        timing = _server_timing(late)
        assert timing["budget"] == pytest.approx(2.5)
        assert 3.0 <= timing["grade"] <= timing["total"] <= client_s
        assert timing["read"] >= 0
        health = httpx.get(base + "/health?window=1").json()
        assert health["late"] >= 1
        # the window's worst is this request's lateness, its reply written (a little after
        # the header's total) and before the client had it
        assert timing["total"] - 2.5 <= health["window_worst_over_s"] <= client_s - 2.5
        on_time = post(base, "/grade", ok)
        assert _server_timing(on_time)["total"] < 2.5
        health = httpx.get(base + "/health?window=1").json()
        assert health["window_worst_over_s"] < 0 < health["worst_over_budget_s"]
        assert httpx.get(base + "/health").json()["window_worst_over_s"] is None


def _server_timing(reply: httpx.Response) -> dict[str, float]:
    """`Server-Timing: read;dur=1.0, grade;dur=...` as seconds by name."""
    parts = (p.strip().split(";dur=") for p in reply.headers["server-timing"].split(","))
    return {name: float(ms) / 1000 for name, ms in parts}


def test_a_burst_past_the_wait_budget_gets_429_and_the_rest_are_graded(stall_ops, tmp_path) -> None:
    # one worker, items measured at 0.8 s, a 2 s wait budget less the measured dispatch
    # overhead and loop lag (tens of ms): 0, 0.8 and 1.6 s of work ahead are admitted, 2.4 s
    # is not. Deterministic however loaded the machine: during the burst the admission clock
    # stands still and the admitted items wait on a gate, so all 8 requests see the same
    # queue (no running item makes progress between the first arrival and the last)
    config = ServerConfig(workers=1, wait_slack_s=2.0, ops_module=stall_ops)
    clock = HeldClock()
    app = create_app(config)
    admission = app.state.service.admission
    admission.clock = clock
    gate = tmp_path / "open"
    item = {"response": "SLEEP 0.8", "reference": "1", "timeout": 2.0}
    held = {"response": f"GATE {gate}", "reference": "1", "timeout": 30.0}
    with running_server(config, app) as base:
        for _ in range(4):  # measures 0.8 s
            assert post(base, "/grade", {"items": [item]}).status_code == 200
        clock.hold()
        service_s = admission.cheap_s
        allowed = 2.0 - admission.overhead_s - admission.lag_s
        assert 0.8 <= service_s < 2.0 and 0 < allowed <= 2.0
        admitted = min(8, 1 + math.floor(allowed / service_s))  # delays 0, s, 2s, ... allowed
        barrier = threading.Barrier(8)
        first: list[httpx.Response] = []
        final: list[httpx.Response] = []
        retries = []

        def client() -> None:
            barrier.wait()
            reply = post(base, "/grade", {"items": [held]})
            first.append(reply)
            for _ in range(60):  # a client that honours Retry-After
                if reply.status_code != 429:
                    break
                retries.append(reply.headers["retry-after"])
                time.sleep(float(reply.headers["retry-after"]))
                reply = post(base, "/grade", {"items": [held]})
            final.append(reply)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60  # the refused answer at once; the admitted wait
        while len(first) < 8 - admitted or admission.admitted < admitted:
            assert time.monotonic() < deadline, "the burst was never all answered or queued"
            time.sleep(0.02)
        statuses = sorted(r.status_code for r in first)
        assert statuses == [429] * (8 - admitted) and admission.admitted == admitted
        clock.go()
        gate.touch()
        for thread in threads:
            thread.join(120)
        assert sorted(r.status_code for r in first) == [200] * admitted + [429] * (8 - admitted)
        refused = [r for r in first if r.status_code == 429]
        retry_after = str(max(1, math.ceil(admitted * service_s - allowed)))  # the excess
        assert all(r.headers["retry-after"] == retry_after for r in refused)
        assert all("server busy" in r.json()["error"] for r in refused)
        assert len(retries) >= 8 - admitted
        # every request got graded in the end, none answered as overloaded
        assert [r.status_code for r in final] == [200] * 8
        verdicts = [r.json()["verdicts"][0] for r in final]
        assert not any(v["timed_out"] or v["reason"] == OVERLOADED for v in verdicts)
        assert httpx.get(base + "/health").json()["queued"] == 0


def test_cheap_requests_do_not_queue_behind_a_batch_of_towers(stall_ops) -> None:
    # nine stand-in towers (the scan marks the exponent tower; the worker sleeps 0.6 s, then
    # grades it): one lane holds them in turn for 9 x 0.6 s, while the other worker stays free.
    # Under the old admission they took both workers and a cheap request waited for them.
    config = ServerConfig(workers=2, ops_module=stall_ops)
    tower = {"response": "SLEEP 0.6 \\boxed{10^{10^{10}}}", "reference": "1", "timeout": 3.0}
    cheap = {"response": "so \\boxed{4}", "reference": "4"}
    with running_server(config) as base:
        for _ in range(3):  # measure cheap items
            assert post(base, "/grade", {"items": [cheap]}).status_code == 200
        with held_request(base, {"items": [tower] * 9}, queued=9) as held:
            # another tower would wait for all nine at their limit: refused, not admitted late
            refused = post(base, "/grade", {"items": [tower]})
            assert refused.status_code == 429 and "server busy" in refused.json()["error"]
            assert int(refused.headers["retry-after"]) >= 20  # 9 x 3.5 s ahead, less the slack
            reply = post(base, "/grade", {"items": [cheap] * 8})
            assert "reply" not in held  # answered while the towers still run
        assert reply.status_code == 200
        assert [v["acc"] for v in reply.json()["verdicts"]] == [1.0] * 8
        verdicts = held["reply"].json()["verdicts"]
        assert [v["timed_out"] for v in verdicts] == [False] * 9
        assert all(0.6 <= v["elapsed_s"] < 3.5 for v in verdicts)
        health = httpx.get(base + "/health").json()
        assert health["lanes"] == 1 and health["graded"]["expensive"] == 9
        assert health["queued"] == 0


def test_an_item_that_waited_past_its_budget_is_answered_overloaded(stall_ops) -> None:
    # a running unit counts as slow only once past twice its estimate: two items that hang
    # (the scan calls them cheap) hold the one worker for 2 x 1.5 s and a worker restart, while
    # the item admitted just behind them was estimated to wait for almost nothing; its budget
    # (0.2 + 0.5 + 2 = 2.7 s) is spent at its turn, so it is answered instead of graded late
    config = ServerConfig(workers=1, wait_slack_s=2.0, ops_module=stall_ops)
    with running_server(config) as base:
        ok = {"response": "\\boxed{1}", "reference": "1"}
        assert post(base, "/grade", {"items": [ok]}).json()["verdicts"][0]["acc"] == 1.0
        stall = {"items": [{"response": "STALL", "reference": "1", "timeout": 1.0}] * 2}
        with held_request(base, stall, queued=2) as held:
            late = post(base, "/grade", {"items": [{**ok, "timeout": 0.2}]})
        assert late.status_code == 200
        row = late.json()["verdicts"][0]
        assert (
            row["reason"] == OVERLOADED == "not started within its limit: the server is overloaded"
        )
        assert row["timed_out"] and row["score"] == 0.0 and row["elapsed_s"] is None
        assert [v["timed_out"] for v in held["reply"].json()["verdicts"]] == [True, True]
        assert httpx.get(base + "/health").json()["queued"] == 0
        again = post(base, "/grade", {"items": [ok]}).json()["verdicts"][0]
        assert again["acc"] == 1.0 and not again["timed_out"]


def test_limits_auth_and_bad_items_are_refused_with_a_reason(monkeypatch) -> None:
    config = ServerConfig(workers=1, max_body_bytes=2000, token="s3cret")
    with running_server(config) as base:
        auth = {"Authorization": "Bearer s3cret"}
        item = {"response": "\\boxed{1}", "reference": "1"}
        assert post(base, "/grade", {"items": [item]}).status_code == 401
        wrong = post(base, "/grade", {"items": [item]}, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        assert httpx.get(base + "/health").status_code == 200  # probes need no token
        ok = post(base, "/grade", {"items": [item]}, headers=auth)
        assert ok.json()["verdicts"][0]["acc"] == 1.0
        big = {"items": [{"response": "x" * 5000, "reference": "1"}]}
        too_big = post(base, "/grade", big, headers=auth)
        assert too_big.status_code == 413 and "over the limit of 2000" in too_big.json()["error"]

        def chunks():  # no Content-Length: the limit holds on the streamed body too
            yield b'{"items": ['
            for _ in range(100):
                yield b'{"response": "aaaaaaaaaaaaaaaaaaaa", "reference": "1"},'

        streamed = httpx.post(base + "/grade", content=chunks(), headers=auth, timeout=30)
        assert streamed.status_code == 413
        bad = post(base, "/grade", {"items": [{"response": 3, "reference": "1"}]}, headers=auth)
        assert (
            bad.status_code == 400 and bad.json()["error"] == "items[0].response: expected a string"
        )
        deep = b'{"items": ' + b"[" * 900 + b"]" * 900 + b"}"
        nested = httpx.post(base + "/grade", content=deep, headers=auth, timeout=30)
        assert (
            nested.status_code == 400 and nested.json()["error"] == "items[0]: expected an object"
        )
        slow = {"items": [{**item, "timeout": 1e9}]}
        assert post(base, "/grade", slow, headers=auth).status_code == 400
        typo = post(base, "/grade", {"items": [item], "rewards": ["fromat"]}, headers=auth)
        imported = {"items": [item], "rewards": ["os:system"]}
        assert post(base, "/grade", imported, headers=auth).status_code == 400
        assert typo.status_code == 400 and "did you mean 'format'" in typo.json()["error"]


def test_only_loopback_binds_quietly() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("example.org")


@pytest.mark.slow
def test_serve_grader_on_ray_serve_with_two_replicas(tmp_path) -> None:
    pytest.importorskip("ray.serve", reason='Ray Serve is not installed: pip install "ray[serve]"')
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    env.pop("RAY_ADDRESS", None)  # a local cluster of its own
    cmd = [sys.executable, "-m", "sciinstruct.cli.main", "serve-grader", "--executor", "ray",
           "--replicas", "2", "--workers", "1", "--port", str(port)]  # fmt: skip
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # a Ray cluster, Serve's controller, two replicas
        pids = set()
        while len(pids) < 2:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "two replicas did not answer in 240 s"
            try:
                pids.add(httpx.get(base + "/health", timeout=5).json()["pid"])
            except (httpx.HTTPError, ValueError, KeyError):
                time.sleep(1)
        items = [{"response": "so \\boxed{3 kJ}", "reference": "3000 J"}]
        verdicts = post(base, "/grade", {"items": items}).json()["verdicts"]
        assert verdicts[0]["acc"] == 1.0
        reward = post(
            base, "/get_reward", {"query": ["\\boxed{2}"], "prompts": [""], "labels": ["2"]}
        )
        assert reward.json()["rewards"] == [1.0]
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGINT)  # serve.shutdown, then Ray's own processes stop
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
