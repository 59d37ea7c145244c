"""Serving throughput and latency: the batching engine against one request at a time and against generate().

One run, one machine, one model: random weights in the course's shape (GPTConfig.preset("course"); a 300-id BPE
trained here) or `--model shipped|mine|PATH`, 1 torch thread by default. The same `--requests` requests in every
scenario: prompts of 8–200 tokens and max_tokens of 16–64 drawn from a fixed seed (no stop string, so each
generates exactly its max_tokens), so requests of different lengths join and leave the batch. Scenarios:

  * direct: generate() called on one thread, one request after another, no HTTP (the peer);
  * one-at-a-time engine: the server with an engine of one row (each request decoded alone, in turn);
  * batched engine: the server as shipped (up to 16 rows decoded together, continuous batching);

each at 1, 4 and 16 concurrent clients (the official openai client, one per thread, over loopback). The server
runs as `gptlab serve` in its own process, as it would for real: clients in the server's process would take
turns with its engine for Python's interpreter lock and measure that instead. Printed:
tokens/s, p50/p99 latency, and each server figure as a ratio to `direct`. Goals on 2 cores: one client through
the batched server ≥ 0.8x direct; 16 clients ≥ 2.4x direct.

    .venv/bin/python benchmarks/serve.py [--requests 64] [--threads 1] [--model shipped] [--clients 1,4,16]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import subprocess
import tempfile
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gptlab.generation import generate  # noqa: E402
from gptlab.nn.model import GPT, GPTConfig  # noqa: E402
from gptlab.serve import BackgroundServer, Limits, create_app  # noqa: E402

TEXT = ("ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet is the sun.\n\n"
        "JULIET: O Romeo, Romeo, wherefore art thou Romeo? Deny thy father and refuse thy name.\n\n") * 40


def build(source: str | None):
    if source:
        from gptlab.serve import load_for_serving

        model, tokenizer, _ = load_for_serving(source)
        return model, tokenizer
    from gptlab.tokenizers.bpe import BPETokenizer

    tokenizer = BPETokenizer().train(TEXT, 300)
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("course", vocab_size=tokenizer.vocab_size)).eval(), tokenizer


def workload(tokenizer, requests: int, seed: int = 0) -> list[tuple[list[int], int]]:
    """(prompt ids of 8–200 tokens, max_tokens 16–64) per request, from a fixed seed."""
    rng = random.Random(seed)
    ids = tokenizer.encode(TEXT)
    out = []
    for _ in range(requests):
        length, start = rng.randint(8, 200), rng.randrange(0, len(ids) - 201)
        out.append((ids[start:start + length], rng.randint(16, 64)))
    return out


def run_clients(base_url: str, jobs, clients: int) -> tuple[float, list[float], int]:
    from openai import OpenAI

    local = threading.local()

    def one(i: int) -> tuple[float, int]:
        if not hasattr(local, "client"):
            local.client = OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=600)
        prompt, max_tokens = jobs[i]
        start = time.perf_counter()
        tokens = local.client.completions.create(model="bench", prompt=prompt, max_tokens=max_tokens,
                                                 seed=i).usage.completion_tokens
        return time.perf_counter() - start, tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(len(jobs))))
    elapsed = time.perf_counter() - start
    return elapsed, sorted(r[0] for r in results), sum(r[1] for r in results)


@contextlib.contextmanager
def served(checkpoint: str, capacity: int, threads: int):
    """`gptlab serve` in a subprocess on a free port; yields its base URL."""
    command = [sys.executable, "-m", "gptlab.serve", "--model", checkpoint, "--name", "bench", "--port", "0",
               "--capacity", str(capacity), "--threads", str(threads), "--max-tokens", "64", "--log-level", "warning"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        match = re.search(r"at (http://\S+/v1)", line)
        if not match:
            raise RuntimeError(f"the server did not start: {line!r}")
        yield match.group(1)
    finally:
        child.terminate()
        child.wait(30)


def engine_alone(model, tokenizer, jobs, concurrent: int) -> tuple[float, list[float], int]:
    """The engine without HTTP: `concurrent` jobs in flight at a time, submitted from this thread."""
    from gptlab.serve.engine import Done, Engine, Job

    engine = Engine(model, tokenizer, capacity=16)
    engine.start()
    latencies, lock = [], threading.Lock()
    slots = threading.Semaphore(concurrent)
    finished = threading.Event()
    count = [0]

    def emit_for(t0):
        def emit(event):
            if isinstance(event, Done):
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    count[0] += 1
                    if count[0] == len(jobs):
                        finished.set()
                slots.release()
        return emit

    start = time.perf_counter()
    for prompt, max_tokens in jobs:
        slots.acquire()
        engine.submit(Job(prompts=[prompt], emit=emit_for(time.perf_counter()), max_tokens=max_tokens, stream=False))
    finished.wait()
    elapsed = time.perf_counter() - start
    engine.stop()
    return elapsed, sorted(latencies), sum(m for _, m in jobs)


def checkpoint_for_profile(model, tokenizer) -> str:
    from gptlab.io.checkpoint import save_checkpoint

    folder = tempfile.mkdtemp()
    return str(save_checkpoint(Path(folder) / "bench.safetensors", model, tokenizer=tokenizer))


def profile(model, tokenizer, jobs, checkpoint: str, threads: int) -> list:
    rows = [(f"profile: engine alone, {c} at once", engine_alone(model, tokenizer, jobs, c)) for c in (1, 16)]
    with served(checkpoint, 16, threads) as base_url:
        short = [(prompt, 1) for prompt, _ in jobs[:24]]
        run_clients(base_url, short[:2], 1)
        elapsed, latencies, tokens = run_clients(base_url, short, 1)
    print(f"profile: one request of 1 token through HTTP, p50 {statistics.median(latencies) * 1000:.1f} ms "
          "(prefill of an 8-200-token prompt, one step, JSON both ways, the openai client)")
    return rows


def direct(model, tokenizer, jobs) -> tuple[float, list[float], int]:
    latencies: list[float] = []

    def loop() -> None:
        generate(model, jobs[0][0], max_tokens=4)
        for i, (prompt, max_tokens) in enumerate(jobs):
            t0 = time.perf_counter()
            generate(model, prompt, max_tokens=max_tokens, seed=i)
            latencies.append(time.perf_counter() - t0)

    # On a worker thread, as the server's engine runs: on a busy 2-core machine torch's intra-op threads
    # behave differently on the main thread (spinning OpenMP workers), which would flatter the server.
    start = time.perf_counter()
    worker = threading.Thread(target=loop)
    worker.start()
    worker.join()
    return time.perf_counter() - start, sorted(latencies), sum(m for _, m in jobs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: clients, server and torch share the cores)")
    parser.add_argument("--model", default=None, help="shipped, mine or a path (default: random weights, course shape)")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--profile", action="store_true",
                        help="also: the engine alone (no HTTP) at 1 and 16 jobs at once, and one request's HTTP overhead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = build(args.model)
    jobs = workload(tokenizer, args.requests)
    total = sum(m for _, m in jobs)
    print(f"model: {model.num_params():,} parameters, context {model.config.block_size}; torch threads "
          f"{torch.get_num_threads()}; {args.requests} requests, prompts 8–200 tokens, {total} tokens to generate; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    peer = direct(model, tokenizer, jobs)
    rows = [("direct generate(), 1 thread", peer)]
    clients = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = args.model
        if checkpoint is None:  # the random model, as a checkpoint the server process can load
            from gptlab.io.checkpoint import save_checkpoint

            checkpoint = str(save_checkpoint(Path(folder) / "bench.safetensors", model, tokenizer=tokenizer))
        for name, capacity in [("one-at-a-time engine", 1), ("batched engine", 16)]:
            with served(checkpoint, capacity, args.threads) as base_url:
                run_clients(base_url, jobs[:2], 1)  # warm up the HTTP path
                for c in clients:
                    rows.append((f"{name}, {c} client{'s' if c > 1 else ''}", run_clients(base_url, jobs, c)))
    if args.profile:
        rows += profile(model, tokenizer, jobs, checkpoint_for_profile(model, tokenizer), args.threads)
    print(f"\n{'scenario':34} {'tokens/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs direct':>10}")
    for name, (elapsed, lat, tokens) in rows:
        p99 = lat[int(0.99 * (len(lat) - 1))]
        print(f"{name:34} {tokens / elapsed:9.0f} {statistics.median(lat) * 1000:8.0f} {p99 * 1000:8.0f} "
              f"{peer[0] / elapsed * tokens / peer[2]:9.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
