"""`gptlab serve`: the completions server on the command line.

    gptlab serve                                   # the shipped model on http://127.0.0.1:8000/v1
    gptlab serve --model mine --port 8001          # your own model from lesson 07
    gptlab serve --model chat                      # lesson 10's chat model, for /v1/chat/completions
    gptlab serve --model run.safetensors           # any gptlab checkpoint
    gptlab serve --model gpt2-dir --tokenizer tok  # a GPT-2-format directory (+ its vocab.json/merges.txt)

Security: by default the server listens on 127.0.0.1, which only this machine can reach. To listen on
another address (0.0.0.0, a LAN address) you must give an API key (--api-key, or $GPTLAB_API_KEY), which
clients send as `Authorization: Bearer KEY`; --insecure overrides that refusal, for a trusted network only.
The key is a door lock, not encryption: plain HTTP shows it to anyone on the path.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_subcommands", "cmd_serve", "main"]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="shipped",
                        help="'shipped' (default), 'small', 'mine', 'chat' (yours, from lesson 10), 'shipped-chat', a gptlab checkpoint file, or a GPT-2-format directory")
    parser.add_argument("--tokenizer", default=None, help="a directory with vocab.json + merges.txt, for a GPT-2 directory")
    parser.add_argument("--name", default=None, help="the model name clients pass (default: the --model name or the path's stem)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--api-key", default=os.environ.get("GPTLAB_API_KEY"),
                        help="require `Authorization: Bearer KEY` (default: $GPTLAB_API_KEY, else none)")
    parser.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without an API key")
    parser.add_argument("--max-tokens", type=int, default=256, help="cap on a request's max_tokens (default 256)")
    parser.add_argument("--max-prompt-tokens", type=int, default=1024, help="cap on a prompt's length in tokens (default 1024)")
    parser.add_argument("--max-queue", type=int, default=256, help="requests waiting beyond this get HTTP 429 (default 256)")
    parser.add_argument("--capacity", type=int, default=16,
                        help="samples decoded together in one batch (default 16; 1 decodes one request at a time)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def add_subcommands(subparsers) -> None:
    """Add `serve` to the `gptlab` command's subparsers."""
    parser = subparsers.add_parser("serve", help="serve a model behind OpenAI's completions and chat completions API",
                                   description=__doc__.split("Taught in:")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    parser.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    """Load the model, check the address is safe to use, and run uvicorn in the foreground (Ctrl-C stops it)."""
    from gptlab.serve import messages
    from gptlab.serve.runner import is_loopback

    say = getattr(args, "say", None) or messages.say  # the course's say() where `gptlab` gave one: the learner's language
    if not is_loopback(args.host) and not args.api_key and not args.insecure:
        print(say("serve.no_key", host=args.host), file=sys.stderr)
        return 2
    for name in ("max_tokens", "max_prompt_tokens", "max_queue", "capacity"):
        if getattr(args, name) < 1:
            print(say("serve.at_least_one", option=name.replace("_", "-")), file=sys.stderr)
            return 2
    if not 0 <= args.port <= 65535:
        print(say("serve.bad_port", port=args.port), file=sys.stderr)
        return 2
    import uvicorn

    from gptlab.serve.app import create_app
    from gptlab.serve.loading import load_for_serving
    from gptlab.serve.runner import bind
    from gptlab.serve.schema import Limits

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        model, tokenizer, name = load_for_serving(args.model, args.tokenizer)
    except (OSError, ValueError) as error:
        print(say("serve.cannot_load", model=args.model, error=error), file=sys.stderr)
        return 2
    name = args.name or name
    limits = Limits(max_tokens=args.max_tokens, max_prompt_tokens=args.max_prompt_tokens,
                    max_n=min(Limits().max_n, args.capacity))
    app = create_app(model, tokenizer, name, api_key=args.api_key, limits=limits, max_queue=args.max_queue,
                     capacity=args.capacity)
    if not is_loopback(args.host) and not args.api_key:
        print(say("serve.insecure", host=args.host), file=sys.stderr)
    try:
        sock = bind(args.host, args.port)
    except OSError as error:
        print(say("serve.cannot_bind", error=error), file=sys.stderr)
        return 2
    shown = f"[{args.host}]" if ":" in args.host else args.host
    port = sock.getsockname()[1]
    print(say("serve.serving", name=name, params=model.num_params(), host=shown, port=port), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=5))
    server.run(sockets=[sock])
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m gptlab.serve ARGS` (the same as `gptlab serve ARGS`)."""
    parser = argparse.ArgumentParser(prog="gptlab serve", description=__doc__.split("Taught in:")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    return cmd_serve(parser.parse_args(argv))
