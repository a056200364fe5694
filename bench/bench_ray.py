"""The Ray executor against the local path on one machine: same questions, side by side.

`run_annotate` runs N questions (cot -> reflect -> hinted) twice in one process: first on the
local path (the embedded model in-process: llama.cpp, one context per core), then on a local
Ray cluster (one engine actor per core, each a one-context llama.cpp, grading in Ray tasks).
Same seeds, so the same requests and the same completion tokens; the bench checks that the
attempts are identical. Figures:

- tokens/s of Ray as a fraction of local (goal >= 0.85: on one machine Ray can only add cost);
- scheduling overhead per question: the engines' idle time (wall x engines - the engines' own
  time, from each completion's latency) per question, Ray minus local.

    .venv/bin/python bench/bench_ray.py [--questions 100] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.distributed import ExecutorConfig, LocalExecutor, RayExecutor
from sciinstruct.jsonl import read_jsonl, write_jsonl

DATA = Path(__file__).parents[1] / "src" / "sciinstruct" / "data" / "questions"
RESULTS = Path(__file__).parent / "results" / "ray.md"


def _run(name: str, executor: Any, run: Path, config: AnnotateConfig) -> dict[str, Any]:
    backend = executor.backend("embedded", None, {})
    engines = len(getattr(backend, "actors", [])) or getattr(backend, "parallel", 1)
    start = time.perf_counter()
    try:
        run_annotate(run, backend, config, grading=executor.agrade)
    finally:
        wall = time.perf_counter() - start
        backend.close()
        executor.close()
    attempts = list(read_jsonl(run / "attempts.jsonl"))
    tokens = sum(a["usage"]["completion_tokens"] for a in attempts)
    engine_s = sum(a["usage"]["latency_s"] for a in attempts)
    return {
        "name": name,
        "engines": engines,
        "wall": wall,
        "tokens": tokens,
        "requests": len(attempts),
        "engine_s": engine_s,
        "idle_s": wall * engines - engine_s,
        "attempts": sorted((a["id"], a["response"], a["correct"]) for a in attempts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--samples", type=int, default=1)
    args = parser.parse_args()

    cores = os.cpu_count() or 2
    rows = list(read_jsonl(DATA / "demo_train.jsonl"))[: args.questions]
    plan = StagePlan(samples=args.samples, max_tokens=args.max_tokens)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("local", "ray"):
            run = Path(tmp) / name
            run.mkdir()
            write_jsonl(run / "questions.jsonl", rows)
            if name == "local":  # the CLI's in-process default: 16 per call, one call at a time
                executor: Any = LocalExecutor()
                config = AnnotateConfig(plan=plan, batch_size=16, concurrency=1)
            else:  # the CLI's Ray default: two calls in flight per actor
                executor = RayExecutor(ExecutorConfig(name="ray", actors=cores, num_cpus=cores))
                config = AnnotateConfig(plan=plan, batch_size=16, concurrency=2 * cores)
            results.append(_run(name, executor, run, config))
            print(f"{name}: {results[-1]['tokens']} tokens in {results[-1]['wall']:.1f} s")
    local, ray_ = results
    same = local["attempts"] == ray_["attempts"]
    ratio = (ray_["tokens"] / ray_["wall"]) / (local["tokens"] / local["wall"])
    n = len(rows)
    overhead = (ray_["idle_s"] - local["idle_s"]) / n
    load = os.getloadavg()[0]
    lines = [
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {n} | {local['requests']} | "
        f"{local['tokens'] / local['wall']:.1f} | {ray_['tokens'] / ray_['wall']:.1f} | "
        f"**{ratio:.2f}** | {local['idle_s'] / n:.3f} | {ray_['idle_s'] / n:.3f} | "
        f"{overhead:+.3f} | {'yes' if same else 'NO'} | {load:.1f} |"
    ]
    print("\n".join(lines))
    _record(lines[0], args, cores)
    if not same:
        raise SystemExit("the attempts on Ray differ from the local run's")


def _record(row: str, args: argparse.Namespace, cores: int) -> None:
    header = "| date (UTC) | questions | requests | local tok/s | Ray tok/s | ratio | local idle s/q | Ray idle s/q | overhead s/q | same attempts | load |"
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        marker = header + "\n|" + "---|" * 11 + "\n"
        text = text.replace(marker, marker + row + "\n") if marker in text else text
    else:
        text = (
            "# bench_ray: the Ray executor vs the local path on one machine\n\n"
            f"Machine: {cores} shared CPU cores, no GPU, {platform.platform()}, Python "
            f"{platform.python_version()}; the embedded model (SmolLM2-135M Q4_1, llama.cpp).\n"
            f"Command: `.venv/bin/python bench/bench_ray.py --questions {args.questions} "
            f"--max-tokens {args.max_tokens}`. Local: one llama.cpp context per core, 16 "
            f"requests per call. Ray: {cores} engine actors of 1 CPU, 2 calls in flight per "
            "actor, grading in Ray tasks. Idle s/q: (wall x engines - engine time) / questions.\n\n"
            f"{header}\n|" + "---|" * 11 + f"\n{row}\n"
        )
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
