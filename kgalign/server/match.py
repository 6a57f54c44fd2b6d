"""The OAEI matcher web interface as MELT's web packaging defines it: ``POST /match``.

Two ways to call it (MELT ``receiver-http/swagger.yaml``, ``MatcherHTTPCall``):

- ``multipart/form-data`` with ``source`` and ``target`` files (and optionally
  ``inputAlignment`` and ``parameters`` files): the answer is the alignment itself, in
  the Alignment API RDF/XML format (``application/xml``, or ``application/rdf+xml``
  when asked for).
- ``application/x-www-form-urlencoded`` with ``source`` and ``target`` URLs (and
  optionally ``inputAlignment`` and ``parameters`` URLs): the answer is, as MELT's
  client expects, a ``file:`` URL of the alignment written on the server's disk
  (``text/plain``) — or the alignment itself when the client's ``Accept`` asks for XML.
  ``file:`` URLs must lie inside ``--file-root``; ``http(s):`` needs ``--allow-remote-urls``.

Both ontologies are loaded into a fresh temporary workspace (an in-memory store), embedded
when the neural layer is installed and the ontologies are small enough, and matched with
:class:`kgalign.align.matcher.Matcher`. ``parameters`` (JSON, or YAML) may carry MELT's
keys (``http://oaei.ontologymatching.org/matchingClasses``, ``.../format``, ...) and any
field of :class:`~kgalign.align.matcher.MatcherConfig` by name.
"""

from __future__ import annotations

import inspect
import json
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from kgalign.errors import ConfigError, UsageError
from kgalign.server import integrations
from kgalign.server.config import ServerConfig
from kgalign.server.errors import NotAvailable, UnsupportedMediaType
from kgalign.server.http import media_type, negotiate
from kgalign.server.openapi import content, operation
from kgalign.server.sources import Fetched

OAEI = "http://oaei.ontologymatching.org/"
_PROPERTY_KEYS = ("matchingDataProperties", "matchingObjectProperties", "matchingRDFProperties")
_FORMAT_HINTS = {
    "rdfxml": "rdfxml", "rdf/xml": "rdfxml", "rdf": "rdfxml", "xml": "rdfxml", "owl": "rdfxml",
    "ttl": "turtle", "turtle": "turtle", "n3": "n3", "nt": "ntriples", "ntriple": "ntriples",
    "ntriples": "ntriples", "n-triples": "ntriples", "nquad": "nquads", "nquads": "nquads", "n-quads": "nquads",
    "jsonld": "jsonld", "json-ld": "jsonld", "trig": "trig",
}
KEEP_RESULT_FILES = 200


@dataclass
class MatchOptions:
    """What the ``parameters`` file asks for, translated."""

    changes: dict[str, Any] = field(default_factory=dict)  # MatcherConfig fields
    switches: dict[str, Any] = field(default_factory=dict)  # the CLI's switches (no_repair, dense...)
    load_format: str | None = None
    ignored: list[str] = field(default_factory=list)


#: the CLI's on/off options, accepted as parameters too: name -> (MatcherConfig field, value when true)
_SWITCHES: dict[str, tuple[str, Any]] = {
    "no_repair": ("repair", False),
    "no_neural": ("scorers", "-neural"),
    "dense": ("scorers", "+dense"),
    "include_imported": ("exclude_imported", False),
}


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def read_parameters(data: bytes) -> dict[str, Any]:
    """MELT parameters: a JSON object (preferred) or YAML mapping."""
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as je:
        try:
            import yaml
        except ImportError:  # pragma: no cover - PyYAML ships with transformers
            raise UsageError(f"parameters: invalid JSON at line {je.lineno}, column {je.colno}: {je.msg}") from None
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as ye:
            mark = getattr(ye, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise UsageError(f"parameters are neither JSON nor YAML{where}") from None
    if not isinstance(parsed, dict):
        raise UsageError("parameters must be a JSON object (or YAML mapping) of keys to values")
    return parsed


def translate_parameters(params: dict[str, Any], config_fields: set[str]) -> MatchOptions:
    opts = MatchOptions()
    categories = ["class", "property"]
    prop_flags = []
    for key, value in params.items():
        short = key[len(OAEI):] if key.startswith(OAEI) else key
        if short == "matchingClasses":
            if not _truthy(value):
                categories.remove("class")
        elif short in _PROPERTY_KEYS:
            prop_flags.append(_truthy(value))
        elif short == "format":
            hint = str(value).strip().lower()
            if hint not in _FORMAT_HINTS:
                raise UsageError(f"unknown format hint {value!r}; known: {', '.join(sorted(_FORMAT_HINTS))}")
            opts.load_format = _FORMAT_HINTS[hint]
        elif short in _SWITCHES and _SWITCHES[short][0] in config_fields:
            name, on = _SWITCHES[short]
            if _truthy(value):
                opts.switches[name] = on
        elif short in config_fields:
            opts.changes[short] = tuple(value) if isinstance(value, list) else value
        else:
            opts.ignored.append(key)
    if prop_flags and not any(prop_flags):
        categories.remove("property")
    if categories != ["class", "property"]:
        opts.changes.setdefault("categories", tuple(categories))
    return opts


def _sae_available(ws) -> bool:
    from kgalign.index.build import default_sae_dir

    d = Path(ws.config.sae) if ws.config.sae else default_sae_dir()
    return (d / "cfg.json").is_file()


def use_neural(ws, cfg: ServerConfig) -> bool:
    if cfg.match_neural == "never":
        return False
    ready = integrations.neural_scorer_installed() and _sae_available(ws)
    if cfg.match_neural == "always":
        if not ready:
            raise NotAvailable("neural matching", "kgalign.align.neural and an SAE")
        return True
    return ready and len(ws.symbols()) <= cfg.match_embed_max_symbols


@dataclass
class MatchResult:
    rdf: str
    n_mappings: int
    neural: bool
    ignored: list[str]
    input_alignment: str  # "none", "used", or "read, not used by this matcher"


def run_match(tmp: Path, source: Fetched, target: Fetched, input_alignment: Fetched | None,
              parameters: Fetched | None, cfg: ServerConfig) -> MatchResult:
    """Load both sides into a fresh workspace, (maybe) embed, match, and write the alignment."""
    from kgalign.api import Workspace, WorkspaceConfig
    from kgalign.symbolic.store import OxigraphStore

    matcher_cls = integrations.matcher_class()
    config_cls = integrations.matcher_config_class()
    write = integrations.alignment_writer("alignment")
    fields = set(config_cls.__dataclass_fields__) if config_cls is not None else set()
    opts = translate_parameters(read_parameters(parameters.path.read_bytes()) if parameters else {}, fields)

    root = tmp / "workspace"
    root.mkdir()
    ws = Workspace(root, OxigraphStore(None), WorkspaceConfig(), read_only=False)
    ws.load(source.path, name="source", format=opts.load_format)
    ws.load(target.path, name="target", format=opts.load_format)

    if opts.switches.get("scorers") == "-neural":
        cfg = replace(cfg, match_neural="never")
    neural = use_neural(ws, cfg)
    if neural:
        ws.embed(quiet=True)
    for name, value in opts.switches.items():
        if name == "scorers":
            if value == "+dense":
                base_scorers = opts.changes.get("scorers", config_cls().scorers if config_cls else ())
                opts.changes["scorers"] = tuple(dict.fromkeys((*base_scorers, "dense")))
        else:
            opts.changes[name] = value
    try:
        mcfg = config_cls().with_(**opts.changes) if (config_cls is not None and opts.changes) else None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"parameters: {e}") from None

    ia_state = "none"
    given = None
    if input_alignment is not None:
        given = integrations.alignment_reader()(input_alignment.path, source_graph="source", target_graph="target")
        if "input_alignment" in inspect.signature(matcher_cls.match).parameters:
            ia_state = "used"
        else:
            ia_state, given = "read, not used by this matcher", None
    # The workspace's policy decides the evidence (neural whenever embedded), as everywhere else.
    alignment = ws.match("source", "target", mcfg, input_alignment=given)
    neural = "neural" in alignment.metadata.get("scorers", ())
    return MatchResult(write(alignment), len(alignment), neural, opts.ignored, ia_state)


def header_value(text: str, limit: int = 500) -> str:
    """Client-given text made safe for a response header: printable ASCII only, bounded.

    >>> header_value("a\\r\\nSet-Cookie: x, clé")
    'a  Set-Cookie: x, cl?'
    """
    return "".join(c if " " <= c <= "~" else ("?" if ord(c) > 127 else " ") for c in text)[:limit]


def _write_result(cfg_dir: Path, rdf: str) -> Path:
    cfg_dir.mkdir(parents=True, exist_ok=True)
    out = cfg_dir / f"alignment-{uuid.uuid4().hex}.rdf"
    out.write_text(rdf, encoding="utf-8")
    old = sorted(cfg_dir.glob("alignment-*.rdf"), key=lambda p: p.stat().st_mtime)
    for p in old[:-KEEP_RESULT_FILES]:
        p.unlink(missing_ok=True)
    return out


_FIELDS = {
    "source": "the source ontology/knowledge graph (RDF/XML, Turtle, N3, ...)",
    "target": "the target ontology/knowledge graph",
    "inputAlignment": "optional: an alignment in the Alignment API format",
    "parameters": "optional: parameters as JSON (preferred) or YAML; MELT keys and MatcherConfig fields",
}


@operation(
    "POST", "Match two ontologies (OAEI / MELT web interface)",
    description=(
        "MELT's HTTP matching interface. multipart/form-data: files in, the alignment (Alignment API RDF/XML) out. "
        "application/x-www-form-urlencoded: URLs in (file: inside --file-root; http(s) only with "
        "--allow-remote-urls), a file: URL of the written alignment out (text/plain), or the alignment itself "
        "when Accept asks for application/xml or application/rdf+xml."
    ),
    request_body={"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["source", "target"], "properties": {
            k: {"type": "string", "format": "binary", "description": v} for k, v in _FIELDS.items()}}},
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["source", "target"],
                                                         "properties": {k: {"type": "string", "description": v}
                                                                        for k, v in _FIELDS.items()}}},
    }},
    responses={"200": {"description": "the alignment, or the file: URL of the alignment",
                       "content": content("application/xml", "application/rdf+xml", "text/plain")}},
    errors=(400, 403, 404, 413, 415, 501), tags=["match"],
)
async def match_endpoint(request: Request) -> Response:
    from kgalign.server.resources import receive_file

    state = request.app.state
    cfg: ServerConfig = state.config
    integrations.matcher_class()  # 501 before reading the upload when there is no matcher
    mt = media_type(request)
    if mt not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType(mt, ["multipart/form-data", "application/x-www-form-urlencoded"])
    url_mode = mt == "application/x-www-form-urlencoded"
    async with request.form(max_files=4, max_fields=8, max_part_size=cfg.max_body) as form:
        with tempfile.TemporaryDirectory(prefix="kgalign-match-") as tmp_name:
            tmp = Path(tmp_name)
            got: dict[str, Fetched | None] = {}
            for name in ("source", "target", "inputAlignment", "parameters"):
                d = tmp / name
                d.mkdir()
                got[name] = await receive_file(request, form, name, d,
                                               inline_ok=not url_mode or name == "parameters")
            for name in ("source", "target"):
                if got[name] is None:
                    raise UsageError(f"No {name} is provided: send '{name}' as a file (multipart) or a URL (form)")
            result: MatchResult = await state.runner.run(
                run_match, tmp, got["source"], got["target"], got["inputAlignment"], got["parameters"], cfg,
                timeout=cfg.match_timeout, what="the match",
            )
    headers = {
        "X-Kgalign-Mappings": str(result.n_mappings),
        "X-Kgalign-Neural": "yes" if result.neural else "no",
        "X-Kgalign-Input-Alignment": result.input_alignment,
    }
    if result.ignored:
        headers["X-Kgalign-Ignored-Parameters"] = header_value(", ".join(result.ignored))
    body = result.rdf.encode("utf-8")
    if url_mode:
        want = negotiate(request.headers.get("accept"), ["text/plain", "application/xml", "application/rdf+xml"])
        if want in (None, "text/plain"):
            path = _write_result(state.results_dir, result.rdf)
            return PlainTextResponse(path.as_uri(), headers=headers)
        return Response(body, media_type=want, headers=headers)
    want = negotiate(request.headers.get("accept"), ["application/xml", "application/rdf+xml", "text/xml", "text/plain"])
    return Response(body, media_type=want or "application/xml", headers=headers)
