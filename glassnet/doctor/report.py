"""The doctor's answer: a :class:`Report` of :class:`Finding` objects.

A finding names one cause: a ``code`` from a fixed vocabulary, a ``severity``, the
``layers`` it concerns (1-based: layer ``k`` is ``net.weights[k - 1]`` and the units it
feeds; the output layer is the last), a ``message`` saying the cause in plain words, a
``fix`` and the ``evidence`` (the numbers that triggered it).
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_choice

#: the fixed vocabulary of finding codes, in causal order: a report lists findings of the
#: same severity in this order, the data and the initialization before what they cause
CODES = ("divergence", "labels_as_targets", "unscaled_targets", "unscaled_inputs",
         "no_update", "symmetric_units", "dead_units", "saturated_units", "vanishing_signal",
         "exploding_signal", "learning_rate_too_high", "learning_rate_too_low",
         "initial_loss_off", "overfitting")
SEVERITIES = ("error", "warning", "info")


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays turned into plain Python; NaN and inf become
    None, so that ``json.dumps(..., allow_nan=False)`` works."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


@dataclass(frozen=True)
class Finding:
    """One diagnosed cause.

    ``brief`` is a short phrase for one-line summaries ("layers 1, 2 never move (all
    weights above are zero)").  A finding that another one causes has severity "info" and
    ``evidence["caused_by"]`` naming its cause; the cause's message mentions it.
    ``explains`` (not serialized) holds the layers this cause accounts for, so rules that
    run after it leave them alone.
    """

    code: str
    severity: str
    layers: tuple
    message: str
    fix: str
    evidence: dict = field(default_factory=dict)
    brief: str = ""
    explains: tuple = field(default=(), repr=False, compare=False)

    def __post_init__(self):
        check_choice("code", self.code, CODES, what="finding code")
        check_choice("severity", self.severity, SEVERITIES, what="finding severity")
        object.__setattr__(self, "layers", tuple(int(k) for k in self.layers))
        object.__setattr__(self, "explains", tuple(int(k) for k in self.explains))
        object.__setattr__(self, "evidence", jsonable(dict(self.evidence)))

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "layers": list(self.layers),
                "message": self.message, "fix": self.fix, "evidence": dict(self.evidence),
                "brief": self.brief}

    def headline(self) -> str:
        """``code: brief``, the finding in one line."""
        return f"{self.code}: {self.brief or self.message}"

    def __str__(self) -> str:
        where = f" ({layer_words(self.layers)})" if self.layers else ""
        return f"{self.severity.upper()} {self.code}{where}: {self.message}"


def layer_words(layers) -> str:
    """"layer 3" or "layers 1, 2"."""
    layers = list(layers)
    if not layers:
        return "no layer"
    return ("layer " if len(layers) == 1 else "layers ") + ", ".join(str(k) for k in layers)


def _sort_key(finding: Finding):
    return (SEVERITIES.index(finding.severity), CODES.index(finding.code),
            finding.layers[:1] or (0,))


class Report:
    """What the doctor found: ``.findings``, ``.ok``, ``.summary()``, ``.to_dict()``.

    ``str(report)`` is a readable plain-text form; ``rich.print(report)`` (or
    :meth:`rich_renderable`) draws tables.  ``layers`` holds the per-layer measurements
    (dicts, at the start and at the end of the run) and ``context`` what was run.
    """

    def __init__(self, findings, layers=None, context=None):
        self.findings = sorted(findings, key=_sort_key)
        self.layers = jsonable(list(layers or []))
        self.context = jsonable(dict(context or {}))

    @property
    def ok(self) -> bool:
        """True when no finding is an error or a warning (info findings are allowed)."""
        return not any(f.severity in ("error", "warning") for f in self.findings)

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def codes(self) -> list:
        """The codes found, in report order (duplicates removed)."""
        return list(dict.fromkeys(f.code for f in self.findings))

    def get(self, code: str) -> list:
        """The findings with this code."""
        return [f for f in self.findings if f.code == code]

    def __contains__(self, code) -> bool:
        return any(f.code == code for f in self.findings)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def summary(self) -> str:
        """The one-line verdict: "healthy", or the most serious finding's headline."""
        serious = [f for f in self.findings if f.severity != "info"]
        if not serious:
            return "healthy"
        line = serious[0].headline()
        if len(serious) > 1:
            line += f" (+{len(serious) - 1} more: {', '.join(f.code for f in serious[1:])})"
        return line

    def to_dict(self) -> dict:
        """A JSON-ready dict: ``json.dumps(report.to_dict(), allow_nan=False)`` works."""
        return {"ok": self.ok, "summary": self.summary(),
                "findings": [f.to_dict() for f in self.findings],
                "layers": self.layers, "context": self.context}

    def __repr__(self) -> str:
        return f"Report(ok={self.ok}, findings={self.codes})"

    # --- plain text --------------------------------------------------------------------------

    def __str__(self) -> str:
        head = self.context.get("network", "network")
        lines = [f"glassnet doctor: {head}", f"verdict: {self.summary()}"]
        run = self.context.get("run")
        if run:
            lines.append(f"run: {run}")
        wrap = textwrap.TextWrapper(width=88, subsequent_indent=" " * 11)
        for f in self.findings:
            where = f" ({layer_words(f.layers)})" if f.layers else ""
            lines.append("")
            lines.append(f"{f.severity.upper()} {f.code}{where}")
            lines.extend(wrap.wrap(f"  cause:   {f.message}"))
            lines.extend(wrap.wrap(f"  fix:     {f.fix}"))
            if f.evidence:
                lines.extend(wrap.wrap("  numbers: " + _evidence_text(f.evidence)))
        if self.layers:
            lines.append("")
            lines.append(_layer_table_text(self.layers))
        return "\n".join(lines)

    # --- rich ------------------------------------------------------------------------------------

    def rich_renderable(self):
        """A rich renderable (tables of findings and of layers); needs ``rich``."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        style = {"error": "bold red", "warning": "yellow", "info": "cyan"}
        verdict = Text(f"verdict: {self.summary()}",
                       style="bold green" if self.ok else style[self.findings[0].severity])
        parts = [Text(f"glassnet doctor: {self.context.get('network', 'network')}",
                      style="bold"), verdict]
        if self.context.get("run"):
            parts.append(Text(f"run: {self.context['run']}", style="dim"))
        if self.findings:
            table = Table(title="Findings", show_lines=True, expand=False)
            for name in ("severity", "code", "layers", "cause", "fix"):
                table.add_column(name, overflow="fold",
                                 max_width=None if name not in ("cause", "fix") else 60)
            for f in self.findings:
                table.add_row(Text(f.severity, style=style[f.severity]), f.code,
                              ", ".join(map(str, f.layers)) or "-", f.message, f.fix)
            parts.append(table)
        if self.layers:
            table = Table(title="Layers (start -> end)", expand=False)
            for name, _ in _LAYER_COLUMNS:
                table.add_column(name, justify="right" if name != "activation" else "left")
            for row in _layer_rows(self.layers):
                table.add_row(*row)
            parts.append(table)
        return Group(*parts)

    def __rich__(self):
        return self.rich_renderable()


def _num(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.3g}"
    if isinstance(x, list):
        return "[" + ", ".join(_num(v) for v in x[:12]) + (", ..." if len(x) > 12 else "") + "]"
    return str(x)


def _evidence_text(evidence: dict) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in evidence.items())


#: (column title, LayerStats field) for the layer tables
_LAYER_COLUMNS = (("layer", "layer"), ("activation", "activation"), ("units", "units"),
                  ("|W|", "weight_norm"), ("|dW|", "grad_norm"), ("update/|W|", "update_ratio"),
                  ("signal std", "signal_std"), ("dead", "dead_units"),
                  ("saturated", "saturated_units"), ("distinct", "distinct_units"))


def _cell(start, end, key) -> str:
    a = _num(start.get(key)) if start else "-"
    if end is None or key in ("layer", "activation", "units"):
        return a
    b = _num(end.get(key))
    return a if a == b else f"{a} -> {b}"


def _layer_rows(layers) -> list:
    rows = []
    for entry in layers:
        start, end = entry.get("start"), entry.get("end")
        rows.append([_cell(start, end, key) if key != "update_ratio"
                     else _num(entry.get("update_ratio")) for _, key in _LAYER_COLUMNS])
    return rows


def _layer_table_text(layers) -> str:
    rows = [[title for title, _ in _LAYER_COLUMNS]] + _layer_rows(layers)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["layers (start -> end):"]
    for r in rows:
        out.append("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
    return "\n".join(out)
