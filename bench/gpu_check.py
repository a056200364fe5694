"""The GPU check that fits the lent device: real TRL steps on a tiny random model, one table.

    bash bench/gpu_check.sh                  # on the GPU machine (CUDA, bf16)
    bash bench/gpu_check.sh --device cpu     # the same steps on CPU, fp32: a dry run anywhere

The lent machine has PyTorch, transformers, accelerate and peft, no TRL, no downloads and at
most 64 MiB of working tree per call, so nothing here loads weights: the model is built from the
embedded model's config (SmolLM2-135M's architecture and tokenizer, shrunk to 2 layers) with
random weights. `bench/gpu_check_wheels.sh` (run here) puts the wheels the device lacks and that
config and tokenizer into `.whl/`, which the call carries. Each step runs in its own process
under its own time limit and reports PASS or FAIL with one line of detail:

  model     the tiny model, saved as a plain transformers directory
  sft       3 SFT steps (full fine-tuning, bf16 on CUDA)
  dpo       3 DPO steps
  grpo      2 GRPO steps rewarded by the TRL registry (correctness, format), by verl's
            `compute_score` (wrapped as a TRL reward below) and by completion length (the
            only reward a random model varies on)

sft, dpo and grpo also check that the saved weights differ from the tiny model's.
  generate  the `transformers` backend's batched generation, 32 prompts in batches of 16
  annotate  ingest + a short annotate through the transformers backend
  eval      a short eval of 8 questions
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CARRIED_MODEL = ROOT / ".whl" / "model"  # config + tokenizer, written by gpu_check_wheels.sh
# The tiny model: SmolLM2's vocabulary and tokenizer, 2 layers of width 128 (about 6.6M
# parameters, 6.3M of them the 49,152-token embedding): big enough for real kernels, small
# enough to build in seconds with no weights carried.
TINY = {
    "num_hidden_layers": 2,
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
}
# Per-step limits, together 450 s: with start-up the check ends inside 8 minutes.
LIMITS_S = {"model": 45, "sft": 60, "dpo": 60, "grpo": 120, "generate": 45, "annotate": 75,
            "eval": 45}  # fmt: skip


def verl_reward(completions: list[Any], answer: list[str], **kw: Any) -> list[float]:
    """verl's custom reward function, called as verl's NaiveRewardManager does, as a TRL reward."""
    from sciinstruct.grading.reward import completion_text
    from sciinstruct.integrations.verl import compute_score

    return [
        compute_score(
            data_source="gpu_check",
            solution_str=completion_text(c),
            ground_truth=a,
            extra_info={"question": completion_text(p)} if p is not None else None,
        )["score"]
        for c, a, p in zip(
            completions, answer, kw.get("prompts") or [None] * len(answer), strict=True
        )
    ]


def length_reward(completions: list[Any], **kw: Any) -> list[float]:
    """A reward that differs between a group's completions. A random model is never right, so
    the graders' rewards are all 0, every advantage is 0 and GRPO's step leaves the weights as
    they were; this one gives the step a signal, so the check can see the weights move."""
    from sciinstruct.grading.reward import completion_text

    return [min(len(completion_text(c)), 200) / 200 for c in completions]


def write_data(out: Path) -> None:
    """Small SFT, DPO and GRPO files, and questions for annotate and eval, from bundled data."""
    from sciinstruct.jsonl import read_jsonl, write_jsonl

    data = ROOT / "src" / "sciinstruct" / "data" / "questions"
    rows = list(read_jsonl(data / "demo_train.jsonl"))[:32]

    def ask(q: dict) -> list[dict]:
        return [{"role": "user", "content": q["question"] + " Put the answer in \\boxed{}."}]

    def say(text: str) -> list[dict]:
        return [{"role": "assistant", "content": text}]

    write_jsonl(out / "sft.jsonl", [
        {"messages": ask(q) + say(f"The answer is \\boxed{{{q['answer']}}}."),
         "question_id": q["id"], "subject": q["subject"], "stage": "cot"} for q in rows])  # fmt: skip
    write_jsonl(out / "dpo.jsonl", [
        {"prompt": ask(q), "chosen": say(f"\\boxed{{{q['answer']}}}"),
         "rejected": say("\\boxed{0}"), "question_id": q["id"]} for q in rows])  # fmt: skip
    write_jsonl(out / "grpo.jsonl", [
        {"prompt": ask(q), "answer": q["answer"], "answer_type": q["answer_type"],
         "unit": q["unit"], "question_id": q["id"], "subject": q["subject"]} for q in rows])  # fmt: skip
    write_jsonl(out / "questions.jsonl", rows[:8])
    write_jsonl(out / "eval.jsonl", list(read_jsonl(data / "eval_set.jsonl"))[:8])


def step_model(out: Path, device: str) -> str:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = CARRIED_MODEL if (CARRIED_MODEL / "config.json").is_file() else None
    if source is None:  # here, with the embedded model installed
        from sciinstruct.embedded_model import hf_model_dir

        source = hf_model_dir()
    config = AutoConfig.from_pretrained(source)
    for key, value in TINY.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out / "tiny")
    AutoTokenizer.from_pretrained(source).save_pretrained(out / "tiny")
    write_data(out)
    params = sum(p.numel() for p in model.parameters())
    return f"{config.model_type}, {params / 1e6:.1f}M random parameters, from {source.name}"


def _train_cfg(cls: type, kind: str, out: Path, device: str, **extra: Any) -> Any:
    return cls(
        data=str(out / f"{kind}.jsonl"),
        model=str(out / "tiny"),
        out=str(out / kind),
        max_steps=extra.pop("max_steps", 3),
        finetune="full",
        precision="bf16" if device == "cuda" else "fp32",
        batch_size=4,
        max_length=256,
        warmup_ratio=0,
        logging_steps=1,
        save_steps=1000,
        eval_fraction=0,
        **extra,
    )


def _losses(result: Any) -> str:
    losses = [round(e["loss"], 3) for e in result.log_history if "loss" in e]
    if not losses:
        raise RuntimeError(f"no loss logged: {result.log_history}")
    return f"losses {losses}"


def _moved(out: Path, kind: str) -> str:
    """How many weight tensors the steps changed, from the files on disk: a logged loss alone
    does not show that an optimizer step reached the weights (a GRPO loss is 0 by design)."""
    import torch
    from safetensors.torch import load_file

    before = load_file(out / "tiny" / "model.safetensors")
    after = load_file(out / kind / "model" / "model.safetensors")
    deltas = [
        (after[name].float() - tensor.float()).abs().max().item()
        for name, tensor in before.items()
        if name in after
    ]
    changed = sum(d > 0 for d in deltas)
    if not changed:
        raise RuntimeError(f"no weight changed in {out / kind / 'model'}")
    return (
        f"{changed}/{len(deltas)} tensors moved (max |dw| {max(deltas):.1e}, {torch.__version__})"
    )


def step_sft(out: Path, device: str) -> str:
    from sciinstruct.train import SFTTrainConfig, train_sft

    result = train_sft(_train_cfg(SFTTrainConfig, "sft", out, device))
    return f"{_losses(result)}; {_moved(out, 'sft')}"


def step_dpo(out: Path, device: str) -> str:
    from sciinstruct.train import DPOTrainConfig, train_dpo

    result = train_dpo(_train_cfg(DPOTrainConfig, "dpo", out, device))
    return f"{_losses(result)}; {_moved(out, 'dpo')}"


def step_grpo(out: Path, device: str) -> str:
    from sciinstruct.train import GRPOTrainConfig, train_grpo

    cfg = _train_cfg(
        GRPOTrainConfig, "grpo", out, device, max_steps=2, num_generations=4,
        max_completion_length=32, rewards=["correctness", "format", "gpu_check:verl_reward", "gpu_check:length_reward"],
    )  # fmt: skip
    result = train_grpo(cfg)
    logged = [e for e in result.log_history if "reward" in e]
    if not logged:
        raise RuntimeError("no reward logged")
    names = sorted(k for k in logged[-1] if k.startswith("rewards/") and k.endswith("/mean"))
    return f"{len(logged)} steps; {', '.join(names)}; {_losses(result)}; {_moved(out, 'grpo')}"


def step_generate(out: Path, device: str) -> str:
    from sciinstruct.llm import GenerationRequest, SamplingParams
    from sciinstruct.llm.transformers_engine import TransformersBackend

    dtype = "bfloat16" if device == "cuda" else "float32"
    backend = TransformersBackend(out / "tiny", batch_size=16, device=device, dtype=dtype)
    # the dry run asks less: the backend's per-row top-p sorts the 49k-token vocabulary on CPU
    n, tokens = (32, 32) if device == "cuda" else (8, 16)
    requests = [
        GenerationRequest(
            [{"role": "user", "content": f"Count to {i}."}],
            SamplingParams(temperature=0.8, max_tokens=tokens, seed=i),
        )
        for i in range(n)
    ]
    start = time.perf_counter()
    completions = backend.generate(requests)
    wall = time.perf_counter() - start
    errors = [c.error for c in completions if c.error]
    if errors:
        raise RuntimeError(errors[0])
    tokens = sum(c.completion_tokens for c in completions)
    return f"{len(completions)} completions, {tokens} tokens, {tokens / wall:.0f} tok/s"


def _cli(*args: str) -> str:
    cmd = [sys.executable, "-m", "sciinstruct.cli.main", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} exited {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def step_annotate(out: Path, device: str) -> str:
    run = out / "run"
    _cli("ingest", str(out / "questions.jsonl"), "--run", str(run))
    dtype = "bfloat16" if device == "cuda" else "float32"
    _cli("annotate", "--run", str(run), "--backend", "transformers", "--model",
         str(out / "tiny"), "--option", f"device={device}", "--option", f"dtype={dtype}",
         "--limit", "4", "--samples", "1", "--max-tokens", "32")  # fmt: skip
    attempts = [json.loads(line) for line in (run / "attempts.jsonl").open()]
    return f"{len(attempts)} attempts graded, stages {sorted({a['stage'] for a in attempts})}"


def step_eval(out: Path, device: str) -> str:
    _cli("eval", "--benchmark", str(out / "eval.jsonl"), "--backend", "transformers",
         "--model", str(out / "tiny"), "--max-tokens", "32", "--out", str(out / "eval"))  # fmt: skip
    rows = (out / "eval" / "predictions.jsonl").read_text().splitlines()
    return f"{len(rows)} predictions graded"


STEPS = {
    "model": step_model,
    "sft": step_sft,
    "dpo": step_dpo,
    "grpo": step_grpo,
    "generate": step_generate,
    "annotate": step_annotate,
    "eval": step_eval,
}


def run_one(name: str, out: Path, device: str) -> None:
    """Child process: run one step, print its one-line detail last."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --device cpu for a dry run")
    print(STEPS[name](out, device))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", type=Path, default=None, help="working folder (default: temp)")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: the child's one step
    args = parser.parse_args()
    out = args.out or Path(os.environ.get("TMPDIR", "/tmp")) / f"gpu_check_{os.getpid()}"
    out.mkdir(parents=True, exist_ok=True)
    if args.step:
        run_one(args.step, out, args.device)
        return 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "bench"),
                                                         os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    env.update(TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the dry run must not find a GPU by accident
    # a CPU dry run (on a shared 2-core machine, say) is no timing: it gets four times the time
    scale = 4 if args.device == "cpu" else 1
    rows, start = [], time.monotonic()
    for name in args.steps.split(","):
        t0, limit = time.monotonic(), LIMITS_S[name] * scale
        cmd = [sys.executable, __file__, "--device", args.device, "--out", str(out), "--step", name]
        log = out / f"{name}.log"
        try:
            with log.open("w") as sink:
                code = subprocess.run(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                      timeout=limit).returncode  # fmt: skip
            lines = log.read_text().strip().splitlines() or [""]
            status, detail = ("PASS", lines[-1]) if code == 0 else ("FAIL", lines[-1][-160:])
        except subprocess.TimeoutExpired:
            status, detail = "FAIL", f"over its {limit} s limit (see {log})"
        rows.append((name, status, time.monotonic() - t0, detail))
        print(f"{status} {name} {rows[-1][2]:.1f}s", flush=True)
    print(f"\ngpu_check on {args.device}: {time.monotonic() - start:.0f} s in all; logs in {out}\n")
    print("| step | status | s | detail |\n|---|---|---|---|")
    for name, status, seconds, detail in rows:
        print(f"| {name} | {status} | {seconds:.1f} | {detail.replace('|', '/')} |")
    return sum(status != "PASS" for _, status, _, _ in rows)


if __name__ == "__main__":
    sys.exit(main())
