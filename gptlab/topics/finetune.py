"""Fine-tuning a pretrained GPT: a classification head, and instruction following with a response-only loss.

Classification: run the GPT without its language-model head, take the hidden state of each passage's
**last real token** (in a causal model it is the only position that has attended to the whole
passage), and map it to one score per class with a new `nn.Linear`. Passages are right-padded to a
common length; causal attention means no real token ever looks at the padding after it, so padding
needs no attention mask, only care when picking the last real position.

Instruction following: prompt + response + <|endoftext|> as one sequence; the targets are the sequence
shifted by one, with every position whose target is a prompt token or padding set to -100, so the loss
(which ignores -100) is on the response only.

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gptlab.generation.loop import Sampling, decode_many
from gptlab.training.loop import optimise

IGNORE_INDEX = -100  # what F.cross_entropy (and GPT.forward) skip


# --- classification ------------------------------------------------------------------------------


def hidden_states(gpt: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """idx (B, T) -> the final hidden states (B, T, C): GPT.forward without lm_head."""
    t = gpt.transformer
    T = idx.shape[1]
    if T > gpt.config.block_size:
        raise ValueError(f"a sequence of {T} tokens is longer than block_size {gpt.config.block_size}")
    x = t.drop(t.wte(idx) + t.wpe(torch.arange(T, device=idx.device)))
    for block in t.h:
        x = block(x)
    return t.ln_f(x)


def pool_last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """hidden (B, T, C), mask (B, T) with 1 for real tokens and 0 for right padding -> (B, C).

    Row b is hidden[b, n_b - 1], where n_b = mask[b].sum() is the number of real tokens.
    """
    lengths = mask.long().sum(dim=1)  # (B,)
    if bool((lengths == 0).any()):
        raise ValueError("a row of the mask has no real token: every example needs at least one token")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), lengths - 1]


class GPTClassifier(nn.Module):
    """A pretrained GPT body + a new classification head on the last real token's hidden state.

    The GPT's lm_head is simply not used (it stays in `.gpt` and still shares its matrix with wte).
    forward(idx, mask) -> logits (B, num_classes).
    """

    def __init__(self, gpt: nn.Module, num_classes: int):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2; got {num_classes!r}")
        self.gpt = gpt
        self.config = gpt.config  # so gptlab.io.checkpoint.save_checkpoint can record it
        self.num_classes = num_classes
        self.head = nn.Linear(gpt.config.n_embd, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(pool_last_token(hidden_states(self.gpt, idx), mask))


def passage_losses(gpt: nn.Module, idx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) the GPT's mean next-token loss (nats) over each passage's real tokens: how surprised its language
    model is by the passage. A position counts when it and the token it predicts are both real (mask 1)."""
    out = gpt(idx)
    logits = out[0] if isinstance(out, tuple) else out  # (B, T, V); gptlab's GPT returns (logits, loss)
    losses = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), idx[:, 1:], reduction="none")  # (B, T - 1)
    counted = (mask[:, 1:] * mask[:, :-1]).to(losses.dtype)
    if (counted.sum(1) == 0).any():
        raise ValueError("a passage has fewer than 2 real tokens: there is no next token to score")
    return (losses * counted).sum(1) / counted.sum(1)


class LMScoreClassifier(nn.Module):
    """Two classes read off the GPT's own language model: a passage is class 1 when the model finds it less
    surprising than a learned threshold. logits = (−s/2, s/2) with s = scale × (threshold − passage loss).

    Every weight of the GPT still trains (the loss flows through its predictions), plus two numbers: scale and
    threshold. `calibrate(idx, mask)` starts the threshold at the mean passage loss of the given (training)
    passages, so a model of any quality starts at its own midpoint. forward(idx, mask) -> logits (B, 2).
    """

    def __init__(self, gpt: nn.Module):
        super().__init__()
        self.gpt = gpt
        self.config = gpt.config
        self.num_classes = 2
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.threshold = nn.Parameter(torch.tensor(0.0))

    @torch.no_grad()
    def calibrate(self, idx: torch.Tensor, mask: torch.Tensor, batch_size: int = 100) -> float:
        was_training = self.training
        self.eval()
        losses = torch.cat([passage_losses(self.gpt, idx[i:i + batch_size], mask[i:i + batch_size])
                            for i in range(0, idx.shape[0], batch_size)])
        self.threshold.fill_(float(losses.mean()))
        self.train(was_training)
        return self.threshold.detach().item()

    def forward(self, idx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        score = self.scale * (self.threshold - passage_losses(self.gpt, idx, mask))  # (B,): > 0 means class 1
        return torch.stack([-score / 2, score / 2], dim=-1)


def freeze_layers(classifier: GPTClassifier, trainable_blocks: int | None) -> int:
    """Train only the last `trainable_blocks` blocks, ln_f and the head (None: everything). Returns the trainable count."""
    gpt = classifier.gpt
    n_layer = len(gpt.transformer.h)
    if trainable_blocks is not None and not 0 <= trainable_blocks <= n_layer:
        raise ValueError(f"trainable_blocks must be between 0 and {n_layer}; got {trainable_blocks}")
    for parameter in classifier.parameters():
        parameter.requires_grad_(trainable_blocks is None)
    if trainable_blocks is not None:
        for block in list(gpt.transformer.h)[n_layer - trainable_blocks:]:
            block.requires_grad_(True)
        gpt.transformer.ln_f.requires_grad_(True)
        classifier.head.requires_grad_(True)
    return count_trainable(classifier)


def count_trainable(model: nn.Module) -> int:
    """Parameters that will be trained (requires_grad), each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_labels(labels: Sequence[int] | torch.Tensor, num_classes: int) -> torch.Tensor:
    """Labels as a LongTensor, after checking each is an int in 0..num_classes-1 (a clear error otherwise)."""
    values = labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)
    for i, label in enumerate(values):
        if isinstance(label, bool) or not isinstance(label, int):
            raise TypeError(f"label {i} is {label!r}; labels must be ints (class indices)")
        if not 0 <= label < num_classes:
            raise ValueError(f"label {i} is {label}, outside the class range 0..{num_classes - 1}")
    return torch.tensor(values, dtype=torch.long)


def encode_passages(tokenizer, texts: Sequence[str], max_tokens: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts -> (idx, mask), right-padded with pad_id to the longest; mask is 1 on real tokens.

    A text longer than max_tokens keeps its last max_tokens tokens (the classifier reads the end of each
    passage). An empty text is an error: it has no last token to classify from.
    """
    rows = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is a {type(text).__name__}; expected a str")
        ids = tokenizer.encode(text)
        if not ids:
            raise ValueError(f"text {i} is empty: an example needs at least one token")
        rows.append(ids[-max_tokens:])
    if not rows:
        raise ValueError("no texts to encode")
    T = max(len(r) for r in rows)
    idx = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, ids in enumerate(rows):
        idx[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = 1
    return idx, mask


@dataclass
class RunLog:
    """What a fine-tuning run did: the loss at every step, how long it took, and any evaluations on the way
    ((step, scores) pairs)."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    evals: list = field(default_factory=list)


def _batches(n: int, batch_size: int, steps: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator)
    position = 0
    for _ in range(steps):
        if position + batch_size > n:
            order, position = torch.randperm(n, generator=generator), 0
        yield order[position: position + batch_size]
        position += batch_size


def train_classifier(classifier: GPTClassifier, idx: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, *,
                     steps: int = 100, batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0,
                     progress: bool = True) -> RunLog:
    """AdamW on the cross-entropy of the class scores, over random batches; only trainable parameters move."""
    labels = check_labels(labels, classifier.num_classes)
    if not (idx.shape == mask.shape and idx.shape[0] == labels.shape[0]):
        raise ValueError(f"idx {tuple(idx.shape)}, mask {tuple(mask.shape)} and labels {tuple(labels.shape)} disagree")
    params = [p for p in classifier.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    log, start = RunLog(), time.perf_counter()

    def losses():
        for rows in _batches(idx.shape[0], batch_size, steps, seed):
            width = int(mask[rows].sum(1).max())  # crop the batch to its longest passage
            yield F.cross_entropy(classifier(idx[rows, :width], mask[rows, :width]), labels[rows])

    classifier.train()
    log.losses = optimise(optimizer, losses(), steps=steps, progress=progress, desc="fine-tuning")
    classifier.eval()
    log.seconds, log.steps = time.perf_counter() - start, steps
    return log


@torch.no_grad()
def predict(classifier: GPTClassifier, idx: torch.Tensor, mask: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """The predicted class of every row (eval mode, batched)."""
    classifier.eval()
    out = [classifier(idx[i: i + batch_size], mask[i: i + batch_size]).argmax(-1) for i in range(0, idx.shape[0], batch_size)]
    return torch.cat(out)


def accuracy(predicted: torch.Tensor, labels: Sequence[int] | torch.Tensor) -> float:
    labels = torch.as_tensor(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"{tuple(predicted.shape)} predictions for {tuple(labels.shape)} labels")
    return float((predicted == labels).float().mean())


def confusion_matrix(predicted: Sequence[int] | torch.Tensor, labels: Sequence[int] | torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    predicted = check_labels(predicted, num_classes)
    labels = check_labels(labels, num_classes)
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    matrix.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
    return matrix


def bag_of_words_accuracy(train_texts: Sequence[str], train_labels: Sequence[int], test_texts: Sequence[str],
                          test_labels: Sequence[int]) -> tuple[float, list[int]]:
    """The baseline: word counts (scikit-learn's CountVectorizer) + logistic regression. (accuracy, predictions)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    if any(not t.strip() for t in list(train_texts) + list(test_texts)):
        raise ValueError("an example is empty: every text needs at least one word")
    vectorizer = CountVectorizer(lowercase=True)
    features = vectorizer.fit_transform(train_texts)
    model = LogisticRegression(max_iter=2000, C=1.0)
    model.fit(features, list(train_labels))
    predicted = [int(p) for p in model.predict(vectorizer.transform(test_texts))]
    correct = sum(int(p == y) for p, y in zip(predicted, test_labels))
    return correct / len(predicted), predicted


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a share hits / n (95 % with z = 1.96): unlike p ± z·√(p(1 − p)/n) it stays
    inside [0, 1] and is not empty at 0 or n hits. Used for exact match per task."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    if isinstance(hits, bool) or not isinstance(hits, int) or not 0 <= hits <= n:
        raise ValueError(f"hits must be an int between 0 and n={n}; got {hits!r}")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def cluster_bootstrap(values: Sequence[float] | torch.Tensor, clusters: Sequence, *, draws: int = 2000,
                      seed: int = 0) -> tuple[float, float]:
    """(mean, standard error) of `values` (one per example: 1/0 for right/wrong, or a paired difference of two
    models' 1/0) when the examples come in `clusters` (e.g. the play each passage is from) that are not
    independent: draw as many clusters as there are, with replacement, pool their examples, take the mean;
    the standard deviation of `draws` such means is the standard error. With one example per cluster this is
    the ordinary bootstrap; with few clusters it is honestly wide.
    """
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if len(clusters) != len(values) or not len(values):
        raise ValueError(f"{len(values)} values but {len(clusters)} cluster labels: give one label per value")
    if not isinstance(draws, int) or draws < 2:
        raise ValueError(f"draws must be an int >= 2; got {draws!r}")
    names = sorted(set(clusters), key=str)
    if len(names) < 2:
        raise ValueError("a cluster bootstrap needs at least 2 clusters; with one there is nothing to resample")
    index = {name: i for i, name in enumerate(names)}
    which = torch.tensor([index[c] for c in clusters])
    sums = torch.zeros(len(names), dtype=torch.float64).index_add_(0, which, values)
    counts = torch.bincount(which, minlength=len(names)).to(torch.float64)
    picks = torch.randint(len(names), (draws, len(names)), generator=torch.Generator().manual_seed(seed))
    means = sums[picks].sum(1) / counts[picks].sum(1)
    return float(values.mean()), float(means.std())


# --- instruction following -----------------------------------------------------------------------


def encode_instruction(tokenizer, prompt: str, response: str, block_size: int) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids + <|endoftext|>). Rejects an example longer than block_size + 1 tokens.

    The response starts with a space (" two"), as it follows "Response:" in the text the model reads.
    A prompt cannot be cut without losing its instruction, so a too-long example is refused, not truncated.
    """
    if not prompt.strip():
        raise ValueError("the prompt is empty: an instruction example needs a prompt")
    if not response.strip():
        raise ValueError("the response is empty: there would be nothing to learn")
    eot = tokenizer.special_tokens["<|endoftext|>"]
    prompt_ids, response_ids = tokenizer.encode(prompt), tokenizer.encode(" " + response.strip()) + [eot]
    total = len(prompt_ids) + len(response_ids)
    if total - 1 > block_size:  # the model reads all but the last token
        raise ValueError(f"prompt ({len(prompt_ids)} tokens) and response ({len(response_ids)} tokens) are longer than "
                         f"block_size {block_size}: shorten the input")
    return prompt_ids, response_ids


def instruction_batch(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[(prompt_ids, response_ids), ...] -> (idx, targets), both (B, L - 1) with L the longest prompt + response.

    Row b: seq = prompt + response; idx = seq[:-1] then pad_id; targets = seq[1:] with the positions whose
    target is a prompt token (the first len(prompt) - 1) and the padding set to -100.
    """
    if not pairs:
        raise ValueError("no examples to batch")
    for b, (prompt, response) in enumerate(pairs):
        if len(prompt) == 0 or len(response) == 0:
            raise ValueError(f"example {b} has an empty {'prompt' if len(prompt) == 0 else 'response'}")
    L = max(len(p) + len(r) for p, r in pairs)
    idx = torch.full((len(pairs), L - 1), pad_id, dtype=torch.long)
    targets = torch.full((len(pairs), L - 1), IGNORE_INDEX, dtype=torch.long)
    for b, (prompt, response) in enumerate(pairs):
        seq = torch.tensor(list(prompt) + list(response), dtype=torch.long)
        n = len(seq) - 1
        idx[b, :n] = seq[:-1]
        targets[b, :n] = seq[1:]
        targets[b, : len(prompt) - 1] = IGNORE_INDEX  # predicting the rest of the prompt is not the task
    return idx, targets


def train_instructions(model: nn.Module, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, *, steps: int = 100,
                       batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0,
                       progress: bool = True) -> RunLog:
    """AdamW on the response-only loss (instruction_batch), over random batches of `pairs`; trainable parameters only."""
    if not pairs:
        raise ValueError("no training examples")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (everything is frozen)")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    log, start = RunLog(), time.perf_counter()
    batches = (instruction_batch([pairs[i] for i in rows.tolist()], pad_id)
               for rows in _batches(len(pairs), batch_size, steps, seed))
    model.train()
    log.losses = optimise(optimizer, (model(idx, targets)[1] for idx, targets in batches), steps=steps,
                          progress=progress, desc="fine-tuning")
    model.eval()
    log.seconds, log.steps = time.perf_counter() - start, steps
    return log


def respond(model: nn.Module, tokenizer, prompts: Sequence[str], max_tokens: int = 8) -> list[str]:
    """Greedy responses, one per prompt, stopped at <|endoftext|> or a newline; all prompts decode together.

    Through gptlab.generation.decode_many: prompts of different lengths share one batch, without a cache
    (the answers are a few tokens long), so each answer is what decoding its prompt alone would give.
    """
    eot = tokenizer.special_tokens["<|endoftext|>"]
    encoded = [tokenizer.encode(p) for p in prompts]
    for i, ids in enumerate(encoded):
        if not ids:
            raise ValueError(f"prompt {i} is empty")
        if len(ids) + max_tokens > model.config.block_size:
            warnings.warn(f"prompt {i} has {len(ids)} tokens; with {max_tokens} new ones it is longer than block_size "
                          f"{model.config.block_size}, so it is cut from the left", stacklevel=2)
    model.eval()
    answers = decode_many(model, encoded, Sampling(temperature=0), max_tokens, stop_ids={eot}, use_cache=False)
    return [tokenizer.decode(a).split("\n")[0].strip() for a in answers]


def exact_match(predictions: Sequence[str], examples: Sequence) -> dict[str, float]:
    """Share of exact (whitespace-trimmed) matches per task, and "all"; examples have .task and .response."""
    if len(predictions) != len(examples):
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} examples")
    by_task: dict[str, list[bool]] = {}
    for prediction, example in zip(predictions, examples):
        hit = prediction.strip() == example.response.strip()
        by_task.setdefault(example.task, []).append(hit)
        by_task.setdefault("all", []).append(hit)
    return {task: sum(hits) / len(hits) for task, hits in by_task.items()}


def perplexity_of_responses(model: nn.Module, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int, batch_size: int = 100) -> float:
    """exp(mean response-token loss) over `pairs`: lower means the model expects the right answers more."""
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            idx, targets = instruction_batch(pairs[i: i + batch_size], pad_id)
            logits, _ = model(idx)
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
            total += float(losses)
            count += int((targets != IGNORE_INDEX).sum())
    return math.exp(total / count)
