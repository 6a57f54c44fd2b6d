"""The alignment engine: find, justify and export mappings between two artefacts.

Stages (each a public function or class)::

    OntologyView (symbols + axioms)
      → scorers (lexical, structural, neural…) → Evidence per pair
      → combine → threshold → select_one_to_one → repair (+ optional HermiT)
      → Alignment of MappingCandidate → Alignment API RDF / SSSOM TSV / the store

The entry point is :class:`Matcher` with a :class:`MatcherConfig`.
"""

from __future__ import annotations

from kgalign.align.candidates import RELATIONS, Alignment, Evidence, MappingCandidate, Pair
from kgalign.align.formats import (
    export_to_store,
    read_alignment_rdf,
    read_from_store,
    read_sssom,
    write_alignment_rdf,
    write_sssom,
)
from kgalign.align.matcher import Matcher, MatcherConfig, match, match_all
from kgalign.align.ontology import OntologyView
from kgalign.align.scoring import SCORERS, MatchContext, Scorer, register_scorer
from kgalign.align.select import combine, repair, select_one_to_one

__all__ = [
    "RELATIONS",
    "SCORERS",
    "Alignment",
    "Evidence",
    "MappingCandidate",
    "MatchContext",
    "Matcher",
    "MatcherConfig",
    "OntologyView",
    "Pair",
    "Scorer",
    "combine",
    "export_to_store",
    "match",
    "match_all",
    "read_alignment_rdf",
    "read_from_store",
    "read_sssom",
    "register_scorer",
    "repair",
    "select_one_to_one",
    "write_alignment_rdf",
    "write_sssom",
]
