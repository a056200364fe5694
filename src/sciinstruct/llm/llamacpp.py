"""`llamacpp` engine: a GGUF model in-process with llama-cpp-python (the embedded default).

The chat template is the one stored in the GGUF file. `parallel` contexts of `n_threads`
threads each decode side by side (ctypes releases the GIL during llama.cpp calls). Each context
decodes `slots` sequences at once (continuous batching, `llamacpp_batch.BatchedContext`: one
read of the weights per step serves every sequence in flight, and a finished sequence's slot
takes the next queued request at once). Requests go to the context that already holds (or is
evaluating) their prompt, else to the least busy one, so the k samples of a question share one
prompt evaluation. Such an engine is driven like a server (`throughput_for`): many one-request
calls in flight, so its queues never run dry and no call waits on a batch's slowest member.

`slots=1` is the one-request-at-a-time engine: a `Llama` behind a lock, each request evaluated
from an empty context, a batch split across the contexts. Either way a request's text depends
only on the request and its seed, never on the batch it came in.

Attention is computed with llama.cpp's flash-attention kernel by default (`flash_attn=True`,
both engines, so a seed gives the same text at every slot count): measured side by side
(`bench/bench_engines.py --only flash`, docs/engines.md) it is 1.10x the tokens per CPU-second
at 1 sequence, 1.21x decode-only at 16 (51% of the compute roof, against 42% without), prompt
evaluation 1.08-1.15x, and 1.08-1.10x for `slots=1`. It gives other texts than the kernel
before it, so the engine's name (`model`, the response cache's key) says `+flash_attn`;
`flash_attn=False` is the engine before, under its old name, whose cached texts it reuses.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciinstruct.embedded_model import EMBEDDED_MODEL_NAME, gguf_path
from sciinstruct.errors import InputError, MissingDependencyError, require
from sciinstruct.llm.base import (
    IN_PROCESS,
    Completion,
    GenerationRequest,
    OnDone,
    SyncBackend,
    Throughput,
)
from sciinstruct.llm.identity import model_identity
from sciinstruct.llm.llamacpp_weights import WEIGHTS, check_weights, weights_file
from sciinstruct.llm.lora_gguf import attach as attach_lora
from sciinstruct.llm.lora_gguf import lora_digest, lora_file
from sciinstruct.llm.threads import default_threads

if TYPE_CHECKING:
    from sciinstruct.llm.llamacpp_batch import BatchedContext

INSTALL = 'pip install "sciinstruct[llamacpp]"'


def default_parallel(n_threads: int) -> int:
    """Contexts that fit the cores at `n_threads` each: 2 on a 2-core machine at 1 thread."""
    return max(1, (os.cpu_count() or 1) // n_threads)


KV_BYTES_PER_TOKEN = 23_040  # SmolLM2-135M: 30 layers x (K + V) x 192 x float16
# bench/bench_engines.py: a token cost 49 ms of decoding at 4 sequences a step, 36 at 16, 35 at
# 32; 8 takes most of that gain at half the KV memory of 16 (8 x 4096 tokens: 0.75 GB)
DEFAULT_SLOTS = 8


def default_slots(n_ctx: int, parallel: int, bytes_per_token: int = KV_BYTES_PER_TOKEN) -> int:
    """Sequences per context: DEFAULT_SLOTS, fewer where their KV caches (`n_ctx` tokens
    each, all `parallel` contexts together) would take over a quarter of the available memory
    (llama.cpp allocates and clears every slot's cache when the context is made)."""
    available = available_memory()
    if available is None:
        return DEFAULT_SLOTS
    fit = available // 4 // (parallel * n_ctx * bytes_per_token)
    return int(max(1, min(DEFAULT_SLOTS, fit)))


def available_memory() -> int | None:
    """Bytes of memory available to new work (Linux's MemAvailable, else the free pages), or
    None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
        return None


# Requests queued per slot beyond the one decoding: a slot that finishes takes the next at once
QUEUED_PER_SLOT = 1
# Prompts remembered with the context they went to (their KV cells may still be held there)
ROUTES_KEPT = 1024
# Weights type the engine computes with (`weights` option): chosen by bench/bench_engines.py
DEFAULT_WEIGHTS = "q8_0"
# Attention kernel (`flash_attn` option), at every slot count: bench/bench_engines.py --only
# flash measured llama.cpp's flash-attention kernel 1.08-1.21x faster at 1, 4, 16 and 32
# sequences and at slots=1, decode and prompt evaluation alike (docs/engines.md); texts differ,
# so `model` says `+flash_attn`
DEFAULT_FLASH_ATTN = True


def prompt_key(request: GenerationRequest) -> str:
    """What decides a request's prompt tokens: its messages."""
    return json.dumps(request.messages_list(), sort_keys=True)


def split_by_prompt(requests: Sequence[GenerationRequest], parts: int) -> list[list[int]]:
    """Request indices in `parts` lists of near-equal length, each prompt's requests kept
    together and in order (largest group first onto the least-loaded part)."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(requests):
        groups.setdefault(prompt_key(r), []).append(i)
    shares: list[list[int]] = [[] for _ in range(parts)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shares, key=len).extend(group)
    return [share for share in shares if share]


class _Context:
    """One `Llama` context and the lock that keeps it to one request at a time."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.lock = threading.Lock()

    def run(
        self,
        requests: Sequence[GenerationRequest],
        indices: Sequence[int],
        on_done: OnDone | None = None,
    ) -> list[Completion]:
        """Complete `requests` (the batch's `indices`) in turn, telling `on_done` each one."""
        out = []
        with self.lock:
            for index, request in zip(indices, requests, strict=True):
                # From an empty context: reusing the previous request's KV prefix changes the
                # logits' rounding, so a sampled text would depend on what ran before it in
                # this context (3 of 8 annotate requests differed). Without it a seed gives one
                # text whatever the batching: resumed runs and Ray runs equal uninterrupted ones.
                self.llm.reset()
                out.append(_complete(self.llm, request))
                if on_done is not None:
                    on_done(index, out[-1])
        return out


class LlamaCppBackend(SyncBackend):
    """llama.cpp in-process. `model` is a GGUF path; None means the embedded SmolLM2 file.

    `parallel` contexts (None: as many as the cores hold at `n_threads` each) decode side by
    side; they share the memory-mapped weights. Each decodes `slots` sequences at once
    (None: `default_slots`; 1: one request at a time, llama-cpp-python's own loop), each with a
    KV cache of `n_ctx` tokens. `prefix_reuse=False` evaluates every prompt, even one whose KV
    cells a slot already holds (for measuring what the reuse saves). `weights` picks the type
    of the matrices llama.cpp computes with (`llamacpp_weights`): `source` loads the file as it
    is; `q8_0`, `f16`, `q4_0`, `q4_1` load a copy converted once and cached. `lora` applies a
    LoRA adapter to every context (a PEFT adapter directory, converted once by `lora_gguf`,
    or a GGUF LoRA): the tuned model on the very engine and weights of its base; the
    adapter's content hash is part of `model`, the response cache's name for the engine.
    `flash_attn` (default True, `DEFAULT_FLASH_ATTN`) computes attention with llama.cpp's
    flash-attention kernel, batched and at `slots=1` alike: faster at every slot count
    (module docstring), the same text for a seed at any slot count and order, other texts
    than with it off. So `model` is `<weights>+flash_attn[+lora@hash]` with it and
    `<weights>[+lora@hash]` without: a response cache (or a run resumed) written by one kernel
    is never read as the other's, and `flash_attn=False` reuses what the engine wrote before
    flash attention was the default.
    """

    name = "llamacpp"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        parallel: int | None = None,
        slots: int | None = None,
        prefix_reuse: bool = True,
        weights: str = DEFAULT_WEIGHTS,
        lora: str | Path | None = None,
        flash_attn: bool = DEFAULT_FLASH_ATTN,
    ) -> None:
        require("llama_cpp", "llama-cpp-python", INSTALL)
        from sciinstruct.llm.llamacpp_batch import BatchedContext  # needs llama_cpp (jinja2)

        weights = check_weights(weights)
        source = Path(model) if model else gguf_path()
        if not source.is_file():
            raise InputError("GGUF model file not found", file=str(source), field="model")
        if parallel is not None and parallel < 1:
            raise InputError(f"parallel must be >= 1, got {parallel}", field="parallel")
        if slots is not None and slots < 1:
            raise InputError(f"slots must be >= 1, got {slots}", field="slots")
        threads = n_threads or default_threads()
        self.parallel = parallel or default_parallel(threads)
        self.slots = slots or default_slots(n_ctx, self.parallel)
        path = weights_file(source, weights, n_threads=threads)
        self.weights = weights
        self.model = llamacpp_identity(source, weights if path != source else "source")
        self.flash_attn = flash_attn
        if flash_attn:  # other numbers, other texts: not the same cache key (class docstring)
            self.model += "+flash_attn"
        self.lora = lora_file(lora, source) if lora else None
        if self.lora is not None:  # last: the tuned model's name is its base engine's + adapter
            self.model += f"+lora@{lora_digest(self.lora)}"
        self._contexts: list[_Context] = []  # slots == 1
        self._batched: list[BatchedContext] = []  # slots > 1
        for _ in range(self.parallel):
            # A batched context only borrows the model, tokenizer and template of its `Llama`.
            llm = load_llama(path, n_ctx=n_ctx if self.slots == 1 else 256,
                             n_batch=n_batch if self.slots == 1 else 256, n_threads=threads,
                             flash_attn=flash_attn and self.slots == 1)  # fmt: skip
            if self.slots == 1:
                self._contexts.append(_Context(llm))
                if self.lora is not None:  # on the context `Llama` decodes with
                    attach_lora(llm, llm._ctx.ctx, self.lora)
                continue
            try:
                batched = BatchedContext(
                    llm, slots=self.slots, n_ctx=n_ctx, n_threads=threads, n_batch=n_batch,
                    prefix_reuse=prefix_reuse, lora=self.lora, flash_attn=flash_attn,
                )  # fmt: skip
            except ValueError as exc:
                llm.close()
                raise InputError(str(exc), file=str(path), field="slots") from exc
            except InputError:  # the adapter does not fit the model
                llm.close()
                raise
            self._batched.append(batched)
        self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="llamacpp")
        self._next = 0  # round robin of `submit` over one-at-a-time contexts
        # prompt -> the batched context its requests went to, most recent last
        self._routes: OrderedDict[str, BatchedContext] = OrderedDict()
        self._routes_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"LlamaCppBackend(model={self.model!r}, parallel={self.parallel}, slots={self.slots})"
        )

    @classmethod
    def throughput_for(cls, options: Mapping[str, Any]) -> Throughput:
        """How a stage drives the engine `options` build. Batched contexts are driven like a
        server: one request per call, enough calls in flight to fill every slot and queue one
        more behind each (`QUEUED_PER_SLOT`), so a finished sequence's slot is refilled at once
        and no call waits for the slowest member of a batch. The one-at-a-time engine takes
        whole batches (`IN_PROCESS`), split across its contexts."""
        if options.get("slots") == 1:
            return IN_PROCESS
        threads = options.get("n_threads") or default_threads()
        parallel = options.get("parallel") or default_parallel(threads)
        slots = options.get("slots") or default_slots(options.get("n_ctx", 4096), parallel)
        return Throughput(batch_size=1, concurrency=parallel * slots * (1 + QUEUED_PER_SLOT))

    # -- generation ---------------------------------------------------------------------------
    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        if self._batched:
            futures = {self.submit(request): i for i, request in enumerate(requests)}
            out: list[Completion] = [Completion()] * len(requests)
            for future in as_completed(futures):  # on_done in this thread, as each finishes
                i = futures[future]
                out[i] = future.result()
                if on_done is not None:
                    on_done(i, out[i])
            return out
        shares = split_by_prompt(requests, len(self._contexts))
        if len(shares) <= 1:
            return self._contexts[0].run(requests, range(len(requests)), on_done)
        futures_of = [
            self._pool.submit(context.run, [requests[i] for i in share], share, on_done)
            for context, share in zip(self._contexts, shares, strict=False)
        ]
        results: list[Completion] = [Completion() for _ in requests]
        for share, future in zip(shares, futures_of, strict=True):
            for i, completion in zip(share, future.result(), strict=True):
                results[i] = completion
        return results

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        """Batched contexts: the requests go straight to their queues and are awaited here,
        no worker thread held per call (asyncio's default pool has cpu_count + 4 threads, which
        would cap the calls in flight below the slots to fill)."""
        if not self._batched:
            return await super().agenerate(requests, on_done)
        waiting = {asyncio.wrap_future(self.submit(r)): i for i, r in enumerate(requests)}
        out: list[Completion] = [Completion()] * len(requests)
        pending = set(waiting)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                i = waiting[future]
                out[i] = future.result()
                if on_done is not None:
                    on_done(i, out[i])
        return out

    def submit(self, request: GenerationRequest) -> Future[Completion]:
        """One request on its own (what a server needs: each HTTP request arrives alone, and
        batched contexts decode them together): to the batched context its prompt went to
        last (whose slots may hold its KV cells: the k samples of a question copy them), else
        to the least busy context."""
        if self._batched:
            return self._route(request).submit(request)
        context = self._contexts[self._next % len(self._contexts)]
        self._next += 1
        return self._pool.submit(lambda: context.run([request], [0])[0])

    def _route(self, request: GenerationRequest) -> BatchedContext:
        if len(self._batched) == 1:
            return self._batched[0]
        key = prompt_key(request)
        with self._routes_lock:
            context = self._routes.get(key)
            if context is None:
                context = min(self._batched, key=lambda c: c.load)
            self._routes[key] = context
            self._routes.move_to_end(key)
            if len(self._routes) > ROUTES_KEPT:
                self._routes.popitem(last=False)
        return context

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
        for batched in getattr(self, "_batched", []):
            batched.close()
        for context in getattr(self, "_contexts", []):
            with context.lock:
                context.llm.close()
        self._contexts, self._batched = [], []


def load_llama(
    path: Path, *, n_ctx: int, n_batch: int, n_threads: int, flash_attn: bool = False
) -> Any:
    """The one place a `Llama` (model + its own context) is created from a GGUF file.

    n_threads_batch too: llama-cpp-python evaluates prompts on every core by default, so N
    contexts (or N Ray actors) would each run a core's worth of threads per core."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(path), n_ctx=n_ctx, n_batch=n_batch, n_threads=n_threads,
        n_threads_batch=n_threads, flash_attn=flash_attn, verbose=False,
    )  # fmt: skip


def llamacpp_identity(path: Path, weights: str = "source") -> str:
    """The model's name in the response cache: `SmolLM2-135M-Instruct.Q4_1` for the embedded
    file (`.Q8_0` etc. for a converted copy), else `stem@fingerprint` (`+q8_0`), so a GGUF
    re-exported to the same path, or loaded as other weights, is another model."""
    suffix = "" if WEIGHTS[weights] is None else WEIGHTS[weights]
    try:
        if path.resolve() == gguf_path().resolve():
            return f"{EMBEDDED_MODEL_NAME}.{suffix or 'Q4_1'}"
    except MissingDependencyError:  # no embedded model installed: `path` cannot be it
        pass
    return model_identity(path) + (f"+{weights}" if suffix else "")


def _complete(llm: Any, request: GenerationRequest) -> Completion:
    p = request.params
    start = time.perf_counter()
    try:
        out = llm.create_chat_completion(
            messages=request.messages_list(),
            temperature=p.temperature,
            top_p=p.top_p,
            max_tokens=p.max_tokens,
            seed=p.seed,
            stop=list(p.stop) or None,
        )
    except (ValueError, RuntimeError) as exc:  # e.g. the prompt does not fit the context
        return Completion(error=f"llama.cpp: {exc}", latency_s=time.perf_counter() - start)
    choice, usage = out["choices"][0], out.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
        latency_s=time.perf_counter() - start,
    )
