"""Training on the union of several bridge harvests: each snippet once, only snippets of the current corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kgalign.neural.recipe import harvested_keys, load_union


def _write_chunk(root: Path, name: str, snippets: dict[int, list[int]], layer: int = 4) -> None:
    """One harvested chunk: rows grouped by snippet, each row's state = [snippet id, token id, ...]."""
    root.mkdir(parents=True, exist_ok=True)
    ids, snip, pos, acts = [], [], [], []
    for s, toks in snippets.items():
        for p, t in enumerate(toks):
            ids.append(t)
            snip.append(s)
            pos.append(p + 1)
            acts.append([s, t, 0.0])
    np.save(root / f"{name}.L{layer}.npy", np.asarray(acts, np.float16))
    np.savez(root / f"{name}.meta.npz", ids=np.asarray(ids, np.int32), snippet=np.asarray(snip, np.int32),
             pos=np.asarray(pos, np.int16))


def _key(toks: list[int]) -> bytes:
    return np.asarray(toks, np.int32).tobytes()


def test_union_keeps_each_current_snippet_once(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    # the old harvest: snippet [7, 8] was dropped from the corpus since (like the leaked folio text)
    _write_chunk(old, "train_0000", {0: [1, 2, 3], 1: [7, 8], 2: [4, 5]})
    _write_chunk(new, "train_0000", {0: [4, 5], 1: [9]})  # [4, 5] again, in another order and position
    _write_chunk(new, "train_0001", {4000: [10, 11, 12]})
    assert harvested_keys(old, "train") == {_key([1, 2, 3]), _key([7, 8]), _key([4, 5])}
    allowed = {_key(t) for t in ([1, 2, 3], [4, 5], [9], [10, 11, 12], [99])}

    x, meta = load_union([new, old], "train", 4, allowed)

    assert meta["snippets"] == 4 and meta["dropped_snippets"] == 2 and meta["chunks"] == 3
    assert sorted(meta["ids"].tolist()) == [1, 2, 3, 4, 5, 9, 10, 11, 12]  # no 7, 8; 4, 5 once
    assert x.shape == (9, 3)
    assert np.array_equal(x[:, 1].astype(int), meta["ids"])  # rows stay aligned with their token ids
    # snippet ids stay distinct across roots (pooling by snippet must not merge two harvests' snippet 0)
    assert len(np.unique(meta["snippet"])) == 4


def test_forward_states_equal_the_full_forward_and_stop_early(minilm):
    """Harvesting only the trained layer runs fewer blocks and gives the same states as output_hidden_states."""
    import torch

    from kgalign.neural.recipe import forward_states

    texts = ["a mildly poisonous fungus", "the conference chair accepts the camera-ready paper of an author"]
    (idx, items), = minilm.batches(texts, 8)
    ids, mask = minilm._pad(items)
    calls = []
    hooks = [b.register_forward_hook(lambda m, a, o, i=i: calls.append(i)) for i, b in enumerate(minilm.blocks)]
    try:
        with torch.inference_mode():
            full = minilm.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            calls.clear()
            got = forward_states(minilm, ids, mask, (4,))
            ran = list(calls)
            every = forward_states(minilm, ids, mask, (4, 5, 6))
    finally:
        for h in hooks:
            h.remove()
    assert ran == [0, 1, 2, 3]  # blocks 4 and 5 never ran for layer 4
    assert torch.equal(got[4], full[4])
    assert all(torch.equal(every[k], full[k]) for k in (4, 5, 6))
