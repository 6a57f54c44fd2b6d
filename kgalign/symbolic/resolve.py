"""Symbol resolution: from what a person types to the symbols it means.

A name resolves by full IRI (``<...>`` or bare), by CURIE with the artefact's own
prefixes (or the standard ones), or by local name / label / alternative label,
insensitive to case, spaces, underscores, hyphens and camelCase. Ambiguity returns
every candidate; no match raises :class:`UnknownNameError` with the closest names.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Iterator

from kgalign.errors import AmbiguousNameError, UnknownNameError
from kgalign.symbolic.symbols import Symbol, normalise
from kgalign.symbolic.vocab import STANDARD_PREFIXES


class SymbolTable:
    """Every symbol of the workspace in memory, indexed for resolution."""

    def __init__(self, symbols: Iterable[Symbol], prefixes: dict[str, dict[str, str]] | None = None) -> None:
        self.symbols: list[Symbol] = list(symbols)
        #: graph name -> prefix -> namespace, as each artefact declared them.
        self.prefixes = prefixes or {}
        self._by_iri: dict[str, list[Symbol]] = defaultdict(list)
        self._by_key: dict[str, list[Symbol]] = defaultdict(list)
        self._by_graph: dict[str, list[Symbol]] = defaultdict(list)
        for s in self.symbols:
            self._by_iri[s.iri].append(s)
            self._by_graph[s.graph].append(s)
            keys = {normalise(s.local_name), *(normalise(n) for n in s.names)}
            for k in keys:
                if k:
                    self._by_key[k].append(s)

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self.symbols)

    @property
    def graphs(self) -> list[str]:
        return sorted(self._by_graph)

    def in_graph(self, graph: str) -> list[Symbol]:
        return list(self._by_graph.get(graph, ()))

    def get(self, iri: str, graph: str | None = None) -> Symbol | None:
        """The symbol with this IRI (in ``graph`` if given; else the first graph declaring it)."""
        for s in self._by_iri.get(iri, ()):
            if graph is None or s.graph == graph:
                return s
        return None

    def expand_curie(self, curie: str, graph: str | None = None) -> list[str]:
        """Every IRI a CURIE may stand for under the artefacts' prefixes."""
        prefix, _, local = curie.partition(":")
        out: list[str] = []
        tables = [self.prefixes.get(graph, {})] if graph else list(self.prefixes.values())
        for table in (*tables, STANDARD_PREFIXES):
            ns = table.get(prefix)
            if ns and ns + local not in out:
                out.append(ns + local)
        return out

    def resolve(self, name: str, graph: str | None = None) -> list[Symbol]:
        """Every symbol ``name`` may mean, best matches first; [] when none."""
        text = name.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1]
            return [s for s in self._by_iri.get(text, ()) if graph is None or s.graph == graph]
        hits = [s for s in self._by_iri.get(text, ()) if graph is None or s.graph == graph]
        if hits:
            return hits
        if ":" in text and " " not in text and not text.startswith("http"):
            for iri in self.expand_curie(text, graph):
                hits.extend(s for s in self._by_iri.get(iri, ()) if graph is None or s.graph == graph)
            if hits:
                return hits
        key = normalise(text)
        found = [s for s in self._by_key.get(key, ()) if graph is None or s.graph == graph]

        def rank(s: Symbol) -> tuple[int, str, str]:
            exact = 0 if text in (s.local_name, s.label) else 1 if normalise(s.label) == key else 2
            return (exact, s.graph, s.iri)

        return sorted(dict.fromkeys(found), key=rank)

    def resolve_one(self, name: str, graph: str | None = None) -> Symbol:
        """Exactly one symbol, else :class:`UnknownNameError` or :class:`AmbiguousNameError`."""
        if graph is not None and graph not in self._by_graph:
            raise UnknownNameError.among("graph", graph, self.graphs)
        found = self.resolve(name, graph)
        if not found:
            raise UnknownNameError("symbol", name, self.suggest(name, graph))
        distinct = list(dict.fromkeys((s.iri, s.graph) for s in found))
        if len(distinct) > 1:
            raise AmbiguousNameError(name, distinct)
        return found[0]

    def suggest(self, name: str, graph: str | None = None, n: int = 5) -> list[str]:
        """The closest known names (labels or local names) to ``name``."""
        key = normalise(name) or name.lower()
        pool = {
            k: s for k, ss in self._by_key.items() for s in ss if graph is None or s.graph == graph
        }
        close = difflib.get_close_matches(key, list(pool), n=n, cutoff=0.6)
        return [pool[k].label if normalise(pool[k].label) == k else pool[k].local_name for k in close]
