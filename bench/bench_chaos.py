"""Reliability as figures: kill -9, a failing server, bad input, a full disk, hostile grader input.

1. kill -9: annotate (and separately eval) of N questions through the `openai` backend against a
   deterministic OpenAI-compatible server on loopback, killed with SIGKILL at K random moments
   (each once the server has answered a random number of the run's requests, plus a random few
   ms), then run to the end. Counted: attempts lost, attempts duplicated, LLM calls repeated
   (the response cache's own per-key store counter, and the server's count as a check), and
   whether the final files equal an uninterrupted run's (volatile fields dropped: `created`,
   `latency_s`, `cached`).
2. A failing server: annotate against the same server failing 20% of tries at random (500, 429
   with Retry-After, a hang past the client's timeout, malformed JSON, a reset connection, a
   truncated body); the run must complete, record every permanent failure with its reason, and
   a re-run must re-send only those (plus the later stages they unlock).
3. Bad input: kinds of bad rows in JSONL, CSV, Parquet and a Hugging Face dataset directory,
   each next to good rows, ingested into a run that already holds questions.
4. Disk full and a read-only run directory, during `sciinstruct annotate` (CLI).
5. Hostile grader input through the public `sciinstruct.grading.grade`.

Everything runs on 127.0.0.1 and stops by itself. Prints one table and writes
bench/results/chaos.md.

    .venv/bin/python bench/bench_chaos.py [--questions 40] [--kills 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fault-injecting server lives with the tests

from fault_server import FaultServer, run_fault_server  # noqa: E402
from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate  # noqa: E402
from sciinstruct.jsonl import read_jsonl, write_jsonl  # noqa: E402
from sciinstruct.llm import CachedBackend, make_backend  # noqa: E402
from sciinstruct.llm.cache import ResponseCache  # noqa: E402
from sciinstruct.records import Question  # noqa: E402
from sciinstruct.rendering import md_table  # noqa: E402
from sciinstruct.rundir import RunDir  # noqa: E402

ANNOTATE = AnnotateConfig(plan=StagePlan(samples=2, max_tokens=64), batch_size=8, concurrency=2)
ANSWER_DELAY_S = 0.02  # the server's time per answer: a run lasts long enough to be hit
MODEL = "chaos-arith"


def arithmetic_questions(n: int) -> list[Question]:
    return [
        Question(
            id=f"c{i:03d}",
            question=f"What is {3 + 7 * i % 50} + {i}?",
            answer=str(3 + 7 * i % 50 + i),
            subject="math",
        )  # fmt: skip
        for i in range(n)
    ]


def arithmetic_answer(request: dict) -> str:
    """Right at cot when the sum is divisible by 3, at reflect when it leaves 1, else only
    hinted (which copies the real answer); eval is right when divisible by 3."""
    prompt = "\n".join(m["content"] for m in request["messages"])
    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", prompt).groups())
    real = re.search(r"Real answer: (\d+)", prompt)
    stage_remainder = 1 if "Incorrect solution:" in prompt else 0
    value = int(real.group(1)) if real else a + b if (a + b) % 3 == stage_remainder else a + b + 1
    return f"{a} plus {b} makes {value}, so the answer is \\boxed{{{value}}}."


def backend_options(url: str, **extra: Any) -> dict[str, Any]:
    return {"base_url": url, "concurrency": 8, "timeout": 5.0, "max_retries": 2, **extra}


# -- child processes (the runs that get killed) -------------------------------------------------


def child(kind: str, target: str, url: str, questions_file: str | None) -> None:
    from sciinstruct.log import set_verbosity

    set_verbosity(quiet=True)
    backend = make_backend("openai", MODEL, **backend_options(url))
    if kind == "annotate":
        run_annotate(RunDir(target), backend, ANNOTATE)
    else:
        from sciinstruct.evaluate.runner import EvalConfig, run_eval

        out = Path(target)
        cached = CachedBackend(backend, out / "cache.sqlite")
        run_eval([questions_file], cached, out, EvalConfig(batch_size=8, samples=2))


def start_child(kind: str, target: Path, url: str, qfile: Path | None) -> subprocess.Popen:
    argv = [sys.executable, __file__, "--child", kind, str(target), url, str(qfile or "")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"run failed ({proc.returncode}): {err.decode()[-2000:]}")


# -- 1. kill -9 --------------------------------------------------------------------------------

VOLATILE = {"created", "latency_s", "cached"}


def normalise(value: Any) -> Any:
    """Drop what differs between two identical runs: wall-clock times and cache flags."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def rows_by_id(path: Path, key: Callable[[dict], Any]) -> tuple[dict[Any, Any], int, int]:
    """Normalised rows by identity, the number of rows, and unreadable lines."""
    from sciinstruct.jsonl import BadLine

    bad: list[BadLine] = []
    rows = list(read_jsonl(path, bad))
    return {key(r): normalise(r) for r in rows}, len(rows), len(bad)


def kill_run(
    server: FaultServer, kind: str, work: Path, n: int, kills: int, rng: random.Random
) -> dict[str, Any]:
    questions = arithmetic_questions(n)
    qfile = work / f"{kind}_questions.jsonl"
    write_jsonl(qfile, questions)

    def prepare(name: str) -> Path:
        target = work / f"{kind}_{name}"
        if kind == "annotate":
            write_jsonl(RunDir(target).ensure().questions, questions)
        return target

    def url(tag: str) -> str:
        return server.url("ok", 0, f"{kind}-{tag}")

    reference = prepare("reference")
    finish(start_child(kind, reference, url("reference"), qfile))
    total = len(server.served[f"/ok/0/{kind}-reference"])

    target = prepare("killed")
    served = server.served[f"/ok/0/{kind}-killed"]
    landed = 0
    for moment in sorted(rng.sample(range(1, total), min(kills, total - 1))):
        proc = start_child(kind, target, url("killed"), qfile)
        while proc.poll() is None and len(served) < moment:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.01))  # mid-request, mid-grading or mid-write
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            landed += 1
        proc.communicate()
    finish(start_child(kind, target, url("killed"), qfile))

    if kind == "annotate":
        name, key = "attempts.jsonl", (lambda r: r["id"])
        cache = target / "cache.sqlite"
        extra_equal = True
    else:
        name, key = "predictions.jsonl", (lambda r: (r["question_id"], r["sample"]))
        cache = target / "cache.sqlite"
        results = [
            normalise(json.loads((d / "results.json").read_text())) for d in (reference, target)
        ]
        summaries = [(d / "summary.md").read_text() for d in (reference, target)]
        extra_equal = results[0] == results[1] and summaries[0] == summaries[1]
    want, _, _ = rows_by_id(reference / name, key)
    got, rows, bad_lines = rows_by_id(target / name, key)
    return {
        "kills": landed,
        "requests": total,
        "lost": len(set(want) - set(got)),
        "duplicated": rows - len(got),
        "repeated_cache": ResponseCache(cache).repeated(),
        "repeated_server": sum(c - 1 for c in served.values()),
        "bad_lines": bad_lines,
        "equal": want == got and extra_equal,
    }


# -- 2. a failing server -----------------------------------------------------------------------


def failing_server(server: FaultServer, work: Path, n: int) -> dict[str, Any]:
    run = RunDir(work / "failing").ensure()
    write_jsonl(run.questions, arithmetic_questions(n))
    prefix = "/chaos/20/failing"
    options = backend_options(
        server.url("chaos", 20, "failing"), timeout=0.5, max_retries=1, backoff_base=0.05,
        backoff_max=0.2,
    )  # fmt: skip
    start = time.perf_counter()
    backend = make_backend("openai", MODEL, **options)
    run_annotate(run, backend, ANNOTATE)
    wall = time.perf_counter() - start
    attempts = list(read_jsonl(run.attempts))
    failed = [a for a in attempts if a.get("error")]
    failed_keys = {_request_key(backend, a) for a in failed}
    reasons = Counter(_reason_kind(a["error"]) for a in failed)
    tried_before = Counter(server.requests[prefix])
    served_before = set(server.served[prefix])
    faults_first = sum(server.faults.values())
    tries_first = sum(tried_before.values())

    run_annotate(run, make_backend("openai", MODEL, **options), ANNOTATE)  # the re-run
    resent = {k for k, c in server.requests[prefix].items() if c > tried_before.get(k, 0)}
    again = [a for a in read_jsonl(run.attempts) if a.get("error")]
    return {
        "requests": len(tried_before),
        "tries": tries_first,
        "faulted_tries": faults_first,
        "faults": dict(server.faults),
        "wall_s": wall,
        "failures": len(failed),
        "with_reason": sum(bool(a["error"].strip()) for a in failed),
        "reasons": dict(reasons),
        "failed_requests": len(failed_keys),
        "rerun_retried": len(resent & failed_keys),
        "rerun_resent_other": len((resent & set(tried_before)) - failed_keys),
        "rerun_resent_answered": len(resent & served_before),
        "rerun_new": len(resent - set(tried_before)),
        "failures_after_rerun": len(again) - len(failed),
    }


def _request_key(backend: Any, attempt: dict) -> str:
    """The server's key of the request an attempt made (its exact payload)."""
    from dataclasses import replace

    from fault_server import request_key
    from sciinstruct.llm import GenerationRequest

    params = replace(ANNOTATE.plan.params(0), seed=attempt["metadata"]["seed"])
    return request_key(backend._payload(GenerationRequest(attempt["messages"], params)))


def _reason_kind(error: str) -> str:
    for pattern, kind in (
        ("HTTP 500", "500"), ("HTTP 429", "429"), ("no response within", "timeout"),
        ("malformed response", "malformed JSON"), ("connection error", "connection reset/cut"),
    ):  # fmt: skip
        if pattern in error:
            return kind
    return error[:40]


# -- 3. bad input ------------------------------------------------------------------------------

Case = tuple[str, str, Callable[[Path], Path], list[tuple[int, str | None]], int]


def _jsonl(lines: list[bytes]) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        path = path.with_suffix(".jsonl")
        path.write_bytes(b"".join(lines))
        return path

    return build


def _good(case: int, k: int) -> dict[str, str]:
    return {"question": f"Case {case}, good row {k}: what is {k} + 1?", "answer": str(k + 1)}


def _line(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


def bad_input_cases() -> list[Case]:
    """(kind, format, build(path) -> file, [(line, field)] refused, good rows kept)."""
    cases: list[Case] = []

    def jsonl_row(kind: str, bad: bytes, field: str | None) -> None:
        i = len(cases)
        lines = [_line(_good(i, 0)), bad, _line(_good(i, 1))]
        cases.append((kind, "jsonl", _jsonl(lines), [(2, field)], 2))

    jsonl_row("number where text is required", _line({"question": 17, "answer": "x"}), "question")
    jsonl_row("list as question", _line({"question": ["a", "b"], "answer": "x"}), "question")
    jsonl_row("object as question", _line({"question": {"t": 1}, "answer": "x"}), "question")
    jsonl_row("bool as answer", _line({"question": "Q?", "answer": True}), "answer")
    jsonl_row("number as unit", _line({"question": "Q?", "answer": "1", "unit": 3}), "unit")
    jsonl_row("null answer", _line({"question": "Q?", "answer": None}), "answer")
    jsonl_row("missing question", _line({"answer": "1"}), "question")
    jsonl_row("missing answer", _line({"question": "Q?"}), "answer")
    jsonl_row("blank question", _line({"question": "   ", "answer": "1"}), "question")
    jsonl_row(
        "NUL byte (escaped) in text", _line({"question": "a\u0000b", "answer": "1"}), "question"
    )
    jsonl_row("raw NUL byte in a line", b'{"question": "a\x00b", "answer": "1"}\n', None)
    jsonl_row("invalid UTF-8", b'{"question": "caf\xc3(", "answer": "1"}\n', None)
    jsonl_row("mixed encodings (a Latin-1 line)", '{"question": "Größe?", "answer": "1"}\n'.encode("latin-1"), None)  # fmt: skip
    jsonl_row("huge field (300,000 characters)", _line({"question": "x" * 300_000, "answer": "1"}), "question")  # fmt: skip
    jsonl_row("NaN answer", b'{"question": "Q?", "answer": NaN}\n', "answer")
    jsonl_row("Infinity answer", b'{"question": "Q?", "answer": Infinity}\n', "answer")
    jsonl_row("integer of 5,000 digits", b'{"question": "Q?", "answer": ' + b"9" * 5000 + b"}\n", None)  # fmt: skip
    jsonl_row("nesting 100,000 deep", b'{"question": "Q?", "answer": "1", "m": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", None)  # fmt: skip
    jsonl_row("unknown answer_type", _line({"question": "Q?", "answer": "1", "answer_type": "essay"}), "answer_type")  # fmt: skip
    jsonl_row(
        "choices not a list", _line({"question": "Q?", "answer": "1", "choices": 5}), "choices"
    )
    jsonl_row("choices as broken JSON text", _line({"question": "Q?", "answer": "1", "choices": "[oops"}), "choices")  # fmt: skip
    jsonl_row("metadata not an object", _line({"question": "Q?", "answer": "1", "metadata": [1]}), "metadata")  # fmt: skip
    jsonl_row("a JSON array, not an object", _line(["Q?", "1"]), None)
    jsonl_row("invalid JSON mid-file", b'{"question": "Q?", "answer": "1"\n', None)
    jsonl_row("byte order mark mid-file", b"\xef\xbb\xbf" + _line({"question": "Q?", "answer": "1"}), None)  # fmt: skip
    i = len(cases)
    cases.append(("duplicate id in one file", "jsonl", _jsonl([
        _line({**_good(i, 0), "id": "dup"}), _line({**_good(i, 1), "id": "dup"}), _line(_good(i, 2)),
    ]), [(2, "id")], 2))  # fmt: skip
    cases.append(("id already in the run, other content", "jsonl", _jsonl([
        _line({"id": "base0", "question": "Changed?", "answer": "2"}), _line(_good(i + 1, 1)),
    ]), [(1, "id")], 1))  # fmt: skip
    i = len(cases)
    cases.append(("truncated last line", "jsonl", _jsonl([
        _line(_good(i, 0)), _line(_good(i, 1)), b'{"question": "cut off', ]), [(3, None)], 2))  # fmt: skip
    cases.append(("empty file", "jsonl", _jsonl([]), [(0, "file")], 0))
    cases.append(("only blank lines", "jsonl", _jsonl([b"\n", b"  \n"]), [(0, "file")], 0))

    def csv_case(kind: str, body: bytes, refused: list[tuple[int, str | None]], kept: int) -> None:
        def build(path: Path) -> Path:
            path = path.with_suffix(".csv")
            path.write_bytes(body)
            return path

        cases.append((kind, "csv", build, refused, kept))

    c = len(cases)
    csv_case("row with more cells than the header", f"question,answer\nCSV {c} q1?,1\nq2?,2,extra\nCSV {c} q3?,3\n".encode(), [(3, None)], 2)  # fmt: skip
    csv_case(
        "invalid UTF-8 in a cell",
        f"question,answer\nCSV {c + 1} q1?,1\nq\xff2?,2\nCSV {c + 1} q3?,3\n".encode("latin-1"),
        [(3, None)],
        2,
    )  # fmt: skip  (the reason names the column)
    csv_case("NUL byte in a cell", f"question,answer\nCSV {c + 2} q1?,1\nq\x002?,2\nCSV {c + 2} q3?,3\n".encode(), [(3, "question")], 2)  # fmt: skip
    csv_case("empty answer cell", f"question,answer\nCSV {c + 3} q1?,1\nq2?,\nCSV {c + 3} q3?,3\n".encode(), [(3, "answer")], 2)  # fmt: skip
    csv_case("huge cell (300,000 characters)", f"question,answer\nCSV {c + 4} q1?,1\n{'y' * 300_000},2\nCSV {c + 4} q3?,3\n".encode(), [(3, "question")], 2)  # fmt: skip
    csv_case("byte order mark at the start (kept: not data)", f"\ufeffquestion,answer\nCSV {c + 5} q1?,1\nCSV {c + 5} q2?,2\n".encode(), [], 2)  # fmt: skip

    def parquet_case(kind: str, table: dict[str, list], refused: list, kept: int) -> None:
        def build(path: Path) -> Path:
            import pyarrow as pa
            import pyarrow.parquet as pq

            path = path.with_suffix(".parquet")
            pq.write_table(pa.table(table), path)
            return path

        cases.append((kind, "parquet", build, refused, kept))

    p = len(cases)
    parquet_case("integer column where text is required", {"question": [1, 2], "answer": ["a", "b"]}, [(1, "question"), (2, "question")], 0)  # fmt: skip
    parquet_case("null answer", {"question": [f"P{p} q1?", f"P{p} q2?"], "answer": ["1", None]}, [(2, "answer")], 1)  # fmt: skip
    parquet_case("list column as question", {"question": [["a"], ["b"]], "answer": ["1", "2"]}, [(1, "question"), (2, "question")], 0)  # fmt: skip
    parquet_case("binary column as question", {"question": [b"\xff\x00", f"P{p + 3} q?".encode()], "answer": ["1", "2"]}, [(1, "question"), (2, "question")], 0)  # fmt: skip

    def corrupt_parquet(path: Path) -> Path:
        path = path.with_suffix(".parquet")
        path.write_bytes(b"PAR1" + os.urandom(64))
        return path

    cases.append(("corrupt Parquet file", "parquet", corrupt_parquet, [(0, "file")], 0))

    def hf_case(kind: str, table: dict[str, list], refused: list, kept: int) -> None:
        def build(path: Path) -> Path:
            import datasets

            datasets.disable_progress_bars()
            datasets.Dataset.from_dict(table).save_to_disk(str(path))
            return path

        cases.append((kind, "hf", build, refused, kept))

    h = len(cases)
    hf_case("integer column where text is required", {"question": [1, 2], "answer": ["a", "b"]}, [(1, "question"), (2, "question")], 0)  # fmt: skip
    hf_case("missing answer column", {"question": [f"H{h} q1?"], "solution": ["s"]}, [(1, "answer")], 0)  # fmt: skip
    hf_case("NUL byte and a good row", {"question": ["a\x00b", f"H{h} q2?"], "answer": ["1", "2"]}, [(1, "question")], 1)  # fmt: skip

    def not_a_dataset(path: Path) -> Path:
        path.mkdir()
        (path / "data.arrow").write_bytes(b"not arrow")
        return path

    cases.append(("directory that is not a saved dataset", "hf", not_a_dataset, [(0, "file")], 0))
    return cases


def bad_input(work: Path) -> dict[str, Any]:
    from sciinstruct.errors import InputError
    from sciinstruct.ingest import ingest

    run = RunDir(work / "ingest").ensure()
    base = work / "base.jsonl"
    base.write_bytes(b"".join(_line({"id": f"base{k}", **_good(-1, k)}) for k in range(5)))
    ingest(base, run)
    details = []
    for number, (kind, fmt, build, refused, kept) in enumerate(bad_input_cases()):
        before = run.questions.read_bytes()
        rejected_before = len(list(read_jsonl(run.rejected)))
        path = build(work / f"case{number:02d}")
        got: list[tuple[int, str | None]] = []
        named = True
        accepted = 0
        try:
            result = ingest(path, run)
            accepted = result.accepted
            for r in result.rejected:
                got.append((r["line"], r["field"]))
                named &= r["file"] == str(path) and bool(r["reason"])
        except InputError as exc:  # a whole-file problem: one line naming the file
            got.append((0, "file"))
            named &= str(path) in str(exc) and "\n" not in str(exc)
        after = run.questions.read_bytes()
        ok = got == refused and accepted == kept and named and after.startswith(before)
        on_disk = len(list(read_jsonl(run.rejected))) - rejected_before
        details.append({
            "kind": kind, "format": fmt, "expected": refused, "got": got, "kept": accepted,
            "intact": after.startswith(before), "ok": ok and on_disk == len(got) - (got[:1] == [(0, "file")]),
        })  # fmt: skip
    return {
        "kinds": len(details),
        "ok": sum(d["ok"] for d in details),
        "refused_rows": sum(len(d["got"]) for d in details),
        "details": details,
    }


# -- 4. disk full and a read-only run directory ------------------------------------------------


def _mount_tmpfs(size: str) -> Path | None:
    if os.geteuid() != 0:
        return None
    point = Path(tempfile.mkdtemp(prefix="chaos-tmpfs-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                          capture_output=True)  # fmt: skip
    return point if done.returncode == 0 else None


def _umount(point: Path) -> None:
    subprocess.run(["umount", str(point)], check=True, capture_output=True)
    point.rmdir()


def _annotate_cli(
    run: Path, url: str, limit_bytes: int | None = None
) -> subprocess.CompletedProcess:
    import resource

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    argv = [sys.executable, "-m", "sciinstruct.cli.main", "--quiet", "annotate", "--run", str(run),
            "--backend", "openai", "--base-url", url, "--model", MODEL, "-k", "2",
            "--max-tokens", "64", "--batch-size", "8", "--concurrency", "2"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300,
                          preexec_fn=limit if limit_bytes else None)  # fmt: skip


def _intact(run: Path) -> bool:
    """Every line of every JSONL file reads, and the cache passes SQLite's integrity check."""
    from sciinstruct.jsonl import BadLine

    for path in run.glob("*.jsonl"):
        bad: list[BadLine] = []
        list(read_jsonl(path, bad))
        if bad or not path.read_bytes().endswith(b"\n"):
            return False
    if (run / "cache.sqlite").exists():
        db = sqlite3.connect(run / "cache.sqlite")
        try:
            return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()  # closed, or the tmpfs could not be unmounted
    return True


def _ids(run: Path) -> set[str]:
    return {r["id"] for r in read_jsonl(run / "attempts.jsonl")}


def storage(server: FaultServer, work: Path, n: int) -> dict[str, Any]:
    questions = arithmetic_questions(n)
    url = server.url("ok", 0, "storage")
    reference = work / "storage_reference"
    write_jsonl(RunDir(reference).ensure().questions, questions)
    if _annotate_cli(reference, url).returncode != 0:
        raise RuntimeError("the reference CLI run failed")
    want = _ids(reference)
    out: dict[str, Any] = {}

    # disk full: an 8 MiB tmpfs filled up to ~48 KB free, or else a 48 KB file size limit
    point = _mount_tmpfs("8m")
    try:
        run = (point or work) / "full"
        write_jsonl(RunDir(run).ensure().questions, questions)
        if point:
            out["disk_full_how"] = "tmpfs of 8 MiB, filled to 48 KB free"
            free = os.statvfs(point).f_bavail * os.statvfs(point).f_frsize
            (point / "filler").write_bytes(b"\0" * max(0, free - 48_000))
            failed = _annotate_cli(run, url)
            (point / "filler").unlink()  # space returns
        else:
            out["disk_full_how"] = "RLIMIT_FSIZE of 48 KB in the child (EFBIG, SIGXFSZ ignored)"
            failed = _annotate_cli(run, url, limit_bytes=48_000)
        out["disk_full"] = _storage_outcome(failed, run, url, want)
    finally:
        if point:
            _umount(point)

    # read-only: a tmpfs remounted read-only, or else a directory without write permission
    point = _mount_tmpfs("4m")
    try:
        run = (point or work) / "readonly"
        write_jsonl(RunDir(run).ensure().questions, questions)
        if point:
            out["readonly_how"] = "tmpfs remounted read-only"
            subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
            failed = _annotate_cli(run, url)
            subprocess.run(["mount", "-o", "remount,rw", str(point)], check=True)
        else:
            out["readonly_how"] = "chmod a-w on the run directory"
            os.chmod(run, 0o555)
            failed = _annotate_cli(run, url)
            os.chmod(run, 0o755)
        out["readonly"] = _storage_outcome(failed, run, url, want)
    finally:
        if point:
            _umount(point)
    return out


def _storage_outcome(
    failed: subprocess.CompletedProcess, run: Path, url: str, want: set[str]
) -> dict:
    lines = failed.stderr.strip().splitlines()
    intact = _intact(run)
    partial = len(_ids(run)) if (run / "attempts.jsonl").exists() else 0
    resumed = _annotate_cli(run, url)
    return {
        "exit": failed.returncode,
        "message": lines[-1] if lines else "",
        "one_line": len(lines) == 1 and lines[0].startswith("error: "),
        "intact": intact,
        "attempts_before_resume": partial,
        "resumed": resumed.returncode == 0 and _ids(run) == want and _intact(run),
        "resume_error": resumed.stderr.strip()[-300:] if resumed.returncode else "",
    }


# -- 5. hostile grader input -------------------------------------------------------------------


def hostile_grading(timeout: float) -> dict[str, Any]:
    from sciinstruct.grading import grade

    bad_utf8 = b"\xff\xfe 42 \xc3(".decode("utf-8", "surrogateescape")
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        ("parentheses nested 10,000 deep", "(" * 10_000 + "1" + ")" * 10_000, "1", {}),
        ("\\frac nested 2,000 deep", "\\frac{1}{" * 2000 + "2" + "}" * 2000, "1/2", {}),
        ("\\boxed nested 5,000 deep", "\\boxed{" * 5000 + "1" + "}" * 5000, "1", {}),
        ("\\sqrt nested 3,000 deep", "\\sqrt{" * 3000 + "2" + "}" * 3000, "2", {}),
        ("unclosed \\boxed{ x 1,000", "\\boxed{" * 1000, "1", {}),
        ("tower 10^{10^{10^{10}}}", "\\boxed{10^{10^{10^{10}}}}", "1", {}),
        ("9**9**9**9", "\\boxed{9**9**9**9}", "1", {}),
        ("2^(2^(2^(2^(2^30))))", "the answer is 2^(2^(2^(2^(2^30))))", "4", {}),
        ("1e999999999", "\\boxed{1e999999999}", "1", {"answer_type": "numeric"}),
        ("100000!", "\\boxed{100000!}", "1", {}),
        ("100,000-character answer", "1 + " * 25_000, "1", {}),
        ("100,000-digit number", "\\boxed{" + "9" * 100_000 + "}", "9", {}),
        ("100,000-character reference", "1", "x" * 100_000, {}),
        ("NUL bytes", "\x00" * 1000 + "\\boxed{42}\x00", "42", {}),
        ("invalid UTF-8 (surrogate-escaped bytes)", bad_utf8, "42", {}),
        ("invalid UTF-8 in the reference", "42", bad_utf8, {}),
        (
            "matrix 100 x 100",
            "\\boxed{\\begin{pmatrix}"
            + "\\\\".join(["&".join(["x"] * 100)] * 100)
            + "\\end{pmatrix}}",
            "1",
            {},
        ),  # fmt: skip
        ("units: 1e308 kJ against 1 J", "1e308 kJ", "1 J", {"answer_type": "numeric", "unit": "J"}),
        ("units with a hostile exponent", "10**10**10 m", "1 m", {"answer_type": "numeric"}),
        ("SMILES of 100,000 atoms", "C" * 100_000, "CCO", {"answer_type": "smiles"}),
        ("SMILES ring closures x 5,000", "C1" * 5000, "CCO", {"answer_type": "smiles"}),
        (
            "choice of 100,000 characters",
            "A" * 100_000,
            "A",
            {"answer_type": "choice", "choices": ["x", "y"]},
        ),  # fmt: skip
        ("\\int of a tower", "\\boxed{\\int_0^\\infty e^{x^{x^{x^{x}}}} dx}", "1", {}),
        ("code in the answer", "\\boxed{__import__('os').system('touch /tmp/pwned')}", "0", {}),
    ]
    rows = []
    for name, pred, gold, kw in cases:
        start = time.perf_counter()
        try:
            verdict = grade(pred, gold, timeout=timeout, **kw)
            outcome = f"{verdict.correct} ({verdict.reason[:50]})"
            ok = True
        except Exception as exc:  # noqa: BLE001 - the figure is whether this ever happens
            outcome, ok = f"raised {type(exc).__name__}: {str(exc)[:60]}", False
        rows.append(
            {"case": name, "wall_s": time.perf_counter() - start, "verdict": outcome, "ok": ok}
        )
    return {
        "cases": len(rows),
        "verdicts": sum(r["ok"] for r in rows),
        "max_wall_s": max(r["wall_s"] for r in rows),
        "timeout_s": timeout,
        "pwned": Path("/tmp/pwned").exists(),
        "details": rows,
    }


# -- the table ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grade-timeout", type=float, default=5.0)
    parser.add_argument("--child", nargs=4, metavar=("KIND", "TARGET", "URL", "QFILE"))
    args = parser.parse_args()
    if args.child:
        kind, target, url, qfile = args.child
        child(kind, target, url, qfile or None)
        return

    from sciinstruct.log import set_verbosity

    set_verbosity(quiet=True)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    try:
        with run_fault_server(hang_s=1.0, lifetime_s=900, answer=arithmetic_answer,
                              answer_delay_s=ANSWER_DELAY_S, retry_after_s=0.2,
                              seed=args.seed) as server:  # fmt: skip
            kills = {k: kill_run(server, k, work, args.questions, args.kills, rng)
                     for k in ("annotate", "eval")}  # fmt: skip
            failing = failing_server(server, work, args.questions)
            disk = storage(server, work, args.questions)
        bad = bad_input(work)
        grading = hostile_grading(args.grade_timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.perf_counter() - started
    report(args, kills, failing, bad, disk, grading, wall)


def report(args, kills, failing, bad, disk, grading, wall) -> None:  # noqa: ANN001
    backend = f"openai backend against a deterministic OpenAI-compatible server on 127.0.0.1 ({ANSWER_DELAY_S * 1000:.0f} ms/answer)"  # fmt: skip
    rows = []
    for kind, k in kills.items():
        rows.append([
            f"1. kill -9 {kind}",
            f"{args.questions} questions, {k['requests']} requests, {k['kills']} kills landed; {backend}",
            f"lost {k['lost']} / duplicated {k['duplicated']} / repeated LLM calls {k['repeated_cache']} (cache) "
            f"/ files {'equal' if k['equal'] else 'DIFFERENT'}; server re-answered {k['repeated_server']} "
            "(answers in flight when a kill landed, never received)",
            "0 / 0 / 0 / equal",
        ])  # fmt: skip
    f = failing
    rows.append([
        "2. failing server",
        f"{f['faulted_tries']}/{f['tries']} tries faulted ({100 * f['faulted_tries'] / max(1, f['tries']):.0f}%): "
        + ", ".join(f"{k} {v}" for k, v in sorted(f["faults"].items())) + "; client: 2 tries, 0.5 s timeout",
        f"completed in {f['wall_s']:.1f} s; {f['failures']} permanent failures, {f['with_reason']} with reason "
        f"({', '.join(f'{k} {v}' for k, v in sorted(f['reasons'].items()))}); re-run re-sent "
        f"{f['rerun_retried']} of the {f['failed_requests']} failed requests, {f['rerun_resent_other']} others "
        f"({f['rerun_resent_answered']} answered ones), +{f['rerun_new']} new later-stage requests",
        "completes; all with reason; re-run retries only those",
    ])  # fmt: skip
    rows.append([
        "3. bad input",
        f"{bad['kinds']} kinds across JSONL, CSV, Parquet, HF dataset dirs, into a run holding 5 questions",
        f"{bad['ok']}/{bad['kinds']} kinds handled as expected ({bad['refused_rows']} refusals, each with file, line, field); run intact",
        "all",
    ])  # fmt: skip
    for key, how in (("disk_full", "disk_full_how"), ("readonly", "readonly_how")):
        d = disk[key]
        rows.append([
            f"4. {'disk full' if key == 'disk_full' else 'read-only run dir'}",
            disk[how],
            f"exit {d['exit']}, one line: {d['one_line']}; files intact: {d['intact']}; "
            f"resumed to the reference result: {d['resumed']}",
            "one line, intact, resumes",
        ])  # fmt: skip
    g = grading
    rows.append([
        "5. hostile grader input",
        f"{g['cases']} cases (nesting, towers, 100,000-char answers, NUL, invalid UTF-8, ...), timeout {g['timeout_s']:g} s",
        f"{g['verdicts']}/{g['cases']} verdicts; max wall {g['max_wall_s']:.2f} s; code executed: {g['pwned']}",
        f"all, each within {g['timeout_s']:g} s",
    ])  # fmt: skip
    table = md_table(["check", "setup", "result", "goal"], rows)
    print("\n".join(table))
    print(f"\nwhole bench: {wall:.0f} s")

    details = ["", "## Bad input, kind by kind", ""]
    details += md_table(
        ["kind", "format", "refused (line, field) expected", "got", "good rows kept", "ok"],
        [[d["kind"], d["format"], d["expected"], d["got"], d["kept"], d["ok"]] for d in bad["details"]],
    )  # fmt: skip
    details += ["", "## Disk full and read-only: the error line", ""]
    details += md_table(
        ["case", "how", "stderr"],
        [[key, disk[how], disk[key]["message"]]
         for key, how in (("disk_full", "disk_full_how"), ("readonly", "readonly_how"))],
    )  # fmt: skip
    details += ["", "## Hostile grader input, case by case", ""]
    details += md_table(
        ["case", "wall s", "verdict"],
        [[r["case"], f"{r['wall_s']:.3f}", r["verdict"]] for r in grading["details"]],
        align="lrl",
    )
    command = "PYTHONPATH=src .venv/bin/python bench/bench_chaos.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "child"
    )
    header = [
        "# Chaos: kills, a failing server, bad input, a full disk, hostile grader input",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"whole bench {wall:.0f} s. Command: `{command}`",
        "",
    ]
    out = ROOT / "bench" / "results" / "chaos.md"
    out.write_text("\n".join(header + table + details) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
