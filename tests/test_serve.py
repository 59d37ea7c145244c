"""The completions server over loopback, with the official openai client: real uvicorn, real sockets.

Every server here binds 127.0.0.1 on a port the OS picks. Models are tiny (random weights, or a scripted
model that spells a fixed text), so the whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import torch
from openai import OpenAI

from gptlab.generation import generate
from gptlab.nn.model import GPT, GPTConfig
from gptlab.serve import BackgroundServer, Limits, create_app
from gptlab.tokenizers.bpe import BPETokenizer

pytestmark = pytest.mark.slow

TEXT = ("ROMEO: But soft, what light through yonder window breaks?\n\n"
        "JULIET: O Romeo, Romeo, wherefore art thou Romeo?\n\n") * 30 + "café, naïve, 東京 " * 10
MAX_TOKENS_CAP = 64


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(TEXT, 300)


@pytest.fixture(scope="module")
def model(tokenizer, make_gpt):
    return make_gpt(dict(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32), eval=True)


@pytest.fixture(scope="module")
def server(model, tokenizer):
    app = create_app(model, tokenizer, "tiny", limits=Limits(max_tokens=MAX_TOKENS_CAP, max_prompt_tokens=200))
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=30) as c:
        yield c


class ScriptedModel(torch.nn.Module):
    """A stand-in GPT that, at generation step k of a row, puts all its probability on script[k] (repeating).

    It honours the KV-cache protocol (cache.update with the new positions; each row's length tells where it
    is), so each row's step is known even when rows of different lengths decode together. With `delay` it
    sleeps in every forward pass, and `calls` counts them: for the cancellation tests.
    """

    def __init__(self, script: list[int], vocab_size: int, delay: float = 0.0):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab_size, block_size=512, n_layer=1, n_head=1, n_embd=8)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # generate reads the device and dtype from a parameter
        self.script, self.delay, self.calls, self.prompt_lengths = script, delay, 0, {}

    def forward(self, idx, targets=None, caches=None):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        B, T = idx.shape
        starts = list(caches[0].lengths[:B]) if caches else [0] * B
        for cache in caches or []:
            cache.update(torch.zeros(B, 1, T, 8), torch.zeros(B, 1, T, 8))
        logits = torch.full((B, T, self.config.vocab_size), float("-inf"))
        for b, start in enumerate(starts):
            if start == 0:  # a prompt: generation starts after it
                self.prompt_lengths[b] = T
            step = start + T - self.prompt_lengths.get(b, T)
            logits[b, -1, self.script[step % len(self.script)]] = 0.0
        return logits, None


def byte_tokens(tokenizer, text: str) -> list[int]:
    """One token per UTF-8 byte: a multi-byte character spans several tokens."""
    return [tokenizer.byte_ids[b] for b in text.encode("utf-8")]


SCRIPT_TEXT = "Hi café!\n\nNEXT"


@pytest.fixture(scope="module")
def scripted_server(tokenizer):
    model = ScriptedModel(byte_tokens(tokenizer, SCRIPT_TEXT), tokenizer.vocab_size)
    with BackgroundServer(create_app(model, tokenizer, "scripted")) as running:
        yield running


@pytest.fixture(scope="module")
def scripted(scripted_server):
    with OpenAI(base_url=scripted_server.base_url, api_key="x", max_retries=0, timeout=30) as c:
        yield c


# --- the API, through the official client ---------------------------------------------------------------


def test_models_lists_the_served_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]
    assert client.models.retrieve("tiny").owned_by == "gptlab"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_a_completion_has_the_published_shape_and_usage(client, model, tokenizer):
    prompt = "ROMEO: But soft"
    response = client.completions.create(model="tiny", prompt=prompt, max_tokens=8, temperature=0)
    assert response.object == "text_completion" and response.id.startswith("cmpl-") and response.model == "tiny"
    assert abs(response.created - time.time()) < 60
    [choice] = response.choices
    assert choice.index == 0 and choice.logprobs is None and choice.finish_reason == "length"
    [expected] = generate(model, prompt, max_tokens=8, temperature=0, tokenizer=tokenizer)
    assert choice.text == expected.text  # greedy: exactly what the library generates
    prompt_tokens = len(tokenizer.encode(prompt))
    assert response.usage.prompt_tokens == prompt_tokens
    assert response.usage.completion_tokens == 8
    assert response.usage.total_tokens == prompt_tokens + 8


def test_n_samples_for_a_list_of_prompts(client, tokenizer):
    prompts = ["ROMEO:", "JULIET: O Romeo"]
    response = client.completions.create(model="tiny", prompt=prompts, max_tokens=5, n=3, seed=7)
    assert [c.index for c in response.choices] == list(range(6))
    assert all(c.finish_reason == "length" for c in response.choices)
    assert response.usage.prompt_tokens == sum(len(tokenizer.encode(p)) for p in prompts)
    assert response.usage.completion_tokens == 6 * 5
    again = client.completions.create(model="tiny", prompt=prompts, max_tokens=5, n=3, seed=7)
    assert [c.text for c in again.choices] == [c.text for c in response.choices]  # seeded: reproducible
    assert len({c.text for c in response.choices[:3]}) > 1  # n samples of one prompt differ


def test_stop_string_ends_the_text_before_it(scripted, tokenizer):
    response = scripted.completions.create(model="scripted", prompt="Say:", max_tokens=40, temperature=0, stop="\n\n")
    [choice] = response.choices
    assert choice.text == "Hi café!" and choice.finish_reason == "stop"
    assert response.usage.completion_tokens == len("Hi café!\n\n".encode())  # the stop's tokens were generated too
    both = scripted.completions.create(model="scripted", prompt="Say:", max_tokens=40, temperature=0, stop=["!", "é"])
    assert both.choices[0].text == "Hi caf"  # the earliest stop string in the text wins
    short = scripted.completions.create(model="scripted", prompt="Say:", max_tokens=3, temperature=0, stop="\n\n")
    assert short.choices[0].text == "Hi " and short.choices[0].finish_reason == "length"


def test_streaming_holds_back_stop_prefixes_and_never_splits_a_character(scripted):
    chunks = list(scripted.completions.create(model="scripted", prompt="Say:", max_tokens=40, temperature=0,
                                              stop="!\n\nNEXT", stream=True))
    texts = [c.choices[0].text for c in chunks]
    assert "".join(texts) == "Hi café"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert not any("\ufffd" in t for t in texts)  # "é" is two byte tokens: it arrives whole
    assert not any("!" in t for t in texts)  # "!" could start the stop string: it was held back, then dropped
    assert len({c.id for c in chunks}) == 1 and all(c.object == "text_completion" for c in chunks)


def test_stream_equals_the_non_streamed_answer_and_ends_with_done(client, server):
    kwargs = dict(model="tiny", prompt=["ROMEO:", "JULIET:"], max_tokens=12, n=2, seed=3, stop="e")
    whole = client.completions.create(**kwargs)
    pieces: dict[int, str] = {}
    reasons: dict[int, str] = {}
    usage = None
    for chunk in client.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces[choice.index] = pieces.get(choice.index, "") + choice.text
            if choice.finish_reason:
                reasons[choice.index] = choice.finish_reason
    assert [pieces[c.index] for c in whole.choices] == [c.text for c in whole.choices]
    assert [reasons[c.index] for c in whole.choices] == [c.finish_reason for c in whole.choices]
    assert usage == whole.usage
    with httpx.stream("POST", f"{server.base_url}/completions", json={**kwargs, "stream": True}, timeout=30) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in raw.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_max_tokens_zero_and_an_empty_prompt(client, tokenizer):
    response = client.completions.create(model="tiny", prompt="", max_tokens=0)
    assert response.choices[0].text == "" and response.choices[0].finish_reason == "length"
    assert response.usage.prompt_tokens == 1  # an empty prompt starts from <|endoftext|>
    assert response.usage.completion_tokens == 0


# --- bad requests: OpenAI's error shape, and the server keeps serving ---------------------------------------

GOOD = {"model": "tiny", "prompt": "ROMEO:", "max_tokens": 2}
BAD = [
    ({"model": "tiny"}, 400, "prompt"),
    ({"prompt": "x"}, 400, "model"),
    ({**GOOD, "max_tokens": -1}, 400, "max_tokens"),
    ({**GOOD, "max_tokens": MAX_TOKENS_CAP + 1}, 400, "max_tokens"),
    ({**GOOD, "max_tokens": "ten"}, 400, "max_tokens"),
    ({**GOOD, "temperature": -0.5}, 400, "temperature"),
    ({**GOOD, "top_p": 0}, 400, "top_p"),
    ({**GOOD, "top_p": 1.5}, 400, "top_p"),
    ({**GOOD, "n": 0}, 400, "n"),
    ({**GOOD, "stop": 5}, 400, "stop"),
    ({**GOOD, "stop": [""]}, 400, "stop"),
    ({**GOOD, "seed": 1.5}, 400, "seed"),
    ({**GOOD, "stream": "yes"}, 400, "stream"),
    ({**GOOD, "prompt": []}, 400, "prompt"),
    ({**GOOD, "prompt": [1, 99999]}, 400, "prompt"),
    ({**GOOD, "prompt": "word " * 300}, 400, "prompt"),
    ({**GOOD, "logprobs": 6}, 400, "logprobs"),
    ({**GOOD, "echo": True}, 400, "echo"),
    ({**GOOD, "max_tokens": 60, "prompt": "word " * 150}, 400, "prompt"),
    ({**GOOD, "frobnicate": True}, 400, "frobnicate"),
    ({**GOOD, "model": "gpt-4"}, 404, "model"),
]


@pytest.mark.parametrize("body,status,param", BAD, ids=[f"{p}-{s}-{i}" for i, (_, s, p) in enumerate(BAD)])
def test_bad_request_gets_an_openai_style_error(server, body, status, param):
    response = httpx.post(f"{server.base_url}/completions", json=body, timeout=10)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe", b'"just a string"'])
def test_malformed_json_is_a_400_not_a_crash(server, raw):
    response = httpx.post(f"{server.base_url}/completions", content=raw, headers={"content-type": "application/json"},
                          timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_the_client_raises_its_own_error_types_and_the_server_keeps_serving(client, server):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="tiny", prompt="x", temperature=-1)
    assert info.value.body["param"] == "temperature"
    with pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="davinci", prompt="x")
    assert info.value.body["code"] == "model_not_found"
    for method, route in (("POST", "/nowhere"), ("POST", "/v1/embeddings"), ("GET", "/v1/completions")):
        response = httpx.request(method, f"{server.url}{route}", timeout=10)
        assert response.status_code in (404, 405) and set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert client.completions.create(model="tiny", prompt="still here", max_tokens=2).choices[0].finish_reason == "length"


def test_an_api_key_is_required_when_set(model, tokenizer):
    with BackgroundServer(create_app(model, tokenizer, "tiny", api_key="s3cret")) as locked:
        with OpenAI(base_url=locked.base_url, api_key="wrong", max_retries=0) as intruder:
            with pytest.raises(openai.AuthenticationError):
                intruder.completions.create(model="tiny", prompt="x", max_tokens=1)
        assert httpx.get(f"{locked.base_url}/models").status_code == 401
        with OpenAI(base_url=locked.base_url, api_key="s3cret", max_retries=0) as friend:
            assert friend.completions.create(model="tiny", prompt="x", max_tokens=1).usage.completion_tokens == 1


# --- abandoned requests stop generating ------------------------------------------------------------------


def _wait_until_still(model, settle: float = 0.3, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = model.calls
        time.sleep(settle)
        if model.calls == before:
            return before
    raise AssertionError("the model kept running")


def test_an_abandoned_request_stops_generating(tokenizer):
    slow = ScriptedModel(byte_tokens(tokenizer, "abcdefgh"), tokenizer.vocab_size, delay=0.01)
    with BackgroundServer(create_app(slow, tokenizer, "slow", limits=Limits(max_tokens=400))) as running:
        body = {"model": "slow", "prompt": "go", "max_tokens": 400, "temperature": 0}
        # Streaming: read two chunks, then hang up.
        with httpx.stream("POST", f"{running.base_url}/completions", json={**body, "stream": True}, timeout=10) as raw:
            lines = raw.iter_lines()
            next(line for line in lines if line.startswith("data: "))
            next(line for line in lines if line.startswith("data: "))
        calls = _wait_until_still(slow)
        assert calls < 200, f"a closed stream kept generating ({calls} forward passes of 400)"
        # Not streaming: the client gives up after 0.5 s (about 50 tokens).
        start = slow.calls
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{running.base_url}/completions", json=body, timeout=0.5)
        calls = _wait_until_still(slow) - start
        assert calls < 200, f"an abandoned request kept generating ({calls} forward passes of 400)"
        # And the next client is served at once.
        response = httpx.post(f"{running.base_url}/completions", json={**body, "max_tokens": 3}, timeout=10)
        assert response.json()["choices"][0]["text"] == "abc"


# --- load ------------------------------------------------------------------------------------------------


def test_load_200_requests_from_16_concurrent_clients(server, tokenizer):
    requests, clients = 200, 16
    local = threading.local()

    def one(i: int) -> float:
        if not hasattr(local, "client"):
            local.client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60)
        start = time.perf_counter()
        prompt = f"ROMEO: request {i}"
        if i % 4 == 3:
            text = "".join(c.choices[0].text for c in local.client.completions.create(
                model="tiny", prompt=prompt, max_tokens=4, seed=i, stream=True))
            assert isinstance(text, str)
        else:
            response = local.client.completions.create(model="tiny", prompt=prompt, max_tokens=4, n=1 + i % 2, seed=i)
            assert response.object == "text_completion" and len(response.choices) == 1 + i % 2
            assert all(c.finish_reason in ("stop", "length") and isinstance(c.text, str) for c in response.choices)
            assert response.usage.prompt_tokens == len(tokenizer.encode(prompt))
            assert response.usage.completion_tokens == 4 * (1 + i % 2)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - start
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]
    print(f"\n{requests} requests from {clients} clients in {elapsed:.2f} s ({requests / elapsed:.0f} req/s): "
          f"latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert len(latencies) == requests


# --- loading models and the command line -----------------------------------------------------------------


def test_serving_a_checkpoint_and_a_gpt2_directory(model, tokenizer, tmp_path):
    from gptlab.io.checkpoint import save_checkpoint
    from gptlab.nn.gpt2 import save_gpt2_directory
    from gptlab.serve import load_for_serving

    save_checkpoint(tmp_path / "run.safetensors", model, tokenizer=tokenizer)
    loaded, tok, name = load_for_serving(str(tmp_path / "run.safetensors"))
    assert name == "run" and tok.encode("ROMEO") == tokenizer.encode("ROMEO")
    directory = save_gpt2_directory(model, tmp_path / "gpt2-tiny")
    with pytest.raises(FileNotFoundError, match="--tokenizer"):
        load_for_serving(str(directory))
    tokenizer.save(tmp_path / "tok")
    loaded, tok, name = load_for_serving(str(directory), tmp_path / "tok")
    ids = torch.tensor([tokenizer.encode("ROMEO: soft")])
    assert name == "gpt2-tiny" and torch.allclose(loaded(ids)[0], model(ids)[0], atol=1e-5)
    with pytest.raises(FileNotFoundError):
        load_for_serving(str(tmp_path / "nothing-here"))


def test_a_modern_gpt_checkpoint_is_served_and_answers_as_the_library_generates(tokenizer, tmp_path):
    """Lesson 14's ModernGPT saved as a checkpoint: served by file name, greedy text equal to generate()'s."""
    from gptlab.io.checkpoint import save_checkpoint
    from gptlab.nn.modern_model import ModernConfig, ModernGPT
    from gptlab.serve import load_for_serving

    torch.manual_seed(0)
    model = ModernGPT(ModernConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=4, n_kv_head=2,
                                   n_embd=32)).eval()
    save_checkpoint(tmp_path / "modern.safetensors", model, tokenizer=tokenizer)
    loaded, tok, name = load_for_serving(str(tmp_path / "modern.safetensors"))
    assert type(loaded) is ModernGPT and name == "modern"
    [expected] = generate(model, "ROMEO: But soft", max_tokens=12, temperature=0, tokenizer=tokenizer)
    with BackgroundServer(create_app(loaded, tok, name)) as running, \
            OpenAI(base_url=running.base_url, api_key="-", max_retries=0, timeout=30) as client:
        response = client.completions.create(model=name, prompt="ROMEO: But soft", max_tokens=12, temperature=0)
    assert response.choices[0].text == expected.text and response.usage.completion_tokens == 12


def test_the_cli_refuses_a_public_address_without_a_key(capsys):
    from gptlab.serve.cli import main

    assert main(["--host", "0.0.0.0", "--model", "/nonexistent"]) == 2
    assert "without an API key" in capsys.readouterr().err
    assert main(["--max-tokens", "0"]) == 2


def test_gptlab_serve_speaks_chinese_under_gptlab_lang_zh(monkeypatch, capsys):
    """Like `gptlab train`: `gptlab` hands the library's command the course's say(), so GPTLAB_LANG=zh gives its
    lines in Chinese, and `python -m gptlab.serve` (no course) prints the English of gptlab.serve.messages."""
    from gptlab.cli import main as gptlab_main
    from gptlab.serve.cli import main
    from gptlab.serve.messages import MESSAGES

    monkeypatch.setenv("GPTLAB_LANG", "zh")
    assert gptlab_main(["serve", "--host", "0.0.0.0", "--model", "/nonexistent"]) == 2
    assert capsys.readouterr().err.strip().startswith("错误：拒绝在没有 API 密钥的情况下监听 0.0.0.0")
    assert gptlab_main(["serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err.strip() == "错误：--port 必须在 0..65535 之间；收到的是 70000"
    assert gptlab_main(["serve", "--model", "/nonexistent.safetensors"]) == 2
    assert capsys.readouterr().err.startswith("错误：无法载入模型 '/nonexistent.safetensors'：")
    assert main(["--port", "70000"]) == 2  # the library alone: English
    assert capsys.readouterr().err.strip() == MESSAGES["serve.bad_port"].format(port=70000)


def test_the_cli_subcommand_registers_with_argparse():
    import argparse

    from gptlab.serve.cli import add_subcommands, cmd_serve

    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "0", "--model", "mine"])
    assert args.func is cmd_serve and args.host == "127.0.0.1" and args.port == 0 and args.model == "mine"


def test_python_m_gptlab_serve_serves_a_checkpoint(model, tokenizer, tmp_path):
    from gptlab.io.checkpoint import save_checkpoint
    from gptlab.serve.runner import BackgroundServer as _  # noqa: F401  (same package the subprocess runs)

    save_checkpoint(tmp_path / "cli.safetensors", model, tokenizer=tokenizer)
    import socket

    with socket.socket() as probe:  # a free port for the child (tiny race, fine on loopback in a test)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-m", "gptlab.serve", "--model", str(tmp_path / "cli.safetensors"),
                              "--port", str(port), "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0) as c:
            assert c.completions.create(model="cli", prompt="ROMEO:", max_tokens=3).usage.completion_tokens == 3
    finally:
        child.terminate()
        out, err = child.communicate(timeout=20)
    assert "Serving 'cli'" in out
