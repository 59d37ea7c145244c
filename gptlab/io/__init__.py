"""Files in and out: training checkpoints (`checkpoint`) and the course's named models (`models`).

    from gptlab.io import load, save_checkpoint, load_checkpoint
    model, tokenizer = load("shipped")   # or "mine": the learner's model from lesson 07

GPT-2's own file format lives with the model, in gptlab.nn.gpt2.

Taught in: solutions/07_pretraining.ipynb
"""

from gptlab.io.checkpoint import (Checkpoint, default_path, load_checkpoint, load_model, save_checkpoint, sha256_file,
                                  unwrap_model, verify_sha256)
from gptlab.io.models import MODEL_NAMES, ShippedModelFallback, download_gpt2, load, shipped_path
from gptlab.nn.gpt2 import CheckpointError

__all__ = ["Checkpoint", "CheckpointError", "MODEL_NAMES", "ShippedModelFallback", "default_path", "download_gpt2",
           "load", "load_checkpoint", "load_model", "save_checkpoint", "sha256_file", "shipped_path", "unwrap_model",
           "verify_sha256"]
