"""Training windows drawn from several token streams by weight, with a share of windows that repeat themselves.

    mix = Mixture({"shakespeare": shakespeare_ids, "kjv": kjv_ids}, weights={"shakespeare": 0.6, "kjv": 0.4},
                  repeat_share=0.1)   # a tenth of the windows: a piece of 8 … 129 tokens, repeated to fill it
    x, y = mix.get_batch(32, 256, generator)   # what gptlab.data.batches.get_batch returns for one stream

Each window first picks its stream (by `weights`), then a uniform offset in it. A *repeat* window (a
`repeat_share` of them) takes a piece of text of a random length L, between `min_period` tokens and half a
window, and writes it again and again until the window is full: ``a a a …``. Every token after the first
copy can be predicted exactly by looking back, so a model trained on a few of them forms *induction heads*
(attend to the token after the earlier copy of the current token, and copy it) early and reliably; lesson 09
finds them. L is random so that no fixed offset ("look 129 tokens back") can do the job: only looking up
the current token's earlier copy works at every length, as on real text. Natural text repeats itself too
(names, refrains), only more rarely: this is the same signal, made common. It is a documented part of the
shipped model's recipe, not a hidden trick.

A *random* repeat window (a `random_share` of them, off by default) does the same with ids drawn uniformly from
0 .. random_vocab-1 instead of text: nothing in it but the repeat can be predicted, so it trains copying that
does not lean on how English goes (the shipped recipe's last 400 steps, with 30 % text repeats and 10 % random
ones, took its model from little copying of random ids after the main run (11.65 nats on the second copy, in a
run of the same main recipe) to 2.12: the weights README).

Everything is drawn from the `generator`, so a seed fixes the batches; under data parallelism every
rank draws the same windows and keeps its own slice, as `get_batch` does.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from gptlab.data.batches import check_windows


class Mixture:
    """Token streams mixed by weight (each a 1-D tensor of ids), with an optional share of repeat windows."""

    def __init__(self, streams: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None, *,
                 repeat_share: float = 0.0, min_period: int = 8, random_share: float = 0.0,
                 random_vocab: int | None = None):
        if not streams:
            raise ValueError("Mixture needs at least one token stream")
        self.names = list(streams)
        self.streams = [streams[name] for name in self.names]
        weights = dict(weights or {name: 1.0 for name in self.names})
        if set(weights) != set(self.names):
            raise ValueError(f"weights must name exactly the streams {self.names}; got {sorted(weights)}")
        if any(not isinstance(w, (int, float)) or w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
            raise ValueError(f"weights must be numbers >= 0 with a positive sum; got {weights}")
        total = float(sum(weights.values()))
        self.weights = torch.tensor([weights[name] / total for name in self.names], dtype=torch.float64)
        if not isinstance(repeat_share, (int, float)) or not 0 <= repeat_share <= 1:
            raise ValueError(f"repeat_share must be between 0 and 1; got {repeat_share!r}")
        self.repeat_share = float(repeat_share)
        if not isinstance(min_period, int) or min_period < 1:
            raise ValueError(f"min_period must be an int >= 1; got {min_period!r}")
        self.min_period = min_period
        if not isinstance(random_share, (int, float)) or not 0 <= random_share <= 1:
            raise ValueError(f"random_share must be between 0 and 1; got {random_share!r}")
        if random_share and (not isinstance(random_vocab, int) or random_vocab < 2):
            raise ValueError(f"random_share needs random_vocab, the number of ids to draw from (an int >= 2); got {random_vocab!r}")
        self.random_share, self.random_vocab = float(random_share), random_vocab

    def __len__(self) -> int:
        return sum(len(stream) for stream in self.streams)

    def max_id(self) -> int:
        return max(int(stream.to(torch.int32).max()) for stream in self.streams if stream.numel())

    def check(self, block_size: int) -> None:
        for name, stream in zip(self.names, self.streams):
            check_windows(stream, block_size, name)

    def get_batch(self, batch_size: int, block_size: int, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None, *, rank: int = 0, world_size: int = 1):
        """(x, y), each (batch_size // world_size, block_size) int64; y[:, t] is the token after x[:, t]."""
        self.check(block_size)
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes ({world_size})")
        which = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)  # (B,)
        repeat = torch.rand(batch_size, generator=generator, dtype=torch.float64) < self.repeat_share  # (B,)
        half = (block_size + 2) // 2  # the longest period: two copies fill the window of block_size + 1
        shortest = min(self.min_period, half)
        periods = torch.randint(shortest, half + 1, (batch_size,), generator=generator)  # (B,)
        rows = []
        for b in range(batch_size):
            stream = self.streams[int(which[b])]
            length = int(periods[b]) if repeat[b] else block_size + 1
            start = int(torch.randint(len(stream) - length + 1, (1,), generator=generator))
            piece = stream[start : start + length].to(torch.int64)
            copies = -(-(block_size + 1) // length)  # enough copies to fill the window
            rows.append(piece.repeat(copies)[: block_size + 1] if repeat[b] else piece)
        if self.random_share:  # drawn only when asked for, so a mixture without them draws exactly as before
            noise = torch.rand(batch_size, generator=generator, dtype=torch.float64) < self.random_share
            for b in noise.nonzero().flatten().tolist():
                length = int(torch.randint(shortest, half + 1, (1,), generator=generator))
                piece = torch.randint(0, self.random_vocab, (length,), generator=generator)
                rows[b] = piece.repeat(-(-(block_size + 1) // length))[: block_size + 1]
        local = batch_size // world_size
        w = torch.stack(rows[rank * local : (rank + 1) * local])  # (b, T + 1)
        x, y = w[:, :-1], w[:, 1:]
        if device is not None and torch.device(device).type != "cpu":
            x, y = x.to(device), y.to(device)
        return x, y
