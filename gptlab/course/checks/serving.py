"""Checks for the serving lesson (12): turning raw samples into the completions API's response object."""

from __future__ import annotations

import random
import re

from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say
from gptlab.serve.schema import completion_response

WORDS = ["the", "king", "of", "Denmark", "sleeps", "while", "a", "ghost", "walks", "on", "battlements", "and", "Horatio",
         "doubts", "what", "he", "sees", "night", "cold", "my", "lord", "speak", "to", "it", "swear"]


def _phrase(rng: random.Random, low: int = 3, high: int = 8) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _count(rng: random.Random, text: str) -> int:
    """A plausible number of generated tokens for a text (about one per word piece)."""
    return max(1, len(text.split()) + rng.randint(0, 3))


def _serving_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)

    def sample(text: str) -> tuple[str, int]:
        return (text, _count(rng, text))

    def case(name: str, samples: list[tuple[str, int]], stop) -> Case:
        prompt_tokens = rng.randint(3, 40)
        return Case(name, (samples, prompt_tokens, "shipped"),
                    {"stop": stop, "completion_id": f"cmpl-{seed}-{rng.randint(0, 9999)}", "created": 1_700_000_000 + seed})

    p = lambda low=3, high=8: _phrase(rng, low, high)  # noqa: E731
    return [
        case("one sample, no stop strings", [sample(p())], None),
        case("one sample whose last token held the stop '\\n\\n' and more", [sample(f"{p()}\n\nHAMLET")], "\n\n"),
        case("n = 3, stop given as one string; only the second sample hit it",
             [sample(f"{p()}\n{p()}"), sample(f"{p()}\n{p()}\n\n{p(1, 1)}"), sample(p())], "\n\n"),
        case("two stop strings; the one listed second comes first in the text",
             [sample(f"{p()}\n{p()} END {p()}")], ["END", "\n"]),
        case("the stop string at the very start: the text is empty", [sample(f"\n\n{p()}")], "\n\n"),
        case("n = 2, a stop string that never appears", [sample(p()), sample(p())], ["###"]),
        case("max_tokens ran out on half a stop string: it is not a stop",
             [sample(f"{p()}\n"), sample(f"{p()}\n\n")], "\n\n"),
        case("n = 4, each stopped by a different string",
             [sample(f"{p()}.{p()}"), sample(f"{p()}!"), sample(f"{p()}?{p()}"), sample(p())], [".", "!", "?"]),
    ]


# --- the catalog ---------------------------------------------------------------------------------------


def _stops(stop) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop or [])


def _build(samples, prompt_tokens, model, stop, completion_id, created, *, cut, finish=None, prompt=None, total=None):
    choices = []
    for index, (text, _) in enumerate(samples):
        kept, stopped = cut(text, stop)
        reason = finish(stopped) if finish else ("stop" if stopped else "length")
        choices.append({"text": kept, "index": index, "logprobs": None, "finish_reason": reason})
    generated = sum(count for _, count in samples)
    prompt_count = prompt(prompt_tokens, len(samples)) if prompt else prompt_tokens
    total_count = total(prompt_tokens, generated) if total else prompt_count + generated
    return {"id": completion_id, "object": "text_completion", "created": created, "model": model, "choices": choices,
            "usage": {"prompt_tokens": prompt_count, "completion_tokens": generated, "total_tokens": total_count}}


def _cut_earliest(text, stop):
    found = [i for i in (text.find(s) for s in _stops(stop)) if i >= 0]
    return (text[:min(found)], True) if found else (text, False)


def _finish_always_length(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=_cut_earliest, finish=lambda stopped: "length")


def _stop_string_kept(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    def cut(text, stop):
        found = [(i, s) for s in _stops(stop) if (i := text.find(s)) >= 0]
        if not found:
            return text, False
        i, s = min(found)
        return text[:i + len(s)], True

    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=cut)


def _text_not_cut(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    return _build(samples, prompt_tokens, model, stop, completion_id, created,
                  cut=lambda text, stop: (text, _cut_earliest(text, stop)[1]))


def _prompt_counted_twice(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=_cut_earliest,
                  total=lambda prompt, generated: prompt + (prompt + generated))


def _prompt_per_sample(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=_cut_earliest,
                  prompt=lambda prompt, n: prompt * n)


def _first_listed_stop(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    def cut(text, stop):
        for s in _stops(stop):
            if s in text:
                return text[:text.find(s)], True
        return text, False

    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=cut)


def _string_stop_as_characters(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    def cut(text, stop):
        found = [i for i in (text.find(s) for s in (stop or [])) if i >= 0]  # a str iterates over its characters
        return (text[:min(found)], True) if found else (text, False)

    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=cut)


SERVING_MISTAKES = [
    Mistake("finish-always-length", _finish_always_length,
            "a sample that ended on a stop string has finish_reason \"stop\"; \"length\" means it ran out of max_tokens "
            "(set it from whether you found a stop string)"),
    Mistake("stop-string-kept", _stop_string_kept,
            "the stop string itself is still in the text: cut just *before* it (text[:i], not text[:i + len(s)])"),
    Mistake("text-not-cut", _text_not_cut,
            "finish_reason is right but the text was not cut: the stop string, and what the last token added after "
            "it, must not reach the client"),
    Mistake("prompt-counted-twice", _prompt_counted_twice,
            "total_tokens counts the prompt twice: total_tokens = prompt_tokens + completion_tokens, where "
            "completion_tokens counts only generated tokens"),
    Mistake("prompt-per-sample", _prompt_per_sample,
            "the n samples share one prompt, read once: prompt_tokens is the prompt's length, not n times it"),
    Mistake("first-listed-stop", _first_listed_stop,
            "with several stop strings, cut at the one that occurs *earliest in the text*, not the first one in the list "
            "that occurs somewhere"),
    Mistake("string-stop-as-characters", _string_stop_as_characters,
            "stop may be a single string: `for s in stop` then loops over its characters (\"\\n\\n\" becomes \"\\n\", "
            "\"\\n\"); turn a string into a one-item list first"),
]


# --- correct variants ------------------------------------------------------------------------------------


def _with_regex(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    pattern = re.compile("|".join(map(re.escape, stops))) if stops else None
    choices = []
    for index, (text, _) in enumerate(samples):
        match = pattern.search(text) if pattern else None
        choices.append({"text": text[:match.start()] if match else text, "index": index, "logprobs": None,
                        "finish_reason": "stop" if match else "length"})
    completion_tokens = sum(n for _, n in samples)
    return {"id": completion_id, "object": "text_completion", "created": created, "model": model, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def _with_split(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    stops = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
    response = {"id": completion_id, "object": "text_completion", "created": created, "model": model, "choices": [],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 0, "total_tokens": prompt_tokens}}
    for index, (text, count) in enumerate(samples):
        hit = any(s in text for s in stops)
        kept = min((text.split(s, 1)[0] for s in stops), key=len) if hit else text
        response["choices"].append({"text": kept, "index": index, "logprobs": None, "finish_reason": "stop" if hit else "length"})
        response["usage"]["completion_tokens"] += count
        response["usage"]["total_tokens"] += count
    return response


def _scanning(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    stops = tuple([stop] if isinstance(stop, str) else stop or ())
    choices = []
    for index, (text, _) in enumerate(samples):
        end = next((i for i in range(len(text)) if text.startswith(stops, i)), None) if stops else None
        choices.append(dict(text=text if end is None else text[:end], index=index, logprobs=None,
                            finish_reason="length" if end is None else "stop"))
    generated = sum(count for _, count in samples)
    return dict(id=completion_id, object="text_completion", created=created, model=model, choices=choices,
                usage=dict(prompt_tokens=prompt_tokens, completion_tokens=generated, total_tokens=prompt_tokens + generated))


check_completion_response = make_check(CheckSpec(
    exercise="completion_response",
    reference=completion_response,
    make_cases=_serving_cases,
    mistakes=SERVING_MISTAKES,
    variants=[_with_regex, _with_split, _scanning],
    hints=[
        "For each sample, look for every stop string in its text and keep the earliest hit: the text before it is the "
        "answer and finish_reason is \"stop\"; no hit means max_tokens ran out: \"length\". Then add up usage.",
        "Shapes: choices is a list of {\"text\", \"index\", \"logprobs\": None, \"finish_reason\"}, one per sample, index "
        "0..n-1; usage is {\"prompt_tokens\", \"completion_tokens\", \"total_tokens\"}; a string stop is one stop string.",
        "Key lines: stops = [stop] if isinstance(stop, str) else list(stop or []); found = [i for i in (text.find(s) "
        "for s in stops) if i >= 0]; cut = min(found) if found else None; completion_tokens = sum(count for _, count "
        "in samples); total_tokens = prompt_tokens + completion_tokens",
    ],
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _response_fields(case, expected, actual):
    """Each choice's text holds no stop string and says why it ended; the usage adds up."""
    stops = _stops(case.kwargs.get("stop"))
    for want, got in zip(expected["choices"], actual["choices"]):
        inside = [s for s in stops if s in got["text"]]
        if inside:
            return say("serving.stop_inside", index=got["index"], stop=inside[0])
        if got["finish_reason"] != want["finish_reason"]:
            return say("serving.finish_reason", index=got["index"], got=got["finish_reason"], want=want["finish_reason"])
    usage, want = actual["usage"], expected["usage"]
    if usage["prompt_tokens"] != want["prompt_tokens"]:
        return say("serving.prompt_tokens", got=usage["prompt_tokens"], want=want["prompt_tokens"],
                   samples=len(actual["choices"]))
    if usage["total_tokens"] != usage["prompt_tokens"] + usage["completion_tokens"]:
        return say("serving.total_tokens", total=usage["total_tokens"],
                   added=usage["prompt_tokens"] + usage["completion_tokens"])
    return None


def _prompt_per_sample_and_twice(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=_cut_earliest,
                  prompt=lambda prompt, n: prompt * n, total=lambda prompt, generated: prompt + (prompt + generated))


def _stop_kept_always_length(samples, prompt_tokens, model, stop=None, completion_id="cmpl-0", created=0):
    def cut(text, stop):
        found = [(i, s) for s in _stops(stop) if (i := text.find(s)) >= 0]
        return (text[:min(found)[0] + len(min(found)[1])], True) if found else (text, False)

    return _build(samples, prompt_tokens, model, stop, completion_id, created, cut=cut, finish=lambda stopped: "length")


check_completion_response.spec.properties += [_response_fields]
check_completion_response.spec.combined += [_prompt_per_sample_and_twice, _stop_kept_always_length]
