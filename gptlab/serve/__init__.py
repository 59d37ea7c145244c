"""Serving a GPT behind OpenAI's completions and chat completions API (lesson 12).

    from gptlab.serve import BackgroundServer, create_app
    app = create_app(model, tokenizer, model_name="shipped")
    with BackgroundServer(app) as server:           # uvicorn on a free 127.0.0.1 port, in a thread
        from openai import OpenAI
        client = OpenAI(base_url=server.base_url, api_key="unused")
        client.completions.create(model="shipped", prompt="ROMEO:", max_tokens=20, n=2, stop="\\n\\n")

Pieces: `schema` (requests as pydantic models, errors in OpenAI's shape), `responses` (the openai package's
response types; the exercise `completion_response`), `engine` (one thread owns the model and decodes every
request together: continuous batching), `app` (FastAPI routes: completions, chat completions, a chat page),
`runner` (uvicorn in a background thread), `loading` (which model), `cli` (`gptlab serve`).
FastAPI and uvicorn are imported only when an app is built, so `import gptlab.serve` stays light.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

from gptlab.serve.responses import completion_response
from gptlab.serve.runner import BackgroundServer, is_loopback
from gptlab.serve.schema import APIError, Limits, parse_completion_request

__all__ = ["APIError", "BackgroundServer", "Limits", "completion_response", "create_app", "is_loopback", "load_for_serving",
           "parse_completion_request"]


def create_app(*args, **kwargs):
    """See gptlab.serve.app.create_app (imported on first use: it brings FastAPI)."""
    from gptlab.serve.app import create_app as build

    return build(*args, **kwargs)


def load_for_serving(*args, **kwargs):
    """See gptlab.serve.loading.load_for_serving."""
    from gptlab.serve.loading import load_for_serving as load

    return load(*args, **kwargs)
