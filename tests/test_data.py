"""Tests for gptlab.data: shipped corpora, the Shakespeare cache, sources, and verified downloads."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections import Counter

import pytest
import torch

import gptlab.data as data
from gptlab.data import shakespeare
from gptlab.data.download import DOWNLOADS, Download, DownloadError


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module, so the plays are converted once, not once per test."""
    return tmp_path_factory.mktemp("gptlab-cache")


@pytest.fixture
def cache(shared_cache, monkeypatch):
    monkeypatch.setenv("GPTLAB_CACHE", str(shared_cache))
    return shared_cache


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path))
    return tmp_path


# ----- English (Shakespeare) ------------------------------------------------------------------------


def test_english_is_large_plain_speaker_text(cache):
    text = data.load_text("english")
    assert len(text.encode("utf-8")) >= 1_000_000
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")  # A Midsummer Night's Dream
    assert "\n\nFirst Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n" in text
    for markup in ("**", "_", "#", "\\[", "  \n"):
        assert markup not in text
    assert data.load_text("english") == text  # deterministic


def test_plays_have_titles_and_genres(cache):
    plays = data.plays()
    assert len(plays) == 38
    assert [play.title for play in plays] == sorted(play.title for play in plays)
    assert Counter(play.genre for play in plays) == {"comedy": 15, "tragedy": 12, "history": 11}
    by_title = {play.title: play for play in plays}
    assert by_title["Macbeth"].genre == "tragedy"
    assert by_title["Twelfth Night"].genre == "comedy"
    assert by_title["Richard III"].genre == "history"
    assert by_title["Measure for Measure"].category == "problems"
    assert all(len(play.text) > 50_000 and play.text.count(":\n") > 500 for play in plays)


def test_exclude_holds_out_whole_plays(cache):
    full = data.load_text("english")
    held_out = data.load_text("english", exclude=["Macbeth", "hamlet"])
    by_title = {play.title: play for play in data.plays()}
    assert by_title["Macbeth"].text not in held_out and by_title["Hamlet"].text not in held_out
    assert len(full) - len(held_out) == len(by_title["Macbeth"].text) + len(by_title["Hamlet"].text) + 2
    with pytest.raises(ValueError, match="exclude= names no play 'Macbeht'; the plays are: .*'Macbeth'"):
        data.load_text("english", exclude=["Macbeht"])


def test_plays_are_cached_and_reused(empty_cache, monkeypatch):
    calls = []
    real_parse = shakespeare.parse_plays
    monkeypatch.setattr(shakespeare, "parse_plays", lambda: calls.append(1) or real_parse())
    first = data.plays()
    assert calls == [1]
    cached = shakespeare.cache_path()
    assert cached.parent == empty_cache and cached.exists()
    mtime = cached.stat().st_mtime_ns
    second = data.plays()
    assert calls == [1]  # the second call read the cache and did not parse again
    assert second == first
    assert cached.stat().st_mtime_ns == mtime
    assert [p.name for p in empty_cache.iterdir()] == [cached.name]  # no temporary files left


def test_damaged_cache_is_rebuilt(empty_cache):
    shakespeare.cache_path().write_text("{half a json", encoding="utf-8")
    assert len(data.plays()) == 38


def test_markdown_to_text_worked_example():
    markdown = "# Macbeth\n\n## ACT I\n\n_Thunder_\n\n**ALL**  \nFair is foul,  \nand foul is fair.\n"
    assert shakespeare.markdown_to_text(markdown) == ("Macbeth", "ALL:\nFair is foul,\nand foul is fair.\n")
    markdown = (
        "**DUNCAN**  \nGo get him surgeons.\n\n_Exit Sergeant, attended_\n\nWho comes here?\n\n"
        "_Enter ROSS, with\nattendants_\n\n**ROSS**  \n_\\[Aside]_  \nGod save\\-- the king!\n"
    )
    assert shakespeare.markdown_to_text(markdown)[1] == "DUNCAN:\nGo get him surgeons.\nWho comes here?\n\nROSS:\nGod save-- the king!\n"


# ----- the other shipped corpora ------------------------------------------------------------------------


def test_chinese_sample_is_chinese():
    text = data.load_text("chinese")
    assert len(text.encode("utf-8")) > 5_000
    cjk = sum("\u4e00" <= char <= "\u9fff" for char in text)
    assert cjk / len(text) > 0.7


def test_small_samples():
    assert data.load_text("hello") == "hello world"
    multilingual = data.load_text("multilingual")
    for needle in ("안녕", "你好", "こんにちは", "\u200d", "    ", "\n\n\n", "def ", "1234567890"):
        assert needle in multilingual


def test_every_corpus_has_a_source_and_licence():
    sources = data.sources()
    assert set(sources) == set(data.CORPORA) == {"english", "kjv", "chinese", "hello", "multilingual", "tiny_shakespeare"}
    for name, source in sources.items():
        assert source.name == name
        assert source.origin and source.licence and source.description


def test_unknown_corpus_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown corpus 'klingon'; known corpora: english, kjv, chinese, hello, multilingual, tiny_shakespeare"):
        data.load_text("klingon")


# ----- downloads against a local server ------------------------------------------------------------------


GOOD = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\n" * 200).encode("utf-8")


class _Server:
    """An HTTP server on 127.0.0.1 that serves ``files`` and counts requests."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server(monkeypatch):
    files = {
        "/good.txt": GOOD,
        "/corrupt.txt": GOOD[:-5] + b"XXXXX",
        "/truncated.txt": GOOD[: len(GOOD) // 2],
    }
    running = _Server(files)
    running.thread.start()
    # The test stands in for tiny shakespeare: same name, its own small file and hash.
    monkeypatch.setitem(
        DOWNLOADS,
        "tiny_shakespeare",
        Download(
            url=running.url("/good.txt"),
            sha256=hashlib.sha256(GOOD).hexdigest(),
            size=len(GOOD),
            filename="tiny_shakespeare.txt",
            url_env_var="GPTLAB_TINY_SHAKESPEARE_URL",
        ),
    )
    monkeypatch.delenv("GPTLAB_TINY_SHAKESPEARE_URL", raising=False)
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def test_real_download_is_pinned():
    spec = DOWNLOADS["tiny_shakespeare"]
    assert spec.size == 1_115_394
    assert spec.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_download_verifies_caches_and_reuses(empty_cache, server):
    with pytest.raises(FileNotFoundError, match=r"gptlab\.data\.download\('tiny_shakespeare'\)"):
        data.load_text("tiny_shakespeare")
    path = data.download("tiny_shakespeare")
    assert path == empty_cache / "tiny_shakespeare.txt"
    assert path.read_bytes() == GOOD
    assert server.requests == ["/good.txt"]
    assert data.download("tiny_shakespeare") == path
    assert server.requests == ["/good.txt"]  # cached: no second request
    assert data.load_text("tiny_shakespeare") == GOOD.decode("utf-8")
    assert [p.name for p in empty_cache.iterdir()] == ["tiny_shakespeare.txt"]


def test_download_url_from_environment(empty_cache, server, monkeypatch):
    monkeypatch.setenv("GPTLAB_TINY_SHAKESPEARE_URL", server.url("/good.txt?mirror"))
    assert data.download("tiny_shakespeare").read_bytes() == GOOD
    assert server.requests == ["/good.txt?mirror"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/corrupt.txt", r"is corrupt: SHA-256 [0-9a-f]{64} does not match the expected"),
        ("/truncated.txt", rf"is truncated or wrong: got {len(GOOD) // 2:,} bytes, expected {len(GOOD):,}"),
        ("/missing.txt", r"could not download 'tiny_shakespeare' from http://127\.0\.0\.1:\d+/missing\.txt: HTTP Error 404"),
    ],
)
def test_bad_download_raises_and_leaves_nothing(empty_cache, server, path, message):
    with pytest.raises(DownloadError, match=message):
        data.download("tiny_shakespeare", url=server.url(path))
    assert list(empty_cache.iterdir()) == []


def test_unknown_download():
    with pytest.raises(ValueError, match="unknown downloadable corpus 'war_and_peace'; known: gpt2, tiny_shakespeare"):
        data.download("war_and_peace")


# ----- the King James Bible and mixtures (the shipped model's pretraining text) -----------------------------


def test_the_king_james_bible_is_66_books_of_plain_text_without_verse_numbers():
    import re

    from gptlab.data.kjv import books

    found = books()
    assert len(found) == 66 and found[0].name == "Genesis" and found[-1].name == "Revelation"
    assert found[0].text.splitlines()[4] == "In the beginning God created the heavens and the earth."
    text = data.load_text("kjv")
    assert 4_000_000 < len(text) < 4_400_000
    assert not re.search(r"\b\d+:\d+\b", text)
    assert "Chapter 150" in found[18].text  # the Psalms


def test_a_mixture_draws_by_weight_repeats_its_repeat_windows_and_is_fixed_by_its_seed():
    from gptlab.data.mixture import Mixture

    a, b = torch.arange(0, 1000), torch.arange(5000, 6000)
    mix = Mixture({"a": a, "b": b}, {"a": 3, "b": 1}, repeat_share=0.25)
    x, y = mix.get_batch(4000, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4000, 16) and torch.equal(x[:, 1:], y[:, :-1])
    from_a = (x[:, 0] < 1000).float().mean().item()
    assert abs(from_a - 0.75) < 0.03
    window = torch.cat([x, y[:, -1:]], dim=1)  # (B, 17)
    jumps = (window[:, 1:] - window[:, :-1]) != 1  # consecutive text goes up by 1 in these streams
    repeated = jumps.any(dim=1)
    assert abs(repeated.float().mean().item() - 0.25) < 0.03
    periods = jumps.float().argmax(dim=1)[repeated] + 1  # the length of the first copy
    for row, period in zip(window[repeated], periods.tolist()):
        assert torch.equal(row[period:], row[: 17 - period])  # every later token copies the one `period` back
    assert set(periods.tolist()) == set(range(8, 10))  # 8 (min_period) … 9 (half of 17 + 1): no single offset
    short = Mixture({"a": a}, repeat_share=1.0, min_period=2).get_batch(2000, 16, torch.Generator().manual_seed(1))[0]
    short_periods = ((short[:, 1:] - short[:, :-1]) != 1).float().argmax(dim=1) + 1
    assert set(short_periods.tolist()) == set(range(2, 10))
    noisy = Mixture({"a": a + 1000}, random_share=0.5, random_vocab=50)
    rows, _ = noisy.get_batch(2000, 16, torch.Generator().manual_seed(2))
    random_rows = rows.max(dim=1).values < 50                   # the stream's ids are 1000..1999 in order
    assert abs(random_rows.float().mean().item() - 0.5) < 0.05
    for row in rows[random_rows][:50]:
        period = next(p for p in range(8, 10) if torch.equal(row[p:], row[: 16 - p]))
        assert period in (8, 9)
    plain = Mixture({"a": a, "b": b}, {"a": 3, "b": 1}, repeat_share=0.25)   # random_share 0 draws as before
    assert torch.equal(plain.get_batch(4000, 16, torch.Generator().manual_seed(0))[0], x)
    with pytest.raises(ValueError, match="random_vocab"):
        Mixture({"a": a}, random_share=0.1)
    again, _ = mix.get_batch(4000, 16, torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    half, _ = mix.get_batch(4000, 16, torch.Generator().manual_seed(0), rank=1, world_size=2)
    assert torch.equal(half, x[2000:])


def test_the_shipped_recipe_trains_on_no_held_out_play_and_no_validation_text():
    from gptlab.training.recipes import RECIPES, pretraining_plays, prepare_data

    recipe = RECIPES["shipped"]
    held_out = set(data.held_out_titles())
    assert len(pretraining_plays()) == 29 and not held_out & {p.title for p in pretraining_plays()}
    tokenizer, source, val_ids = prepare_data(recipe)
    shakespeare = source.streams[source.names.index("shakespeare")]
    assert len(val_ids) == 67_572 and len(shakespeare) == 1_283_865  # the validation text of every recipe
    kjv = tokenizer.decode(source.streams[source.names.index("kjv")].tolist())
    val_text = tokenizer.decode(val_ids.tolist())
    for start in range(0, len(val_text) - 200, 20_000):  # no stretch of the validation text is in the Bible
        assert val_text[start:start + 200] not in kjv
