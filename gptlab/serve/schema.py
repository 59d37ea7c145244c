"""The requests the server reads, as pydantic models, and the errors it answers with, in OpenAI's shape.

    request = parse_request(CompletionRequest, body, limits)        # or ChatCompletionRequest
    # anything wrong raises APIError -> HTTP 400 {"error": {"message", "type", "param", "code"}}

Fields, types and ranges are pydantic field constraints; rules across fields and the server's limits are
validators. Unknown fields are refused (OpenAI does the same: "Unrecognized request argument supplied"), and
parameters of OpenAI's API that the course's models cannot honour are accepted only at the value that means
"off", so a client that sends its defaults works and one that relies on them is told plainly. Every
pydantic error becomes one APIError naming the parameter, which the official client raises as
openai.BadRequestError.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, ValidationInfo, field_validator, \
    model_validator

__all__ = ["APIError", "ChatCompletionRequest", "ChatMessage", "CompletionRequest", "Limits", "StreamOptions",
           "error_body", "parse_completion_request", "parse_request"]

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
    max_prompt_tokens: int = 1024  # cap on each prompt's length in tokens (the model's context is checked too)
    max_prompts: int = 16  # cap on a list of prompts
    max_n: int = MAX_N
    max_body_bytes: int = 1 << 20
    default_max_tokens: int = 16  # OpenAI's default for completions
    max_messages: int = 64


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1)
    max_tokens: StrictInt | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=1.0, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    n: StrictInt | None = Field(default=1, ge=1)
    stop: Union[str, list[str], None] = None
    seed: StrictInt | None = None
    stream: StrictBool | None = False
    stream_options: "StreamOptions | None" = None
    user: str | None = None  # accepted and ignored, as many servers do
    # OpenAI parameters the course's models do not implement: only their "off" value is accepted
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None

    @field_validator("temperature", "top_p", mode="before")
    @classmethod
    def _number(cls, value):  # strict mode would refuse an int for a float; JSON's 1 is a fine temperature
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value):
        stops = [] if value is None else [value] if isinstance(value, str) else value
        if len(stops) > MAX_STOP_STRINGS:
            raise ValueError(f"at most {MAX_STOP_STRINGS} stop strings are allowed; got {len(stops)}")
        if any(s == "" for s in stops):
            raise ValueError("a stop string must not be empty")
        return stops

    @field_validator("presence_penalty", "frequency_penalty", "logit_bias")
    @classmethod
    def _off(cls, value, info: ValidationInfo):
        if value not in (None, 0, 0.0, {}):
            raise _Unsupported(f"{info.field_name}={value!r} is not supported by this server")
        return value

    @model_validator(mode="after")
    def _stream_options(self):
        if self.stream_options is not None and not self.stream:
            raise _Invalid("stream_options", "stream_options is only allowed when stream is true")
        return self

    @property
    def stops(self) -> list[str]:
        return self.stop or []

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def sampling(self) -> dict:
        return dict(temperature=1.0 if self.temperature is None else self.temperature,
                    top_p=None if self.top_p is None or self.top_p >= 1 else self.top_p)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    include_usage: StrictBool = False


class _Unsupported(ValueError):
    """A parameter OpenAI has and this server does not honour (code unsupported_parameter)."""


class _Invalid(ValueError):
    """A rule across fields, naming the parameter that breaks it (pydantic's model errors name none)."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


class CompletionRequest(_Request):
    """POST /v1/completions: OpenAI's legacy completions request."""

    prompt: Union[str, list[StrictInt], list[str], list[list[StrictInt]]]
    logprobs: StrictInt | None = Field(default=None, ge=0, le=5)
    echo: StrictBool | None = False
    suffix: str | None = None
    best_of: StrictInt | None = None

    @field_validator("echo", "suffix", "best_of")
    @classmethod
    def _off_completions(cls, value, info: ValidationInfo):
        off = {"echo": (None, False), "suffix": (None, ""), "best_of": (None, 1)}[info.field_name]
        if not any(value is o or (type(value) is type(o) and value == o) for o in off):
            raise _Unsupported(f"{info.field_name}={value!r} is not supported by this server (only {off[-1]!r})")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value, info: ValidationInfo):
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be an empty list")
        if isinstance(value, list) and any(isinstance(p, list) and not p for p in value):
            raise ValueError("a prompt given as token ids must hold at least one id")
        limits: Limits = (info.context or {}).get("limits", Limits())
        prompts = [value] if isinstance(value, str) or (value and isinstance(value[0], int)) else value
        if len(prompts) > limits.max_prompts:
            raise ValueError(f"{len(prompts)} prompts in one request; this server accepts at most {limits.max_prompts}")
        return value

    @property
    def prompts(self) -> list[str | list[int]]:
        """The prompts as given: strings or lists of token ids (one request may carry several)."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if p and isinstance(p[0], int):
            return [list(p)]
        return [x if isinstance(x, str) else list(x) for x in p]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, list["_TextPart"]]
    name: str | None = None

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["text"]
    text: str


class ChatCompletionRequest(_Request):
    """POST /v1/chat/completions: OpenAI's chat request (system / user / assistant messages, text only)."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=0)
    logprobs: StrictBool | None = False
    top_logprobs: StrictInt | None = Field(default=None, ge=0, le=20)
    tools: list[Any] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    parallel_tool_calls: StrictBool | None = None

    @field_validator("tools", "tool_choice", "parallel_tool_calls")
    @classmethod
    def _no_tools(cls, value, info: ValidationInfo):
        if value not in (None, [], "none"):
            raise _Unsupported(f"{info.field_name} is not supported by this server (the course's models call no tools)")
        return value

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, value):
        if value is not None and value.get("type", "text") != "text":
            raise _Unsupported(f"response_format={value!r} is not supported by this server (text only)")
        return value

    @field_validator("messages")
    @classmethod
    def _messages(cls, value, info: ValidationInfo):
        limits: Limits = (info.context or {}).get("limits", Limits())
        if len(value) > limits.max_messages:
            raise ValueError(f"{len(value)} messages; this server accepts at most {limits.max_messages}")
        for i, message in enumerate(value):
            if message.role in ("system", "developer") and i:
                raise ValueError(f"messages[{i}]: a system message may only come first")
        return value

    @model_validator(mode="after")
    def _logprobs(self):
        if self.top_logprobs is not None and not self.logprobs:
            raise _Invalid("top_logprobs", "top_logprobs needs logprobs=true")
        if self.max_tokens is not None and self.max_completion_tokens is not None \
                and self.max_tokens != self.max_completion_tokens:
            raise _Invalid("max_completion_tokens", "give max_completion_tokens or max_tokens, not two different values")
        return self


CompletionRequest.model_rebuild()
ChatCompletionRequest.model_rebuild()
ChatMessage.model_rebuild()


def parse_request(model_cls: type[_Request], body: bytes | str | dict, limits: Limits = Limits()) -> _Request:
    """A request body -> the request model, or APIError (400, naming the parameter; 413 for a body too large).

    Taught in: solutions/12_serving.ipynb
    """
    if isinstance(body, (bytes, bytearray, str)):
        if len(body) > limits.max_body_bytes:
            raise APIError(413, f"the request body is {len(body)} bytes; this server accepts at most {limits.max_body_bytes}",
                           code="request_too_large")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise APIError(400, f"We could not parse the JSON body of your request ({error}). The body must be a JSON "
                           "object, e.g. {\"model\": ..., \"prompt\": \"Hello\"}.", code="invalid_json") from None
    else:
        data = body
    if not isinstance(data, dict):
        raise APIError(400, f"the JSON body must be an object; got {type(data).__name__}", code="invalid_json")
    try:
        request = model_cls.model_validate(data, context={"limits": limits})
    except ValidationError as error:
        raise _api_error(error) from None
    _check_limits(request, limits)
    return request


def _api_error(error: ValidationError) -> APIError:
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    # pydantic names the member of a union it tried ("prompt.str", "stop.list[str]"): keep the field and indices
    param_parts = [p for p in location if not any(c in p for c in "[]") and p not in ("str", "int", "float", "bool")]
    param = param_parts[0] if param_parts else None
    if len(param_parts) > 1 and param_parts[1].isdigit():
        param = f"{param_parts[0]}[{param_parts[1]}]" + "".join(f".{p}" for p in param_parts[2:] if not p.isdigit())
    kind = first.get("type", "")
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return APIError(400, f"Unrecognized request argument supplied: {location[-1]}", param=location[-1],
                        code="unknown_parameter")
    if kind == "missing":
        return APIError(400, f"you must provide a {param} parameter", param=param, code="missing_required_parameter")
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, _Invalid):
        return APIError(400, str(cause), param=cause.param, code="invalid_value")
    if isinstance(cause, _Unsupported):
        return APIError(400, str(cause), param=param, code="unsupported_parameter")
    code = "invalid_type" if kind.endswith("_type") or kind in ("string_type", "int_type", "bool_type") else "invalid_value"
    return APIError(400, f"{param}: {message}" if param else message, param=param, code=code)


def _check_limits(request: _Request, limits: Limits) -> None:
    max_tokens = request.max_tokens
    if isinstance(request, ChatCompletionRequest) and request.max_completion_tokens is not None:
        max_tokens = request.max_completion_tokens
    param = "max_completion_tokens" if isinstance(request, ChatCompletionRequest) and request.max_completion_tokens \
        is not None else "max_tokens"
    if max_tokens is not None and max_tokens > limits.max_tokens:
        raise APIError(400, f"{param} is {max_tokens}, above this server's limit of {limits.max_tokens}", param=param,
                       code="invalid_value")
    n = request.n or 1
    if n > limits.max_n:
        raise APIError(400, f"n is {n}, above this server's limit of {limits.max_n}", param="n", code="invalid_value")
    if isinstance(request, CompletionRequest):
        for prompt in request.prompts:
            # A cheap bound before tokenizing: no tokenizer makes fewer tokens than len(text) / 64 characters.
            if isinstance(prompt, str) and len(prompt) > 64 * limits.max_prompt_tokens:
                raise APIError(400, f"a prompt of {len(prompt)} characters is longer than this server's limit of "
                               f"{limits.max_prompt_tokens} tokens", param="prompt", code="context_length_exceeded")


def parse_completion_request(body: bytes | str | dict, limits: Limits = Limits()) -> CompletionRequest:
    """parse_request(CompletionRequest, body, limits): the body of POST /v1/completions."""
    return parse_request(CompletionRequest, body, limits)


# Lesson 12's exercise and its helper, where course 0.1 kept them (they build responses: gptlab.serve.responses).
from gptlab.serve.responses import completion_response, cut_at_stop  # noqa: E402
