"""A small reader of the WordNet 3 database files, for lemmas and synonyms.

The matcher needs two things from WordNet: the base form of a word ("papers" →
"paper", "written" → "write") and the words that share one of its most frequent
senses ("chairman" ~ "chair", "country" ~ "state"). Reading the Princeton files
directly keeps the dependency at zero: the index files are parsed once, and a
synset line is read from a data file by its byte offset when first needed.

The database is looked for in ``$WNHOME/dict``, ``$WNSEARCHDIR`` and
``/usr/share/wordnet`` (Debian's ``wordnet-base``). Without it every lookup
answers as if the word were unknown, so matching still runs (with fewer
synonyms); :func:`wordnet` tells which case you are in via ``available``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

POS = ("noun", "verb", "adj", "adv")

# Morphy's suffix rules (WordNet's morphological processor), per part of speech.
_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "noun": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")),
    "verb": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
             ("ing", "")),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}


def _default_root() -> Path | None:
    for env in ("WNSEARCHDIR",):
        if os.environ.get(env):
            return Path(os.environ[env])
    if os.environ.get("WNHOME"):
        return Path(os.environ["WNHOME"]) / "dict"
    p = Path("/usr/share/wordnet")
    return p if (p / "index.noun").exists() else None


class WordNet:
    """Lemmas and synonyms from a WordNet database directory (``index.noun``, ``data.noun``…)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self.available = self.root is not None and (self.root / "index.noun").exists()
        # lemma -> pos -> synset offsets, most frequent sense first
        self._index: dict[str, dict[str, tuple[int, ...]]] = {}
        self._exceptions: dict[str, dict[str, tuple[str, ...]]] = {p: {} for p in POS}
        self._synset_cache: dict[tuple[str, int], tuple[str, ...]] = {}
        if self.available:
            self._read_index()

    def _read_index(self) -> None:
        assert self.root is not None
        for pos in POS:
            path = self.root / f"index.{pos}"
            if not path.exists():
                continue
            with path.open(encoding="latin-1") as f:
                for line in f:
                    if line.startswith(" "):
                        continue  # licence header
                    parts = line.split()
                    if len(parts) < 6:
                        continue
                    lemma = parts[0]
                    n_synsets, n_ptrs = int(parts[2]), int(parts[3])
                    offsets = tuple(int(o) for o in parts[6 + n_ptrs: 6 + n_ptrs + n_synsets])
                    self._index.setdefault(lemma, {})[pos] = offsets
            exc = self.root / f"{pos}.exc"
            if exc.exists():
                with exc.open(encoding="latin-1") as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) >= 2:
                            self._exceptions[pos][parts[0]] = tuple(parts[1:])

    # -- lookups ---------------------------------------------------------------------------

    def is_word(self, word: str) -> bool:
        """Whether ``word`` (or one of its inflections' base forms) is in the dictionary."""
        return bool(self.base_forms(word))

    def base_forms(self, word: str, pos: str | None = None) -> tuple[str, ...]:
        """Dictionary forms of ``word`` (morphy): itself if listed, exceptions, then suffix rules.

        Nouns come first, then verbs, adjectives, adverbs.
        """
        w = word.lower().replace(" ", "_")
        found: list[str] = []
        for p in (pos,) if pos else POS:
            if w in self._index and p in self._index[w]:
                found.append(w)
            for base in self._exceptions[p].get(w, ()):
                if base in self._index and p in self._index[base]:
                    found.append(base)
            for suffix, repl in _RULES[p]:
                if w.endswith(suffix) and len(w) > len(suffix) + 1:
                    base = w[: len(w) - len(suffix)] + repl
                    if base in self._index and p in self._index[base]:
                        found.append(base)
        return tuple(dict.fromkeys(found))

    def lemma(self, word: str) -> str:
        """The dictionary form of ``word`` as a name part: plural nouns to singular, verb forms to
        the infinitive, nouns kept as they are; ``word`` itself when unknown.

        Order: a noun base ("papers" → "paper"), the word as a noun ("building"), a verb base
        ("written" → "write", "reviewes" → "review"), the word in any part of speech, an
        adjective base; for words WordNet lacks, a stripped "-ed"/"-ing"/"-s" that is a word
        ("presentationed" → "presentation").
        """
        w = word.lower()
        if not self.available:
            return w

        def others(pos: str) -> list[str]:
            return [f for f in self.base_forms(w, pos) if f != w]

        def is_pos(pos: str) -> bool:
            return pos in self._index.get(w, {})

        for forms in (others("noun"), [w] if is_pos("noun") else [], others("verb"),
                      [w] if w in self._index else [], others("adj")):
            if forms:
                return min(forms, key=lambda f: (len(f), f))
        for suffix in ("ed", "ing", "es", "s"):
            if w.endswith(suffix) and len(w) > len(suffix) + 2:
                base = w[: -len(suffix)]
                if self.base_forms(base):
                    return self.lemma(base)
        return w

    def synsets(self, word: str, pos: str, max_senses: int | None = None) -> list[tuple[str, ...]]:
        """The synsets (as word tuples) of the dictionary form ``word``, most frequent sense first."""
        offsets = self._index.get(word.lower().replace(" ", "_"), {}).get(pos, ())
        if max_senses is not None:
            offsets = offsets[:max_senses]
        return [self._synset(pos, o) for o in offsets]

    def synonyms(self, word: str, max_senses: int = 2) -> frozenset[str]:
        """Words sharing one of the ``max_senses`` most frequent senses of ``word`` (any part of speech).

        Multi-word entries come back with spaces ("subject area"); the word itself is excluded.
        """
        return _synonyms_cached(self, word.lower(), max_senses)

    def _synset(self, pos: str, offset: int) -> tuple[str, ...]:
        key = (pos, offset)
        hit = self._synset_cache.get(key)
        if hit is not None:
            return hit
        assert self.root is not None
        with (self.root / f"data.{pos}").open("rb") as f:
            f.seek(offset)
            line = f.readline().decode("latin-1")
        parts = line.split()
        n_words = int(parts[3], 16)
        words = []
        for i in range(n_words):
            w = parts[4 + 2 * i]
            if pos == "adj" and "(" in w:
                w = w[: w.index("(")]  # adjective markers like "(a)"
            words.append(w.lower().replace("_", " "))
        out = tuple(dict.fromkeys(words))
        self._synset_cache[key] = out
        return out


@lru_cache(maxsize=65536)
def _synonyms_cached(wn: WordNet, word: str, max_senses: int) -> frozenset[str]:
    if not wn.available:
        return frozenset()
    out: set[str] = set()
    for base in wn.base_forms(word) or (word,):
        for pos in POS:
            for syn in wn.synsets(base, pos, max_senses):
                out.update(syn)
    out.discard(word)
    out.discard(word.replace("_", " "))
    return frozenset(out)


@lru_cache(maxsize=4)
def wordnet(root: str | None = None) -> WordNet:
    """The shared :class:`WordNet` for ``root`` (default: found on this machine), read once."""
    return WordNet(root if root is not None else _default_root())
