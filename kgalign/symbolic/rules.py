"""Rule bases: SWRL (its RDF encoding, in any RDF syntax) and N3 rules, as first-class artefacts.

Every rule becomes a symbol of kind ``rule``. At load time each ``swrl:Imp`` gets

- an IRI (a blank-node rule is named ``urn:kgalign:rule:<hash of its atoms>``, stable across loads);
- ``a kga:Rule`` and ``kga:ruleText`` (the rule in SWRL's human-readable syntax);
- ``kga:usesSymbol`` to every class and property its atoms use, and ``kga:bodySymbol`` /
  ``kga:headSymbol`` for the side they are used on.

Variables (``swrl:Variable``) are not symbols and are never embedded. An N3 file's rules
(``{ body } => { head }``, parsed with rdflib, since pyoxigraph reads no N3 formulas) are
rewritten into the same SWRL encoding, so both kinds are queried and reported alike.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kgalign.errors import LoadError
from kgalign.symbolic.store import escape_iri
from kgalign.symbolic.vocab import KGA, RDF, graph_iri, local_name

if TYPE_CHECKING:
    from kgalign.symbolic.context import SymbolContext as Workspace
    from kgalign.symbolic.store import OxigraphStore

SWRL = "http://www.w3.org/2003/11/swrl#"
SWRLB = "http://www.w3.org/2003/11/swrlb#"
LOG_IMPLIES = "http://www.w3.org/2000/10/swap/log#implies"
RULE_PREFIX = "urn:kgalign:rule:"
VAR_PREFIX = "urn:kgalign:var:"

_T = ox.NamedNode(RDF + "type")
_FIRST, _REST, _NIL = (ox.NamedNode(RDF + x) for x in ("first", "rest", "nil"))


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


# -- reading the SWRL encoding ------------------------------------------------------------------


class _Graph:
    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.triples = list(triples)
        self.out: dict[Any, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for t in self.triples:
            self.out[t.subject][t.predicate.value].append(t.object)

    def one(self, node: Any, pred: str) -> Any:
        vals = self.out.get(node, {}).get(pred, [])
        return vals[0] if vals else None

    def items(self, head: Any) -> list[Any]:
        out, seen = [], set()
        while head is not None and head != _NIL and head not in seen:
            seen.add(head)
            first = self.one(head, RDF + "first")
            if first is not None:
                out.append(first)
            head = self.one(head, RDF + "rest")
        return out


def _arg(g: _Graph, node: Any) -> str:
    if node is None:
        return "?"
    if SWRL + "Variable" in [t.value for t in g.out.get(node, {}).get(RDF + "type", []) if isinstance(t, ox.NamedNode)]:
        return "?" + local_name(node.value).removeprefix("var:")
    if isinstance(node, ox.Literal):
        return f'"{node.value}"'
    if isinstance(node, ox.NamedNode):
        return local_name(node.value)
    return "_"


def _atom(g: _Graph, atom: Any) -> tuple[str, list[str]]:
    """(readable atom, IRIs of the classes/properties it uses)."""
    pred = (g.one(atom, SWRL + "classPredicate") or g.one(atom, SWRL + "propertyPredicate")
            or g.one(atom, SWRL + "dataRange"))
    builtin = g.one(atom, SWRL + "builtin")
    args = [g.one(atom, SWRL + "argument1"), g.one(atom, SWRL + "argument2")]
    listed = g.one(atom, SWRL + "arguments")
    if listed is not None:
        args = g.items(listed)
    args = [a for a in args if a is not None]
    text_args = ", ".join(_arg(g, a) for a in args)
    types = {t.value for t in g.out.get(atom, {}).get(RDF + "type", []) if isinstance(t, ox.NamedNode)}
    if builtin is not None:
        return f"{local_name(builtin.value)}({text_args})", []
    if SWRL + "SameIndividualAtom" in types:
        return f"sameAs({text_args})", []
    if SWRL + "DifferentIndividualsAtom" in types:
        return f"differentFrom({text_args})", []
    if isinstance(pred, ox.NamedNode):
        return f"{local_name(pred.value)}({text_args})", [pred.value]
    return f"atom({text_args})", []


def describe_rule(g: _Graph, imp: Any) -> tuple[str, list[str], list[str]]:
    """(SWRL text, body symbols, head symbols) of one ``swrl:Imp``."""
    sides = []
    for pred in (SWRL + "body", SWRL + "head"):
        atoms = [_atom(g, a) for a in g.items(g.one(imp, pred))]
        sides.append(([t for t, _ in atoms], [i for _, iris in atoms for i in iris]))
    (body_t, body_s), (head_t, head_s) = sides
    text = f"{' ^ '.join(body_t) or 'true'} -> {' ^ '.join(head_t) or 'false'}"
    return text, list(dict.fromkeys(body_s)), list(dict.fromkeys(head_s))


def annotate_rules(triples: Iterable[ox.Triple]) -> list[ox.Triple] | None:
    """The triples with every rule named and annotated (see the module docstring); None when no rule."""
    g = _Graph(triples)
    imps = [s for s, by_p in g.out.items()
            if any(isinstance(t, ox.NamedNode) and t.value == SWRL + "Imp" for t in by_p.get(RDF + "type", []))]
    if not imps:
        return None
    rename: dict[Any, ox.NamedNode] = {}
    extra: list[ox.Triple] = []
    for imp in imps:
        text, body, head = describe_rule(g, imp)
        if isinstance(imp, ox.NamedNode):
            node = imp
        else:
            digest = hashlib.sha256("\n".join([text, *body, "=>", *head]).encode()).hexdigest()[:16]
            node = _n(RULE_PREFIX + digest)
            rename[imp] = node
        extra += [ox.Triple(node, _T, _n(KGA + "Rule")), ox.Triple(node, _n(KGA + "ruleText"), ox.Literal(text))]
        for iri in dict.fromkeys(body + head):
            extra.append(ox.Triple(node, _n(KGA + "usesSymbol"), _n(iri)))
        extra += [ox.Triple(node, _n(KGA + "bodySymbol"), _n(i)) for i in body]
        extra += [ox.Triple(node, _n(KGA + "headSymbol"), _n(i)) for i in head]
    out = [ox.Triple(rename.get(t.subject, t.subject), t.predicate, rename.get(t.object, t.object))
           for t in g.triples]
    return out + extra


def _ntriples(triples: Iterable[ox.Triple]) -> bytes:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


def with_rules(path: Path, rdf_format: ox.RdfFormat, base_iri: str | None) -> bytes | None:
    """N-Triples of an RDF file that holds SWRL rules, with the rules annotated; None when it holds none
    (then the file loads as it is)."""
    data = path.read_bytes()
    if SWRL.encode() not in data:
        return None
    try:
        triples = [q.triple for q in ox.parse(data, format=rdf_format, base_iri=base_iri)]
    except SyntaxError:
        return None  # the ordinary load reports the syntax error with its position
    annotated = annotate_rules(triples)
    return None if annotated is None else _ntriples(annotated)


# -- N3 rules ------------------------------------------------------------------------------------


def n3_to_ntriples(data: bytes, path: str) -> bytes:
    """An N3 file as N-Triples: plain triples as they are, each ``{ body } => { head }`` as a
    ``swrl:Imp`` (annotated as SWRL rules are). Formulas elsewhere are refused by name."""
    import rdflib
    from rdflib.graph import QuotedGraph

    g = rdflib.Graph()
    try:
        g.parse(data=data.decode("utf-8"), format="n3", publicID=Path(path).resolve().as_uri())
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8 text: {e.reason}", path=path) from None
    except Exception as e:  # rdflib's BadSyntax and friends
        lines = getattr(e, "lines", None)
        msg = str(getattr(e, "message", "") or e).strip().splitlines()[0][:200]
        raise LoadError(f"N3 syntax error: {msg}", path=path,
                        line=(lines + 1) if isinstance(lines, int) else None) from None
    out: list[ox.Triple] = []
    counter = [0]

    def term(t: Any, variables: bool = False) -> Any:
        if isinstance(t, rdflib.Variable):
            v = _n(VAR_PREFIX + str(t))
            out.append(ox.Triple(v, _T, _n(SWRL + "Variable")))
            return v
        if isinstance(t, rdflib.URIRef):
            return _n(str(t))
        if isinstance(t, rdflib.BNode):
            return ox.BlankNode(f"n3b{t}")
        if isinstance(t, rdflib.Literal):
            if t.language:
                return ox.Literal(str(t), language=t.language)
            return ox.Literal(str(t), datatype=_n(str(t.datatype)) if t.datatype else None)
        raise LoadError(f"an N3 formula is only supported as the body or head of a rule ({t!r})", path=path)

    def blank() -> ox.BlankNode:
        counter[0] += 1
        return ox.BlankNode(f"n3r{counter[0]}")

    def atom_list(formula: Any) -> Any:
        head: Any = _NIL
        atoms = []
        for s, p, o in sorted(formula, key=lambda t: (str(t[1]), str(t[0]), str(t[2]))):
            a = blank()
            if str(p) == RDF + "type" and isinstance(o, rdflib.URIRef):
                out.extend([ox.Triple(a, _T, _n(SWRL + "ClassAtom")), ox.Triple(a, _n(SWRL + "classPredicate"), term(o)),
                            ox.Triple(a, _n(SWRL + "argument1"), term(s))])
            elif str(p).startswith(("http://www.w3.org/2000/10/swap/", SWRLB)):
                args = blank()
                out.extend([ox.Triple(a, _T, _n(SWRL + "BuiltinAtom")), ox.Triple(a, _n(SWRL + "builtin"), term(p)),
                            ox.Triple(a, _n(SWRL + "arguments"), args)])
                out.extend([ox.Triple(args, _FIRST, term(s)), ox.Triple(args, _REST, (rest := blank())),
                            ox.Triple(rest, _FIRST, term(o)), ox.Triple(rest, _REST, _NIL)])
            else:
                kind = "DatavaluedPropertyAtom" if isinstance(o, rdflib.Literal) else "IndividualPropertyAtom"
                out.extend([ox.Triple(a, _T, _n(SWRL + kind)), ox.Triple(a, _n(SWRL + "propertyPredicate"), term(p)),
                            ox.Triple(a, _n(SWRL + "argument1"), term(s)), ox.Triple(a, _n(SWRL + "argument2"), term(o))])
            atoms.append(a)
        for a in reversed(atoms):
            cell = blank()
            out.extend([ox.Triple(cell, _T, _n(SWRL + "AtomList")), ox.Triple(cell, _FIRST, a),
                        ox.Triple(cell, _REST, head)])
            head = cell
        return head

    for s, p, o in sorted(g.triples((None, None, None)), key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        if str(p) == LOG_IMPLIES and isinstance(s, QuotedGraph) and isinstance(o, QuotedGraph):
            imp = blank()
            out.extend([ox.Triple(imp, _T, _n(SWRL + "Imp")), ox.Triple(imp, _n(SWRL + "body"), atom_list(s)),
                        ox.Triple(imp, _n(SWRL + "head"), atom_list(o))])
        elif isinstance(s, QuotedGraph) or isinstance(o, QuotedGraph):
            raise LoadError("an N3 formula is only supported as the body or head of a rule ({ ... } => { ... })",
                            path=path)
        else:
            out.append(ox.Triple(term(s), term(p), term(o)))
    annotated = annotate_rules(out)
    return _ntriples(annotated if annotated is not None else out)


# -- questions about rules ----------------------------------------------------------------------


def rules_using_pattern(iri: str) -> str:
    """The SPARQL pattern binding ``?symbol`` to the rules that use ``iri`` (for ``rules using S``)."""
    return f"?symbol <{KGA}usesSymbol> <{escape_iri(iri)}> "


def rule_label(store: OxigraphStore, graph: str, iri: str) -> str:
    """A rule's readable text (``kga:ruleText``), or its local name."""
    rows = store.query(
        f"SELECT ?t WHERE {{ GRAPH <{escape_iri(graph_iri(graph))}> {{ <{escape_iri(iri)}> <{KGA}ruleText> ?t }} }} LIMIT 1"
    )
    for r in rows:
        return r["t"].value
    return local_name(iri)


def rules_using(ws: Workspace, iris: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """symbol IRI -> the rules (graph, iri, text, side) that use it, for every IRI asked about."""
    wanted = list(dict.fromkeys(iris))
    out: dict[str, list[dict[str, str]]] = {i: [] for i in wanted}
    if not wanted:
        return out
    values = " ".join(f"<{escape_iri(i)}>" for i in wanted)
    rows = ws.store.query(
        f"""SELECT ?sym ?g ?rule ?text ?side WHERE {{ VALUES ?sym {{ {values} }}
            GRAPH ?g {{ ?rule <{KGA}usesSymbol> ?sym ; <{KGA}ruleText> ?text .
                        OPTIONAL {{ ?rule <{KGA}headSymbol> ?h FILTER(?h = ?sym) }}
                        BIND(IF(BOUND(?h), "head", "body") AS ?side) }} }}"""
    )
    seen = set()
    for r in rows:
        g = r["g"].value.removeprefix("urn:kgalign:graph:")
        key = (r["sym"].value, g, r["rule"].value)
        if key in seen:
            continue
        seen.add(key)
        out[r["sym"].value].append({"graph": g, "rule": r["rule"].value, "text": r["text"].value,
                                    "side": r["side"].value})
    return out


__all__ = ["annotate_rules", "n3_to_ntriples", "rule_label", "rules_using", "rules_using_pattern", "with_rules"]
