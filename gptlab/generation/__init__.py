"""Generation: from logits to a distribution (`sampling`), the one decoding loop (`loop`: a batch of sequences,
each at its own length), completions of a prompt with stop strings and streaming (`decoding`), text (`text`).

    from gptlab.generation import generate, stream
    [completion] = generate(model, "ROMEO:", max_tokens=40, temperature=0.8, seed=0, tokenizer=tok)

Every sampler in the package goes through `decoding`: lesson 08's generate and stream, the training
loop's samples, the fine-tuned model's answers, the pixel GPT's drawings and the server.

Taught in: solutions/08_generation.ipynb
"""

from gptlab.generation.decoding import FINISH_REASONS, Chunk, Completion, generate, stream
from gptlab.generation.loop import Decoder, Row, Sampling, decode_many
from gptlab.generation.sampling import (next_token_probs, temperature_softmax, top_k_logits, top_k_probs, top_p_logits,
                                        top_p_probs)
from gptlab.generation.text import IncrementalDecoder
from gptlab.nn.kv_cache import KVCache, make_caches  # the cache lives with the attention that fills it

__all__ = ["Chunk", "Completion", "Decoder", "FINISH_REASONS", "IncrementalDecoder", "KVCache", "Row", "Sampling",
           "decode_many", "generate", "make_caches",
           "next_token_probs", "stream", "temperature_softmax", "top_k_logits", "top_k_probs", "top_p_logits",
           "top_p_probs"]
