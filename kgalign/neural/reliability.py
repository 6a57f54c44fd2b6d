"""Measured reliability of neural claims, from one place.

Two things live here:

- :func:`concept_reliability` — a per-symbol score in [0, 1): how far the symbol's codes stand from the
  SAE's background (the codes common words get in the same templates). Meaningless labels land near the
  background and score low. Chosen by the sweep among stability variants (see the model card).
- :func:`reliability_for` — the figures ``benchmarks/bridge_quality.py`` measured for an SAE (stored beside
  it as ``bridge_quality.json``), per kind of claim, so the matcher and the report weight neural evidence by
  measured reliability instead of a hand-set constant:

  ``similar``         two symbols are near in concept space (synonym-vs-random AUC; hits@1 vs dense);
  ``shared_feature``  two symbols share a feature (synonym/random shared-feature ratio, as an AUC);
  ``stable``          a symbol has a stable neural counterpart (stability AUC clear vs junk labels).

  ``Reliability.weight(kind)`` is ``2·AUC − 1`` clipped to [0, 1] (0 = chance, 1 = perfect);
  ``Reliability.dense_better(kind)`` says where the dense states measured better than the SAE, so callers
  can fall back to them; ``hits_at_1()`` gives ``{task: (SAE, dense)}`` for Conference and WordNet
  retrieval and ``dense_better_at_retrieval()`` whether dense won any. An SAE with no measurement gets
  ``measured=False`` and weight 0.5 (unknown).
"""

from __future__ import annotations

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


def concept_reliability(
    state_codes: np.ndarray,
    *,
    background: np.ndarray | None = None,
    scale: float | None = None,
) -> float:
    """How far a symbol's codes stand from the generic background, in [0, 1).

    ``state_codes [n_ctx, d_sae]``: the codes of the mean mention state of each of the symbol's paraphrase
    contexts (readout ``mention_state``); ``background``: the same for common words (the SAE's
    ``background_state``); ``scale``: the typical distance of a common word from it (0.5 = typical).
    Meaningless labels ("Misc Entry Seventeen", "bakifo") land near the background and score low; the
    score does not separate vague words ("thing") from clear ones — see the model card's figures.

    >>> import numpy as np
    >>> round(concept_reliability(np.array([[3.0, 4.0]]), background=np.zeros(2), scale=5.0), 3)
    0.5
    """
    x = np.asarray(state_codes, np.float32)
    if x.ndim != 2 or not len(x):
        return 0.0
    return reliability_of_mean(x.mean(0), background=background, scale=scale)


def reliability_of_mean(
    mean: np.ndarray, *, background: np.ndarray | None = None, scale: float | None = None
) -> float:
    """:func:`concept_reliability` from the mean of the state codes ``[d_sae]`` (float32) already taken."""
    v = mean - background if background is not None else mean
    norm = float(np.linalg.norm(v))
    s = float(scale) if scale else 1.0
    return norm / (norm + s)


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

    def hits_at_1(self) -> dict[str, tuple[float, float]]:
        """``{task: (SAE hits@1, dense hits@1)}`` for ``conference`` and ``wordnet`` retrieval, if measured."""
        out = {}
        for task, key in (("conference", "conference"), ("wordnet", "wordnet_retrieval")):
            f = self.figures.get(key)
            if isinstance(f, dict) and "sae" in f and "dense" in f:
                s, d = f["sae"], f["dense"]
                out[task] = (float(s.get("1", s.get(1, "nan"))), float(d.get("1", d.get(1, "nan"))))
        return out

    def dense_better_at_retrieval(self) -> bool:
        """Whether the dense states ranked the right partner first more often on any measured task."""
        return any(d > s for s, d in self.hits_at_1().values())

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
            "hits_at_1": {k: {"sae": s, "dense": d} for k, (s, d) in self.hits_at_1().items()},
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


def load_readout_vectors(sae_dir: str | Path) -> dict[str, np.ndarray]:
    """The readout vectors of an SAE (``readout.safetensors``: ``idf``, ``background``,
    ``background_state``, ``reliability_scale``); empty if absent."""
    path = Path(sae_dir) / READOUT_FILENAME
    if not path.is_file():
        return {}
    from kgalign.neural.sae.io import read_safetensors

    return {k: v.float().numpy() for k, v in read_safetensors(path).items()}


__all__ = [
    "CLAIM_KINDS",
    "FIGURES_FILENAME",
    "READOUT_FILENAME",
    "Reliability",
    "concept_reliability",
    "reliability_of_mean",
    "from_figures",
    "load_readout_vectors",
    "reliability_for",
]
