"""Training checkpoints that survive crashes: one safetensors file, written atomically, checksummed.

A checkpoint holds everything needed to pick training up exactly where it stopped:

* the model's weights, its class (GPT, or lesson 14's ModernGPT) and its config,
* the tokenizer (its GPT-2 vocab.json and merges.txt, as text),
* the optimizer's state (AdamW's moments), the step, and the random-number generators' states,
* the TrainConfig and the loss history so far.

The file is a plain safetensors file: tensors (weights, optimizer moments, RNG states as bytes) plus a
JSON document in the header's metadata. Loading it never unpickles anything, so a checkpoint from a
stranger cannot run code. The tensors' SHA-256 is recorded in the header and checked on load, so a
truncated or corrupted file is reported (naming the file) instead of loading garbage.

Writing goes through gptlab.files.atomic_write_bytes: a temporary file beside the target, fsync, then a
rename. If the process is killed half-way, the previous checkpoint is still there and still loads.

    save_checkpoint("run.safetensors", model, tokenizer=tok, optimizer=opt, step=500)
    ckpt = load_checkpoint("run.safetensors")
    model, tok = ckpt.build_model(), ckpt.tokenizer

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import torch

from gptlab.files import atomic_write_bytes
from gptlab.nn.gpt2 import CheckpointError

FORMAT = "gptlab-checkpoint"
VERSION = 1
MODEL_PREFIX, OPTIMIZER_PREFIX, RNG_PREFIX = "model.", "optimizer.", "rng."
# Optimizer settings that describe the machine (which kernel runs the update), not the training state:
# when resuming, the current optimizer's values win, so a checkpoint from a GPU resumes on a CPU.
DEVICE_FLAGS = ("fused", "foreach", "capturable", "differentiable")

__all__ = ["Checkpoint", "CheckpointError", "default_path", "load_checkpoint", "load_model", "save_checkpoint",
           "sha256_file", "unwrap_model", "verify_sha256"]


def default_path(name: str = "mine") -> Path:
    """Where the course keeps checkpoint `name`: ``$GPTLAB_CACHE/checkpoints/<name>.safetensors``.

    ``$GPTLAB_CACHE`` defaults to ``~/.cache/gptlab``. Lesson 07 saves the learner's model as "mine",
    which ``gptlab.io.load("mine")`` then finds.
    """
    from gptlab.data.cache import cache_dir

    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"a checkpoint name must be a plain file name without slashes; got {name!r}")
    return cache_dir() / "checkpoints" / f"{name}.safetensors"


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The GPT inside DistributedDataParallel (.module) and torch.compile (._orig_mod) wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


@dataclass
class Checkpoint:
    """What a checkpoint file holds, as Python objects (see load_checkpoint)."""

    config: Any  # GPTConfig, or ModernConfig for a ModernGPT (see architecture)
    model_state: dict[str, torch.Tensor]
    step: int = 0
    tokenizer: Any = None  # BPETokenizer, or None if none was saved
    optimizer_state: dict | None = None  # as optimizer.state_dict() returns it
    rng_state: dict[str, torch.Tensor] = field(default_factory=dict)
    train_config: dict | None = None
    history: dict | None = None
    metadata: dict = field(default_factory=dict)
    path: Path | None = None
    architecture: str = "GPT"  # the model class's name, a key of ARCHITECTURES

    def build_model(self, device: torch.device | str | None = None):
        """A new model of this checkpoint's class (GPT or ModernGPT), config and weights (float32, eval mode), on
        `device` (default CPU)."""
        model = _model_class(self.architecture, self.path)(self.config)
        self.restore_model(model)
        model.eval()
        return model.to(device) if device is not None else model

    def restore_model(self, model: torch.nn.Module) -> None:
        """Copy the weights into `model` (which must have the same config), keeping its dtypes and device."""
        model = unwrap_model(model)
        target = model.state_dict()
        state = dict(self.model_state)
        if "lm_head.weight" in target and "lm_head.weight" not in state and "transformer.wte.weight" in state:
            state["lm_head.weight"] = state["transformer.wte.weight"]  # tied: stored once
        missing, unexpected = sorted(set(target) - set(state)), sorted(set(state) - set(target))
        if missing or unexpected:
            raise CheckpointError(f"{self.path or 'checkpoint'} does not fit this model: missing {missing[:5]}, "
                                  f"unexpected {unexpected[:5]} (was it saved from a different config?)")
        for name, tensor in state.items():
            if tuple(tensor.shape) != tuple(target[name].shape):
                raise CheckpointError(f"{self.path or 'checkpoint'}: tensor {name} has shape {tuple(tensor.shape)}, "
                                      f"the model needs {tuple(target[name].shape)}")
        with torch.no_grad():
            model.load_state_dict({k: v.to(dtype=target[k].dtype, device=target[k].device) for k, v in state.items()})

    def restore_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Load the saved optimizer state into `optimizer` (built over the same parameters, in the same order)."""
        if self.optimizer_state is None:
            raise CheckpointError(f"{self.path or 'checkpoint'} holds no optimizer state (saved for inference only?)")
        saved = self.optimizer_state
        groups = []
        for current, group in zip(optimizer.param_groups, saved["param_groups"]):
            group = dict(group)
            for flag in DEVICE_FLAGS:
                if flag in current:
                    group[flag] = current[flag]
            groups.append(group)
        if len(groups) != len(optimizer.param_groups) or len(saved["param_groups"]) != len(optimizer.param_groups):
            raise CheckpointError(f"{self.path or 'checkpoint'}: the optimizer has {len(optimizer.param_groups)} parameter "
                                  f"groups, the checkpoint {len(saved['param_groups'])}")
        try:
            optimizer.load_state_dict({"state": saved["state"], "param_groups": groups})
        except (ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(f"{self.path or 'checkpoint'}: its optimizer state does not fit this optimizer ({error})") from None


# ----- the model classes a checkpoint may hold -----------------------------------------------------------

# Name recorded in the file -> (module, class). Checkpoints written before ModernGPT record no name: a GPT.
ARCHITECTURES = {"GPT": ("gptlab.nn.model", "GPT"), "ModernGPT": ("gptlab.nn.modern_model", "ModernGPT")}


def _model_class(name: str, path: Path | None = None) -> type:
    if name not in ARCHITECTURES:
        raise CheckpointError(f"{path or 'checkpoint'} holds a {name!r}, which this gptlab cannot build "
                              f"(it knows {', '.join(ARCHITECTURES)}); upgrade gptlab")
    module, attribute = ARCHITECTURES[name]
    return getattr(importlib.import_module(module), attribute)


def _architecture_of(config) -> str:
    """By the config's class, not the model's: a learner's own GPT (lesson 06) has GPT's config and names."""
    for name in ARCHITECTURES:
        if type(config) is _model_class(name).config_class:
            return name
    raise TypeError(f"save_checkpoint stores models configured by {' or '.join(ARCHITECTURES)}'s config class; got a "
                    f"{type(config).__name__}")


# ----- saving ---------------------------------------------------------------------------------------


def _tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(name.encode("utf-8"))
        digest.update(str(tensor.dtype).encode())
        digest.update(repr(tuple(tensor.shape)).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _jsonable(value):
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _tokenizer_files(tokenizer) -> dict[str, str]:
    if tokenizer is None:
        return {}
    if not hasattr(tokenizer, "to_texts"):
        raise TypeError(f"can only store a tokenizer with to_texts() in GPT-2's format (BPETokenizer); got {type(tokenizer).__name__}")
    return tokenizer.to_texts()


def save_checkpoint(path: str | Path, model: torch.nn.Module, *, tokenizer=None, optimizer: torch.optim.Optimizer | None = None,
                    step: int = 0, rng_state: dict[str, torch.Tensor] | None = None, train_config=None,
                    history=None, metadata: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Write a checkpoint atomically to `path` (a crash leaves the previous file intact); return the path.

    dtype=torch.float16 (or bfloat16) stores the weights at half size, for shipping a model; leave it None
    (float32) for checkpoints you will resume training from. rng_state: name -> uint8 tensor, such as
    {"torch": torch.get_rng_state(), "batches": generator.get_state()}.
    """
    model = unwrap_model(model)
    tensors: dict[str, torch.Tensor] = {}
    tied = getattr(getattr(model, "config", None), "tie_weights", False)
    for name, tensor in model.state_dict().items():
        if tied and name == "lm_head.weight":
            continue  # the same tensor as transformer.wte.weight; stored once
        tensor = tensor.detach()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[MODEL_PREFIX + name] = tensor.cpu().contiguous().clone()
    optimizer_meta = None
    if optimizer is not None:
        saved = optimizer.state_dict()
        optimizer_meta = {"param_groups": _jsonable(saved["param_groups"]), "state": {}}
        for index, state in saved["state"].items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{OPTIMIZER_PREFIX}{index}.{key}"] = value.detach().cpu().contiguous().clone()
                else:
                    optimizer_meta["state"].setdefault(str(index), {})[key] = _jsonable(value)
    for name, state in (rng_state or {}).items():
        tensors[RNG_PREFIX + name] = state.detach().cpu().contiguous().clone()
    config = getattr(model, "config", None)
    if config is None:
        raise TypeError("save_checkpoint needs a gptlab GPT (a model with .config)")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": _architecture_of(config),
        "config": _jsonable(config),
        "step": int(step),
        "tokenizer": _tokenizer_files(tokenizer),
        "optimizer": optimizer_meta,
        "train_config": _jsonable(train_config),
        "history": _jsonable(history.to_dict() if hasattr(history, "to_dict") else history),
        "metadata": _jsonable(metadata or {}),
        "tensors_sha256": _tensor_digest(tensors),
    }
    from safetensors.torch import save as to_bytes

    data = to_bytes(tensors, metadata={"format": "pt", "gptlab": json.dumps(meta)})
    path = Path(path)
    atomic_write_bytes(path, data)
    with contextlib.suppress(OSError):  # the temporary file was private (0600); give it the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)
    return path


# ----- loading --------------------------------------------------------------------------------------


def _read_metadata(path: Path) -> dict:
    """The gptlab document in the safetensors header (read with safetensors' own parser)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path} is truncated, corrupt or not a safetensors file ({type(error).__name__}: "
                              f"{str(error)[:200]})") from None
    try:
        meta = json.loads(header["gptlab"])
    except (json.JSONDecodeError, KeyError, TypeError):
        raise CheckpointError(f"{path} is not a gptlab checkpoint (no gptlab header; is it a plain weights file? "
                              "GPT-2 directories load with GPT.from_pretrained)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gptlab checkpoint")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer gptlab (checkpoint version {meta['version']}); upgrade gptlab")
    return meta


def _tokenizer_from_files(path: Path, files: dict[str, str]):
    if not files:
        return None
    from gptlab.tokenizers import BPETokenizer

    try:
        return BPETokenizer.from_texts(files)
    except Exception as error:
        raise CheckpointError(f"{path}: its tokenizer cannot be rebuilt ({type(error).__name__}: {error})") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by save_checkpoint; CheckpointError (naming the file) if it is damaged.

    Tensors stay on the CPU; never unpickles (safetensors + JSON).
    """
    from safetensors.torch import load as from_bytes

    from gptlab.nn.model import config_from_dict

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    meta = _read_metadata(path)
    try:
        tensors = from_bytes(path.read_bytes())
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path} is truncated or corrupt ({type(error).__name__}: {error})") from None
    if _tensor_digest(tensors) != meta.get("tensors_sha256"):
        raise CheckpointError(f"{path} is corrupt: its tensors do not match the SHA-256 recorded when it was saved")
    architecture = meta.get("architecture", "GPT")
    try:
        config = config_from_dict(meta["config"], _model_class(architecture, path).config_class)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has an invalid model config ({error})") from None
    model_state, rng_state = {}, {}
    optimizer_state = None
    if meta.get("optimizer") is not None:
        optimizer_state = {"param_groups": meta["optimizer"]["param_groups"],
                           "state": {int(k): dict(v) for k, v in meta["optimizer"].get("state", {}).items()}}
    for name, tensor in tensors.items():
        if name.startswith(MODEL_PREFIX):
            model_state[name[len(MODEL_PREFIX):]] = tensor
        elif name.startswith(RNG_PREFIX):
            rng_state[name[len(RNG_PREFIX):]] = tensor
        elif name.startswith(OPTIMIZER_PREFIX) and optimizer_state is not None:
            index, key = name[len(OPTIMIZER_PREFIX):].split(".", 1)
            optimizer_state["state"].setdefault(int(index), {})[key] = tensor
    return Checkpoint(config=config, model_state=model_state, step=int(meta.get("step", 0)),
                      tokenizer=_tokenizer_from_files(path, meta.get("tokenizer") or {}), optimizer_state=optimizer_state,
                      rng_state=rng_state, train_config=meta.get("train_config"), history=meta.get("history"),
                      metadata=meta.get("metadata") or {}, path=path, architecture=architecture)


def load_model(path: str | Path, device: torch.device | str | None = None):
    """(model, tokenizer) from a checkpoint file: a float32 GPT (or ModernGPT) in eval mode, and its BPETokenizer
    (or None)."""
    checkpoint = load_checkpoint(path)
    return checkpoint.build_model(device), checkpoint.tokenizer


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> None:
    """Raise CheckpointError (naming the file and both digests) unless the file's SHA-256 is `expected`."""
    actual = sha256_file(path)
    if actual != expected.lower():
        raise CheckpointError(f"{path} has SHA-256 {actual}, expected {expected}: the file is damaged or was replaced "
                              "(reinstall gptlab, or retrain it with `gptlab train`)")
