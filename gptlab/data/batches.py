"""Token data for training: tokenize a corpus once, keep it as one compact tensor, cut random windows.

    ids = encode_corpus(texts, tokenizer)        # 1-D tensor, uint16 when the vocabulary fits in 16 bits
    train_ids, val_ids = split(ids, 0.1)          # the last 10% is held out for validation
    x, y = get_batch(train_ids, 16, 256, generator)  # (16, 256) each; y is x shifted left by one

A batch is `batch_size` windows of `block_size + 1` consecutive tokens taken at random offsets:
x = window[:-1], y = window[1:], so y[b, t] is the token that follows x[b, t]. A window never runs
past the end of the data. The offsets come from a `torch.Generator`, so a seed fixes the batches.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch

UINT16_LIMIT = 2**16  # ids 0..65535 fit in uint16 (GPT-2's 50257 does; a 100k vocabulary does not)


def is_integer_dtype(dtype: torch.dtype) -> bool:
    """True for the dtypes token ids can have (int8 … int64, uint8 … uint64), False for floats, complex and bool.

    Example: ``is_integer_dtype(torch.uint16) -> True``; ``is_integer_dtype(torch.bool) -> False``.
    """
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def compact_dtype(vocab_size: int) -> torch.dtype:
    """torch.uint16 if every id below `vocab_size` fits in 16 bits, else torch.int32.

    Example: ``compact_dtype(2048) -> torch.uint16``; ``compact_dtype(100_000) -> torch.int32``.
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive int; got {vocab_size!r}")
    if vocab_size > 2**31:
        raise ValueError(f"vocab_size {vocab_size} does not fit in int32")
    return torch.uint16 if vocab_size <= UINT16_LIMIT else torch.int32


def to_tensor(ids: Sequence[int] | torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Token ids as a 1-D tensor of compact_dtype(vocab_size), checking that each id is in range."""
    if isinstance(ids, torch.Tensor):
        if not is_integer_dtype(ids.dtype):
            raise TypeError(f"token ids must be integers; got a {ids.dtype} tensor")
        wide = ids.reshape(-1).to(torch.int64)
    else:
        wide = torch.tensor(list(ids), dtype=torch.int64)
    if wide.numel() and (int(wide.min()) < 0 or int(wide.max()) >= vocab_size):
        bad = int(wide.min()) if int(wide.min()) < 0 else int(wide.max())
        raise ValueError(f"token id {bad} is out of range for a vocabulary of {vocab_size} (ids 0..{vocab_size - 1})")
    return wide.to(compact_dtype(vocab_size))


def encode_corpus(texts: str | Iterable[str], tokenizer, *, separator: str | None = "<|endoftext|>") -> torch.Tensor:
    """Tokenize a text, or several documents joined by the `separator` special token, into one compact tensor.

    Each document is encoded on its own (special tokens inside it are encoded as plain text), and
    `separator`'s id goes between documents, so the model learns where one play ends and the next
    begins. Pass separator=None to join documents with nothing between them.

    Example: ``encode_corpus(["To be", "or not"], tok)`` -> tensor([..., 2047, ...], dtype=torch.uint16).
    """
    documents = [texts] if isinstance(texts, str) else list(texts)
    if not documents:
        raise ValueError("encode_corpus needs at least one text")
    separator_id = None
    if separator is not None and len(documents) > 1:
        specials = getattr(tokenizer, "special_tokens", {})
        if separator not in specials:
            raise ValueError(f"the tokenizer has no special token {separator!r} to put between documents "
                             f"(its special tokens: {sorted(specials)}); pass separator=None")
        separator_id = specials[separator]
    encode = getattr(tokenizer, "encode_ordinary", tokenizer.encode)
    ids: list[int] = []
    for i, document in enumerate(documents):
        if not isinstance(document, str):
            raise TypeError(f"document {i} must be a str; got {type(document).__name__}")
        if i and separator_id is not None:
            ids.append(separator_id)
        ids.extend(encode(document))
    return to_tensor(ids, tokenizer.vocab_size)


def split(data: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation): the first 1 - val_fraction of the tokens, and the rest (views, no copies).

    A contiguous tail rather than random windows, so no validation text also appears in training.
    Example: ``split(torch.arange(10), 0.2) -> (tensor([0..7]), tensor([8, 9]))``.
    """
    _check_data(data)
    if not isinstance(val_fraction, (int, float)) or isinstance(val_fraction, bool) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number strictly between 0 and 1; got {val_fraction!r}")
    n_val = max(1, math.ceil(len(data) * val_fraction))
    if n_val >= len(data):
        raise ValueError(f"{len(data)} tokens are too few to split with val_fraction={val_fraction}")
    return data[: len(data) - n_val], data[len(data) - n_val :]


def _check_data(data) -> None:
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"token data must be a torch.Tensor (see gptlab.data.batches.encode_corpus); got {type(data).__name__}")
    if data.dim() != 1:
        raise ValueError(f"token data must be 1-D (one long stream of ids); got shape {tuple(data.shape)}")
    if not is_integer_dtype(data.dtype):
        raise TypeError(f"token data must hold integer ids; got dtype {data.dtype}")


def check_windows(data: torch.Tensor, block_size: int, name: str = "data") -> None:
    """Raise a ValueError unless `data` holds at least one window of block_size + 1 tokens."""
    _check_data(data)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int; got {block_size!r}")
    if len(data) < block_size + 1:
        raise ValueError(f"{name} has {len(data)} tokens, but one training window needs block_size + 1 = {block_size + 1} "
                         f"(inputs plus the next token); use more text or a smaller block_size")


def random_offsets(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """`batch_size` window starts drawn uniformly from 0 .. len(data) - block_size - 1 (so no window crosses the end)."""
    check_windows(data, block_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    return torch.randint(len(data) - block_size, (batch_size,), generator=generator)


def windows(data: torch.Tensor, offsets: torch.Tensor, block_size: int, device: torch.device | str | None = None):
    """(x, y) int64 tensors of shape (len(offsets), block_size) for the windows starting at `offsets`."""
    index = offsets.reshape(-1, 1) + torch.arange(block_size + 1)  # (B, T + 1)
    w = data[index].to(torch.int64)
    x, y = w[:, :-1], w[:, 1:]
    if device is not None and torch.device(device).type != "cpu":
        pin = torch.device(device).type == "cuda"
        x = (x.pin_memory() if pin else x).to(device, non_blocking=pin)
        y = (y.pin_memory() if pin else y).to(device, non_blocking=pin)
    return x, y


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator | None = None,
              device: torch.device | str | None = None, *, rank: int = 0, world_size: int = 1):
    """A random batch (x, y), each (batch_size // world_size, block_size) int64; y[:, t] follows x[:, t].

    Under data parallelism every rank draws the same `batch_size` offsets (same generator state) and
    keeps its own slice ``[rank * b : (rank + 1) * b]`` with b = batch_size // world_size, so N ranks
    together see exactly the batch one process would, and the generator stays in step on all ranks.

    Example: ``x, y = get_batch(ids, 4, 8, torch.Generator().manual_seed(0))``; ``(x[:, 1:] == y[:, :-1]).all()``.
    """
    if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size; got rank={rank!r}, world_size={world_size!r}")
    if isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes ({world_size}): "
                         "each process takes an equal slice of the batch")
    offsets = random_offsets(data, batch_size, block_size, generator)
    local = batch_size // world_size
    return windows(data, offsets[rank * local : (rank + 1) * local], block_size, device)


def draw_batch(data, batch_size: int, block_size: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None, *, rank: int = 0, world_size: int = 1):
    """`get_batch` for a 1-D tensor of ids; for a batch source (an object with its own ``get_batch``, such as
    gptlab.data.mixture.Mixture), that method with the same arguments."""
    if isinstance(data, torch.Tensor):
        return get_batch(data, batch_size, block_size, generator, device, rank=rank, world_size=world_size)
    return data.get_batch(batch_size, block_size, generator, device, rank=rank, world_size=world_size)


def check_source(data, block_size: int, vocab_size: int, name: str = "data") -> None:
    """Raise a ValueError unless `data` (ids or a batch source) holds a window of block_size + 1 ids below vocab_size."""
    if isinstance(data, torch.Tensor):
        check_windows(data, block_size, name)
        top = int(data.to(torch.int32).max()) if data.numel() else -1
    else:
        data.check(block_size)
        top = data.max_id()
    if top >= vocab_size:
        raise ValueError(f"{name} holds token id {top}, but the model's vocab_size is {vocab_size}")


def bits_per_byte(loss_nats_per_token: float, n_tokens: int, n_bytes: int) -> float:
    """Cross-entropy in bits per UTF-8 byte of text: comparable across tokenizers (characters, BPE, …).

    loss × tokens = nats for the whole text; divide by bytes and by ln 2.
    Example: ``bits_per_byte(1.0, 100, 300) -> 0.4808…``.
    """
    if n_tokens < 1 or n_bytes < 1:
        raise ValueError(f"n_tokens and n_bytes must be positive; got {n_tokens}, {n_bytes}")
    return loss_nats_per_token * n_tokens / n_bytes / math.log(2)
