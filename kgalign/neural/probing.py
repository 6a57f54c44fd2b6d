"""Probing contexts: short texts in which a symbol is in play, with the mention marked.

For each symbol: its label alone, each synonym alone, its definition led by its label,
sentences built from its relations (parents, children, domain and range), and a few
fixed paraphrase templates. Every context names the span of the mention, so the
activations read are those *at the mention*; the rest of the context shapes them.

The templates are fixed and ordered, so the same symbol always gets the same contexts
(reproducible vectors and stability).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kgalign.symbolic.symbols import Symbol, derive_label

#: Paraphrase templates; ``{m}`` is the mention. Neutral wording, so that what varies
#: between them is context, not meaning.
PARAPHRASES: tuple[str, ...] = (
    "{m}",
    "The {m}.",
    "This is about {m}.",
    "Here is an example of {m}.",
    "We now consider {m} in more detail.",
)

KINDS_OF_CONTEXT = ("label", "synonym", "definition", "relation", "paraphrase")


@dataclass(frozen=True)
class ProbeContext:
    """One text with the mention's character span; ``kind`` is one of :data:`KINDS_OF_CONTEXT`."""

    text: str
    start: int
    end: int
    kind: str
    #: Contexts of kind "paraphrase" and "label" are the ones support stability compares.
    paraphrase: bool = False

    @property
    def mention(self) -> str:
        return self.text[self.start : self.end]


def _ctx(template: str, mention: str, kind: str, paraphrase: bool = False, **fill: str) -> ProbeContext:
    head, _, tail = template.partition("{m}")
    head = head.format(**fill) if fill else head
    tail = tail.format(**fill) if fill else tail
    text = head + mention + tail
    return ProbeContext(text, len(head), len(head) + len(mention), kind, paraphrase)


def _clean(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def has_text(symbol: Symbol) -> bool:
    """Whether a symbol has any words to probe with (a label with a letter, or any definition)."""
    return any(re.search(r"[^\W\d_]", n) for n in symbol.names) or bool(symbol.definitions)


def probe_contexts(
    symbol: Symbol,
    label_of: Callable[[str], str | None] | None = None,
    *,
    max_synonyms: int = 4,
    max_relations: int = 4,
) -> list[ProbeContext]:
    """The contexts that place ``symbol``; ``label_of(iri)`` names its neighbours.

    >>> from kgalign.symbolic.symbols import Symbol
    >>> s = Symbol("http://x#DutyOfCare", "g", "class", "duty of care", definitions=("A legal obligation.",))
    >>> [c.kind for c in probe_contexts(s)]
    ['label', 'paraphrase', 'paraphrase', 'paraphrase', 'paraphrase', 'definition']
    >>> probe_contexts(s)[-1].mention
    'duty of care'
    """
    label = symbol.label.strip() or derive_label(symbol.local_name)
    out: list[ProbeContext] = []
    for i, template in enumerate(PARAPHRASES):
        out.append(_ctx(template, label, "label" if i == 0 else "paraphrase", paraphrase=True))
    for alt in symbol.alt_labels[:max_synonyms]:
        alt = _clean(alt, 80)
        if alt and alt.lower() != label.lower():
            out.append(_ctx("{m}", alt, "synonym"))
    for d in symbol.definitions[:2]:
        d = _clean(d)
        out.append(_ctx("{m}: " + d.replace("{", "(").replace("}", ")"), label, "definition"))
    if label_of is not None:
        rels: list[ProbeContext] = []
        for p in symbol.parents:
            pl = label_of(p)
            if pl:
                rels.append(_ctx("{m} is a kind of " + pl + ".", label, "relation"))
        for c in symbol.children:
            cl = label_of(c)
            if cl:
                rels.append(_ctx(cl + " is a kind of {m}.", label, "relation"))
        for d in symbol.domains:
            dl = label_of(d)
            for r in symbol.ranges or ("",):
                rl = label_of(r) if r else None
                tail = f" {rl}" if rl else " something"
                rels.append(_ctx(f"A {dl} {{m}}{tail}.", label, "relation"))
        for t in symbol.types:
            tl = label_of(t)
            if tl:
                rels.append(_ctx("{m} is a " + tl + ".", label, "relation"))
        out.extend(rels[:max_relations])
    return out


def paraphrase_contexts(label: str, templates: Sequence[str] = PARAPHRASES) -> list[ProbeContext]:
    """Only the paraphrase contexts of a label (what support stability compares)."""
    return [_ctx(t, label, "paraphrase", paraphrase=True) for t in templates]
