"""The ``glassnet`` command: one module per subcommand, each with ``configure`` and ``run``.

A subcommand module defines ``HELP`` (one line), ``configure(parser)`` adding its arguments
and ``run(args) -> int`` (the exit status).  Heavy imports happen inside ``run``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .._validation import GlassnetError, echo
from .._version import __version__

#: subcommand name -> module under glassnet.cli
COMMANDS = {
    "demo": "demo",
    "study": "study",
    "train": "train",
    "predict": "predict",
    "info": "info",
    "doctor": "doctor",
    "export": "export",
    "playground": "playground",
}


#: the longest error message the command prints: the safety net behind ``echo``, which
#: shortens each value a message repeats (``study --depth 100000`` once printed 800 KB)
MAX_MESSAGE_CHARS = 2000


class _Parser(argparse.ArgumentParser):
    """argparse, with the invalid value it repeats in its error shortened."""

    def error(self, message):
        super().error(echo(message, MAX_MESSAGE_CHARS, as_text=True))


def column_names(text: str) -> list[str]:
    """The argparse type of ``--features A,B`` and the like: comma-separated column names."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def add_max_bytes_option(p: argparse.ArgumentParser) -> None:
    """``--max-model-bytes``: the commands that read a model file share it."""
    p.add_argument("--max-model-bytes", default=None, metavar="SIZE",
                   help="refuse a model whose weights take more than SIZE bytes (default 4G, "
                        "or $GLASSNET_MAX_MODEL_BYTES); e.g. 16G for a bigger model")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="glassnet",
        description="Train small neural networks and find out why they do or don't learn.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module_name}":
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except GlassnetError as exc:
        print(f"glassnet {args.command}: error: {echo(exc, MAX_MESSAGE_CHARS, as_text=True)}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"glassnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
