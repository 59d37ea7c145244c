"""Check for lesson 10's chat template: render_chat(messages), the text a chat server shows the model.

Taught in: solutions/10_fine_tuning.ipynb
"""

from __future__ import annotations

import random

from gptlab.course.checks.core import Case, CheckSpec, Mistake
from gptlab.course.checks.notebook import make_check
from gptlab.course.messages import say
from gptlab.topics.chat import END_OF_TURN, HEADERS, render_chat

WORDS = "thou art more lovely and temperate rough winds do shake the darling buds of may".split()


def _cases(seed: int) -> list[Case]:
    rng = random.Random(seed)

    def text(padded=False):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
        return f"  {words}\n" if padded else words

    def turn(role, padded=False):
        return {"role": role, "content": text(padded)}

    return [
        Case("one user message", ([turn("user")],)),
        Case("a system message, then the user", ([turn("system"), turn("user")],)),
        Case("an earlier answer in the conversation", ([turn("user"), turn("assistant"), turn("user")],)),
        Case("contents with spaces and newlines around them",
             ([turn("system", True), turn("user", True), turn("assistant", True), turn("user")],)),
        Case("two earlier answers", ([turn("user"), turn("assistant"), turn("user"), turn("assistant"), turn("user")],)),
    ]


def _mutant(end_every_turn=False, end_assistant=True, generation_prompt=True, separator="\n\n", strip=True,
            end_after_separator=False):
    def render(messages):
        text = ""
        for m in messages:
            content = m["content"].strip() if strip else m["content"]
            closes = end_every_turn or (end_assistant and m["role"] == "assistant")
            if end_after_separator:
                text += HEADERS[m["role"]] + content + separator + (END_OF_TURN if closes else "")
            else:
                text += HEADERS[m["role"]] + content + (END_OF_TURN if closes else "") + separator
        return text + (HEADERS["assistant"] if generation_prompt else "")

    return render


def _joined(messages):
    turns = [HEADERS[m["role"]] + m["content"].strip() + (END_OF_TURN if m["role"] == "assistant" else "")
             for m in messages]
    return "\n\n".join(turns + [HEADERS["assistant"]])


def _formatted(messages):
    out = []
    for message in messages:
        role, content = message["role"], message["content"].strip()
        out.append(f"### {role.capitalize()}:\n{content}{'<|endoftext|>' if role == 'assistant' else ''}\n\n")
    return "".join(out) + "### Assistant:\n"


check_render_chat = make_check(CheckSpec(
    exercise="render_chat",
    reference=render_chat,
    make_cases=_cases,
    mistakes=[
        Mistake("no-end-of-turn", _mutant(end_assistant=False),
                "the assistant's earlier answers are not closed by <|endoftext|>: that token is how the model learned "
                "where an answer ends, and the server stops there; put it right after each assistant message"),
        Mistake("every-turn-ended", _mutant(end_every_turn=True),
                "you closed every message with <|endoftext|>, the user's and the system's too: only the assistant's "
                "turns end with it (it is what the model must learn to write when its answer is done)"),
        Mistake("no-generation-prompt", _mutant(generation_prompt=False),
                "the text does not end with the assistant's header '### Assistant:\\n': without it the model does not "
                "know that it is its turn, and may write the user's next line instead"),
        Mistake("one-newline", _mutant(separator="\n"),
                "messages are separated by one newline; the template puts a blank line ('\\n\\n') after each message"),
        Mistake("not-stripped", _mutant(strip=False),
                "the contents are not stripped: spaces and newlines around a message change its tokens, so the model "
                "would read a prompt it was never trained on; use content.strip()"),
        Mistake("end-after-blank-line", _mutant(end_after_separator=True),
                "<|endoftext|> comes after the blank line; it belongs right after the answer's last word, where the "
                "model writes it"),
    ],
    variants=[_joined, _formatted],
    hints=[
        "For each message: its role's header, its content stripped, <|endoftext|> if the role is 'assistant', a "
        "blank line. At the end, the assistant's header alone.",
        "HEADERS maps a role to its header ('### User:\\n'); END_OF_TURN is '<|endoftext|>'. The result is one "
        "string; for [{'role': 'user', 'content': 'Hi'}] it is '### User:\\nHi\\n\\n### Assistant:\\n'.",
        "text += HEADERS[m['role']] + m['content'].strip() + (END_OF_TURN if m['role'] == 'assistant' else '') "
        "+ '\\n\\n'; then return text + HEADERS['assistant']",
    ],
    output="the prompt text",
))

# --- combined mistakes: no single hint matches, so the properties must say what is wrong ------------------------


def _chat_structure(case, expected, actual):
    """Count what the template is made of: the end-of-turn tokens, the blank lines, the final header."""
    if not isinstance(actual, str):
        return None
    if actual.count(END_OF_TURN) != expected.count(END_OF_TURN):
        return say("chat.end_of_turn", count=actual.count(END_OF_TURN), token=END_OF_TURN,
                   want=expected.count(END_OF_TURN))
    if not actual.endswith(HEADERS["assistant"]):
        return say("chat.header", header=HEADERS["assistant"], end=actual[-20:])
    if actual.count("\n\n") != expected.count("\n\n"):
        return say("chat.blank_lines", count=actual.count("\n\n"), want=expected.count("\n\n"))
    return None


check_render_chat.spec.properties += [_chat_structure]
check_render_chat.spec.combined += [
    _mutant(end_assistant=False, separator="\n"),        # no end-of-turn + one newline
    _mutant(strip=False, generation_prompt=False),       # not stripped + no generation prompt
]
