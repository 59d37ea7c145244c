"""The course's named models ("shipped", "small", "mine", "chat"), and the optional download of OpenAI's GPT-2 (124M).

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

from pathlib import Path

from gptlab.nn.gpt2 import CheckpointError, write_gpt2_config

__all__ = ["CHAT_FILE", "CHAT_SHA256", "MODEL_NAMES", "SHIPPED_FILE", "SHIPPED_SHA256", "SMALL_FILE", "SMALL_SHA256", "ShippedModelFallback", "download_gpt2",
           "load", "shipped_path"]


def download_gpt2(url: str | None = None) -> Path:
    """Fetch OpenAI's GPT-2 (124M) weights into the cache, SHA-256 verified; returns a directory for GPT.from_pretrained.

    Optional: nothing in the course needs it. 548 MB. A corrupt or truncated download is deleted and reported.
    """
    from gptlab.data.download import download as fetch
    from gptlab.nn.model import GPTConfig

    weights = fetch("gpt2", url=url)
    write_gpt2_config(weights.parent, GPTConfig.preset("gpt2"))
    return weights.parent


# ----- the course's own models (lesson 07) -------------------------------------------------------------

SHIPPED_FILE = "shipped.safetensors"  # in the gptlab.weights package; see gptlab/weights/README.md
SHIPPED_SHA256 = "cabec6fa55883067f92555a3d5691cb6caffc8e2caaddf4541bfab6d595ca558"
# "small": the first shipped model (gptlab train --recipe small, 1.09 M parameters), for the lessons whose CPU
# budget the shipped one (5.3 M) does not fit: lesson 10's fine-tuning and the chat model built from it
SMALL_FILE = "small.safetensors"
SMALL_SHA256 = "e8bd140c77dcafe8abfe97dc13aa043c5e60b77c34e50c380ed23ce78a5010ee"
# "shipped-chat": the shipped model fine-tuned with the chat template (gptlab chat-tune, CHAT_RECIPE); what
# lesson 12 and `gptlab serve --model shipped-chat` chat with
CHAT_FILE = "chat.safetensors"
CHAT_SHA256 = "5782baa9ef98723c5770d6e9be021baba57173c64d9e84a51359e1ac50a36768"
MODEL_NAMES = ("shipped", "small", "mine", "chat", "shipped-chat")
# name -> (file, the name of its checksum constant, read when loading so the constant stays the one source)
SHIPPED_FILES = {"shipped": (SHIPPED_FILE, "SHIPPED_SHA256"), "small": (SMALL_FILE, "SMALL_SHA256"),
                 "shipped-chat": (CHAT_FILE, "CHAT_SHA256")}


class ShippedModelFallback(UserWarning):
    """load("mine") found no checkpoint of the learner's own and returned the shipped model instead."""


def shipped_path(name: str = "shipped") -> Path:
    """The file of a model that ships with gptlab, "shipped", "small" or "shipped-chat" (float16 weights,
    tokenizer and config in one file)."""
    from importlib import resources

    if name not in SHIPPED_FILES:
        raise ValueError(f"no shipped file named {name!r}: use {', '.join(map(repr, SHIPPED_FILES))}")
    return Path(str(resources.files("gptlab.weights").joinpath(SHIPPED_FILES[name][0])))


def load(name: str = "shipped", device=None):
    """(model, tokenizer) for a course model: "shipped", "small", "mine", "chat", "shipped-chat" (or a checkpoint file).

    "shipped": the GPT trained by `gptlab train` (gptlab/weights/README.md says by which recipe), never on the
    fine-tuning lesson's held-out plays, checked against its SHA-256 before loading. "small": the first
    shipped model (`gptlab train --recipe small`), for lessons whose CPU budget a larger model does not fit. "mine": the learner's own checkpoint
    from lesson 07 at gptlab.io.checkpoint.default_path("mine") = $GPTLAB_CACHE/checkpoints/mine.safetensors;
    if there is none yet, the shipped model, with a ShippedModelFallback warning. "chat": the shipped model
    fine-tuned on the instruction set written as chats (lesson 10 saves it at default_path("chat")); a
    CheckpointError saying how to make it when there is none. "shipped-chat": the chat model that ships, the
    shipped model fine-tuned by `gptlab chat-tune` (gptlab/weights/README.md), checked against its SHA-256.
    The model is float32, in eval mode, on `device` (default CPU); the tokenizer a BPETokenizer.
    """
    import warnings

    from gptlab.io.checkpoint import default_path, load_model, verify_sha256

    if name in SHIPPED_FILES:
        path = shipped_path(name)
        if not path.is_file():
            raise CheckpointError(f"the {name} model {path} is missing from this installation (reinstall gptlab, or "
                                  "retrain it with `gptlab train --export` as gptlab/weights/README.md describes)")
        verify_sha256(path, globals()[SHIPPED_FILES[name][1]])
        return load_model(path, device)
    if name == "mine":
        path = default_path("mine")
        if path.is_file():
            return load_model(path, device)
        warnings.warn(f"no checkpoint of your own at {path} yet (lesson 07 or `gptlab train` saves one there); "
                      "using the shipped model instead", ShippedModelFallback, stacklevel=2)
        return load("shipped", device)
    if name == "chat":
        path = default_path("chat")
        if path.is_file():
            return load_model(path, device)
        raise CheckpointError(f"no chat model at {path} yet: lesson 10 makes it (section \"A chat model\"), or in "
                              "Python: gptlab.topics.chat.make_chat_model(); lesson 12 makes one itself when it is missing")
    if isinstance(name, (str, Path)) and Path(name).suffix and Path(name).is_file():
        return load_model(Path(name), device)
    raise ValueError(f"unknown model {name!r}: use 'shipped', 'small', 'mine', 'chat', 'shipped-chat', or the path of a "
                     "checkpoint file")
