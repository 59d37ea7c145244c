"""The lines `gptlab serve` prints, keyed like the course's messages, in English.

As for `gptlab train` (gptlab.training.messages): the library never imports the course, so the Chinese of these
lines lives in gptlab/course/locales/zh.py, gptlab.course.messages adds this table to its MESSAGES, and `gptlab`
(gptlab/cli.py) hands `cmd_serve` the course's say(), which speaks the learner's language ($GPTLAB_LANG).
Called on its own (`python -m gptlab.serve`), `cmd_serve` prints the English below.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "serve.no_key": "error: refusing to listen on {host} without an API key: anyone who can reach this machine could "
                    "use the model. Pass --api-key KEY (or set GPTLAB_API_KEY), or --insecure on a network you trust.",
    "serve.at_least_one": "error: --{option} must be >= 1",
    "serve.bad_port": "error: --port must be in 0..65535; got {port}",
    "serve.cannot_load": "error: cannot load the model {model!r}: {error}",
    "serve.insecure": "warning: listening on {host} with no API key (--insecure)",
    "serve.cannot_bind": "error: {error}",
    "serve.serving": "Serving {name!r} ({params:,} parameters) at http://{host}:{port}/v1 — "
                     "OpenAI(base_url='http://{host}:{port}/v1', api_key=...); chat in a browser at "
                     "http://{host}:{port}/ . Ctrl-C stops it.",
}


def say(key: str, **fields) -> str:
    """The English line `key`, filled in (the course's say() is the same in the learner's language)."""
    return MESSAGES[key].format(**fields)
