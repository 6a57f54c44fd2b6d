"""Feature labels grounded in symbols a person can check.

A feature's label is a claim: "this feature means X". Here the claim comes with its evidence and a
precision. The SAE is run over a probe set whose mentions have a *known meaning*: one context per WordNet
synset (``"{lemma}: {definition}"`` or ``"We talk about the {lemma}, that is {definition}."``, the mention
being the lemma). For each feature —

1. **form** (token level): the ``TOP_TOKENS`` tokens, over every position of the probe set, on which the
   feature fires most. If most of them are punctuation, function words, pieces of longer words or the
   first/last token of their text whatever the word, the feature is marked ``punctuation``,
   ``function-word``, ``sub-word`` or ``positional`` (with that share as its precision), not given a
   concept label.
2. **meaning** (mention level): the ``TOP_CONTEXTS`` mentions whose code on the feature is largest. Each
   belongs to its synset, the synset's hypernym ancestors, its lexicographer file (``noun.person``) and
   its word form. The label is the group that holds the most of them relative to chance: precision =
   in-group / top contexts, chance = the group's share of the whole probe set; it must hold at least
   ``MIN_SUPPORT`` of them, a precision of at least ``MIN_PRECISION`` and ``MIN_LIFT`` × chance. A group
   that is a word form across several senses labels a ``word-form`` feature (it tracks spelling, not a
   meaning).
3. Otherwise the feature is ``ungrounded`` (its top words are shown, not claimed); a feature that never
   fires in the probe set is ``silent``.

The workspace's own symbols add evidence at display time (:func:`workspace_evidence`): the symbols whose
concept vectors weigh the feature most, grouped by a shared parent, with the same precision and chance.

Labels are computed once per model + layer + SAE (``run_id`` of the embed run) and cached in the
workspace (``neural/labels.json``); ``python -m kgalign.neural.labels`` rebuilds the file shipped for the
default SAE (``kgalign/data/labels/<run_id>.json.gz``).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgalign.errors import EmbedError

if TYPE_CHECKING:  # pragma: no cover
    from kgalign.neural.model import BaseModel
    from kgalign.symbolic.context import SymbolContext as Workspace  # (and the live space: index.context)

__all__ = [
    "KINDS",
    "FORM_KINDS",
    "FeatureLabel",
    "FeatureLabels",
    "LabelConfig",
    "ground_labels",
    "probe_set",
    "workspace_evidence",
    "grounded_record",
    "format_grounded",
    "load_labels",
    "ensure_labels",
    "labels_for_run",
    "short_label",
]

FORM_KINDS: tuple[str, ...] = ("punctuation", "function-word", "sub-word", "positional")
#: Every kind a feature can be given; ``concept`` and the form kinds carry checkable evidence.
KINDS: tuple[str, ...] = ("concept", "word-form", *FORM_KINDS, "ungrounded", "silent")
LABELLED_KINDS: frozenset[str] = frozenset({"concept", "word-form", *FORM_KINDS})

FUNCTION_WORDS = frozenset(
    """a an the of to in on at by for with from as into onto upon over under about and or but nor not no so
    if then than that this these those which who whom whose what when where why how is are was were be been
    being am do does did has have had it its they them their he him his she her we us our you your i me my
    there here such any some all each every either neither both one ones other another same very also only
    just more most less least much many few can could may might must shall should will would""".split()
)
_POS = {"noun": "n", "verb": "v", "adj": "a"}
_TEMPLATES = ("{m}: {d}", "We talk about the {m}, that is {d}.")
_FORMAT = "kgalign-feature-labels/1"


@dataclass(frozen=True)
class LabelConfig:
    """How labels are grounded: probe-set size, how many top items are inspected, and the bars."""

    n_synsets: int = 6000
    top_contexts: int = 10
    top_tokens: int = 20
    min_support: int = 3
    min_precision: float = 0.5
    min_lift: float = 5.0
    form_share: float = 0.6
    seed: int = 0
    batch_size: int = 64


@dataclass(frozen=True)
class FeatureLabel:
    """One feature's label, kind and the evidence behind it.

    ``precision`` = ``support`` / ``n_top``: of the top contexts (or tokens, for form kinds), how many
    belong to the labelled group; ``chance`` is the group's share of the whole probe set.
    """

    feature: int
    kind: str
    label: str
    precision: float | None = None
    support: int = 0
    n_top: int = 0
    chance: float | None = None
    group: str = ""
    gloss: str = ""
    source: str = "wordnet"
    #: the top mention contexts: {"text", "start", "end", "synset", "activation", "in_group"}
    contexts: tuple[dict, ...] = ()
    #: the top tokens: {"text", "start", "end", "token", "word", "form", "activation"}
    tokens: tuple[dict, ...] = ()

    @property
    def labelled(self) -> bool:
        return self.kind in LABELLED_KINDS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["contexts"], d["tokens"] = list(self.contexts), list(self.tokens)
        d["labelled"] = self.labelled
        return d

    def describe(self) -> str:
        """One line: ``'concept: person (lexname noun.person) — precision 8/10, chance 9%'``."""
        if not self.labelled:
            return f"{self.kind}: {self.label}"
        ch = "" if self.chance is None else f", chance {self.chance:.1%}"
        return f"{self.kind}: {self.label} — precision {self.support}/{self.n_top}{ch}"


@dataclass
class FeatureLabels:
    """Labels of every feature of one SAE, with the run they belong to."""

    labels: list[FeatureLabel]
    run_id: str = ""
    corpus: str = ""
    n_contexts: int = 0
    n_tokens: int = 0
    seconds: float = 0.0
    config: dict = field(default_factory=dict)

    def __getitem__(self, f: int) -> FeatureLabel:
        return self.labels[f]

    def __len__(self) -> int:
        return len(self.labels)

    def coverage(self, alive: np.ndarray | None = None) -> dict[str, Any]:
        """Counts per kind and the share of alive features that carry a label with evidence.

        ``alive [d_sae]`` bool (e.g. density > 0 in the feature statistics); default: every feature not
        ``silent`` in the probe set.
        """
        if alive is None:
            alive = np.array([lab.kind != "silent" for lab in self.labels])
        alive = np.asarray(alive, bool)
        kinds = Counter(lab.kind for lab, a in zip(self.labels, alive, strict=False) if a)
        n_alive = int(alive.sum())
        labelled = sum(kinds[k] for k in LABELLED_KINDS)
        prec = [lab.precision for lab, a in zip(self.labels, alive, strict=False) if a and lab.labelled and lab.precision is not None]
        return {
            "n_features": len(self.labels),
            "n_alive": n_alive,
            "kinds": dict(sorted(kinds.items())),
            "labelled": labelled,
            "labelled_fraction": labelled / n_alive if n_alive else 0.0,
            "concept_fraction": kinds["concept"] / n_alive if n_alive else 0.0,
            "median_precision": float(np.median(prec)) if prec else None,
        }

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, "run_id": self.run_id, "corpus": self.corpus, "n_contexts": self.n_contexts,
                "n_tokens": self.n_tokens, "seconds": self.seconds, "config": self.config,
                "labels": [lab.to_dict() for lab in self.labels]}
        tmp = path.with_name(path.name + ".tmp")
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        tmp.write_bytes(gzip.compress(raw, 9, mtime=0) if path.suffix == ".gz" else raw)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> FeatureLabels:
        raw = Path(path).read_bytes()
        data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        if data.get("format") != _FORMAT:
            raise EmbedError(f"{path}: not a kgalign feature-labels file (format {data.get('format')!r})")
        keep = set(FeatureLabel.__dataclass_fields__)
        labels = []
        for d in data["labels"]:
            d = {k: v for k, v in d.items() if k in keep}
            d["contexts"], d["tokens"] = tuple(d.get("contexts", ())), tuple(d.get("tokens", ()))
            labels.append(FeatureLabel(**d))
        return cls(labels, data.get("run_id", ""), data.get("corpus", ""), int(data.get("n_contexts", 0)),
                   int(data.get("n_tokens", 0)), float(data.get("seconds", 0.0)), data.get("config", {}))


# -------------------------------------------------------------------------------------------- progress


class Progress:
    """A one-line progress meter on stderr with rate and ETA: ``update(done, total)``, then ``close()``."""

    def __init__(self, what: str, unit: str = "items", quiet: bool = False, every: float = 0.5) -> None:
        self.what, self.unit, self.quiet, self.every = what, unit, quiet, every
        self.t0 = time.perf_counter()
        self._last = -1e9
        self._shown = False

    def update(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.quiet or (now - self._last < self.every and done < total):
            return
        self._last = now
        el = max(now - self.t0, 1e-9)
        rate = done / el
        eta = (total - done) / rate if rate > 0 else float("nan")
        eta_s = f"{eta:.0f}s" if math.isfinite(eta) else "?"
        rate_s = f"{rate:.1f}/s" if rate >= 1 else f"{60 * rate:.1f}/min"
        print(f"\r  {self.what}: {done}/{total} {self.unit} ({rate_s}, ETA {eta_s})   ", end="",
              file=sys.stderr, flush=True)
        self._shown = True

    def close(self) -> None:
        if self._shown and not self.quiet:
            print(file=sys.stderr, flush=True)
        self._shown = False


# ------------------------------------------------------------------------------------------- probe set


@dataclass(frozen=True)
class _Probe:
    text: str
    start: int
    end: int
    synset: str  # id
    word: str


@dataclass
class _WordNetGroups:
    """Group memberships of each synset, and what a person reads for a group."""

    parents: dict[str, tuple[str, ...]]
    names: dict[str, str]
    glosses: dict[str, str]
    lexname: dict[str, str]
    _word_cache: dict[str, set[str]] = field(default_factory=dict)

    def groups_of(self, sid: str, word: str, max_depth: int = 12) -> list[str]:
        out = [f"synset:{sid}", f"lexname:{self.lexname.get(sid, '?')}", f"word:{word.lower()}"]
        seen = {sid}
        frontier = [sid]
        for _ in range(max_depth):
            nxt = []
            for s in frontier:
                for p in self.parents.get(s, ()):
                    if p not in seen:
                        seen.add(p)
                        nxt.append(p)
                        out.append(f"synset:{p}")
            frontier = nxt
            if not frontier:
                break
        return out

    def word_groups(self, word: str, max_senses: int = 3) -> set[str]:
        """Groups of every sense (the ``max_senses`` most frequent per part of speech) of a word in running
        text, via WordNet's morphology; empty for words WordNet lacks."""
        w = word.lower()
        hit = self._word_cache.get(w)
        if hit is not None:
            return hit
        from kgalign.symbolic.wordnet import wordnet

        wn = wordnet()
        out: set[str] = set()
        for base in wn.base_forms(w)[:2] if wn.available else ():
            for pos, offs in wn._index.get(base, {}).items():
                p = _POS.get(pos)
                if p is None:
                    continue
                for off in offs[:max_senses]:
                    sid = f"{off:08d}-{p}"
                    if sid in self.parents:
                        out.update(g for g in self.groups_of(sid, base) if not g.startswith("word:"))
        self._word_cache[w] = out
        return out

    def describe(self, group: str) -> tuple[str, str]:
        kind, _, val = group.partition(":")
        if kind == "synset":
            return self.names.get(val, val), self.glosses.get(val, "")
        if kind == "lexname":
            return f"WordNet {val}", f"lexicographer file {val}"
        return f"the word '{val}'", "one spelling, across its senses"


def probe_set(cfg: LabelConfig, wordnet_dir: str | Path | None = None) -> tuple[list[_Probe], _WordNetGroups]:
    """A seeded sample of ``cfg.n_synsets`` WordNet synsets (nouns, verbs, adjectives in WordNet's
    proportions), one context each, and the synset graph for grouping."""
    from kgalign.neural.corpus import DEFAULT_WORDNET_DIR, iter_wordnet_synsets

    syns = list(iter_wordnet_synsets(wordnet_dir or DEFAULT_WORDNET_DIR, pos=("n", "v", "a")))
    parents = {s.id: s.hypernyms + s.instance_hypernyms for s in syns}
    names = {s.id: f"{s.lemmas[0]} ({s.name or s.id})" for s in syns}
    glosses = {s.id: s.definition for s in syns}
    lexname = {s.id: s.lexname for s in syns}
    rng = np.random.default_rng(cfg.seed)
    usable = [i for i, s in enumerate(syns) if s.definition and re.search(r"[a-z]", s.lemmas[0])]
    pick = sorted(rng.choice(len(usable), size=min(cfg.n_synsets, len(usable)), replace=False).tolist())
    probes = []
    for j, i in enumerate(pick):
        s = syns[usable[i]]
        lemma = s.lemmas[int(rng.integers(len(s.lemmas)))] if len(s.lemmas) > 1 else s.lemmas[0]
        t = _TEMPLATES[j % len(_TEMPLATES)]
        head = t.split("{m}")[0]
        text = t.replace("{m}", lemma).replace("{d}", s.definition.replace("{", "(").replace("}", ")"))
        probes.append(_Probe(text, len(head), len(head) + len(lemma), s.id, lemma))
    return probes, _WordNetGroups(parents, names, glosses, lexname)


# ------------------------------------------------------------------------------------------- grounding


def _word_at(text: str, s: int, e: int) -> str:
    while s > 0 and (text[s - 1].isalnum() or text[s - 1] in "-'"):
        s -= 1
    while e < len(text) and (text[e].isalnum() or text[e] in "-'"):
        e += 1
    return text[s:e]


def token_form(text: str, start: int, end: int, position: int, n_real: int) -> str:
    """The form class of one token: ``punctuation``, ``function-word``, ``sub-word``, ``first``/``last``
    (its position) or ``word``.

    >>> token_form("the dog's bone", 0, 3, 0, 5), token_form("astrophysicist", 0, 5, 0, 3)
    ('function-word', 'sub-word')
    """
    tok = text[start:end]
    if not any(ch.isalnum() for ch in tok):
        return "punctuation"
    word = _word_at(text, start, end)
    if tok.lower() != word.lower():
        return "sub-word"
    if word.lower() in FUNCTION_WORDS:
        return "function-word"
    if position == 0:
        return "first"
    if position == n_real - 1:
        return "last"
    return "word"


def _merge_top(best_v: np.ndarray, best_i: np.ndarray, vals: np.ndarray, offset: int, k: int) -> None:
    """Keep per column the ``k`` largest of ``best_v [d, k]`` and ``vals [n, d]`` (ids offset by ``offset``)."""
    n = vals.shape[0]
    if n == 0:
        return
    kk = min(k, n)
    part = np.argpartition(-vals, kk - 1, axis=0)[:kk]  # [kk, d]
    cand_v = np.take_along_axis(vals, part, axis=0).T  # [d, kk]
    cand_i = (part + offset).T
    all_v = np.concatenate([best_v, cand_v], axis=1)
    all_i = np.concatenate([best_i, cand_i], axis=1)
    order = np.argsort(-all_v, axis=1, kind="stable")[:, :k]
    best_v[:] = np.take_along_axis(all_v, order, axis=1)
    best_i[:] = np.take_along_axis(all_i, order, axis=1)


def ground_labels(
    model: BaseModel,
    sae: Any,
    cfg: LabelConfig = LabelConfig(),
    *,
    run_id: str = "",
    wordnet_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureLabels:
    """Label every feature of ``sae`` from the WordNet probe set (see the module docstring)."""
    from kgalign.neural.concepts import encode_codes

    t0 = time.perf_counter()
    probes, groups = probe_set(cfg, wordnet_dir)
    d_sae = int(sae.W_dec.shape[0])
    kt, kc = cfg.top_tokens, cfg.top_contexts
    tok_v = np.zeros((d_sae, kt), np.float32)
    tok_i = np.full((d_sae, kt), -1, np.int64)
    men_v = np.zeros((d_sae, kc), np.float32)
    men_i = np.full((d_sae, kc), -1, np.int64)
    fired = np.zeros(d_sae, np.int64)
    tok_refs: list[tuple[int, int, int, str]] = []  # (probe, start, end, form)
    n_tokens = 0
    chunk = 256
    for c0 in range(0, len(probes), chunk):
        part = probes[c0 : c0 + chunk]
        acts = model.activations([p.text for p in part], batch_size=cfg.batch_size)
        rows, mrows, mown = [], [], []
        base = len(tok_refs)
        for j, (p, a) in enumerate(zip(part, acts, strict=True)):
            real = np.flatnonzero(~a.special_mask & (a.offsets[:, 1] > a.offsets[:, 0]))
            for pos, t in enumerate(real):
                s, e = int(a.offsets[t, 0]), int(a.offsets[t, 1])
                tok_refs.append((c0 + j, s, e, token_form(p.text, s, e, pos, len(real))))
                if s < p.end and e > p.start:
                    mrows.append(len(tok_refs) - 1 - base)
                    mown.append(j)
            rows.append(a.hidden[real])
        if not rows:
            continue
        codes = encode_codes(sae, np.concatenate(rows))  # [n_tok, d_sae]
        n_tokens += codes.shape[0]
        _merge_top(tok_v, tok_i, codes, base, kt)
        men = np.zeros((len(part), d_sae), np.float32)
        if mrows:
            own = np.asarray(mown)
            np.add.at(men, own, codes[np.asarray(mrows)])
            men /= np.maximum(np.bincount(own, minlength=len(part)), 1)[:, None]
        fired += (men > 0).sum(0)
        _merge_top(men_v, men_i, men, c0, kc)
        if progress:
            progress(min(c0 + chunk, len(probes)), len(probes))
    if not tok_refs:
        raise EmbedError("the label probe set produced no tokens")
    # group sizes over the whole probe set (chance rates)
    memb = [groups.groups_of(p.synset, p.word) for p in probes]
    size = Counter(g for m in memb for g in set(m))
    n = len(probes)
    # chance rates for words in running text: a seeded sample of content-word tokens
    content = [i for i, r in enumerate(tok_refs) if r[3] in ("word", "first", "last")]
    rng = np.random.default_rng(cfg.seed)
    sample = rng.choice(content, size=min(3000, len(content)), replace=False) if content else []
    wsize: Counter = Counter()
    n_words = 0
    for i in sample:
        pi, s_, e_, _ = tok_refs[int(i)]
        gs = groups.word_groups(_word_at(probes[pi].text, s_, e_))
        if gs:
            n_words += 1
            wsize.update(gs)
    out: list[FeatureLabel] = []
    for f in range(d_sae):
        toks = []
        for v, i in zip(tok_v[f], tok_i[f], strict=False):
            if v <= 0 or i < 0:
                continue
            pi, s, e, form = tok_refs[int(i)]
            text = probes[pi].text
            toks.append({**_window(text, s, e), "token": text[s:e], "word": _word_at(text, s, e),
                         "form": form, "activation": round(float(v), 3)})
        ctxs = []
        for v, i in zip(men_v[f], men_i[f], strict=False):
            if v <= 0 or i < 0:
                continue
            p = probes[int(i)]
            ctxs.append((p, float(v), memb[int(i)]))
        out.append(_decide(f, toks, ctxs, size, n, groups, cfg, wsize, max(n_words, 1)))
    return FeatureLabels(
        out, run_id, f"WordNet 3.0: {n} synsets (seed {cfg.seed}), one context each", n, n_tokens,
        round(time.perf_counter() - t0, 1), asdict(cfg),
    )


def _best_group(members: list[set[str]], size: Counter, n: int, cfg: LabelConfig) -> tuple[str | None, int]:
    """The group holding most of ``members`` relative to chance, passing the support/precision/lift bars."""
    best, best_score, best_c = None, 0.0, 0
    counts = Counter(g for m in members for g in m)
    for g, c in counts.items():
        prec = c / len(members)
        chance = size[g] / n
        if c < cfg.min_support or prec < cfg.min_precision or chance <= 0 or prec < cfg.min_lift * chance:
            continue
        score = c * math.log(prec / chance)
        if score > best_score or (score == best_score and best is not None and g < best):
            best, best_score, best_c = g, score, c
    return best, best_c


def _decide(f: int, toks: list[dict], ctxs: list[tuple[_Probe, float, list[str]]], size: Counter, n: int,
            groups: _WordNetGroups, cfg: LabelConfig, wsize: Counter, n_words: int) -> FeatureLabel:
    tokens = tuple(toks)
    if not toks and not ctxs:
        return FeatureLabel(f, "silent", "(never fires in the probe set)", tokens=tokens)
    # 1. form
    if toks:
        forms = Counter("positional" if t["form"] in ("first", "last") else t["form"] for t in toks)
        words = {t["word"].lower() for t in toks}
        for kind in FORM_KINDS:
            c = forms[kind]
            if c / len(toks) < cfg.form_share:
                continue
            if kind == "positional" and len(words) < 0.5 * len(toks):
                continue  # the same few words at the start: a word feature, not a position one
            shown = Counter((t["token"] if kind != "positional" else t["word"]).lower() for t in toks
                            if ("positional" if t["form"] in ("first", "last") else t["form"]) == kind)
            what = ", ".join(repr(w) for w, _ in shown.most_common(3))
            name = {"punctuation": "punctuation", "function-word": "function words", "sub-word": "word pieces",
                    "positional": "position (first/last token, any word)"}[kind]
            return FeatureLabel(f, kind, f"{name}: {what}", c / len(toks), c, len(toks), None, f"form:{kind}",
                                source="tokens", tokens=tokens, contexts=_ctx_dicts(ctxs, ""))
    # 2. meaning
    best = None
    if len(ctxs) >= cfg.min_support:
        best, c = _best_group([set(m) for _, _, m in ctxs], size, n, cfg)
    if best is not None:
        name, gloss = groups.describe(best)
        kind = "concept"
        if best.startswith("word:") and len({p.synset for p, _, m in ctxs if best in m}) > 1:
            kind = "word-form"
        return FeatureLabel(f, kind, name, c / len(ctxs), c, len(ctxs), size[best] / n, best, gloss,
                            contexts=_ctx_dicts(ctxs, best), tokens=tokens)
    # 3. meaning of the words it fires on in running text (any of their senses)
    content = [t for t in toks if t["form"] in ("word", "first", "last")]
    if len(content) >= cfg.min_support:
        wg = [groups.word_groups(t["word"]) for t in content]
        best, c = _best_group(wg, wsize, n_words, cfg)
        if best is not None:
            name, gloss = groups.describe(best)
            marked = tuple(dict(t, in_group=best in g) for t, g in zip(content, wg, strict=False))
            return FeatureLabel(f, "concept", name, c / len(content), c, len(content), wsize[best] / n_words,
                                best, gloss, source="wordnet-words", contexts=_ctx_dicts(ctxs, ""), tokens=marked)
    words = Counter(t["word"].lower() for t in toks if t["form"] not in ("punctuation",))
    top = " / ".join(w for w, _ in words.most_common(3)) or "(no words)"
    return FeatureLabel(f, "ungrounded", f"top words: {top}", None, 0, len(ctxs), None,
                        contexts=_ctx_dicts(ctxs, ""), tokens=tokens)


def _ctx_dicts(ctxs: list[tuple[_Probe, float, list[str]]], group: str) -> tuple[dict, ...]:
    return tuple({**_window(p.text, p.start, p.end), "synset": p.synset,
                  "activation": round(v, 3), "in_group": bool(group) and group in m} for p, v, m in ctxs)


def _window(text: str, s: int, e: int, width: int = 60) -> dict:
    """``{"text", "start", "end"}`` cut to ``width`` characters either side of the span (files stay small)."""
    a = max(0, s - width)
    b = min(len(text), e + width)
    return {"text": text[a:b], "start": s - a, "end": e - a}


# ------------------------------------------------------------------------------------ workspace evidence


def workspace_evidence(ws: Workspace, f: int, top: int = 10, cfg: LabelConfig = LabelConfig()) -> dict[str, Any]:
    """The workspace's own symbols that weigh feature ``f`` most, and the parent class most of them share:
    ``{"symbols": [...], "group": iri|None, "group_label", "precision", "support", "n_top", "chance"}``."""
    space = ws.space
    table = ws.symbol_table
    hits = space.symbols_activating(f, top)
    syms = []
    parent_count: Counter = Counter()
    for (g, iri), w in hits:
        s = table.get(iri, g)
        ps = tuple(s.parents) if s is not None else ()
        syms.append({"graph": g, "iri": iri, "label": s.label if s else iri, "weight": round(w, 4),
                     "parents": list(ps)})
        parent_count.update(set(ps))
    out: dict[str, Any] = {"symbols": syms, "group": None, "group_label": None, "precision": None,
                           "support": 0, "n_top": len(syms), "chance": None}
    if len(syms) < cfg.min_support or not parent_count:
        return out
    n_all = max(1, len(space.keys))
    for p, c in parent_count.most_common():
        prec = c / len(syms)
        if c < cfg.min_support or prec < cfg.min_precision:
            break
        chance = sum(1 for k in space.keys if (s := table.get(k[1], k[0])) is not None and p in s.parents) / n_all
        if prec >= cfg.min_lift * chance:
            ps = table.get(p)
            out.update(group=p, group_label=ps.label if ps is not None else p, precision=prec, support=c,
                       chance=chance)
            for s in syms:
                s["in_group"] = p in s["parents"]
            break
    return out


def grounded_record(ws: Workspace, f: int, limit: int = 10) -> dict[str, Any]:
    """What ``kgalign feature N`` and the server's feature resource show of a label's evidence:
    ``{"grounded": FeatureLabel dict | None, "workspace_evidence": {...}}``."""
    lab = load_labels(ws)
    rec: dict[str, Any] = {"grounded": None, "workspace_evidence": workspace_evidence(ws, f, limit)}
    if lab is not None and 0 <= f < len(lab):
        d = lab[f].to_dict()
        d["contexts"], d["tokens"] = d["contexts"][:limit], d["tokens"][: max(limit, 20)]
        d["summary"] = lab[f].describe()
        rec["grounded"] = d
    return rec


def _mark(item: dict) -> str:
    t, s, e = item["text"], item["start"], item["end"]
    return f"{t[:s]}[{t[s:e]}]{t[e:]}"


def format_grounded(rec: dict[str, Any]) -> str:
    """The evidence behind a feature's label, as text lines (``+`` in the labelled group, ``-`` not)."""
    g = rec.get("grounded")
    lines = ["", "grounded label:"]
    if g is None:
        lines.append("  none computed for this SAE run: run 'kgalign check' (it grounds labels on WordNet)")
    else:
        lines.append(f"  {g['summary']}")
        if g.get("gloss"):
            lines.append(f"  gloss: {g['gloss']}")
        items = g["tokens"] if g["source"] in ("tokens", "wordnet-words") else g["contexts"]
        what = "top tokens" if items is g["tokens"] else "top mentions (WordNet synset contexts)"
        if items:
            lines.append(f"  evidence, {what}:")
            for it in items[:12]:
                form = "positional" if it.get("form") in ("first", "last") else it.get("form")
                mark = "+" if it.get("in_group") or (g["source"] == "tokens" and form == g["kind"]) else "-"
                lines.append(f"   {mark} {it['activation']:7.3f}  {_mark(it)}"[:150])
    w = rec.get("workspace_evidence") or {}
    if w.get("group"):
        lines.append(f"  in this workspace: {w['support']}/{w['n_top']} of its top symbols are kinds of "
                     f"{w['group_label']} (chance {w['chance']:.1%})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- cache


def shipped_labels_dir() -> Path:
    return Path(str(resources.files("kgalign") / "data" / "labels"))


def labels_path(ws: Workspace) -> Path:
    return ws.path / "neural" / "labels.json.gz"


def load_labels(ws: Workspace) -> FeatureLabels | None:
    """The labels of the workspace's SAE run: cached in the workspace, or shipped for it; else ``None``."""
    if not ws.has_space():
        return None
    run_id = ws.space.run.get("run_id", "")
    for p in (labels_path(ws), shipped_labels_dir() / f"{run_id}.json.gz"):
        if p.is_file():
            try:
                lab = FeatureLabels.load(p)
            except (OSError, ValueError, KeyError, EmbedError):
                continue
            if lab.run_id == run_id and len(lab) == ws.space.d_sae:
                return lab
    return None


def labels_for_run(run_id: str, d_sae: int, workspace_path: str | Path | None = None) -> FeatureLabels | None:
    """The grounded labels of one embed run: the workspace's cache (``neural/labels.json.gz``) or the shipped
    file for that run, else ``None``. What :meth:`kgalign.index.space.ConceptSpace.feature_label` reads."""
    paths = [Path(workspace_path) / "neural" / "labels.json.gz"] if workspace_path is not None else []
    if run_id:
        paths.append(shipped_labels_dir() / f"{run_id}.json.gz")
    for p in paths:
        if p.is_file():
            try:
                lab = FeatureLabels.load(p)
            except (OSError, ValueError, KeyError, TypeError, EmbedError):
                continue
            if lab.run_id == run_id and len(lab) == d_sae:
                return lab
    return None


def short_label(lab: FeatureLabel) -> str:
    """The label as rows and reports show it, with its kind and precision: ``'person (concept, 8/10)'``;
    sub-word, punctuation, function-word and positional features are marked as such, never given a
    concept; an ungrounded feature shows its top words marked ``ungrounded``.

    >>> short_label(FeatureLabel(3, "concept", "person", 0.8, 8, 10))
    'person (concept, 8/10)'
    >>> short_label(FeatureLabel(4, "ungrounded", "ve / sp"))
    've / sp (ungrounded)'
    """
    if lab.labelled:
        return f"{lab.label} ({lab.kind}, {lab.support}/{lab.n_top})"
    return f"{lab.label} ({lab.kind})" if lab.label else f"({lab.kind})"


def ensure_labels(ws: Workspace, model: BaseModel, sae: Any, cfg: LabelConfig = LabelConfig(), *,
                  quiet: bool = False) -> FeatureLabels:
    """The workspace's labels, computing and caching them (atomically) when there are none for its run."""
    lab = load_labels(ws)
    if lab is not None:
        return lab
    bar = Progress("grounding feature labels", unit="contexts", quiet=quiet)
    lab = ground_labels(model, sae, cfg, run_id=ws.space.run.get("run_id", ""), progress=bar.update)
    bar.close()
    if not ws.read_only:
        lab.save(labels_path(ws))
    return lab


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild the labels shipped for the default model + SAE (``kgalign/data/labels/<run_id>.json.gz``)."""
    import argparse
    import hashlib

    from kgalign.neural.model import ModelSpec, load_base_model
    from kgalign.neural.paths import default_sae_dir
    from kgalign.neural.paths import sha_file as _sha_file
    from kgalign.neural.sae.io import load_sae

    ap = argparse.ArgumentParser(prog="python -m kgalign.neural.labels", description=main.__doc__)
    ap.add_argument("--synsets", type=int, default=LabelConfig.n_synsets)
    ap.add_argument("--sae", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    sae_dir = args.sae or default_sae_dir()
    model = load_base_model(ModelSpec())
    sae = load_sae(sae_dir)
    run_id = hashlib.sha256(
        f"{model.fingerprint}|{model.layer}|{_sha_file(sae_dir / 'sae_weights.safetensors')}".encode()
    ).hexdigest()[:16]
    bar = Progress("grounding feature labels", unit="contexts")
    lab = ground_labels(model, sae, LabelConfig(n_synsets=args.synsets), run_id=run_id, progress=bar.update)
    bar.close()
    out = args.out or shipped_labels_dir() / f"{run_id}.json.gz"
    lab.save(out)
    print(f"wrote {out}: {json.dumps(lab.coverage())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
