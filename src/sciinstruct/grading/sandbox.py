"""A hard time limit for symbolic work, that holds on any thread and in any process.

Math-verify's own limit is `signal.alarm`, which only works on the main thread of the main
interpreter, so it fails in thread pools, Ray actors and web servers. Here the costly work runs
in a few persistent worker processes (plain subprocesses, so they may be started from daemonic
processes such as multiprocessing or Ray workers too). The parent waits for each answer with a
deadline; a worker that misses it is killed and replaced, and the task reports `timeout`.

Workers speak JSON lines over their stdin/stdout and run only the functions listed in the
`OPS` dict of the module they were started with: no code travels over the pipe.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

# Tasks sent to a worker at a time: enough to amortise a pipe round trip, few enough that a
# killed worker loses little queued work (it is re-sent to another worker).
_BATCH = 8
# A batch must fit in the pipe (64 KiB on Linux): a larger write would block this process
# until the worker reads it, and a worker stuck on the batch's first task never would.
_BATCH_BYTES = 32 * 1024
# Starting a worker imports sympy and math-verify: about 1-2 s, far more on a loaded machine.
_STARTUP_TIMEOUT_S = 120.0
# Address-space cap for a worker: sympy building 10^(10^10) is stopped by MemoryError, not swap.
_MEMORY_LIMIT_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class Outcome:
    """What a task produced: `value`, or `error` ("timeout", "crashed", "ExcType: message")."""

    value: Any = None
    error: str | None = None


class _Worker:
    """One worker subprocess and the bytes it has written that we have not read yet."""

    def __init__(self, ops_module: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sciinstruct.grading.sandbox", ops_module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.started = time.monotonic()
        self.ready = False
        self._buffer = b""

    def fileno(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def send(self, lines: list[bytes]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(lines))
        self.proc.stdin.flush()

    def read_messages(self) -> list[dict[str, Any]] | None:
        """The complete messages available now; None when the worker has exited."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            return None
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for line in lines:
            try:
                messages.append(json.loads(line))
            except ValueError:
                continue  # stray output from a library: not one of our messages
        return messages

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class WorkerPool:
    """Up to `size` persistent workers; `run` is safe to call from many threads at once.

    With `spare`, one more worker is kept started and idle, outside `size`: a worker killed for
    overrunning is succeeded by the spare, whose imports are done, and the next spare starts in
    the background. Without it the task after a kill waits for a cold start (~2 s of sympy
    imports), which a server's admission cannot foresee.
    """

    def __init__(
        self, size: int, ops_module: str = "sciinstruct.grading.mathexpr", spare: bool = False
    ) -> None:
        self.size = max(1, size)
        self.ops_module = ops_module
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._spare: _Worker | None = None
        if spare:
            self.keep_spare()

    def keep_spare(self) -> None:
        """Start the spare worker now (if there is none), and keep one from now on."""
        with self._lock:
            if self._spare is None:
                self._spare = _Worker(self.ops_module)

    def resize(self, size: int) -> None:
        """Allow up to `size` workers (never shrinks: idle workers cost no CPU)."""
        self.size = max(self.size, size)

    def run(
        self,
        tasks: list[tuple[str, tuple[Any, ...]]],
        timeout: float,
        parallel: int | None = None,
        deadline: float | None = None,
    ) -> list[Outcome]:
        """Run `(op, args)` tasks on up to `parallel` workers, each task under `timeout` s and
        none past `deadline` (a `time.monotonic()` instant, worker start-up included): a task
        not started by then reports `deadline`, one still running `timeout`."""
        if not tasks:
            return []
        workers = self._checkout(min(len(tasks), parallel or self.size))
        try:
            return _Dispatch(self, workers, tasks, timeout, deadline).run()
        except BaseException:
            # Interrupted mid-batch: their late replies must not reach the next caller.
            workers[:] = [self.replace(worker) for worker in workers]
            raise
        finally:
            for worker in workers:
                self._idle.put(worker)

    def _checkout(self, wanted: int) -> list[_Worker]:
        with self._lock:  # start workers only while too few are idle and we are under size
            while len(self._all) < self.size and self._idle.qsize() < wanted:
                self._spawn_idle()
        workers = [self._idle.get()]  # blocks while other threads hold every worker
        while len(workers) < wanted:
            try:
                workers.append(self._idle.get_nowait())
            except queue.Empty:
                break
        return workers

    def _spawn_idle(self) -> None:
        worker = _Worker(self.ops_module)
        self._all.add(worker)
        self._idle.put(worker)

    def replace(self, worker: _Worker) -> _Worker:
        """Kill a worker (it overran or died) and return its successor: the spare when one is
        kept and alive (then the next spare starts), else a fresh worker."""
        worker.kill()
        with self._lock:
            fresh = self._spare
            if fresh is not None:
                self._spare = _Worker(self.ops_module)
                if fresh.proc.poll() is not None:  # the spare itself died: start cold
                    fresh.kill()
                    fresh = None
            fresh = fresh or _Worker(self.ops_module)
            self._all.discard(worker)
            self._all.add(fresh)
        return fresh

    def close(self) -> None:
        with self._lock:
            for worker in self._all | ({self._spare} if self._spare else set()):
                worker.kill()
            self._all.clear()
            self._spare = None
            self._idle = queue.SimpleQueue()


class _Dispatch:
    """Feeds tasks to a set of checked-out workers and enforces each task's deadline."""

    def __init__(
        self,
        pool: WorkerPool,
        workers: list[_Worker],
        tasks: list[tuple[str, tuple[Any, ...]]],
        timeout: float,
        overall: float | None = None,
    ) -> None:
        self.pool, self.workers, self.tasks, self.timeout = pool, workers, tasks, timeout
        self.overall = overall
        self.pending: deque[int] = deque(range(len(tasks)))
        self.results: list[Outcome | None] = [None] * len(tasks)
        self.inflight: dict[int, deque[int]] = {id(w): deque() for w in workers}
        self.deadline: dict[int, float] = {}

    def run(self) -> list[Outcome]:
        while self.pending or any(self.inflight.values()):
            if self.overall is not None and self.pending and time.monotonic() >= self.overall:
                for i in self.pending:
                    self.results[i] = Outcome(error="deadline")
                self.pending.clear()
                continue
            self._feed()
            self._wait_and_collect()
            self._expire()
        return [r if r is not None else Outcome(error="lost") for r in self.results]

    def _feed(self) -> None:
        for worker in list(self.workers):
            queue_ = self.inflight[id(worker)]
            if worker.ready and worker.proc.poll() is not None:  # died while idle
                self._swap(worker, self.pool.replace(worker))
                continue
            if worker.ready and not queue_ and self.pending:
                batch, lines = self._next_batch()
                try:
                    worker.send(lines)
                except (BrokenPipeError, OSError):
                    self.pending.extendleft(reversed(batch))
                    self._swap(worker, self.pool.replace(worker))
                    continue
                queue_.extend(batch)
                self.deadline[id(worker)] = self._task_deadline()

    def _next_batch(self) -> tuple[list[int], list[bytes]]:
        """Up to _BATCH tasks, fewer if they would overfill the pipe (see _BATCH_BYTES)."""
        batch: list[int] = []
        lines: list[bytes] = []
        size = 0
        while self.pending and len(batch) < _BATCH:
            i = self.pending[0]
            op, args = self.tasks[i]
            line = (json.dumps({"i": i, "op": op, "args": args}) + "\n").encode()
            if batch and size + len(line) > _BATCH_BYTES:
                break
            batch.append(self.pending.popleft())
            lines.append(line)
            size += len(line)
        return batch, lines

    def _wait_and_collect(self) -> None:
        now = time.monotonic()
        waits = [self.deadline[id(w)] - now for w in self.workers if self.inflight[id(w)]]
        waits += [w.started + _STARTUP_TIMEOUT_S - now for w in self.workers if not w.ready]
        if self.overall is not None and self.pending:
            waits.append(self.overall - now)
        # poll/epoll via `wait`, not select(): select fails on descriptors above 1023, which
        # busy processes (Ray workers, servers) reach.
        readable = wait(self.workers, timeout=max(0.0, min(waits, default=0.0)))
        for worker in readable:
            messages = worker.read_messages()
            if messages is None:
                self._worker_died(worker)
                continue
            for message in messages:
                self._accept(worker, message)

    def _accept(self, worker: _Worker, message: dict[str, Any]) -> None:
        if "ready" in message:
            worker.ready = True
            return
        queue_ = self.inflight[id(worker)]
        if queue_ and queue_[0] == message["i"]:
            queue_.popleft()
        outcome = Outcome(error=message["err"]) if "err" in message else Outcome(message["ok"])
        self.results[message["i"]] = outcome
        self.deadline[id(worker)] = self._task_deadline()

    def _task_deadline(self) -> float:
        end = time.monotonic() + self.timeout
        return end if self.overall is None else min(end, self.overall)

    def _expire(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers):
            queue_ = self.inflight[id(worker)]
            if queue_ and now >= self.deadline[id(worker)]:
                self.results[queue_.popleft()] = Outcome(error="timeout")
                self.pending.extendleft(reversed(queue_))
                queue_.clear()
                self._swap(worker, self.pool.replace(worker))
            elif not worker.ready and now >= worker.started + _STARTUP_TIMEOUT_S:
                raise RuntimeError(f"grading worker did not start in {_STARTUP_TIMEOUT_S:.0f} s")

    def _worker_died(self, worker: _Worker) -> None:
        queue_ = self.inflight[id(worker)]
        if not worker.ready and not queue_:
            raise RuntimeError(
                "grading worker exited while starting (see `python -m "
                "sciinstruct.grading.sandbox` for its error)"
            )
        if queue_:  # the task at the head crashed it (segfault, MemoryError in C code, ...)
            self.results[queue_.popleft()] = Outcome(error="crashed")
            self.pending.extendleft(reversed(queue_))
            queue_.clear()
        self._swap(worker, self.pool.replace(worker))

    def _swap(self, old: _Worker, new: _Worker) -> None:
        self.workers[self.workers.index(old)] = new
        self.inflight[id(new)] = self.inflight.pop(id(old))
        self.deadline.pop(id(old), None)


_POOL: WorkerPool | None = None
_POOL_PID = 0
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """One worker per core, at most 4 (each holds sympy: about 150 MB)."""
    return max(1, min(os.cpu_count() or 1, 4))


def shared_pool(size: int | None = None) -> WorkerPool:
    """The process-wide pool, created on first use (and afresh in a forked child).

    Workers start only when needed: a single-threaded caller uses one, concurrent callers and
    `grade_many` up to `size`.
    """
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or os.getpid() != _POOL_PID:
            _POOL, _POOL_PID = WorkerPool(size or default_workers()), os.getpid()
        elif size:
            _POOL.resize(size)
        return _POOL


@atexit.register
def _close_shared_pool() -> None:
    if _POOL is not None and os.getpid() == _POOL_PID:
        _POOL.close()


def _serve(ops_module: str) -> None:
    """Worker main loop: read `{"i", "op", "args"}` lines, answer `{"i", "ok"|"err"}` lines."""
    import importlib

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT_BYTES, _MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform: the time limit still holds
    module = importlib.import_module(ops_module)
    ops = module.OPS
    if hasattr(module, "warmup"):
        module.warmup()  # heavy imports happen before "ready", outside any task's deadline
    out, sys.stdout = sys.stdout, sys.stderr  # library prints must not corrupt the protocol
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:  # bytes, whatever the locale; ends when the parent dies
        task = json.loads(line.decode("utf-8"))
        try:
            reply = {"i": task["i"], "ok": ops[task["op"]](*task["args"])}
        except Exception as exc:  # report everything, keep serving
            reply = {"i": task["i"], "err": f"{type(exc).__name__}: {str(exc)[:200]}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve(sys.argv[1])
