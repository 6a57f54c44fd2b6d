"""Embed's batch-at-once reading of the mention tokens (kgalign.neural.concepts._batch_reads) and the
tokenizer's backend path give exactly what a context-at-a-time reading and the tokenizer call give."""

from __future__ import annotations

import numpy as np
import pytest

from kgalign.neural.concepts import _batch_hits, _batch_reads, _needed_tokens, _segment_means
from kgalign.neural.probing import ProbeContext


def test_segment_means_equal_each_runs_own_mean():
    rng = np.random.default_rng(1)
    counts = np.array([1, 3, 8, 9, 3, 17, 1, 40, 2])
    rows = (rng.normal(size=(int(counts.sum()), 24)) * 5).astype(np.float32)
    got = _segment_means(rows, counts)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    want = np.stack([rows[a : a + c].mean(0) for a, c in zip(starts, counts, strict=True)])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)  # bit for bit: the codes must not move


def _one_at_a_time(e, c, h, position):
    """The reading embed did before, one context at a time (the reference)."""
    offs = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
    special = np.asarray(e.special, dtype=bool)
    s, t = offs[:, 0], offs[:, 1]
    real = np.flatnonzero(~special)
    hit = np.flatnonzero((t > s) & ~special & (s < c.end) & (t > c.start))
    if len(hit) == 0:
        hit = real
    if position == "pooled":
        return h[real].mean(0, keepdims=True)
    if position == "last":
        return h[hit[-1:]]
    if position == "mention_state":
        return h[hit].mean(0, keepdims=True)
    return h[hit]


@pytest.mark.parametrize("position", ["mention", "last", "mention_state", "pooled"])
def test_batch_reads_equal_a_context_at_a_time(minilm, position):
    long = "word " * 400 + "needle"  # the mention is truncated away: all real tokens are read
    texts = ["A duty of care is owed to a neighbour.", "Negligence is a breach of that duty.", long, "care"]
    ctxs = [
        ProbeContext(texts[0], 2, 14, "label"), ProbeContext(texts[0], 28, 37, "label"),
        ProbeContext(texts[0], 2, 14, "label"),  # the same read as the first: shared
        ProbeContext(texts[1], 0, 10, "label"), ProbeContext(texts[1], 31, 35, "label"),
        ProbeContext(long, len(long) - 6, len(long), "label"), ProbeContext(texts[3], 0, 4, "label"),
    ]
    users = [[0, 1, 2], [3, 4], [5], [6]]
    items = minilm.encode(texts)
    width = max(len(e.ids) for e in items)
    rng = np.random.default_rng(0)
    h = rng.normal(size=(len(texts) * width, 8)).astype(np.float32)
    start = np.array([c.start for c in ctxs])
    end = np.array([c.end for c in ctxs])
    wanted = np.array([True, True, True, False, True, True, True])
    (got,) = list(_batch_reads(items, users, start, end, h, [position], {position: wanted}))
    pos, ctx, read, x, counts = got
    assert pos == position
    assert ctx.tolist() == [0, 1, 2, 4, 5, 6]  # context 3 not wanted
    assert read[0] == read[2] and len(set(read.tolist())) == len(ctx) - 1 - (position == "pooled")
    bounds = np.r_[0, np.cumsum(counts)]
    for k, i in enumerate(ctx):
        b = next(b for b, u in enumerate(users) if i in u)
        want = _one_at_a_time(items[b], ctxs[i], h[b * width : (b + 1) * width], position)
        np.testing.assert_array_equal(x[bounds[read[k]] : bounds[read[k] + 1]], want)


@pytest.mark.parametrize("positions", [("mention",), ("mention", "mention_state"), ("last",), ("pooled",)])
def test_the_needed_tokens_are_every_token_a_read_takes(minilm, positions):
    """The model computes its last block at the needed tokens only (zeros elsewhere): the reads of states
    zeroed outside the needed tokens are exactly the reads of the whole states, and a context nobody wants
    needs nothing."""
    texts = ["A duty of care is owed to a neighbour.", "Negligence is a breach of that duty.", "care", "unread text"]
    ctxs = [ProbeContext(texts[0], 2, 14, "label"), ProbeContext(texts[0], 28, 37, "label"),
            ProbeContext(texts[1], 0, 10, "label"), ProbeContext(texts[2], 0, 4, "label"),
            ProbeContext(texts[3], 0, 6, "label")]
    users = [[0, 1], [2], [3], [4]]
    items = minilm.encode(texts)
    width = max(len(e.ids) for e in items)
    h = np.random.default_rng(0).normal(size=(len(texts) * width, 8)).astype(np.float32)
    start, end = np.array([c.start for c in ctxs]), np.array([c.end for c in ctxs])
    wanted = {p: np.array([True, True, p != "mention_state", True, False]) for p in positions}
    hits = _batch_hits(items, users, start, end, width)
    needed = _needed_tokens(hits, positions, wanted)
    assert needed.shape == (len(texts), width) and not needed[3].any()
    assert needed.sum() < sum(len(e.ids) for e in items[:3])  # the special tokens at least are not read
    zeroed = h * needed.reshape(-1, 1)
    whole = list(_batch_reads(items, users, start, end, h, positions, wanted))
    part = list(_batch_reads(items, None, start, end, zeroed, positions, wanted, hits=hits))
    assert len(whole) == len(part) == len(positions)
    for a, b in zip(whole, part, strict=True):
        assert a[0] == b[0]
        for u, v in zip(a[1:], b[1:], strict=True):
            np.testing.assert_array_equal(u, v)


def test_backend_tokenizing_equals_the_tokenizer_call(minilm):
    texts = ["A duty of care.", "", "  spaced   out  ", "Ünïcödé naïve café — 東京", "word " * 400,
             "Here is an example of tort law.", "[CLS] literal [SEP] tokens"]
    assert minilm._backend() is not None
    got = minilm.encode(texts)
    enc = minilm.tokenizer(texts, truncation=True, max_length=minilm.max_length, return_offsets_mapping=True,
                           return_special_tokens_mask=True, return_attention_mask=False, return_token_type_ids=False)
    for e, ids, offs, sp in zip(got, enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"],
                                strict=True):
        assert list(e.ids) == ids
        assert [tuple(o) for o in e.offsets] == [tuple(o) for o in offs]
        assert list(e.special) == sp
    assert len(got[4].ids) == minilm.max_length  # truncated like the tokenizer call
