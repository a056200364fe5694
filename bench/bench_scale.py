"""The whole CLI flow at scale: the toolkit's own cost per attempt and each stage's peak memory.

For each size, synthetic questions ("What is A + B?") go through `sciinstruct ingest`,
`annotate` (cot, reflect and hinted) against an instant OpenAI-compatible server on loopback
(bench/instant_server.py, its own process: a third of the questions is solved at cot, a third
at reflect, a third only hinted), then `filter`, `curate`, `export`, `report` and the view
index (`sciinstruct.view.index.build`, what `sciinstruct view` builds at start). Every stage is
its own process, timed and measured by `wait4`: wall time, CPU time (user + system, all its
threads) and peak RSS. The server's answers take no time, so annotate's figures are the
driver's own cost; the server shares the machine's cores, so CPU time is the cleaner figure.

A second part counts, at the server, the most requests in flight at once. It needs a server
that holds each request (`--latency`, 50 ms by default): `sciinstruct annotate -j 64` (the
command path) and `sciinstruct run recipe.yaml` with `backend.options.concurrency: 64` (the
recipe path, measured as the recipe path is now). `--recipe-inflight/--no-recipe-inflight`
is the hook for that second row.

    PYTHONPATH=src .venv/bin/python bench/bench_scale.py                 # 10k and 100k
    PYTHONPATH=src .venv/bin/python bench/bench_scale.py --sizes 10000,100000,1000000

Prints the tables and writes bench/results/scale.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
MODEL = "instant"
SUBJECTS = ("math", "physics", "chemistry", "biology")


@dataclass
class Measured:
    """One stage process: wall seconds, CPU seconds and peak RSS in MiB."""

    stage: str
    wall_s: float
    cpu_s: float
    rss_mib: float


_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]  # 70 syllables


def _words(rng: random.Random, n: int) -> str:
    """`n` made-up words: questions that share no word 3-grams, as real ones mostly don't
    (curate drops near-duplicate questions, and "What is A + B?" alone would all be one)."""
    return " ".join("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))) for _ in range(n))


def write_questions(path: Path, n: int) -> None:
    """`n` distinct synthetic questions; A + B mod 3 decides the stage that solves each."""
    rng = random.Random(n)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            a, b = 17 + (i * 7919) % 100_003, i
            row = {
                "id": f"s{i:07d}",
                "question": f"{_words(rng, 12)}. What is {a} + {b}? Give the exact integer.",
                "answer": str(a + b),
                "subject": SUBJECTS[i % len(SUBJECTS)],
                "answer_type": "numeric",
                "source": "synthetic",
            }
            fh.write(json.dumps(row) + "\n")


def measure(stage: str, argv: list[str], log: Path) -> Measured:
    """Run one stage to the end; its wall time, CPU time and peak RSS from `wait4`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1", "COLUMNS": "120"}
    start = time.perf_counter()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{stage} failed ({proc.returncode}); see {log}")
    # Linux reports ru_maxrss in KiB
    return Measured(stage, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sciinstruct.cli.main", "--quiet", *args]


class Server:
    """bench/instant_server.py in its own process."""

    def __init__(self, latency: float = 0.0) -> None:
        from sciinstruct.llm.serve import free_port

        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = self.root + "/v1"
        argv = [sys.executable, str(HERE / "instant_server.py"), str(self.port), str(latency)]
        self.proc = subprocess.Popen(argv)
        for _ in range(200):
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the instant server did not start")

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.root + "/stats", timeout=5) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.root + "/reset", method="POST"))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def flow(n: int, work: Path, server: Server, args: argparse.Namespace) -> dict[str, object]:
    """The whole flow on `n` questions; returns the stages' measurements and the counts."""
    run = work / f"run-{n}"
    shutil.rmtree(run, ignore_errors=True)
    qfile = work / f"questions-{n}.jsonl"
    write_questions(qfile, n)
    log = work / f"log-{n}.txt"
    stages = [
        ("ingest", cli("ingest", str(qfile), "--run", str(run))),
        ("annotate", cli(
            "annotate", "--run", str(run), "--backend", "openai", "--model", MODEL,
            "--base-url", server.url, "-j", str(args.concurrency),
            "--samples", str(args.samples), "--max-tokens", "64",
        )),  # fmt: skip
        ("filter", cli("filter", str(run))),
        ("curate", cli("curate", str(run))),
        ("export", cli("export", str(run), "--format", "sft,rft,dpo,grpo")),
        ("report", cli("report", str(run))),
        ("view index", [sys.executable, "-c",
            "import sys; from pathlib import Path; from sciinstruct.rundir import RunDir; "
            "from sciinstruct.view.index import build; r = RunDir(sys.argv[1]); "
            "build(r, r.view_index)", str(run)]),
    ]  # fmt: skip
    server.reset()
    measured = []
    for stage, argv in stages:
        if stage in args.skip:
            continue
        m = measure(stage, argv, log)
        measured.append(m)
        print(f"  {n:>9,} {stage:<10} {m.wall_s:8.1f} s wall {m.cpu_s:8.1f} s CPU "
              f"{m.rss_mib:8.0f} MiB", flush=True)  # fmt: skip
    attempts = count_lines(run / "attempts.jsonl")
    result = {
        "questions": n,
        "attempts": attempts,
        "requests": server.stats()["requests"],
        "samples": count_lines(run / "samples.jsonl"),
        "stages": measured,
    }
    if not args.keep:
        shutil.rmtree(run, ignore_errors=True)
        qfile.unlink()
    return result


def write_recipe(path: Path, run: Path, qfile: Path, url: str, concurrency: int) -> None:
    """The README's "use your own server" recipe: ingest and annotate only."""
    recipe = {
        "run_dir": str(run),
        "questions": [str(qfile)],
        "stages": ["ingest", "annotate"],
        "backend": {
            "name": "openai",
            "model": MODEL,
            "options": {"base_url": url, "concurrency": concurrency},
        },
        "annotate": {"plan": {"samples": 1, "max_tokens": 64}, "stages": ["cot"]},
    }
    path.write_text(json.dumps(recipe), encoding="utf-8")


def in_flight(work: Path, args: argparse.Namespace) -> list[tuple[str, int, int, float]]:
    """(path, asked, max in flight at the server, wall s) for the command and recipe paths."""
    server = Server(latency=args.latency)
    rows = []
    try:
        qfile = work / "inflight.jsonl"
        write_questions(qfile, args.inflight_questions)
        log = work / "log-inflight.txt"
        run = work / "run-inflight-cli"
        shutil.rmtree(run, ignore_errors=True)
        server.reset()
        m = measure("annotate -j", cli(
            "annotate", str(qfile), "--run", str(run), "--backend", "openai", "--model", MODEL,
            "--base-url", server.url, "-j", str(args.concurrency), "--samples", "1",
            "--stages", "cot", "--max-tokens", "64",
        ), log)  # fmt: skip
        rows.append((f"`sciinstruct annotate -j {args.concurrency}`", args.concurrency,
                     server.stats()["max_in_flight"], m.wall_s))  # fmt: skip
        if args.recipe_inflight:
            # HOOK (engine-spec, #21): the recipe path, measured as it is now.
            run = work / "run-inflight-recipe"
            shutil.rmtree(run, ignore_errors=True)
            recipe = work / "recipe.yaml"  # JSON is YAML
            write_recipe(recipe, run, qfile, server.url, args.concurrency)
            server.reset()
            m = measure("run recipe", cli("run", str(recipe)), log)
            rows.append((f"`sciinstruct run recipe.yaml` (options.concurrency: "
                         f"{args.concurrency})", args.concurrency,
                         server.stats()["max_in_flight"], m.wall_s))  # fmt: skip
    finally:
        server.close()
    return rows


def tables(results: list[dict], flights: list, args: argparse.Namespace) -> str:
    lines = []
    sizes = [r["questions"] for r in results]
    head = " | ".join(f"{n:,} questions" for n in sizes)
    lines += ["## Annotate: the driver's cost per attempt", "",
              f"| | {head} |", "|---|" + "---:|" * len(sizes)]  # fmt: skip
    ann = [next(m for m in r["stages"] if m.stage == "annotate") for r in results]
    rows = {
        "attempts": [f"{r['attempts']:,}" for r in results],
        "requests at the server": [f"{r['requests']:,}" for r in results],
        "wall s": [f"{m.wall_s:.1f}" for m in ann],
        "**CPU ms per attempt**": [
            f"**{1000 * m.cpu_s / r['attempts']:.3f}**" for m, r in zip(ann, results, strict=False)
        ],
        "wall ms per attempt": [f"{1000 * m.wall_s / r['attempts']:.3f}" for m, r in zip(ann, results, strict=False)],
        "attempts/s": [f"{r['attempts'] / m.wall_s:,.0f}" for m, r in zip(ann, results, strict=False)],
    }  # fmt: skip
    if len(results) > 1:
        base = ann[0].cpu_s / results[0]["attempts"]
        rows[f"CPU per attempt vs {sizes[0]:,}"] = [
            f"{(m.cpu_s / r['attempts']) / base:.2f}x" for m, r in zip(ann, results, strict=False)
        ]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    lines += ["", "## Every stage: wall s / CPU s / peak RSS MiB", "",
              f"| stage | {head} |", "|---|" + "---:|" * len(sizes)]  # fmt: skip
    names = [m.stage for m in results[0]["stages"]]
    for name in names:
        cells = []
        for r in results:
            m = next(x for x in r["stages"] if x.stage == name)
            cells.append(f"{m.wall_s:.1f} / {m.cpu_s:.1f} / {m.rss_mib:,.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| samples kept | " + " | ".join(f"{r['samples']:,}" for r in results) + " |")
    if flights:
        lines += ["", f"## Requests in flight, counted at the server ({args.latency * 1000:.0f} "
                  f"ms per answer, {args.inflight_questions} questions, cot only)", "",
                  "| path | asked | max in flight | wall s |", "|---|---:|---:|---:|"]  # fmt: skip
        for path, asked, got, wall in flights:
            lines.append(f"| {path} | {asked} | {got} | {wall:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated question counts")
    parser.add_argument("--samples", type=int, default=2, help="cot samples per question")
    parser.add_argument("--concurrency", "-j", type=int, default=64)
    parser.add_argument("--skip", default="", help="stages to skip, comma-separated")
    parser.add_argument("--latency", type=float, default=0.05, help="in-flight part: s/answer")
    parser.add_argument("--inflight-questions", type=int, default=1024)
    parser.add_argument("--no-inflight", dest="inflight", action="store_false")
    parser.add_argument(
        "--recipe-inflight", action=argparse.BooleanOptionalAction, default=True,
        help="also count the recipe path's requests in flight (`sciinstruct run`)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    server = Server()
    try:
        results = [flow(n, work, server, args) for n in sizes]
    finally:
        server.close()
    flights = in_flight(work, args) if args.inflight else []
    total = time.perf_counter() - started

    command = "PYTHONPATH=src .venv/bin/python bench/bench_scale.py " + " ".join(sys.argv[1:])
    header = (
        f"# Scale: the driver's cost per attempt and every stage's memory\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, whole bench {total:.0f} s. Command: "
        f"`{command.strip()}`\n\n"
        f"annotate: `--backend openai -j {args.concurrency} --samples {args.samples}`, stages "
        "cot, reflect, hinted, against bench/instant_server.py (answers at once; a third solved "
        "at cot, a third at reflect, a third hinted). CPU = user + system time of the stage's "
        "process, all threads. Peak RSS from wait4."
    )
    text = header + "\n\n" + tables(results, flights, args) + "\n"
    print("\n" + text)
    if args.write:
        (HERE / "results" / "scale.md").write_text(text, encoding="utf-8")
        print(f"wrote {HERE / 'results' / 'scale.md'}")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
