"""The ``kgalign`` command line: thin translations into :class:`kgalign.api.Workspace` calls.

Errors print one line (``kgalign: error: ...``) and exit with the error's code; never a
traceback. Each area of kgalign registers its own subcommands from ``kgalign.commands``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Sequence

from kgalign import __version__
from kgalign.errors import KgalignError, printable
from kgalign.output import exit_codes_epilog

#: Modules under kgalign.commands, each with ``register(subparsers)``; in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "symbolic",
    "neural",
    "report",
    "query",
    "align",
    "check",
    "server",
)

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kgalign",
        description="Align knowledge graphs in the concept coordinate system of a sparse autoencoder.",
        epilog=exit_codes_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kgalign {__version__}")
    parser.add_argument(
        "-w", "--workspace", default=None,
        help="workspace directory (default: $KGALIGN_WORKSPACE or ./.kgalign)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"kgalign.commands.{name}").register(sub)
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name, p in sub.choices.items():
        if not p.description and helps.get(name):  # `kgalign X --help` says what X does
            text = helps[name]
            p.description = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
    return parser


def _subcommand_typo(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """A "did you mean" line when the first word after the global options is no subcommand."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    takes_value = {"-w", "--workspace"}
    it = iter(argv)
    for tok in it:
        if tok in takes_value:
            next(it, None)
            continue
        if tok.startswith("-"):
            return None  # --help, --version, -w=DIR...: argparse's own business
        if tok in sub.choices:
            return None
        close = difflib.get_close_matches(tok, list(sub.choices), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"kgalign: error: unknown command {tok!r}{hint} (see 'kgalign --help')"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    typo = _subcommand_typo(parser, list(sys.argv[1:] if argv is None else argv))
    if typo:
        print(typo, file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
        return int(rc or 0)
    except KgalignError as e:
        print(f"kgalign: error: {printable(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kgalign: interrupted; the workspace is unchanged by the unfinished step", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
