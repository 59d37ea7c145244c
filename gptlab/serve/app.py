"""The HTTP side: OpenAI's completions and chat completions API in FastAPI, in front of the batching engine.

    app = create_app(model, tokenizer, model_name="shipped")      # any gptlab GPT and its tokenizer
    with BackgroundServer(app) as server:                          # uvicorn on a free 127.0.0.1 port
        client = OpenAI(base_url=server.base_url, api_key="unused")
        client.chat.completions.create(model="shipped", messages=[{"role": "user", "content": "Who speaks?..."}])

Routes: POST /v1/completions and POST /v1/chat/completions (streamed or not), GET /v1/models,
GET /v1/models/{id}, GET /health, and GET / (a page to chat with the model in a browser). Requests are
pydantic models (gptlab.serve.schema), responses the openai package's types (gptlab.serve.responses). Every
error, FastAPI's own included (unknown route, wrong method), answers in OpenAI's shape
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
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from openai.types import CompletionChoice
from starlette.exceptions import HTTPException as StarletteHTTPException

from gptlab.serve.engine import Cancelled, Delta, Done, Engine, Failed, Job, QueueFull
from gptlab.serve.responses import (chat_chunk, chat_completion, completion, completion_chunk, completion_logprobs,
                                    usage)
from gptlab.serve.schema import APIError, ChatCompletionRequest, CompletionRequest, Limits, error_body, parse_request
from gptlab.topics.chat import END_OF_TURN, render_chat

__all__ = ["create_app"]

DISCONNECT_POLL_S = 0.1


def create_app(model, tokenizer, model_name: str = "gptlab", *, api_key: str | None = None, limits: Limits = Limits(),
               max_queue: int = 256, capacity: int = 16) -> FastAPI:
    """A FastAPI app serving `model` (a gptlab GPT) with `tokenizer` under the name `model_name`.

    api_key: if set, every /v1 request must carry `Authorization: Bearer <api_key>` (the openai client sends
    its api_key that way). limits: caps on max_tokens, prompt length, n, body size; a prompt whose tokens plus
    max_tokens do not fit in the model's context is refused (400, code context_length_exceeded), never cropped
    in silence. max_queue: requests waiting beyond this many are refused with HTTP 429. capacity: samples decoded
    together (gptlab.serve.engine). The engine starts and stops with the app: `app.state.engine`.

    Taught in: solutions/12_serving.ipynb
    """
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"model_name must be a non-empty string; got {model_name!r}")
    engine = Engine(model, tokenizer, capacity=max(capacity, limits.max_n), max_queue=max_queue)
    created_at = int(time.time())
    context = model.config.block_size

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    app = FastAPI(title="gptlab server", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
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
            message = (f"no route {request.method} {request.url.path}; this server has POST /v1/completions, "
                       "POST /v1/chat/completions and GET /v1/models")
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

    def check_model(name: str) -> None:
        if name != model_name:
            raise APIError(404, f"The model {name!r} does not exist; this server serves {model_name!r} "
                           "(GET /v1/models lists it)", param="model", code="model_not_found")

    def model_card() -> dict:
        return {"id": model_name, "object": "model", "created": created_at, "owned_by": "gptlab"}

    def submit(job: Job) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def emit(event) -> None:  # called from the worker thread
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the event loop has closed: nobody is listening any more
                pass

        job.emit = emit
        try:
            engine.submit(job)
        except QueueFull as error:
            raise APIError(429, f"the server is busy ({error}); retry in a moment", type="rate_limit_error",
                           code="server_busy") from None
        return events

    # --- routes -----------------------------------------------------------------------------------------

    @app.get("/")
    async def chat_page():
        page = resources.files("gptlab.serve").joinpath("chat.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{MODEL}}", model_name))

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
        req: CompletionRequest = parse_request(CompletionRequest, await request.body(), limits)
        check_model(req.model)
        max_tokens = req.max_tokens if req.max_tokens is not None else min(limits.default_max_tokens, limits.max_tokens)
        prompts = [_encode(tokenizer, p, model.config.vocab_size, limits) for p in req.prompts]
        for ids in prompts:
            _fits(len(ids), max_tokens, context, "prompt", "max_tokens")
        job = Job(prompts=prompts, emit=None, max_tokens=max_tokens, n=req.n or 1, stop=req.stops, seed=req.seed,
                  logprobs=req.logprobs, stream=bool(req.stream), **req.sampling())
        events = submit(job)
        reply = _Reply(request, job, events, model_name, f"cmpl-{uuid.uuid4().hex[:24]}", sum(map(len, prompts)))
        if req.stream:
            return StreamingResponse(reply.completion_events(req.include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return await reply.completion()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        authorize(request)
        req: ChatCompletionRequest = parse_request(ChatCompletionRequest, await request.body(), limits)
        check_model(req.model)
        specials = getattr(tokenizer, "special_tokens", {}) or {}
        if END_OF_TURN not in specials:
            raise APIError(400, f"this model's tokenizer has no {END_OF_TURN} token to end an answer with: it cannot chat",
                           param="model", code="model_not_supported")
        text = render_chat([{"role": m.role, "content": m.text} for m in req.messages])
        ids = tokenizer.encode(text, allowed_special="all")
        if len(ids) > limits.max_prompt_tokens:
            raise APIError(400, f"the messages are {len(ids)} tokens long; this server accepts at most "
                           f"{limits.max_prompt_tokens}", param="messages", code="context_length_exceeded")
        asked = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        param = "max_completion_tokens" if req.max_completion_tokens is not None else "max_tokens"
        max_tokens = asked if asked is not None else min(limits.max_tokens, max(context - len(ids), 0))
        _fits(len(ids), max_tokens, context, "messages", param)
        job = Job(prompts=[ids], emit=None, max_tokens=max_tokens, n=req.n or 1, stop=req.stops,
                  stop_ids=frozenset({specials[END_OF_TURN]}), seed=req.seed,
                  logprobs=(req.top_logprobs or 0) if req.logprobs else None, stream=bool(req.stream), **req.sampling())
        events = submit(job)
        reply = _Reply(request, job, events, model_name, f"chatcmpl-{uuid.uuid4().hex[:24]}", len(ids))
        if req.stream:
            return StreamingResponse(reply.chat_events(req.include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return await reply.chat()

    return app


def _fits(prompt_tokens: int, max_tokens: int, context: int, where: str, param: str) -> None:
    if prompt_tokens + max_tokens > context:
        raise APIError(400, f"This model's maximum context length is {context} tokens. However, you requested "
                       f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the {where}, {max_tokens} for the "
                       f"completion). Please reduce the length of the {where} or {param}.", param=where,
                       code="context_length_exceeded")


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
        if END_OF_TURN not in special:
            raise APIError(400, "the prompt is empty and this tokenizer has no <|endoftext|> token to start from",
                           param="prompt", code="invalid_value")
        ids = [special[END_OF_TURN]]
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


def _event(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


class _Reply:
    """One request's answer, read from the engine's events: collected into one response, or streamed."""

    def __init__(self, request: Request, job: Job, events: asyncio.Queue, model: str, reply_id: str, prompt_tokens: int):
        self.request, self.job, self.events, self.model = request, job, events, model
        self.id, self.created, self.prompt_tokens = reply_id, int(time.time()), prompt_tokens
        self.choices = len(job.prompts) * job.n

    async def _watch(self) -> None:
        """Cancel the job as soon as the client disconnects (polled: ASGI tells us only when asked)."""
        while not self.job.cancelled.is_set():
            if await self.request.is_disconnected():
                self.job.cancel()
                return
            await asyncio.sleep(DISCONNECT_POLL_S)

    async def _events(self):
        """The engine's events until the last; a cancelled or failed job raises APIError (503, 500)."""
        watcher = asyncio.create_task(self._watch())
        try:
            while True:
                event = await self.events.get()
                if isinstance(event, list):  # the Deltas of one step
                    for delta in event:
                        yield delta
                    continue
                if isinstance(event, Cancelled):
                    raise APIError(503, "the request was cancelled (the client left, or the server is shutting down)",
                                   type="server_error", code="cancelled")
                if isinstance(event, Failed):
                    raise APIError(500, f"generation failed: {type(event.error).__name__}: {event.error}",
                                   type="server_error")
                yield event
                if isinstance(event, Done):
                    return
        finally:
            self.job.cancel()  # a no-op when finished; stops the worker if this handler was cancelled or failed
            watcher.cancel()

    async def _gather(self):
        texts = [[] for _ in range(self.choices)]
        reasons = ["length"] * self.choices
        logprobs = [[] for _ in range(self.choices)]
        done = None
        async for event in self._events():
            if isinstance(event, Delta):
                texts[event.index].append(event.text)
                logprobs[event.index] += event.logprobs or []
                if event.finish_reason:
                    reasons[event.index] = event.finish_reason
            else:
                done = event
        return ["".join(t) for t in texts], reasons, logprobs, done.completion_tokens

    async def completion(self) -> dict:
        texts, reasons, logprobs, generated = await self._gather()
        choices = [CompletionChoice(text=texts[i], index=i, finish_reason=reasons[i],
                                    logprobs=completion_logprobs(logprobs[i]) if self.job.logprobs is not None else None)
                   for i in range(self.choices)]
        return completion(choices, self.model, self.id, self.created, usage(self.prompt_tokens, generated))

    async def chat(self) -> dict:
        texts, reasons, logprobs, generated = await self._gather()
        with_logprobs = self.job.logprobs is not None
        return chat_completion([(texts[i], reasons[i], logprobs[i] if with_logprobs else None) for i in range(self.choices)],
                               self.model, self.id, self.created, usage(self.prompt_tokens, generated))

    async def completion_events(self, include_usage: bool):
        """Server-sent events: a chunk per piece of text, then (if asked) a usage chunk, then `data: [DONE]`."""
        offsets = [0] * self.choices
        try:
            async for event in self._events():
                if isinstance(event, Delta):
                    logprobs = None
                    if self.job.logprobs is not None:
                        logprobs = completion_logprobs(event.logprobs or [], offsets[event.index])
                    offsets[event.index] += len(event.text)
                    yield _event(completion_chunk(self.id, self.created, self.model, event.index, event.text,
                                                  event.finish_reason, logprobs))
                elif include_usage:
                    yield _event(completion([], self.model, self.id, self.created,
                                            usage(self.prompt_tokens, event.completion_tokens)))
            yield _event("[DONE]")
        except APIError as error:
            if error.code != "cancelled":
                yield _event(error.body())

    async def chat_events(self, include_usage: bool):
        started: set[int] = set()
        try:
            async for event in self._events():
                if isinstance(event, Delta):
                    if event.index not in started:  # the first chunk of a choice says who speaks
                        started.add(event.index)
                        yield _event(chat_chunk(self.id, self.created, self.model, event.index, role="assistant", content=""))
                    if event.text or event.finish_reason or event.logprobs:
                        yield _event(chat_chunk(self.id, self.created, self.model, event.index,
                                                content=event.text if event.text else None,
                                                finish_reason=event.finish_reason,
                                                logprobs=event.logprobs if self.job.logprobs is not None else None))
                elif include_usage:
                    yield _event(chat_chunk(self.id, self.created, self.model,
                                            usage_block=usage(self.prompt_tokens, event.completion_tokens)))
            yield _event("[DONE]")
        except APIError as error:
            if error.code != "cancelled":
                yield _event(error.body())
