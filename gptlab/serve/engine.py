"""One worker thread owns the model and decodes every request's samples together: continuous batching.

A model must not run from two threads at once (its KV caches, the random state, the train/eval flag), so the
server hands each request to this engine as a `Job`, and one thread does all the model's work. It keeps one
gptlab.generation.Decoder: the samples of all running requests are its rows, each at its own length with its
own KV-cache row. At every step the worker

1. admits waiting jobs while their rows fit (a job's prompts, n samples each; each prompt's n samples share
   one sampling setting and one seeded generator, exactly as generate(..., n=n, seed=seed) draws them),
2. runs one decoding step for all rows at once (one batched forward pass),
3. turns each row's new token into text (stop strings, never half a UTF-8 character: generation's own
   streaming logic), with its log-probabilities when asked, and sends the pieces to the job's `emit`,
4. drops the rows of prompts whose samples have all finished, so new requests take their place.

Requests join and leave between steps, so sixteen clients at once are sixteen rows of one batch, not sixteen
turns of the model. A job is cancelled at once when its client leaves (its rows are dropped at the next step).
Events, in order: lists of Delta (the pieces of the job's choices from one step), then exactly one of Done,
Cancelled, Failed.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from gptlab.generation.decoding import _Sample
from gptlab.generation.loop import Decoder, Sampling
from gptlab.serve.responses import TokenLogprob

__all__ = ["Cancelled", "Delta", "Done", "Engine", "Failed", "Job", "QueueFull"]


class QueueFull(Exception):
    """More jobs are waiting than the engine accepts."""


@dataclass
class Delta:
    """New text for choice `index` (prompt number × n + sample), the ids it came from, their log-probabilities
    (when the job asked), and on the choice's last piece its finish_reason and how many tokens it generated."""

    index: int
    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    completion_tokens: int | None = None


@dataclass
class Done:
    completion_tokens: int


@dataclass
class Cancelled:
    pass


@dataclass
class Failed:
    error: BaseException


@dataclass
class Job:
    """One request's work: its prompts (token ids), n samples of each, how to sample, where events go."""

    prompts: list[list[int]]
    emit: Callable[[Any], Any]
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float | None = None
    n: int = 1
    stop: list[str] = field(default_factory=list)  # stop strings, matched in the text
    stop_ids: frozenset[int] = frozenset()  # token ids that end a sample (a chat answer ends at <|endoftext|>)
    seed: int | None = None
    logprobs: int | None = None  # None: none; k >= 0: each token's log-probability and the k most likely
    stream: bool = True  # False: the pieces are handed over once, with Done (a whole answer needs no more)
    cancelled: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.perf_counter)
    closed: bool = False  # its last event (Done, Cancelled or Failed) has been sent
    held: list = field(default_factory=list)  # a job that does not stream: its Deltas until it is done

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def rows_needed(self) -> int:
        return self.n  # one prompt at a time is admitted: n rows


class _Prompt:
    """One prompt of a job in the decoder: its n rows and the text state of each sample."""

    def __init__(self, job: Job, number: int, tokenizer, decoder: Decoder):
        self.job, self.number = job, number
        generator = torch.Generator().manual_seed(job.seed) if job.seed is not None else None
        sampling = Sampling(job.temperature, None, job.top_p)
        self.samples = [_Sample(i, tokenizer, job.stop) for i in range(job.n)]
        self.rows = decoder.add([job.prompts[number]] * job.n, sampling, max(job.max_tokens, 1),
                                stop_ids=job.stop_ids, generator=generator)
        self.logprobs: list[list[TokenLogprob]] = [[] for _ in range(job.n)]
        self.tokens = [0] * job.n  # tokens each sample generated until it finished

    @property
    def done(self) -> bool:
        return all(sample.finish_reason is not None for sample in self.samples)


class Engine:
    """The job queue and the worker thread that owns `model`. start() / stop(); submit(job) from any thread.

    capacity: rows (samples) decoded together; a job's prompts are admitted one at a time, n rows each.
    """

    def __init__(self, model, tokenizer, *, capacity: int = 16, max_queue: int = 256):
        if tokenizer is None:
            raise ValueError("the server needs the model's tokenizer (to read prompts and write text)")
        self.model, self.tokenizer, self.capacity, self.max_queue = model, tokenizer, capacity, max_queue
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.jobs_done = 0
        self.tokens_generated = 0
        self.steps = 0
        self.busy_seconds = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if not self.running:
                self._stopping.clear()
                self._thread = threading.Thread(target=self._work, name="gptlab-serve-engine", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every job, queued or running, and end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._queue.put(None)
        thread.join(timeout)
        while True:  # whatever was still queued
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
                job.emit(Cancelled())

    def pending(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job) -> None:
        if job.n > self.capacity:
            raise ValueError(f"n={job.n} samples do not fit in this engine's {self.capacity} rows")
        if self._queue.qsize() >= self.max_queue:
            raise QueueFull(f"{self._queue.qsize()} requests are already waiting")
        self.start()
        self._queue.put(job)

    # --- the worker ------------------------------------------------------------------------------------

    def _work(self) -> None:
        self.model.eval()
        decoder = Decoder(self.model, self.capacity)
        waiting: list[Job] = []  # taken off the queue, prompts not all admitted yet
        admitted: dict[int, int] = {}  # id(job) -> prompts admitted so far
        running: list[_Prompt] = []
        finished_prompts: dict[int, int] = {}  # id(job) -> prompts finished
        generated: dict[int, int] = {}  # id(job) -> tokens its samples generated
        while not self._stopping.is_set():
            # 1. take new jobs: block only when there is nothing to do
            try:
                while True:
                    job = self._queue.get(block=not running and not waiting)
                    if job is None:
                        if self._stopping.is_set():
                            break
                        continue
                    waiting.append(job)
            except queue.Empty:
                pass
            if self._stopping.is_set():
                break
            # 2. admit prompts, in arrival order, while their rows fit
            for job in [j for j in waiting if j.max_tokens == 0]:  # nothing to generate: answer at once
                waiting.remove(job)
                job.held = [Delta(index, "", [], [] if job.logprobs is not None else None, "length", 0)
                            for index in range(len(job.prompts) * job.n)]
                self._finish(job, Done(0), admitted, finished_prompts, generated)
            for job in list(waiting):
                if job.cancelled.is_set():
                    waiting.remove(job)
                    self._finish(job, Cancelled(), admitted, finished_prompts, generated)
                    continue
                while admitted.get(id(job), 0) < len(job.prompts) and len(decoder.rows) + job.n <= self.capacity:
                    number = admitted.get(id(job), 0)
                    admitted[id(job)] = number + 1
                    running.append(_Prompt(job, number, self.tokenizer, decoder))
                if admitted.get(id(job), 0) == len(job.prompts):
                    waiting.remove(job)
                elif len(decoder.rows) + job.n > self.capacity:
                    break  # first come, first served: later jobs wait too
            # 3. cancelled jobs leave at once
            for prompt in [p for p in running if p.job.cancelled.is_set()]:
                running.remove(prompt)
                decoder.drop(prompt.rows)
                if not any(p.job is prompt.job for p in running) and prompt.job not in waiting:
                    self._finish(prompt.job, Cancelled(), admitted, finished_prompts, generated)
            if not running:
                continue
            # 4. one step for every row
            started = time.perf_counter()
            try:
                self._step(decoder, running, generated)
            except Exception as error:  # a bug or a bad input fails the jobs in the batch, never the worker
                for prompt in running:
                    decoder.drop(prompt.rows)
                    self._finish(prompt.job, Failed(error), admitted, finished_prompts, generated)
                running.clear()
                decoder = Decoder(self.model, self.capacity)
                continue
            finally:
                self.busy_seconds += time.perf_counter() - started
            # 5. prompts whose samples are all done leave the batch
            for prompt in [p for p in running if p.done]:
                running.remove(prompt)
                decoder.drop(prompt.rows)
                finished_prompts[id(prompt.job)] = finished_prompts.get(id(prompt.job), 0) + 1
                if finished_prompts[id(prompt.job)] == len(prompt.job.prompts):
                    self._finish(prompt.job, Done(generated.get(id(prompt.job), 0)), admitted, finished_prompts, generated)
        for prompt in running:
            prompt.job.cancel()
            prompt.job.emit(Cancelled())
        for job in waiting:
            job.cancel()
            job.emit(Cancelled())

    def _finish(self, job: Job, event, admitted, finished_prompts, generated) -> None:
        if job.closed:
            return
        job.closed = True
        if isinstance(event, Failed):
            job.cancel()  # its other prompts stop too
        admitted.pop(id(job), None)
        finished_prompts.pop(id(job), None)
        generated.pop(id(job), None)
        self.jobs_done += 1
        if job.held and isinstance(event, Done):
            job.emit(job.held)
        job.held = []
        job.emit(event)

    def _step(self, decoder: Decoder, running: list[_Prompt], generated: dict[int, int]) -> None:
        wants_logprobs = any(p.job.logprobs is not None for p in running)
        steps = decoder.step()
        self.steps += 1
        by_row = {id(row): (token, row) for row, token in steps}
        out: dict[int, tuple[Job, list[Delta]]] = {}
        for prompt in running:
            job = prompt.job
            for i, (sample, row) in enumerate(zip(prompt.samples, prompt.rows)):
                if sample.finish_reason is not None:
                    continue  # finished: its row stays (unread) until the prompt's last sample is done
                token, _ = by_row[id(row)]
                if wants_logprobs and job.logprobs is not None:
                    prompt.logprobs[i].append(self._logprob(row.last_logits, token, job.logprobs))
                prompt.tokens[i] += 1
                last = prompt.tokens[i] >= job.max_tokens
                chunk = sample.finish() if token in job.stop_ids else sample.push(token, last)
                if chunk.finish_reason is not None:
                    generated[id(job)] = generated.get(id(job), 0) + prompt.tokens[i]
                    self.tokens_generated += prompt.tokens[i]
                if chunk.text or chunk.token_ids or chunk.finish_reason:
                    released = None
                    if job.logprobs is not None:
                        start = sample.released_ids - len(chunk.token_ids)
                        released = prompt.logprobs[i][start:sample.released_ids]
                    out.setdefault(id(job), (job, []))[1].append(Delta(
                        prompt.number * job.n + i, chunk.text, list(chunk.token_ids), released, chunk.finish_reason,
                        prompt.tokens[i] if chunk.finish_reason else None))
        for job, deltas in out.values():  # one hand-over per job and step: each costs the server's event loop a wake-up
            if job.stream:
                job.emit(deltas)
            else:
                job.held.extend(deltas)

    def _logprob(self, logits: torch.Tensor, token: int, top: int) -> TokenLogprob:
        log_probs = torch.log_softmax(logits.float(), dim=-1)  # the model's own distribution, before any sampling rule
        alternatives = []
        if top:
            values, ids = torch.topk(log_probs, top)
            alternatives = [(*self._token_text(int(i)), float(v)) for v, i in zip(values, ids)]
        return TokenLogprob(*self._token_text(token), float(log_probs[token]), alternatives)

    def _token_text(self, token: int) -> tuple[str, bytes]:
        """A token as OpenAI writes it in logprobs: its text, or "bytes:\\x.." when its bytes are not UTF-8 alone."""
        data = getattr(self.tokenizer, "token_bytes", {}).get(token)
        if data is None:
            text = self.tokenizer.decode([token])
            return text, text.encode("utf-8")
        try:
            return data.decode("utf-8"), data
        except UnicodeDecodeError:
            return "bytes:" + "".join(f"\\x{b:02x}" for b in data), data
