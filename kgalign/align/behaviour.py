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
from kgalign.neural.steering import Intervention, MatchedSplice, SetSplice, token_mask

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.index.context import SpaceContext as Workspace
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


# ------------------------------------------------------------------------------------ tests of meaning

#: Contexts that say nothing, for the "amplify in a neutral context" test.
NEUTRAL_CONTEXTS: tuple[str, ...] = (
    "This is it.",
    "Here is one more thing.",
    "We talked about it yesterday.",
    "That is what they meant.",
)
#: The two tests of meaning: suppressing the feature two merge candidates share pulls them apart
#: (``pull-apart``); adding the feature to a neutral context pulls it toward the symbol's definition
#: (``definition-pull``).
MEANING_TESTS: tuple[str, ...] = ("pull-apart", "definition-pull", "shared-pull-apart")


@dataclass(frozen=True)
class MeaningCheck:
    """One test of what a feature means, against same-strength random features.

    ``effect`` is signed so that the predicted direction is positive: for ``pull-apart`` the drop of the
    cosine between the two symbols' mean context embeddings when the feature is suppressed at their
    mentions; for ``definition-pull`` the rise of the cosine between neutral contexts and the symbol's
    definition when the feature is added at every token. ``null`` marks a link from the control batch
    (a random pair; another symbol's definition), whose pass rate is the test's false-positive rate.
    """

    test: str
    keys: tuple[Key, ...]
    labels: tuple[str, ...]
    feature: int
    null: bool
    effect: float
    control_mean: float
    control_std: float
    z: float
    rank: float
    passed: bool
    n_controls: int
    baseline: float
    strength: float
    feature_label: str = ""
    note: str = ""
    #: the whole feature set edited (``shared-pull-apart``); ``feature`` is its strongest member
    features: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keys"] = [list(k) for k in self.keys]
        d["features"] = list(self.features)
        d["labels"] = list(self.labels)
        for k, v in list(d.items()):
            if isinstance(v, float):
                d[k] = round(v, 6) if np.isfinite(v) else None
        return d


def _verdict(effects: np.ndarray, norm: float, z_threshold: float, percentile: float) -> tuple[float, float, float, float, bool, str]:
    """``(effect, mean, std, z, rank, passed, note)`` of condition 1 against conditions 2.. (controls)."""
    effect = float(effects[0])
    ctrl = np.asarray(effects[1:], np.float64)
    mean, std = float(ctrl.mean()), float(ctrl.std(ddof=1))
    note = ""
    if norm == 0.0:
        z, note = 0.0, "the feature does not fire at the edited tokens: the edit changes nothing"
    elif std > 0:
        z = (effect - mean) / std
    else:
        z = float("inf") if effect > mean else 0.0
    rank = float((ctrl < effect).mean())
    passed = bool(norm > 0 and np.isfinite(effect) and z >= z_threshold
                  and effect > float(np.quantile(ctrl, percentile)))
    return effect, mean, std, float(z), rank, passed, note


def _controls(space: ConceptSpace, exclude: set[int], n: int, seed: Sequence[int]) -> list[int]:
    pool = control_pool(space, exclude)
    if len(pool) < n:
        raise UsageError(f"only {len(pool)} features fire elsewhere to draw {n} controls from; lower n_controls")
    rng = np.random.default_rng(list(seed))
    return [int(g) for g in rng.choice(pool, size=n, replace=False)]


def _seed_of(*parts: str) -> int:
    return zlib.crc32("\x00".join(parts).encode())


def pull_apart_check(
    model: BaseModel, sae: Any, space: ConceptSpace, a: Symbol, b: Symbol, feature: int, *,
    null: bool = False, n_controls: int = DEFAULT_CONTROLS, seed: int = 0, max_contexts: int = 4,
    label_of: Any = None, z_threshold: float = Z_THRESHOLD, percentile: float = PERCENTILE,
) -> MeaningCheck:
    """Suppress ``feature`` at the mentions of ``a`` (``b`` left as it is): does ``a`` move away from ``b``
    (the cosine of their mean context embeddings drops) more than when the same code change goes along
    random features' decoder directions? Editing one side only keeps the test meaningful for two symbols
    with the same wording."""
    feature = space.check_feature(int(feature))
    ka, kb = (a.graph, a.iri), (b.graph, b.iri)
    own = {f for k in (ka, kb) if space.has(k) for f, _, _ in space.support_of(k)}
    controls = _controls(space, own | {feature}, n_controls, [seed, _seed_of(*ka, *kb), feature])
    pa, pb = _encoder_probe(a, label_of, max_contexts), _encoder_probe(b, label_of, max_contexts)
    conditions: list[int | None] = [None, feature, *controls]
    na = len(pa.texts)
    texts = [t for _ in conditions for t in pa.texts]
    spans = [sp for _ in conditions for sp in pa.spans]
    rows = [c for c in conditions for _ in pa.texts]
    splice = MatchedSplice(sae, feature, Intervention("suppress"), rows, token_mask(model, texts, spans))
    emb = _unit(model.sentence_embedding(texts, batch_size=len(texts), replace=splice)).reshape(
        len(conditions), na, -1)
    mb = _unit(_unit(model.sentence_embedding(pb.texts, batch_size=len(pb.texts))).mean(0))
    sims = _unit(emb.mean(1)) @ mb  # [n_cond]
    drops = sims[0] - sims[1:]
    norms = splice.applied_norm.reshape(len(conditions), na).sum(1)
    effect, mean, std, z, rank, passed, note = _verdict(drops, float(norms[1]), z_threshold, percentile)
    return MeaningCheck("pull-apart", (ka, kb), (a.label, b.label), feature, null, effect, mean, std, z, rank,
                        passed, n_controls, float(sims[0]), float(norms[1]), space.feature_label(feature), note)


def definition_pull_check(
    model: BaseModel, sae: Any, space: ConceptSpace, symbol: Symbol, feature: int, null_definition: str, *,
    n_controls: int = DEFAULT_CONTROLS, alpha: float = 1.0, seed: int = 0,
    z_threshold: float = Z_THRESHOLD, percentile: float = PERCENTILE, null_key: Key | None = None,
) -> tuple[MeaningCheck, MeaningCheck]:
    """Add ``feature`` (``alpha`` × its largest activation) at every token of neutral contexts: do they move
    toward ``symbol``'s definition more than with same-strength random features? The same edits measured
    against ``null_definition`` (another symbol's) give the null link, at no extra forward pass."""
    feature = space.check_feature(int(feature))
    key = (symbol.graph, symbol.iri)
    if not symbol.definition:
        raise UsageError(f"{symbol.label}: no definition to pull toward")
    top = float(space.stats.max_activation[feature]) if space.stats is not None else 0.0
    if not top:
        top = max((w for f, w, _ in space.support_of(key) if f == feature), default=1.0)
    own = {f for f, _, _ in space.support_of(key)} if space.has(key) else set()
    controls = _controls(space, own | {feature}, n_controls, [seed, _seed_of(*key), feature, 1])
    conditions: list[int | None] = [None, feature, *controls]
    base = list(NEUTRAL_CONTEXTS)
    texts = [t for _ in conditions for t in base]
    rows = [c for c in conditions for _ in base]
    splice = MatchedSplice(sae, feature, Intervention("add", float(alpha) * top), rows,
                           token_mask(model, texts, None))
    emb = _unit(model.sentence_embedding(texts, batch_size=len(texts), replace=splice)).reshape(
        len(conditions), len(base), -1)
    targets = _unit(model.sentence_embedding([symbol.definition, null_definition]))
    norms = splice.applied_norm.reshape(len(conditions), len(base)).sum(1)
    out = []
    for t, null in ((targets[0], False), (targets[1], True)):
        cos = (emb @ t).mean(1)  # [n_cond]
        rises = cos[1:] - cos[0]
        effect, mean, std, z, rank, passed, note = _verdict(rises, float(norms[1]), z_threshold, percentile)
        keys = (key,) if not null else (key, null_key or ("", ""))
        out.append(MeaningCheck("definition-pull", keys, (symbol.label,), feature, null, effect, mean, std, z,
                                rank, passed, n_controls, float(cos[0]), float(norms[1]),
                                space.feature_label(feature), note))
    return out[0], out[1]


def _specificity(space: ConceptSpace) -> np.ndarray:
    """``[d_sae]``: ``-log`` of the share of symbols loading on each feature (generic features weigh less)."""
    cached = getattr(space, "_kga_specificity", None)
    if cached is None:
        from kgalign.index.operators import arrays

        cached = -np.log(np.maximum(arrays(space).promiscuity.astype(np.float64), 1.0 / max(1, len(space.keys))))
        space._kga_specificity = cached
    return cached


def shared_feature(space: ConceptSpace, a: Key, b: Key) -> int | None:
    """The feature two symbols share most, generic features discounted (``min`` of their weights ×
    specificity), or ``None``."""
    spec = _specificity(space)
    wa = {f: w for f, w, _ in space.support_of(a)}
    best = max(((min(w, wa[f]) * spec[f], f) for f, w, _ in space.support_of(b) if f in wa), default=None)
    return None if best is None else int(best[1])


def specific_feature(space: ConceptSpace, key: Key) -> int | None:
    """The symbol's strongest feature, generic features discounted (weight × specificity)."""
    spec = _specificity(space)
    best = max(((w * spec[f], f) for f, w, _ in space.support_of(key)), default=None)
    return None if best is None else int(best[1])


def merge_candidate_pairs(ws: Workspace, limit: int = 20) -> list[tuple[Key, Key, float]]:
    """Cross-graph mutual nearest neighbours in concept space (the pairs a merge query proposes first),
    most similar first: ``(a, b, cosine)``."""
    space = ws.space
    graphs = sorted({k[0] for k in space.keys})
    if len(graphs) < 2:
        return []
    best: dict[Key, tuple[Key, float]] = {}
    for k in space.keys:
        hits = space.similar(k, 1, graphs=set(graphs) - {k[0]})
        if hits:
            best[k] = hits[0]
    pairs = []
    for k, (o, sim) in best.items():
        if best.get(o, (None,))[0] == k and k < o:
            pairs.append((k, o, sim))
    pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
    return pairs[:limit]


def null_pairs(ws: Workspace, n: int, exclude: set[tuple[Key, Key]], seed: int = 0) -> list[tuple[Key, Key]]:
    """``n`` seeded random cross-graph pairs that are not merge candidates (and not near neighbours)."""
    space = ws.space
    keys = list(space.keys)
    rng = np.random.default_rng(seed + 7)
    out: list[tuple[Key, Key]] = []
    tries = 0
    while len(out) < n and tries < 50 * max(n, 1) and len(keys) > 1:
        tries += 1
        i, j = rng.choice(len(keys), 2, replace=False)
        a, b = keys[int(i)], keys[int(j)]
        if a[0] == b[0] or (a, b) in exclude or (b, a) in exclude:
            continue
        if space.similarity(a, b) > float(np.median(space.nearest_neighbour_similarity())):
            continue
        out.append((a, b))
    return out


@dataclass
class MeaningBatch:
    """A batch of meaning tests on merge-candidate links and on null links, with the statistics."""

    checks: list[MeaningCheck] = field(default_factory=list)
    seconds: float = 0.0

    def rates(self, test: str) -> dict[str, Any]:
        """Pass rate on real links, false-positive rate on null links, and the batch p-values.

        ``p_binomial``: P(at least the observed passes among the real links) if each passed at the
        measured false-positive rate (floored at half a null, so that 0 nulls passing is not certainty);
        ``p_fisher``: one-sided Fisher exact test of real vs null pass counts.
        """
        from scipy.stats import binom, fisher_exact

        real = [c for c in self.checks if c.test == test and not c.null]
        null = [c for c in self.checks if c.test == test and c.null]
        k, n = sum(c.passed for c in real), len(real)
        kn, nn = sum(c.passed for c in null), len(null)
        out: dict[str, Any] = {"test": test, "n": n, "passed": k, "n_null": nn, "null_passed": kn,
                               "pass_rate": k / n if n else None, "false_positive_rate": kn / nn if nn else None,
                               "p_binomial": None, "p_fisher": None, "ratio": None}
        if n and nn:
            p0 = max(kn / nn, 0.5 / nn)
            out["p_binomial"] = float(binom.sf(k - 1, n, p0))
            out["p_fisher"] = float(fisher_exact([[k, n - k], [kn, nn - kn]], alternative="greater")[1])
            out["ratio"] = (k / n) / p0
            out["meets_target"] = bool(out["ratio"] >= 3 and out["p_binomial"] < 0.01)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 2), "tests": {t: self.rates(t) for t in MEANING_TESTS},
                "checks": [c.to_dict() for c in self.checks]}


def meaning_checks(
    ws: Workspace, *, n_links: int = 12, n_controls: int = 10, seed: int = 0, max_contexts: int = 4,
    alpha: float = 1.0, time_budget: float | None = None, model: BaseModel | None = None, sae: Any = None,
    progress: Any = None,
) -> MeaningBatch:
    """Both tests of meaning on up to ``n_links`` merge-candidate links and as many null links.

    ``pull-apart``: each candidate pair with the feature it shares most, and random cross-graph pairs
    (with theirs, or the first symbol's top feature) as the null. ``shared-pull-apart``: the same pairs,
    the whole shared top-16 set suppressed at both symbols' mentions against density-matched random sets
    (:func:`shared_pull_apart_check`; a null pair sharing nothing cannot pass). ``definition-pull``: each candidate
    symbol that has a definition with its top feature, measured against its own definition and, as the
    null, against another symbol's. Stops when ``time_budget`` CPU seconds are spent, keeping what is done.
    """
    from kgalign.index.build import load_model_for, load_sae_for

    t0 = time.perf_counter()
    c0 = time.process_time()  # the budget is CPU time: the sample does not shrink on a loaded machine
    space, table = ws.space, ws.symbol_table
    if model is None:
        model = load_model_for(ws)
    if sae is None:
        sae, _ = load_sae_for(ws, model.d_model, model)

    def label_of(iri: str) -> str | None:
        s = table.get(iri)
        return s.label if s is not None else None

    cands = merge_candidate_pairs(ws, n_links)
    nulls = null_pairs(ws, len(cands), {(a, b) for a, b, _ in cands}, seed)
    defined = [k for k in space.keys if (s := table.get(k[1], k[0])) is not None and s.definition]
    rng = np.random.default_rng(seed)
    pair_jobs: list[tuple[str, Any]] = []
    for (a, b, _), nb in zip(cands, nulls + [None] * len(cands), strict=False):
        pair_jobs.append(("pair", (a, b, False)))
        if nb is not None:
            pair_jobs.append(("pair", (nb[0], nb[1], True)))
    def_jobs: list[tuple[str, Any]] = []
    seen_def: set[Key] = set()
    for a, b, _ in cands:
        for k in (a, b):
            s = table.get(k[1], k[0])
            if s is not None and s.definition and k not in seen_def and len(seen_def) < n_links:
                seen_def.add(k)
                def_jobs.append(("def", k))
    # interleaved (a real link and its null, then a definition), so a spent budget leaves both tests sampled
    jobs: list[tuple[str, Any]] = []
    for i in range(max(len(pair_jobs), 2 * len(def_jobs))):
        if i < len(pair_jobs):
            jobs.append(pair_jobs[i])
        if i % 2 == 1 and i // 2 < len(def_jobs):
            jobs.append(def_jobs[i // 2])
    batch = MeaningBatch()
    for i, (kind, job) in enumerate(jobs):
        if time_budget is not None and time.process_time() - c0 > time_budget:
            break
        if kind == "pair":
            a, b, null = job
            f = shared_feature(space, a, b)
            if f is None:
                f = specific_feature(space, a)
                if f is None:
                    continue
            sa, sb = table.get(a[1], a[0]), table.get(b[1], b[0])
            if sa is None or sb is None:
                continue
            batch.checks.append(pull_apart_check(model, sae, space, sa, sb, f, null=null, n_controls=n_controls,
                                                 seed=seed, max_contexts=max_contexts, label_of=label_of))
            batch.checks.append(_shared_check(model, sae, space, sa, sb, null, seed, max_contexts, label_of))
        else:
            k = job
            s = table.get(k[1], k[0])
            f = specific_feature(space, k)
            others = [d for d in defined if d != k]
            if s is None or f is None or not others:
                continue
            nk = others[int(rng.integers(len(others)))]
            ns = table.get(nk[1], nk[0])
            real, nul = definition_pull_check(model, sae, space, s, f, ns.definition, n_controls=n_controls,
                                              alpha=alpha, seed=seed, null_key=nk)
            batch.checks.extend([real, nul])
        if progress:
            progress(i + 1, len(jobs))
    batch.seconds = time.perf_counter() - t0
    return batch


def _shared_check(model: BaseModel, sae: Any, space: ConceptSpace, a: Symbol, b: Symbol, null: bool, seed: int,
                  max_contexts: int, label_of: Any) -> MeaningCheck:
    """:func:`shared_pull_apart_check` of two embedded symbols, with the space's supports and densities."""
    ka, kb = (a.graph, a.iri), (b.graph, b.iri)
    va, vb = space.table.vectors[space.row_of(ka)], space.table.vectors[space.row_of(kb)]
    if space.stats is not None and len(space.stats.density) == space.d_sae:
        density = np.asarray(space.stats.density, np.float64)
    else:
        density = np.zeros(space.d_sae)
        density[list(space.claimed_features())] = 1.0
    excl = set(top_support(va, 2 * SHARED_TOP_M)) | set(top_support(vb, 2 * SHARED_TOP_M))

    def ctx(sym: Symbol) -> list[ProbeContext]:
        cs = [c for c in probe_contexts(sym, label_of) if c.kind != "definition" and c.mention.strip()]
        return _spread(cs, max_contexts)

    return shared_pull_apart_check(model, sae, ctx(a), ctx(b), shared_set(va, vb), density, keys=(ka, kb),
                                   labels=(a.label, b.label), exclude=excl, null=null, seed=seed)


# ------------------------------------------------------------------ the shared set of two merge candidates

#: How many of a symbol's strongest features form the support two symbols must share (as the benchmark's).
SHARED_TOP_M = 16
#: Same-strength, density-matched random control sets per shared-set test.
SHARED_CONTROLS = 16


def top_support(vector: np.ndarray, m: int = SHARED_TOP_M) -> list[int]:
    """The ``m`` features with the largest positive weight in a concept vector, strongest first.

    >>> top_support(np.array([0.0, 3.0, -1.0, 2.0]), 2)
    [1, 3]
    """
    v = np.asarray(vector, np.float64)
    active = np.flatnonzero(v > 0)
    return [int(f) for f in active[np.argsort(-v[active], kind="stable")[:m]]]


def shared_set(va: np.ndarray, vb: np.ndarray, m: int = SHARED_TOP_M) -> list[int]:
    """The features in both top-``m`` supports, by the smaller of the two weights (strongest first).

    >>> shared_set(np.array([1.0, 2.0, 0.0, 3.0]), np.array([0.0, 1.0, 5.0, 4.0]), 3)
    [3, 1]
    """
    both = set(top_support(va, m)) & set(top_support(vb, m))
    return sorted(both, key=lambda f: (-min(float(va[f]), float(vb[f])), f))


def density_matched(features: Sequence[int], density: np.ndarray, exclude: set[int], rng: np.random.Generator,
                    pool: int = 64) -> list[int]:
    """One random feature per ``features[j]``, drawn among the ``pool`` alive features nearest to it in
    log firing density, none in ``exclude`` and no two alike: a control set that fires as often."""
    dens = np.asarray(density, np.float64)
    logd = np.log10(np.maximum(dens, 1e-9))
    ok = dens > 0
    ok[list(exclude)] = False
    free = np.flatnonzero(ok)
    if len(free) < len(features):
        raise UsageError(f"only {len(free)} alive features outside the shared set to draw controls from")
    out: list[int] = []
    for f in features:
        cand = free[np.argsort(np.abs(logd[free] - logd[f]), kind="stable")]
        cand = [int(g) for g in cand[: pool + len(out)] if int(g) not in out][:pool]
        out.append(int(rng.choice(cand)))
    return out


def shared_pull_apart_check(
    model: BaseModel, sae: Any, a_ctx: Sequence[ProbeContext], b_ctx: Sequence[ProbeContext],
    features: Sequence[int], density: np.ndarray, *, keys: tuple[Key, Key], labels: tuple[str, str],
    exclude: Iterable[int] = (), null: bool = False, n_controls: int = SHARED_CONTROLS, seed: int = 0,
    z_threshold: float = Z_THRESHOLD, percentile: float = PERCENTILE, sides: str = "one",
) -> MeaningCheck:
    """Suppress the whole set of features two symbols share at the mentions of ``a`` (``sides="one"``, the
    default; ``b`` left as it is) or of both (``"both"``): does the cosine of their mean output embeddings
    (over each one's contexts) drop more than when the same per-feature code changes go along random,
    density-matched features (drawn independently for each edited side)?

    One side is the default: editing two identical mentions identically cannot pull them apart (measured:
    on the OAEI Conference references, where most pairs share their label, the two-sided edit failed).
    ``effect`` = cosine before − after; a symbol pair with no shared feature cannot pass (``note`` says so).
    """
    if sides not in ("one", "both"):
        raise ConfigError(f"sides must be 'one' or 'both'; got {sides!r}")
    features = [int(f) for f in features]
    if not features:
        return MeaningCheck("shared-pull-apart", keys, labels, -1, null, 0.0, 0.0, 0.0, 0.0, 0.0, False,
                            0, float("nan"), 0.0, "", "no shared feature: nothing to suppress")
    rng = np.random.default_rng([seed, _seed_of(*keys[0], *keys[1])])
    excl = set(exclude) | set(features)
    ctrl_a = [density_matched(features, density, excl, rng) for _ in range(n_controls)]
    ctrl_b = [density_matched(features, density, excl, rng) for _ in range(n_controls)]
    na, nb = len(a_ctx), len(b_ctx)
    ctx = [*a_ctx, *b_ctx]
    texts, spans, targets = [], [], []
    for cond in range(2 + n_controls):
        for i, c in enumerate(ctx):
            texts.append(c.text)
            spans.append((c.start, c.end))
            if cond == 0 or (sides == "one" and i >= na):
                targets.append(None)
            elif cond == 1:
                targets.append(features)
            else:
                targets.append((ctrl_a if i < na else ctrl_b)[cond - 2])
    splice = SetSplice(sae, features, Intervention("suppress"), targets, token_mask(model, texts, spans))
    emb = model.sentence_embedding(texts, batch_size=len(texts), replace=splice).reshape(2 + n_controls, na + nb, -1)
    ea, eb = _unit(emb[:, :na].mean(1)), _unit(emb[:, na:].mean(1))
    sims = (ea * eb).sum(1)
    drops = sims[0] - sims[1:]
    norms = splice.applied_norm.reshape(2 + n_controls, na + nb).sum(1)
    effect, mean, std, z, rank, passed, note = _verdict(drops, float(norms[1]), z_threshold, percentile)
    return MeaningCheck("shared-pull-apart", keys, labels, features[0], null, effect, mean, std, z, rank, passed,
                        n_controls, float(sims[0]), float(norms[1]), "", note, tuple(features))


__all__ = [
    "BehaviouralCheck",
    "MODES",
    "MEASURES",
    "MEANING_TESTS",
    "MeaningBatch",
    "MeaningCheck",
    "behavioural_checks",
    "definition_pull_check",
    "meaning_checks",
    "merge_candidate_pairs",
    "pull_apart_check",
    "shared_pull_apart_check",
    "shared_set",
    "density_matched",
    "top_support",
    "check_link",
    "control_pool",
    "links_to_check",
    "summarise",
]
