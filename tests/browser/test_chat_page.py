"""The server's chat page in headless Chromium: type a message, watch the answer stream in, see a refusal explained."""

from __future__ import annotations

import pytest
import torch

from gptlab.serve import BackgroundServer, Limits, create_app


class SlowEcho(torch.nn.Module):
    """A stand-in chat model that spells "Hello there, friend." one byte token per forward pass, slowly enough
    that a test can see the answer grow, then ends its turn with <|endoftext|>."""

    def __init__(self, tokenizer, delay: float = 0.03):
        super().__init__()
        from gptlab.nn.model import GPTConfig

        self.config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=512, n_layer=1, n_head=1, n_embd=8)
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.script = [tokenizer.byte_ids[b] for b in "Hello there, friend.".encode()] + \
            [tokenizer.special_tokens["<|endoftext|>"]]
        self.delay, self.starts = delay, {}

    def forward(self, idx, targets=None, caches=None):
        import time

        time.sleep(self.delay)
        B, T = idx.shape
        starts = list(caches[0].lengths[:B])
        for cache in caches:
            cache.update(torch.zeros(B, 1, T, 8), torch.zeros(B, 1, T, 8))
        logits = torch.full((B, T, self.config.vocab_size), float("-inf"))
        for b, start in enumerate(starts):
            if start == 0:
                self.starts[b] = T
            step = start + T - self.starts[b]
            logits[b, -1, self.script[min(step, len(self.script) - 1)]] = 0.0
        return logits, None


@pytest.fixture(scope="module")
def chat_server(tiny_tokenizer):
    app = create_app(SlowEcho(tiny_tokenizer), tiny_tokenizer, "echo", limits=Limits(max_tokens=64, max_prompt_tokens=60))
    with BackgroundServer(app) as running:
        yield running


def test_a_message_gets_an_answer_that_streams_in(chat_server, new_page, artifacts):
    browser = new_page()
    page = browser.page
    try:
        page.goto(chat_server.url + "/")
        assert "Chat with echo" in page.inner_text("h1")
        page.fill("#input", "Who speaks?")
        page.press("#input", "Enter")
        answer = page.locator(".msg.assistant").last
        page.wait_for_function("() => { const a = document.querySelector('.msg.assistant');"
                               " return a && a.textContent.length > 0 && a.dataset.state === 'streaming'; }",
                               timeout=15_000)
        partial = answer.inner_text()
        page.wait_for_function("() => document.querySelector('.msg.assistant').dataset.state === 'done'", timeout=30_000)
        assert answer.inner_text() == "Hello there, friend."
        assert 0 < len(partial) < len("Hello there, friend.")  # seen while it was still arriving
        assert page.locator(".msg.user").inner_text() == "Who speaks?"
        page.screenshot(path=str(artifacts / "chat_page_answer.png"))
        assert browser.outside_requests == [] and browser.page_errors == []
    finally:
        page.close()


def test_a_refused_request_is_explained_on_the_page(chat_server, new_page, artifacts):
    browser = new_page()
    page = browser.page
    try:
        page.goto(chat_server.url + "/")
        page.fill("#input", "word " * 200)  # more tokens than this server accepts in a prompt
        page.click("#send")
        error = page.locator(".msg.error")
        error.wait_for(timeout=15_000)
        assert "The server refused the request" in error.inner_text() and "accepts at most 60" in error.inner_text()
        assert page.locator(".msg.assistant").count() == 0
        page.screenshot(path=str(artifacts / "chat_page_refusal.png"))
        assert browser.outside_requests == []
    finally:
        page.close()
