"""The responses the server sends, built from the `openai` package's own types, so their shape is OpenAI's.

    completion(...)        -> openai.types.Completion                      (POST /v1/completions)
    completion_chunk(...)  -> one server-sent event of a streamed completion (the same type, one choice)
    chat_completion(...)   -> openai.types.chat.ChatCompletion             (POST /v1/chat/completions)
    chat_chunk(...)        -> openai.types.chat.ChatCompletionChunk

Each is dumped with `exclude_unset`, so a body holds the fields OpenAI's does (and `logprobs: null` where OpenAI
writes it). `completion_response` is lesson 12's exercise: raw samples of one prompt, their text still holding
the stop string if one ended them, -> the response object, as a plain dict.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

from openai.types import Completion, CompletionChoice, CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, ChatCompletionTokenLogprob
from openai.types.chat.chat_completion import Choice as ChatChoice
from openai.types.chat.chat_completion import ChoiceLogprobs
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.chat.chat_completion_chunk import ChoiceLogprobs as ChunkLogprobs
from openai.types.chat.chat_completion_token_logprob import TopLogprob
from openai.types.completion_choice import Logprobs

__all__ = ["TokenLogprob", "chat_chunk", "chat_completion", "chat_logprobs", "completion", "completion_chunk",
           "completion_logprobs", "completion_response", "cut_at_stop", "dump", "usage"]


def dump(model) -> dict:
    return model.model_dump(mode="json", exclude_unset=True)


def usage(prompt_tokens: int, completion_tokens: int) -> CompletionUsage:
    """The usage block: the prompt counted once, every generated token once, and their sum."""
    return CompletionUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           total_tokens=prompt_tokens + completion_tokens)


# --- logprobs ----------------------------------------------------------------------------------------------


class TokenLogprob:
    """One generated token's log-probability under the model, and the most likely alternatives at that step."""

    __slots__ = ("token", "token_bytes", "logprob", "top")

    def __init__(self, token: str, token_bytes: bytes, logprob: float, top: list[tuple[str, bytes, float]]):
        self.token, self.token_bytes, self.logprob, self.top = token, token_bytes, logprob, top


def completion_logprobs(entries: Sequence[TokenLogprob], offset: int = 0) -> Logprobs:
    """The legacy shape: tokens, token_logprobs, top_logprobs (one {token: logprob} per position), text_offset
    (where each token's text starts in the choice's text, plus `offset`)."""
    offsets, position = [], offset
    for entry in entries:
        offsets.append(position)
        position += len(entry.token)
    return Logprobs(tokens=[e.token for e in entries], token_logprobs=[e.logprob for e in entries],
                    top_logprobs=[{token: lp for token, _, lp in e.top} for e in entries], text_offset=offsets)


def chat_logprobs(entries: Sequence[TokenLogprob]) -> list[ChatCompletionTokenLogprob]:
    return [ChatCompletionTokenLogprob(token=e.token, bytes=list(e.token_bytes), logprob=e.logprob,
                                       top_logprobs=[TopLogprob(token=t, bytes=list(b), logprob=lp) for t, b, lp in e.top])
            for e in entries]


# --- completions -------------------------------------------------------------------------------------------


def completion(choices: list[CompletionChoice], model: str, completion_id: str, created: int,
               usage_block: CompletionUsage | None) -> dict:
    """The response of POST /v1/completions."""
    fields = dict(id=completion_id, object="text_completion", created=created, model=model, choices=choices)
    if usage_block is not None:
        fields["usage"] = usage_block
    return dump(Completion(**fields))


def completion_choice(index: int, text: str, finish_reason: str | None, logprobs: Logprobs | None = None) -> CompletionChoice:
    # finish_reason is None on the chunks before a choice's last: construct() skips the type's Literal check there
    return CompletionChoice.model_construct(text=text, index=index, logprobs=logprobs, finish_reason=finish_reason)


def completion_chunk(completion_id: str, created: int, model: str, index: int, text: str, finish_reason: str | None,
                     logprobs: Logprobs | None = None) -> dict:
    """One server-sent event of a streamed completion: the same shape, one choice, a piece of its text."""
    chunk = Completion.model_construct(id=completion_id, object="text_completion", created=created, model=model,
                                       choices=[completion_choice(index, text, finish_reason, logprobs)])
    return dump(chunk)


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
        choices.append(CompletionChoice(text=text, index=index, logprobs=None, finish_reason="stop" if stopped else "length"))
    generated = sum(count for _, count in samples)
    return completion(choices, model, completion_id, created, usage(prompt_tokens, generated))


# --- chat --------------------------------------------------------------------------------------------------


def chat_completion(contents: list[tuple[str, str, list[TokenLogprob] | None]], model: str, completion_id: str,
                    created: int, usage_block: CompletionUsage) -> dict:
    """The response of POST /v1/chat/completions: one choice per (content, finish_reason, logprobs or None)."""
    choices = [ChatChoice(index=i, message=ChatCompletionMessage(role="assistant", content=content),
                          finish_reason=reason,
                          logprobs=ChoiceLogprobs(content=chat_logprobs(entries)) if entries is not None else None)
               for i, (content, reason, entries) in enumerate(contents)]
    return dump(ChatCompletion(id=completion_id, object="chat.completion", created=created, model=model, choices=choices,
                               usage=usage_block))


def chat_chunk(completion_id: str, created: int, model: str, index: int | None = None, *, role: str | None = None,
               content: str | None = None, finish_reason: str | None = None,
               logprobs: list[TokenLogprob] | None = None, usage_block: CompletionUsage | None = None) -> dict:
    """One server-sent event of a streamed chat completion: the first of a choice carries its role, the next ones
    pieces of content, the last its finish_reason; with stream_options.include_usage a last one has usage only."""
    fields = dict(id=completion_id, object="chat.completion.chunk", created=created, model=model, choices=[])
    if index is not None:
        delta = {k: v for k, v in (("role", role), ("content", content)) if v is not None}
        choice = dict(index=index, delta=ChoiceDelta(**delta), finish_reason=finish_reason,
                      logprobs=ChunkLogprobs(content=chat_logprobs(logprobs)) if logprobs is not None else None)
        fields["choices"] = [ChunkChoice(**choice)]
    if usage_block is not None:
        fields["usage"] = usage_block
    return dump(ChatCompletionChunk(**fields))
