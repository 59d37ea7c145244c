"""The training recipes of `gptlab train`: one table that the command, the benchmarks and the docs read.

    from gptlab.training.recipes import RECIPES, prepare_data
    recipe = RECIPES["shipped"]                 # the model the course ships (gptlab/weights/README.md)
    tokenizer, train_source, val_ids = prepare_data(recipe)

A recipe is the model's shape, the optimiser's settings and the data: which corpora, mixed by which
weights, with which share of repeat windows (gptlab.data.mixture). Changing a value here changes what
`gptlab train --recipe NAME` reproduces; the shipped model records the recipe it was made with.

Every recipe holds out the same text: the nine plays of gptlab.data.FINETUNE_SPLITS (lesson 10 measures
on them) and the last `val_fraction` of the other plays' tokens (the validation text, the same for every
recipe, so their losses compare). The tokenizer is trained on the pretraining plays only, in every recipe.

Taught in: solutions/07_pretraining.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    model: dict  # GPTConfig fields (ModernConfig fields when architecture is "ModernGPT"), on top of `preset`'s
    train: dict  # TrainConfig fields
    corpora: dict = field(default_factory=lambda: {"shakespeare": 1.0})  # stream -> weight
    repeat_share: float = 0.0
    random_share: float = 0.0  # windows of random ids repeated (gptlab.data.mixture): copying that text cannot explain
    val_fraction: float = 0.05
    preset: str | None = None  # a GPTConfig preset the model starts from (read when the recipe is used)
    architecture: str = "GPT"  # "GPT" (gptlab.nn.model) or "ModernGPT" (gptlab.nn.modern_model, lesson 14)
    # A last phase after train["steps"]: dict(steps, lr, repeat_share, random_share): that many more steps at the
    # constant lr, on the same corpora with these shares of repeat windows, continuing the optimizer (None: no phase)
    finish: dict | None = None

    def model_config(self) -> dict:
        """Every GPTConfig field the recipe sets: its preset's, then its own."""
        if self.preset is None:
            return dict(self.model)
        from gptlab.nn.model import PRESETS  # here, not at import: `gptlab train --help` must not import torch

        return {**PRESETS[self.preset], **self.model}

    def build(self, **overrides):
        """A freshly initialised model of the recipe's architecture and shape (overrides: config fields)."""
        if self.architecture == "ModernGPT":
            from gptlab.nn.modern_model import ModernConfig, ModernGPT

            return ModernGPT(ModernConfig(**{**self.model_config(), **overrides}))
        from gptlab.nn.model import GPT, GPTConfig

        return GPT(GPTConfig(**{**self.model_config(), **overrides}))

    def finishing(self) -> "Recipe | None":
        """The recipe of the last phase (its train["steps"] is where it ends, counted from step 0), or None."""
        if not self.finish:
            return None
        from dataclasses import replace

        unknown = set(self.finish) - {"steps", "lr", "repeat_share", "random_share"}
        if unknown or not isinstance(self.finish.get("steps"), int) or self.finish["steps"] < 1:
            raise ValueError(f"recipe {self.name!r}: finish needs steps (an int >= 1), lr, repeat_share and random_share; "
                             f"got {self.finish}")
        lr = self.finish.get("lr", self.train["min_lr"])
        train = {**self.train, "steps": self.train["steps"] + self.finish["steps"], "lr": lr, "min_lr": lr,
                 "warmup_steps": 0}
        return replace(self, train=train, finish=None,
                       repeat_share=self.finish.get("repeat_share", self.repeat_share),
                       random_share=self.finish.get("random_share", self.random_share))

    @property
    def vocab_size(self) -> int:
        return self.model_config()["vocab_size"]


RECIPES: dict[str, Recipe] = {
    "shipped": Recipe(
        name="shipped",
        summary="the course's model: 6 layers x 8 heads x 256 wide (5.3 M parameters), Shakespeare and the King James "
                "Bible, 10% repeat windows, 2400 steps of 32 x 256 tokens, then 400 steps at lr 4e-4 with 30% text and "
                "10% random-id repeat windows (22.9 M tokens in all)",
        model=dict(vocab_size=2048, block_size=256, n_layer=6, n_head=8, n_embd=256, dropout=0.0),
        train=dict(steps=2400, batch_size=32, lr=2e-3, min_lr=2e-4, warmup_steps=100, weight_decay=0.1, grad_clip=1.0,
                   eval_every=100, eval_batches=10, seed=1337),
        corpora={"shakespeare": 0.6, "kjv": 0.4},
        repeat_share=0.1,
        finish=dict(steps=400, lr=4e-4, repeat_share=0.3, random_share=0.1),
    ),
    "small": Recipe(
        name="small",
        summary="the first shipped model (until course 0.2): 4 layers x 4 heads x 128 wide (1.09 M parameters), "
                "Shakespeare only, 1000 steps of 16 x 256 tokens (4.1 M tokens); about 5 minutes on 2 cores",
        preset="course",
        model=dict(dropout=0.0),
        train=dict(steps=1000, batch_size=16, lr=2e-3, min_lr=2e-4, warmup_steps=50, weight_decay=0.1, grad_clip=1.0,
                   eval_every=100, eval_batches=10, seed=1337),
    ),
    "fast": Recipe(
        name="fast",
        summary="lesson 14's faster recipe: the small recipe's shape with rotary positions (no wpe, no biases; LayerNorm "
                "and GELU kept), Muon on the blocks' matrices at lr 1.6e-2, Shakespeare only, 450 steps of 16 x 256 tokens; "
                "about 3 minutes on 2 cores (benchmarks/README.md: chosen on a tuning split, then measured against "
                "nanoGPT's CPU recipe)",
        architecture="ModernGPT",
        model=dict(vocab_size=2048, block_size=256, n_layer=4, n_head=4, n_embd=128, norm="layer", mlp="gelu", rope=True),
        train=dict(steps=450, batch_size=16, lr=1.6e-2, min_lr=1.6e-3, warmup_steps=50, weight_decay=0.1, grad_clip=1.0,
                   optimizer="muon", eval_every=50, eval_batches=10, seed=1337),
    ),
}


def pretraining_plays():
    """The plays every recipe trains on: all but gptlab.data.held_out_titles(), sorted by title."""
    from gptlab.data import held_out_titles, plays

    held_out = set(held_out_titles())
    return [play for play in plays() if play.title not in held_out]


def course_tokenizer(vocab_size: int = 2048):
    """The byte-level BPE every recipe uses: trained on the pretraining plays' text (deterministic)."""
    from gptlab.data import held_out_titles, load_text
    from gptlab.tokenizers import BPETokenizer

    return BPETokenizer().train(load_text("english", exclude=sorted(held_out_titles())), vocab_size=vocab_size)


def prepare_data(recipe: Recipe, tokenizer=None):
    """(tokenizer, training source, validation ids) for `recipe`; the same on every run.

    The training source is a 1-D tensor of ids for a recipe with one corpus and no repeat windows, else a
    gptlab.data.mixture.Mixture. The validation ids are the last val_fraction of the Shakespeare stream.
    """
    from gptlab.data.batches import encode_corpus, split
    from gptlab.data.kjv import books
    from gptlab.data.mixture import Mixture

    tokenizer = tokenizer or course_tokenizer(recipe.vocab_size)
    shakespeare, val_ids = split(encode_corpus([play.text for play in pretraining_plays()], tokenizer), recipe.val_fraction)
    streams = {"shakespeare": shakespeare}
    unknown = set(recipe.corpora) - {"shakespeare", "kjv"}
    if unknown:
        raise ValueError(f"recipe {recipe.name!r} names unknown corpora {sorted(unknown)}; known: shakespeare, kjv")
    if "kjv" in recipe.corpora:
        streams["kjv"] = encode_corpus([book.text for book in books()], tokenizer)
    if list(streams) == ["shakespeare"] and not recipe.repeat_share and not recipe.random_share:
        return tokenizer, shakespeare, val_ids
    ordinary = min(tokenizer.special_tokens.values(), default=tokenizer.vocab_size)  # random ids: never <|endoftext|>
    return tokenizer, Mixture(streams, recipe.corpora, repeat_share=recipe.repeat_share, random_share=recipe.random_share,
                              random_vocab=ordinary if recipe.random_share else None), val_ids


def prepare_validation(recipe: Recipe, tokenizer=None):
    """The validation ids of `recipe` alone (the last val_fraction of the Shakespeare stream), without
    building the training source."""
    from gptlab.data.batches import encode_corpus, split

    tokenizer = tokenizer or course_tokenizer(recipe.vocab_size)
    return split(encode_corpus([play.text for play in pretraining_plays()], tokenizer), recipe.val_fraction)[1]


def measured(name: str) -> dict:
    """A committed benchmark result the lessons show: gptlab/training/results/NAME.json, written by
    ``python benchmarks/train.py --layouts --save`` ("layouts") or ``--recipes fast --save`` ("recipes")."""
    import json
    from importlib import resources

    path = resources.files("gptlab.training").joinpath("results", f"{name}.json")
    if not path.is_file():
        known = sorted(p.name.removesuffix(".json") for p in resources.files("gptlab.training").joinpath("results").iterdir()
                       if p.name.endswith(".json"))
        raise FileNotFoundError(f"no committed benchmark result {name!r}; there are: {', '.join(known) or 'none'}")
    return json.loads(path.read_text(encoding="utf-8"))
