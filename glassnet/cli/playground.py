"""``glassnet playground``: a local page that trains a real glassnet network in front of you.

Starts a server on 127.0.0.1 (a free port unless ``--port``), prints the address with its
random token and opens the browser (unless ``--no-browser``).  Ctrl-C stops it.  Needs
the ``playground`` extra (Starlette and uvicorn), which ``cli`` pulls in.
"""
from __future__ import annotations

import argparse

from .._validation import GlassnetError

HELP = "Open a live page that trains a glassnet network in front of you, the doctor reading along."


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0,
                   help="port on 127.0.0.1 to listen on (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address only")


def run(args) -> int:
    if not 0 <= args.port <= 65535:
        raise GlassnetError(f"--port must be from 1 to 65535 (or 0 for a free one); "
                            f"got {args.port}.")
    try:
        from ..playground.server import serve
    except ModuleNotFoundError as exc:
        raise GlassnetError(f"glassnet playground needs {exc.name!r}: "
                            "pip install 'glassnet[playground]'.") from None
    serve(port=args.port, open_browser=not args.no_browser, announce=_say)
    print("glassnet playground: stopped", flush=True)
    return 0


def _say(line: str) -> None:
    print(line, flush=True)
