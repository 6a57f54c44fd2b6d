"""Symbol resolution: from what a person types to the symbols it means.

A name resolves, in this order, by

1. full IRI (``<...>``, or bare);
2. CURIE with the artefact's own prefixes (``:Local`` uses its default namespace), then
   the standard ones (``skos:Concept``); a prefix that is a graph name stands for that
   graph (``cmt:Paper`` is the symbol with local name ``Paper`` in graph ``cmt``);
3. local name, label or alternative label, insensitive to case, spaces, underscores,
   hyphens and camelCase (``Regular_author`` = ``regular author`` = ``RegularAuthor``).

Every stage can be restricted to one graph. Ambiguity returns every candidate; no match
raises :class:`UnknownNameError` with the closest names.

>>> from kgalign.symbolic.symbols import Symbol
>>> table = SymbolTable([Symbol("http://cmt#Regular_author", "cmt", "class", "regular author")])
>>> [s.iri for s in table.resolve("RegularAuthor")]
['http://cmt#Regular_author']
>>> table.resolve_one("regular autor")
Traceback (most recent call last):
...
kgalign.errors.UnknownNameError: unknown symbol 'regular autor'; did you mean 'regular author'?
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Iterator

from kgalign.errors import AmbiguousNameError, UnknownNameError
from kgalign.symbolic.symbols import Symbol, name_key, normalise
from kgalign.symbolic.vocab import STANDARD_PREFIXES


class SymbolTable:
    """Every symbol of the workspace in memory, indexed for resolution."""

    def __init__(self, symbols: Iterable[Symbol], prefixes: dict[str, dict[str, str]] | None = None) -> None:
        self.symbols: list[Symbol] = list(symbols)
        #: graph name -> prefix -> namespace, as each artefact declared them ('' = default namespace).
        self.prefixes = prefixes or {}
        self._by_iri: dict[str, list[Symbol]] = defaultdict(list)
        self._by_words: dict[str, list[Symbol]] = defaultdict(list)
        self._by_key: dict[str, list[Symbol]] = defaultdict(list)
        self._by_graph: dict[str, list[Symbol]] = defaultdict(list)
        for s in self.symbols:
            self._by_iri[s.iri].append(s)
            self._by_graph[s.graph].append(s)
            names = (s.local_name, *s.lookup_names)
            for w in dict.fromkeys(normalise(n) for n in names):
                if w:
                    self._by_words[w].append(s)
            for k in dict.fromkeys(name_key(n) for n in names):
                if k:
                    self._by_key[k].append(s)

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self.symbols)

    @property
    def graphs(self) -> list[str]:
        return sorted(set(self._by_graph) | set(self.prefixes))

    def in_graph(self, graph: str) -> list[Symbol]:
        return list(self._by_graph.get(graph, ()))

    def get(self, iri: str, graph: str | None = None) -> Symbol | None:
        """The symbol with this IRI (in ``graph`` if given; else the first graph declaring it)."""
        for s in self._by_iri.get(iri, ()):
            if graph is None or s.graph == graph:
                return s
        return None

    def expand_curie(self, curie: str, graph: str | None = None) -> list[str]:
        """Every IRI a CURIE may stand for under the artefacts' prefixes, then the standard ones.

        >>> SymbolTable([], {"cmt": {"": "http://cmt#"}}).expand_curie(":Paper")
        ['http://cmt#Paper']
        """
        prefix, _, local = curie.partition(":")
        out: list[str] = []
        tables = [self.prefixes.get(graph, {})] if graph else list(self.prefixes.values())
        for table in (*tables, STANDARD_PREFIXES):
            ns = table.get(prefix)
            if ns and ns + local not in out:
                out.append(ns + local)
        return out

    def _in(self, found: Iterable[Symbol], graph: str | None) -> list[Symbol]:
        return list(dict.fromkeys(s for s in found if graph is None or s.graph == graph))

    def _tiers(self, name: str, graph: str | None = None) -> list[list[Symbol]]:
        """The matches of ``name`` by decreasing strength; the first non-empty tier is the best."""
        text = name.strip()
        if text.startswith("<") and text.endswith(">"):
            return [self._in(self._by_iri.get(text[1:-1], ()), graph)]
        hits = self._in(self._by_iri.get(text, ()), graph)
        if hits:
            return [hits]
        if ":" in text and "://" not in text:
            if " " not in text:
                for iri in self.expand_curie(text, graph):
                    hits.extend(self._in(self._by_iri.get(iri, ()), graph))
                if hits:
                    return [list(dict.fromkeys(hits))]
            prefix, _, local = text.partition(":")
            if prefix in self._by_graph and local.strip() and graph in (None, prefix):
                by_graph = self._tiers(local, prefix)
                if any(by_graph):
                    return by_graph
        words = normalise(text)
        key = name_key(text)

        def rank(s: Symbol) -> tuple[int, str, str]:
            exact = 0 if text in (s.local_name, *s.lookup_names) else 1 if normalise(s.label) == words else 2
            return (exact, s.graph, s.iri)

        close = sorted(self._in(self._by_words.get(words, ()), graph), key=rank) if words else []
        loose = sorted((s for s in self._in(self._by_key.get(key, ()), graph) if s not in close), key=rank)
        return [close, loose]

    def resolve(self, name: str, graph: str | None = None) -> list[Symbol]:
        """Every symbol ``name`` may mean, best matches first; [] when none."""
        return [s for tier in self._tiers(name, graph) for s in tier]

    def resolve_one(self, name: str, graph: str | None = None) -> Symbol:
        """Exactly one symbol, else :class:`UnknownNameError` or :class:`AmbiguousNameError`.

        Only the strongest kind of match counts: ``Regular_author`` matching one symbol's local
        name is not made ambiguous by another symbol that matches only loosely.
        """
        if graph is not None and graph not in self.graphs:
            raise UnknownNameError.among("graph", graph, self.graphs)
        best = next((tier for tier in self._tiers(name, graph) if tier), [])
        if not best:
            raise UnknownNameError("symbol", name, self.suggest(name, graph))
        distinct = list(dict.fromkeys((s.iri, s.graph) for s in best))
        if len(distinct) > 1:
            raise AmbiguousNameError(name, distinct)
        return best[0]

    def suggest(self, name: str, graph: str | None = None, n: int = 5) -> list[str]:
        """The closest known names (labels or local names) to ``name``."""
        key = normalise(name) or name.strip().lower()
        pool: dict[str, str] = {}
        for s in self.symbols if graph is None else self._by_graph.get(graph, ()):
            for shown in (s.label, s.local_name):
                pool.setdefault(normalise(shown) or shown.lower(), shown)
        close = difflib.get_close_matches(key, list(pool), n=n, cutoff=0.6)
        return list(dict.fromkeys(pool[k] for k in close))
