"""The old module ``gptlab.pretrained``: GPT-2's format (now gptlab.nn.gpt2) and the course's models (gptlab.io.models)."""

from gptlab.io.models import (MODEL_NAMES, SHIPPED_FILE, SHIPPED_SHA256, ShippedModelFallback, download_gpt2, load,
                              shipped_path)
from gptlab.nn.gpt2 import (BUFFERS, CONV1D_WEIGHTS, CheckpointError, convert_gpt2_state_dict, load_gpt2_directory,
                            read_weights, save_gpt2_directory, write_gpt2_config)
from gptlab.nn.gpt2 import read_hf_config as _read_hf_fields
from gptlab.nn.model import GPTConfig


def read_hf_config(path):
    """config.json of a Hugging Face GPT-2 → GPTConfig (gptlab.nn.gpt2.read_hf_config now returns the fields)."""
    return GPTConfig(**_read_hf_fields(path))


def download(name: str = "gpt2", url: str | None = None):
    """See gptlab.io.download_gpt2."""
    if name != "gpt2":
        raise ValueError(f"only 'gpt2' (124M) can be downloaded; got {name!r}")
    return download_gpt2(url=url)


__all__ = ["BUFFERS", "CONV1D_WEIGHTS", "CheckpointError", "MODEL_NAMES", "SHIPPED_FILE", "SHIPPED_SHA256",
           "ShippedModelFallback", "convert_gpt2_state_dict", "download", "load", "load_gpt2_directory", "read_hf_config",
           "read_weights", "save_gpt2_directory", "shipped_path", "write_gpt2_config"]
