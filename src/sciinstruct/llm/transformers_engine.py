"""`transformers` backend: a local Hugging Face model (directory or GGUF), batched generation.

Prompts are rendered with the model's own chat template, sorted by length (less padding), padded
on the left and decoded together, `batch_size` at a time. Each row samples with its own seed, so
a row's text does not depend on which other rows share its batch (see `SeededSampler`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sciinstruct.embedded_model import EMBEDDED_MODEL_NAME, hf_model_dir, hf_model_path
from sciinstruct.errors import require
from sciinstruct.llm.base import Completion, GenerationRequest, OnDone, SyncBackend
from sciinstruct.llm.identity import model_identity
from sciinstruct.llm.threads import fit_torch_threads

INSTALL = 'pip install "sciinstruct[train]"'


def _seeded_sampler_class() -> type:
    """Built on first use so that importing this module does not import torch."""
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        """Per-row seeded sampling inside a greedy `generate`, by the Gumbel-max trick.

        argmax(logits / T + g), g ~ Gumbel(0, 1) drawn per vocabulary entry, is distributed as
        softmax(logits / T). Each row draws g from its own generator, so its sample depends only
        on its seed. Top-p is applied before the noise; T == 0 leaves the row greedy.
        """

        def __init__(self, temperatures: list[float], top_ps: list[float], seeds: list[int]):
            self.temperatures, self.top_ps = temperatures, top_ps
            self.generators = [torch.Generator().manual_seed(s) for s in seeds]

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            scores = scores.float().clone()  # (batch, vocab)
            for row, (t, top_p, gen) in enumerate(
                zip(self.temperatures, self.top_ps, self.generators, strict=True)
            ):
                if t == 0:
                    continue
                logits = scores[row] / t
                if top_p < 1:
                    logits = _top_p_mask(logits, top_p)
                u = torch.rand(logits.shape, generator=gen).clamp_(1e-10, 1.0 - 1e-10)
                scores[row] = logits - torch.log(-torch.log(u))
            return scores

    def _top_p_mask(logits: torch.Tensor, top_p: float) -> torch.Tensor:
        """Keep the smallest set of tokens whose probability sums to at least top_p."""
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before token
        sorted_logits[drop] = float("-inf")
        return torch.empty_like(logits).scatter_(0, order, sorted_logits)

    return SeededSampler


def transformers_identity(source: Path, gguf_file: str | None = None) -> str:
    """The model's name in the response cache: `SmolLM2-135M-Instruct` for the embedded copy,
    else `name@fingerprint` of the directory (or of `gguf_file` inside it), so that a model
    retrained into the same folder is not served the old model's cached answers."""
    if gguf_file:
        return model_identity(source / gguf_file)
    # The path only: hf_model_dir() would dequantise the embedded model just to compare with it.
    if source.resolve() == hf_model_path().resolve():
        return EMBEDDED_MODEL_NAME
    return model_identity(source)


class TransformersBackend(SyncBackend):
    """`model` is a model directory (or the directory holding `gguf_file`); None means the
    embedded SmolLM2, dequantised once into a plain transformers directory. On the CPU torch
    runs `n_threads` threads (None: `threads.fit_torch_threads`'s default)."""

    name = "transformers"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        gguf_file: str | None = None,
        batch_size: int = 16,
        device: str = "cpu",
        dtype: str = "float32",
        n_threads: int | None = None,
    ) -> None:
        torch: Any = require("torch", "torch", INSTALL)
        transformers: Any = require("transformers", "transformers", INSTALL)
        if device == "cpu":
            self.n_threads = fit_torch_threads(torch, n_threads)  # see llm/threads.py
        source = Path(model) if model else hf_model_dir()
        self.model = transformers_identity(source, gguf_file)
        self.batch_size = batch_size
        self.device = device
        self._torch = torch
        self._sampler = _seeded_sampler_class()
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(source, **kwargs)
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens follow the prompt
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._model = transformers.AutoModelForCausalLM.from_pretrained(
            source, dtype=getattr(torch, dtype), **kwargs
        )
        self._model.to(device).eval()
        self._config_class = transformers.GenerationConfig

    def __repr__(self) -> str:
        return f"TransformersBackend(model={self.model!r}, batch_size={self.batch_size})"

    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        prompts = [
            self.tokenizer.apply_chat_template(
                r.messages_list(), tokenize=False, add_generation_prompt=True
            )
            for r in requests
        ]
        order = sorted(range(len(requests)), key=lambda i: len(prompts[i]))
        results: list[Completion] = [Completion() for _ in requests]
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            t0 = time.perf_counter()
            try:
                batch = self._generate_batch(
                    [prompts[i] for i in rows], [requests[i] for i in rows]
                )
            except (RuntimeError, ValueError) as exc:  # e.g. out of memory, too long a prompt
                batch = [Completion(error=f"transformers: {exc}") for _ in rows]
            per_row = (time.perf_counter() - t0) / len(rows)
            for i, completion in zip(rows, batch, strict=True):
                completion.latency_s = per_row
                results[i] = completion
                if on_done is not None:  # the rows of one engine batch finish together
                    on_done(i, completion)
        return results

    def _generate_batch(
        self, prompts: list[str], requests: list[GenerationRequest]
    ) -> list[Completion]:
        tok, torch = self.tokenizer, self._torch
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.device)
        params = [r.params for r in requests]
        sampler = self._sampler(
            [p.temperature for p in params], [p.top_p for p in params],
            [p.seed if p.seed is not None else torch.seed() for p in params],
        )  # fmt: skip
        config = self._config_class(
            max_new_tokens=max(p.max_tokens for p in params),
            do_sample=False,  # the sampler adds the noise; greedy takes the argmax
            pad_token_id=tok.pad_token_id,
            eos_token_id=self._model.generation_config.eos_token_id or tok.eos_token_id,
        )
        with torch.inference_mode():
            out = self._model.generate(**enc, generation_config=config, logits_processor=[sampler])
        new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()  # (batch, generated)
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        return [
            self._decode(ids, p, n_prompt)
            for ids, p, n_prompt in zip(new_tokens, params, prompt_lengths, strict=True)
        ]

    def _decode(self, ids: list[int], params: Any, n_prompt: int) -> Completion:
        """One row: cut at end-of-sequence, at the row's own max_tokens, and at stop strings."""
        eos = self._model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        ids = ids[: params.max_tokens]
        finish = "length"
        for n, token in enumerate(ids):
            if token in eos_ids:
                ids, finish = ids[:n], "stop"  # like OpenAI: EOS not counted
                break
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        for stop in params.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        return Completion(
            text=text, finish_reason=finish, prompt_tokens=int(n_prompt), completion_tokens=len(ids)
        )

    def close(self) -> None:
        self._model = None
