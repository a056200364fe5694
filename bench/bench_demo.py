"""The demo, old engine against new: each stage's wall and CPU seconds, side by side.

Runs `sciinstruct demo` twice at once (so load from the machine's other users falls on both
alike): once with the one-at-a-time llama.cpp engine (`backend.options.slots=1`) and the base
model's eval on transformers, as the demo ran before issue 24, and once as it runs now. Each
demo runs in its own process, which times every flow stage (wall, and the process's CPU
seconds: llama.cpp's and torch's threads included) and writes them to `stages.json` in its run
directory. Then the table:

    nice -n 10 .venv/bin/python bench/bench_demo.py --workdir /tmp/demo-bench \
        --set limit=16 --set generate.n=12 --set critique.limit=8 --set train.max_steps=2

`--set` applies to both demos (a reduced size for iteration; none: the full demo). The two
runs' annotate texts are compared (attempts.jsonl's responses): identical when both compute
with the same attention kernel; the new engine's default kernel (flash attention) gives
other texts than the old engine's, so the table then says how many differ.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# What the demo ran before issue 24's engine reached it: llama.cpp one request at a time with
# its default attention kernel, both models' eval on transformers at 24 questions a call (the
# recipe's eval backend then), and torch at its own default threads (the child sets
# OMP_NUM_THREADS to it)
OLD = [
    "backend.options.slots=1",
    "backend.options.flash_attn=false",
    "eval.base_backend.name=null",
    "eval.backend.name=transformers",
    "eval.backend.batch_size=24",
]


def child(out: Path, overrides: list[str]) -> None:
    """Run the demo into `out`, timing each flow stage; write `out/stages.json`."""
    from sciinstruct.cli.run import DEMO_RECIPE, _parse_overrides
    from sciinstruct.flow import Flow
    from sciinstruct.recipe import load_recipe

    if OLD[0] in overrides:  # torch at its own default threads, as before llm/threads.py
        import torch

        os.environ["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    settings = _parse_overrides(overrides)
    settings["run_dir"] = str(out)
    flow = Flow(load_recipe(DEMO_RECIPE, settings))
    stages: dict[str, dict[str, float]] = {}
    for name in [n for n in dir(flow) if n.startswith("stage_")]:
        method = getattr(flow, name)

        def timed(method=method, name=name[len("stage_") :]):  # noqa: ANN202
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return method()
            finally:
                stages[name] = {
                    "wall_s": round(time.perf_counter() - wall, 2),
                    "cpu_s": round(time.process_time() - cpu, 2),
                }
                (out / "stages.json").write_text(json.dumps(stages, indent=1), encoding="utf-8")

        setattr(flow, name, timed)
    flow.run_all()


def responses(run: Path) -> list[tuple[str, str]]:
    path = run / "attempts.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return sorted((r["id"], r["response"]) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-demo"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.overrides)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    runs = {"old": OLD, "new": []}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    procs = {}
    started = time.perf_counter()
    for label, extra in runs.items():
        out = args.workdir / label
        if out.exists():
            raise SystemExit(f"{out} exists: give a fresh --workdir")
        sets = [f"--set={s}" for s in [*args.overrides, *extra]]
        log = (args.workdir / f"{label}.log").open("w")
        procs[label] = subprocess.Popen(
            [sys.executable, __file__, "--child", str(out), *sets],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    for label, proc in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"the {label} demo failed: see {args.workdir / label}.log")
    wall = time.perf_counter() - started
    table = {
        label: json.loads((args.workdir / label / "stages.json").read_text(encoding="utf-8"))
        for label in runs
    }
    print(f"both demos at once, {wall:.0f} s; sizes: {' '.join(args.overrides) or 'full'}")
    print("| stage | old wall s | new wall s | old / new | old CPU s | new CPU s | old / new |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    totals = {"old": [0.0, 0.0], "new": [0.0, 0.0]}
    for stage in table["old"]:
        old, new = table["old"][stage], table["new"].get(stage, {"wall_s": 0, "cpu_s": 0})
        for label, row in (("old", old), ("new", new)):
            totals[label][0] += row["wall_s"]
            totals[label][1] += row["cpu_s"]
        print(
            f"| {stage} | {old['wall_s']:.1f} | {new['wall_s']:.1f} | "
            f"{_ratio(old['wall_s'], new['wall_s'])} | {old['cpu_s']:.1f} | {new['cpu_s']:.1f} | "
            f"{_ratio(old['cpu_s'], new['cpu_s'])} |"
        )
    (ow, oc), (nw, nc) = totals["old"], totals["new"]
    print(
        f"| **all** | {ow:.1f} | {nw:.1f} | **{_ratio(ow, nw)}** | {oc:.1f} | {nc:.1f} | "
        f"{_ratio(oc, nc)} |"
    )
    old, new = dict(responses(args.workdir / "old")), dict(responses(args.workdir / "new"))
    same = sum(old[k] == new[k] for k in old.keys() & new.keys())
    print(f"annotate texts identical in both runs: {same} of {len(old)} old, {len(new)} new "
          "attempts (flash attention, the new default, changes texts)")  # fmt: skip


def _ratio(old: float, new: float) -> str:
    return f"{old / new:.2f}x" if new > 0 else "-"


if __name__ == "__main__":
    main()
