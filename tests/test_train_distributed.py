"""The distributed path: `accelerate launch` with the shipped 2-process CPU config."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sciinstruct.train.config import shipped_recipe
from train_helpers import lora_b_norms, sft_rows, write_rows

pytestmark = [pytest.mark.slow, pytest.mark.train]

CPU_CONFIG = shipped_recipe("sft").parents[2] / "configs" / "accelerate" / "cpu_2proc.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_cpu_sft_run(tmp_path: Path) -> None:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate is not installed")
    data = write_rows(tmp_path / "sft.jsonl", sft_rows(8))
    out = tmp_path / "out"
    command = [
        accelerate,
        "launch",
        "--config_file",
        str(CPU_CONFIG),
        "--main_process_port",
        "0",
        "-m",
        "sciinstruct.cli.main",
        "train",
        "sft",
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--batch-size",
        "1",
        "--max-length",
        "96",
        "--set",
        "warmup_ratio=0",
        "--set",
        "logging_steps=1",
        "--set",
        "eval_fraction=0",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes share the cores
    done = subprocess.run(command, capture_output=True, text=True, timeout=540, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["world_size"] == 2
    assert [e["step"] for e in saved["log_history"] if "loss" in e] == [1, 2]
    assert all(n > 0 for n in lora_b_norms(out / "model").values())
    assert done.stdout.count('"model"') == 1  # the summary is printed by rank 0 only
