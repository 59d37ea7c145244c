"""The course's chat template: a conversation of system / user / assistant messages as one text, and where the loss goes.

    render_chat([{"role": "user", "content": "Who speaks?\\nROMEO: But soft"}])
    == "### User:\\nWho speaks?\\nROMEO: But soft\\n\\n### Assistant:\\n"

A language model reads one stream of tokens, so a chat is written as text with a header per message:

    ### System:            (optional, first)
    You answer briefly.

    ### User:
    Who speaks?
    ROMEO: But soft

    ### Assistant:
    ROMEO<|endoftext|>

Each assistant message ends with the <|endoftext|> token: the model learns to write it when its answer is done,
and the server stops there. Training (lesson 10) computes the loss on the assistant's tokens and that final
<|endoftext|> only (`chat_example`): the model learns to answer, not to write the user's questions. The
server (lesson 12) renders the conversation, then appends the empty assistant header for the model to
continue (`add_generation_prompt`). The headers are plain text, so the course's tokenizer needs no new tokens.

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ROLES = ("system", "user", "assistant")
HEADERS = {"system": "### System:\n", "user": "### User:\n", "assistant": "### Assistant:\n"}
END_OF_TURN = "<|endoftext|>"
IGNORE_INDEX = -100  # positions whose target is this are left out of the loss (F.cross_entropy's ignore_index)

__all__ = ["CHAT_RECIPE", "END_OF_TURN", "HEADERS", "ROLES", "chat_example", "chat_exact_match", "chat_pair", "chat_training_examples",
           "check_messages", "instruction_messages", "make_chat_model", "render_chat", "tune_chat"]


def check_messages(messages: Sequence[Mapping]) -> list[tuple[str, str]]:
    """(role, content) pairs, or ValueError naming the message that is not a chat message the template can write.

    Roles are system, user and assistant ("developer", OpenAI's newer name for system, is read as system); a
    system message may only come first; content is a string.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...}")
    pairs = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            raise ValueError(f"messages[{i}] must have a 'role' and a 'content'; got {str(message)[:80]!r}")
        role = "system" if message["role"] == "developer" else message["role"]
        if role not in ROLES:
            raise ValueError(f"messages[{i}].role must be one of {', '.join(ROLES)}; got {message['role']!r}")
        if role == "system" and i != 0:
            raise ValueError(f"messages[{i}]: a system message may only come first")
        if not isinstance(message["content"], str):
            raise ValueError(f"messages[{i}].content must be a string; got {type(message['content']).__name__}")
        pairs.append((role, message["content"]))
    return pairs


def render_chat(messages: Sequence[Mapping], *, add_generation_prompt: bool = True) -> str:
    """The conversation as the model reads it: a header per message, each assistant message closed by
    <|endoftext|>, messages separated by a blank line; then (add_generation_prompt) the assistant's header.

    Example: ``render_chat([{"role": "user", "content": "Hi"}]) -> '### User:\\nHi\\n\\n### Assistant:\\n'``.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    text = ""
    for role, content in check_messages(messages):
        text += HEADERS[role] + content.strip() + (END_OF_TURN if role == "assistant" else "") + "\n\n"
    return text + (HEADERS["assistant"] if add_generation_prompt else "")


def chat_example(tokenizer, messages: Sequence[Mapping]) -> tuple[list[int], list[int]]:
    """(ids, targets) for training on a conversation whose last message is the assistant's answer.

    ids = the tokens of the prompt the server will show the model (render_chat of the earlier messages, with the
    assistant's header), then the answer's tokens and <|endoftext|>. targets[t] is ids[t + 1] where that token
    is part of the answer (its text and its <|endoftext|>), IGNORE_INDEX everywhere else: the loss teaches the
    answer only, and the prompt is tokenized exactly as it will be when the model is served.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    prompt, answer = chat_pair(tokenizer, messages)
    ids = prompt + answer
    targets = [IGNORE_INDEX] * (len(prompt) - 1) + answer + [IGNORE_INDEX]
    return ids, targets


def chat_pair(tokenizer, messages: Sequence[Mapping]) -> tuple[list[int], list[int]]:
    """(prompt ids, answer ids + <|endoftext|>) of a conversation ending with the assistant's answer: the pairs
    that gptlab.topics.finetune.instruction_batch and train_instructions take (loss on the answer only).

    Taught in: solutions/10_fine_tuning.ipynb
    """
    pairs = check_messages(messages)
    if pairs[-1][0] != "assistant":
        raise ValueError("a training conversation must end with the assistant's message (the answer to learn)")
    eot = tokenizer.special_tokens[END_OF_TURN]
    prompt = tokenizer.encode(render_chat(messages[:-1]), allowed_special="all")
    return prompt, tokenizer.encode(pairs[-1][1].strip()) + [eot]


def instruction_messages(example, answer: bool = True) -> list[dict]:
    """An instruction example (gptlab.data.finetune_sets.Instruction) as a chat: the user asks the instruction
    with its input on the next line; with answer=True the assistant's response follows.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    messages = [{"role": "user", "content": f"{example.instruction}\n{example.input}"}]
    if answer:
        messages.append({"role": "assistant", "content": example.response})
    return messages


# The recipe of the chat model that ships (gptlab/weights/chat.safetensors, load("shipped-chat")): the shipped
# model fine-tuned on ten draws of the instruction set's training split (40,000 chats) — measured offline, one
# draw (4000) is learned by heart by step 600 and plateaus near 0.5 exact match (gptlab/weights/README.md).
CHAT_RECIPE = {"base": "shipped", "draws": 10, "steps": 3000, "batch_size": 32, "lr": 1e-3, "warmup_steps": 100,
               "min_lr": 1e-4, "seed": 0}


def chat_training_examples(draws: int = 1) -> list:
    """The instruction set's training split drawn `draws` times with seeds 0, 1, ... (4000 chats per draw): the
    same tasks and the same 29 pretraining plays, new word choices and speeches each draw.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    from gptlab.data.finetune_sets import instruction_examples

    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be an int >= 1; got {draws!r}")
    return [e for seed in range(draws) for e in instruction_examples("train", seed=seed)]


def chat_exact_match(model, tokenizer, examples, max_tokens: int = 10) -> dict[str, float]:
    """Exact match of a chat model's greedy answers to `examples` asked as chats (instruction_messages), per task
    and "all": what lesson 10 reports and lesson 12 asks again through chat.completions.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    from gptlab.topics.finetune import exact_match, respond

    prompts = [render_chat(instruction_messages(e, answer=False)) for e in examples]
    return exact_match(respond(model, tokenizer, prompts, max_tokens=max_tokens), examples)


def tune_chat(model, tokenizer, examples, *, steps: int, batch_size: int = 16, lr: float = 3e-3,
              warmup_steps: int = 0, min_lr: float | None = None, max_norm: float | None = 1.0, eval_every: int = 0,
              eval_examples=None, seed: int = 0, progress: bool = True, lora_b_lr_factor: float = 1.0):
    """Fine-tune `model` in place on `examples` written as chats, loss on the answers only; returns a RunLog.

    AdamW at `lr` (constant; with warmup_steps and min_lr: linear warm-up, then cosine decay to min_lr), batches
    drawn as gptlab.topics.finetune.train_instructions draws them, gradients clipped to max_norm (None: not
    clipped, as train_instructions does). With eval_every and
    eval_examples, log.evals holds (step, chat_exact_match) every eval_every steps and at the end.
    lora_b_lr_factor: the learning rate of LoRA's B matrices (parameters named "*.B") over the others' (LoRA+;
    benchmarks/lora_chat.py measures it).

    Taught in: solutions/10_fine_tuning.ipynb
    """
    import math
    import time

    import torch

    from gptlab.topics.finetune import RunLog, _batches, instruction_batch
    from gptlab.training.loop import optimise

    if not examples:
        raise ValueError("no training examples")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}")
    pairs = [chat_pair(tokenizer, instruction_messages(e)) for e in examples]
    pad = tokenizer.special_tokens[END_OF_TURN]
    floor = lr if min_lr is None else min_lr

    def factor(step: int) -> float:
        if min_lr is None and not warmup_steps:
            return 1.0
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress_ = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
        return (floor + 0.5 * (1 + math.cos(math.pi * progress_)) * (lr - floor)) / lr

    if not lora_b_lr_factor > 0:
        raise ValueError(f"lora_b_lr_factor must be > 0; got {lora_b_lr_factor!r}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    # LoRA+ (Hayou et al., 2024): the adapters' B matrices learn lora_b_lr_factor times faster than the rest
    b_params = [p for name, p in named if name.endswith(".B")] if lora_b_lr_factor != 1.0 else []
    rest = [p for p in params if all(p is not b for b in b_params)]
    groups = [{"params": rest, "lr": lr}] + ([{"params": b_params, "lr": lr * lora_b_lr_factor}] if b_params else [])
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    log, start = RunLog(), time.perf_counter()
    batches = iter(_batches(len(pairs), batch_size, steps, seed))
    chunk = eval_every if eval_every and eval_examples is not None else steps
    done = 0
    while done < steps:
        n = min(chunk, steps - done)
        model.train()
        losses = (model(*instruction_batch([pairs[i] for i in next(batches).tolist()], pad))[1] for _ in range(n))
        log.losses += optimise(optimizer, losses, schedule=schedule, clip_params=params if max_norm else None,
                               max_norm=max_norm or 1.0, steps=n, progress=progress,
                               desc=f"chat fine-tuning {done + n}/{steps}")
        done += n
        model.eval()
        if eval_examples is not None and eval_every:
            log.evals.append((done, chat_exact_match(model, tokenizer, eval_examples)))
    log.seconds, log.steps = time.perf_counter() - start, steps
    return log


def make_chat_model(base=None, tokenizer=None, examples=None, *, steps: int = 400, batch_size: int = 16,
                    lr: float = 3e-3, seed: int = 0, save: bool = True, progress: bool = True):
    """A chat model made in lesson 10's budget: a copy of `base` (default: the small shipped model, load("small"),
    whose fine-tuning fits a lesson on a CPU) fine-tuned on `examples` (default: the instruction set's training
    split) written as chats, loss on the answers only. With save=True it is written to
    gptlab.io.checkpoint.default_path("chat"), where gptlab.io.load("chat") and `gptlab serve --model chat` find
    it. Returns (model, tokenizer, RunLog). About 15 s on 2 CPU cores with the defaults. The chat model that ships
    (load("shipped-chat")) is the same idea at CHAT_RECIPE's scale (`gptlab chat-tune`).

    Taught in: solutions/10_fine_tuning.ipynb
    """
    import copy

    import torch

    from gptlab.data.finetune_sets import instruction_examples
    from gptlab.io import load
    from gptlab.io.checkpoint import default_path, save_checkpoint

    if base is None:
        base, shipped_tokenizer = load("small")
        tokenizer = tokenizer or shipped_tokenizer
    if tokenizer is None:
        raise ValueError("pass the tokenizer of `base`")
    examples = instruction_examples("train") if examples is None else examples
    model = copy.deepcopy(base)
    torch.manual_seed(seed)
    log = tune_chat(model, tokenizer, examples, steps=steps, batch_size=batch_size, lr=lr, max_norm=None, seed=seed,
                    progress=progress)  # the lesson's instruction tuning, written as chats: no clipping there either
    if save:
        save_checkpoint(default_path("chat"), model, tokenizer=tokenizer,
                        metadata={"made_by": "gptlab.topics.chat.make_chat_model", "template": "gptlab chat v1",
                                  "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed})
    return model, tokenizer, log
