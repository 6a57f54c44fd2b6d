"""Measured reliability of neural claims, from one place.

Two things live here:

- :func:`concept_reliability` — a per-symbol score in [0, 1]: how consistently the symbol's paraphrase
  contexts land on the same *specific* features (codes minus the SAE's background vector, weighted by each
  feature's rarity). Generic or meaningless labels land on generic features and score low.
- :func:`reliability_for` — the figures ``benchmarks/bridge_quality.py`` measured for an SAE (stored beside
  it as ``bridge_quality.json``), per kind of claim, so the matcher and the report weight neural evidence by
  measured reliability instead of a hand-set constant:

  ``similar``         two symbols are near in concept space (synonym-vs-random AUC; hits@1 vs dense);
  ``shared_feature``  two symbols share a feature (synonym/random shared-feature ratio, as an AUC);
  ``stable``          a symbol has a stable neural counterpart (stability AUC clear vs junk labels).

  ``Reliability.weight(kind)`` is ``2·AUC − 1`` clipped to [0, 1] (0 = chance, 1 = perfect);
  ``Reliability.dense_better(kind)`` says where the dense states measured better than the SAE, so callers
  can fall back to them. An SAE with no measurement gets ``measured=False`` and weight 0.5 (unknown).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: File beside an SAE holding the figures of ``benchmarks/bridge_quality.py --json``.
FIGURES_FILENAME = "bridge_quality.json"
#: File beside an SAE holding the readout vectors (``idf`` and ``background``, float32, ``[d_sae]``).
READOUT_FILENAME = "readout.safetensors"
CLAIM_KINDS = ("similar", "shared_feature", "stable")
UNKNOWN_WEIGHT = 0.5
TOP_M = 16


def specific_codes(codes: np.ndarray, idf: np.ndarray | None, background: np.ndarray | None) -> np.ndarray:
    """Codes with the background (template, generic) component removed and rare features up-weighted."""
    x = np.asarray(codes, np.float32)
    if background is not None:
        x = x - background
    if idf is not None:
        x = x * idf
    return x


def concept_reliability(
    codes: np.ndarray,
    *,
    idf: np.ndarray | None = None,
    background: np.ndarray | None = None,
    top_m: int = TOP_M,
) -> float:
    """Mean pairwise Jaccard of the top-``top_m`` *specific* features of a symbol's paraphrase codes
    ``[n_ctx, d_sae]``, times the share of its mass left after removing the background.

    >>> import numpy as np
    >>> c = np.array([[0, 2.0, 1.0, 0], [0, 2.0, 1.0, 0]])
    >>> round(concept_reliability(c), 3)
    1.0
    """
    x = specific_codes(codes, idf, background)
    sets = []
    for row in x:
        active = np.flatnonzero(row > 0)
        if len(active) > top_m:
            active = active[np.argpartition(-row[active], top_m - 1)[:top_m]]
        sets.append(set(active.tolist()))
    if len(sets) < 2:
        return 0.0
    js = [len(a & b) / len(a | b) if (a or b) else 0.0 for a, b in itertools.combinations(sets, 2)]
    raw = np.asarray(codes, np.float32)
    w = idf if idf is not None else np.ones(raw.shape[1], np.float32)
    kept = float(np.clip(x, 0, None).sum()) / max(float((raw * w).sum()), 1e-9)
    return float(np.mean(js)) * min(1.0, kept)


@dataclass(frozen=True)
class Reliability:
    """Measured reliability of each kind of neural claim for one SAE (see the module docstring)."""

    auc: dict[str, float] = field(default_factory=dict)
    dense_auc: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def measured(self) -> bool:
        return bool(self.auc)

    def weight(self, kind: str) -> float:
        """``2·AUC − 1`` clipped to [0, 1]; :data:`UNKNOWN_WEIGHT` when not measured."""
        if kind not in CLAIM_KINDS:
            raise ValueError(f"claim kind must be one of {', '.join(CLAIM_KINDS)}; got {kind!r}")
        a = self.auc.get(kind)
        if a is None or not np.isfinite(a):
            return UNKNOWN_WEIGHT
        return float(np.clip(2 * a - 1, 0.0, 1.0))

    def dense_better(self, kind: str) -> bool:
        """Whether the dense states measured better than the SAE on this kind of claim."""
        a, d = self.auc.get(kind), self.dense_auc.get(kind)
        return a is not None and d is not None and d > a

    def describe(self, kind: str) -> str:
        """One line for reports: the AUC, the dense baseline and what it was measured on."""
        a = self.auc.get(kind)
        if a is None:
            return f"{kind}: not measured for this SAE"
        d = self.dense_auc.get(kind)
        vs = f" (dense states: {d:.2f})" if d is not None else ""
        return f"{kind}: AUC {a:.2f}{vs}, measured by benchmarks/bridge_quality.py on {self.source}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "measured": self.measured,
            "weights": {k: self.weight(k) for k in CLAIM_KINDS},
            "auc": dict(self.auc),
            "dense_auc": dict(self.dense_auc),
            "dense_better": {k: self.dense_better(k) for k in CLAIM_KINDS},
            "source": self.source,
        }


def from_figures(res: dict[str, Any]) -> Reliability:
    """A :class:`Reliability` from the JSON of ``benchmarks/bridge_quality.py``."""
    c, s = res.get("continuity", {}), res.get("stability", {})
    auc = {
        "similar": c.get("auc_sae_cosine"),
        "shared_feature": c.get("auc_sae_jaccard"),
        "stable": s.get("reliability_auc_clear_vs_junk", s.get("auc_clear_vs_junk")),
    }
    dense = {"similar": c.get("auc_dense_cosine"), "shared_feature": c.get("auc_dense_cosine")}
    keep = {k: float(v) for k, v in auc.items() if v is not None}
    figures = {k: res[k] for k in ("conference", "wordnet_retrieval", "reconstruction", "dead") if k in res}
    n = c.get("n_synsets")
    source = f"{n} held-out WordNet synsets, clear/vague/junk labels, OAEI Conference" if n else "bridge_quality"
    return Reliability(keep, {k: float(v) for k, v in dense.items() if v is not None}, figures, source)


def reliability_for(sae_dir: str | Path | None = None) -> Reliability:
    """The measured reliability of the SAE in ``sae_dir`` (default: the shipped SAE)."""
    if sae_dir is None:
        from kgalign.neural.default_sae import DEFAULT_OUT

        sae_dir = DEFAULT_OUT
    path = Path(sae_dir) / FIGURES_FILENAME
    if not path.is_file():
        return Reliability(source=f"no {FIGURES_FILENAME} beside {sae_dir}")
    try:
        return from_figures(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return Reliability(source=f"unreadable {path}")


def load_readout_vectors(sae_dir: str | Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(idf, background)`` of an SAE's readout (``readout.safetensors``), ``(None, None)`` if absent."""
    path = Path(sae_dir) / READOUT_FILENAME
    if not path.is_file():
        return None, None
    from kgalign.neural.sae.io import read_safetensors

    t = read_safetensors(path)
    idf = t["idf"].float().numpy() if "idf" in t else None
    bg = t["background"].float().numpy() if "background" in t else None
    return idf, bg


__all__ = [
    "CLAIM_KINDS",
    "FIGURES_FILENAME",
    "READOUT_FILENAME",
    "Reliability",
    "concept_reliability",
    "from_figures",
    "load_readout_vectors",
    "reliability_for",
    "specific_codes",
]
