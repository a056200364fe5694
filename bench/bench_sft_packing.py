"""SFT throughput with and without packing on a realistic length mix, on the embedded model.

Curated science data is mostly short answers with some long worked solutions. Without packing a
batch is padded to its longest row, so most of the compute goes to padding; with packing
(TRL's best-fit decreasing, padding-free) rows are laid end to end in max_length blocks.

Each variant trains in its own subprocess (so peak RSS is its own) for a few LoRA steps with the
same data, batch size and max_length. Throughput counts real (non-padding) tokens, from TRL's
`num_tokens`, between the end of the first step (warm-up excluded) and the end of the last.

    .venv/bin/python bench/bench_sft_packing.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "energy",
    "mass",
    "velocity",
    "force",
    "charge",
    "field",
    "proton",
    "electron",
    "reaction",
    "enthalpy",
    "equilibrium",
    "derivative",
    "integral",
    "matrix",
    "vector",
    "entropy",
    "pressure",
    "volume",
    "moles",
    "temperature",
    "therefore",
    "substitute",
    "compute",
    "the",
    "of",
    "and",
    "so",
    "we",
    "get",
    "thus",
]


def make_rows(n: int, seed: int) -> list[dict]:
    """70% short answers (15-50 words), 30% long solutions (180-330 words): ~1.3 tokens a word."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        long = rng.random() < 0.3
        n_words = rng.randint(180, 330) if long else rng.randint(15, 50)
        answer = " ".join(rng.choice(WORDS) for _ in range(n_words)) + " \\boxed{42}"
        question = f"Question {i}: " + " ".join(rng.choice(WORDS) for _ in range(12))
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ],
                "question_id": f"q{i}",
                "subject": "physics",
                "stage": "cot",
                "weight": 1.0,
            }
        )
    return rows


def run_variant(packing: bool, data: str, steps: int, max_length: int, batch: int) -> dict:
    """Train `steps` LoRA steps in this process; return real tokens/s and peak RSS."""
    from transformers import TrainerCallback

    from sciinstruct.train.config import SFTTrainConfig
    from sciinstruct.train.model import load_model, load_tokenizer, resolve_model
    from sciinstruct.train.sft import build_sft_trainer, load_sft_data

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[tuple[float, float]] = []

        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if logs and "num_tokens" in logs:
                self.marks.append((time.perf_counter(), float(logs["num_tokens"])))

    out = tempfile.mkdtemp(prefix="bench_sft_")  # nothing is saved: save_steps is past max_steps
    cfg = SFTTrainConfig(
        data=data,
        out=out,
        max_steps=steps,
        batch_size=batch,
        max_length=max_length,
        packing=packing,
        eval_fraction=0,
        logging_steps=1,
        save_steps=10_000,
        warmup_ratio=0,
        too_long="drop",
    )
    base = resolve_model(None)
    tokenizer = load_tokenizer(base)
    train_ds, _, _ = load_sft_data(cfg, tokenizer)
    trainer = build_sft_trainer(cfg, load_model(base), tokenizer, train_ds, None)
    clock = Clock()
    trainer.add_callback(clock)
    trainer.train()
    shutil.rmtree(out, ignore_errors=True)
    (t0, n0), (t1, n1) = clock.marks[0], clock.marks[-1]
    return {
        "packing": packing,
        "steps_timed": len(clock.marks) - 1,
        "real_tokens": n1 - n0,
        "seconds": t1 - t0,
        "tokens_per_s": (n1 - n0) / (t1 - t0),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer steps, shorter blocks.")
    parser.add_argument("--variant", choices=["packed", "unpacked"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps, max_length, batch = (3, 256, 4) if args.quick else (6, 512, 4)
    if args.variant:  # child process: one variant, result as JSON on the last line
        result = run_variant(args.variant == "packed", args.data, steps, max_length, batch)
        print(json.dumps(result))
        return

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_sft_data_") as tmp:
        data = Path(tmp) / "sft.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in make_rows(400, seed=0)))
        for variant in ("unpacked", "packed"):
            command = [sys.executable, __file__, "--variant", variant, "--data", str(data)]
            command += ["--quick"] if args.quick else []
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
            print(variant, results[variant], flush=True)
    speedup = results["packed"]["tokens_per_s"] / results["unpacked"]["tokens_per_s"]
    print(f"packing speed-up: {speedup:.2f}x real tokens/s (goal >= 1.5x)")
    print(
        json.dumps(
            {
                "max_length": max_length,
                "batch": batch,
                "steps": steps,
                **results,
                "speedup": speedup,
            }
        )
    )


if __name__ == "__main__":
    main()
