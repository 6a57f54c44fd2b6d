"""Behavioural relevance: does a symbol's feature matter to what the model does with the symbol?

A report links symbols to SAE features because the features fire at the symbol's mentions. That is
correlation. The check here is counterfactual: edit the feature in the model's forward pass at the SAE's
layer (:mod:`kgalign.neural.steering`: only that feature's code changes, the SAE's reconstruction error is
added back) and measure what the model's output does —

- an encoder (MiniLM): the sentence embedding of each of the symbol's probing contexts is compared with the
  embedding of the symbol's definition; ``definition-cosine`` is the mean cosine, and suppressing a feature
  that carries the symbol should lower it. The edit is applied at the *mention tokens* only (the
  representation the concept vector was read from). A symbol without a definition is measured by
  ``embedding-drift``: 1 − cosine between each context's embedding before and after the edit.
- a causal LM (smollm2): ``logprob``, the summed log-probability of the mention's tokens after a prefix
  (the definition, a neutral template, a relation). The edit is applied at *every* token, since the
  mention is predicted from the positions before it.

The same edit is then applied along ``n_controls`` random features that fire elsewhere (in the feature
statistics, or for some other symbol) but are not in the symbol's support, each at the same code change
rescaled to the same decoder norm, so every control moves the residual stream by exactly as much as the
real edit. The effect size is ``z = (effect − mean(controls)) / std(controls)``; a link *passes* when
``z ≥ z_threshold`` (2) and the effect is above the ``percentile`` (0.9) of the controls.

``effect`` is signed so that the expected direction is positive: for ``suppress`` it is the drop of the
measure (before − after), for ``amplify`` and ``add`` the rise (after − before); ``embedding-drift`` is a
distance and has no sign to flip. Controls are drawn with a generator seeded from ``seed``, the symbol's
key and the feature, so a run is reproducible.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import ConfigError, UsageError
from kgalign.neural.probing import ProbeContext, probe_contexts
from kgalign.neural.steering import Intervention, MatchedSplice, token_mask

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.api import Workspace
    from kgalign.index.space import ConceptSpace
    from kgalign.neural.model import BaseModel
    from kgalign.symbolic.symbols import Symbol

Key = tuple[str, str]

#: Check modes: ``suppress`` (the feature's code set to 0), ``amplify`` (multiplied by ``factor``),
#: ``add`` (``alpha`` × the feature's max activation added at every edited token).
MODES: tuple[str, ...] = ("suppress", "amplify", "add")
#: Measures, by model kind and what the symbol offers.
MEASURES: tuple[str, ...] = ("definition-cosine", "embedding-drift", "logprob")

DEFAULT_CONTROLS = 12
Z_THRESHOLD = 2.0
PERCENTILE = 0.9


@dataclass(frozen=True)
class BehaviouralCheck:
    """The counterfactual test of one feature–symbol link, with the raw numbers behind the verdict."""

    key: Key
    feature: int
    effect: float
    control_mean: float
    control_std: float
    z: float
    passed: bool
    n_controls: int
    mode: str
    label: str = ""
    feature_label: str = ""
    measure: str = ""
    #: ``mention`` (the mention's tokens) or ``all`` (every real token) — where the edit was applied
    scope: str = "mention"
    #: the measure without any edit, and with the edit of the feature (means over the contexts)
    baseline: float = float("nan")
    edited: float = float("nan")
    controls: tuple[float, ...] = ()
    control_features: tuple[int, ...] = ()
    #: fraction of the controls whose effect is below this one's
    rank: float = float("nan")
    #: mean code of the feature at the edited tokens, and the summed ‖Δh‖ of the edit (same for each control)
    code: float = 0.0
    strength: float = 0.0
    control_strengths: tuple[float, ...] = ()
    n_contexts: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def graph(self) -> str:
        return self.key[0]

    @property
    def iri(self) -> str:
        return self.key[1]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = list(self.key)
        d["graph"], d["iri"] = self.key
        for k, v in list(d.items()):
            if isinstance(v, float) and not np.isfinite(v):
                d[k] = None
        d["controls"] = [round(x, 6) for x in self.controls]
        d["control_strengths"] = [round(x, 6) for x in self.control_strengths]
        d["control_features"] = list(self.control_features)
        return d


@dataclass
class _Probe:
    """The texts one check edits and how they are measured."""

    texts: list[str]
    spans: list[tuple[int, int]]
    measure: str
    scope: str
    target: str | None = None  # the definition, for definition-cosine
    extra: dict = field(default_factory=dict)


def _encoder_probe(symbol: Symbol, label_of: Any, max_contexts: int) -> _Probe:
    ctxs = [c for c in probe_contexts(symbol, label_of) if c.kind != "definition" and c.mention.strip()]
    ctxs = _spread(ctxs, max_contexts)
    definition = symbol.definition.strip() if symbol.definition else ""
    measure = "definition-cosine" if definition else "embedding-drift"
    return _Probe([c.text for c in ctxs], [(c.start, c.end) for c in ctxs], measure, "mention",
                  definition or None)


def _causal_probe(symbol: Symbol, label_of: Any, max_contexts: int) -> _Probe:
    """Prefixes that end in the mention, so its tokens are predicted from what comes before."""
    label = symbol.label.strip()
    ctxs: list[ProbeContext] = []
    for d in symbol.definitions[:2]:
        d = " ".join(d.split())
        head = f"{d.rstrip('.')}. In short: "
        ctxs.append(ProbeContext(head + label + ".", len(head), len(head) + len(label), "definition"))
    for c in probe_contexts(symbol, label_of):
        if c.start > 0 and c.kind in ("paraphrase", "relation"):
            ctxs.append(c)
    if not ctxs:
        head = "This is about "
        ctxs.append(ProbeContext(head + label + ".", len(head), len(head) + len(label), "paraphrase"))
    ctxs = _spread(ctxs, max_contexts)
    return _Probe([c.text for c in ctxs], [(c.start, c.end) for c in ctxs], "logprob", "all")


def _spread(items: list, n: int) -> list:
    """At most ``n`` items, keeping the first and spreading the rest evenly (deterministic)."""
    if len(items) <= n:
        return items
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def control_pool(space: ConceptSpace, exclude: Iterable[int]) -> np.ndarray:
    """Features that fire elsewhere (density > 0 in the statistics, or loaded by some symbol), minus ``exclude``."""
    active = set(space.claimed_features())
    if space.stats is not None:
        active.update(int(f) for f in np.flatnonzero(np.asarray(space.stats.density) > 0))
    active.difference_update(int(f) for f in exclude)
    return np.array(sorted(active), dtype=np.int64)


def check_link(
    model: BaseModel,
    sae: Any,
    space: ConceptSpace,
    symbol: Symbol,
    feature: int,
    *,
    mode: str = "suppress",
    n_controls: int = DEFAULT_CONTROLS,
    factor: float = 4.0,
    alpha: float = 1.0,
    seed: int = 0,
    max_contexts: int = 6,
    label_of: Any = None,
    z_threshold: float = Z_THRESHOLD,
    percentile: float = PERCENTILE,
) -> BehaviouralCheck:
    """The counterfactual test of the link ``symbol`` → ``feature`` against ``n_controls`` random features."""
    t0 = time.perf_counter()
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(repr(m) for m in MODES)}; got {mode!r}")
    if n_controls < 2:
        raise ConfigError(f"n_controls must be at least 2 (a spread needs two); got {n_controls}")
    key = (symbol.graph, symbol.iri)
    feature = space.check_feature(int(feature))
    if mode == "suppress":
        intervention = Intervention("suppress")
    elif mode == "amplify":
        intervention = Intervention("amplify", float(factor))
    else:
        top = None
        if space.stats is not None:
            top = float(space.stats.max_activation[feature])
        if not top:
            top = max((w for f, w, _ in space.support_of(key) if f == feature), default=1.0)
        intervention = Intervention("add", float(alpha) * top)

    own = {f for f, _, _ in space.support_of(key)} if space.has(key) else set()
    pool = control_pool(space, own | {feature})
    if len(pool) < n_controls:
        raise UsageError(
            f"only {len(pool)} features fire elsewhere to draw {n_controls} controls from; lower n_controls"
        )
    rng = np.random.default_rng([seed, zlib.crc32(f"{key[0]}\x00{key[1]}".encode()), feature])
    controls = [int(g) for g in rng.choice(pool, size=n_controls, replace=False)]

    probe = _causal_probe(symbol, label_of, max_contexts) if model.is_causal else _encoder_probe(
        symbol, label_of, max_contexts
    )
    n = len(probe.texts)
    conditions: list[int | None] = [None, feature, *controls]
    n_cond = len(conditions)
    # One forward pass, rows = conditions × contexts (the contexts are short and alike, so little padding);
    # the definition, often much longer, goes through on its own.
    target = model.sentence_embedding([probe.target])[0] if probe.target is not None else None
    texts = [t for _ in conditions for t in probe.texts]
    spans = [None if probe.scope == "all" else sp for _ in conditions for sp in probe.spans]
    rows: list[int | None] = [c for c in conditions for _ in probe.texts]
    splice = MatchedSplice(sae, feature, intervention, rows, token_mask(model, texts, spans))
    if model.is_causal:
        measured = _mention_logprobs(model, texts, probe.spans * n_cond, splice).reshape(n_cond, n)
    else:
        emb = _unit(model.sentence_embedding(texts, batch_size=len(texts), replace=splice)).reshape(n_cond, n, -1)
        if target is not None:
            measured = emb @ _unit(target)  # [n_cond, n] cosine to the definition
        else:
            measured = 1.0 - (emb * emb[0][None]).sum(-1)  # [n_cond, n] drift from the unedited embedding
    norms = splice.applied_norm.reshape(n_cond, n)
    codes = splice.codes[n : 2 * n]
    values = measured.mean(axis=1)
    if probe.measure == "embedding-drift":
        effects = values.copy()
    else:
        sign = -1.0 if mode == "suppress" else 1.0
        effects = sign * (values - values[0])

    effect = float(effects[1])
    ctrl = np.asarray(effects[2:], dtype=np.float64)
    mean, std = float(ctrl.mean()), float(ctrl.std(ddof=1))
    code = float(np.concatenate(codes).mean()) if any(len(c) for c in codes) else 0.0
    row_norm = norms.sum(axis=1)
    note = ""
    if row_norm[1] == 0.0:
        z = 0.0
        note = "the feature does not fire at the edited tokens: the edit changes nothing"
    elif std > 0:
        z = (effect - mean) / std
    else:
        z = float("inf") if effect > mean else 0.0
    rank = float((ctrl < effect).mean())
    passed = bool(np.isfinite(effect) and z >= z_threshold and effect > float(np.quantile(ctrl, percentile)))
    sym_label = symbol.label
    return BehaviouralCheck(
        key=key,
        feature=feature,
        effect=effect,
        control_mean=mean,
        control_std=std,
        z=float(z),
        passed=passed,
        n_controls=n_controls,
        mode=mode,
        label=sym_label,
        feature_label=space.feature_label(feature),
        measure=probe.measure,
        scope=probe.scope,
        baseline=float(values[0]),
        edited=float(values[1]),
        controls=tuple(float(x) for x in ctrl),
        control_features=tuple(controls),
        rank=rank,
        code=code,
        strength=float(row_norm[1]),
        control_strengths=tuple(float(x) for x in row_norm[2:]),
        n_contexts=n,
        seconds=round(time.perf_counter() - t0, 3),
        note=note,
    )


def _mention_logprobs(
    model: BaseModel, texts: Sequence[str], spans: Sequence[tuple[int, int]], splice: MatchedSplice
) -> np.ndarray:
    """``[n_texts]``: summed ``log p`` of the mention's tokens, each given the tokens before it."""
    lps = model.token_logprobs(texts, batch_size=len(texts), replace=splice)
    mention = token_mask(model, texts, list(spans))
    out = np.zeros(len(texts), np.float64)
    for i, lp in enumerate(lps):
        idx = np.flatnonzero(mention[i])
        idx = idx[(idx >= 1) & (idx - 1 < len(lp))]
        out[i] = float(lp[idx - 1].sum()) if len(idx) else 0.0
    return out


# ------------------------------------------------------------------------------------------- selection


def links_to_check(
    ws: Workspace,
    keys: Sequence[Key] | None = None,
    *,
    top_features: int = 1,
    max_symbols: int = 20,
    alignments: Iterable[Any] | None = None,
    seed: int = 0,
) -> list[tuple[Key, int]]:
    """The (symbol, feature) links a report relies on: the top features of ``keys``, or else of the symbols
    in the strongest merge candidates of ``alignments`` and then a seeded sample of symbols with a
    definition, taken from each graph in turn."""
    space = ws.space
    if keys is None:
        chosen: list[Key] = []
        seen: set[Key] = set()

        def take(k: Key) -> None:
            if k not in seen and space.has(k) and len(chosen) < max_symbols:
                seen.add(k)
                chosen.append(k)

        mappings = [m for al in (alignments or ()) for m in al]
        mappings.sort(key=lambda m: (-float(getattr(m, "confidence", 0.0)), m.subject_graph, m.subject, m.object))
        for m in mappings[: max(1, max_symbols // 4)]:
            take((m.subject_graph, m.subject))
            take((m.object_graph, m.object))
        table = ws.symbol_table
        by_graph: dict[str, list[Key]] = {}
        for k in space.keys:
            s = table.get(k[1], k[0])
            if s is not None and s.definitions:
                by_graph.setdefault(k[0], []).append(k)
        rng = np.random.default_rng(seed)
        queues = []
        for g in sorted(by_graph):
            ks = sorted(by_graph[g])
            queues.append([ks[i] for i in rng.permutation(len(ks))])
        while len(chosen) < max_symbols and any(queues):
            for q in queues:
                if q:
                    take(q.pop(0))
        keys = chosen
    out = []
    for k in list(keys)[:max_symbols]:
        for f, _, _ in space.support_of(tuple(k))[:top_features]:
            out.append((tuple(k), int(f)))
    return out


def behavioural_checks(
    ws: Workspace,
    keys: Sequence[Key] | None = None,
    top_features: int = 1,
    max_symbols: int = 20,
    *,
    mode: str = "suppress",
    n_controls: int = DEFAULT_CONTROLS,
    factor: float = 4.0,
    alpha: float = 1.0,
    seed: int = 0,
    max_contexts: int = 6,
    alignments: Iterable[Any] | None = None,
    time_budget: float | None = None,
    model: BaseModel | None = None,
    sae: Any = None,
) -> list[BehaviouralCheck]:
    """Counterfactual checks of the feature–symbol links a report relies on (see :func:`links_to_check`).

    Loads the workspace's base model and SAE unless given. With ``time_budget`` (seconds) the checks stop
    once it is spent, keeping those done. Returns one :class:`BehaviouralCheck` per link, in order.
    """
    from kgalign.index.build import load_model_for, load_sae_for

    t0 = time.perf_counter()
    links = links_to_check(ws, keys, top_features=top_features, max_symbols=max_symbols,
                           alignments=alignments, seed=seed)
    if not links:
        return []
    if model is None:
        model = load_model_for(ws)
    if sae is None:
        sae, _ = load_sae_for(ws, model.d_model, model, force=True)
    space = ws.space
    table = ws.symbol_table

    def label_of(iri: str) -> str | None:
        s = table.get(iri)
        return s.label if s is not None else None

    out: list[BehaviouralCheck] = []
    for key, f in links:
        if time_budget is not None and time.perf_counter() - t0 > time_budget:
            break
        symbol = table.get(key[1], key[0])
        if symbol is None:
            continue
        out.append(
            check_link(model, sae, space, symbol, f, mode=mode, n_controls=n_controls, factor=factor,
                       alpha=alpha, seed=seed, max_contexts=max_contexts, label_of=label_of)
        )
    return out


def summarise(checks: Sequence[BehaviouralCheck]) -> dict[str, Any]:
    """Counts (passed; moved the opposite way by ``z ≤ −2``) and the median effect size of a list of checks."""
    zs = [c.z for c in checks if np.isfinite(c.z)]
    return {
        "n_checks": len(checks),
        "n_passed": sum(c.passed for c in checks),
        # the edit moved the measure the *other* way by at least two control sd: the feature matters, but
        # not as the report reads it
        "n_opposite": sum(c.z <= -Z_THRESHOLD for c in checks),
        "median_z": float(np.median(zs)) if zs else None,
        "mean_z": float(np.mean(zs)) if zs else None,
        "modes": sorted({c.mode for c in checks}),
        "measures": sorted({c.measure for c in checks}),
    }


__all__ = [
    "BehaviouralCheck",
    "MODES",
    "MEASURES",
    "behavioural_checks",
    "check_link",
    "control_pool",
    "links_to_check",
    "summarise",
]
