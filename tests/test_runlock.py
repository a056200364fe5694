"""The run lock: a second writer is refused at once, a dead writer's lock is taken over.

The two-writer test is the issue's report replayed: two `sciinstruct annotate` on one run
directory, started together against an OpenAI-compatible server on loopback. Before the lock
both finished with exit 0 and every attempt was written twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fault_server import run_fault_server
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.rundir import RunDir
from sciinstruct.runlock import (
    LEASE_S,
    RECORD_NAME,
    Holder,
    RunLock,
    RunLockedError,
    probe_locking,
    read_holder,
)

SRC = Path(__file__).parents[1] / "src"
N_QUESTIONS = 12
REFUSAL = re.compile(
    r"^error: (?P<run>\S+): run directory is locked by pid (?P<pid>\d+) on host (?P<host>\S+) "
    r"\((?P<stage>[a-z ]+), since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\); wait for it to finish or stop it"
)


def right_answer(request: dict) -> str:
    """Every cot attempt right, so the run is exactly N_QUESTIONS x samples attempts."""
    a, b = map(
        int, re.search(r"What is (\d+) \+ (\d+)", request["messages"][-1]["content"]).groups()
    )
    return f"{a} + {b} = \\boxed{{{a + b}}}"


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "sciinstruct.cli.main", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_second_annotate_on_the_run_is_refused_at_once(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(
        run.questions,
        [{"id": f"q{i}", "question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(N_QUESTIONS)],
    )  # fmt: skip
    # 0.15 s a request, 2 in flight: the winner annotates for ~1.8 s, far longer than a refusal
    with run_fault_server(answer=right_answer, answer_delay_s=0.15) as server:
        args = ["annotate", "--run", str(run.root), "-b", "openai", "-m", "stub", "-j", "2",
                "--base-url", server.url("ok", 0, "two-writers"), "-k", "2", "--stages", "cot"]  # fmt: skip
        procs = [_cli(*args), _cli(*args)]
        started = time.monotonic()
        ended: dict[int, float] = {}
        while len(ended) < 2:
            for i, proc in enumerate(procs):
                if i not in ended and proc.poll() is not None:
                    ended[i] = time.monotonic() - started
            assert time.monotonic() - started < 120, "annotate did not finish"
            time.sleep(0.01)
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1], [p.stderr.read() for p in procs]
    winner, loser = (procs[0], procs[1]) if codes[0] == 0 else (procs[1], procs[0])
    message = loser.stderr.read().strip()
    assert len(message.splitlines()) == 1, message
    match = REFUSAL.match(message)
    assert match, message
    assert int(match["pid"]) == winner.pid and match["host"] == socket.gethostname()
    assert ended[procs.index(loser)] < ended[procs.index(winner)]  # refused while it ran
    ids = [a["id"] for a in read_jsonl(run.attempts)]
    assert len(ids) == N_QUESTIONS * 2 and len(set(ids)) == len(ids)
    assert Counter(a["correct"] for a in read_jsonl(run.attempts)) == {True: N_QUESTIONS * 2}
    assert read_holder(run.root) is None  # the winner removed its record on the way out


HOLD = """
import sys, time
sys.path.insert(0, {src!r})
from sciinstruct.rundir import RunDir
RunDir({run!r}).lock("annotate")
print("locked", flush=True)
time.sleep(600)
"""


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    root = tmp_path / "run"
    code = HOLD.format(src=str(SRC), run=str(root))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"locked by pid {proc.pid} on host"):
            RunDir(root).lock("annotate")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = read_holder(root)
    assert left is not None and left.pid == proc.pid and not left.is_alive()
    with RunDir(root).lock("annotate"):
        holder = read_holder(root)
        assert holder is not None and holder.pid == os.getpid() and holder.stage == "annotate"
    assert read_holder(root) is None


def _record(root: Path, **fields: object) -> None:
    now = time.time()
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now}
    root.mkdir(parents=True, exist_ok=True)
    (root / RECORD_NAME).write_text(json.dumps({**holder, **fields}), encoding="utf-8")


def test_the_record_refuses_a_live_holder_that_the_kernel_lock_missed(tmp_path: Path) -> None:
    """Where flock is not shared (another host over NFS `nolock`), the record is the guard: a
    fresh heartbeat from another host refuses; one older than the lease is taken over."""
    root = tmp_path / "run"
    _record(root, host="node-7", pid=4242, stage="annotate")
    with pytest.raises(RunLockedError, match="locked by pid 4242 on host node-7 \\(annotate"):
        RunLock(root).acquire()
    _record(root, host="node-7", pid=4242, heartbeat=time.time() - LEASE_S - 1)
    with RunLock(root, "annotate"):
        assert read_holder(root).host == socket.gethostname()  # type: ignore[union-attr]


def test_a_reused_pid_is_not_mistaken_for_the_dead_holder(tmp_path: Path) -> None:
    """This process's pid with another start time: the holder died and the pid came back."""
    root = tmp_path / "run"
    _record(root, process="another-boot:123")
    assert not read_holder(root).is_alive()  # type: ignore[union-attr]
    with RunLock(root, "annotate"):
        pass


def test_the_lock_is_re_entrant_in_a_process_and_exclusive_between_processes(
    tmp_path: Path,
) -> None:
    run = RunDir(tmp_path / "run")
    with run.lock("stage runner"):
        with run.lock("annotate"):
            assert run.lock_holder().stage == "stage runner"  # type: ignore[union-attr]
        assert run.lock_holder() is not None  # the inner release kept the outer lock
        probe = "import sys; sys.path.insert(0, {!r}); from sciinstruct.rundir import RunDir; "
        probe += "RunDir({!r}).lock()"
        out = subprocess.run(
            [sys.executable, "-c", probe.format(str(SRC), str(run.root))],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1 and "RunLockedError" in out.stderr
        assert f"pid {os.getpid()} on host" in out.stderr
    assert run.lock_holder() is None


def test_a_restarted_shard_waits_out_a_dead_hosts_lease(tmp_path: Path) -> None:
    root = tmp_path / "run"
    _record(root, host="node-7", pid=1, heartbeat=time.time() - 0.9)
    start = time.monotonic()
    lock = RunLock(root, "annotate", lease_s=1.0).acquire(wait_s=5.0)
    try:
        assert 0.05 < time.monotonic() - start < 5.0
    finally:
        lock.release()


def test_holder_describes_itself_in_one_line() -> None:
    holder = Holder(host="gpu-3", pid=17, started=0.0, heartbeat=0.0, stage="annotate")
    assert holder.describe() == "pid 17 on host gpu-3 (annotate, since 1970-01-01 00:00:00 UTC)"


def test_the_probe_finds_that_this_file_system_enforces_flock(tmp_path: Path) -> None:
    probe = probe_locking(tmp_path)
    assert probe.excludes is True
    assert probe.warning() is None or probe.local_only  # a local disk in CI
    assert not list(tmp_path.iterdir())  # the probe leaves nothing behind


def test_the_probe_names_mounts_whose_locks_stay_on_one_host() -> None:
    from sciinstruct.runlock import LockProbe

    nfs = LockProbe("nfs4", ("rw", "vers=4.2", "local_lock=all"), excludes=True)
    assert nfs.network and nfs.local_only
    assert "nfs4 mount (rw,vers=4.2,local_lock=all) keeps locks local to each host" in nfs.warning()
    assert LockProbe("nfs4", ("rw", "vers=4.2"), excludes=True).warning() is None
    ignored = LockProbe("fuse.s3fs", ("rw",), excludes=False)
    assert ignored.network and "fuse.s3fs ignores file locks" in ignored.warning()


def test_writes_run_holds_the_lock_around_a_stage_function(tmp_path: Path) -> None:
    from sciinstruct.rundir import writes_run

    seen = []

    @writes_run("my-stage", arg="where")
    def stage(n: int, where: str) -> int:
        seen.append(RunDir(where).lock_holder())
        return n + 1

    assert stage(1, where=str(tmp_path / "run")) == 2
    assert seen[0].stage == "my-stage" and seen[0].pid == os.getpid()
    assert read_holder(tmp_path / "run") is None
