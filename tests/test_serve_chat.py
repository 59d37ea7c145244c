"""Chat completions, logprobs, context limits and batched decoding, through the official openai client on loopback."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import torch
from openai import OpenAI

from gptlab.generation import generate
from gptlab.serve import BackgroundServer, Limits, create_app
from gptlab.topics.chat import render_chat

pytestmark = pytest.mark.slow

USER = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who speaks?\nROMEO: But soft"}]


@pytest.fixture(scope="module")
def model(tiny_tokenizer, make_gpt):
    return make_gpt(dict(vocab_size=tiny_tokenizer.vocab_size, block_size=96, n_layer=2, n_head=2, n_embd=32),
                    scale=4.0, eval=True)


@pytest.fixture(scope="module")
def server(model, tiny_tokenizer):
    app = create_app(model, tiny_tokenizer, "tiny", limits=Limits(max_tokens=64, max_prompt_tokens=200))
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60) as c:
        yield c


def eot(tokenizer) -> int:
    return tokenizer.special_tokens["<|endoftext|>"]


def test_a_chat_completion_renders_the_template_and_answers_as_generate_would(client, model, tiny_tokenizer):
    response = client.chat.completions.create(model="tiny", messages=USER, max_tokens=12, temperature=0)
    assert response.object == "chat.completion" and response.id.startswith("chatcmpl-")
    [choice] = response.choices
    assert choice.message.role == "assistant" and choice.index == 0 and choice.logprobs is None
    prompt = tiny_tokenizer.encode(render_chat(USER), allowed_special="all")
    [expected] = generate(model, prompt, 12, temperature=0, stop_ids=[eot(tiny_tokenizer)], tokenizer=tiny_tokenizer)
    assert choice.message.content == expected.text and choice.finish_reason == expected.finish_reason
    assert response.usage.prompt_tokens == len(prompt)
    assert response.usage.completion_tokens == len(expected.token_ids) + (expected.finish_reason == "stop")


def test_chat_parameters_n_seed_stop_top_p_and_max_completion_tokens(client):
    kwargs = dict(model="tiny", messages=USER, n=3, seed=5, temperature=1.2, top_p=0.9, max_completion_tokens=10)
    first = client.chat.completions.create(**kwargs)
    again = client.chat.completions.create(**kwargs)
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert len(first.choices) == 3 and len({c.message.content for c in first.choices}) > 1
    assert all(c.finish_reason in ("stop", "length") for c in first.choices)
    text = first.choices[0].message.content
    if len(text) > 3:
        cut = client.chat.completions.create(**kwargs, stop=[text[2:4]])
        assert cut.choices[0].message.content == text[:text.find(text[2:4])] and cut.choices[0].finish_reason == "stop"
    short = client.chat.completions.create(model="tiny", messages=USER, max_tokens=2, temperature=0)
    assert short.usage.completion_tokens <= 2


def test_a_streamed_chat_equals_the_whole_answer_and_reports_usage(client):
    kwargs = dict(model="tiny", messages=USER, max_tokens=16, temperature=0.9, seed=1, n=2)
    whole = client.chat.completions.create(**kwargs)
    content, roles, reasons, usage = {}, {}, {}, None
    for chunk in client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage, _ = chunk.usage, None
            assert chunk.choices == []
        for choice in chunk.choices:
            roles.setdefault(choice.index, choice.delta.role)
            content[choice.index] = content.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                reasons[choice.index] = choice.finish_reason
    assert roles == {0: "assistant", 1: "assistant"}
    assert [content[c.index] for c in whole.choices] == [c.message.content for c in whole.choices]
    assert [reasons[c.index] for c in whole.choices] == [c.finish_reason for c in whole.choices]
    assert usage == whole.usage


def _model_logprobs(model, prompt: list[int], generated: list[int]) -> torch.Tensor:
    """log-softmax of the model's own logits at each generated position: (len(generated), V)."""
    with torch.no_grad():
        logits, _ = model(torch.tensor([prompt + generated]))
    return torch.log_softmax(logits[0, len(prompt) - 1:-1].float(), dim=-1)


def test_chat_logprobs_are_the_log_softmax_of_the_models_logits(client, model, tiny_tokenizer):
    response = client.chat.completions.create(model="tiny", messages=USER, max_tokens=8, temperature=0, logprobs=True,
                                              top_logprobs=3)
    entries = response.choices[0].logprobs.content
    prompt = tiny_tokenizer.encode(render_chat(USER), allowed_special="all")
    [expected] = generate(model, prompt, 8, temperature=0, stop_ids=[eot(tiny_tokenizer)], tokenizer=tiny_tokenizer)
    reference = _model_logprobs(model, prompt, expected.token_ids)
    assert len(entries) == len(expected.token_ids)
    for entry, token, row in zip(entries, expected.token_ids, reference):
        assert abs(entry.logprob - float(row[token])) < 1e-4
        assert bytes(entry.bytes) == tiny_tokenizer.token_bytes[token]
        top = torch.topk(row, 3)
        assert [round(t.logprob, 4) for t in entry.top_logprobs] == [round(float(v), 4) for v in top.values]
        assert entry.logprob == pytest.approx(entry.top_logprobs[0].logprob, abs=1e-5)  # greedy: the top token


def test_completion_logprobs_in_the_legacy_shape(client, model, tiny_tokenizer):
    response = client.completions.create(model="tiny", prompt="ROMEO: But", max_tokens=6, temperature=0, logprobs=2)
    [choice] = response.choices
    lp = choice.logprobs
    [expected] = generate(model, "ROMEO: But", 6, temperature=0, tokenizer=tiny_tokenizer)
    reference = _model_logprobs(model, tiny_tokenizer.encode("ROMEO: But"), expected.token_ids)
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert [abs(a - float(r[t])) < 1e-4 for a, t, r in zip(lp.token_logprobs, expected.token_ids, reference)] == [True] * 6
    assert all(len(top) <= 2 for top in lp.top_logprobs)
    assert lp.text_offset[0] == 0 and lp.text_offset == sorted(lp.text_offset)
    assert "".join(lp.tokens) == choice.text


def test_a_prompt_that_does_not_fit_the_context_is_refused_on_both_endpoints(server, tiny_tokenizer):
    long = "ROMEO: " * 40  # about 80 tokens: with 32 more it passes the 96-token context
    for route, body in (("completions", {"prompt": long}), ("chat/completions", {"messages": [{"role": "user", "content": long}]})):
        response = httpx.post(f"{server.base_url}/{route}", json={"model": "tiny", "max_tokens": 32, **body}, timeout=10)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "context_length_exceeded" and "maximum context length is 96 tokens" in error["message"]


@pytest.mark.parametrize("extra, param", [({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
                                          ({"response_format": {"type": "json_object"}}, "response_format"),
                                          ({"logit_bias": {"5": 1.0}}, "logit_bias"),
                                          ({"presence_penalty": 0.5}, "presence_penalty"),
                                          ({"top_logprobs": 2}, "top_logprobs")])
def test_chat_parameters_the_models_cannot_honour_get_openais_400_naming_them(client, extra, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="tiny", messages=USER, max_tokens=2, **extra)
    assert info.value.body["param"] == param


MALFORMED = [
    b"{not json", b"[]", b'"hello"', b"",
    {"model": "tiny"},
    {"messages": [{"role": "user", "content": "hi"}]},
    {"model": "tiny", "messages": []},
    {"model": "tiny", "messages": "hi"},
    {"model": "tiny", "messages": [{"role": "wizard", "content": "hi"}]},
    {"model": "tiny", "messages": [{"role": "user"}]},
    {"model": "tiny", "messages": [{"content": "hi"}]},
    {"model": "tiny", "messages": [{"role": "user", "content": 5}]},
    {"model": "tiny", "messages": [{"role": "user", "content": None}]},
    {"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi", "mood": "happy"}]},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}]},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 1000},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "n": 0},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "frobnicate": 1},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": 3},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "top_p": 0},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -3},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 1000},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": [""]},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}},
    {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "logprobs": True, "top_logprobs": 50},
    {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
]


def test_thirty_malformed_chat_bodies_each_get_a_4xx_in_openais_shape_and_the_server_lives(server, client):
    assert len(MALFORMED) >= 30
    for body in MALFORMED:
        kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, bytes) else {"json": body}
        response = httpx.post(f"{server.base_url}/chat/completions", timeout=10, **kwargs)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], body
    assert client.chat.completions.create(model="tiny", messages=USER, max_tokens=2).choices[0].message.role == "assistant"


def test_200_chat_requests_at_concurrency_16_without_an_error(server):
    local = threading.local()

    def one(i: int) -> int:
        if not hasattr(local, "client"):
            local.client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=120)
        messages = [{"role": "user", "content": "Who speaks? " + "ROMEO " * (i % 9)}]
        if i % 3 == 0:
            chunks = list(local.client.chat.completions.create(model="tiny", messages=messages, max_tokens=4 + i % 5,
                                                               seed=i, stream=True))
            return sum(1 for c in chunks if c.choices and c.choices[0].finish_reason)
        response = local.client.chat.completions.create(model="tiny", messages=messages, max_tokens=4 + i % 5, seed=i)
        return len(response.choices)

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(one, range(200))) == [1] * 200


def test_concurrent_greedy_requests_batched_together_give_what_each_gives_alone(model, tiny_tokenizer):
    prompts = ["ROMEO:", "JULIET: O Romeo, Romeo, wherefore", "café", "But soft, what light through yonder", "Ay"] * 2
    alone = [generate(model, p, 20, temperature=0, tokenizer=tiny_tokenizer)[0].text for p in prompts]
    app = create_app(model, tiny_tokenizer, "tiny", capacity=16)
    with BackgroundServer(app) as running, OpenAI(base_url=running.base_url, api_key="x", max_retries=0) as c:
        barrier = threading.Barrier(len(prompts))

        def one(prompt: str) -> str:
            barrier.wait()  # all at once: they share the batch
            return c.completions.create(model="tiny", prompt=prompt, max_tokens=20, temperature=0).choices[0].text

        with ThreadPoolExecutor(len(prompts)) as pool:
            together = list(pool.map(one, prompts))
        assert app.state.engine.steps < 20 * len(prompts) / 2  # they did share steps
    assert together == alone


def test_the_chat_page_is_served_and_names_the_model(server):
    page = httpx.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Chat with <code>tiny</code>" in page.text and "/v1/chat/completions" in page.text
    assert "http" not in page.text.split("<script>")[1].replace("http://", "")  # no CDN: everything is on the page
