"""Past one machine: annotate, critique and eval on a Ray cluster (`--executor ray`).

    from sciinstruct.distributed import ExecutorConfig, open_executor

    executor = open_executor(ExecutorConfig(name="ray", actors=2))
    backend = executor.backend("embedded", None, {})          # one engine per actor
    run_annotate("run", backend, config, grading=executor.agrade)
    executor.close()

Design. The driver runs the very stage functions of the local path (`run_annotate`,
`run_critique`, `run_eval`); only two things change. The backend is a `RayBackend`, which sends
each call's requests to engine actors (one per GPU or tensor-parallel group, or one per CPU
share), each holding any existing backend; and grading runs in Ray tasks. So the scheduler that
feeds cot -> reflect -> hinted, the ledger that resumes, and the response cache are untouched:
the driver is the one writer of `attempts.jsonl`, `critiques.jsonl`, `predictions.jsonl` and
`cache.sqlite`, a killed driver resumes exactly as a killed local run does (finished LLM calls
are cache hits, finished attempts are in the ledger), and a question's reflect may run on
another actor than its cot. The cache keys name the engine and model, not the executor, so the
attempts on Ray equal the local run's for the same questions and seeds.

Why actors and not `ray.data.llm`. Ray's batch-inference path (`vLLMEngineProcessorConfig` +
`build_processor`) maps a Dataset that is known up front through a chat-template, tokenize,
vLLM and detokenize pipeline. Annotation is not such a map: a question's reflect requests exist
only after its cot attempts are graded, and its hinted requests only after reflect fails, so the
work is discovered as results come back; a processor would run one stage of all questions at a
time and idle at every stage boundary, which `annotate/scheduler.py` exists to avoid. A
processor also reads and writes a Dataset, not our cache: a killed job would repeat finished
calls, and the run directory would gain many writers (or one collecting everything at the end).
It serves vLLM (and SGLang, HTTP) only, where the actors also hold llama.cpp, transformers and
the openai client. What it does well, continuous batching on the GPU, the `vllm` backend in an
actor gets from vLLM itself: each call hands vLLM a whole batch.
"""

from __future__ import annotations

from sciinstruct.distributed.config import EXECUTORS, ExecutorConfig
from sciinstruct.distributed.executor import Executor, LocalExecutor, RayExecutor, open_executor

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorConfig",
    "LocalExecutor",
    "RayExecutor",
    "open_executor",
]
