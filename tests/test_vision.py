"""Lesson 13's package code: patches and their inverse, the ViT, the pixel sequences, the errors a learner meets."""

import pytest
import torch
import torch.nn.functional as F

from gptlab.topics.vision import model as vision
from gptlab.topics.vision import data as vision_data
from gptlab.nn.model import GPT, GPTConfig


@pytest.fixture(scope="module")
def digits():
    return vision_data.load_digits()


@pytest.fixture(autouse=True)
def one_thread():
    """As the lesson does: these models are tiny, and two threads on a busy 2-core machine are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- patchify --------------------------------------------------------------------------------------


def test_patchify_worked_example():
    image = torch.arange(16.0).view(1, 1, 4, 4)
    expected = torch.tensor([[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]], dtype=torch.float32)
    torch.testing.assert_close(vision.patchify(image, 2)[0], expected)
    assert vision.patchify(image, 4)[0].tolist() == [list(range(16))]  # one patch: the image row by row
    assert vision.patchify(image, 1)[0].flatten().tolist() == list(range(16))  # one pixel per patch


def test_patchify_orders_channels_first_like_unfold_and_inverts():
    images = torch.rand(3, 3, 6, 9)
    patches = vision.patchify(images, 3)
    assert patches.shape == (3, 6, 27)
    torch.testing.assert_close(patches, F.unfold(images, 3, stride=3).transpose(1, 2))
    torch.testing.assert_close(patches[0, 0, :9], images[0, 0, :3, :3].flatten())  # channel 0's pixels first
    torch.testing.assert_close(vision.unpatchify(patches, 3, 6, 9), images)


@pytest.mark.parametrize("shape,patch,message", [
    ((1, 1, 7, 8), 2, r"7×8 pixels cannot be cut into 2×2 patches: the height 7 is not divisible by 2"),
    ((1, 1, 8, 6), 4, r"the width 6 is not divisible by 4"),
    ((8, 8), 2, r"must have shape \(B, C, H, W\); got \(8, 8\).*images\[None, None\]"),
    ((1, 1, 8, 8), 0, r"patch_size must be a positive int"),
])
def test_patchify_bad_input_is_explained(shape, patch, message):
    with pytest.raises(ValueError, match=message):
        vision.patchify(torch.rand(*shape), patch)


def test_unpatchify_refuses_a_wrong_size():
    with pytest.raises(ValueError, match="do not make 8×8 images"):
        vision.unpatchify(torch.rand(1, 5, 4), 2, 8, 8)


# --- the ViT ---------------------------------------------------------------------------------------


def test_vit_shapes_and_attention_maps():
    torch.manual_seed(0)
    model = vision.ViT(image_size=8, patch_size=2, channels=3, n_classes=7, d_model=32, n_layer=3, n_heads=4)
    images = torch.rand(5, 3, 8, 8)
    assert model(images).shape == (5, 7)
    maps = model.attention_maps(images)
    assert len(maps) == 3 and maps[0].shape == (5, 4, 17, 17)
    torch.testing.assert_close(maps[-1].sum(-1), torch.ones(5, 4, 17))
    assert not model.blocks[0].attn.causal
    assert (maps[0][..., 0, 1:] > 0).all()  # the class token sees every patch: no causal mask hides them


def test_vit_is_non_causal_a_late_patch_changes_the_class_token():
    torch.manual_seed(0)
    model = vision.ViT().eval()
    images = torch.rand(2, 1, 8, 8)
    changed = images.clone()
    changed[:, :, 4:, 4:] += 1.0  # only the last patch
    assert not torch.allclose(model(images), model(changed))


def test_vit_uses_the_package_class_token_function():
    torch.manual_seed(0)
    model = vision.ViT().eval()
    images = torch.rand(3, 1, 8, 8)
    x = model.patch_embed(vision.patchify(images, 4)) + model.pos_embed
    torch.testing.assert_close(model(images), vision.classify_with_class_token(x, model.cls_token, model.encode, model.head))


@pytest.mark.parametrize("shape,message", [
    ((2, 3, 8, 8), r"reads images with 1 channel\(s\); got 3"),
    ((2, 1, 12, 12), r"reads 8×8 images .*got 12×12"),
    ((2, 1, 8, 6), r"not divisible by 4"),
    ((2, 8, 8), r"must have shape \(B, C, H, W\).*images\[:, None\]"),
])
def test_vit_bad_input_is_explained(shape, message):
    with pytest.raises(ValueError, match=message):
        vision.ViT()(torch.rand(*shape))


def test_class_token_shape_is_checked():
    with pytest.raises(ValueError, match=r"cls_token must have shape \(1, 1, 8\)"):
        vision.classify_with_class_token(torch.rand(2, 4, 8), torch.rand(8), lambda z: z, lambda z: z)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_vit_reaches_95_percent_whatever_the_seed(digits, seed):
    """The lesson's recipe, unchanged but for the seed (about 5-15 s each on 2 CPU cores)."""
    torch.manual_seed(seed)
    model = vision.ViT(image_size=8, patch_size=4, channels=1, n_classes=10, d_model=64, n_layer=2, n_heads=4)
    vision.train_classifier(model, digits.train_images, digits.train_labels, steps=200, batch_size=128, lr=3e-3, seed=seed)
    assert vision.accuracy(model, digits.test_images, digits.test_labels) >= 0.95


def test_random_shift_moves_each_image_by_at_most_one_pixel_and_fills_with_paper():
    image = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    padded = F.pad(image, (1, 1, 1, 1))
    every_shift = [padded[..., top:top + 4, left:left + 4] for top in range(3) for left in range(3)]
    shifted = vision.random_shift(image.expand(200, 1, 4, 4), 1, torch.Generator().manual_seed(0))
    assert shifted.shape == (200, 1, 4, 4)
    which = [next(i for i, s in enumerate(every_shift) if torch.equal(s[0], one)) for one in shifted]  # each is one of the 9
    assert sorted(set(which)) == list(range(9))  # and all 9 occur
    assert torch.equal(every_shift[4], image)  # the middle crop is the image itself
    assert every_shift[0][0, 0, 0].tolist() == [0, 0, 0, 0] and every_shift[0][0, 0, 1].tolist() == [0, 1, 2, 3]  # moved down and right
    again = vision.random_shift(image.expand(200, 1, 4, 4), 1, torch.Generator().manual_seed(0))
    assert torch.equal(again, shifted)
    assert torch.equal(vision.random_shift(image, 0), image)
    with pytest.raises(ValueError, match="max_shift must be an int >= 0"):
        vision.random_shift(image, -1)


def test_train_classifier_augments_every_batch_and_without_augment_is_unchanged(digits):
    images, labels = digits.train_images[:64], digits.train_labels[:64]
    seen = []

    def record(batch, generator):
        seen.append(batch.shape)
        return vision.random_shift(batch, 1, generator)

    runs = []
    for augment in (None, lambda batch, generator: batch, record):
        torch.manual_seed(0)
        model = vision.ViT(d_model=16, n_layer=1, n_heads=2)
        runs.append(vision.train_classifier(model, images, labels, steps=5, batch_size=16, seed=0, augment=augment,
                                            progress=False))
    assert runs[0] == runs[1]  # an augment that draws nothing leaves the run as it was
    assert seen == [(16, 1, 8, 8)] * 5 and runs[2] != runs[0]


# --- the data and the pixel sequences ---------------------------------------------------------------


def test_digits_split_is_fixed_and_stratified(digits):
    assert digits.train_images.shape == (1347, 1, 8, 8) and digits.test_images.shape == (450, 1, 8, 8)
    assert 0.0 == digits.train_images.min() and digits.train_images.max() == 1.0
    again = vision_data.load_digits()
    assert torch.equal(again.test_labels, digits.test_labels)
    train_share = torch.bincount(digits.train_labels, minlength=10) / 1347
    test_share = torch.bincount(digits.test_labels, minlength=10) / 450
    assert (train_share - test_share).abs().max() < 0.01


def test_pixel_sequence_round_trip(digits):
    images, labels = digits.train_images[:50], digits.train_labels[:50]
    for levels in (2, 4, 17):
        tokens = vision_data.to_sequences(images, labels, levels=levels)
        assert tokens.shape == (50, 65) and tokens.dtype == torch.int64
        assert torch.equal(tokens[:, 0], levels + labels)
        assert tokens[:, 1:].max() < levels
        back, labels_back = vision_data.from_sequences(tokens, levels=levels)
        assert torch.equal(labels_back, labels)
        assert (back - images).abs().max() <= 0.5 / (levels - 1) + 1e-6
        assert torch.equal(vision_data.to_sequences(back, labels_back, levels=levels), tokens)  # exact once quantised
    torch.testing.assert_close(vision_data.from_sequences(vision_data.to_sequences(images, levels=17), levels=17)[0], images)


def test_unconditioned_sequences_start_with_the_any_digit_token():
    tokens = vision_data.to_sequences(torch.zeros(3, 1, 8, 8), levels=4)
    assert tokens[:, 0].tolist() == [14, 14, 14] and vision_data.vocab_size(4) == 15
    assert vision_data.any_digit_token(4) == 14 == vision_data.vocab_size(4) - 1  # the last id of the vocabulary
    assert vision_data.from_sequences(tokens, levels=4)[1].tolist() == [-1, -1, -1]


def test_pixel_sequence_bad_input_is_explained():
    with pytest.raises(ValueError, match=r"pixel values must lie in \[0, 1\]"):
        vision_data.quantize(torch.full((1, 1, 8, 8), 16.0))
    with pytest.raises(ValueError, match="one grey channel"):
        vision_data.to_sequences(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"labels must be 2 ints in 0 … 9"):
        vision_data.to_sequences(torch.rand(2, 1, 8, 8), torch.tensor([3, 10]))
    with pytest.raises(ValueError, match=r"grey levels 0 … 3"):
        vision_data.from_sequences(torch.full((1, 65), 7), levels=4)


def test_language_model_batch_shifts_by_one():
    x, y = vision_data.language_model_batch(torch.arange(10).view(1, 10))
    assert x.tolist() == [list(range(9))] and y.tolist() == [list(range(1, 10))]


def test_pixel_gpt_trains_a_little_and_samples_only_grey_levels(digits):
    torch.manual_seed(0)
    sequences = vision_data.to_sequences(digits.train_images, digits.train_labels, levels=4)
    model = GPT(GPTConfig(vocab_size=vision_data.vocab_size(4), block_size=64, n_layer=1, n_head=2, n_embd=16))
    losses = vision_data.train_pixel_gpt(model, sequences, steps=12, batch_size=8, lr=1e-2)
    assert sum(losses[-3:]) / 3 < losses[0]
    drawn = vision_data.sample_pixels(model, torch.tensor([4, 13]), levels=4, generator=torch.Generator().manual_seed(0))
    assert drawn.shape == (2, 65) and drawn[:, 0].tolist() == [4, 13]
    assert 0 <= drawn[:, 1:].min() and drawn[:, 1:].max() < 4


def test_drop_condition_replaces_a_share_of_the_start_tokens_only(digits):
    sequences = vision_data.to_sequences(digits.train_images, digits.train_labels, levels=4)
    many = sequences.repeat(8, 1)  # 10,776 rows
    dropped = vision_data.drop_condition(many, 0.1, levels=4, generator=torch.Generator().manual_seed(0))
    is_any = dropped[:, 0] == 14
    assert 0.09 < is_any.float().mean().item() < 0.11
    assert torch.equal(dropped[~is_any], many[~is_any]) and torch.equal(dropped[:, 1:], many[:, 1:])  # pixels untouched
    assert torch.equal(vision_data.drop_condition(sequences, 0.0, levels=4), sequences)
    assert (vision_data.drop_condition(sequences, 1.0, levels=4)[:, 0] == 14).all()
    again = vision_data.drop_condition(many, 0.1, levels=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, dropped)
    with pytest.raises(ValueError, match="share must be between 0 and 1"):
        vision_data.drop_condition(sequences, 1.5)
    with pytest.raises(ValueError, match=r"start tokens must be 17 … 27 .*levels=17"):
        vision_data.drop_condition(sequences, 0.1, levels=17)  # made with 4 levels, dropped as if 17


class RecordingGPT(GPT):
    """A GPT that notes the start token of every sequence it is trained on."""

    def forward(self, idx, targets=None, caches=None):
        if targets is not None:
            self.starts.append(idx[:, 0].clone())
        return super().forward(idx, targets, caches)


@pytest.mark.parametrize("unconditioned", [0.1, 0.0])
def test_train_pixel_gpt_trains_the_any_digit_token_on_a_share_of_each_batch(digits, unconditioned):
    torch.manual_seed(0)
    sequences = vision_data.to_sequences(digits.train_images, digits.train_labels, levels=4)
    model = RecordingGPT(GPTConfig(vocab_size=vision_data.vocab_size(4), block_size=64, n_layer=1, n_head=2, n_embd=16))
    model.starts = []
    vision_data.train_pixel_gpt(model, sequences, levels=4, steps=20, batch_size=32, unconditioned=unconditioned,
                                seed=0, progress=False)
    starts = torch.cat(model.starts)  # 640 sequences
    assert starts.shape == (640,) and 4 <= starts.min() and starts.max() <= 14
    share = (starts == 14).float().mean().item()
    if unconditioned:
        assert 0.06 < share < 0.14  # about a tenth of the 640 (one standard error is 1.2 %)
        assert len(set(starts[starts != 14].tolist())) == 10  # the others still say which digit
    else:
        assert share == 0.0


def test_train_pixel_gpt_refuses_sequences_made_with_other_levels(digits):
    sequences = vision_data.to_sequences(digits.train_images[:8], digits.train_labels[:8], levels=4)
    model = GPT(GPTConfig(vocab_size=vision_data.vocab_size(17), block_size=64, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match=r"start tokens must be 17 … 27 .*to_sequences\(\.\.\., levels=17\)"):
        vision_data.train_pixel_gpt(model, sequences, levels=17, steps=1, progress=False)


def test_guidance_mixes_the_conditioned_and_unconditioned_logits():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vision_data.vocab_size(4), block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    idx = torch.cat([torch.tensor([[7], [14]]), torch.randint(0, 4, (2, 10))], dim=1)  # "draw a 3", "draw any digit"
    free = idx.clone()
    free[:, 0] = 14
    with torch.no_grad():
        conditioned, unconditioned = model(idx)[0], model(free)[0]
        torch.testing.assert_close(vision_data.Guided(model, 1.0)(idx)[0], conditioned)
        torch.testing.assert_close(vision_data.Guided(model, 0.0)(idx)[0], unconditioned)
        torch.testing.assert_close(vision_data.Guided(model, 3.0)(idx)[0], unconditioned + 3 * (conditioned - unconditioned))
        torch.testing.assert_close(vision_data.Guided(model, 3.0)(idx)[0][1], conditioned[1])  # "any digit" rows: unchanged
    drawn = vision_data.sample_pixels(model, torch.tensor([4, 13, 14]), levels=4, guidance=2.0,
                                      generator=torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 65) and drawn[:, 0].tolist() == [4, 13, 14] and drawn[:, 1:].max() < 4
    with pytest.raises(ValueError, match="must begin with its start token"):
        vision_data.Guided(model, 2.0)(torch.randint(0, 4, (1, 5)))

