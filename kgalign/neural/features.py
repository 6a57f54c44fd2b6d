"""Feature statistics and automatic labels, computed over a corpus.

For each SAE feature: its density (the fraction of corpus tokens on which it fires),
its mean activation when it fires, its top-activating snippets (with the token that
fired), and an automatic label: the words it fires on most strongly across its top
snippets. Symbols that load on a feature are added later as anchors (see
:mod:`kgalign.index.space`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgalign.errors import EmbedError
from kgalign.neural.concepts import encode_codes
from kgalign.neural.model import BaseModel

TOP_SNIPPETS = 8
_STOP = {
    "the", "a", "an", "of", "to", "in", "and", "or", "for", "on", "by", "with", "as", "at", "from", "is", "be",
    "that", "this", "it", "its", "which", "who", "are", "was", "not", "into", "any", "than", "such",
}


@dataclass
class FeatureStats:
    """Per-feature corpus statistics of one SAE (arrays indexed by feature)."""

    density: np.ndarray  # [d_sae] fraction of tokens with the feature > 0
    mean_activation: np.ndarray  # [d_sae] mean activation where it fires
    max_activation: np.ndarray  # [d_sae]
    labels: list[str]
    snippets: list[list[dict]]  # per feature: [{"text", "token", "activation"}], strongest first
    n_tokens: int
    corpus: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def d_sae(self) -> int:
        return len(self.labels)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        data = {
            "format": "kgalign-feature-stats/1",
            "n_tokens": self.n_tokens,
            "corpus": self.corpus,
            "extra": self.extra,
            "features": [
                {
                    "index": i,
                    "label": self.labels[i],
                    "density": round(float(self.density[i]), 7),
                    "mean_activation": round(float(self.mean_activation[i]), 5),
                    "max_activation": round(float(self.max_activation[i]), 5),
                    "snippets": self.snippets[i],
                }
                for i in range(self.d_sae)
            ],
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        data = json.loads(Path(path).read_text())
        feats = data["features"]
        return cls(
            density=np.array([f["density"] for f in feats], np.float32),
            mean_activation=np.array([f["mean_activation"] for f in feats], np.float32),
            max_activation=np.array([f["max_activation"] for f in feats], np.float32),
            labels=[f["label"] for f in feats],
            snippets=[f["snippets"] for f in feats],
            n_tokens=int(data["n_tokens"]),
            corpus=data.get("corpus", ""),
            extra=data.get("extra", {}),
        )


def _word_at(text: str, start: int, end: int) -> str:
    """The whole word around a token's character span."""
    s, e = start, end
    while s > 0 and (text[s - 1].isalnum() or text[s - 1] in "-'"):
        s -= 1
    while e < len(text) and (text[e].isalnum() or text[e] in "-'"):
        e += 1
    return text[s:e]


def auto_label(snippets: Sequence[dict], n_words: int = 3) -> str:
    """A label from the words a feature fires on in its top snippets, e.g. ``'court / judge / trial'``."""
    words = Counter()
    for sn in snippets:
        w = sn.get("word", "").lower()
        if w and w not in _STOP and re.search(r"[a-z]", w):
            words[w] += sn.get("activation", 1.0)
    if not words:
        return "(unlabelled)"
    return " / ".join(w for w, _ in words.most_common(n_words))


def compute_feature_stats(
    model: BaseModel,
    sae,
    texts: Iterable[str],
    *,
    corpus_name: str = "",
    batch_size: int = 64,
    max_texts: int | None = None,
    top_n: int = TOP_SNIPPETS,
    progress: Callable[[int], None] | None = None,
) -> FeatureStats:
    """Stream ``texts`` through the model and the SAE, keeping per-feature counts and top snippets.

    Memory stays bounded: only ``[d_sae, top_n]`` best activations and their references are kept.
    """
    d_sae = int(sae.W_dec.shape[0])
    fires = np.zeros(d_sae, np.int64)
    act_sum = np.zeros(d_sae, np.float64)
    act_max = np.zeros(d_sae, np.float32)
    best = np.full((d_sae, top_n), -1.0, np.float32)
    best_ref: dict[tuple[int, int], tuple[str, int, int]] = {}
    best_ids = np.full((d_sae, top_n), -1, np.int64)
    n_tokens = 0
    buf: list[str] = []
    ref_counter = 0
    t0 = time.perf_counter()

    def flush(chunk: list[str]) -> None:
        nonlocal n_tokens, ref_counter
        acts = model.activations(chunk, batch_size=batch_size)
        rows, refs = [], []
        for a in acts:
            keep = np.flatnonzero(~a.special_mask & (a.offsets[:, 1] > a.offsets[:, 0]))
            if len(keep) == 0:
                continue
            rows.append(a.hidden[keep])
            refs.extend((a.text, int(a.offsets[k, 0]), int(a.offsets[k, 1])) for k in keep)
        if not rows:
            return
        codes = encode_codes(sae, np.concatenate(rows))  # [n_tok, d_sae]
        n_tokens += codes.shape[0]
        pos = codes > 0
        fires[:] += pos.sum(0)
        act_sum[:] += codes.sum(0)
        np.maximum(act_max, codes.max(0), out=act_max)
        # Per feature, the batch's strongest token competes for the top_n slots.
        arg = codes.argmax(0)
        val = codes[arg, np.arange(d_sae)]
        weakest = best.argmin(1)
        better = val > best[np.arange(d_sae), weakest]
        for f in np.flatnonzero(better):
            slot = weakest[f]
            old = best_ids[f, slot]
            if old >= 0:
                best_ref.pop((int(f), int(old)), None)
            best[f, slot] = val[f]
            best_ids[f, slot] = ref_counter
            best_ref[(int(f), ref_counter)] = refs[int(arg[f])]
            ref_counter += 1

    seen = 0
    for t in texts:
        if max_texts is not None and seen >= max_texts:
            break
        if not t.strip():
            continue
        buf.append(t)
        seen += 1
        if len(buf) >= batch_size * 8:
            flush(buf)
            buf = []
            if progress:
                progress(seen)
    if buf:
        flush(buf)
        if progress:
            progress(seen)
    if n_tokens == 0:
        raise EmbedError(f"corpus is empty: no tokens to compute feature statistics on ({corpus_name or 'texts'})")
    labels: list[str] = []
    snippets: list[list[dict]] = []
    for f in range(d_sae):
        order = np.argsort(-best[f])
        items = []
        for slot in order:
            if best[f, slot] <= 0:
                continue
            text, s, e = best_ref[(f, int(best_ids[f, slot]))]
            items.append({"text": text, "token": text[s:e], "word": _word_at(text, s, e),
                          "start": s, "end": e, "activation": round(float(best[f, slot]), 4)})
        snippets.append(items)
        labels.append(auto_label(items))
    density = (fires / n_tokens).astype(np.float32)
    mean_act = np.where(fires > 0, act_sum / np.maximum(fires, 1), 0).astype(np.float32)
    return FeatureStats(
        density, mean_act, act_max, labels, snippets, n_tokens, corpus_name,
        {"seconds": round(time.perf_counter() - t0, 2), "texts": seen},
    )
