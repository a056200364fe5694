"""Peak RSS of ingest, filter, curate and export on kept run directories, old code against
new, and whether the two wrote the same bytes.

Each run directory (from `bench_scale.py --keep`, annotated already) is copied once per code
version; the stages run on the copy as the CLI would, one process each, measured by `wait4`.
ingest reads the run's own questions.jsonl into a fresh run (`COPY/ingested`); filter, curate
and export work on the copy itself. The old code is a source tree of an earlier commit
(`git archive REV | tar -x -C DIR`).

    git archive main | tar -x -C /tmp/before
    PYTHONPATH=src python bench/bench_stage_memory.py RUN_10K RUN_100K --before /tmp/before/src
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("ingest", "filter", "curate", "export")
# What the stages write; stats.json is left out (it holds timings).
OUTPUTS = (
    "ingested/questions.jsonl",
    "ingested/rejected.jsonl",
    "filtered.jsonl",
    "samples.jsonl",
    "dropped.jsonl",
    "export",
)


def stage_argv(stage: str, run: Path, filter_options: list[str]) -> list[str]:
    """The command line of one stage on the run directory `run`."""
    if stage == "ingest":
        return ["ingest", str(run / "questions.jsonl"), "--run", str(run / "ingested")]
    if stage == "filter":
        return ["filter", str(run), *filter_options]
    if stage == "export":
        return ["export", str(run), "--format", "sft,rft,dpo,grpo"]
    return [stage, str(run)]


def run_stage(src: Path, run: Path, stage: str, filter_options: list[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and CPU s of one stage on `run`, with the package from `src`."""
    argv = [sys.executable, "-m", "sciinstruct.cli.main", "--quiet"]
    argv += stage_argv(stage, run, filter_options)
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{stage} failed on {run} with {src}")
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def differing(a: Path, b: Path) -> list[str]:
    """Output files that differ (or exist on one side only) between two run directories."""
    out = []
    for name in OUTPUTS:
        left, right = a / name, b / name
        if left.is_dir() or right.is_dir():
            names = {p.name for p in (*left.glob("*"), *right.glob("*")) if p.is_file()}
            out += [f"{name}/{n}" for n in sorted(names) if not _same(left / n, right / n)]
        elif not _same(left, right):
            out.append(name)
    return out


def _same(a: Path, b: Path) -> bool:
    """Same bytes; Parquet files of several row groups may be split differently but must
    hold the same table."""
    if not a.exists() or not b.exists():
        return a.exists() == b.exists()
    if filecmp.cmp(a, b, shallow=False):
        return True
    if a.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(a).equals(pq.read_table(b))
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument(
        "--before", type=Path, default=None, help="src/ of the old code (none: --after alone)"
    )
    parser.add_argument("--after", type=Path, default=ROOT / "src", help="src/ of the new code")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument(
        "--max-train", type=int, default=None, help="filter's --max-train (default: its own)"
    )
    args = parser.parse_args()
    stages = args.stages.split(",")
    filter_options = [] if args.max_train is None else ["--max-train", str(args.max_train)]
    work = Path(tempfile.mkdtemp(prefix="stage-memory-"))
    codes = (
        {"after": args.after}
        if args.before is None
        else {"before": args.before, "after": args.after}
    )
    print("| run | stage | " + " | ".join(f"{c} MiB" for c in codes) + " | "
          + " | ".join(f"{c} CPU s" for c in codes) + " |")  # fmt: skip
    print("|---|---|" + "---:|" * 2 * len(codes))
    try:
        for run in args.runs:
            copies = {}
            figures = {}
            for label, src in codes.items():
                copy = work / label / run.name  # the same name: the card shows it
                shutil.copytree(run, copy)
                copies[label] = copy
                for stage in stages:
                    figures[label, stage] = run_stage(src, copy, stage, filter_options)
            for stage in stages:
                rss = " | ".join(f"{figures[c, stage][0]:,.0f}" for c in codes)
                cpu = " | ".join(f"{figures[c, stage][1]:.1f}" for c in codes)
                print(f"| {run.name} | {stage} | {rss} | {cpu} |")
            if args.before is not None:
                diff = differing(copies["before"], copies["after"])
                print(
                    f"{run.name}: outputs {'differ: ' + ', '.join(diff) if diff else 'identical'}"
                )
            for copy in copies.values():
                shutil.rmtree(copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
