"""The original Transformer's encoder–decoder, built from the package's attention and block pieces.

    source ids ─► encoder (self-attention, padding mask, no causal mask) ─► memory (B, S, C)
    target ids ─► decoder (causal self-attention, cross-attention to memory, MLP) ─► next-token logits

GPT keeps only the decoder and drops its cross-attention. The task lesson 11 trains on (dates in
words -> YYYY-MM-DD) lives in `gptlab.topics.seq2seq.data`.

Taught in: solutions/11_encoder_decoder.ipynb
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.data.batches import is_integer_dtype
from gptlab.generation.loop import Decoder, Sampling
from gptlab.nn.attention import MultiHeadAttention, scaled_dot_product_attention
from gptlab.nn.layers import MLP, LayerNorm
from gptlab.training.loop import optimise, warmup_cosine
from gptlab.topics.seq2seq.data import BOS, EOS, SOURCE_VOCAB, TARGET_LEN, TARGET_VOCAB, Example, collate, encode_source


def _check_padding_mask(key_padding_mask, B: int, T_k: int, what: str = "key_padding_mask") -> None:
    if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
        raise TypeError(f"{what} must be a bool tensor (True = real token, False = padding); "
                        f"got {getattr(key_padding_mask, 'dtype', type(key_padding_mask).__name__)}")
    if tuple(key_padding_mask.shape) != (B, T_k):
        raise ValueError(f"{what} must have shape (B, T_k) = {(B, T_k)}, one flag per key; got {tuple(key_padding_mask.shape)}")
    if not key_padding_mask.any(dim=-1).all():
        raise ValueError(f"every row of {what} needs at least one True: a sequence of padding only has nothing to attend to")


def attend_with_padding(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        key_padding_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention in which no query looks at a padded key: returns (out (B, T_q, d_v), weights (B, T_q, T_k)).

    q: (B, T_q, d), k: (B, T_k, d), v: (B, T_k, d_v); key_padding_mask: (B, T_k) bool, True = real token.
    The mask hides *keys* (columns): every query, padded or not, still gets a row of weights summing to 1.
    Extra head dimensions between B and T are allowed: (B, nh, T, d).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not isinstance(q, torch.Tensor) or q.dim() < 3:
        raise ValueError(f"q must be (B, T_q, d) or (B, nh, T_q, d); got {getattr(q, 'shape', type(q).__name__)}")
    _check_padding_mask(key_padding_mask, q.shape[0], k.shape[-2])
    # (B, T_k) -> (B, 1, ..., 1, T_k): the same keys hidden from every query (and every head).
    mask = key_padding_mask.view(q.shape[0], *[1] * (q.dim() - 2), k.shape[-2])
    return scaled_dot_product_attention(q, k, v, mask=mask)


class CrossAttention(MultiHeadAttention):
    """Queries from the decoder (x), keys and values from the encoder's output (context).

    The package's MultiHeadAttention with causal=False, called with context=: the q part of c_attn reads
    x, its k and v parts read the context. No causal mask: every target position may read the whole
    source. Padded source positions are hidden with key_padding_mask (B, S), True = real token.

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__(d_model, n_heads, bias=bias, dropout=dropout, causal=False)

    def forward(self, x: torch.Tensor, context: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """x: (B, T, C), context: (B, S, C) -> (B, T, C); with return_weights also (B, nh, T, S)."""
        if context.dim() != 3 or context.shape[0] != x.shape[0] or context.shape[-1] != self.d_model:
            raise ValueError(f"context must be (B, S, {self.d_model}) with B = {x.shape[0]}; got {tuple(context.shape)}")
        if key_padding_mask is not None:
            _check_padding_mask(key_padding_mask, x.shape[0], context.shape[1])
        return super().forward(x, context=context, key_padding_mask=key_padding_mask, return_weights=return_weights)


class EncoderBlock(nn.Module):
    """Pre-norm encoder block: x + attn(ln_1(x)) with NO causal mask (every word sees the whole source,
    padding hidden), then x + mlp(ln_2(x)).

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, bias=bias, dropout=dropout, causal=False)
        self.ln_2 = LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, bias=bias, dropout=dropout)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), key_padding_mask=key_padding_mask)
        return x + self.mlp(self.ln_2(x))


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: causal self-attention, then cross-attention to the encoder's output, then the MLP.

    The target needs no padding mask of its own here: its padding only ever follows the real tokens, and
    the causal mask already keeps real positions from looking ahead at it (the loss ignores padded positions).

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, bias=bias, dropout=dropout, causal=True)
        self.ln_2 = LayerNorm(d_model, bias=bias)
        self.cross_attn = CrossAttention(d_model, n_heads, bias=bias, dropout=dropout)
        self.ln_3 = LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, bias=bias, dropout=dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        """x: (B, T, C), memory: (B, S, C) -> (B, T, C); with return_weights also the cross-attention (B, nh, T, S)."""
        x = x + self.attn(self.ln_1(x))
        # The memory is read as it is: the encoder ended with its own final LayerNorm.
        update, weights = self.cross_attn(self.ln_2(x), memory, key_padding_mask=memory_mask, return_weights=True) \
            if return_weights else (self.cross_attn(self.ln_2(x), memory, key_padding_mask=memory_mask), None)
        x = x + update
        x = x + self.mlp(self.ln_3(x))
        return (x, weights) if return_weights else x


@dataclass
class Seq2SeqConfig:
    """Sizes of an encoder–decoder. The defaults train on the date task in about a minute on a laptop CPU.

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    src_vocab_size: int = SOURCE_VOCAB.size
    tgt_vocab_size: int = TARGET_VOCAB.size
    max_src_len: int = 16
    max_tgt_len: int = TARGET_LEN + 1  # <bos> + the 10 characters
    d_model: int = 64
    n_heads: int = 4
    n_enc_layers: int = 2
    n_dec_layers: int = 2
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("src_vocab_size", "tgt_vocab_size", "max_src_len", "max_tgt_len", "d_model", "n_heads"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"Seq2SeqConfig.{name} must be a positive int; got {getattr(self, name)!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")


class Seq2Seq(nn.Module):
    """Encoder–decoder transformer: encode(src) -> memory; decode(tgt_in, memory) -> logits.

    Learned position tables on both sides; pre-norm blocks; a final LayerNorm on each side.

    Taught in: solutions/11_encoder_decoder.ipynb
    """

    def __init__(self, config: Seq2SeqConfig | None = None):
        super().__init__()
        self.config = config = config or Seq2SeqConfig()
        C = config.d_model
        self.src_wte, self.src_wpe = nn.Embedding(config.src_vocab_size, C), nn.Embedding(config.max_src_len, C)
        self.encoder = nn.ModuleList(EncoderBlock(C, config.n_heads, dropout=config.dropout) for _ in range(config.n_enc_layers))
        self.enc_ln_f = LayerNorm(C)
        self.tgt_wte, self.tgt_wpe = nn.Embedding(config.tgt_vocab_size, C), nn.Embedding(config.max_tgt_len, C)
        self.decoder = nn.ModuleList(DecoderBlock(C, config.n_heads, dropout=config.dropout) for _ in range(config.n_dec_layers))
        self.dec_ln_f = LayerNorm(C)
        self.lm_head = nn.Linear(C, config.tgt_vocab_size, bias=False)
        self.drop = nn.Dropout(config.dropout)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)  # GPT-2's scale: small, so early logits are near uniform
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def _ids(self, ids: torch.Tensor, vocab_size: int, max_len: int, what: str) -> None:
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or not is_integer_dtype(ids.dtype):
            raise TypeError(f"{what} must be a (B, T) tensor of integer token ids; got {getattr(ids, 'shape', type(ids).__name__)}"
                            f" {getattr(ids, 'dtype', '')}")
        if ids.shape[1] > max_len:
            raise ValueError(f"{what} has {ids.shape[1]} tokens; this model reads at most {max_len} "
                             f"(its position table has {max_len} rows)")
        if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
            bad = ids[(ids < 0) | (ids >= vocab_size)][0].item()
            raise ValueError(f"{what} holds the id {bad}, outside the vocabulary of {vocab_size} tokens (0 to {vocab_size - 1})")

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S) ids, src_mask (B, S) bool (True = real word; None: no padding) -> memory (B, S, C)."""
        self._ids(src, self.config.src_vocab_size, self.config.max_src_len, "the source")
        if src_mask is not None:
            _check_padding_mask(src_mask, *src.shape, what="src_mask")
        x = self.drop(self.src_wte(src) + self.src_wpe(torch.arange(src.shape[1], device=src.device)))
        for block in self.encoder:
            x = block(x, key_padding_mask=src_mask)
        return self.enc_ln_f(x)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None,
               return_weights: bool = False):
        """tgt_in (B, T) ids, memory (B, S, C) -> logits (B, T, V); with return_weights also the list of
        each decoder layer's cross-attention weights (B, nh, T, S)."""
        self._ids(tgt_in, self.config.tgt_vocab_size, self.config.max_tgt_len, "the target")
        x = self.drop(self.tgt_wte(tgt_in) + self.tgt_wpe(torch.arange(tgt_in.shape[1], device=tgt_in.device)))
        maps = []
        for block in self.decoder:
            if return_weights:
                x, weights = block(x, memory, src_mask, return_weights=True)
                maps.append(weights)
            else:
                x = block(x, memory, src_mask)
        logits = self.lm_head(self.dec_ln_f(x))
        return (logits, maps) if return_weights else logits

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) for every target position at once."""
        return self.decode(tgt_in, self.encode(src, src_mask), src_mask)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, src_mask: torch.Tensor | None = None, max_new_tokens: int | None = None,
                 return_weights: bool = False):
        """Greedy decoding from <bos>: ids (B, ≤ max_new_tokens) without <bos>; stops once every row has <eos>.

        With return_weights, also each decoder layer's cross-attention averaged over heads: a list of (B, T, S),
        first layer first. The source is encoded once; the decoder reruns on the growing prefix (short
        targets: no cache needed), through gptlab.generation's one decoding loop.
        """
        max_new_tokens = min(max_new_tokens or self.config.max_tgt_len, self.config.max_tgt_len)
        view = _TargetLM(self, self.encode(src, src_mask), src_mask)
        decoder = Decoder(view, src.shape[0], use_cache=False)
        rows = decoder.add([[TARGET_VOCAB.id(BOS)]] * src.shape[0], Sampling(temperature=0), max_new_tokens,
                           stop_ids={TARGET_VOCAB.id(EOS)})
        while any(row.finish_reason is None for row in rows):  # every row steps until the last has <eos>
            decoder.step()
        out = torch.tensor([row.ids for row in rows], dtype=torch.long, device=src.device)
        if not return_weights:
            return out[:, 1:]
        return out[:, 1:], [m.mean(1) for m in view.last_maps]  # per layer (B, T, S), from the last pass


class _TargetLM(nn.Module):
    """The decoder with its source bound: a language model over target ids, shaped as gptlab.generation expects
    (config.block_size, config.vocab_size, forward(idx) -> (logits, None)). Each pass keeps its cross-attention."""

    def __init__(self, model: "Seq2Seq", memory: torch.Tensor, src_mask: torch.Tensor | None):
        super().__init__()
        self.model, self.memory, self.src_mask = model, memory, src_mask
        self.config = SimpleNamespace(block_size=model.config.max_tgt_len, vocab_size=model.config.tgt_vocab_size)
        self.last_maps: list[torch.Tensor] = []

    def forward(self, idx: torch.Tensor, caches=None):
        logits, self.last_maps = self.model.decode(idx, self.memory, self.src_mask, return_weights=True)
        return logits, None


# --- training and measuring on the date task ------------------------------------------------------


def translate(model: Seq2Seq, sources: list[str]) -> list[str]:
    """Dates in words -> the model's YYYY-MM-DD strings (greedy decoding, in one batch).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    batch = collate([Example(s, "0000-00-00") for s in sources], model.config.max_src_len)
    was_training = model.training
    model.eval()
    ids = model.generate(batch["src"], batch["src_mask"])
    model.train(was_training)
    return ["".join(TARGET_VOCAB.decode(row)) for row in ids]


def exact_match(model: Seq2Seq, examples: list[Example], batch_size: int = 500, threads: int | None = 1) -> float:
    """Share of examples whose whole output string equals the target (`threads`: as in `fit`).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not examples:
        raise ValueError("exact_match needs at least one example")
    right = 0
    with _torch_threads(threads):
        for start in range(0, len(examples), batch_size):
            part = examples[start : start + batch_size]
            right += sum(p == e.target for p, e in zip(translate(model, [e.source for e in part]), part))
    return right / len(examples)


def fit(model: Seq2Seq, train: list[Example], steps: int = 600, batch_size: int = 64, lr: float = 3e-3,
        seed: int = 0, threads: int | None = 1, progress: bool = True) -> list[float]:
    """Teacher-forced training with AdamW, a short warm-up and a cosine decay; returns the loss per step.

    `threads`: torch's CPU threads while training (None: leave as is). One is the default because this
    model's matrices are tiny: splitting each product over threads costs more in synchronisation than it
    saves (measured: 2 threads were 8x slower than 1 on a busy 2-core machine).

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    if not train:
        raise ValueError("fit needs training examples")
    with _torch_threads(threads):
        return _fit(model, train, steps, batch_size, lr, seed, progress)


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """Run with `threads` CPU threads, then restore the caller's setting (None: change nothing)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit(model: Seq2Seq, train: list[Example], steps: int, batch_size: int, lr: float, seed: int,
         progress: bool) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps))

    def losses():
        for _ in range(steps):
            rows = torch.randint(0, len(train), (batch_size,), generator=generator).tolist()
            batch = collate([train[i] for i in rows], model.config.max_src_len)
            logits = model(batch["src"], batch["tgt_in"], batch["src_mask"])
            yield F.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=TARGET_VOCAB.pad_id)

    model.train()
    history = optimise(optimizer, losses(), schedule=schedule, clip_params=model.parameters(), steps=steps,
                       progress=progress)
    model.eval()
    return history


@torch.no_grad()
def decode_steps(model: Seq2Seq, source: str, layer: int = 0) -> list[dict]:
    """Greedy decoding of one source, step by step, for pictures: each step's prefix (tokens so far), the
    next-token probabilities (V,), decoder layer `layer`'s cross-attention over the source words for
    that position (S,), averaged over heads, and the chosen token. Stops after <eos>.

    Taught in: solutions/11_encoder_decoder.ipynb
    """
    model.eval()
    src = torch.tensor([encode_source(source, model.config.max_src_len)])
    memory = model.encode(src)
    prefix = [TARGET_VOCAB.id(BOS)]
    steps = []
    for _ in range(model.config.max_tgt_len):
        logits, maps = model.decode(torch.tensor([prefix]), memory, return_weights=True)
        probs = logits[0, -1].softmax(-1)
        chosen = int(probs.argmax())
        steps.append({"prefix": TARGET_VOCAB.decode(prefix[1:], strip=False), "probs": probs,
                      "cross": maps[layer][0, :, -1].mean(0), "chosen": TARGET_VOCAB.tokens[chosen], "chosen_id": chosen})
        prefix.append(chosen)
        if chosen == TARGET_VOCAB.id(EOS):
            break
    return steps

