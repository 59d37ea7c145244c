"""Which model to serve: "shipped", "mine", a gptlab checkpoint file, or a GPT-2-format directory.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_for_serving"]


def load_for_serving(source: str = "shipped", tokenizer_dir: str | Path | None = None, device=None):
    """(model, tokenizer, name) for `gptlab serve --model SOURCE`.

    SOURCE: "shipped" (the course's model, 5.3 M parameters), "small" (the first shipped model, 1.1 M), "mine"
    (yours from lesson 07; else the shipped one), "chat" (lesson 10's chat model) or "shipped-chat" (the chat
    model that ships: the shipped one fine-tuned with the chat template) via
    gptlab.io.load; a .safetensors checkpoint written by gptlab (its tokenizer is inside); or a
    directory in GPT-2's Hugging Face format (config.json + model.safetensors / pytorch_model.bin), whose
    tokenizer is its own vocab.json + merges.txt or the ones in `tokenizer_dir`. name: what clients pass
    as `model` (the source's name, or the file's / directory's stem).
    """
    if source in ("shipped", "small", "mine", "chat", "shipped-chat"):
        from gptlab.io import load

        model, tokenizer = load(source, device)
        return model.eval(), tokenizer, source
    path = Path(source).expanduser()
    if path.is_dir():
        from gptlab.nn.model import GPT
        from gptlab.tokenizers.bpe import BPETokenizer

        model = GPT.from_pretrained(path)
        where = Path(tokenizer_dir).expanduser() if tokenizer_dir is not None else path
        if not ((where / "vocab.json").is_file() and (where / "merges.txt").is_file()):
            raise FileNotFoundError(f"{where} has no vocab.json and merges.txt: pass --tokenizer DIR, a directory holding "
                                    "the model's GPT-2-format tokenizer (BPETokenizer.save writes one)")
        tokenizer = BPETokenizer.load(where)
        if tokenizer.vocab_size > model.config.vocab_size:
            raise ValueError(f"the tokenizer in {where} has {tokenizer.vocab_size} ids but the model only "
                             f"{model.config.vocab_size}: they do not belong together")
        return (model.to(device) if device else model).eval(), tokenizer, path.name
    if path.is_file():
        from gptlab.io.checkpoint import load_model

        model, tokenizer = load_model(path, device)
        if tokenizer is None:
            if tokenizer_dir is None:
                raise ValueError(f"{path} holds no tokenizer: pass --tokenizer DIR (vocab.json + merges.txt)")
            from gptlab.tokenizers.bpe import BPETokenizer

            tokenizer = BPETokenizer.load(Path(tokenizer_dir).expanduser())
        return model.eval(), tokenizer, path.stem
    raise FileNotFoundError(f"no model {source!r}: use 'shipped', 'small', 'mine', 'chat', 'shipped-chat', a gptlab "
                            "checkpoint file (.safetensors) "
                            "or a GPT-2-format directory")
