"""Optional corpora fetched over the network into the cache, verified by SHA-256.

Nothing in the default path of the course downloads anything; this is for
learners who want the classic *tiny shakespeare* file.

Taught in: solutions/01_tokens.ipynb
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .cache import _remove_quietly, cache_dir


@dataclass(frozen=True)
class Download:
    """Where a downloadable corpus comes from and what its bytes must hash to.

    Taught in: solutions/01_tokens.ipynb
    """

    url: str
    sha256: str
    size: int
    filename: str
    url_env_var: str  # set this environment variable to fetch from a mirror (or a test server)


DOWNLOADS = {
    "tiny_shakespeare": Download(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        size=1_115_394,
        filename="tiny_shakespeare.txt",
        url_env_var="GPTLAB_TINY_SHAKESPEARE_URL",
    ),
    # OpenAI's GPT-2 (124M) as Hugging Face publishes it; used by gptlab.io.download_gpt2, never by default.
    "gpt2": Download(
        url="https://huggingface.co/openai-community/gpt2/resolve/main/model.safetensors",
        sha256="248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
        size=548_105_171,
        filename="gpt2/model.safetensors",
        url_env_var="GPTLAB_GPT2_URL",
    ),
}


class DownloadError(RuntimeError):
    """A download failed, or its bytes are not the expected ones (nothing was cached).

    Taught in: solutions/01_tokens.ipynb
    """


def _spec(name: str) -> Download:
    if name not in DOWNLOADS:
        raise ValueError(f"unknown downloadable corpus {name!r}; known: {', '.join(sorted(DOWNLOADS))}")
    return DOWNLOADS[name]


def downloaded_path(name: str) -> Path:
    """Where :func:`download` puts ``name`` in the cache (the file may not exist yet).

    Example: ``downloaded_path('tiny_shakespeare') -> Path('~/.cache/gptlab/tiny_shakespeare.txt')``.

    Taught in: solutions/01_tokens.ipynb
    """
    return cache_dir() / _spec(name).filename


def download(name: str = "tiny_shakespeare", url: str | None = None, *, force: bool = False, timeout: float = 60.0) -> Path:
    """Fetch ``name`` into the cache and return its path; reuse the cached file if it is already there.

    The URL is, in order: the ``url`` argument, the corpus's environment variable
    (``GPTLAB_TINY_SHAKESPEARE_URL``), the default. The bytes go to a temporary
    file in the cache directory and only replace the final file once their size
    and SHA-256 match, so a failed, truncated or corrupt download leaves nothing
    behind and raises :class:`DownloadError`.

    Example: ``download('tiny_shakespeare') -> Path('~/.cache/gptlab/tiny_shakespeare.txt')`` (1,115,394 bytes).

    Taught in: solutions/01_tokens.ipynb
    """
    spec = _spec(name)
    target = downloaded_path(name)
    if target.exists() and not force:
        return target
    source = url or os.environ.get(spec.url_env_var) or spec.url
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as tmp:
            try:
                with urllib.request.urlopen(source, timeout=timeout) as response:
                    while chunk := response.read(1 << 16):
                        tmp.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
            except (urllib.error.URLError, OSError) as error:
                # http.client.IncompleteRead (a connection cut mid-body) is not an OSError.
                raise DownloadError(f"could not download {name!r} from {source}: {error}") from error
        if received != spec.size:
            raise DownloadError(
                f"download of {name!r} from {source} is truncated or wrong: got {received:,} bytes, "
                f"expected {spec.size:,}; nothing was cached, try again"
            )
        if digest.hexdigest() != spec.sha256:
            raise DownloadError(
                f"download of {name!r} from {source} is corrupt: SHA-256 {digest.hexdigest()} "
                f"does not match the expected {spec.sha256}; nothing was cached, try again"
            )
        os.replace(tmp_name, target)
    except BaseException as error:
        _remove_quietly(tmp_name)
        if isinstance(error, Exception) and not isinstance(error, (DownloadError, ValueError)):
            raise DownloadError(f"could not download {name!r} from {source}: {error!r}") from error
        raise
    return target
