"""GPT-2's file format ↔ gptlab's GPT: Hugging Face's save_pretrained directories, both ways.

Hugging Face's GPT-2 stores its four big matrices with a `Conv1D` layer, whose weight is the
transpose of `nn.Linear`'s: (in, out) instead of (out, in). Everything else maps name for name.

Taught in: solutions/06_gpt_model.ipynb
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
BUFFERS = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers some GPT-2 checkpoints carry; not weights


class CheckpointError(ValueError):
    """A weights file or directory that cannot be loaded; the message names the file."""


def read_hf_config(path: Path) -> dict:
    """config.json of a Hugging Face GPT-2 → the GPTConfig fields it sets (a dict)."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{path} has no config.json: is it a directory written by save_pretrained?")
    try:
        hf = json.loads(config_file.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{config_file} is not valid JSON: {error}") from None
    if hf.get("model_type", "gpt2") != "gpt2":
        raise CheckpointError(f"{config_file} describes a {hf.get('model_type')!r} model, not GPT-2")
    try:
        return dict(vocab_size=hf["vocab_size"], block_size=hf.get("n_positions", hf.get("n_ctx")),
                    n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0, bias=True,
                    tie_weights=hf.get("tie_word_embeddings", True))
    except KeyError as error:
        raise CheckpointError(f"{config_file} lacks the field {error.args[0]!r}") from None


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The tensors of model.safetensors (preferred) or pytorch_model.bin, never unpickling code."""
    safetensors_file, bin_file = path / "model.safetensors", path / "pytorch_model.bin"
    if safetensors_file.is_file():
        from safetensors.torch import load_file

        try:
            return load_file(str(safetensors_file)), safetensors_file
        except Exception as error:  # safetensors raises its own error types for corrupt headers and short files
            raise CheckpointError(f"{safetensors_file} is truncated or corrupt ({type(error).__name__}: {error})") from None
    if bin_file.is_file():
        try:
            return torch.load(bin_file, map_location="cpu", weights_only=True), bin_file  # no arbitrary code
        except Exception as error:
            raise CheckpointError(f"{bin_file} is truncated, corrupt or not a plain weights file "
                                  f"({type(error).__name__}: {str(error).splitlines()[0][:200]})") from None
    raise CheckpointError(f"{path} has neither model.safetensors nor pytorch_model.bin")


def convert_gpt2_state_dict(hf: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """Rename and transpose Hugging Face GPT-2 tensors into gptlab's names and layouts, checking shapes."""
    state = {}
    for name, tensor in hf.items():
        if name.endswith(BUFFERS):
            continue
        ours = name if name.startswith(("transformer.", "lm_head.")) else f"transformer.{name}"  # GPT2Model has no prefix
        if ours.endswith(CONV1D_WEIGHTS):
            tensor = tensor.t()
        state[ours] = tensor
    return check_state(state, expected, source)


def check_state(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """`state` (renamed to gptlab's names) with a tied lm_head filled in, or CheckpointError naming the first tensor
    that is missing, has the wrong shape, or does not belong to the model. Both Hugging Face loaders use it."""
    if "lm_head.weight" not in state and "transformer.wte.weight" in state:
        state["lm_head.weight"] = state["transformer.wte.weight"]  # tied: saved once
    for name, want in expected.items():
        if name not in state:
            raise CheckpointError(f"{source} has no tensor for {name}")
        if tuple(state[name].shape) != tuple(want.shape):
            raise CheckpointError(f"{source}: tensor {name} has shape {tuple(state[name].shape)}, "
                                  f"but the config needs {tuple(want.shape)}")
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise CheckpointError(f"{source} holds tensors this model does not have: {unexpected[:5]}")
    return state


def load_gpt2_directory(model_class, path: Path):
    """A `model_class` (gptlab's GPT) built from config.json (through model_class.config_class) and loaded with
    the directory's weights. GPT.from_pretrained calls this."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a directory")
    model = model_class(model_class.config_class(**read_hf_config(path)))
    hf, source = read_weights(path)
    state = convert_gpt2_state_dict(hf, model.state_dict(), source)
    with torch.no_grad():
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()}, strict=True)
    return model


def write_gpt2_config(directory: Path, config) -> Path:
    """A Hugging Face-style config.json for `config`, so a directory of weights loads with from_pretrained."""
    hf = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": config.vocab_size,
          "n_positions": config.block_size, "n_ctx": config.block_size, "n_embd": config.n_embd,
          "n_layer": config.n_layer, "n_head": config.n_head, "activation_function": "gelu_new",
          "layer_norm_epsilon": 1e-5, "tie_word_embeddings": config.tie_weights,
          "bos_token_id": None, "eos_token_id": None}  # GPT-2's 50256 would lie outside a small vocabulary
    path = Path(directory) / "config.json"
    path.write_text(json.dumps(hf, indent=1))
    return path


def save_gpt2_directory(model, directory: str | Path) -> Path:
    """Write `model` the way Hugging Face saves GPT-2: config.json + model.safetensors, Conv1D layouts.

    The inverse of load_gpt2_directory, so a gptlab model can be read by other GPT-2 tools.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tie_weights:
            continue  # tied to transformer.wte.weight: saved once, as Hugging Face does
        tensors[name] = (tensor.t() if name.endswith(CONV1D_WEIGHTS) else tensor).contiguous().clone()
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    write_gpt2_config(directory, model.config)
    return directory
