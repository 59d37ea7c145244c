"""The completions API's request and response shapes, checked by hand so every error reads like OpenAI's.

A request body is parsed and validated here into a `CompletionRequest`; anything wrong becomes an `APIError`
that the app turns into

    HTTP 400 (or 401, 404, 413, 429, 500)   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

the shape the official `openai` client reads into `openai.BadRequestError` and friends. Responses are plain
dicts in the published shape (id, object "text_completion", created, model, choices, usage).

`completion_response` is the lesson's exercise: raw samples (their text still holding the stop string, if one
ended them) -> the response object.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = ["APIError", "CompletionRequest", "Limits", "completion_chunk", "completion_object", "completion_response",
           "cut_at_stop", "error_body", "parse_completion_request", "usage"]

MAX_STOP_STRINGS = 4  # as OpenAI
MAX_N = 16


class APIError(Exception):
    """An error the client should see: HTTP status + OpenAI's error fields (message, type, param, code)."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict:
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> dict:
    """{"error": {"message", "type", "param", "code"}}: what OpenAI's API returns, and its client parses."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for. The defaults suit the course's small CPU models."""

    max_tokens: int = 256  # cap on max_tokens
    max_prompt_tokens: int = 1024  # cap on each prompt's length in tokens
    max_prompts: int = 16  # cap on a list of prompts
    max_n: int = MAX_N
    max_body_bytes: int = 1 << 20
    default_max_tokens: int = 16  # OpenAI's default


@dataclass
class CompletionRequest:
    """A validated request: prompts are kept as given (strings or token-id lists); encoding happens later."""

    model: str
    prompts: list[str | list[int]]
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage: one last chunk with usage and no choices


def _bad(message: str, param: str | None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


# Parameters of OpenAI's completions API that this server does not implement: accepted only at the value that
# means "off", so a client that sends its defaults works and one that relies on them is told plainly.
_OFF_VALUES = {"echo": (False,), "logprobs": (None, 0), "suffix": (None, ""), "best_of": (None, 1),
               "presence_penalty": (None, 0, 0.0), "frequency_penalty": (None, 0, 0.0), "logit_bias": (None, {})}
_IGNORED = {"user"}  # accepted and ignored, as many servers do
_KNOWN = {"model", "prompt", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "stream", "stream_options"}


def parse_completion_request(body: bytes | str | Any, limits: Limits = Limits()) -> CompletionRequest:
    """The raw body of POST /v1/completions -> CompletionRequest, or APIError naming the bad parameter.

    Taught in: solutions/12_serving.ipynb
    """
    if isinstance(body, (bytes, bytearray, str)):
        if len(body) > limits.max_body_bytes:
            raise APIError(413, f"the request body is {len(body)} bytes; this server accepts at most {limits.max_body_bytes}",
                           code="request_too_large")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _bad(f"We could not parse the JSON body of your request ({error}). The body must be a JSON object, "
                       "e.g. {\"model\": ..., \"prompt\": \"Hello\"}.", None, "invalid_json") from None
    else:
        data = body
    if not isinstance(data, dict):
        raise _bad(f"the JSON body must be an object; got {type(data).__name__}", None, "invalid_json")

    for name in data:
        if name in _KNOWN or name in _IGNORED:
            continue
        if name in _OFF_VALUES:
            if data[name] not in _OFF_VALUES[name]:
                raise _bad(f"{name}={data[name]!r} is not supported by this server (only {_OFF_VALUES[name][0]!r})", name,
                           "unsupported_parameter")
            continue
        raise _bad(f"Unrecognized request argument supplied: {name}", name, "unknown_parameter")

    model = data.get("model")
    if model is None:
        raise _bad("you must provide a model parameter", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _bad(f"model must be a non-empty string; got {model!r}", "model", "invalid_type")

    prompts = _parse_prompt(data, limits)

    max_tokens = data.get("max_tokens")
    if max_tokens is None:
        max_tokens = min(limits.default_max_tokens, limits.max_tokens)
    if not _is_int(max_tokens):
        raise _bad(f"max_tokens must be an integer; got {max_tokens!r}", "max_tokens", "invalid_type")
    if max_tokens < 0:
        raise _bad(f"max_tokens must be >= 0; got {max_tokens}", "max_tokens", "invalid_value")
    if max_tokens > limits.max_tokens:
        raise _bad(f"max_tokens is {max_tokens}, above this server's limit of {limits.max_tokens}", "max_tokens",
                   "invalid_value")

    temperature = data.get("temperature", 1.0)
    temperature = 1.0 if temperature is None else temperature
    if not _is_number(temperature) or not 0 <= temperature <= 2:
        raise _bad(f"temperature must be a number between 0 and 2; got {temperature!r}", "temperature", "invalid_value")

    top_p = data.get("top_p", 1.0)
    top_p = 1.0 if top_p is None else top_p
    if not _is_number(top_p) or not 0 < top_p <= 1:
        raise _bad(f"top_p must be a number in (0, 1]; got {top_p!r}", "top_p", "invalid_value")

    n = data.get("n", 1)
    n = 1 if n is None else n
    if not _is_int(n) or n < 1:
        raise _bad(f"n must be an integer >= 1; got {n!r}", "n", "invalid_value")
    if n > limits.max_n:
        raise _bad(f"n is {n}, above this server's limit of {limits.max_n}", "n", "invalid_value")
    if n * len(prompts) * max(max_tokens, 1) > limits.max_n * limits.max_tokens:
        raise _bad(f"{len(prompts)} prompt(s) × n={n} × max_tokens={max_tokens} asks for more tokens than one request may "
                   f"({limits.max_n * limits.max_tokens}); split it into several requests", "n", "invalid_value")

    stop = data.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = list(stop)
    else:
        raise _bad(f"stop must be a string, a list of strings, or null; got {stop!r}", "stop", "invalid_type")
    if len(stops) > MAX_STOP_STRINGS:
        raise _bad(f"at most {MAX_STOP_STRINGS} stop strings are allowed; got {len(stops)}", "stop", "invalid_value")
    if any(s == "" for s in stops):
        raise _bad("a stop string must not be empty", "stop", "invalid_value")

    seed = data.get("seed")
    if seed is not None and not _is_int(seed):
        raise _bad(f"seed must be an integer or null; got {seed!r}", "seed", "invalid_type")

    stream = data.get("stream", False)
    stream = False if stream is None else stream
    if not isinstance(stream, bool):
        raise _bad(f"stream must be true or false; got {stream!r}", "stream", "invalid_type")
    options = data.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise _bad("stream_options is only allowed when stream is true", "stream_options", "invalid_value")
        if not isinstance(options, dict) or set(options) - {"include_usage"} or not isinstance(options.get("include_usage", False), bool):
            raise _bad(f"stream_options must be {{\"include_usage\": true|false}}; got {options!r}", "stream_options",
                       "invalid_value")
        include_usage = options.get("include_usage", False)

    return CompletionRequest(model=model, prompts=prompts, max_tokens=max_tokens, temperature=float(temperature),
                             top_p=float(top_p), n=n, stop=stops, seed=seed, stream=stream, include_usage=include_usage)


def _parse_prompt(data: dict, limits: Limits) -> list[str | list[int]]:
    if "prompt" not in data or data["prompt"] is None:
        raise _bad("you must provide a prompt parameter (a string, a list of strings, or token ids)", "prompt",
                   "missing_required_parameter")
    prompt = data["prompt"]
    if isinstance(prompt, str):
        prompts: list = [prompt]
    elif isinstance(prompt, list) and prompt and all(_is_int(t) for t in prompt):
        prompts = [list(prompt)]  # one prompt given as token ids
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    elif isinstance(prompt, list) and prompt and all(isinstance(p, list) and p and all(_is_int(t) for t in p) for p in prompt):
        prompts = [list(p) for p in prompt]
    else:
        raise _bad("prompt must be a string, a non-empty list of strings, a list of token ids, or a list of such lists; "
                   f"got {str(prompt)[:80]!r}", "prompt", "invalid_type")
    if len(prompts) > limits.max_prompts:
        raise _bad(f"{len(prompts)} prompts in one request; this server accepts at most {limits.max_prompts}", "prompt",
                   "invalid_value")
    for p in prompts:
        # A cheap bound before tokenizing: no tokenizer makes fewer tokens than len(text) / 64 characters.
        if isinstance(p, str) and len(p) > 64 * limits.max_prompt_tokens:
            raise _bad(f"a prompt of {len(p)} characters is longer than this server's limit of {limits.max_prompt_tokens} "
                       "tokens", "prompt", "context_length_exceeded")
    return prompts


# --- responses ---------------------------------------------------------------------------------------------


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    """The usage block: the prompt counted once, every generated token once, and their sum."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def completion_object(choices: list[dict], model: str, completion_id: str, created: int, usage_block: dict | None) -> dict:
    """The response of POST /v1/completions, in OpenAI's published shape."""
    body = {"id": completion_id, "object": "text_completion", "created": created, "model": model, "choices": choices}
    if usage_block is not None:
        body["usage"] = usage_block
    return body


def completion_chunk(completion_id: str, created: int, model: str, index: int, text: str, finish_reason: str | None) -> dict:
    """One server-sent event of a streamed completion: the same shape, one choice, a piece of its text."""
    return {"id": completion_id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}]}


def cut_at_stop(text: str, stop: str | Sequence[str] | None) -> tuple[str, bool]:
    """(the text before the earliest stop string, whether one was found). A string stop is one stop string."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    found = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    if not found:
        return text, False
    return text[:min(found)], True


def completion_response(samples: Sequence[tuple[str, int]], prompt_tokens: int, model: str,
                        stop: str | Sequence[str] | None = None, completion_id: str = "cmpl-0", created: int = 0) -> dict:
    """n raw samples of one prompt -> the completions API's response object (a dict).

    samples: one (text, num_tokens) pair per sample, in order: the text the model generated, as decoded, and how
    many tokens it generated. A generation loop that halts on a stop string halts on the token that completes
    it, so the raw text still holds the stop string (and whatever else that last token held). Here:

    * each choice's text ends just before the earliest occurrence of any stop string (the stop string is not
      part of the answer), and its finish_reason is "stop"; a sample with no stop string in it ran out of
      tokens: finish_reason "length";
    * usage counts the prompt once (the n samples share it) and every generated token, the ones that spelled
      the stop string included: they were computed, as a hosted API bills them.

    Taught in: solutions/12_serving.ipynb
    """
    choices = []
    for index, (text, _) in enumerate(samples):
        text, stopped = cut_at_stop(text, stop)
        choices.append({"text": text, "index": index, "logprobs": None, "finish_reason": "stop" if stopped else "length"})
    generated = sum(count for _, count in samples)
    return completion_object(choices, model, completion_id, created, usage(prompt_tokens, generated))

