"""Serving throughput: requests/s and tokens/s through the HTTP server, against generate() called directly.

One run, one machine, one model: random weights in the course's shape (4 layers, 4 heads, 128 wide;
a 300-id BPE trained here), or `--model shipped|mine|PATH`. Every server binds 127.0.0.1 on a free port;
clients are the official openai client, one per thread. Scenarios, each `--requests` requests of
`--max-tokens` tokens (no stop string, so every request generates exactly max_tokens tokens):

  * direct: generate() in a loop on one thread of this process, no HTTP (the peer: what the model alone
    can do; on a thread, like the server's engine);
  * 1 client: the same requests one after another through the server (HTTP + JSON + queue overhead);
  * 16 clients: concurrently; the engine runs them one at a time, so throughput stays near the 1-client
    figure while the queue absorbs the burst (latency grows instead);
  * 16 clients, streaming: the same with server-sent events.

    .venv/bin/python benchmarks/serve.py [--requests 64] [--max-tokens 32] [--threads 1] [--model shipped]
"""

from __future__ import annotations

import argparse
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


def run_clients(base_url: str, requests: int, clients: int, max_tokens: int, stream: bool) -> tuple[float, list[float], int]:
    from openai import OpenAI

    local = threading.local()

    def one(i: int) -> tuple[float, int]:
        if not hasattr(local, "client"):
            local.client = OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=120)
        start = time.perf_counter()
        kwargs = dict(model="bench", prompt=f"ROMEO: request {i}", max_tokens=max_tokens, seed=i)
        if stream:
            tokens = 0
            for chunk in local.client.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
        else:
            tokens = local.client.completions.create(**kwargs).usage.completion_tokens
        return time.perf_counter() - start, tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - start
    return elapsed, sorted(r[0] for r in results), sum(r[1] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the clients, the server and torch share the cores; with 2 spinning "
                             "torch threads on a busy 2-core machine the timings swing by 10x)")
    parser.add_argument("--model", default=None, help="shipped, mine or a path (default: random weights, course shape)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = build(args.model)
    print(f"model: {model.num_params():,} parameters, vocab {model.config.vocab_size}; torch threads {torch.get_num_threads()}; "
          f"{args.requests} requests × {args.max_tokens} tokens per scenario")

    latencies: list[float] = []

    def direct_loop() -> None:
        generate(model, "warm up", max_tokens=4, tokenizer=tokenizer)
        for i in range(args.requests):
            t0 = time.perf_counter()
            generate(model, f"ROMEO: request {i}", max_tokens=args.max_tokens, seed=i, tokenizer=tokenizer)
            latencies.append(time.perf_counter() - t0)

    # On a worker thread, as the server's engine runs it: on a busy 2-core machine torch's intra-op threads
    # behave very differently on the main thread (spinning OpenMP workers), which would flatter the server.
    start = time.perf_counter()
    worker = threading.Thread(target=direct_loop)
    worker.start()
    worker.join()
    direct = time.perf_counter() - start
    rows = [("direct generate()", direct, sorted(latencies), args.requests * args.max_tokens)]

    app = create_app(model, tokenizer, "bench", limits=Limits(max_tokens=max(args.max_tokens, 16)))
    with BackgroundServer(app) as server:
        run_clients(server.base_url, 4, 1, 4, False)  # warm up the HTTP path
        for name, clients, stream in [("server, 1 client", 1, False), ("server, 16 clients", 16, False),
                                      ("server, 16 clients, stream", 16, True)]:
            elapsed, lat, tokens = run_clients(server.base_url, args.requests, clients, args.max_tokens, stream)
            rows.append((name, elapsed, lat, tokens))

    print(f"{'scenario':28} {'req/s':>7} {'tokens/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs direct':>10}")
    for name, elapsed, lat, tokens in rows:
        p99 = lat[int(0.99 * (len(lat) - 1))]
        print(f"{name:28} {args.requests / elapsed:7.1f} {tokens / elapsed:9.0f} {statistics.median(lat) * 1000:8.0f} "
              f"{p99 * 1000:8.0f} {direct / elapsed:9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
