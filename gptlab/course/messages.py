"""Every sentence a learner reads from the course machinery, keyed by id: verdicts, notices, hints, mistakes.

    say("check.passed", exercise="softmax", cases=8)   -> "✓ softmax — all 8 cases match"
    lines("check.passed", ...)                          -> the same, wrapped at word boundaries for a notebook

The fixed sentences are in MESSAGES below, the checks' diagnostics included (what a property or the first
difference says about an answer no catalog mistake explains: "prop.*", "diff.*", "<topic>.*"; the names of
outputs they mention, "the attention weights", are "noun.*" entries, see noun()). The exercises' own words (each
catalog mistake's hint, each progressive hint) are written next to the code they describe, in
gptlab/course/checks/<topic>.py, and are found here under ids of their own: "<exercise>.mistake.<name>" and
"<exercise>.hint.<n>" (see gptlab.course.checks.exercise_messages). Each other language has one table, gptlab/course/locales/<lang>.py:
MESSAGES with the same ids as MESSAGES here (tests/test_editions.py checks that every id has both, with the same
{fields}), and EXERCISES, "<exercise>.mistake.<name>" / "<exercise>.hint.<n>" -> (hash of the English, text), so a
hint whose English changed is stale (`gptlab lessons --check` names it for every lesson declared translated). A
missing entry falls back to English.

The language: lesson_setup(..., lang="zh") (the Chinese edition's set-up cell), else $GPTLAB_LANG, else English.

Taught in: solutions/00_welcome.ipynb
"""

from __future__ import annotations

import contextlib
import os
import textwrap
import threading

from gptlab.serve.messages import MESSAGES as SERVE_MESSAGES
from gptlab.training.messages import MESSAGES as TRAIN_MESSAGES

WIDTH = 100  # JupyterLab's output area shows about this many characters of monospace text before it wraps

MESSAGES: dict[str, str] = {
    "check.passed": "✓ {exercise} — all {cases} cases match",
    "check.failed": "✗ {message}",
    "check.fallback": "→ Using the reference implementation so the lesson continues.",
    "check.skipped": "○ {exercise} — skipped (not implemented yet): the lesson continues with the reference.",
    "check.is_reference": "↺ {exercise} — this is the reference from the last fallback, not your code: run your exercise "
                          "cell again, then this cell.",
    "check.raised": "your code raised {error}",
    "check.raised_hint": "{detail}. {advice}",
    "check.mutated": "your function changed its input in place on case '{case}' (e.g. `x -= ...` or `ids[i] = ...`); "
                     "build a new tensor or list instead",
    "check.untrainable": "your outputs are right, but {names} get no gradient, so training would never change them "
                         "(a .detach(), .data, torch.no_grad(), or a buffer where an nn.Parameter belongs?)",
    "check.on_case": "on case '{case}', {detail}",
    "check.wrong_count": "expected results for {expected} cases, got {got}",
    "check.not_implemented": "not implemented yet",
    "hint.line": "Hint {number}/{total} for {exercise}: {text}",
    "hint.more": "(run the hint cell again for the next one)",
    "hint.last": "That was the last hint for {exercise}; the solution notebook shows a whole answer.",
    "hint.button": "Show hint {number} of {total}",
    "hint.all_shown": "No more hints for {exercise}.",
    "hint.unknown": "no exercise called {name!r}; the exercises are: {known}",
    "hint.offline": "Hints for {exercise}: {total}, one at a time. Click the button (run this cell in JupyterLab), or "
                    "call hint({exercise!r}).",
    "stub": "{exercise}: your code here",
    "course.changed": "Lesson {lesson} changed in the course since you copied it (your copy: course {old}; now {new}). "
                      "`gptlab reset {lesson}` gives you the new version and keeps yours as a backup.",
    "parts.line": "⚙ {model}: yours: {mine}; the reference's: {reference}.",
    "parts.none": "none",
    "parts.why": "{name} ({why})",
    "parts.no_notebook": "no lesson {lesson} notebook in {folder}",
    "parts.no_cell": "no {exercise} cell in {file}",
    "parts.raised": "{file} raised {error}",
    "parts.skipped": "skipped in {file}",
    "parts.failed": "{file}: {message}",
    "parts.off": "✗ your {model} differs from the package's by {diff:.1e}; the first part whose output differs is {module} "
                 "({part}, {origin}).",
    "banner": "Difficulty {stars} · about {minutes} min · {points} point(s)",
    "setup.threads": "Another gptlab notebook is busy on this machine: this one computes with {threads} of {cores} CPU "
                     "threads, so two training cells share the cores instead of slowing each other many times over.",
}

# --- the checks' diagnostics: what a check says about an answer that no catalog mistake explains ----------------
# Names the sentences put an output's name in ("the output", CheckSpec.output), found by their English: see noun().
MESSAGES |= {
    "noun.output": "the output",
    "noun.attention_weights": "the attention weights",
    "noun.probabilities": "the probabilities",
    "noun.output_rows": "each row of the output",
    "noun.attention_weight_rows": "each row of the attention weights",
    "noun.probability_rows": "each row of probabilities",
    "noun.prompt_text": "the prompt text",
    "noun.logits": "the logits",
    "noun.loss": "the loss",
    "noun.losses": "the losses",
    "noun.trained_logits": "the trained model's logits",
    "join.and": " and ",
    "join.and_also": "; and ",
    # core: the first difference, said precisely (describe_difference)
    "check.all_match": "all {cases} cases match",
    "check.differs": "differs from the reference",
    "diff.module": "{where} should be a module; got {got}",
    "diff.sequence": "{where} should be a {kind} of {count} items; got {got}",
    "diff.length": "{where} should have {expected} items; yours has {got}",
    "diff.item": "item {index} of {where}",
    "diff.weights": "the weights of {where}",
    "diff.dict": "{where} should be a dict; got {got}",
    "diff.keys": "{where} has the wrong keys: missing {missing}, unexpected {extra}",
    "diff.value": "{where} should be {expected!r}; got {got!r}",
    "diff.number_type": "{where} should be a number ({expected!r}); got {got}",
    "diff.int": "{where} should be {expected}; got {got} (off by {diff:+d})",
    "diff.float": "{where} should be {expected:.6g}; got {got:.6g}",
    "diff.tensor_of_shape": "a tensor of shape {shape}",
    "diff.none": "None (did you forget to return?)",
    "diff.not_tensor": "{where} should be a torch.Tensor of shape {shape}; got {got}",
    "diff.shape": "{where} should have shape {expected}; yours has shape {got}",
    "diff.dtype": "{where} should have dtype {expected}; yours has dtype {got}",
    "diff.values": "{count} of {total} values of {where} differ; the first at index {index}: expected {expected:.6g}, "
                   "got {got:.6g}",
    "diff.nan": " — yours contains NaN ({count} values): an overflow or a 0/0?",
    "diff.largest": " (largest difference {largest:.3g})",
    # core: the properties several checks share
    "prop.constant_factor": "your values are the right ones times {factor:.4g} everywhere: a constant factor, such as a "
                            "scale that is missing, extra, or the wrong one",
    "prop.count_off_by": "your count is {diff:+,} off, which is {vectors:+,}·C (C = n_embd = {C}): whole vectors of size "
                         "C are missing or extra (a LayerNorm, a bias, rows of an embedding table?)",
    "prop.transposed": "your result is the right one transposed (its last two axes swapped): check which axis is which",
    "prop.sums_to_one": "{name} should sum to 1 along the last axis; yours sum to {span}{where}",
    "prop.sums_to_one.range": "values from {low} to {high}",
    "prop.sums_to_one.other_axis": "; they sum to 1 along dim={dim} instead: a softmax over the wrong axis?",
    "prop.future_visible": "{name} above the diagonal should be 0 (a position must not see the tokens after it); {count} "
                           "of yours are not: the future is not masked",
    "prop.past_hidden": "{name} below the diagonal are all 0: your mask hides the past as well",
    "prop.overflows": "{name} contains {count} NaN or inf values where the reference has none: an exp that overflowed "
                      "(subtract the maximum first?) or a division 0/0",
    "prop.keeps_as_many": "{name} keep {kept} tokens{row}; the reference keeps {want}: check which tokens your filter "
                          "keeps before looking at the values",
    "prop.keeps_as_many.row": " (row {row})",
    # attention (lesson 03)
    "attention.head.sees_future": "the two sequences share their first {prefix} tokens, yet your outputs there differ: a "
                                  "position's output changed when only LATER tokens changed, so the head sees the future "
                                  "(the causal mask is missing)",
    "attention.head.width": "your output has {d_model} features per position (d_model), not head_size = {head_size}: the "
                            "weights must average the values, self.value(x), not x",
    "attention.mask.future": "your mask is True above the diagonal, so a position may attend to the tokens after it{dtype}",
    "attention.mask.diagonal": "the diagonal of your mask is False: a token must be allowed to attend to itself{dtype}",
    "attention.mask.dtype": " (and return dtype=torch.bool, not {dtype})",
    "attention.self_attention.unprojected": "the output at position 0 is the first token's own value vector, unprojected: "
                                            "the heads' output must go through c_proj",
    "attention.self_attention.first_position": "the output at position 0 differs, though the first token may attend to "
                                               "itself only (its output is c_proj of its own value, whatever the scale or "
                                               "the order of q and k): later tokens leak into earlier ones, so the future "
                                               "is not masked (is_causal=True), unless its value reaches c_proj another "
                                               "way (the split into heads)",
    # blocks (lesson 05)
    "blocks.layer_norm.unscaled": "your output is normalised but not scaled by self.weight and shifted by self.bias",
    "blocks.layer_norm.mean": "after undoing weight and bias, each vector should have mean 0 over its features (the last "
                              "axis); yours have means up to {mean:.3g}: the mean is not subtracted, or not over dim=-1",
    "blocks.layer_norm.variance": "after undoing weight and bias, each vector's variance over its features should be "
                                  "{variance:.3g} or less; yours is {low:.3g} to {high:.3g} times that: check how the "
                                  "variance is computed (divide by d) and where eps goes",
    "blocks.mlp.never_negative": "none of your output values is negative, though the reference's are: the MLP's update to "
                                 "the residual stream must be able to point any way (a ReLU on the output of c_proj?)",
    "blocks.block.normalised": "your block's output is the output of {name} (each vector normalised, then {name}'s weight "
                               "and bias): in a pre-norm block the residual stream is never normalised, only the copies "
                               "that the sublayers read, x + attn(ln_1(x))",
    # gpt (lesson 06)
    "gpt.forward.not_normalised": "the vectors your lm_head reads are not normalised (undoing ln_f's weight and bias "
                                  "leaves means up to {mean:.3g}, not 0): apply the final LayerNorm ln_f after the last "
                                  "block",
    "gpt.forward.loss": "your logits are right, but the loss is {loss:.5g}, not {want:.5g}: the error is in the loss alone "
                        "(targets arrive shifted; positions with target -100 are left out of the mean)",
    # generation (lesson 08)
    "generation.step.choices": "your step {choices}",
    "generation.step.cat_dim": "appends the new keys and values along the heads' axis (dim=1), not time (dim=2)",
    "generation.step.offset": "gives the new tokens positions 0, 1, … again, not T_past, T_past + 1, …",
    "generation.step.causal_offset": "aligns the causal mask to the top-left (is_causal=True), so a new token does not see "
                                     "all the past",
    "generation.step.attend_past": "attends over the new tokens only, not over the cached keys and values",
    "generation.step.cache_shape": "the cached keys of layer {layer} have shape {got}; they should be (B, n_head, T_past + "
                                   "T_new, head_size) = {want}",
    # inspection (lesson 09)
    "inspection.score.shape": "there is one score per (T, T) map, so the output should have shape {want} (the leading "
                              "axes kept); yours has shape {got}",
    "inspection.previous_token.range": "a score is an average of attention weights, each between 0 and 1, so it lies in "
                                       "[0, 1]; yours reach {high:.3g}",
    "inspection.previous_token.perfect": "a perfect previous-token head must score exactly 1; yours gives it {score:.3g}",
    "inspection.induction.range": "a score is an average of attention weights, each between 0 and 1, so it lies in [0, 1]; "
                                  "yours range over {low:.3g} … {high:.3g}",
    "inspection.induction.perfect": "a perfect induction head (query i looks only at key i - period + 1) must score "
                                    "exactly 1; yours gives it {score:.3g}",
    # finetuning (lesson 10)
    "finetuning.pool.position": "row {row} of the pooled states is the hidden state at position {position}; its last "
                                "real token is at position {last} (mask[{row}].sum() - 1 = {count} - 1)",
    "finetuning.pool.combined": "row {row} of the pooled states is not the hidden state of any one position: you combined "
                                "several (an average?); take the single state at the last real token, position {last}",
    "finetuning.targets.count": "row {row} of the targets has {count} positions the loss is on (not -100){start}; the "
                                "reference has {want}, starting at target {want_start}: the loss belongs on the "
                                "response's tokens only, never on the prompt or the padding",
    "finetuning.targets.start": ", starting at target {start}",
    "finetuning.lora.start": "at the start your layer's output differs from the base layer's, so fine-tuning would not "
                             "start from the pretrained model{also}",
    "finetuning.lora.also_trainable": ", and the trainable parameters are not only A and B",
    "finetuning.lora.trainable": "the trainable parameters should be {want}; yours are {got}",
    "finetuning.lora.scale": "with the case's A and B your low-rank path is scaled by {scale:.4g}; it should be alpha / r "
                             "= {alpha:g} / {r} = {want:.4g}",
    # seq2seq (lesson 11)
    "seq2seq.padding.leaked": "the attention weights on padded keys (key_padding_mask False) should be 0; {count} of "
                              "yours are not: the padding is looked at",
    "seq2seq.cross.shape": "the output should have one row per target position, shape {want}; yours has shape {got}{why}",
    "seq2seq.cross.from_context": ": one row per source position, so your queries come from context",
    "seq2seq.cross.reads": "your target position i reads {reads}; cross-attention reads every real source word, and "
                           "nothing else",
    "seq2seq.cross.reads.everything": "every source position, padding included",
    "seq2seq.cross.reads.padding": "only the padded positions",
    "seq2seq.cross.reads.causal": "only the real source words up to position i (a causal mask)",
    "seq2seq.cross.reads.causal_with_padding": "only the source positions up to i, padding included (a causal mask, no "
                                               "padding mask)",
    "seq2seq.cross.reads.causal_padding": "only the padded positions up to i (a causal mask, the padding mask inverted)",
    # serving (lesson 12)
    "serving.stop_inside": "the text of choice {index} still contains the stop string {stop!r}: nothing from it on "
                           "reaches the client",
    "serving.finish_reason": "choice {index} has finish_reason {got!r}; it should be {want!r} ('stop' when a stop string "
                             "ended it, 'length' when max_tokens did)",
    "serving.prompt_tokens": "usage.prompt_tokens is {got}; the prompt has {want} tokens, read once for all {samples} "
                             "samples",
    "serving.total_tokens": "usage.total_tokens is {total}, but your prompt_tokens + completion_tokens is {added}: the "
                            "total must be their sum",
    # chat (lesson 12)
    "chat.end_of_turn": "your prompt text has {count} {token} tokens; the reference has {want}, one after each earlier "
                        "assistant answer",
    "chat.header": "your prompt text should end with the assistant's header {header!r}; it ends {end!r}",
    "chat.blank_lines": "your prompt text has {count} blank lines ('\\n\\n'); the reference has {want}, one after each "
                        "message",
    # vision (lesson 13)
    "vision.patchify.swapped": "your output is (B, C·P·P, N) = {got}: the patch axis and the feature axis are swapped, a "
                               "transformer reads (B, N, C·P·P) = {want}",
    "vision.patchify.not_square": "your patch {patch} is not one P×P square of the image: its pixels come from elsewhere "
                                  "(strips of whole rows, or overlapping windows?)",
    "vision.patchify.order": "your patch {patch} holds the pixels of patch {source}: number the patches row by row, like "
                             "reading",
    "vision.patchify.inside": "the pixels inside patch {patch} are in another order than (C, P, P): channel 0's P×P "
                              "pixels first, row by row",
    "vision.class_token.reads": "your head reads {position} of {where}; it must read position 0 of the encoder's output, "
                                "with the class token put in front of the patches",
    "vision.class_token.class_token": "the class token",
    "vision.class_token.position": "position {position}",
    "vision.class_token.encoder": "the encoder's output",
    "vision.class_token.before_encoder": "the sequence before the encoder",
    "vision.class_token.added": "the encoder's output when the class token is added to the patches, not put in front",
    "vision.class_token.appended": "the encoder's output when the class token is put at the end",
    "vision.class_token.average": "your head's input is not any one token's vector (an average over tokens?): read the "
                                  "class token's output, encoder(z)[:, 0]",
    # positions (lesson 02)
    "positions.sinusoidal.first_row": "row 0 (position 0) should read 0, 1, 0, 1, …: sin(0) = 0 in the even columns and "
                                      "cos(0) = 1 in the odd ones; yours starts {shown}",
    "positions.sinusoidal.range": "your values reach {largest:.3g}; each entry is one sin or one cos, so it lies in [-1, 1]",
    "positions.embedding.rows": "each token's vector is {how} a row of wpe{where}: x = wte[idx] + wpe[t] at position t",
    "positions.embedding.added": "added to",
    "positions.embedding.multiplied": "multiplied by",
    "positions.embedding.wrong_row": "; position {position} reads wpe row {rows}, where it should read row {position}",
    "positions.embedding.wrong_rows": "; position {position} reads wpe rows {rows}, where it should read row {position}",
    # tokens (lesson 01)
    "tokens.bytes.count": "your answer is {kind} of {count} values{bom}{of}; the UTF-8 bytes of this text are {want} (1 "
                          "per ASCII character, 2 per accented letter, 3 per Chinese character, 4 per emoji)",
    "tokens.bytes.kind_bytes": "a bytes object",
    "tokens.bytes.kind_list": "a list",
    "tokens.bytes.bom": ", starting with 255, 254 (UTF-16's byte-order mark)",
    "tokens.bytes.not_list": ", not a list of ints",
    "tokens.text.count": "your text has {count} characters; the UTF-8 text of these bytes has {want}{why}",
    "tokens.text.lost": ", including '\ufffd' where the bytes are not valid UTF-8: nothing may vanish silently",
    "tokens.text.apart": ": a character is 1 to 4 bytes, decoded together",
    "tokens.pairs.keys": "the keys of your counts should be pairs of neighbouring ids, tuples (ids[i], ids[i + 1])",
    "tokens.pairs.total": "your counts add up to {total}; a list of {count} ids has {pairs} neighbouring pairs "
                          "(overlapping ones included, none wrapping around), so they should add up to that",
    "tokens.pairs.total_one": "your counts add up to {total}; a list of {count} ids has {pairs} neighbouring pair "
                              "(overlapping ones included, none wrapping around), so they should add up to that",
    "tokens.merge.replaced": "you replaced {mine} occurrences of {pair}; scanning left to right without overlaps there are "
                             "{want}",
    "tokens.merge.length": "your list has {count} ids; replacing {replaced} pairs of {total} ids leaves {want}: every "
                           "other id must stay, the last one included",
    "tokens.bpe.ids": "your merges create the ids [{shown}]; the {count} merges possible here must create the new ids 256 "
                      "to {last}, one per merge (0-255 are the bytes)",
    "tokens.bpe.ids_one": "your merges create the ids [{shown}]; the {count} merge possible here must create the new id "
                          "256 (0-255 are the bytes)",
    "tokens.encode.left": "your result still holds the neighbours {pair}, which have a merge (to {id}): keep merging until "
                          "no adjacent pair has one",
    "tokens.encode.order": "no pair with a merge is left in your result, yet it differs: the merges were applied in "
                           "another order than the one they were learned in",
    # training (lesson 07)
    "training.batch.dtype": "x and y should be int64 (long) tensors; yours are {x} and {y}",
    "training.batch.same": "your y is x itself, where y[:, t] must be the token after x[:, t]",
    "training.batch.before": "your y[:, t + 1] is x[:, t], so y holds the token before each position, not the one after",
    "training.loss.formula": "your loss scores logits[:, t] against {aligned} and takes {reduced}; the loss is the mean "
                             "over all B·(T-1) predicted tokens of logits[:, t] against the next token idx[:, t + 1]",
    "training.loss.aligned.next": "the next token idx[:, t + 1]",
    "training.loss.aligned.same": "the same token idx[:, t] (not shifted)",
    "training.loss.aligned.before": "the token before, idx[:, t - 1] (shifted backwards)",
    "training.loss.reduced.mean": "the mean over all predicted tokens",
    "training.loss.reduced.per_row": "a sum over the positions, averaged over the batch",
    "training.loss.reduced.sum": "a sum over everything",
    "training.step.moves": "your step {moves}: the order is clear, backward, clip, step",
    "training.step.no_zero_grad": "does not clear the old gradients first",
    "training.step.step_first": "updates the weights before loss.backward()",
    "training.step.no_clip": "does not clip the gradients",
    "training.step.clip_after": "clips the gradients after the update",
    "training.loop.parts": "your loop {parts}: one optimizer with lr and one seeded generator, made before the loop, and "
                           "grad_clip passed on",
    "training.loop.optimizer": "makes a new optimizer every step",
    "training.loop.generator": "reseeds the generator every step (the same batch each time)",
    "training.loop.lr": "does not pass lr to the optimizer",
    "training.loop.clip": "does not pass grad_clip on to train_step",
    # modern (lesson 14)
    "modern.rms.centred": " and centred (mean 0): RMSNorm does not subtract the mean",
    "modern.rms.unscaled": "your output vectors are normalised, but not scaled by self.weight{centred}",
    "modern.rms.ratio": "after undoing the weight, each vector's root mean square over its features should be {rms:.3g} "
                        "or less; yours is {ratio} times that: divide by the root of the mean of x² over the features, "
                        "with eps inside the root",
    "modern.rms.ratio_range": "{low} to {high}",
    "modern.rope.length": "your rotation changes the length of the pairs (x[i], x[i + hs/2]): it rotates other pairs than "
                          "the first half against the second (interleaved ones?), or it is not a rotation",
    "modern.rope.turn": "pair {pair} at position {position} turns by {turn:.4g} rad; it should turn by m · base^(-2i/hs) = "
                        "{want:.4g} rad (position 0 not at all)",
    "modern.swiglu.formula": "your module computes {formula}; SwiGLU is down_proj(silu(gate_proj(x)) * up_proj(x)): the "
                             "SiLU on the gate alone, times the linear up path",
    "modern.swiglu.no_activation": "no activation",
    "modern.gqa.leak": "at position 0, which may attend to itself only, query head {head}'s output is not a kv head's "
                       "value: later positions leak into earlier ones, so the future is not masked",
    "modern.gqa.group": "query head {head} reads kv head {reads}; with {groups} query heads per kv head it should read kv "
                        "head {want} (h // groups)",
    # hint(): a wrong argument
    "hint.not_a_string": "name an exercise with a string, e.g. hint('softmax'); got {name!r}",
    "hint.out_of_range": "{exercise} has hints 1 to {total}; you asked for {number}",
}
# --- end of the checks' diagnostics ----------------------------------------------------------------------------

# --- the surfaces outside the notebooks: `gptlab env`, the CLI, the grader's pages, the handout -----------------
MESSAGES |= {
    "env.ok": "OK",
    "env.fix": "FIX",
    "env.name.Python": "Python",
    "env.name.torch": "torch",
    "env.name.widgets": "widgets",
    "env.name.plotting": "plotting",
    "env.missing": "missing: {names}",
    "env.cannot_draw": "matplotlib cannot draw: {error}",
    "env.fix_all": "./run.sh course  (from the course folder: it creates or repairs .venv and reinstalls everything)",
    "env.fix.Python": "install Python {version} or newer, then {fix_all}",
    "env.fix.torch": "pip install torch=={version}, or {fix_all}",
    "env.fix.widgets": "pip install ipywidgets jupyterlab_widgets, then reload the JupyterLab page; or {fix_all}",
    "env.fix.plotting": "pip install matplotlib, or {fix_all}",
    "env.fix.plotting_broken": "pip install --force-reinstall matplotlib, or {fix_all}",
    "env.all_set": "All set.",
    "env.fix_rows": "Fix the rows marked {fix}, then restart the kernel.",
    "env.device.cuda": "CUDA GPU: {name} ({memory:.0f} GiB) — {how}",
    "env.device.mps": "Apple GPU (MPS) — {how}",
    "env.device.cpu_one": "CPU with {threads} thread — {how}",
    "env.device.cpu": "CPU with {threads} threads — {how}",
    "env.device.forced": "forced by GPTLAB_DEVICE={value}",
    "env.device.auto": "picked automatically: CUDA, then MPS, then CPU",
    "cli.error": "error: {error}",
    "cli.lessons_untouched": "lessons/ was left untouched. Fix the solution notebook, then run `gptlab lessons`.",
    "cli.out_of_date": "out of date: {line}",
    "cli.translation": "translation: {line}",
    "cli.fix_stale": "Fix: run `gptlab lessons` to regenerate lessons/ from solutions/ (never edit lessons/ by hand).",
    "cli.fix_translation": "Fix: translate the cells named above in solutions/<lang>/NN_topic.json (with the hash of the "
                           "English they translate; `python -m gptlab.course.authoring.translation_todo NN` prints "
                           "them), or take the lesson out of solutions/<lang>/manifest.json.",
    "cli.lessons_checked": "lessons/ is up to date with solutions/ ({total} notebooks, editions included).",
    "cli.wrote": "wrote {path}",
    "cli.removed": "removed {path}",
    "cli.lessons_written": "lessons/ is up to date ({total} notebooks, {changed} changed).",
    "cli.working_copy": "Your working copy is {work} ({copied} new lesson(s) copied; your edits there are never "
                        "overwritten).",
    "cli.no_lessons": "no lessons found in {folder}",
    "cli.no_lesson": "no lesson {number} in {folder} (there are: {known})",
    "cli.reset_question": "Replace {target} with a fresh copy of the lesson? Your version is kept as a backup.",
    "cli.yes_no": "[y/N]",
    "cli.nothing_changed": "Nothing changed.",
    "cli.restored": "Restored {path}.",
    "cli.restored_backup": "Restored {path}. Your previous version is kept at {backup}.",
    "cli.no_submissions": "error: give the SUBMISSIONS folder (or --gradescope DIR)",
    "cli.gradescope_written": "wrote the Gradescope autograder bundle {folder} (upload {archive})",
    "cli.graded": "graded {graded} learner(s), {resumed} taken from {state} (unchanged since)",
    "cli.grade_outputs": "gradebook: {gradebook}\nper exercise: {long_csv} and {json}\nfeedback: {feedback}/",
    "cli.tampering": "error: the installed gptlab files or the course's lessons changed while grading {learners}. "
                     "Reinstall the course, then re-run with --fresh; verdicts from this run may not be trusted.",
    "cli.check_nothing": "error: no notebooks to check in your working copy {work}; give the files to check "
                         "(gptlab check 03_self_attention.ipynb)",
    "cli.checking": "checking your working copy {work} ({count} notebooks)",
    "cli.no_such_file": "error: no such file: {files}",
    "cli.handout_done": "Hand out the folder {folder} (lessons without solutions, and HOWTO.md).",
    "grade.cell": "the {exercise} cell (cell {number} of {file})",
    "grade.crashed": "{exercise}: {reason} in {cell}{tail}",
    "grade.tail": "; last output: {line}",
    "grade.fatal": "the grader could not prepare the lesson (not your code): {reason}",
    "grade.startup": "the sandbox failed before running your code: {reason}{tail}",
    "grade.ended": "the sandbox {reason}",
    "grade.ended_early": "the sandbox ended early",
    "grade.unreadable": "{exercise}: the sandbox's result for {cell} could not be read ({error})",
    "grade.cell_error": "{exercise}: {cell} {message}{tip}",
    "grade.name_error_tip": " (only the course's set-up cell runs before an exercise cell: import what you need "
                            "inside the exercise cell)",
    "grade.is_reference": "{exercise}: `{name}` is the course's own implementation ({where}), not code written in "
                          "{cell}; write your own",
    "grade.calls_reference": "{exercise}: {cell} calls the course's reference implementation instead of computing "
                             "the result itself; write your own",
    "grade.other_cases": "{exercise}: the sandbox returned results for other cases than asked",
    "grade.cannot_compare": "{exercise}: returned a value the check cannot compare ({error})",
    "grade.not_attempted": "{exercise}: not attempted (the cell still raises NotImplementedError)",
    "grade.fresh_fail": "{exercise}: passes the lesson's cases but not fresh ones: {detail}",
    "grade.passed": "{exercise}: passed ({public} public and {fresh} fresh cases)",
    "grade.not_submitted": "lesson {lesson} ({title}) was not submitted",
    "grade.no_answer": "no answer found",
    "grade.no_notebooks": "no notebooks (*.ipynb) found",
    "grade.unreadable_file": "{file}: cannot be read ({error})",
    "grade.not_course": "{file}: not a notebook of this course (it has no metadata.gptlab.course.lesson)",
    "grade.unknown_lesson": "{file}: lesson {lesson!r} is not part of this course (known: {known})",
    "grade.two_notebooks": "{file} and {other} are both lesson {lesson}; grading the newer one, {file}",
    "grade.other_version": "{file}: made with course {made_with}, but the lessons handed out are course {expected}; "
                           "the verdicts use the handed-out checks",
    "grade.no_cell": "{file}: no exercise cell for {exercise!r} (was it deleted, or its cell metadata removed?)",
    "grade.not_code": "{file}: cell {index}, the exercise {exercise!r}, is not a code cell",
    "report.status.passed": "passed",
    "report.status.failed": "failed",
    "report.status.skipped": "not attempted",
    "report.status.missing": "not submitted",
    "report.status.error": "could not be graded",
    "report.title": "Feedback for {learner}",
    "report.score": "Score: {total} / {max_total} points",
    "report.passed_count": "({passed} of {count} exercises passed)",
    "report.note": "Note: {note}",
    "report.lesson": "Lesson {lesson} · {title}",
    "report.points_one": "{points}/{max_points} point",
    "report.points": "{points}/{max_points} points",
    "report.footer": "Checked by `gptlab grade`: your code ran on the lesson's cases and on fresh ones; run "
                     "`gptlab check` on your notebooks to see the same verdicts yourself.",
    "report.footer_html": "Checked by <code>gptlab grade</code>: your code ran on the lesson's cases and on fresh ones.",
    "report.col.lesson": "lesson",
    "report.col.exercise": "exercise",
    "report.col.result": "result",
    "report.col.points": "points",
    "report.col.feedback": "feedback",
    "report.summary": "{passed} of {count} exercises passed; {total}/{max_total} points.",
    "report.table_note": "note: {note}",
    "report.points_total": "{total} / {max_total} points.",
    "sandbox.syntax": "is not valid Python: {error} on line {line}",
    "sandbox.syntax_magic": "is not valid Python: {error} on line {line} (exercise cells must be plain Python: no % or "
                            "! lines)",
    "sandbox.raised_in_cell": "raised {error} while the cell itself ran",
    "sandbox.undefined": "does not define `{name}`",
    "sandbox.not_callable": "`{name}` is a {kind}, not a function or class",
    "sandbox.raised_when_called": "raised {error} when called",
    "sandbox.no_start": "the sandbox did not start within {seconds} s",
    "sandbox.timeout": "timed out after {seconds} s",
    "sandbox.batch_limit": "ran past the batch's time limit",
    "sandbox.exited": "made the sandbox exit with status {code} (os._exit(), or a crash in native code)",
}
MESSAGES |= TRAIN_MESSAGES  # `gptlab train`'s lines, "train.*": the library keeps their English (gptlab.training.messages)
MESSAGES |= SERVE_MESSAGES  # `gptlab serve`'s lines, "serve.*": their English in gptlab.serve.messages
# --- end of the surfaces block -------------------------------------------------------------------------------

LANGUAGES = ("en", "zh")
_chosen: str | None = None  # set by lesson_setup(lang=...); wins over $GPTLAB_LANG
_local = threading.local()  # speaking(lang): one thread's language (the grader judges each learner in their own)


def set_language(lang: str | None) -> None:
    """Choose the language of every message from now on in this process (None: back to $GPTLAB_LANG)."""
    global _chosen
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}; got {lang!r}")
    _chosen = lang


def language() -> str:
    """The learner's language: lesson_setup's lang, else $GPTLAB_LANG if set (e.g. "zh"), else English."""
    lang = getattr(_local, "lang", None) or _chosen or os.environ.get("GPTLAB_LANG", "en").strip().lower() or "en"
    lang = lang.split("_")[0].split("-")[0]  # zh_CN, zh-Hans -> zh
    return lang if lang in LANGUAGES else "en"


@contextlib.contextmanager
def speaking(lang: str | None):
    """Within the block, this thread's messages are in `lang` (None: as before); other threads are not affected."""
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}; got {lang!r}")
    before = getattr(_local, "lang", None)
    _local.lang = lang or before
    try:
        yield
    finally:
        _local.lang = before


def edition(metadata) -> str:
    """The edition a notebook records (metadata.gptlab.lang, written by `gptlab lessons`): "zh", else "en"."""
    meta = metadata.get("gptlab") if hasattr(metadata, "get") else None
    lang = meta.get("lang") if isinstance(meta, dict) else None
    return lang if lang in LANGUAGES else "en"


def table(lang: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """(MESSAGES, EXERCISES) of a language's table in gptlab/course/locales/."""
    import importlib

    if lang == "en":
        return MESSAGES, {}
    module = importlib.import_module(f"gptlab.course.locales.{lang}")
    return module.MESSAGES, module.EXERCISES


def digest(english: str) -> str:
    import hashlib

    return hashlib.sha256(english.encode("utf-8")).hexdigest()[:8]


def text(key: str, english: str | None = None, lang: str | None = None) -> str:
    """The text for `key` in the learner's language; `english` (or MESSAGES) when it has no translation. An
    exercise's text is used only if it was translated from the English it is given (else the English shows)."""
    lang = lang or language()
    if lang != "en":
        messages, exercise_table = table(lang)
        if key in messages:
            return messages[key]
        entry = exercise_table.get(key)
        if entry is not None and (english is None or entry[0] == digest(english)):
            return entry[1]
    return english if english is not None else MESSAGES[key]


def say(key: str, lang: str | None = None, **fields) -> str:
    """The message `key`, filled in: say("check.passed", exercise="softmax", cases=8)."""
    return text(key, lang=lang).format(**fields)


def noun(name: str, lang: str | None = None) -> str:
    """A name the checks put into their sentences ("the attention weights", a CheckSpec's `output`), in the learner's
    language: the "noun.*" message whose English it is. A name without one (already translated, say) stays as it is."""
    if not _nouns:
        _nouns.update({english: key for key, english in MESSAGES.items() if key.startswith("noun.")})
    key = _nouns.get(name)
    return text(key, lang=lang) if key is not None else name


_nouns: dict[str, str] = {}  # "the output" -> "noun.output", filled on first use


def wrap(message: str, width: int = WIDTH) -> str:
    """Wrap each line at word boundaries (never inside a word), keeping an indented line's indent on its
    continuation lines; code in `backticks` can still break at its spaces."""
    out = []
    for line in message.split("\n"):
        stripped = line.lstrip(" ")
        indent = " " * (len(line) - len(stripped))
        if stripped[:2] in ("✗ ", "✓ ", "○ ", "↺ ", "→ "):
            indent += "  "  # continuation lines start under the text, not under the mark
        out.append(textwrap.fill(line, width=width, subsequent_indent=indent, break_long_words=False,
                                 break_on_hyphens=False) if len(line) > width else line)
    return "\n".join(out)


def columns(text: str) -> int:
    """The columns a terminal gives the text: a Chinese character takes two (for aligned tables in both languages)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """The text, padded with spaces to `width` terminal columns."""
    return text + " " * (width - columns(text))
