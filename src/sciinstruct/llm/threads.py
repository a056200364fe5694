"""How many threads an in-process CPU engine runs: llama.cpp's contexts and torch alike.

More threads than free cores is far worse than fewer: each step of a decoder (or of a training
pass) waits for its slowest thread, and a thread that loses its core stalls the others.
bench/bench_engines.py measured llama.cpp at 1 thread at 7x the tokens/s of 2 threads on a
busy 2-core machine, and transformers at 1 thread at 5.7x; bench/bench_demo.py measured a
training step (4 x 256 tokens, forward and backward) at 2.8x the CPU seconds on 2 threads.
So both default to half the logical cores (llama.cpp's own rule: the physical cores on SMT
machines), and torch is set to it unless the user said otherwise.
"""

from __future__ import annotations

import os
from typing import Any


def default_threads(processes: int = 1) -> int:
    """Threads per engine: half the logical cores, shared among `processes`."""
    return max(1, (os.cpu_count() or 2) // 2 // processes)


def fit_torch_threads(torch: Any, n_threads: int | None = None) -> int:
    """Set torch's intra-op threads to `n_threads` (None: `default_threads`, unless the
    environment sets OMP_NUM_THREADS, which torch reads itself and is then left alone), and
    return the number torch runs."""
    if n_threads is None and os.environ.get("OMP_NUM_THREADS"):
        return int(torch.get_num_threads())
    torch.set_num_threads(n_threads or default_threads())
    return int(torch.get_num_threads())
