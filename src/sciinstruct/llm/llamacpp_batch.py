"""Continuous batching for the `llamacpp` engine: many sequences decoded together in one context.

A `BatchedContext` holds one llama.cpp context with `slots` sequence ids. Each decoding step
sends one token of every sequence in flight through a single `llama_decode`, so one read of
the weights serves them all; each sequence has its own sampler chain and seed and its own stop
conditions, and the moment one finishes its slot takes the next waiting request. The loop runs
in a worker thread (ctypes releases the GIL inside llama.cpp), fed by `submit`.

Why a sequence's numbers do not depend on its neighbours (tests/test_llm_llamacpp_batch.py
checks every logits row bit for bit at 1, 4 and 16 slots and in shuffled order, and the texts
against the one-at-a-time engine):

- Each slot has its own KV stream (`kv_unified = False`), so a sequence attends only to its
  own cells, laid out from cell 0 the same way whoever shares the context. Without it the
  queries of all sequences meet in one attention matmul whose kernel (and rounding) changes
  with the number of rows.
- A prompt is evaluated alone, never in a `llama_decode` with other sequences' tokens, in
  chunks of n_batch from position 0 as `Llama.eval` does, and the first token is sampled from
  its last row (kept with the slot, so a copied prompt samples from the very same row).
- A decoding step gives each sequence one row, in slot order, the slots in flight kept
  consecutive (`_compact`: otherwise llama.cpp splits the step into one forward pass per run
  of consecutive slots, the same numbers at a multiple of the cost). This model's per-row kernels give the same
  numbers at any row count (the Q4_1 layers take one dot product per row; the Q8_0 output
  layer's batched kernel accumulates each row as the single-row one does), the attention span
  is padded to 256 cells and masked cells add exact zeros.

Attention: `flash_attn=True` (the default) takes llama.cpp's flash-attention kernel, which
computes each query row on its own (an online softmax over the row's cells in order): the
same bits at any slot count and order (the same tests), and the
same as `Llama(flash_attn=True)` gives one request at a time (`slots=1`), but other bits than
the kernel without it, so other texts for a seed (the engine's name says which:
`llamacpp.LlamaCppBackend`). Measured side by side (`bench/bench_engines.py --only flash`,
docs/engines.md): decode-only at 16 sequences 152.6 against 126.5 tokens per CPU-second
(1.21x; 51% of the compute roof against 42%), at 1 sequence 1.10x, prompt evaluation
1.08-1.15x. `flash_attn=False` is the kernel before it (the padded-span argument above).

Prompt-prefix reuse: a slot remembers which prompt its KV cells hold. A request whose prompt
some slot holds (the k samples of one question) copies those cells (`llama_memory_seq_cp`) and
the prompt's last logits row instead of evaluating anything: the same computation, so the same
bits. A request whose prompt only begins like a held one (the chat template's system prompt
and the stage's instructions: half the prompt tokens of the demo's annotate) copies the cells
of that common prefix and evaluates the rest. That is bit-identical too, because a prompt's
rows do not depend on how its tokens are split into `llama_decode` calls, as long as every
call has at least 2 rows of the sequence: one query row takes another attention kernel
(`ggml_vec_dot_f16` rather than llamafile's sgemm, whose sums per element do not depend on
the number of rows). So the evaluated rest is at least `MIN_REST` tokens, and prefixes are
shared only between prompts of one `n_batch` chunk (longer ones are evaluated in the chunks
`Llama.eval` uses, whose last one may have a single row).

That split invariance holds for the kernel without flash attention only. With flash attention a
prompt's rows evaluated after a copied prefix differ in the last bits from the same rows
evaluated with the whole prompt, at every rest length tried from 2 to 200 tokens
(tests/test_llm_llamacpp_batch.py), and a sampled text can then differ (a resumed Ray run gave
one other text: tests/test_distributed_ray.py). So with `flash_attn=True` a prompt is copied
only whole (the k samples of one question) and a prompt that merely begins like a held one is
evaluated from position 0: the texts stay those of one request at a time, at the price of the
shared system-prompt tokens being evaluated again.
"""

from __future__ import annotations

import ctypes
import hashlib
import queue
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import TemplateError

from sciinstruct.llm.base import Completion, GenerationRequest

# Llama's own sampler defaults (llama-cpp-python's `create_chat_completion`): the batched
# engine samples with the same chain, so a request means the same thing on either engine.
TOP_K = 40
MIN_P = 0.05
# A prefix shorter than this is evaluated: copying a slot's KV stream moves all of its cells
# (n_ctx x 23 KB for SmolLM2), about what evaluating a few prompt tokens costs
MIN_SHARED = 16
# Tokens of a prompt evaluated after a shared prefix: see the module docstring (2 rows or more)
MIN_REST = 2
# llama_token_data as numpy sees it: a candidates array llama.cpp's samplers work on in place
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


@dataclass
class _Sequence:
    """One request in a slot: its tokens so far, sampler and stop state."""

    request: GenerationRequest
    future: Future[Completion]
    prompt: list[int]
    stops: list[bytes]
    max_tokens: int
    sampler: Any = None
    slot: int = -1
    n_past: int = 0  # tokens of this sequence in the KV cache
    next_token: int = 0  # what the next decoding step feeds in (the last one sampled)
    tokens: list[int] = field(default_factory=list)
    text: bytes = b""
    multibyte_fix: int = 0
    started: float = 0.0


class BatchedContext:
    """One llama.cpp context decoding up to `slots` sequences together.

    `llm` is a `llama_cpp.Llama` that lends its model, tokenizer and chat template (its own
    context is not used; `close` closes it). `n_ctx` is the context of each sequence. `lora`:
    a GGUF LoRA adapter applied to every sequence.
    """

    def __init__(
        self,
        llm: Any,
        *,
        slots: int,
        n_ctx: int,
        n_threads: int,
        n_batch: int = 512,
        prefix_reuse: bool = True,
        flash_attn: bool = True,
        trace: bool = False,
        lora: Path | None = None,
    ) -> None:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._lib = llama_cpp
        self._llm = llm
        self.slots = slots
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(
                "the GGUF file has no tokenizer.chat_template; the batched engine needs one "
                "(use slots=1 for llama-cpp-python's own chat formats)"
            )
        model = llm._model  # llama-cpp-python's model wrapper: pointer, vocab, token texts
        eos, bos = model.token_eos(), model.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        self._vocab = model.vocab
        self._bos = bos
        params = llama_cpp.llama_context_default_params()
        # llama.cpp gives each sequence a multiple of 256 cells; ask for that, and keep the
        # limit a request sees at `n_ctx`, as `Llama` does
        params.n_ctx = slots * -(-n_ctx // 256) * 256
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = slots
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False  # one KV stream per sequence: see the module docstring
        # as the one-at-a-time engine's `Llama` is made, so the texts equal its texts; on
        # (the default): 1.21x the decoding tokens per CPU-second at 16 sequences, other
        # texts than off (module docstring)
        params.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if flash_attn
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(model.model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not create a context of {slots} x {n_ctx}")
        if lora is not None:  # a GGUF LoRA (`lora_gguf.lora_file`) on this context's decoding
            from sciinstruct.llm.lora_gguf import attach

            try:
                attach(llm, self._ctx, lora)
            except Exception:
                llama_cpp.llama_free(self._ctx)
                raise
        self.n_ctx = min(n_ctx, llama_cpp.llama_n_ctx_seq(self._ctx))
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._n_batch = n_batch
        self._prefix_reuse = prefix_reuse
        # a prompt that only begins like a held one copies the common prefix only where the
        # rows do not depend on the split: not with flash attention (module docstring)
        self._share_prefixes = not flash_attn
        # False: a step feeds the sequences in admission order and never moves one (the engine
        # before `_compact`; bench/bench_engines.py --only decode measures it against it)
        self.compact = True
        self._batch = llama_cpp.llama_batch_init(max(n_batch, slots), 0, 1)
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._pieces: dict[int, bytes] = {}
        # the prompt whose KV cells each slot holds, and its last logits row: prefix reuse
        self._held: list[tuple[int, ...] | None] = [None] * slots
        self._logits: list[np.ndarray | None] = [None] * slots
        self._active: dict[int, _Sequence] = {}
        self._queue: queue.SimpleQueue[_Sequence | None] = queue.SimpleQueue()
        self._closing = False
        self._broken: str | None = None
        self._load, self._load_lock = 0, threading.Lock()
        self.stats = {"prompt_tokens_evaluated": 0, "prompt_tokens_copied": 0, "steps": 0,
                      "tokens_decoded": 0, "decode_s": 0.0, "prefill_s": 0.0,
                      "prefill_cpu_s": 0.0, "step_cpu_s": 0.0, "decode_cpu_s": 0.0,
                      "sample_cpu_s": 0.0, "moves": 0}  # fmt: skip
        # the worker thread's CPU seconds of decoding steps by sequences in the step: what a
        # decode-only figure at n sequences counts (bench/bench_engines.py --only decode)
        self.step_widths: dict[int, list[float]] = {}
        # trace=True: a sha1 of every logits row each sequence was sampled from, by future
        self.trace: dict[Future[Completion], list[str]] | None = {} if trace else None
        self._thread = threading.Thread(target=self._loop, name="llamacpp-batch", daemon=True)
        self._thread.start()

    # -- public ------------------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Future[Completion]:
        """Queue `request`; the future resolves to its completion (never to an exception)."""
        future: Future[Completion] = Future()
        with self._load_lock:
            self._load += 1
        future.add_done_callback(self._unload)
        if self._closing or self._broken:
            future.set_result(Completion(error=self._broken or "llama.cpp: the engine is closed"))
            return future
        try:
            sequence = self._prepare(request, future)
        except (ValueError, RuntimeError, TemplateError) as exc:  # e.g. roles out of order
            future.set_result(Completion(error=f"llama.cpp: {exc}"))
            return future
        if sequence is not None:
            self._queue.put(sequence)
        return future

    @property
    def load(self) -> int:
        """Requests submitted and not finished yet."""
        return self._load

    def _unload(self, _: Future[Completion]) -> None:
        with self._load_lock:
            self._load -= 1

    def close(self) -> None:
        """Finish what is queued, stop the worker and free the context."""
        if self._closing:
            return
        self._closing = True
        self._queue.put(None)
        self._thread.join()
        lib = self._lib
        lib.llama_batch_free(self._batch)
        lib.llama_free(self._ctx)
        self._ctx = None
        self._llm.close()

    # -- preparing a request ----------------------------------------------------------------

    def _prepare(self, request: GenerationRequest, future: Future[Completion]) -> _Sequence | None:
        """Tokenize the chat prompt exactly as `Llama.create_chat_completion` does."""
        p = request.params
        formatted = self._formatter(messages=request.messages_list())
        prompt = self._llm.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        if len(prompt) >= self.n_ctx:
            future.set_result(
                Completion(
                    error=f"llama.cpp: Requested tokens ({len(prompt)}) exceed context window "
                    f"of {self.n_ctx}"
                )
            )
            return None
        stops = list(p.stop) + (
            formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        )
        return _Sequence(
            request=request,
            future=future,
            prompt=prompt,
            stops=[s.encode("utf-8") for s in stops if s],
            max_tokens=min(p.max_tokens, self.n_ctx - len(prompt)),
        )

    def _new_sampler(self, request: GenerationRequest) -> Any:
        """The chain `Llama._init_sampler` builds for these params (its repeat penalty and
        typical-p links are no-ops at the values create_chat_completion passes: left out)."""
        lib, p = self._lib, request.params
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if p.temperature == 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        seed = p.seed if p.seed is not None else random.randrange(2**32)
        for link in (
            lib.llama_sampler_init_top_k(TOP_K),
            lib.llama_sampler_init_top_p(p.top_p, 1),
            lib.llama_sampler_init_min_p(MIN_P, 1),
            lib.llama_sampler_init_temp(p.temperature),
            lib.llama_sampler_init_dist(seed),
        ):
            lib.llama_sampler_chain_add(chain, link)
        return chain

    # -- the decoding loop ------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while True:
                if not self._admit():
                    return
                if self._active:
                    self._step()
        except BaseException as exc:  # never leave a caller waiting on a dead worker
            self._broken = f"llama.cpp: batched decoding stopped: {exc!r}"
            self._fail_all(self._broken)
            raise

    def _admit(self) -> bool:
        """Fill free slots from the queue (waiting if nothing is in flight). False: closed."""
        while len(self._active) < self.slots:
            try:
                sequence = self._queue.get(block=not self._active)
            except queue.Empty:
                return True
            if sequence is None:
                self._closing = True
                if not self._active:
                    self._fail_all("llama.cpp: the engine is closed")  # submitted too late
                    return False
                self._queue.put(None)  # see it again once the last sequence finishes
                return True
            self._start(sequence)
        return True

    def _start(self, sequence: _Sequence) -> None:
        """Put `sequence` in a free slot with its prompt in the cache, and sample its first
        token from the prompt's last logits row."""
        lib = self._lib
        prompt = tuple(sequence.prompt)
        free = [s for s in range(self.slots) if s not in self._active]
        if not self._prefix_reuse:
            self._held = [None] * self.slots
        slot, source, shared = self._placement(prompt, free)
        if source is not None and source != slot:
            # llama.cpp copies whole KV streams; the source's cells past the prefix come along
            # and are dropped below
            lib.llama_memory_seq_rm(self._memory, slot, -1, -1)
            lib.llama_memory_seq_cp(self._memory, source, slot, -1, -1)
        lib.llama_memory_seq_rm(self._memory, slot, shared, -1)  # shared = 0: cells from 0 again
        self.stats["prompt_tokens_copied"] += shared
        if shared == len(prompt):  # the whole prompt was held, with its last logits row
            self._logits[slot] = self._logits[source]  # type: ignore[index]
        else:
            self._held[slot] = None
            logits = self._prefill(slot, prompt, shared)
            if logits is None:
                return self._finish(sequence, "", error="llama.cpp: llama_decode failed")
            self._logits[slot] = logits
        self._held[slot] = prompt
        sequence.slot, sequence.n_past = slot, len(prompt)
        sequence.sampler = self._new_sampler(sequence.request)
        sequence.started = time.perf_counter()
        self._active[slot] = sequence
        logits = self._logits[slot]
        if self.trace is not None:
            self.trace.setdefault(sequence.future, []).append(hashlib.sha1(logits).hexdigest())
        self._advance(sequence, self._sample_row(sequence.sampler, logits))

    def _placement(self, prompt: tuple[int, ...], free: list[int]) -> tuple[int, int | None, int]:
        """The free slot for `prompt`, the slot whose cells it starts from (None: none), and
        how many of its tokens those cells hold: all of them where a slot holds the prompt,
        else (without flash attention) the longest prefix shared with a held prompt that may
        be shared (module docstring), else 0."""
        holders = [s for s in range(self.slots) if self._held[s] == prompt]
        if holders:
            here = [s for s in free if s in holders]
            slot = here[0] if here else self._spare_slot(free)
            return slot, (slot if here else holders[0]), len(prompt)
        slot = self._spare_slot(free)
        if len(prompt) > self._n_batch or not self._share_prefixes:
            return slot, None, 0
        best, shared = None, MIN_SHARED - 1
        for s in [slot, *range(self.slots)]:  # the slot itself first: no copy
            held = self._held[s]
            if held is None or len(held) > self._n_batch:
                continue
            n = min(_common_prefix(held, prompt), len(prompt) - MIN_REST)
            if n > shared:
                best, shared = s, n
        return (slot, best, shared) if best is not None else (slot, None, 0)

    def _spare_slot(self, free: list[int]) -> int:
        """A free slot whose held prompt no running sequence shares, if there is one."""
        running = {self._held[s] for s in self._active}
        return next((s for s in free if self._held[s] not in running), free[0])

    def _prefill(self, slot: int, tokens: tuple[int, ...], start: int = 0) -> np.ndarray | None:
        """Evaluate `tokens[start:]` into `slot` alone (the cells before `start` hold the
        rest), in chunks of n_batch from position 0 (as `Llama.eval` does); the last token's
        logits row, or None when llama_decode fails."""
        lib, batch = self._lib, self._batch
        began, cpu = time.perf_counter(), time.thread_time()
        first = start - start % self._n_batch
        for chunk_start in range(first, len(tokens), self._n_batch):
            begin = max(start, chunk_start)
            chunk = tokens[begin : chunk_start + self._n_batch]
            for i, token in enumerate(chunk):
                pos = begin + i
                self._put(i, token, pos, slot, logits=pos == len(tokens) - 1)
            batch.n_tokens = len(chunk)
            if lib.llama_decode(self._ctx, batch) != 0:
                return None
        self.stats["prompt_tokens_evaluated"] += len(tokens) - start
        self.stats["prefill_s"] += time.perf_counter() - began
        self.stats["prefill_cpu_s"] += time.thread_time() - cpu
        row = lib.llama_get_logits_ith(self._ctx, batch.n_tokens - 1)
        return np.ctypeslib.as_array(row, shape=(self._n_vocab,)).copy()

    def _sample_row(self, sampler: Any, logits: np.ndarray) -> int:
        """`llama_sampler_sample` on a kept logits row instead of the context's latest."""
        lib = self._lib
        candidates = np.zeros(self._n_vocab, dtype=_TOKEN_DATA)
        candidates["id"] = np.arange(self._n_vocab)
        candidates["logit"] = logits
        array = lib.llama_token_data_array(
            data=candidates.ctypes.data_as(lib.llama_token_data_p),
            size=self._n_vocab, selected=-1, sorted=False,
        )  # fmt: skip
        lib.llama_sampler_apply(sampler, ctypes.byref(array))
        token = int(candidates["id"][array.selected])
        lib.llama_sampler_accept(sampler, token)
        return token

    def _put(self, i: int, token: int, pos: int, seq: int, *, logits: bool) -> None:
        batch = self._batch
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits

    def _step(self) -> None:
        """One token for every sequence in flight, then sample and check each one's stops."""
        lib, stats, clock = self._lib, self.stats, time.thread_time
        cpu0 = clock()
        if self.compact:
            self._compact()
            order = [self._active[s] for s in sorted(self._active)]
        else:
            order = list(self._active.values())
        for i, sequence in enumerate(order):
            self._put(i, sequence.next_token, sequence.n_past, sequence.slot, logits=True)
        self._batch.n_tokens = len(order)
        start, cpu1 = time.perf_counter(), clock()
        status = lib.llama_decode(self._ctx, self._batch)
        cpu2 = clock()
        stats["decode_s"] += time.perf_counter() - start
        stats["decode_cpu_s"] += cpu2 - cpu1
        stats["steps"] += 1
        stats["tokens_decoded"] += len(order)
        if status != 0:
            self._fail_all(f"llama.cpp: llama_decode returned {status}")
            return
        sampling = 0.0
        for i, sequence in enumerate(order):
            sequence.n_past += 1
            if self.trace is not None:
                row = ctypes.string_at(lib.llama_get_logits_ith(self._ctx, i), 4 * self._n_vocab)
                self.trace.setdefault(sequence.future, []).append(hashlib.sha1(row).hexdigest())
            before = clock()
            token = lib.llama_sampler_sample(sequence.sampler, self._ctx, i)
            sampling += clock() - before
            self._advance(sequence, token)
        spent = clock() - cpu0
        stats["sample_cpu_s"] += sampling
        stats["step_cpu_s"] += spent
        width = self.step_widths.setdefault(len(order), [0, 0.0])
        width[0] += 1
        width[1] += spent

    def _compact(self) -> None:
        """Move sequences so that the slots in flight are consecutive.

        With one KV stream per sequence, llama_decode splits a batch into ubatches of
        consecutive sequence ids in increasing order (`llama_batch_allocr::split_equal`,
        sequential), and every ubatch is a forward pass of its own, reading all the weights:
        a step over slots {0, 1, 3} costs two passes. So when a sequence finishes and leaves
        a gap, the sequences outside the best-placed window of consecutive slots move into
        its free slots: `llama_memory_seq_cp` copies the whole KV stream (cells and
        positions as they were), the same numbers on the next step. The source slot keeps
        its cells and its held prompt, for prefix reuse.
        """
        width = len(self._active)
        if width == 0 or max(self._active) - min(self._active) == width - 1:
            return
        start = max(
            range(self.slots - width + 1),
            key=lambda s: sum(1 for slot in range(s, s + width) if slot in self._active),
        )
        window = range(start, start + width)
        holes = [s for s in window if s not in self._active]
        movers = [s for s in sorted(self._active) if s not in window]
        lib = self._lib
        for source, slot in zip(movers, holes, strict=True):
            sequence = self._active.pop(source)
            lib.llama_memory_seq_rm(self._memory, slot, -1, -1)
            lib.llama_memory_seq_cp(self._memory, source, slot, -1, -1)
            self._held[slot], self._logits[slot] = self._held[source], self._logits[source]
            sequence.slot = slot
            self._active[slot] = sequence
            self.stats["moves"] += 1

    def _advance(self, sequence: _Sequence, token: int) -> None:
        """`Llama._create_completion`'s stop rules, token by token."""
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            return self._finish(sequence, "stop")
        sequence.tokens.append(token)
        sequence.text += self._piece(token, first=len(sequence.tokens) == 1)
        # hold back a multi-byte UTF-8 character until its last byte has come
        for k, char in enumerate(sequence.text[-3:]):
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    sequence.multibyte_fix = num - k
        if sequence.multibyte_fix > 0 and sequence.n_past < self.n_ctx:
            sequence.multibyte_fix -= 1
            sequence.next_token = token
            return
        hits = [s for s in sequence.stops if s in sequence.text]
        if hits:
            sequence.text = sequence.text[: sequence.text.index(hits[0])]
            return self._finish(sequence, "stop")
        if len(sequence.tokens) >= sequence.max_tokens or sequence.n_past >= self.n_ctx:
            return self._finish(sequence, "length")
        sequence.next_token = token

    def _piece(self, token: int, *, first: bool) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._llm._model.detokenize([token])
            self._pieces[token] = piece
        # LlamaModel.detokenize drops the space a leading BOS token decodes to
        return piece[1:] if first and token == self._bos and piece[:1] == b" " else piece

    def _finish(self, sequence: _Sequence, reason: str, error: str | None = None) -> None:
        if sequence.sampler is not None:
            self._lib.llama_sampler_free(sequence.sampler)
            sequence.sampler = None
        self._active.pop(sequence.slot, None)
        completion = Completion(
            text=sequence.text.decode("utf-8", errors="ignore"),
            finish_reason=reason if error is None else None,
            prompt_tokens=len(sequence.prompt),
            completion_tokens=len(sequence.tokens),
            latency_s=time.perf_counter() - sequence.started if sequence.started else 0.0,
            error=error,
        )
        sequence.future.set_result(completion)

    def _fail_all(self, error: str) -> None:
        for sequence in list(self._active.values()):
            self._finish(sequence, "", error=error)
        self._lib.llama_memory_clear(self._memory, True)
        self._held = [None] * self.slots
        while True:
            try:
                sequence = self._queue.get_nowait()
            except queue.Empty:
                return
            if sequence is None:  # close() is waiting for the worker to see it
                if not self._closing:
                    self._queue.put(None)
                return
            sequence.future.set_result(Completion(error=error))


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
