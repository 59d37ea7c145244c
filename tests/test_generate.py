"""gptlab.generation: sampling semantics, stop strings, streaming text, the KV cache, and Hugging Face's greedy output."""

from __future__ import annotations

import pytest
import torch

from gptlab.generation import (Chunk, KVCache, generate, make_caches, next_token_probs, stream, top_k_logits, top_k_probs,
                             top_p_logits, top_p_probs)
from gptlab.nn.model import GPT, GPTConfig
from gptlab.tokenizers import BPETokenizer, ByteTokenizer

TEXT = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n\n"
        "The slings and arrows of outrageous fortune. Café, naïve, 你好, 🙂.\n") * 3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: a second thread only adds synchronisation, which stalls on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer().train(TEXT, 300)


SMALL = dict(vocab_size=300, block_size=24, n_layer=2, n_head=2, n_embd=32)  # scaled x4: greedy far from ties


@pytest.fixture(scope="module")
def model(make_gpt):
    return make_gpt(SMALL, scale=4.0, eval=True)


class ScriptedModel(torch.nn.Module):
    """A stand-in GPT that always predicts `script[position]`: the test decides exactly which tokens come out."""

    def __init__(self, script, vocab_size, block_size=512):
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=1, n_embd=4)
        self.script = list(script)
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.batch_sizes = []

    def forward(self, idx, targets=None, caches=None):
        B, T = idx.shape
        start = caches[0].length if caches else 0
        self.batch_sizes.append(B)
        if caches:
            for cache in caches:
                cache.update(torch.zeros(B, 1, T, 4), torch.zeros(B, 1, T, 4))
        logits = torch.full((B, T, self.config.vocab_size), -10.0)
        for t in range(T):
            nxt = start + t + 1  # the position this row predicts
            logits[:, t, self.script[nxt % len(self.script)]] = 10.0
        return logits, None


def scripted(text_or_ids, tokenizer, prompt_ids):
    ids = tokenizer.encode(text_or_ids) if isinstance(text_or_ids, str) else list(text_or_ids)
    return ScriptedModel(list(prompt_ids) + ids, tokenizer.vocab_size), ids


# --- the cache changes nothing but the speed ----------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(temperature=0), dict(temperature=1.0, seed=1),
                                    dict(temperature=0.8, top_k=20, top_p=0.9, seed=2, n=3),
                                    dict(temperature=1.3, top_p=0.5, seed=3, n=2)])
def test_cached_equals_uncached_including_past_block_size(model, kwargs):
    prompt = [5, 17, 42, 8]
    cached = generate(model, prompt, max_tokens=50, use_cache=True, **kwargs)  # 4 + 50 > block_size 24
    plain = generate(model, prompt, max_tokens=50, use_cache=False, **kwargs)
    assert [c.token_ids for c in cached] == [c.token_ids for c in plain]
    assert all(len(c.token_ids) == 50 and c.finish_reason == "length" for c in cached)


def test_a_prompt_longer_than_block_size_is_cropped_to_its_last_block_size_tokens(model):
    long_prompt = list(range(1, 40))
    for use_cache in (True, False):
        full = generate(model, long_prompt, max_tokens=6, temperature=0, use_cache=use_cache)[0].token_ids
        cropped = generate(model, long_prompt[-24:], max_tokens=6, temperature=0, use_cache=use_cache)[0].token_ids
        assert full == cropped


def test_kv_cache_preallocates_writes_in_place_and_returns_views():
    cache = KVCache(batch_size=2, n_head=3, head_size=4, max_length=5)
    k1, v1 = torch.randn(2, 3, 2, 4), torch.randn(2, 3, 2, 4)
    k, v = cache.update(k1, v1)
    assert cache.length == 2 and k.shape == (2, 3, 2, 4) and torch.equal(k, k1) and torch.equal(v, v1)
    k2 = torch.randn(2, 3, 1, 4)
    k, v = cache.update(k2, k2)
    assert cache.length == 3 and torch.equal(k, torch.cat([k1, k2], dim=2))
    assert k.data_ptr() == cache.k.data_ptr()  # a view of the buffer, not a copy
    with pytest.raises(ValueError, match="do not fit"):
        cache.update(torch.randn(2, 3, 3, 4), torch.randn(2, 3, 3, 4))
    with pytest.raises(ValueError, match="this cache holds"):
        cache.update(torch.randn(3, 3, 1, 4), torch.randn(3, 3, 1, 4))  # more rows than it has
    k, v = cache.update(torch.randn(1, 3, 1, 4), torch.randn(1, 3, 1, 4))  # only the first row moves on
    assert cache.lengths == [4, 3] and k.shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match="different numbers of positions"):
        cache.length
    cache.reset()
    assert cache.length == 0


def test_kv_cache_rows_of_different_lengths_write_at_their_own_positions_and_mask_the_rest():
    cache = KVCache(batch_size=2, n_head=1, head_size=1, max_length=6)
    cache.update(torch.ones(1, 1, 3, 1), torch.ones(1, 1, 3, 1))  # row 0 holds 3 positions, row 1 none
    assert cache.lengths == [3, 0] and cache.positions(2, 2).tolist() == [[3, 4], [0, 1]]
    new = torch.tensor([[5.0, 6.0], [7.0, 8.0]]).view(2, 1, 2, 1)
    k, _ = cache.update(new, new)
    assert cache.lengths == [5, 2] and k.shape == (2, 1, 5, 1)
    assert k[0, 0, :, 0].tolist() == [1, 1, 1, 5, 6] and k[1, 0, :2, 0].tolist() == [7, 8]
    # query j of row b sees the keys up to its own position: row 0 at 3 and 4, row 1 at 0 and 1
    assert cache.mask[:, 0].int().tolist() == [[[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]]


def test_model_with_caches_step_by_step_matches_the_full_forward(model):
    ids = torch.randint(0, 300, (2, 12), generator=torch.Generator().manual_seed(0))
    caches = make_caches(model, batch_size=2)
    with torch.no_grad():
        full = model(ids)[0]
        parts = [model(ids[:, :5], caches=caches)[0]] + [model(ids[:, t:t + 1], caches=caches)[0] for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-4)
    assert caches[0].length == 12


# --- greedy equals Hugging Face's greedy --------------------------------------------------------------


def test_greedy_equals_hugging_face_greedy(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=2,
                                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    with torch.no_grad():
        hf.transformer.wte.weight.mul_(4.0)
    hf.save_pretrained(tmp_path)
    ours = GPT.from_pretrained(tmp_path).eval()
    prompt = [3, 141, 59, 26, 5]
    with torch.no_grad():
        expected = hf.generate(torch.tensor([prompt]), max_new_tokens=40, do_sample=False, pad_token_id=0,
                               eos_token_id=None)[0, len(prompt):].tolist()
    for use_cache in (True, False):
        assert generate(ours, prompt, max_tokens=40, temperature=0, use_cache=use_cache)[0].token_ids == expected


# --- sampling semantics ---------------------------------------------------------------------------------


def test_temperature_near_zero_top_k_1_and_tiny_top_p_all_equal_greedy(model):
    prompt = [7, 7, 100]
    greedy = generate(model, prompt, max_tokens=30, temperature=0)[0].token_ids
    assert generate(model, prompt, max_tokens=30, temperature=1e-6, seed=0)[0].token_ids == greedy
    assert generate(model, prompt, max_tokens=30, temperature=1.5, top_k=1, seed=0)[0].token_ids == greedy
    assert generate(model, prompt, max_tokens=30, temperature=1.5, top_p=1e-6, seed=0)[0].token_ids == greedy


def test_the_same_seed_gives_the_same_samples_and_another_seed_others(model):
    a = generate(model, [1, 2], max_tokens=20, seed=5, n=2)
    b = generate(model, [1, 2], max_tokens=20, seed=5, n=2)
    c = generate(model, [1, 2], max_tokens=20, seed=6, n=2)
    assert [x.token_ids for x in a] == [x.token_ids for x in b] != [x.token_ids for x in c]


def test_top_k_keeps_ties_at_the_cut_off_and_renormalises():
    logits = torch.tensor([1.0, 3.0, 2.0, 2.0, 0.0])
    assert torch.isinf(top_k_logits(logits, 2)).tolist() == [True, False, False, False, True]  # both 2.0s stay
    probs = top_k_probs(logits, 1)
    assert probs.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert torch.allclose(top_k_probs(logits, 10), torch.softmax(logits, -1))  # k >= V keeps everything


def test_top_p_keeps_the_token_that_crosses_p():
    logits = torch.tensor([0.50, 0.30, 0.15, 0.05]).log()
    assert (top_p_probs(logits, 0.7) > 0).tolist() == [True, True, False, False]  # 0.5 < 0.7, 0.5 + 0.3 crosses
    assert (top_p_probs(logits, 0.5) > 0).tolist() == [True, False, False, False]  # 0.5 reaches p exactly
    assert (top_p_probs(logits, 0.1) > 0).tolist() == [True, False, False, False]  # the first token always stays
    torch.testing.assert_close(top_p_probs(logits, 0.7), torch.tensor([0.625, 0.375, 0.0, 0.0]))
    assert torch.equal(top_p_logits(logits, 1.0), logits)


def test_next_token_probs_applies_temperature_then_top_k_then_top_p():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, -3.0]])
    expected = top_p_probs(top_k_logits(logits / 0.7, 3), 0.8)
    torch.testing.assert_close(next_token_probs(logits, 0.7, top_k=3, top_p=0.8), expected)
    assert next_token_probs(logits, 0).tolist() == [[1.0, 0.0, 0.0, 0.0, 0.0]]


def test_sampled_tokens_always_come_from_the_kept_set(model):
    prompt = torch.tensor([9, 8, 7])
    out = generate(model, prompt, max_tokens=12, temperature=1.0, top_k=3, seed=0, n=4, use_cache=False)
    for completion in out:
        ids = prompt.tolist()
        for token in completion.token_ids:
            with torch.no_grad():
                logits = model(torch.tensor([ids[-24:]]))[0][0, -1]
            assert token in torch.topk(logits, 3).indices.tolist()
            ids.append(token)


def test_n_samples_run_as_one_batch():
    tok = ByteTokenizer()
    fake = ScriptedModel(list(b"hello world, again and again") * 4, 256)
    out = generate(fake, list(b"hel"), max_tokens=5, n=4, temperature=0, tokenizer=tok)
    assert [c.index for c in out] == [0, 1, 2, 3] and {c.text for c in out} == {"lo wo"}
    assert set(fake.batch_sizes) == {4}  # every forward pass carried all four samples


def test_n_samples_differ_when_sampling(model):
    out = generate(model, [1], max_tokens=15, temperature=1.0, n=3, seed=0)
    assert len({tuple(c.token_ids) for c in out}) == 3


# --- stop strings, finish_reason, text --------------------------------------------------------------------


def test_a_stop_string_ends_the_completion_and_is_not_returned(tokenizer):
    prompt = tokenizer.encode("To be")
    fake, script = scripted(", or not to be, that is the question:\nWhether", tokenizer, prompt)
    [done] = generate(fake, prompt, max_tokens=40, temperature=0, stop="question", tokenizer=tokenizer)
    assert done.finish_reason == "stop"
    assert done.text == ", or not to be, that is the "
    assert "question" not in tokenizer.decode(done.token_ids)
    assert done.token_ids == script[:len(done.token_ids)]
    assert tokenizer.decode(done.token_ids) == done.text[:len(tokenizer.decode(done.token_ids))]


def test_a_stop_string_across_token_boundaries_and_the_earliest_of_several(tokenizer):
    prompt = tokenizer.encode("To")
    fake, script = scripted(" be, or not to be, that is", tokenizer, prompt)
    pieces = [tokenizer.decode([i]) for i in script]
    assert any(", or" not in p for p in pieces)  # the stop below spans several tokens
    [done] = generate(fake, prompt, max_tokens=40, temperature=0, stop=["that", "e, or n"], tokenizer=tokenizer)
    assert done.finish_reason == "stop" and done.text == " b"
    assert "e, or n" not in tokenizer.decode(done.token_ids)


def test_stop_starting_inside_a_token_keeps_that_token_out_of_the_ids():
    tok = ByteTokenizer()
    # With bytes, each token is one character here: the text before the stop and the ids agree exactly.
    fake = ScriptedModel(list(b">>") + list(b"line one\n\nline two"), 256)
    [done] = generate(fake, list(b">>"), max_tokens=30, temperature=0, stop="\n\n", tokenizer=tok)
    assert (done.text, bytes(done.token_ids), done.finish_reason) == ("line one", b"line one", "stop")


def test_finish_reason_is_length_without_a_stop(tokenizer):
    prompt = tokenizer.encode("To")
    fake, script = scripted(" be, or not to be", tokenizer, prompt)
    [done] = generate(fake, prompt, max_tokens=3, temperature=0, stop="zzz", tokenizer=tokenizer)
    assert done.finish_reason == "length" and done.token_ids == script[:3] and done.text == tokenizer.decode(script[:3])
    assert generate(fake, prompt, max_tokens=0, tokenizer=tokenizer)[0] == generate(fake, prompt, max_tokens=0, tokenizer=tokenizer)[0]
    empty = generate(fake, prompt, max_tokens=0, tokenizer=tokenizer)[0]
    assert (empty.token_ids, empty.text, empty.finish_reason) == ([], "", "length")


def test_without_a_tokenizer_there_are_ids_and_no_text(model):
    [done] = generate(model, [1, 2], max_tokens=4, temperature=0)
    assert done.text is None and len(done.token_ids) == 4


def test_a_string_prompt_is_encoded_with_the_tokenizer(make_gpt, tokenizer):
    model = make_gpt(SMALL, vocab_size=tokenizer.vocab_size, scale=4.0, eval=True)
    a = generate(model, "To be", max_tokens=5, temperature=0, tokenizer=tokenizer)
    b = generate(model, tokenizer.encode("To be"), max_tokens=5, temperature=0, tokenizer=tokenizer)
    assert a == b


# --- streaming --------------------------------------------------------------------------------------------


def test_streamed_chunks_join_to_the_completion(make_gpt, tokenizer):
    model = make_gpt(SMALL, vocab_size=tokenizer.vocab_size, scale=4.0, eval=True)
    kwargs = dict(max_tokens=30, temperature=1.0, seed=4, n=3, stop=["e", "\n"], tokenizer=tokenizer)
    completions = generate(model, "To be", **kwargs)
    chunks = list(stream(model, "To be", **kwargs))
    assert all(isinstance(c, Chunk) for c in chunks)
    for completion in completions:
        mine = [c for c in chunks if c.index == completion.index]
        assert "".join(c.text for c in mine) == completion.text
        assert [i for c in mine for i in c.token_ids] == completion.token_ids
        assert [c.finish_reason for c in mine][-1] == completion.finish_reason
        assert all(c.finish_reason is None for c in mine[:-1])


def test_streaming_never_splits_a_utf8_character():
    tok = ByteTokenizer()  # one byte per token: every multi-byte character arrives in pieces
    answer = "Café 你好 🙂 naïve"
    fake = ScriptedModel([0] + list(answer.encode()), 256)
    chunks = list(stream(fake, [0], max_tokens=len(answer.encode()), temperature=0, tokenizer=tok))
    assert all("\ufffd" not in c.text for c in chunks)
    assert [c.text for c in chunks if c.text][:5] == ["C", "a", "f", "é", " "]
    assert "".join(c.text for c in chunks) == answer
    # Cut off in the middle of 🙂 by max_tokens: the half character is left out of the text, its bytes kept in the ids.
    cut = answer.encode().index("🙂".encode()) + 2
    [done] = generate(fake, [0], max_tokens=cut, temperature=0, tokenizer=tok)
    assert done.text == "Café 你好 " and len(done.token_ids) == cut and done.finish_reason == "length"


def test_streaming_holds_back_text_that_may_be_the_start_of_a_stop():
    tok = ByteTokenizer()
    fake = ScriptedModel(list(b"#ab\ncd\n\nef"), 256)
    chunks = list(stream(fake, list(b"#"), max_tokens=20, temperature=0, stop="\n\n", tokenizer=tok))
    assert "".join(c.text for c in chunks) == "ab\ncd" and chunks[-1].finish_reason == "stop"
    assert not any(c.text.endswith("\n") and c.finish_reason is None and c.text != "\ncd" for c in chunks[:2])


def test_stream_leaves_grad_mode_and_training_mode_alone(model):
    model.train()
    try:
        assert torch.is_grad_enabled()
        for _ in stream(model, [1, 2], max_tokens=3, seed=0):
            assert torch.is_grad_enabled()  # the caller's code between chunks runs in its own mode
        assert model.training
    finally:
        model.eval()


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(temperature=-0.5), ValueError, "temperature must be a number >= 0"),
    (dict(temperature=float("nan")), ValueError, "temperature"),
    (dict(top_p=0.0), ValueError, r"top_p must be None or a number in \(0, 1\]"),
    (dict(top_p=1.5), ValueError, "top_p"),
    (dict(top_k=0), ValueError, "top_k must be None"),
    (dict(top_k=2.5), ValueError, "top_k"),
    (dict(n=0), ValueError, "n \\(the number of samples\\) must be an int >= 1"),
    (dict(max_tokens=-1), ValueError, "max_tokens must be an int >= 0"),
    (dict(stop=3), TypeError, "stop must be a string or a list of strings"),
    (dict(stop=["ok", None]), TypeError, "stop must be a string or a list of strings"),
    (dict(stop=""), ValueError, "must not be empty"),
    (dict(stop="x", tokenizer=None), ValueError, "pass tokenizer"),
    (dict(seed="1"), TypeError, "seed"),
])
def test_bad_arguments_raise_clear_errors(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        stream(model, [1, 2], **{"max_tokens": 3, **kwargs})  # raised at the call, not at the first chunk


def test_an_empty_prompt_says_to_start_from_endoftext(make_gpt, model, tokenizer):
    for empty in ([], torch.tensor([], dtype=torch.long)):
        with pytest.raises(ValueError, match=r"prompt is empty.*<\|endoftext\|>"):
            generate(model, empty, max_tokens=3)
    with pytest.raises(ValueError, match="prompt is empty"):
        generate(model, "", max_tokens=3, tokenizer=tokenizer)
    start = tokenizer.encode("<|endoftext|>", allowed_special="all")
    assert len(generate(make_gpt(SMALL, vocab_size=tokenizer.vocab_size, scale=4.0, eval=True), start, max_tokens=2)[0].token_ids) == 2


def test_bad_prompts_are_named(model):
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        generate(model, [1, 300], max_tokens=1)
    with pytest.raises(TypeError, match="integer token ids"):
        generate(model, torch.tensor([0.5, 1.0]), max_tokens=1)
    with pytest.raises(TypeError, match="pass tokenizer"):
        generate(model, "hello", max_tokens=1)
    with pytest.raises(TypeError, match="gptlab GPT"):
        generate(torch.nn.Linear(2, 2), [1], max_tokens=1)


# --- the one decoding loop: rows of their own lengths, joining and leaving ---------------------------------


def _alone(model, prompt, max_tokens):
    """Greedy ids and the logits before each choice, decoding `prompt` by itself without a cache."""
    ids, all_logits = list(prompt), []
    for _ in range(max_tokens):
        logits = model(torch.tensor([ids[-model.config.block_size:]]))[0][0, -1]
        all_logits.append(logits)
        ids.append(int(logits.argmax()))
    return ids[len(prompt):], torch.stack(all_logits)


def test_prompts_of_different_lengths_decode_together_as_each_would_alone(model):
    from gptlab.generation import Decoder, Sampling

    prompts = [[5, 9, 2], [7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [42, 42]]
    decoder = Decoder(model, len(prompts))
    rows = decoder.add(prompts, Sampling(temperature=0), max_tokens=16)  # 11 + 16 > block_size 24: rebuilds too
    seen = [[] for _ in prompts]
    for _ in range(16):
        decoder._refresh()
        for i, row in enumerate(rows):
            seen[i].append(row.logits.clone())
        decoder.step()
    for i, prompt in enumerate(prompts):
        ids, logits = _alone(model, prompt, 16)
        assert rows[i].generated == ids and rows[i].finish_reason == "length"
        assert torch.allclose(torch.stack(seen[i]), logits, atol=1e-4)


def test_rows_join_and_leave_between_steps_and_the_others_carry_on(model):
    from gptlab.generation import Decoder, Sampling

    decoder = Decoder(model, capacity=3)
    greedy = Sampling(temperature=0)
    a, b = decoder.add([[3, 1, 4], [1, 5]], greedy, max_tokens=10)
    for _ in range(3):
        decoder.step()
    [c] = decoder.add([[9, 2, 6, 5]], greedy, max_tokens=10)  # joins a batch already decoding
    for _ in range(2):
        decoder.step()
    decoder.drop([a])  # leaves early: b and c move down into its cache row
    assert [row.slot for row in decoder.rows] == [0, 1]
    while b.finish_reason is None or c.finish_reason is None:
        decoder.step()
    assert b.generated[:10] == _alone(model, [1, 5], 10)[0]
    assert c.generated[:10] == _alone(model, [9, 2, 6, 5], 10)[0]
    assert a.generated == _alone(model, [3, 1, 4], 5)[0]


def test_a_stop_id_finishes_its_row_and_decode_many_leaves_it_out(model):
    from gptlab.generation import Sampling, decode_many

    [free] = decode_many(model, [[5, 9]], Sampling(temperature=0), 12)
    stop = free[4]
    [cut] = decode_many(model, [[5, 9]], Sampling(temperature=0), 12, stop_ids={stop})
    assert cut == free[:free.index(stop)]
    [completion] = generate(model, [5, 9], 12, temperature=0, stop_ids=[stop])
    assert completion.token_ids == cut and completion.finish_reason == "stop"


def test_allowed_ids_restrict_every_draw(model):
    from gptlab.generation import Sampling, decode_many

    outs = decode_many(model, [[1], [2], [3]], Sampling(temperature=1.5, allowed_ids=(7, 8, 9)), 30,
                       generator=torch.Generator().manual_seed(0))
    assert {t for out in outs for t in out} <= {7, 8, 9} and len({t for out in outs for t in out}) == 3


def test_every_sampler_in_the_package_goes_through_the_one_loop(monkeypatch, model):
    """generate, the training loop's samples, fine-tuned answers, pixel drawings and seq2seq decoding all call
    gptlab.generation.loop.Decoder.step; none has a loop of its own."""
    from gptlab.generation import loop
    from gptlab.topics import finetune
    from gptlab.topics.seq2seq.model import Seq2Seq, Seq2SeqConfig, translate
    from gptlab.topics.vision import data as vision_data
    from gptlab.training.loop import sample

    calls = []
    original = loop.Decoder.step
    monkeypatch.setattr(loop.Decoder, "step", lambda self: calls.append(type(self.model).__name__) or original(self))

    def used(action) -> bool:
        calls.clear()
        action()
        return bool(calls)

    assert used(lambda: generate(model, [1, 2], 3))
    assert used(lambda: sample(model, ByteTokenizer(), "ab", max_new_tokens=3))
    assert used(lambda: vision_data.sample_pixels(model, torch.tensor([1, 2]), levels=4, n_pixels=3))
    seq2seq = Seq2Seq(Seq2SeqConfig()).eval()
    assert used(lambda: translate(seq2seq, ["the first of may two thousand"]))

    class Specials(ByteTokenizer):
        special_tokens = {"<|endoftext|>": 0}

    assert used(lambda: finetune.respond(model, Specials(), ["hi"], max_tokens=2))
