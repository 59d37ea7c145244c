"""One worker thread owns the model; a queue feeds it. Requests never touch the model themselves.

A model is not safe to run from two threads at once (its KV caches, torch's global random state, the
train/eval flag that generate sets and restores), and on a CPU two generations at once are no faster than
one after the other. So the server puts each request's work, a `Job`, on a queue; one thread takes jobs in
arrival order and runs gptlab.generation.stream on them, sending events back through the job's `emit`
callback (thread-safe: the app hands in `loop.call_soon_threadsafe`). The n samples of one request are one
batch (generate draws them together); requests are not batched with each other.

A job can be cancelled at any time (the client went away): the model is wrapped so that every forward pass,
one per generated token, first checks the job's flag, so a cancelled job stops within one token.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Cancelled", "Engine", "Job", "QueueFull"]


class Cancelled(Exception):
    """Raised inside the worker when the job's client has gone away."""


class QueueFull(Exception):
    """More jobs are waiting than the engine accepts."""


@dataclass
class Job:
    """One request's generation work. Events sent to `emit`, in order:

    ("chunk", index, text, finish_reason, completion_tokens)  — text for choice `index` (finish_reason and the
        number of tokens it generated are set on its last chunk, else None)
    then exactly one of ("done",), ("cancelled",), ("error", exception).
    """

    prompts: list[list[int]]
    emit: Callable[[tuple], Any]
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()


class _CountingModel:
    """The model as generate sees it, plus a count of forward passes and a cancellation point before each.

    generate runs one forward pass per generated token (the prompt's pass yields the first token), so when a
    sample's last chunk arrives, `calls` is the number of tokens that sample generated.
    """

    def __init__(self, model, cancelled: threading.Event):
        self._model, self._cancelled, self.calls = model, cancelled, 0

    def __call__(self, *args, **kwargs):
        if self._cancelled.is_set():
            raise Cancelled()
        self.calls += 1
        return self._model(*args, **kwargs)

    def __getattr__(self, name):  # config, parameters, training, eval, train: the real model's
        return getattr(self._model, name)


class Engine:
    """The queue and the worker thread that owns `model`. start() / stop(); submit(job) from any thread."""

    def __init__(self, model, tokenizer, max_queue: int = 256):
        if tokenizer is None:
            raise ValueError("the server needs the model's tokenizer (to read prompts and write text)")
        self.model, self.tokenizer, self.max_queue = model, tokenizer, max_queue
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.jobs_done = 0
        self.tokens_generated = 0
        self.busy_seconds = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if not self.running:
                self._thread = threading.Thread(target=self._work, name="gptlab-serve-engine", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what is queued, let the current job stop at its next token, and end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
                job.emit(("cancelled",))
        self._queue.put(None)
        thread.join(timeout)

    def pending(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job) -> None:
        if self._queue.qsize() >= self.max_queue:
            raise QueueFull(f"{self._queue.qsize()} requests are already waiting")
        self.start()
        self._queue.put(job)

    # --- the worker ------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.cancelled.is_set():
                job.emit(("cancelled",))
                continue
            started = time.perf_counter()
            try:
                self._run(job)
            except Cancelled:
                job.emit(("cancelled",))
            except Exception as error:  # a bug or a bad input must fail this request only, never the worker
                job.emit(("error", error))
            else:
                job.emit(("done",))
            finally:
                self.jobs_done += 1
                self.busy_seconds += time.perf_counter() - started

    def _run(self, job: Job) -> None:
        from gptlab.generation import stream

        for number, prompt in enumerate(job.prompts):
            counting = _CountingModel(self.model, job.cancelled)
            chunks = stream(counting, prompt, max_tokens=job.max_tokens, temperature=job.temperature,
                            top_p=None if job.top_p >= 1 else job.top_p, n=job.n, stop=job.stop or None, seed=job.seed,
                            tokenizer=self.tokenizer)
            try:
                for chunk in chunks:
                    if job.cancelled.is_set():
                        raise Cancelled()
                    tokens = None
                    if chunk.finish_reason is not None:
                        tokens = counting.calls
                        self.tokens_generated += tokens
                    job.emit(("chunk", number * job.n + chunk.index, chunk.text, chunk.finish_reason, tokens))
            finally:
                chunks.close()  # restores the model's train/eval mode at once, even when cancelled
