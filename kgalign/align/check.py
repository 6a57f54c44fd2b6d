"""A bridge audit of one workspace: can *this* SAE carry *these* artefacts' concepts?

Everything is measured on the user's own symbols with the workspace's own model, layer and SAE (through the
same embed pipeline, :func:`kgalign.neural.concepts.embed_symbols`), so the figures change when the SAE does:

- **reliability vs junk** — the reliability score (:func:`kgalign.neural.reliability.concept_reliability`, the
  embed's ``ConceptTable.reliability``) of the workspace's symbols against meaningless labels generated here
  ("Misc Entry Seventeen") embedded the same way: the AUC says whether a low score marks a symbol with no
  neural counterpart (pruning claims). Support stability is measured beside it but does not decide: junk
  labels of common words get *more* stable supports than real symbols (generic features fire alike in every
  template), so its AUC is inverted on real workspaces (demo 0.39).
- **paraphrase agreement** — each symbol's label alone and one paraphrase (an alternative label, else its
  definition used as the mention) are embedded as bare symbols; the label's vector should find its own
  paraphrase among every paraphrase: AUC (own vs another's paraphrase) and hits@1/@5, for the SAE concept
  vectors and for the dense hidden states of the very same contexts (merge and alias claims).
- **reconstruction** — FVE, L0 and the share of features firing, on the artefacts' own labels and
  definitions (every neural claim).
- **behaviour** — the two tests of meaning of :func:`kgalign.align.behaviour.meaning_checks` on
  merge-candidate links against null links (feature claims).
- **labels** — the share of the features that fire here whose label is backed by checkable evidence
  (:mod:`kgalign.neural.labels`).

Each claim kind gets a verdict; the result is written to ``neural/check.json`` and as facts in
``<urn:kgalign:neural>`` so the report and the server read it without recomputing. Stages: ``run_check``
(measure) → :class:`CheckResult` (typed) → ``save`` / ``load_check``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import WorkspaceError

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.index.context import SpaceContext as Workspace

__all__ = ["CLAIM_KINDS", "CheckConfig", "ClaimVerdict", "CheckResult", "run_check", "load_check", "junk_labels"]

#: The kinds of neural claim kgalign makes, each with its own verdict.
CLAIM_KINDS: tuple[str, ...] = ("merge", "pruning", "feature-links", "feature-labels", "reconstruction")
CHECK_FILE = "check.json"
CHECK_IRI = "urn:kgalign:check"
_FORMAT = "kgalign-check/1"

_JUNK_A = ("Misc", "Other", "Generic", "Item", "Entry", "Record", "Object", "Unit", "Thing", "Element", "Node",
           "Stuff", "Various", "General", "Extra", "Sundry")
_JUNK_B = ("Entry", "Group", "Item", "Part", "Set", "Class", "Type", "Block", "Bucket", "Slot", "Field", "Record")
_JUNK_C = ("Seventeen", "Nine", "B", "4", "Twelve", "X", "Alpha", "03", "Two", "Zeta", "Forty", "Q7", "Eleven",
           "Misc", "Z", "Nineteen")


@dataclass(frozen=True)
class CheckConfig:
    """What the check samples and the bars of its verdicts."""

    n_symbols: int = 80
    n_junk: int = 40
    n_links: int = 10
    n_controls: int = 10
    fve_texts: int = 400
    behaviour_budget: float = 45.0
    label_synsets: int = 1500
    seed: int = 0
    min_auc: float = 0.8
    min_fve: float = 0.8
    min_labelled: float = 0.5
    min_pairs: int = 20


@dataclass(frozen=True)
class ClaimVerdict:
    """Whether one kind of neural claim can be trusted on this workspace, and the figure it rests on."""

    claim: str
    ok: bool | None  # None: not measurable here (too few items)
    figure: str
    detail: str = ""
    #: a number in [0, 1] the report and matcher can weight this kind of evidence by
    reliability: float | None = None


@dataclass
class CheckResult:
    """The bridge audit of one workspace (see the module docstring)."""

    run_id: str
    model: str
    layer: int
    sae: str
    n_symbols: int
    stability: dict = field(default_factory=dict)
    paraphrase: dict = field(default_factory=dict)
    reconstruction: dict = field(default_factory=dict)
    behaviour: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    verdicts: list[ClaimVerdict] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    created: str = ""

    @property
    def bridge(self) -> bool:
        """Whether the SAE serves as a bridge for merge claims here (the claim kgalign exists for)."""
        return any(v.claim == "merge" and v.ok for v in self.verdicts)

    def verdict(self, claim: str) -> ClaimVerdict | None:
        return next((v for v in self.verdicts if v.claim == claim), None)

    def summary(self) -> str:
        """One sentence: where the SAE can serve as a bridge and where it cannot."""
        ok = [v.claim for v in self.verdicts if v.ok]
        bad = [v.claim for v in self.verdicts if v.ok is False]
        head = "this SAE can serve as a bridge for these artefacts" if self.bridge else (
            "this SAE cannot serve as a bridge for these artefacts on its own")
        unknown = [v.claim for v in self.verdicts if v.ok is None]
        tail = f"; not for {', '.join(bad)}" if bad else ""
        tail += f"; not measured here: {', '.join(unknown)}" if unknown else ""
        return f"{head}: trusted for {', '.join(ok) or 'nothing'}{tail}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = _FORMAT
        d["bridge"] = self.bridge
        d["summary"] = self.summary()
        return _clean(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        keep = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in keep}
        kw["verdicts"] = [ClaimVerdict(**v) for v in d.get("verdicts", [])]
        return cls(**kw)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False))
        os.replace(tmp, path)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        return round(float(x), 6) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# ----------------------------------------------------------------------------------------------- figures


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counted half (the Mann-Whitney AUC).

    >>> auc(np.array([0.9, 0.8]), np.array([0.1, 0.8]))
    0.875
    """
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    if not len(pos) or not len(neg):
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).mean()
    eq = (pos[:, None] == neg[None, :]).mean()
    return float(gt + 0.5 * eq)


def junk_labels(n: int, seed: int = 0) -> list[str]:
    """``n`` meaningless but label-shaped names ("Misc Entry Seventeen"), seeded and distinct."""
    rng = np.random.default_rng(seed + 1234)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        lab = f"{rng.choice(_JUNK_A)} {rng.choice(_JUNK_B)} {rng.choice(_JUNK_C)}"
        if lab not in seen:
            seen.add(lab)
            out.append(lab)
    return out


def _dense_vectors(model: Any, symbols: list[Any]) -> np.ndarray:
    """``[n, d_model]``: per symbol, the mean over its probing contexts of the mean hidden state at the
    mention — the dense counterpart of a concept vector, from the very same contexts."""
    from kgalign.neural.probing import probe_contexts

    ctxs, owner = [], []
    for i, s in enumerate(symbols):
        cs = probe_contexts(s)
        ctxs.extend(cs)
        owner.extend([i] * len(cs))
    acts = model.activations([c.text for c in ctxs], batch_size=64)
    out = np.zeros((len(symbols), model.d_model), np.float64)
    cnt = np.zeros(len(symbols))
    for c, a, i in zip(ctxs, acts, owner, strict=True):
        s, e = a.offsets[:, 0], a.offsets[:, 1]
        hit = np.flatnonzero((e > s) & (s < c.end) & (e > c.start))
        if len(hit) == 0:
            hit = np.flatnonzero(~a.special_mask)
        if len(hit) == 0:
            continue
        out[i] += a.hidden[hit].mean(0)
        cnt[i] += 1
    return (out / np.maximum(cnt, 1)[:, None]).astype(np.float32)


def _retrieval(q: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """Row ``i`` of ``q`` should find row ``i`` of ``t``: hits@1, hits@5, AUC (own vs others' cosine)."""
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    tn = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    sims = qn @ tn.T
    own = np.diag(sims)
    rank = (sims > own[:, None]).sum(1)
    off = sims[~np.eye(len(sims), dtype=bool)]
    return {"hits_at_1": float((rank < 1).mean()), "hits_at_5": float((rank < 5).mean()), "auc": auc(own, off)}


def _paraphrase_pairs(ws: Workspace, keys: list, limit: int) -> list[tuple[Any, str, str]]:
    """``(symbol, label, paraphrase)``: an alternative label if it has one, else its definition."""
    table = ws.symbol_table
    out = []
    seen_labels: set[str] = set()
    for k in keys:
        s = table.get(k[1], k[0])
        if s is None or not s.label.strip() or s.label.lower() in seen_labels:
            continue
        alts = [a for a in s.alt_labels if a.strip() and _norm(a) != _norm(s.label)]
        d = " ".join(s.definition.split())[:120] if s.definition else ""
        if len(d.split()) < 3 or _norm(d) == _norm(s.label):
            d = ""  # a one-word comment ("confTool") or the label again is no paraphrase
        para = alts[0] if alts else d
        if para:
            seen_labels.add(s.label.lower())
            out.append((s, s.label, para))
        if len(out) >= limit:
            break
    return out


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _bare(label: str, graph: str, i: int, tag: str) -> Any:
    from kgalign.symbolic.symbols import Symbol

    return Symbol(f"urn:kgalign:check:{tag}:{i}", graph, "class", label)


# ----------------------------------------------------------------------------------------------- the run


def run_check(
    ws: Workspace,
    cfg: CheckConfig = CheckConfig(),
    *,
    progress: Callable[[str], None] | None = None,
    quiet: bool = False,
    model: Any = None,
    sae: Any = None,
) -> CheckResult:
    """Measure the workspace's bridge (see the module docstring) and return the typed result."""
    from kgalign.align.behaviour import meaning_checks
    from kgalign.index.build import load_model_for, load_sae_for
    from kgalign.neural.concepts import embed_symbols, encode_codes
    from kgalign.neural.labels import LabelConfig, Progress, ensure_labels

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    say = progress or (lambda msg: None)
    space = ws.space  # raises a WorkspaceError with "run 'kgalign embed'" when there is none
    table = ws.symbol_table
    if len(space.keys) == 0:
        raise WorkspaceError("the workspace has no embedded symbols: run 'kgalign embed'")
    if model is None:
        model = load_model_for(ws)
    if sae is None:
        sae, _ = load_sae_for(ws, model.d_model, model)
    run = space.run
    res = CheckResult(run.get("run_id", ""), run.get("model", ""), int(run.get("layer", -1)), run.get("sae", ""),
                      len(space.keys), created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    rng = np.random.default_rng(cfg.seed)
    keys = [space.keys[i] for i in rng.permutation(len(space.keys))]

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        return now

    # -- 1. stability: the workspace's symbols vs junk labels, through the same pipeline
    say("stability: embedding junk labels")
    t = time.perf_counter()
    sample = keys[: cfg.n_symbols]
    real = np.array([space.stability(k) for k in sample], np.float64)
    junk = [_bare(lab, "check-junk", i, "junk") for i, lab in enumerate(junk_labels(cfg.n_junk, cfg.seed))]
    jt = embed_symbols(junk, model, sae)
    res.stability = {
        "auc": auc(real, jt.stability), "n_symbols": len(real), "n_junk": len(junk),
        "mean_symbols": float(real.mean()), "mean_junk": float(jt.stability.mean()),
        "junk_examples": [s.label for s in junk[:3]],
    }
    # the reliability score (distance of the mention-state codes from the SAE's background): embed fills
    # it when the SAE ships a background; junk labels made of common words land near that background
    rel_real = np.array([_reliability(space, k) for k in sample], np.float64)
    rel_junk = jt.reliability_or_nan().astype(np.float64)
    if np.isfinite(rel_real).all() and np.isfinite(rel_junk).all() and len(rel_real):
        res.stability.update({"score": "reliability", "reliability_auc": auc(rel_real, rel_junk),
                              "mean_reliability_symbols": float(rel_real.mean()),
                              "mean_reliability_junk": float(rel_junk.mean())})
    else:
        res.stability["score"] = "stability"
    t = lap("stability", t)

    # -- 2. paraphrase agreement, SAE vs dense on the same contexts
    say("paraphrase agreement: label vs alternative label / definition")
    pairs = _paraphrase_pairs(ws, keys, cfg.n_symbols)
    if len(pairs) >= 5:
        lab_syms = [_bare(lab, s.graph, i, "label") for i, (s, lab, _) in enumerate(pairs)]
        par_syms = [_bare(par, s.graph, i, "para") for i, (s, _, par) in enumerate(pairs)]
        lt, pt = embed_symbols(lab_syms, model, sae), embed_symbols(par_syms, model, sae)
        sae_r = _retrieval(lt.vectors, pt.vectors)
        dense_r = _retrieval(_dense_vectors(model, lab_syms), _dense_vectors(model, par_syms))
        n_alt = sum(1 for s, _, par in pairs if par in s.alt_labels)
        res.paraphrase = {"n_pairs": len(pairs), "n_alt_labels": n_alt, "n_definitions": len(pairs) - n_alt,
                          "sae": sae_r, "dense": dense_r,
                          "examples": [[lab, par] for _, lab, par in pairs[:3]]}
    else:
        res.paraphrase = {"n_pairs": len(pairs), "note": "fewer than 5 symbols with an alternative label or definition"}
    t = lap("paraphrase", t)

    # -- 3. reconstruction on the artefacts' own text
    say("reconstruction on the artefacts' labels and definitions")
    texts: list[str] = []
    for k in keys:
        s = table.get(k[1], k[0])
        if s is None:
            continue
        texts.append(s.label)
        if s.definition:
            texts.append(" ".join(s.definition.split())[:400])
        if len(texts) >= cfg.fve_texts:
            break
    acts = model.activations(texts, batch_size=64)
    x = np.concatenate([a.hidden[~a.special_mask & (a.offsets[:, 1] > a.offsets[:, 0])] for a in acts])
    import torch

    with torch.inference_mode():
        xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        recon = sae.decode(sae.encode(xt)).float().numpy()
    codes = encode_codes(sae, x)
    sst = float(((x - x.mean(0)) ** 2).sum())
    fired = (codes > 0).any(0)
    res.reconstruction = {
        "fve": 1.0 - float(((x - recon) ** 2).sum()) / sst if sst > 0 else None,
        "l0": float((codes > 0).sum(1).mean()), "n_tokens": int(x.shape[0]), "n_texts": len(texts),
        "features_firing": int(fired.sum()), "features_firing_fraction": float(fired.mean()),
    }
    t = lap("reconstruction", t)

    # -- 4. labels of the features that fire on this workspace
    say("feature labels")
    labels = ensure_labels(ws, model, sae, LabelConfig(n_synsets=cfg.label_synsets, seed=cfg.seed), quiet=quiet)
    if hasattr(space, "forget_labels"):
        space.forget_labels()  # feature_label reads the labels just grounded
    claimed = np.zeros(len(labels), bool)
    claimed[list(space.claimed_features())] = True
    cov_all = labels.coverage(_alive(space, labels))
    cov_here = labels.coverage(claimed)
    res.labels = {"all": cov_all, "workspace": cov_here, "corpus": labels.corpus, "n_probe_contexts": labels.n_contexts}
    t = lap("labels", t)

    # -- 5. behaviour: tests of meaning on merge candidates vs null links
    say("behaviour: tests of meaning on merge candidates and null links")
    bar = Progress("behavioural checks", unit="checks", quiet=quiet)
    batch = meaning_checks(ws, n_links=cfg.n_links, n_controls=cfg.n_controls, seed=cfg.seed,
                           time_budget=cfg.behaviour_budget, model=model, sae=sae, progress=bar.update)
    bar.close()
    res.behaviour = batch.to_dict()
    lap("behaviour", t)

    res.verdicts = _verdicts(res, cfg)
    res.timings = timings
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


def _reliability(space: Any, key: Any) -> float:
    """The embed's reliability score of one symbol (NaN when the SAE ships no background to measure it by)."""
    rel = getattr(space.table, "reliability", None)
    if rel is None or len(rel) != len(space.keys):
        return float("nan")
    return float(rel[space.row_of(key)])


def _alive(space: Any, labels: Any) -> np.ndarray:
    if space.stats is not None and len(space.stats.density) == len(labels):
        return np.asarray(space.stats.density) > 0
    return np.array([lab.kind != "silent" for lab in labels.labels])


def _verdicts(res: CheckResult, cfg: CheckConfig) -> list[ClaimVerdict]:
    out = []
    p = res.paraphrase
    if "sae" in p:
        s, d = p["sae"], p["dense"]
        ok = bool(s["auc"] >= cfg.min_auc and s["hits_at_1"] >= d["hits_at_1"] - 0.05)
        if p["n_pairs"] < cfg.min_pairs:
            ok = None  # too few paraphrase pairs to judge either way
        detail = (f"only {p['n_pairs']} paraphrase pairs (alt labels, definitions): too few to judge" if ok is None
                  else "the SAE finds a symbol's own paraphrase as well as the dense states do" if s["hits_at_1"] >= d["hits_at_1"]
                  else "the dense states beat the SAE on this workspace: weight SAE merge evidence down")
        out.append(ClaimVerdict("merge", ok, f"paraphrase hits@1 SAE {s['hits_at_1']:.2f} vs dense {d['hits_at_1']:.2f}; "
                                f"AUC SAE {s['auc']:.2f} vs dense {d['auc']:.2f} ({p['n_pairs']} pairs)", detail,
                                reliability=s["hits_at_1"]))
    else:
        out.append(ClaimVerdict("merge", None, "too few symbols with an alternative label or definition", p.get("note", "")))
    st = res.stability
    if st.get("score") == "reliability":  # the score pruning reads (ConceptTable.reliability), stability beside it
        a = st["reliability_auc"]
        ok = bool(a >= cfg.min_auc)
        out.append(ClaimVerdict(
            "pruning", ok, f"the reliability score separates symbols from junk labels: AUC {a:.2f} "
            f"(support stability: {st['auc']:.2f}; {st['n_symbols']} symbols, {st['n_junk']} junk)",
            "a low reliability score marks a symbol with no neural counterpart" if ok else
            "a low reliability score does not tell a symbol from a meaningless label: do not prune on it",
            reliability=max(0.0, 2 * a - 1)))
    else:
        ok = bool(st["auc"] >= cfg.min_auc)
        out.append(ClaimVerdict("pruning", ok, f"stability separates symbols from junk labels: AUC {st['auc']:.2f} "
                                f"({st['n_symbols']} symbols, {st['n_junk']} junk)",
                                "low stability marks a symbol with no neural counterpart" if ok else
                                "low stability does not tell a symbol from a meaningless label: do not prune on it",
                                reliability=max(0.0, 2 * st["auc"] - 1)))
    tests = res.behaviour.get("tests", {})
    pa = tests.get("pull-apart", {})
    sp = tests.get("shared-pull-apart", {})
    if sp.get("n"):  # the sharper test (the shared set against density-matched sets) decides; the others beside
        ok = bool(sp.get("meets_target"))
        fig = (f"shared-set pull-apart: {sp['passed']}/{sp['n']} merge-candidate links pass vs {sp['null_passed']}/"
               f"{sp['n_null']} null links (false-positive rate {sp['false_positive_rate']:.0%}); binomial p "
               f"{sp['p_binomial']:.3g}, Fisher p {sp['p_fisher']:.3g}")
        if pa.get("n"):
            fig += f"; one-feature pull-apart: {pa['passed']}/{pa['n']} vs {pa['null_passed']}/{pa['n_null']} null"
        out.append(ClaimVerdict("feature-links", ok, fig,
                                "suppressing the features merge candidates share pulls them apart beyond chance" if ok
                                else "not distinguishable from chance on this sample: a feature link is correlation only",
                                reliability=sp["pass_rate"]))
    elif pa.get("n"):
        ok = bool(pa.get("meets_target"))
        fpr = pa["false_positive_rate"]
        fig = (f"pull-apart: {pa['passed']}/{pa['n']} merge-candidate links pass vs {pa['null_passed']}/{pa['n_null']} "
               f"null links (false-positive rate {fpr:.0%}); binomial p {pa['p_binomial']:.3g}")
        dp = tests.get("definition-pull", {})
        if dp.get("n"):
            fig += (f"; definition-pull: {dp['passed']}/{dp['n']} vs {dp['null_passed']}/{dp['n_null']} null, "
                    f"p {dp['p_binomial']:.3g}")
        out.append(ClaimVerdict("feature-links", ok, fig,
                                "suppressing the shared feature pulls merge candidates apart beyond chance" if ok else
                                "not distinguishable from chance on this sample: a feature link is correlation only",
                                reliability=pa["pass_rate"]))
    else:
        out.append(ClaimVerdict("feature-links", None, "no merge-candidate links to test (one graph?)"))
    lab = res.labels.get("workspace", {})
    if lab.get("n_alive"):
        ok = bool(lab["labelled_fraction"] >= cfg.min_labelled)
        out.append(ClaimVerdict("feature-labels", ok,
                                f"{lab['labelled_fraction']:.0%} of the {lab['n_alive']} features symbols here load on carry a "
                                f"label with evidence ({lab['concept_fraction']:.0%} a concept); median precision "
                                f"{lab['median_precision'] if lab['median_precision'] is not None else float('nan'):.2f}",
                                reliability=lab["labelled_fraction"]))
    r = res.reconstruction
    if r.get("fve") is not None:
        ok = bool(r["fve"] >= cfg.min_fve)
        out.append(ClaimVerdict("reconstruction", ok, f"FVE {r['fve']:.3f} on {r['n_tokens']} tokens of the artefacts' "
                                f"text; L0 {r['l0']:.1f}",
                                "" if ok else "the SAE loses much of what the model reads in these artefacts",
                                reliability=max(0.0, r["fve"])))
    return out


# ------------------------------------------------------------------------------------------- persistence


def check_path(ws: Workspace) -> Path:
    return ws.path / "neural" / CHECK_FILE


def load_check(ws: Workspace) -> CheckResult | None:
    """The saved check of the workspace's current embed run, or ``None`` (none yet, or out of date)."""
    p = check_path(ws)
    if not p.is_file():
        return None
    try:
        res = CheckResult.from_dict(json.loads(p.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if ws.has_space() and res.run_id != ws.space.run.get("run_id", ""):
        return None
    return res


def save_check(ws: Workspace, res: CheckResult) -> Path:
    """Write ``neural/check.json`` (atomically) and the verdicts as facts in the neural graph."""
    p = check_path(ws)
    res.save(p)
    try:
        ws.store.update(_facts_update(res))
    except Exception:  # noqa: BLE001 - facts are a convenience; check.json is the record
        pass
    return p


def _lit(x: Any) -> str:
    from kgalign.symbolic.store import literal

    if isinstance(x, bool):
        return f'"{str(x).lower()}"^^xsd:boolean'
    if isinstance(x, int | float):
        return f'"{x:.6f}"^^xsd:decimal' if isinstance(x, float) else f'"{x}"^^xsd:integer'
    return literal(str(x))


def _facts_update(res: CheckResult) -> str:
    """``<urn:kgalign:check> a kga:BridgeCheck ; kga:verdict [ kga:claim "merge" ; kga:ok true ; ... ]``."""
    from kgalign.symbolic.vocab import NEURAL_GRAPH

    lines = [f"<{CHECK_IRI}> a kga:BridgeCheck ; kga:runId {_lit(res.run_id)} ; kga:bridge {_lit(res.bridge)} ;"
             f" kga:summary {_lit(res.summary())} ; kga:checkedAt {_lit(res.created)} ."]
    for v in res.verdicts:
        node = f"<{CHECK_IRI}:{v.claim}>"
        lines.append(f"<{CHECK_IRI}> kga:verdict {node} .")
        lines.append(f"{node} a kga:ClaimVerdict ; kga:claim {_lit(v.claim)} ; kga:figure {_lit(v.figure)} .")
        if v.ok is not None:
            lines.append(f"{node} kga:ok {_lit(v.ok)} .")
        if v.reliability is not None:
            lines.append(f"{node} kga:reliability {_lit(float(v.reliability))} .")
    body = "\n".join(lines)
    return (f"DELETE {{ GRAPH <{NEURAL_GRAPH}> {{ ?s ?p ?o }} }} WHERE {{ GRAPH <{NEURAL_GRAPH}> {{ ?s ?p ?o "
            f"FILTER(STRSTARTS(STR(?s), \"{CHECK_IRI}\")) }} }};\n"
            f"INSERT DATA {{ GRAPH <{NEURAL_GRAPH}> {{\n{body}\n}} }}")
