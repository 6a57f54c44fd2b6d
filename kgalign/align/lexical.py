"""Lexical evidence: how alike two symbols' names are.

Every name (label, alternative label, and a wordy local name) is analysed once into a
:class:`Name`: its words (camelCase and underscores split), a compact form without
separators, and its *content tokens* — stop words dropped, abbreviations the two
ontologies themselves define expanded ("PC" → "program committee" when both appear),
each word lemmatised with WordNet ("papers" → "paper", "written" → "write").

Two names are compared on a ladder, strongest first:

====================================================  =====
same normalised label ("Program_committee" / "ProgramCommittee")  1.00
same compact form ("E-mail" / "email")                 0.98
same content tokens ("Chair_PC" / "ProgramCommitteeChair")  0.95
soft TF-IDF over content tokens, capped at             0.92
====================================================  =====

Soft TF-IDF (Cohen et al. 2003) weighs each token by its inverse document frequency
over both ontologies' names (so "conference" in a conference ontology counts little)
and lets near-equal tokens match: WordNet synonyms among their two most frequent senses
(0.9), and misspellings (Damerau–Levenshtein ratio ≥ 0.85) when one of the two is not a
dictionary word ("Registeered" / "registered"). Properties phrased in opposite
directions ("writes" / "written by") keep only part of their score.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from kgalign.align.candidates import Evidence, Pair
from kgalign.align.morphology import Morphology, numeral
from kgalign.align.ontology import category
from kgalign.align.scoring import MatchContext, progress
from kgalign.symbolic.symbols import Symbol, normalise, split_words
from kgalign.symbolic.wordnet import WordNet, wordnet

PREPOSITIONS = frozenset("of for to in on at by with from into after before during about per via than".split())
STOP_WORDS = PREPOSITIONS | frozenset(
    "a an the and or as its it this that these those has have having had is are was were be been being "
    "does do did".split()
)
#: synonym scopes that are weaker evidence than a label (an exact synonym counts as a label)
WEAK_SCOPES = ("related", "narrow", "broad")
#: words marking a property phrased from the object's side ("written by", "is member of")
INVERSE_MARKERS = frozenset({"by", "of"})

EXACT = 1.0
COMPACT = 0.98
SAME_TOKENS = 0.95
SOFT_CAP = 0.92

_WORDY = re.compile(r"[A-Za-z]{3,}")
_CODE = re.compile(r"^[A-Za-z]{0,4}[_\-]?\d+$")


def compact(text: str) -> str:
    """Lower-case letters and digits only.

    >>> compact("E-mail") == compact("email")
    True
    """
    return "".join(c for c in text.lower() if c.isalnum())


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions).

    >>> osa_distance("commtitee", "committee")
    1
    """
    if a == b:
        return 0
    la, lb = len(a), len(b)
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[lb]


def string_ratio(a: str, b: str) -> float:
    """1 − OSA distance / longer length.

    >>> round(string_ratio("registeered", "registered"), 3)
    0.909
    """
    if not a and not b:
        return 1.0
    return 1.0 - osa_distance(a, b) / max(len(a), len(b))


@dataclass(frozen=True)
class Name:
    """One analysed name of a symbol."""

    text: str
    normal: str
    compact: str
    words: tuple[str, ...]  # as split, case kept
    tokens: tuple[str, ...]  # content tokens: lemmatised, abbreviations expanded, stop words dropped
    inverse_phrased: bool  # "written by", "is member of"
    expanded: tuple[str, ...] = ()  # abbreviations expanded in this name ("PC=program committee")
    joined: str = ""  # content words run together, before lemmatising ("hasEmail", "E-mail" -> "email")
    #: where the name comes from: ``label`` (label, exact synonym, local name) or the synonym scope
    #: (``related``, ``narrow``, ``broad``) — weaker evidence
    scope: str = "label"
    #: for a property name read another way (domain/range words dropped, an agent noun read as
    #: its verb): what was done, named in the evidence; such a match scores at most SAME_TOKENS
    derived: str = ""


def learn_abbreviations(names: Iterable[Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Acronyms the names define themselves: "PC" → ("program", "committee") when some name
    spells "PC" and another has the words "program committee".

    ``names`` are word lists as :func:`split_words` gives them. An acronym is an
    all-capital word of 2–5 letters; its expansion is the most frequent run of as many
    content words (3+ letters, no stop words) whose initials spell it. Ties are left out.

    >>> learn_abbreviations([["PC", "member"], ["Program", "Committee", "Chair"]])
    {'pc': ('program', 'committee')}
    """
    lists = [list(ws) for ws in names]
    acronyms = {w.lower() for ws in lists for w in ws if 2 <= len(w) <= 5 and w.isalpha() and w.isupper()}
    runs: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for ws in lists:
        low = [w.lower() for w in ws]
        for n in range(2, 6):
            for i in range(len(low) - n + 1):
                run = tuple(low[i: i + n])
                if any(len(w) < 3 or w in STOP_WORDS for w in run):
                    continue
                initials = "".join(w[0] for w in run)
                if initials in acronyms:
                    runs[initials][run] += 1
    out: dict[str, tuple[str, ...]] = {}
    for acro in sorted(runs):
        (best, n), *rest = runs[acro].most_common()
        if rest and rest[0][1] == n:
            continue
        out[acro] = best
    return out


class Lexicon:
    """The lexical analysis of the symbols of one match (both sides): names, IDF, abbreviations."""

    def __init__(
        self,
        source: Iterable[Symbol],
        target: Iterable[Symbol] = (),
        *,
        head_match: bool = True,
        use_wordnet: bool = True,
        synonym_score: float = 0.9,
        synonym_senses: int = 2,
        typo_ratio: float = 0.85,
        stop_words: Collection[str] = STOP_WORDS,
        wordnet_root: str | None = None,
        morphology: bool = True,
        morphology_score: float = 0.9,
        related_synonym_score: float = 0.8,
        property_context: Mapping[str, tuple[frozenset[str], frozenset[str]]] | None = None,
        property_readings: bool = True,
    ) -> None:
        self.wn: WordNet | None = wordnet(wordnet_root) if use_wordnet else None
        if self.wn is not None and not self.wn.available:
            self.wn = None
        self.morph: Morphology | None = Morphology(self.wn) if morphology else None
        self.morphology_score = morphology_score
        self.related_synonym_score = related_synonym_score
        self.synonym_score = synonym_score
        self.synonym_senses = synonym_senses
        self.typo_ratio = typo_ratio
        self.stop_words = frozenset(stop_words)
        self.head_match = head_match
        sides = (list(source), list(target))
        syms = [*sides[0], *sides[1]]
        self._side: dict[str, int] = {}
        self._category: dict[str, str] = {}
        for i, side in enumerate(sides):
            for sym in side:
                self._side.setdefault(sym.iri, i)
                self._category[sym.iri] = category(sym.kind)
        raw = {s.iri: self._raw_names(s) for s in syms}
        self._surface: dict[str, set[str]] = defaultdict(set)  # lemma -> the words it came from
        self.abbreviations = learn_abbreviations(split_words(t) for ts in raw.values() for t, _ in ts)
        self._names: dict[str, tuple[Name, ...]] = {
            iri: tuple(self._analyse(t, scope) for t, scope in ts) for iri, ts in raw.items()
        }
        self._agents = agent_verbs(self.wn) if self.wn is not None else {}
        for iri, names in list(self._names.items()):
            if property_readings and self._category[iri] == "property":
                dom, rng = (property_context or {}).get(iri, (frozenset(), frozenset()))
                extra = [v for nm in names if nm.scope == "label" for v in self._property_readings(nm, dom, rng)]
                seen = {(n.tokens, n.inverse_phrased) for n in names}
                for v in extra:
                    if (v.tokens, v.inverse_phrased) not in seen and v.tokens:
                        seen.add((v.tokens, v.inverse_phrased))
                        names = (*names, v)
                self._names[iri] = names
        df: Counter[str] = Counter()
        n_docs = 0
        for names in self._names.values():
            for nm in names:
                n_docs += 1
                df.update(set(nm.tokens))
        self._n_docs = max(n_docs, 1)
        self._df = df
        self._tsim: dict[tuple[str, str], tuple[float, str]] = {}
        self._is_word: dict[str, bool] = {}
        # per side and category: the token sets its symbols' names have (for the head-noun rule)
        self._token_sets: dict[tuple[int, str], set[frozenset[str]]] = defaultdict(set)
        for iri, names in self._names.items():
            for nm in names:
                self._token_sets[(self._side[iri], self._category[iri])].add(frozenset(nm.tokens))
        # per side: last content token -> classes whose some name ends with it, and subclass links
        self._by_last: dict[tuple[int, str], set[str]] = defaultdict(set)
        for iri, names in self._names.items():
            if self._category[iri] == "class":
                for nm in names:
                    if len(nm.tokens) > 1:
                        self._by_last[(self._side[iri], nm.tokens[-1])].add(iri)
        self._children = {sym.iri: sym.children for sym in syms}
        self._desc: dict[str, frozenset[str]] = {}

    # -- analysis ------------------------------------------------------------------------

    @staticmethod
    def _raw_names(s: Symbol) -> tuple[tuple[str, str], ...]:
        """(text, scope) of every name: label and exact synonyms, a wordy local name, then the
        related/narrow/broad synonyms; hidden labels (misspellings, search forms) are left out."""
        syns = getattr(s, "synonyms", ())
        weak = {t for scope, t in syns if scope in WEAK_SCOPES} - {t for scope, t in syns if scope == "exact"}
        names = [(n, "label") for n in s.names if n == s.label or n not in weak]
        ln = s.local_name
        if not s.label_derived and _WORDY.search(ln) and not _CODE.match(ln):
            names.append((ln, "label"))
        names.extend((t, scope) for scope, t in getattr(s, "synonyms", ()) if scope in WEAK_SCOPES)
        seen: set[str] = set()
        out = []
        for n, scope in names:
            key = normalise(n)
            if key and key not in seen:
                seen.add(key)
                out.append((n, scope))
        return tuple(out)

    def lemma(self, word: str) -> str:
        return self.wn.lemma(word) if self.wn is not None else _light_stem(word)

    def _analyse(self, text: str, scope: str = "label") -> Name:
        words = tuple(split_words(text))
        low = [w.lower() for w in words]
        content: list[str] = []
        expanded: list[str] = []
        for k, w in enumerate(low):
            if w in self.stop_words:
                continue
            num = numeral(words[k], first=k == 0) if self.morph is not None else None
            if num is not None:
                content.append(num)
                expanded.append(f"{words[k]}={num}")
                continue
            if w in self.abbreviations:
                exp = self.abbreviations[w]
                content.extend(exp)
                expanded.append(f"{w.upper()}={' '.join(exp)}")
            else:
                content.append(w)
        if not content:  # a name made only of stop words keeps them
            content = low
        tokens = tuple(dict.fromkeys(self.lemma(w) for w in content))
        for w in content:
            self._surface[self.lemma(w)].add(w)
        inverse = bool(low) and low[-1] in INVERSE_MARKERS and len(low) > 1
        return Name(
            text=text,
            normal=" ".join(low),
            compact=compact(text),
            words=words,
            tokens=tokens,
            inverse_phrased=inverse,
            expanded=tuple(expanded),
            joined=compact("".join(content)),
            scope=scope,
        )

    def _property_readings(self, nm: Name, domain: frozenset[str], range_: frozenset[str]) -> list[Name]:
        """Other readings of a property name, each a :class:`Name` with ``derived`` saying how:

        - words naming the property's range dropped from its end ("writePaper" on Paper → "write",
          "memberOfConference" → "member of", "startDate" on xsd:date → "start"); words naming its
          domain after a final "of" dropped with the "of" ("Name_of_conference" on Conference →
          "name"), or right after "has" ("has_a_track-workshop-tutorial_topic" → "has topic");
        - an agent noun read as its verb, the direction kept: "has reviewer" reads "reviewed by"
          (the object reviews), "reviewer of" reads "reviews"; "has author" reads "written by"
          (WordNet: author is a writer, who writes).
        """
        low = [w.lower() for w in nm.words]
        lem = [self.lemma(w) for w in low]
        dom = {self.lemma(w) for w in domain}
        rng = {self.lemma(w) for w in range_}
        out: list[tuple[list[str], str, bool | None]] = []  # (words, what was done, direction or None = by markers)

        def content(ws: list[str]) -> bool:
            return any(w not in self.stop_words for w in ws)

        # range words at the end
        k = len(low)
        while k > 0 and lem[k - 1] in rng:
            k -= 1
        if 0 < k < len(low) and content(low[:k]):
            out.append((low[:k], f"without the range word(s) {' '.join(low[k:])!r}", None))
        # domain words after a final "of" ("name of conference" = the conference's name)
        k = len(low)
        while k > 0 and lem[k - 1] in dom:
            k -= 1
        if 1 < k < len(low) and low[k - 1] == "of" and content(low[: k - 1]):
            out.append((low[: k - 1], f"without 'of' and the domain word(s) {' '.join(low[k:])!r}", False))
        # domain words right after "has" (and its articles)
        if low and low[0] in ("has", "have"):
            i = 1
            while i < len(low) and low[i] in ("a", "an", "the"):
                i += 1
            j = i
            while j < len(low) - 1 and lem[j] in dom:
                j += 1
            if j > i and content(low[j:]):
                out.append((low[:i] + low[j:], f"without the domain word(s) {' '.join(low[i:j])!r}", None))
        # agent nouns read as their verbs
        bases = [(low, "", None)] + [(ws, how, d) for ws, how, d in out]
        for ws, how, _d in bases:
            words = [w for w in ws if w not in ("a", "an", "the")]
            if not words:
                continue
            direction: bool | None = None
            if words[0] in ("has", "have") and len(words) >= 2 and self.lemma(words[-1]) in self._agents:
                agent, rest, direction = words[-1], words[1:-1], True  # "has reviewer" = "reviewed by"
            elif len(words) >= 2 and words[-1] == "of" and self.lemma(words[-2]) in self._agents:
                agent, rest, direction = words[-2], [w for w in words[:-2] if w not in ("is", "be")], False
            else:
                continue
            for verb in self._agents[self.lemma(agent)][:3]:
                note = f"{agent!r} read as {verb!r}" + (f", {how}" if how else "")
                out.append(([*rest, verb], note, direction))
        readings = []
        for ws, how, d in out:
            v = self._analyse(" ".join(ws), nm.scope)
            inverse = v.inverse_phrased if d is None else d
            readings.append(replace(v, text=nm.text, inverse_phrased=inverse, derived=how))
        return readings

    def names(self, iri: str) -> tuple[Name, ...]:
        return self._names.get(iri, ())

    def idf(self, token: str) -> float:
        return math.log((self._n_docs + 1) / (self._df.get(token, 0) + 0.5))

    def is_word(self, token: str) -> bool:
        hit = self._is_word.get(token)
        if hit is None:
            hit = self._is_word[token] = self.wn.is_word(token) if self.wn is not None else True
        return hit

    # -- similarity ----------------------------------------------------------------------

    def token_similarity(self, t: str, u: str) -> tuple[float, str]:
        """Similarity of two content tokens and why: ``same``, ``synonym`` or ``spelling``."""
        if t == u:
            return 1.0, "same"
        key = (t, u) if t < u else (u, t)
        hit = self._tsim.get(key)
        if hit is not None:
            return hit
        out = (0.0, "")
        if self.wn is not None and (u in self.wn.synonyms(t, self.synonym_senses)
                                    and t in self.wn.synonyms(u, self.synonym_senses)):
            out = (self.synonym_score, "synonym")
        elif self.morph is not None and (how := self.morph.relation(t, u)):
            out = (self.morphology_score, how)
        elif min(len(t), len(u)) >= 4 and not (self.is_word(t) and self.is_word(u)):
            r = max(
                string_ratio(x, y) for x in (self._surface.get(t) or {t}) | {t} for y in (self._surface.get(u) or {u}) | {u}
            )
            if r >= self.typo_ratio:
                out = (r, "spelling")
        self._tsim[key] = out
        return out

    def name_similarity(self, a: Name, b: Name) -> tuple[float, str]:
        """Similarity of two names and a short reason."""
        if a.normal == b.normal:
            return EXACT, "same label"
        if a.compact == b.compact:
            return COMPACT, "same label up to spacing"
        if a.joined and a.joined == b.joined:
            exp = a.expanded + b.expanded
            return SAME_TOKENS, "same words run together" + (
                " after expanding " + ", ".join(dict.fromkeys(exp)) if exp else "")
        if sorted(a.tokens) == sorted(b.tokens):
            how = "same words"
            exp = a.expanded + b.expanded
            if exp:
                how += " after expanding " + ", ".join(dict.fromkeys(exp))
            return SAME_TOKENS, how
        if self.wn is not None and (len(a.tokens) > 1 or len(b.tokens) > 1):
            pa, pb = " ".join(a.tokens), " ".join(b.tokens)
            if pb in self.wn.synonyms(pa, self.synonym_senses) and pa in self.wn.synonyms(pb, self.synonym_senses):
                return self.synonym_score * SOFT_CAP, f"WordNet synonyms {pa!r} / {pb!r}"
        ta, tb, joined = merge_compounds(a.tokens, b.tokens)
        if joined:
            note = f"compound {joined[0]!r} = {joined[1]!r}"
            if sorted(ta) == sorted(tb):
                return SAME_TOKENS, f"same words, {note}"
            s, why = self.soft_tfidf(ta, tb)
            return s, f"{why}; {note}"
        return self.soft_tfidf(a.tokens, b.tokens)

    def soft_tfidf(self, ta: Sequence[str], tb: Sequence[str]) -> tuple[float, str]:
        """Cosine of IDF-weighted token sets where near-equal tokens count, one-to-one, capped."""
        if not ta or not tb:
            return 0.0, ""
        sims = []
        for i, t in enumerate(ta):
            for j, u in enumerate(tb):
                s, why = self.token_similarity(t, u)
                if s > 0:
                    sims.append((s, i, j, why))
        if not sims:
            return 0.0, ""
        sims.sort(reverse=True)
        used_a: set[int] = set()
        used_b: set[int] = set()
        dot = 0.0
        notes = []
        for s, i, j, why in sims:
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            dot += self.idf(ta[i]) * self.idf(tb[j]) * s
            if why != "same":
                notes.append(f"{ta[i]}~{tb[j]} ({why})")
        na = math.sqrt(sum(self.idf(t) ** 2 for t in ta))
        nb = math.sqrt(sum(self.idf(t) ** 2 for t in tb))
        score = SOFT_CAP * dot / (na * nb) if na and nb else 0.0
        how = "shared words" + (": " + ", ".join(notes) if notes else "")
        return min(score, SOFT_CAP), how

    def descendants(self, iri: str) -> frozenset[str]:
        """Every subclass of ``iri`` (from the symbols' ``children``), cached."""
        hit = self._desc.get(iri)
        if hit is None:
            seen: set[str] = set()
            stack = list(self._children.get(iri, ()))
            while stack:
                c = stack.pop()
                if c not in seen:
                    seen.add(c)
                    stack.extend(self._children.get(c, ()))
            hit = self._desc[iri] = frozenset(seen)
        return hit

    def head_similarity(self, a: str, na: Name, b: str, nb: Name) -> tuple[float, str]:
        """The head-noun rule for classes: "Regular_author" ~ "Author" when the longer name ends
        with the shorter one's words and the longer name's ontology has no class named by
        those words alone. Scores between :data:`HEAD_MIN` and :data:`HEAD_MAX`, higher the
        less the modifiers weigh (IDF)."""
        if not self.head_match or self._category.get(a) != "class" or self._category.get(b) != "class":
            return 0.0, ""
        for long_iri, long_nm, short_nm in ((a, na, nb), (b, nb, na)):
            n = len(short_nm.tokens)
            if not (0 < n < len(long_nm.tokens)) or long_nm.tokens[-n:] != short_nm.tokens:
                continue
            if long_nm.expanded or any(w.lower() in PREPOSITIONS for w in long_nm.words):
                continue  # "Chair_PC", "Activity_after_conference": the last word is not the head
            side = self._side.get(long_iri)
            if frozenset(short_nm.tokens) in self._token_sets.get((side, "class"), set()):
                continue  # that ontology has its own class for the head: the longer name is a subclass
            others = self._by_last.get((side, short_nm.tokens[-1]), set()) - self.descendants(long_iri) - {long_iri}
            if others:
                continue  # "Session_chair" among "PC_chair", "OC_chair": the head is their common superclass
            cos, _ = self.soft_tfidf(long_nm.tokens, short_nm.tokens)
            mods = " ".join(long_nm.tokens[:-n])
            return HEAD_MIN + (HEAD_MAX - HEAD_MIN) * cos / SOFT_CAP, (
                f"head noun: {long_nm.text!r} is the only {' '.join(short_nm.tokens)!r} of its ontology "
                f"apart from its subclasses (modifier {mods!r})"
            )
        return 0.0, ""

    def similarity(self, a: str, b: str) -> tuple[float, Name | None, Name | None, str]:
        """Best similarity over the names of symbols ``a`` and ``b`` with the names that gave it."""
        best: tuple[float, Name | None, Name | None, str] = (0.0, None, None, "")
        for na in self.names(a):
            for nb in self.names(b):
                s, why = self.name_similarity(na, nb)
                if s < HEAD_MAX:
                    hs, hwhy = self.head_similarity(a, na, b, nb)
                    if hs > s:
                        s, why = hs, hwhy
                if na.inverse_phrased != nb.inverse_phrased and s > 0:
                    s *= INVERSE_PENALTY
                    why += "; phrased in opposite directions"
                elif (
                    s < SAME_TOKENS
                    and self._category.get(a) == "class"
                    and na.tokens and nb.tokens
                    and self.token_similarity(na.tokens[-1], nb.tokens[-1])[0] == 0
                    and not why.startswith("head noun")
                ):
                    s *= HEAD_MISMATCH_PENALTY
                    why += f"; different head words ({na.tokens[-1]!r} / {nb.tokens[-1]!r})"
                derived = [n.derived for n in (na, nb) if n.derived]
                if derived and s > 0:
                    s = min(s, SAME_TOKENS)
                    why += "; read " + "; ".join(derived)
                weak = next((n for n in (na, nb) if n.scope in WEAK_SCOPES), None)
                if weak is not None and s > 0:
                    s *= self.related_synonym_score
                    why += f"; through a {weak.scope} synonym {weak.text!r}"
                if s > best[0]:
                    best = (s, na, nb, why)
        return best

    def phrase_synonyms(self, name: Name) -> frozenset[str]:
        """WordNet synonyms of a name's whole content phrase ("last name" → "surname")."""
        if self.wn is None or not name.tokens:
            return frozenset()
        return self.wn.synonyms(" ".join(name.tokens), self.synonym_senses)

    def similar_tokens(self, token: str, vocabulary: Iterable[str]) -> set[str]:
        """Tokens of ``vocabulary`` near-equal to ``token`` (all compared: small vocabularies only)."""
        return {u for u in vocabulary if self.token_similarity(token, u)[0] > 0}

    def token_index(self, vocabulary: Iterable[str]) -> TokenIndex:
        """An index of ``vocabulary`` answering :meth:`TokenIndex.near` without comparing all tokens."""
        return TokenIndex(self, vocabulary)


class TokenIndex:
    """Blocking for the lexical proposals: finds a token's near-equal tokens in a vocabulary by
    lookups — the token itself, its WordNet synonyms, its morphological forms (both directions),
    and spelling variants through a one-deletion index — then confirms each with
    :meth:`Lexicon.token_similarity`."""

    def __init__(self, lex: Lexicon, vocabulary: Iterable[str]) -> None:
        self.lex = lex
        self.vocab = set(vocabulary)
        self.deletes: dict[str, set[str]] = defaultdict(set)
        self.reverse_forms: dict[str, set[str]] = defaultdict(set)
        for u in self.vocab:
            if len(u) >= 4:
                for key in _deletions(u):
                    self.deletes[key].add(u)
            if lex.morph is not None:
                for f in lex.morph.forms(u):
                    self.reverse_forms[f].add(u)
        self._cache: dict[str, set[str]] = {}

    def near(self, token: str) -> set[str]:
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        lex = self.lex
        cands: set[str] = set()
        if lex.wn is not None:
            cands.update(lex.wn.synonyms(token, lex.synonym_senses))
        if lex.morph is not None:
            cands.update(lex.morph.forms(token))
            cands.update(self.reverse_forms.get(token, ()))
        if len(token) >= 4:
            for key in _deletions(token):
                cands.update(self.deletes.get(key, ()))
        out = {u for u in cands & self.vocab if u != token and lex.token_similarity(token, u)[0] > 0}
        if token in self.vocab:
            out.add(token)
        self._cache[token] = out
        return out


def merge_compounds(ta: Sequence[str], tb: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, str] | None]:
    """Two adjacent words of one name written as one word in the other ("non member" /
    "nonmember", "hind limb" / "hindlimb") become that word; returns both token lists and the
    first compound joined (word, words), or None when nothing was joined.

    >>> merge_compounds(("nonmember", "registration", "fee"), ("registration", "non", "member"))
    (('nonmember', 'registration', 'fee'), ('registration', 'nonmember'), ('nonmember', 'non member'))
    """
    out = [list(ta), list(tb)]
    first: tuple[str, str] | None = None
    for x, y in ((0, 1), (1, 0)):
        whole = {t for t in out[x] if len(t) >= 5}
        toks = out[y]
        i = 0
        while i < len(toks) - 1:
            w = toks[i] + toks[i + 1]
            if w in whole and w not in toks:
                if first is None:
                    first = (w, f"{toks[i]} {toks[i + 1]}")
                toks[i: i + 2] = [w]
            i += 1
    return tuple(out[0]), tuple(out[1]), first


def _deletions(word: str) -> set[str]:
    """The word and every form of it with one letter deleted (symmetric-delete spelling index)."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


#: blocking: a token shared by more than max(BLOCK_CAP, BLOCK_SHARE × |target|) target symbols
#: proposes pairs only for one-word names (the other words of a longer name must do it)
BLOCK_CAP = 50
BLOCK_SHARE = 0.02
#: factor on the score of two properties whose names read in opposite directions
INVERSE_PENALTY = 0.6
#: factor on a partial class match whose last words (the head nouns) differ: "PC chair" / "program committee"
HEAD_MISMATCH_PENALTY = 0.9
#: range of the head-noun rule's score
HEAD_MIN = 0.76
HEAD_MAX = 0.84


@lru_cache(maxsize=8192)
def _light_stem(word: str) -> str:
    """A tiny English stemmer used when WordNet is absent: plural and verb endings.

    >>> [_light_stem(w) for w in ("papers", "reviewing", "accepted", "committees", "address")]
    ['paper', 'review', 'accept', 'committee', 'address']
    """
    w = word.lower()
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    if w.endswith("ing") and len(w) > 5:
        return w[:-3]
    if w.endswith("ed") and len(w) > 4:
        return w[:-2]
    return w


@lru_cache(maxsize=4)
def agent_verbs(wn: WordNet) -> dict[str, tuple[str, ...]]:
    """Agent noun -> the verbs naming what it does, from WordNet: the derivation pointers of the
    words of its most frequent sense when that sense is a person ("reviewer" → "review";
    "author" → "author", "write", because its first sense is {writer, author}). Verbs with more
    senses (more common) first, the noun's own derivation before its synonyms'."""
    if not wn.available or wn.root is None:
        return {}
    person: dict[int, list[tuple[str, str]]] = {}  # synset offset -> (noun word, verb) links
    words_of: dict[int, list[str]] = {}
    with (wn.root / "data.noun").open("rb") as f:
        for raw in f:
            if raw.startswith(b" "):
                continue
            parts = raw.decode("latin-1").split(" | ")[0].split()
            if parts[1] != "18":  # noun.person
                continue
            off = int(parts[0])
            n_words = int(parts[3], 16)
            words = [parts[4 + 2 * i].lower() for i in range(n_words)]
            words_of[off] = words
            k = 4 + 2 * n_words
            for p in range(int(parts[k])):
                sym, voff, pos, st = parts[k + 1 + 4 * p: k + 5 + 4 * p]
                if sym != "+" or pos != "v" or st == "0000":
                    continue
                src, tgt = int(st[:2], 16), int(st[2:], 16)
                verbs = wn._synset("verb", int(voff))
                if 0 < src <= n_words and 0 < tgt <= len(verbs) and " " not in verbs[tgt - 1]:
                    person.setdefault(off, []).append((words[src - 1], verbs[tgt - 1]))
    out: dict[str, tuple[str, ...]] = {}
    for off, links in person.items():
        for word in words_of[off]:
            if "_" in word or word in out:
                continue
            first = wn._index.get(word, {}).get("noun", ())[:1]
            if first != (off,):
                continue  # only a word whose most frequent sense is this person
            own = [v for w, v in links if w == word]
            mates = [v for w, v in links if w != word]
            ranked = sorted(dict.fromkeys(own + mates),
                            key=lambda v: (v not in own, -len(wn._index.get(v, {}).get("verb", ()))))
            out[word] = tuple(ranked)
    return out


def _property_context(view: object) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Property -> (words naming its domain classes, words naming its range classes or datatypes)."""
    def words(iri: str) -> frozenset[str]:
        sym = view.symbols.get(iri)  # type: ignore[attr-defined]
        text = sym.label if sym is not None else iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        return frozenset(w.lower() for w in split_words(text))

    out = {}
    for sym in view.of_category("property"):  # type: ignore[attr-defined]
        dom = frozenset().union(*(words(c) for c in view.domain_of(sym.iri)))  # type: ignore[attr-defined]
        rng = frozenset().union(*(words(c) for c in view.range_of(sym.iri)))  # type: ignore[attr-defined]
        out[sym.iri] = (dom, rng)
    return out


def lexicon_for(context: MatchContext) -> Lexicon:
    """The context's lexicon, built on first use from both sides' symbols."""
    lex = context.cache.get("lexicon")
    if lex is None:
        cfg = context.config
        lex = Lexicon(
            context.source.symbols.values(),
            context.target.symbols.values(),
            head_match=getattr(cfg, "head_match", True),
            use_wordnet=getattr(cfg, "use_wordnet", True),
            synonym_score=getattr(cfg, "synonym_score", 0.9),
            morphology=getattr(cfg, "morphology", True),
            morphology_score=getattr(cfg, "morphology_score", 0.9),
            related_synonym_score=getattr(cfg, "related_synonym_score", 0.8),
            property_context={**_property_context(context.source), **_property_context(context.target)},
            property_readings=getattr(cfg, "property_readings", True),
        )
        context.cache["lexicon"] = lex
    return lex


class LexicalScorer:
    """Scores pairs by their best-matching names; proposes every same-category pair sharing a
    near-equal token."""

    name = "lexical"
    kind = "lexical"

    def __init__(self, config: object = None) -> None:
        self.config = config
        self.floor = float(getattr(config, "lexical_floor", 0.3))
        self.qualifier_penalty = float(getattr(config, "qualifier_penalty", 0.5))

    def propose(self, context: MatchContext) -> set[Pair]:
        lex = lexicon_for(context)
        cats = getattr(self.config, "categories", ("class", "property"))
        out: set[Pair] = set()
        for cat in cats:
            src = context.source.of_category(cat)
            tgt = context.target.of_category(cat)
            by_token: dict[str, list[str]] = defaultdict(list)
            by_compact: dict[str, list[str]] = defaultdict(list)
            for t in tgt:
                for nm in lex.names(t.iri):
                    for tok in nm.tokens:
                        by_token[tok].append(t.iri)
                    by_compact[nm.compact].append(t.iri)
                    by_compact[nm.joined].append(t.iri)
            by_phrase: dict[str, list[str]] = defaultdict(list)
            for t in tgt:
                for nm in lex.names(t.iri):
                    by_phrase[" ".join(nm.tokens)].append(t.iri)
            index = lex.token_index(by_token)
            cap = max(BLOCK_CAP, int(BLOCK_SHARE * len(tgt)))
            near: dict[str, set[str]] = {}
            for s in progress(src, self.config, f"lexical candidates ({cat})", unit="symbol", min_items=1000):
                hits: set[str] = set()
                for nm in lex.names(s.iri):
                    hits.update(by_compact.get(nm.compact, ()))
                    hits.update(by_compact.get(nm.joined, ()))
                    for phrase in lex.phrase_synonyms(nm):
                        hits.update(by_phrase.get(phrase, ()))
                    for tok in nm.tokens:
                        if tok not in near:
                            near[tok] = index.near(tok)
                        for u in near[tok]:
                            posting = by_token[u]
                            if len(posting) > cap and len(nm.tokens) > 1:
                                continue  # a common word ("genus", "conference") blocks nothing alone
                            hits.update(posting)
                out.update((s.iri, h) for h in hits)
        if getattr(self.config, "learn_words", True) and "class" in cats:
            learned = learn_correspondences(lex, out)
            context.cache["learned_words"] = learned
            if learned:
                out |= learned_proposals(lex, learned, (s.iri for s in context.source.of_category("class")),
                                         (t.iri for t in context.target.of_category("class")))
        return out

    def score(self, pairs: Collection[Pair], context: MatchContext) -> dict[Pair, Evidence]:
        lex = lexicon_for(context)
        out: dict[Pair, Evidence] = {}
        ctx = None
        if self.qualifier_penalty < 1.0:
            from kgalign.align.structural import ContextWords

            ctx = context.cache.get("context_words")
            if ctx is None:
                ctx = context.cache["context_words"] = (ContextWords(context.source, lex),
                                                         ContextWords(context.target, lex))
        learned = context.cache.get("learned_words") or {}
        for pair in progress(pairs, self.config, "lexical"):
            a, b = pair
            sa, sb = context.source.symbols.get(a), context.target.symbols.get(b)
            if sa is None or sb is None or category(sa.kind) != category(sb.kind):
                continue
            s, na, nb, why = lex.similarity(a, b)
            if (na is None or nb is None or s <= 0) and learned and category(sa.kind) == "class":
                ls, lwhy, ltexts = learned_similarity(lex, learned, a, b)
                if ls > 0:
                    out[pair] = Evidence("lexical", ls, f"{lwhy}: {ltexts[0]!r} ~ {ltexts[1]!r}", ltexts)
                    continue
            if na is None or nb is None or s <= 0:
                out[pair] = Evidence("lexical", 0.0, f"no words in common: {sa.label!r} / {sb.label!r}")
                continue
            # (a property pair matched as WordNet phrase synonyms, "surname" / "last name", is not
            # checked: its words differ by design; for classes the check measured better either way)
            if ctx is not None and s < EXACT and (category(sa.kind) == "class" or not why.startswith("WordNet synonyms")):
                from kgalign.align.structural import check_context

                s, note = check_context(lex, na, nb, a, b, ctx[0], ctx[1], s, self.qualifier_penalty,
                                        prop=category(sa.kind) == "property")
                why += note
            texts = (na.text, nb.text)
            if learned and category(sa.kind) == "class" and s < LEARNED_SCORE:
                ls, lwhy, ltexts = learned_similarity(lex, learned, a, b)
                if ls > s:
                    s, why, texts = ls, lwhy, ltexts
            if s < self.floor:
                s = 0.0
            out[pair] = Evidence("lexical", round(s, 4), f"{why}: {texts[0]!r} ~ {texts[1]!r}", texts)
        return out


#: score of a pair whose names differ only by a word correspondence learnt from the pair itself
LEARNED_SCORE = 0.85
#: a correspondence is learnt when at least this many different shared words witness it
LEARN_MIN_WITNESSES = 2
#: at most this many words on each side of a learnt correspondence
LEARN_MAX_WORDS = 2
#: shared words that more than this many classes of a side have are no witness ("conference")
LEARN_MAX_SHARE = 3

Correspondence = tuple[frozenset[str], frozenset[str]]


def learn_correspondences(lex: Lexicon, pairs: Iterable[Pair]) -> dict[Correspondence, tuple[str, ...]]:
    """Word correspondences the two artefacts' class names show themselves, as AML/LogMap learn
    from anchors: "Accepted_contribution" / "Accepted_Paper", "Rejected_contribution" /
    "Rejected_Paper" → "contribution" ~ "paper" on this pair. For each candidate class pair,
    the words left over once the shared (near-equal) words are taken out form a candidate
    correspondence; it is learnt when (a) at least :data:`LEARN_MIN_WITNESSES` different shared
    words witness it, (b) for each witness neither ontology has the other's phrasing too (a side
    with both "left lung" and "right lung" teaches nothing), and (c) it is unambiguous: no other
    learnt correspondence for its words. Returns correspondence -> the witnesses (sorted)."""
    seen: dict[Correspondence, set[frozenset[str]]] = defaultdict(set)
    pairs = list(pairs)
    common_a: dict[frozenset[str], set[str]] = defaultdict(set)  # shared words -> classes having them
    common_b: dict[frozenset[str], set[str]] = defaultdict(set)
    for iri, names in lex._names.items():
        if lex._category.get(iri) != "class":
            continue
        toks = {t for nm in names if nm.scope == "label" for t in nm.tokens}
        for t in toks:
            (common_a if lex._side[iri] == 0 else common_b)[frozenset((t,))].add(iri)

    def having(common: dict[frozenset[str], set[str]], key: frozenset[str]) -> int:
        """How many classes of a side have every word of ``key`` (cached per key)."""
        if key not in common:
            common[key] = set.intersection(*(common.get(frozenset((t,)), set()) for t in key))
        return len(common[key])

    for a, b in pairs:
        if lex._category.get(a) != "class" or lex._category.get(b) != "class":
            continue
        for na in lex.names(a):
            if na.scope != "label" or na.expanded:
                continue
            for nb in lex.names(b):
                if nb.scope != "label" or nb.expanded:
                    continue
                ta, tb = frozenset(na.tokens), frozenset(nb.tokens)
                sa = sb = ta & tb  # the witness: words both names have (exactly)
                ra, rb = ta - sa, tb - sb
                if not sa or not (0 < len(ra) <= LEARN_MAX_WORDS and 0 < len(rb) <= LEARN_MAX_WORDS):
                    continue
                if any(lex.token_similarity(t, u)[0] > 0 for t in ra for u in rb):
                    continue  # the rest matches already (spelling, synonyms): nothing to learn
                if _surface(lex, na, sa) != _surface(lex, nb, sb):
                    continue  # "Accepted" / "Accept": the same lemma, not the same word
                if any(len(t) < 3 for t in ra | rb):
                    continue  # acronyms ("OC") are not words to learn
                if having(common_a, sa) > LEARN_MAX_SHARE or having(common_b, sa) > LEARN_MAX_SHARE:
                    continue  # a word many names have ("conference") witnesses nothing
                # the other phrasing must not exist on either side
                if (sa | rb) in lex._token_sets.get((lex._side[a], "class"), set()):
                    continue
                if (sb | ra) in lex._token_sets.get((lex._side[b], "class"), set()):
                    continue
                seen[(ra, rb)].add(sa)
    strong = {c: w for c, w in seen.items() if len(w) >= LEARN_MIN_WITNESSES}
    out: dict[Correspondence, tuple[str, ...]] = {}
    for (ra, rb), w in strong.items():
        rivals = [c for c in strong if c != (ra, rb) and (c[0] & ra or c[1] & rb)]
        if any(len(strong[c]) >= len(w) for c in rivals):
            continue
        out[(ra, rb)] = tuple(sorted(" ".join(sorted(x)) for x in w))
    return out


def _surface(lex: Lexicon, nm: Name, tokens: frozenset[str]) -> frozenset[str]:
    """The words of ``nm`` as written (lower case) whose lemmas are ``tokens``."""
    return frozenset(w.lower() for w in nm.words if lex.lemma(w.lower()) in tokens)


def learned_similarity(
    lex: Lexicon, learned: Mapping[Correspondence, tuple[str, ...]], a: str, b: str
) -> tuple[float, str, tuple[str, str]]:
    """:data:`LEARNED_SCORE` and why when some names of ``a`` and ``b`` differ exactly by a learnt
    correspondence (the rest equal), else 0."""
    for na in lex.names(a):
        if na.scope != "label":
            continue
        ta = frozenset(na.tokens)
        for nb in lex.names(b):
            if nb.scope != "label":
                continue
            tb = frozenset(nb.tokens)
            for (ra, rb), wit in learned.items():
                if ra <= ta and rb <= tb and ta - ra == tb - rb:
                    why = (f"{' '.join(sorted(ra))!r} ~ {' '.join(sorted(rb))!r} learnt from this pair's names "
                           f"(as in {', '.join(wit[:3])})")
                    return LEARNED_SCORE, why, (na.text, nb.text)
    return 0.0, "", ("", "")


def learned_proposals(lex: Lexicon, learned: Mapping[Correspondence, tuple[str, ...]],
                      source: Iterable[str], target: Iterable[str]) -> set[Pair]:
    """Class pairs whose names differ exactly by a learnt correspondence ("Contribution" /
    "Paper" once "contribution" ~ "paper" is learnt)."""
    by_tokens: dict[frozenset[str], set[str]] = defaultdict(set)
    for t in target:
        for nb in lex.names(t):
            if nb.scope == "label":
                by_tokens[frozenset(nb.tokens)].add(t)
    out: set[Pair] = set()
    for s in source:
        for na in lex.names(s):
            if na.scope != "label":
                continue
            ta = frozenset(na.tokens)
            for ra, rb in learned:
                if ra <= ta:
                    out.update((s, t) for t in by_tokens.get((ta - ra) | rb, ()))
    return out
