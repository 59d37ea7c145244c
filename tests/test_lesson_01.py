"""Lesson 01 (tokens): the checks' messages as a learner reads them, and what tests/test_checks.py cannot see.

test_checks.py already proves, for every check, that the reference and variants pass, a stub is skipped,
each catalog mistake is caught with its own hint and the catalog outputs differ. Here: mistakes written
the way a learner would write them (not the catalog's own code) are still named, the cases hold the edge
cases the lesson promises, each exercise cell works when run alone after the set-up cell (as a grader
runs it), and the plotting helper.
"""

from pathlib import Path

import pytest

from gptlab.course.authoring import exercises, read_notebook, setup_cell
from gptlab.course.checks import CheckFailed, evaluate, get_spec
from gptlab.course.checks.core import PUBLIC_SEED, run_cases
from gptlab.course.checks.tokens import (check_bytes_to_text, check_count_pairs, check_encode_with_merges, check_merge,
                                  check_text_to_bytes, check_train_bpe)
from gptlab.tokenizers import simple_bpe

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "01_tokens.ipynb"
EXERCISES = ["text_to_bytes", "bytes_to_text", "count_pairs", "merge", "train_bpe", "encode_with_merges"]


def failure(check, impl) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(impl)
    return info.value


# --- encode_with_merges: the rank-order bug must be named ----------------------------------------


def test_applying_merges_in_text_order_is_named_as_such():
    def left_to_right(ids, merges):  # a learner's version: scan the text, merge the first pair that has a merge
        ids = list(ids)
        i = 0
        while i < len(ids) - 1:
            pair = (ids[i], ids[i + 1])
            if pair in merges:
                ids[i:i + 2] = [merges[pair]]
                i = 0
            else:
                i += 1
        return ids

    def greedy_passes(ids, merges):  # another: merge whatever has a merge, left to right, until nothing changes
        while True:
            out, i = [], 0
            while i < len(ids):
                if tuple(ids[i:i + 2]) in merges:
                    out.append(merges[tuple(ids[i:i + 2])])
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            if out == list(ids):
                return out
            ids = out

    def first_pair_everywhere(ids, merges):  # and the catalog's own: the first pair found, merged everywhere
        while True:
            found = [pair for pair in zip(ids, ids[1:]) if pair in merges]
            if not found:
                return list(ids)
            ids = simple_bpe.merge(ids, found[0], merges[found[0]])

    named = {}
    for learner in (left_to_right, greedy_passes, first_pair_everywhere):
        error = failure(check_encode_with_merges, learner)
        named[learner.__name__] = error.mistake
        assert "order" in str(error) and "appear in the text" in str(error)
        assert "rank order" in str(error) and "lowest new id" in str(error)
    assert named == {"left_to_right": "text-order-one-at-a-time", "greedy_passes": "text-order-greedy-passes",
                     "first_pair_everywhere": "text-order"}


def test_the_public_cases_contain_a_text_where_the_two_orders_disagree():
    spec = get_spec("encode_with_merges")
    cases = spec.make_cases(PUBLIC_SEED)
    text_order = next(m.impl for m in spec.mistakes if m.name == "text-order")
    disagree = [c.name for c in cases if text_order(*c.args) != simple_bpe.encode_with_merges(*c.args)]
    assert any("learned first" in name for name in disagree), disagree
    assert simple_bpe.encode_with_merges([1, 2, 3], {(2, 3): 256, (1, 2): 257}) == [1, 256]
    assert text_order([1, 2, 3], {(2, 3): 256, (1, 2): 257}) == [257, 3]


def test_trusting_the_dict_order_is_caught_by_the_shuffled_case():
    def dict_order(ids, merges):
        for pair in merges:
            ids = simple_bpe.merge(ids, pair, merges[pair])
        return list(ids)

    error = failure(check_encode_with_merges, dict_order)
    assert error.mistake == "dict-order" and "a dict can come in any order" in str(error)


# --- text_to_bytes and bytes_to_text -------------------------------------------------------------


def test_ord_per_character_is_named():
    error = failure(check_text_to_bytes, lambda text: list(map(ord, text)))
    assert error.mistake == "ord-per-character"
    assert "code point" in str(error) and "text.encode('utf-8')" in str(error)


def test_returning_a_bytes_object_is_named():
    error = failure(check_text_to_bytes, lambda text: bytes(text, "utf-8"))
    assert error.mistake == "bytes-object" and "list of ints" in str(error)


def test_strict_decoding_is_named_with_the_fix():
    error = failure(check_bytes_to_text, lambda ids: bytearray(ids).decode())
    assert error.mistake == "strict-decoding"
    assert "errors='replace'" in str(error)


def test_decoding_one_byte_at_a_time_is_named():
    def byte_by_byte(ids):
        text = ""
        for value in ids:
            text += bytes([value]).decode("utf-8", "replace")
        return text

    error = failure(check_bytes_to_text, byte_by_byte)
    assert error.mistake == "decodes-each-byte-alone"


def test_a_wrong_but_uncatalogued_decoding_names_the_case_and_both_strings():
    error = failure(check_bytes_to_text, lambda ids: bytes(ids).decode("utf-8", "replace").upper())
    assert error.mistake is None
    assert "on case 'one ASCII byte'" in str(error) and "should be" in str(error)


# --- count_pairs and merge -----------------------------------------------------------------------


def test_wrap_around_pair_is_named():
    def with_wrap(ids):
        counts = {}
        for i in range(len(ids)):
            pair = (ids[i], ids[(i + 1) % len(ids)])
            counts[pair] = counts.get(pair, 0) + 1
        return counts

    error = failure(check_count_pairs, with_wrap)
    assert error.mistake == "wrap-around" and "(last id, first id)" in str(error)


def test_overlapping_merge_is_named():
    def overlapping(ids, pair, new_id):
        out = []
        for i, value in enumerate(ids):
            starts = i + 1 < len(ids) and (value, ids[i + 1]) == pair
            ends = i > 0 and (ids[i - 1], value) == pair
            if starts:
                out.append(new_id)
            elif not ends:
                out.append(value)
        return out

    error = failure(check_merge, overlapping)
    assert error.mistake == "overlapping" and "must not overlap" in str(error)


def test_merge_that_forgets_to_skip_the_partner_is_named():
    def no_skip(ids, pair, new_id):
        return [new_id if tuple(ids[i:i + 2]) == pair else ids[i] for i in range(len(ids))]

    error = failure(check_merge, no_skip)
    assert error.mistake == "no-skip" and "i += 2" in str(error)


def test_merge_in_place_is_reported_even_when_the_result_is_right():
    def in_place(ids, pair, new_id):
        i = 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                ids[i:i + 2] = [new_id]
            i += 1
        return ids

    error = failure(check_merge, in_place)
    assert error.mistake == "mutates-input" and "changed its input in place" in str(error)


# --- train_bpe -----------------------------------------------------------------------------------


def _train(pick, first_id=256, keep=True):
    """A learner's train_bpe that picks the pair with `pick` (the combined-mistake module's loop, reused)."""
    from gptlab.course.checks.tokens_combined import _train as train_loop

    return lambda text, num_merges: train_loop(text, num_merges, pick=pick, first_id=first_id, keep=keep)


def test_ties_broken_by_first_appearance_are_named():
    error = failure(check_train_bpe, _train(lambda counts: max(counts, key=counts.get)))
    assert error.mistake == "ties-first-seen" and "smallest pair" in str(error)


def test_new_ids_from_zero_are_named():
    error = failure(check_train_bpe, _train(simple_bpe.most_frequent_pair, first_id=0))
    assert error.mistake == "new-ids-from-0" and "256 + k" in str(error)


def test_forgetting_to_keep_the_merged_ids_is_named():
    error = failure(check_train_bpe, _train(simple_bpe.most_frequent_pair, keep=False))
    assert error.mistake == "same-pair-again" and "recount" in str(error)


def test_the_fast_trainer_passes_the_train_bpe_check():
    """The library's incremental trainer gives the same merges, ties included."""
    from collections import Counter

    from gptlab.tokenizers import train_merges

    def fast(text, num_merges):
        pairs = train_merges(Counter([text.encode("utf-8")]), num_merges)
        return {pair: 256 + i for i, pair in enumerate(pairs)}

    assert evaluate(get_spec("train_bpe"), fast).passed


# --- the cases hold the edge cases the lesson promises -------------------------------------------


@pytest.mark.parametrize("exercise", EXERCISES)
def test_cases_include_empty_or_minimal_inputs_and_non_ascii_text(exercise):
    names = " | ".join(case.name for case in get_spec(exercise).make_cases(PUBLIC_SEED)).lower()
    assert "empty" in names or "[]" in names or "num_merges = 0" in names
    assert "one " in names
    assert "chinese" in names
    if exercise != "merge":
        assert "emoji" in names


@pytest.mark.parametrize("exercise", EXERCISES)
def test_outputs_change_with_the_seed(exercise):
    """Memorising the public answers cannot pass a grader's secret cases."""
    spec = get_spec(exercise)
    public = [o.value for o in run_cases(spec, spec.reference, PUBLIC_SEED)]
    secret = [o.value for o in run_cases(spec, spec.reference, 7)]
    assert public != secret


# --- each exercise cell, run alone after the set-up cell, passes its check ------------------------


@pytest.mark.parametrize("exercise", EXERCISES)
def test_each_solution_cell_passes_its_check_when_run_alone(exercise, capsys):
    """As a grader runs it: set-up, then only this cell; train_bpe and encode_with_merges find the course's
    count_pairs and merge, which the set-up cell imports."""
    from gptlab.course.checks import set_strict

    nb = read_notebook(SOLUTION)
    found = {e.id: e for e in exercises(nb, SOLUTION)}
    assert list(found) == EXERCISES
    cell = next(c for c in nb.cells if c.get("id") == found[exercise].cell_id)
    namespace = {"__name__": "__lesson_01_test__"}
    try:
        exec(compile(setup_cell(nb, SOLUTION).source, "setup", "exec"), namespace)
        exec(compile(cell.source, exercise, "exec"), namespace)
    finally:
        set_strict(False)
    result = evaluate(get_spec(exercise), namespace[found[exercise].name], seed=3)
    assert result.passed, result.message


def test_banner_points_add_up_and_checks_live_in_the_tokens_module():
    found = exercises(read_notebook(SOLUTION), SOLUTION)
    assert all(e.check == f"gptlab.course.checks.tokens.check_{e.id}" for e in found)
    assert sum(e.points for e in found) == 10


# --- the plotting helper -------------------------------------------------------------------------


def test_token_label_shows_spaces_and_partial_characters():
    from gptlab.viz.tokens import token_label

    assert token_label(b" the") == "␣the"
    assert token_label(b"end\n") == "end↵"
    assert token_label("中".encode("utf-8")[:2]) == "\\xe4\\xb8"
    assert token_label(b"\x15a\x7f") == "\\x15a\\x7f"  # control characters have no glyph: shown by code
    assert token_label("中") == "中"


def test_show_tokens_draws_one_box_and_one_id_per_token():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gptlab.viz.tokens import show_tokens

    fig = show_tokens([b"Hello", b",", b" world"] * 10, list(range(30)), title="t", width=20)
    ax = fig.axes[0]
    assert len(ax.patches) == 30
    assert len(ax.texts) == 60
    plt.close(fig)
    with pytest.raises(ValueError, match="3 pieces but 2 ids"):
        show_tokens([b"a", b"b", b"c"], [1, 2])
