"""Morphological evidence: words that name the same thing in another form.

Three sources, each named in the evidence it gives:

- **WordNet pertainyms and derivations** between adjectives and nouns ("gastric" → "stomach",
  "laryngeal" → "larynx", "ovarian" → "ovary"), read from ``data.adj`` of the WordNet 3
  database (``\\`` and ``+`` pointers between words, not whole synsets);
- **adjective rules** for words WordNet lacks: "-ular" → "-le" (ventricular/ventricle),
  "-eal" → "-x" (pharyngeal/pharynx), "-ian" → "-y", "-al" → "-um"/"-us"/"-e"/"", "-ar" → "-a";
  a rule only counts when its noun is a word of the other artefact;
- **Latin plurals** ("vertebrae" → "vertebra", "bronchi" → "bronchus") and **Roman numerals**
  ("cranial nerve II" / "cranial nerve 2").
"""

from __future__ import annotations

from functools import lru_cache

from kgalign.symbolic.wordnet import WordNet

#: adjective ending -> noun endings it may come from
ADJECTIVE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ular", ("le", "ula", "ulum", "ulus")),
    ("geal", ("x",)),
    ("eal", ("ea", "eum", "eus", "")),
    ("ian", ("y", "ia", "")),
    ("ial", ("ium", "ia", "")),
    ("ine", ("", "a")),
    ("al", ("um", "us", "e", "a", "")),
    ("ar", ("a", "e", "")),
    ("ic", ("", "y", "ia", "e")),
    ("ous", ("", "a", "e")),
)
#: Latin plural ending -> singular ending
LATIN_PLURALS: tuple[tuple[str, str], ...] = (
    ("ae", "a"), ("ices", "ex"), ("ices", "ix"), ("ia", "ium"), ("i", "us"), ("ora", "us"), ("era", "us"),
)


def _roman(n: int) -> str:
    out = []
    for v, s in ((40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out.append(s)
            n -= v
    return "".join(out)


#: roman numeral (lower case) -> arabic, 1..49
ROMAN = {_roman(n): str(n) for n in range(1, 50)}


def numeral(word: str, *, first: bool = False) -> str | None:
    """The Arabic form of a Roman numeral word ("II" → "2"), or None.

    Upper-case numerals count anywhere but first; lower-case ones only with two letters or
    more (a lone "i" or "v" is too often something else).

    >>> numeral("II"), numeral("iv"), numeral("I", first=True), numeral("mix")
    ('2', '4', None, None)
    """
    low = word.lower()
    if low not in ROMAN:
        return None
    if word.isupper():
        return None if first and len(word) == 1 else ROMAN[low]
    return ROMAN[low] if len(low) >= 2 else None


@lru_cache(maxsize=65536)
def latin_singulars(word: str) -> tuple[str, ...]:
    """Singular forms of a Latin plural ("vertebrae" → "vertebra").

    >>> latin_singulars("vertebrae"), latin_singulars("bronchi")
    (('vertebra',), ('bronchus',))
    """
    out = []
    for pl, sg in LATIN_PLURALS:
        if word.endswith(pl) and len(word) > len(pl) + 3:
            out.append(word[: -len(pl)] + sg)
    return tuple(out)


@lru_cache(maxsize=65536)
def adjective_nouns(word: str) -> tuple[str, ...]:
    """Nouns an adjective may be formed from, by rule ("ventricular" → "ventricle").

    >>> "ventricle" in adjective_nouns("ventricular"), "larynx" in adjective_nouns("laryngeal")
    (True, True)
    """
    out: list[str] = []
    for suffix, endings in ADJECTIVE_RULES:
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            stem = word[: -len(suffix)]
            out.extend(stem + e for e in endings)
    return tuple(dict.fromkeys(out))


class Morphology:
    """Adjective ↔ noun relations from WordNet plus the rules above."""

    def __init__(self, wn: WordNet | None) -> None:
        self.related: dict[str, dict[str, str]] = {}
        if wn is not None and wn.available:
            self.related = _wordnet_relations(wn)

    def relation(self, t: str, u: str) -> str:
        """Why ``t`` and ``u`` name the same thing in two forms ("" when they do not)."""
        if t == u:
            return ""
        how = self.related.get(t, {}).get(u) or self.related.get(u, {}).get(t)
        if how:
            return how
        if u in adjective_nouns(t) or t in adjective_nouns(u):
            return "adjective rule"
        if u in latin_singulars(t) or t in latin_singulars(u):
            return "Latin plural"
        return ""

    def forms(self, t: str) -> set[str]:
        """Every form ``t`` is related to (to look the other side's index up with)."""
        out = set(self.related.get(t, {}))
        out.update(adjective_nouns(t))
        out.update(latin_singulars(t))
        return out


@lru_cache(maxsize=4)
def _wordnet_relations(wn: WordNet) -> dict[str, dict[str, str]]:
    """word -> related word -> "WordNet pertainym" / "WordNet derivation", adjective ↔ noun."""
    assert wn.root is not None
    out: dict[str, dict[str, str]] = {}
    path = wn.root / "data.adj"
    with path.open("rb") as f:
        for raw in f:
            if raw.startswith(b" "):
                continue
            parts = raw.decode("latin-1").split(" | ")[0].split()
            n_words = int(parts[3], 16)
            words = [parts[4 + 2 * i].split("(")[0].lower() for i in range(n_words)]
            k = 4 + 2 * n_words
            n_ptr = int(parts[k])
            for p in range(n_ptr):
                sym, off, pos, st = parts[k + 1 + 4 * p: k + 5 + 4 * p]
                if sym not in ("\\", "+") or pos != "n" or st == "0000":
                    continue
                src, tgt = int(st[:2], 16), int(st[2:], 16)
                if not (0 < src <= len(words)):
                    continue
                target_words = wn._synset("noun", int(off))
                if not (0 < tgt <= len(target_words)):
                    continue
                a, b = words[src - 1].replace("_", " "), target_words[tgt - 1]
                if " " in a or " " in b or a == b:
                    continue
                how = "WordNet pertainym" if sym == "\\" else "WordNet derivation"
                out.setdefault(a, {}).setdefault(b, how)
                out.setdefault(b, {}).setdefault(a, how)
    return out
