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

__all__ = ["END_OF_TURN", "HEADERS", "ROLES", "chat_example", "chat_pair", "check_messages", "instruction_messages", "make_chat_model", "render_chat"]


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


def make_chat_model(base=None, tokenizer=None, examples=None, *, steps: int = 400, batch_size: int = 16,
                    lr: float = 3e-3, seed: int = 0, save: bool = True, progress: bool = True):
    """The course's chat model: a copy of `base` (default: the small shipped model, load("small"), whose
    fine-tuning fits lesson 10's CPU budget) fine-tuned on `examples` (default:
    the instruction set's training split) written as chats, loss on the answers only. With save=True it is
    written to gptlab.io.checkpoint.default_path("chat"), where gptlab.io.load("chat") and `gptlab serve --model
    chat` find it. Returns (model, tokenizer, RunLog). About 15 s on 2 CPU cores with the defaults.

    Taught in: solutions/10_fine_tuning.ipynb
    """
    import copy

    import torch

    from gptlab.data.finetune_sets import instruction_examples
    from gptlab.io import load
    from gptlab.io.checkpoint import default_path, save_checkpoint
    from gptlab.topics.finetune import train_instructions

    if base is None:
        base, shipped_tokenizer = load("small")
        tokenizer = tokenizer or shipped_tokenizer
    if tokenizer is None:
        raise ValueError("pass the tokenizer of `base`")
    examples = instruction_examples("train") if examples is None else examples
    pairs = [chat_pair(tokenizer, instruction_messages(e)) for e in examples]
    model = copy.deepcopy(base)
    torch.manual_seed(seed)
    log = train_instructions(model, pairs, pad_id=tokenizer.special_tokens[END_OF_TURN], steps=steps,
                             batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    if save:
        save_checkpoint(default_path("chat"), model, tokenizer=tokenizer,
                        metadata={"made_by": "gptlab.topics.chat.make_chat_model", "template": "gptlab chat v1",
                                  "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed})
    return model, tokenizer, log
