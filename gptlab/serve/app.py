"""The HTTP side: an OpenAI-compatible completions API in FastAPI, in front of the engine's queue.

    app = create_app(model, tokenizer, model_name="shipped")      # any gptlab GPT and its tokenizer
    with BackgroundServer(app) as server:                          # uvicorn on a free 127.0.0.1 port
        client = OpenAI(base_url=server.base_url, api_key="unused")
        client.completions.create(model="shipped", prompt="ROMEO:", max_tokens=20)

Routes: POST /v1/completions (stream or not), GET /v1/models, GET /v1/models/{id}, GET /health.
Every error, FastAPI's own included (unknown route, wrong method), answers in OpenAI's shape
{"error": {"message", "type", "param", "code"}}; none stops the server.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gptlab.serve.engine import Engine, Job, QueueFull
from gptlab.serve.schema import (APIError, CompletionRequest, Limits, completion_chunk, completion_object, error_body,
                                 parse_completion_request, usage)

__all__ = ["create_app"]

ENDOFTEXT = "<|endoftext|>"
DISCONNECT_POLL_S = 0.1


def create_app(model, tokenizer, model_name: str = "gptlab", *, api_key: str | None = None, limits: Limits = Limits(),
               max_queue: int = 256) -> FastAPI:
    """A FastAPI app serving `model` (a gptlab GPT) with `tokenizer` under the name `model_name`.

    api_key: if set, every /v1 request must carry `Authorization: Bearer <api_key>` (the openai client sends
    its api_key that way). limits: caps on max_tokens, prompt length, n, body size (a prompt longer than the
    model's block_size is accepted up to the cap; generate reads only its last block_size tokens). max_queue: requests
    waiting beyond this many are refused with HTTP 429. The app's engine (one worker thread that owns the
    model) starts with the app and stops with it: `app.state.engine`.

    Taught in: solutions/12_serving.ipynb
    """
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"model_name must be a non-empty string; got {model_name!r}")
    engine = Engine(model, tokenizer, max_queue=max_queue)
    created_at = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    app = FastAPI(title="gptlab completions server", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine, app.state.model_name, app.state.limits = engine, model_name, limits

    # --- errors: always OpenAI's shape -------------------------------------------------------------------

    @app.exception_handler(APIError)
    async def _api_error(request: Request, error: APIError):
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return JSONResponse(error_body(f"invalid request: {first.get('msg', 'bad input')}", param=param, code="invalid_value"),
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException):
        kind = {401: "authentication_error", 404: "invalid_request_error", 405: "invalid_request_error"}.get(
            error.status_code, "invalid_request_error" if error.status_code < 500 else "server_error")
        message = str(error.detail)
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}; this server has POST /v1/completions and GET /v1/models"
        return JSONResponse(error_body(message, kind), status_code=error.status_code, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        return JSONResponse(error_body(f"internal server error ({type(error).__name__}); the server is still running",
                                       "server_error"), status_code=500)

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise APIError(401, "Incorrect or missing API key: send the header `Authorization: Bearer <key>`",
                           type="invalid_request_error", code="invalid_api_key")

    def model_card() -> dict:
        return {"id": model_name, "object": "model", "created": created_at, "owned_by": "gptlab"}

    # --- routes -----------------------------------------------------------------------------------------

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, "queued": engine.pending()}

    @app.get("/v1/models")
    async def list_models(request: Request):
        authorize(request)
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request):
        authorize(request)
        if model_id != model_name:
            raise APIError(404, f"The model {model_id!r} does not exist; this server serves {model_name!r}",
                           param="model", code="model_not_found")
        return model_card()

    @app.post("/v1/completions")
    async def completions(request: Request):
        authorize(request)
        req = parse_completion_request(await request.body(), limits)
        if req.model != model_name:
            raise APIError(404, f"The model {req.model!r} does not exist; this server serves {model_name!r} "
                           "(GET /v1/models lists it)", param="model", code="model_not_found")
        prompts = [_encode(tokenizer, p, model.config.vocab_size, limits) for p in req.prompts]
        prompt_tokens = sum(len(p) for p in prompts)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def emit(event: tuple) -> None:  # called from the worker thread
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the event loop has closed: nobody is listening any more
                pass

        job = Job(prompts=prompts, emit=emit, max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p,
                  n=req.n, stop=req.stop, seed=req.seed)
        try:
            engine.submit(job)
        except QueueFull as error:
            raise APIError(429, f"the server is busy ({error}); retry in a moment", type="rate_limit_error",
                           code="server_busy") from None
        completion_id, created = f"cmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if req.stream:
            return StreamingResponse(_sse(request, job, events, req, completion_id, created, model_name, prompt_tokens),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return await _collect(request, job, events, req, completion_id, created, model_name, prompt_tokens)

    return app


def _encode(tokenizer, prompt, vocab_size: int, limits: Limits) -> list[int]:
    """A prompt (text or token ids) -> token ids, or APIError. An empty prompt means "start from <|endoftext|>"."""
    if isinstance(prompt, list):
        ids = prompt
        bad = next((t for t in ids if not 0 <= t < vocab_size), None)
        if bad is not None:
            raise APIError(400, f"prompt token id {bad} is outside the model's vocabulary 0..{vocab_size - 1}", param="prompt",
                           code="invalid_value")
    elif prompt == "":
        special = getattr(tokenizer, "special_tokens", {}) or {}
        if ENDOFTEXT not in special:
            raise APIError(400, "the prompt is empty and this tokenizer has no <|endoftext|> token to start from",
                           param="prompt", code="invalid_value")
        ids = [special[ENDOFTEXT]]
    else:
        try:
            ids = tokenizer.encode(prompt, allowed_special="all")  # <|endoftext|> in a prompt means the token, as OpenAI's
        except TypeError:  # a tokenizer without special tokens
            ids = tokenizer.encode(prompt)
        except ValueError as error:
            raise APIError(400, f"the prompt cannot be encoded: {error}", param="prompt", code="invalid_value") from None
    if len(ids) > limits.max_prompt_tokens:
        raise APIError(400, f"the prompt is {len(ids)} tokens long; this server accepts at most {limits.max_prompt_tokens}",
                       param="prompt", code="context_length_exceeded")
    return list(ids)


async def _watch(request: Request, job: Job) -> None:
    """Cancel the job as soon as the client disconnects (polled: ASGI tells us only when asked)."""
    while not job.cancelled.is_set():
        if await request.is_disconnected():
            job.cancel()
            return
        await asyncio.sleep(DISCONNECT_POLL_S)


async def _collect(request, job, events, req: CompletionRequest, completion_id, created, model_name, prompt_tokens):
    total = len(job.prompts) * req.n
    texts: list[list[str]] = [[] for _ in range(total)]
    reasons: list[str] = ["length"] * total
    generated = [0] * total
    watcher = asyncio.create_task(_watch(request, job))
    try:
        while True:
            event = await events.get()
            if event[0] == "chunk":
                _, index, text, finish_reason, tokens = event
                texts[index].append(text)
                if finish_reason is not None:
                    reasons[index], generated[index] = finish_reason, tokens
            elif event[0] == "done":
                break
            elif event[0] == "cancelled":
                raise APIError(503, "the request was cancelled (the client left, or the server is shutting down)",
                               type="server_error", code="cancelled")
            else:
                raise APIError(500, f"generation failed: {type(event[1]).__name__}: {event[1]}", type="server_error")
    finally:
        job.cancel()  # a no-op when finished; stops the worker if this handler was cancelled or failed
        watcher.cancel()
    choices = [{"text": "".join(texts[i]), "index": i, "logprobs": None, "finish_reason": reasons[i]} for i in range(total)]
    return completion_object(choices, model_name, completion_id, created, usage(prompt_tokens, sum(generated)))


def _event(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(request, job, events, req: CompletionRequest, completion_id, created, model_name, prompt_tokens):
    """Server-sent events: one chunk per piece of text, then (if asked) a usage chunk, then `data: [DONE]`."""
    generated = 0
    watcher = asyncio.create_task(_watch(request, job))
    try:
        while True:
            event = await events.get()
            if event[0] == "chunk":
                _, index, text, finish_reason, tokens = event
                generated += tokens or 0
                yield _event(completion_chunk(completion_id, created, model_name, index, text, finish_reason))
            elif event[0] == "done":
                if req.include_usage:
                    final = completion_object([], model_name, completion_id, created, usage(prompt_tokens, generated))
                    yield _event(final)
                yield _event("[DONE]")
                return
            elif event[0] == "cancelled":
                return
            else:
                yield _event(error_body(f"generation failed: {type(event[1]).__name__}: {event[1]}", "server_error"))
                return
    finally:
        job.cancel()  # the client went away (the response task is cancelled) or we are done: stop generating
        watcher.cancel()
