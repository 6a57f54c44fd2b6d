"""The package's layers depend one way: a test over the source (ast over kgalign/**.py), no imports run.

(store, symbolic) < neural < index < align < query < report < interfaces (api, cli, commands, server, output, rows).
Modules outside the layers (``kgalign.errors``, ``kgalign.__init__``) are the base every layer may use and
import no layer. Imports inside ``if TYPE_CHECKING:`` count: a lower layer is typed against the narrow
contexts (:mod:`kgalign.symbolic.context`, :mod:`kgalign.index.context`, :mod:`kgalign.query.context`),
never the facade. The server does not import the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kgalign"
#: ``kgalign.store`` (the Store protocol, kgalign's RDF terms, the backends) is part of the symbolic layer.
LAYERS = ("symbolic", "neural", "index", "align", "query", "report", "interfaces")
#: ``rows`` holds the typed rows the Python API returns.
INTERFACES = {"api", "cli", "commands", "server", "output", "rows", "__main__"}
#: ``faults`` (kill points for the fault tests), ``limits`` (input bounds) and ``files`` (content hashes)
#: serve every layer.
BASE = {"errors", "faults", "limits", "files"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str | None:
    """The layer of a kgalign module; None for the base (``kgalign``, ``kgalign.errors``)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return None
    if parts[1] in INTERFACES:
        return "interfaces"
    if not (PACKAGE / parts[1]).is_dir() and not (PACKAGE / f"{parts[1]}.py").is_file():
        return None  # an attribute of the package itself (``from kgalign import __version__``)
    if parts[1] == "store":  # the Store protocol and its backends share the lowest layer with the symbolic one
        return "symbolic"
    assert parts[1] in LAYERS, f"{module}: a module outside every layer; put it in one (or in BASE)"
    return parts[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every kgalign module ``path`` imports (``from a import b`` gives a and a.b)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            out.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:  # pragma: no cover - the package uses none
            raise AssertionError(f"{path}:{node.lineno}: relative import; write kgalign.… in full")
    return [(n, m) for n, m in out if m == "kgalign" or m.startswith("kgalign.")]


#: Edges that break the layering: none. (The last debts — the grounded labels reading WordNet through the
#: align layer and the SAE hash through index.build — were paid off: the WordNet reader lives in
#: kgalign.symbolic.wordnet, the hash in kgalign.neural.paths.) Add nothing here; a new edge fails the test.
KNOWN: set[tuple[str, str]] = set()


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        # the package's own __init__ re-exports the public API lazily: it is an interface
        mine = "interfaces" if me == "kgalign" else layer(me)
        for line, other in imports(path):
            theirs = layer(other)
            if (me, other) in KNOWN:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{line}: {me} imports {other}"
            if mine is None:
                if theirs is not None:
                    found.append(f"{where} (the base imports no layer)")
            elif theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                found.append(f"{where} ({mine} < {theirs})")
            if me.startswith("kgalign.server") and other.split(".")[1:2] in (["cli"], ["commands"], ["output"]):
                found.append(f"{where} (the server does not import the CLI)")
    return found


def test_no_lower_layer_imports_a_higher_one() -> None:
    assert violations() == []


def test_the_walk_sees_imports() -> None:
    """The walk is not vacuous: it finds the imports the layering permits."""
    api = imports(PACKAGE / "api.py")
    assert any(m.startswith("kgalign.symbolic") for _, m in api)
    assert layer("kgalign.api") == "interfaces" and layer("kgalign.align.matcher") == "align"
    assert layer("kgalign.errors") is None
    # the rule would catch the old shape: a matcher typed against the facade
    assert LAYERS.index(layer("kgalign.api")) > LAYERS.index(layer("kgalign.align.matcher"))


def test_no_lower_signature_takes_the_workspace() -> None:
    """No module below the interfaces names the facade in a signature, even as a string annotation."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if layer(module_name(path)) in (None, "interfaces"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "kgalign.api":
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert offenders == []
