"""A self-contained HTML report: headings, text, tables, figures, preformatted text.

Figures are embedded as base64 ``data:`` URIs, so ``index.html`` opens anywhere on its
own; :meth:`HtmlReport.figure` can also write each PNG next to it.  Everything user-given
is HTML-escaped.  The page is written atomically.

>>> r = HtmlReport("Example")
>>> r.paragraph("Three runs, one winner.")
>>> r.table(["run", "accuracy"], [["a", 0.9], ["b", 0.5]])
>>> "<table>" in r.render()
True
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from pathlib import Path
from typing import Any, Sequence
from ._version import __version__
from .io import atomic_write

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5em 2em 4em; color: #1d2430; line-height: 1.5; }
h1 { font-size: 1.9em; margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #dde2ea; padding-bottom: 0.2em; }
.subtitle { color: #5b6473; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.93em; }
th, td { border: 1px solid #dde2ea; padding: 0.35em 0.7em; text-align: left;
         vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fff4f2; }
tr.good td { background: #f3fbf4; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #e6e9ef; }
figcaption { color: #4a5361; font-size: 0.92em; margin-top: 0.3em; }
pre { background: #f6f8fa; padding: 0.8em 1em; overflow-x: auto; font-size: 0.85em;
      border-radius: 4px; }
details { margin: 0.4em 0; }
summary { cursor: pointer; font-weight: 600; }
.note { background: #f3f7ff; border-left: 4px solid #6d8fd8; padding: 0.6em 1em; }
footer { margin-top: 3em; color: #7a8391; font-size: 0.85em; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> tuple[str, bool]:
    """A table cell's text and whether it is a number (right-aligned)."""
    if isinstance(value, bool) or value is None:
        return _esc("" if value is None else value), False
    if isinstance(value, int):
        return _esc(value), True
    if isinstance(value, float):
        return _esc(f"{value:.4g}"), True
    return _esc(value), False


class HtmlReport:
    """Build a page piece by piece, then :meth:`write` it."""

    def __init__(self, title: str, subtitle: str | None = None):
        self.title = title
        self.parts: list[str] = [f"<h1>{_esc(title)}</h1>"]
        if subtitle:
            self.parts.append(f'<p class="subtitle">{_esc(subtitle)}</p>')
        self.images: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        level = min(max(int(level), 2), 4)
        anchor = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
        self.parts.append(f'<h{level} id="{_esc(anchor)}">{_esc(text)}</h{level}>')

    def paragraph(self, text: str, *, note: bool = False) -> None:
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{_esc(text)}</p>")

    def bullets(self, items: Sequence[str]) -> None:
        self.parts.append("<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              row_classes: Sequence[str | None] | None = None) -> None:
        """A table; ``row_classes`` may mark rows "good" or "bad" (green or red tint)."""
        head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
        body = []
        for i, row in enumerate(rows):
            cls = row_classes[i] if row_classes and i < len(row_classes) else None
            cells = []
            for value in row:
                text, numeric = _cell(value)
                cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
            attr = f' class="{_esc(cls)}"' if cls else ""
            body.append(f"<tr{attr}>{''.join(cells)}</tr>")
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
                          "</tbody></table>")

    def figure(self, png: bytes, caption: str = "", *, alt: str | None = None,
               file_name: str | None = None) -> None:
        """Embed PNG bytes; ``file_name`` is recorded as the figure's file next to the page."""
        data = base64.b64encode(png).decode("ascii")
        alt_text = _esc(alt or caption or "figure")
        link = (f' <a href="{_esc(file_name)}">({_esc(file_name)})</a>' if file_name else "")
        self.parts.append(f'<figure><img alt="{alt_text}" src="data:image/png;base64,{data}">'
                          f"<figcaption>{_esc(caption)}{link}</figcaption></figure>")
        if file_name:
            self.images.append(file_name)

    def pre(self, text: str) -> None:
        self.parts.append(f"<pre>{_esc(text)}</pre>")

    def details(self, summary: str, text: str) -> None:
        """A collapsed block of preformatted text (e.g. a full diagnosis)."""
        self.parts.append(f"<details><summary>{_esc(summary)}</summary><pre>{_esc(text)}</pre>"
                          "</details>")

    def render(self) -> str:
        stamp = _dt.datetime.now().isoformat(timespec="seconds")
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{_esc(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
                + "\n".join(self.parts)
                + f"\n<footer>Written by glassnet {_esc(__version__)} on {_esc(stamp)}."
                "</footer>\n</body>\n</html>\n")

    def write(self, path) -> Path:
        """Write the page atomically; returns its path."""
        path = Path(os.fspath(path))
        with atomic_write(path, "w") as f:
            f.write(self.render())
        return path
