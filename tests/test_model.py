"""The GPT model: shapes, parameter count, GPT-2 init, and GPT-2-format weights checked against Hugging Face."""

import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest
import torch

from gptlab.nn.model import count_parameters as reference_count_parameters
from gptlab.nn.model import GPT, GPTConfig, PRESETS
from gptlab.nn.gpt2 import CheckpointError, save_gpt2_directory

transformers = pytest.importorskip("transformers")


def tiny(**overrides):
    return GPTConfig(**{**dict(vocab_size=101, block_size=32, n_layer=3, n_head=4, n_embd=48), **overrides})


def test_gpt2_small_has_124_439_808_parameters_and_the_formula_agrees():
    assert GPT(GPTConfig.preset("gpt2")).num_params() == 124_439_808
    for name in PRESETS:
        if name.startswith("gpt2-"):
            continue  # medium and up are slow to build; the formula is checked on small and the tiny ones
        config = GPTConfig.preset(name)
        assert reference_count_parameters(config) == GPT(config).num_params()
    untied = tiny(tie_weights=False)
    assert GPT(untied).num_params() == reference_count_parameters(untied) == reference_count_parameters(tiny()) + 101 * 48


def test_weights_are_tied_and_initialised_like_gpt2():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=500, block_size=64, n_layer=8, n_head=4, n_embd=128))
    assert model.lm_head.weight is model.transformer.wte.weight
    assert abs(model.transformer.h[0].mlp.c_fc.weight.std().item() - 0.02) < 0.002
    assert abs(model.transformer.h[0].mlp.c_proj.weight.std().item() - 0.02 / (2 * 8) ** 0.5) < 0.001
    names = set(model.state_dict())
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight",
            "transformer.h.0.attn.c_attn.weight", "transformer.h.7.mlp.c_proj.bias", "transformer.ln_f.bias",
            "lm_head.weight"} <= names


def test_untrained_loss_is_about_ln_vocab():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    idx = torch.randint(0, 101, (8, 32))
    _, loss = model(idx, torch.randint(0, 101, (8, 32)))
    assert abs(loss.item() - torch.log(torch.tensor(101.0)).item()) < 0.05


def test_minus_100_targets_are_ignored():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    idx, targets = torch.randint(0, 101, (2, 10)), torch.randint(0, 101, (2, 10))
    masked = targets.clone()
    masked[:, :5] = -100
    logits, loss = model(idx, masked)
    expected = torch.nn.functional.cross_entropy(logits[:, 5:].reshape(-1, 101), targets[:, 5:].reshape(-1))
    torch.testing.assert_close(loss, expected)


def test_bad_input_is_a_clear_error():
    model = GPT(tiny())
    with pytest.raises(TypeError, match="integer token ids; got torch.float32"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"shape \(B, T\); got \(4,\)"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="33 tokens is longer than block_size 32"):
        model(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match=r"n_embd \(10\) must be divisible by n_head \(4\)"):
        GPTConfig(n_embd=10, n_head=4)


def hf_model(tmp_path: Path, **config):
    cfg = transformers.GPT2Config(vocab_size=101, n_positions=32, n_embd=48, n_layer=3, n_head=4,
                                  resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **config)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    model.save_pretrained(tmp_path)
    return model


@pytest.mark.parametrize("safe", [True, False])
def test_hugging_face_gpt2_loads_with_identical_logits_and_greedy_text(tmp_path, safe):
    hf = hf_model(tmp_path)
    if not safe:  # the older pytorch_model.bin format
        (tmp_path / "model.safetensors").unlink()
        torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    ours = GPT.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, 101, (3, 20))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, atol=1e-5, rtol=1e-5)
        prompt = idx[:1, :5]
        expected = hf.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0)
        greedy = prompt
        for _ in range(12):
            greedy = torch.cat([greedy, ours(greedy)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert greedy.tolist() == expected.tolist()


def test_a_gptlab_model_saved_in_gpt2_format_loads_in_hugging_face(tmp_path):
    torch.manual_seed(0)
    ours = GPT(tiny()).eval()
    save_gpt2_directory(ours, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, 101, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(hf(idx).logits, ours(idx)[0], atol=1e-5, rtol=1e-5)


def test_checkpoint_that_does_not_fit_the_config_names_the_tensor(tmp_path):
    hf_model(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["n_embd"] = 64
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"tensor transformer.wte.weight has shape \(101, 48\), but the config needs \(101, 64\)"):
        GPT.from_pretrained(tmp_path)


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin"])
def test_truncated_weights_name_the_file_not_a_traceback(tmp_path, name):
    hf = hf_model(tmp_path)
    if name == "pytorch_model.bin":
        (tmp_path / "model.safetensors").unlink()
        torch.save(hf.state_dict(), tmp_path / name)
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{name} is truncated"):
        GPT.from_pretrained(tmp_path)


def test_missing_or_foreign_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="has no config.json"):
        GPT.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="'bert' model, not GPT-2"):
        GPT.from_pretrained(tmp_path)


class _Server(http.server.ThreadingHTTPServer):
    payload = b""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.payload)))
        self.end_headers()
        self.wfile.write(self.server.payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback():
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_gpt2_download_is_cached_and_verified_over_loopback(tmp_path, monkeypatch, loopback):
    """The real file is 548 MB; the test serves a tiny GPT-2 built here, with its checksum swapped in."""
    import importlib

    from gptlab.io import download_gpt2 as download

    download_module = importlib.import_module("gptlab.data.download")  # the module, not the function of that name

    monkeypatch.setenv("GPTLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    source = tmp_path / "source"
    save_gpt2_directory(GPT(GPTConfig.preset("gpt2", n_layer=1, n_embd=48, n_head=4, vocab_size=50257, block_size=1024)), source)
    loopback.payload = (source / "model.safetensors").read_bytes()
    spec = download_module.DOWNLOADS["gpt2"]
    monkeypatch.setitem(download_module.DOWNLOADS, "gpt2", type(spec)(
        url=f"http://127.0.0.1:{loopback.server_address[1]}/model.safetensors",
        sha256=hashlib.sha256(loopback.payload).hexdigest(), size=len(loopback.payload),
        filename=spec.filename, url_env_var=spec.url_env_var))
    with pytest.raises(CheckpointError):  # the preset says 12 layers; this stand-in has 1: a clear mismatch
        GPT.from_pretrained(download())
    assert (tmp_path / "cache" / "gpt2" / "model.safetensors").stat().st_size == len(loopback.payload)

    loopback.payload = loopback.payload[:-10] + b"corrupted!"  # same size, wrong bytes
    (tmp_path / "cache" / "gpt2" / "model.safetensors").unlink()
    with pytest.raises(download_module.DownloadError, match="corrupt"):
        download()
    assert not (tmp_path / "cache" / "gpt2" / "model.safetensors").exists()
    assert [p.name for p in (tmp_path / "cache" / "gpt2").iterdir()] == ["config.json"]
