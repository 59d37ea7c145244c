"""The training loop for lesson 07: AdamW, warm-up + cosine learning rate, clipping, evaluation, checkpoints.

    config = TrainConfig(steps=2000, batch_size=16, lr=2e-3)
    history = train(model, train_ids, val_ids, config, tokenizer=tok)
    history.val_losses[-1]

One loop for every machine: it picks CUDA, then Apple's MPS, then the CPU (gptlab.device.pick_device);
on CUDA it computes in bfloat16 (autocast) and compiles the model; started with ``torchrun
--nproc_per_node N`` it trains data-parallel (DistributedDataParallel; gloo on CPUs, NCCL on GPUs),
each process taking its own slice of the same global batch, so the losses match a single process's.

The same seed on the same machine gives the same losses. A checkpoint saves the model, optimizer,
step and random generators, so ``train(..., resume=path)`` continues exactly where it stopped.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from gptlab.data.batches import check_source, draw_batch
from gptlab.training.cpu_share import CpuShare
from gptlab.training.progress import progress_bar, tell

__all__ = ["History", "TrainConfig", "configure_optimizer", "estimate_loss", "get_lr", "next_token_loss", "optimise", "sample",
           "train", "train_step", "warmup_cosine"]


@dataclass
class TrainConfig:
    """Everything about a training run except the model and the data.

    batch_size is the number of windows per micro-step for all processes together; an optimizer step
    uses batch_size × grad_accum windows of block_size tokens. block_size=None uses the model's.
    device: "auto" (CUDA → MPS → CPU, or $GPTLAB_DEVICE), "cpu", "cuda", "mps". compile: "auto" compiles
    on CUDA only (on CPUs and MPS the compile time does not pay back in a short run); True/False force it.
    dtype: "auto" is bfloat16 autocast on CUDA (where supported) and float32 elsewhere.
    stop_at: stop after this step although the schedule runs to `steps` (to split a run in parts).
    """

    steps: int = 2000
    batch_size: int = 16
    block_size: int | None = None
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # 0 turns clipping off
    optimizer: str = "adamw"  # "muon": Muon on the blocks' matrices, AdamW on the rest (gptlab.training.muon)
    grad_accum: int = 1
    eval_every: int = 100
    eval_batches: int = 20
    seed: int = 1337
    device: str = "auto"
    compile: bool | str = "auto"
    dtype: str = "auto"  # "auto", "float32", "bfloat16", "float16"
    checkpoint_path: str | None = None
    checkpoint_every: int = 0  # 0: only at the end (when checkpoint_path is set)
    stop_at: int | None = None
    progress: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "grad_accum", "eval_every", "eval_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int; got {value!r}")
        for name in ("warmup_steps", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be an int >= 0; got {value!r}")
        if self.block_size is not None and (not isinstance(self.block_size, int) or self.block_size < 1):
            raise ValueError(f"TrainConfig.block_size must be a positive int or None; got {self.block_size!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr; got min_lr={self.min_lr}, lr={self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("weight_decay and grad_clip must be >= 0")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"TrainConfig.dtype must be auto, float32, bfloat16 or float16; got {self.dtype!r}")
        if self.compile not in ("auto", True, False):
            raise ValueError(f"TrainConfig.compile must be 'auto', True or False; got {self.compile!r}")
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"TrainConfig.optimizer must be 'adamw' or 'muon'; got {self.optimizer!r}")
        if self.stop_at is not None and not 0 < self.stop_at <= self.steps:
            raise ValueError(f"TrainConfig.stop_at must be between 1 and steps ({self.steps}); got {self.stop_at}")
        self.betas = tuple(self.betas)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class History:
    """What happened during training, step by step (lists of equal length), and at each evaluation."""

    steps: list[int] = field(default_factory=list)  # optimizer steps completed, 1, 2, …
    losses: list[float] = field(default_factory=list)  # the training batch's loss at that step
    lrs: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)  # estimate_loss on training data at eval_steps
    val_losses: list[float] = field(default_factory=list)  # estimate_loss on validation data at eval_steps
    elapsed_s: float = 0.0
    done: bool = False  # True in the last callback

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> "History":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


def get_lr(step: int, config: TrainConfig) -> float:
    """The learning rate for optimizer step `step` (0-based): linear warm-up, then cosine decay to min_lr.

    Warm-up: lr × (step + 1) / warmup_steps for the first warmup_steps steps. Then a half cosine from
    lr down to min_lr, reached at step = config.steps; min_lr after that.
    Example (lr=1e-3, min_lr=1e-4, warmup_steps=10, steps=110): step 0 -> 1e-4, step 9 -> 1e-3,
    step 60 -> 5.5e-4, step 110 -> 1e-4.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if step >= config.steps:
        return config.min_lr
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (config.lr - config.min_lr)


def configure_optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device | None = None) -> torch.optim.AdamW:
    """AdamW with weight decay on the 2-D weights only (matrices, embeddings), none on biases and LayerNorms.

    Group 0 decays, group 1 does not. Uses PyTorch's fused kernel on CUDA and CPU where available.
    config.optimizer == "muon": a gptlab.training.muon.MuonWithAdamW (Muon on the blocks' matrices) instead.
    """
    if config.optimizer == "muon":
        from gptlab.training.muon import MuonWithAdamW

        device = device or next(model.parameters()).device
        return MuonWithAdamW(model, config.lr, config.weight_decay, config.betas, fused=device.type in ("cuda", "cpu"))
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    device = device or next(model.parameters()).device
    extra = {}
    if "fused" in inspect.signature(torch.optim.AdamW).parameters and device.type in ("cuda", "cpu"):
        extra["fused"] = True
    try:
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, **extra)
    except (RuntimeError, ValueError):  # an older PyTorch without the fused kernel for this device
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


# ----- helpers ------------------------------------------------------------------------------------


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device_choice: str) -> _Distributed:
    """Join the process group torchrun describes (WORLD_SIZE > 1), or use one that already exists."""
    import torch.distributed as dist

    if not dist.is_available():
        return _Distributed()
    if dist.is_initialized():
        return _Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Distributed()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_choice in ("auto", "cuda") and os.environ.get("GPTLAB_DEVICE", "auto") in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return _Distributed(dist.get_rank(), dist.get_world_size(), local_rank, owns_group=True)


def _pick(config: TrainConfig, world: _Distributed) -> torch.device:
    from gptlab.device import pick_device

    device = pick_device(None if config.device == "auto" else config.device)
    if device.type == "cuda" and world.world_size > 1:
        device = torch.device("cuda", world.local_rank)
    return device


def _autocast(config: TrainConfig, device: torch.device):
    dtype = config.dtype
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, dtype))


def _all_mean(value: torch.Tensor, world: _Distributed) -> float:
    value = value.detach()  # a number for the log, not part of the graph
    if world.world_size > 1:
        import torch.distributed as dist

        value = value.clone().float()
        dist.all_reduce(value)
        value /= world.world_size
    return float(value)


def warmup_cosine(steps: int, warmup_fraction: float = 0.05) -> Callable[[int], float]:
    """A learning-rate *factor* for LambdaLR in the lessons' short runs: linear warm-up, then cosine decay to 0.

    (`get_lr` is the pretraining schedule, with a floor at min_lr; these runs are too short to need one.)
    """
    warmup = max(1, int(steps * warmup_fraction))
    return lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))


def optimise(optimizer: torch.optim.Optimizer, losses, *, schedule=None, clip_params=None,
             max_norm: float = 1.0, steps: int | None = None, progress: bool = True, desc: str = "training") -> list[float]:
    """The inner loop of the lessons' short runs (fine-tuning, seq2seq, images): for each loss that `losses`
    yields — computed lazily, one batch at a time — zero the gradients, backpropagate, optionally clip
    `clip_params` to `max_norm`, step the optimizer (and the schedule). Returns every step's loss.

    steps: how many losses `losses` will yield, for the progress bar (none without it, or with progress=False).
    On the CPU the loop shares the cores with other training notebooks (gptlab.training.cpu_share)."""
    params = clip_params if clip_params is None else list(clip_params)  # model.parameters() is a one-pass generator
    history = []
    bar = progress_bar(steps, desc, enabled=progress and steps is not None)
    on_cpu = all(p.device.type == "cpu" for group in optimizer.param_groups for p in group["params"])
    try:
        with CpuShare(on=None if on_cpu else False) as share:
            for loss in losses:
                tell(bar, share.check())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if params is not None:
                    torch.nn.utils.clip_grad_norm_(params, max_norm)
                optimizer.step()
                if schedule is not None:
                    schedule.step()
                history.append(loss.item())
                if bar is not None:
                    if len(history) % 10 == 1:
                        bar.set_postfix(loss=f"{history[-1]:.3f}", refresh=False)
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history


def next_token_loss(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting idx[:, t + 1] from logits[:, t]: logits (B, T, V), idx (B, T) -> a scalar.

    The last position has no next token and the first token is never a target, so T - 1 predictions per row.
    (The loop passes targets already shifted, y = x moved left by one, to GPT.forward: the same loss.)

    Taught in: solutions/07_pretraining.ipynb
    """
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), idx[:, 1:].reshape(-1))


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               grad_clip: float) -> float:
    """One update: clear old gradients, forward, backward, clip the gradient norm, step. Returns the loss.

    The heart of `train` (which adds gradient accumulation, mixed precision and data parallelism around it).

    Taught in: solutions/07_pretraining.ipynb
    """
    optimizer.zero_grad(set_to_none=True)
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def estimate_loss(model: torch.nn.Module, data: torch.Tensor, *, batches: int = 20, batch_size: int = 16,
                  block_size: int | None = None, seed: int = 0, device: torch.device | str | None = None,
                  autocast=None, rank: int = 0, world_size: int = 1) -> float:
    """Mean loss over `batches` random batches of `data`, in eval mode (no dropout), without gradients.

    The windows come from a generator seeded with `seed`, so every evaluation of a run sees the same
    windows and the curve moves only because the model does. Under data parallelism each process
    evaluates its slice and the mean over processes is returned.
    """
    from gptlab.io.checkpoint import unwrap_model

    inner = unwrap_model(model)
    block_size = block_size or inner.config.block_size
    device = torch.device(device) if device is not None else next(inner.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=device)
    try:
        for _ in range(batches):
            x, y = draw_batch(data, batch_size, block_size, generator, device, rank=rank, world_size=world_size)
            with autocast or contextlib.nullcontext():
                _, loss = model(x, y)
            total += loss.float()
    finally:
        model.train(was_training)
    return _all_mean(total / batches, _Distributed(rank, world_size))


def _rng_state(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "batches": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], generator: torch.Generator, device: torch.device) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "batches" in state:
        generator.set_state(state["batches"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


# ----- the loop ----------------------------------------------------------------------------------------


def train(model: torch.nn.Module, train_data: torch.Tensor, val_data: torch.Tensor | None = None,
          config: TrainConfig | None = None, callback: Callable[[History], object] | None = None, *,
          tokenizer=None, resume: str | Path | object | None = None) -> History:
    """Train `model` on random windows of `train_data`; return the History (losses, lr, tokens/s).

    val_data: held-out tokens, evaluated every config.eval_every steps and at the end (None: skip).
    callback(history) runs after every step (history.done is True on the last call), e.g.
    gptlab.viz.training.LiveLossPlot(). tokenizer: stored in checkpoints, so a checkpoint is
    self-contained. resume: a checkpoint path (or a loaded Checkpoint) to continue from: the model's
    weights, the optimizer, the step, the generators and the history are restored.
    """
    from gptlab.io.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, unwrap_model

    config = config or TrainConfig()
    world = _setup_distributed(config.device)
    try:
        device = _pick(config, world)
        inner = unwrap_model(model)
        block_size = config.block_size or inner.config.block_size
        if block_size > inner.config.block_size:
            raise ValueError(f"TrainConfig.block_size {block_size} exceeds the model's block_size {inner.config.block_size}")
        check_source(train_data, block_size, inner.config.vocab_size, "train_data")
        if val_data is not None:
            check_source(val_data, block_size, inner.config.vocab_size, "val_data")
        if config.batch_size % world.world_size:
            raise ValueError(f"batch_size {config.batch_size} must be divisible by the {world.world_size} processes")

        torch.manual_seed(config.seed + world.rank)  # dropout masks and anything else drawn from torch's generator
        generator = torch.Generator().manual_seed(config.seed)  # the batches: the same on every process
        inner.to(device)
        inner.train()
        optimizer = configure_optimizer(inner, config, device)
        history = History()
        start = 0
        if resume is not None:
            checkpoint = resume if isinstance(resume, Checkpoint) else load_checkpoint(resume)
            checkpoint.restore_model(inner)
            checkpoint.restore_optimizer(optimizer)
            _set_rng_state(checkpoint.rng_state, generator, device)
            history = History.from_dict(checkpoint.history)
            history.done = False
            start = checkpoint.step
            if tokenizer is None:
                tokenizer = checkpoint.tokenizer
        stop = config.stop_at or config.steps

        use_compile = config.compile is True or (config.compile == "auto" and device.type == "cuda")
        runner = torch.compile(inner) if use_compile else inner
        if world.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            runner = DistributedDataParallel(runner, device_ids=[device.index] if device.type == "cuda" else None)
        autocast = _autocast(config, device)
        tokens_per_step = config.batch_size * config.grad_accum * block_size
        eval_seed = config.seed + 1  # a separate generator: evaluating never changes the training batches

        def save(step: int) -> None:
            if config.checkpoint_path and world.main:
                save_checkpoint(config.checkpoint_path, inner, tokenizer=tokenizer, optimizer=optimizer, step=step,
                                rng_state=_rng_state(generator, device), train_config=config, history=history)
            if config.checkpoint_path and world.world_size > 1:
                torch.distributed.barrier()

        def evaluate(step: int) -> None:
            kwargs = dict(batches=config.eval_batches, batch_size=config.batch_size, block_size=block_size, seed=eval_seed,
                          device=device, autocast=autocast, rank=world.rank, world_size=world.world_size)
            history.eval_steps.append(step)
            history.train_losses.append(estimate_loss(runner, train_data, **kwargs))
            history.val_losses.append(estimate_loss(runner, val_data, **kwargs) if val_data is not None else float("nan"))

        bar = progress_bar(stop, "training", start, config.progress and world.main)
        share = CpuShare(on=None if device.type == "cpu" else False)  # another notebook training: share the cores
        share.__enter__()
        tell(bar, share.check(force=True))
        began = time.perf_counter() - history.elapsed_s
        step = start
        try:
            for step in range(start, stop):
                tell(bar, share.check())
                lr = get_lr(step, config)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                tick = time.perf_counter()
                total = torch.zeros((), device=device)
                for micro in range(config.grad_accum):
                    x, y = draw_batch(train_data, config.batch_size, block_size, generator, device,
                                     rank=world.rank, world_size=world.world_size)
                    last = micro == config.grad_accum - 1
                    sync = runner.no_sync() if world.world_size > 1 and not last else contextlib.nullcontext()
                    with sync:
                        with autocast:
                            _, loss = runner(x, y)
                        (loss / config.grad_accum).backward()
                    total += loss.detach().float()
                if config.grad_clip:
                    torch.nn.utils.clip_grad_norm_(inner.parameters(), config.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                loss_value = _all_mean(total / config.grad_accum, world)  # also waits for the GPU to finish
                if not math.isfinite(loss_value):
                    raise FloatingPointError(f"the loss became {loss_value} at step {step + 1}; lower the learning rate "
                                             f"(lr={config.lr}) or check the data")
                done_steps = step + 1
                history.steps.append(done_steps)
                history.losses.append(loss_value)
                history.lrs.append(lr)
                history.tokens_per_s.append(tokens_per_step / max(time.perf_counter() - tick, 1e-9))
                if done_steps % config.eval_every == 0 or done_steps == stop:
                    evaluate(done_steps)
                history.elapsed_s = time.perf_counter() - began
                history.done = done_steps == stop
                if config.checkpoint_every and done_steps % config.checkpoint_every == 0 and done_steps != stop:
                    save(done_steps)
                if bar is not None:
                    postfix = {"loss": f"{loss_value:.3f}", "tok/s": f"{history.tokens_per_s[-1]:,.0f}"}
                    if history.val_losses:
                        postfix["val"] = f"{history.val_losses[-1]:.3f}"
                    bar.set_postfix(postfix, refresh=False)
                    bar.update(1)
                if callback is not None and world.main:
                    callback(history)
            if stop > start or resume is None:
                save(stop)
        except KeyboardInterrupt:
            # Ctrl-C (or "interrupt kernel"): keep what was learned so far, then stop as asked.
            save(len(history.steps) and history.steps[-1])
            raise
        finally:
            share.__exit__(None, None, None)
            if bar is not None:
                bar.close()
        return history
    finally:
        if world.owns_group:
            torch.distributed.destroy_process_group()


def sample(model: torch.nn.Module, tokenizer, prompt: str = "", max_new_tokens: int = 200, *, temperature: float = 0.8,
           top_k: int | None = 50, seed: int | None = 0) -> str:
    """Text the model writes after `prompt` (an empty prompt starts after <|endoftext|>), to watch training work.

    gptlab.generation.generate with top-k sampling and no KV cache (each step reads the last block_size
    tokens again, as the training windows do). Returns the prompt plus the new text.
    """
    from gptlab.generation import generate
    from gptlab.io.checkpoint import unwrap_model

    specials = getattr(tokenizer, "special_tokens", {})
    ids = tokenizer.encode(prompt) if prompt else [specials.get("<|endoftext|>", 0)]
    [completion] = generate(unwrap_model(model), ids, max_new_tokens, max(temperature, 1e-6), top_k=top_k, seed=seed,
                            use_cache=False, tokenizer=tokenizer)
    return prompt + completion.text
