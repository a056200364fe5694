"""`vllm` backend: vLLM's offline engine (`vllm.LLM.chat`) for GPU machines, imported lazily."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sciinstruct.errors import InputError, require
from sciinstruct.llm.base import Completion, GenerationRequest, OnDone, SyncBackend, report_each

INSTALL = 'pip install "sciinstruct[vllm]"'


class VLLMBackend(SyncBackend):
    """A whole batch goes to vLLM at once; its scheduler batches continuously on the GPU.

    `engine_options` pass through to `vllm.LLM` (tensor_parallel_size, gpu_memory_utilization,
    max_model_len, dtype, ...)."""

    name = "vllm"

    def __init__(self, model: str | None = None, **engine_options: Any) -> None:
        self._vllm: Any = require("vllm", "vLLM", INSTALL)
        if not model:
            raise InputError(
                "the vllm backend needs model=<Hugging Face id or model directory>", field="model"
            )
        self.model = model
        self._llm = self._vllm.LLM(model=model, **engine_options)

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model!r})"

    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        # The offline engine returns a whole batch at once: `on_done` hears of each at the end.
        return report_each(self._generate(requests), on_done)

    def _generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        if not requests:
            return []
        params = [
            self._vllm.SamplingParams(
                temperature=r.params.temperature,
                top_p=r.params.top_p,
                max_tokens=r.params.max_tokens,
                seed=r.params.seed,
                stop=list(r.params.stop) or None,
            )
            for r in requests
        ]
        start = time.perf_counter()
        try:
            outputs = self._llm.chat(
                [r.messages_list() for r in requests], sampling_params=params, use_tqdm=False
            )
        except Exception as exc:  # an engine failure fails the batch, recorded per request
            reason = f"vllm: {type(exc).__name__}: {exc}"
            return [Completion(error=reason) for _ in requests]
        latency = (time.perf_counter() - start) / len(requests)
        return [
            Completion(
                text=o.outputs[0].text,
                finish_reason=o.outputs[0].finish_reason,
                prompt_tokens=len(o.prompt_token_ids or ()),
                completion_tokens=len(o.outputs[0].token_ids),
                latency_s=latency,
            )
            for o in outputs
        ]
