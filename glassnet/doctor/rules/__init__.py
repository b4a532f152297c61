"""The detectors: from a :class:`Recording` of a run to the findings that explain it.

Each rule names a cause, not a symptom.  :data:`RULES` declares the order they run in:
the data first, then the initialization, then what happened during the run.  A rule
sees the findings of the rules before it (an immutable tuple; ``Finding.explains`` says
which layers each accounts for) and leaves alone what they explain: a zero-initialized
relu network passes no gradient because the weights above are zero, so it gets
``no_update`` and not also ``dead_units`` or ``learning_rate_too_low``.

Then :func:`rank` puts causes first: where :data:`CAUSES` says one finding can be the
consequence of another (a divergence of an exploding init, a saturated first layer of
unscaled inputs), the root's message names the consequence and takes its severity, and
the consequence stays in the report as "info" with ``evidence["caused_by"]``.

Every threshold is a named constant in :mod:`.thresholds`.
"""
from __future__ import annotations

from dataclasses import replace

from ..report import SEVERITIES, Finding
from . import data, fit, layers, signal, steps
from .base import Recording, suggested_init
from .thresholds import NEEDED_GAIN

__all__ = ["Recording", "RULES", "CAUSES", "run_rules", "rank", "suggested_init",
           "NEEDED_GAIN"]

#: the rules, in the order they run: each sees the findings of those before it
RULES = (
    steps.broken_parameters,        # parameters already NaN, a forward pass that overflows
    data.labels_as_targets,         # the data
    data.unscaled_targets,
    data.unscaled_inputs,
    layers.no_update_and_dead,      # the initialization: layers that cannot learn
    layers.symmetric_units,
    layers.saturated_at_start,
    signal.signal,                  # ... and the signal through them
    steps.divergence,               # the run
    layers.changed_during_run,
    steps.learning_rate_too_high,
    data.initial_loss_off,
    steps.learning_rate_too_low,
    fit.overfitting,                # the fit against validation data
)


def _always(consequence: Finding, root: Finding) -> bool:
    return True


def _during_run(consequence: Finding, root: Finding) -> bool:
    return consequence.evidence.get("when") == "run" or "step" in consequence.evidence


def _from_inputs(consequence: Finding, root: Finding) -> bool:
    return consequence.evidence.get("cause") == "inputs"


def _tiny_gradient(consequence: Finding, root: Finding) -> bool:
    return consequence.evidence.get("kind") == "tiny"


def _same_layers(consequence: Finding, root: Finding) -> bool:
    return bool(set(consequence.layers) & (set(root.layers) | set(root.explains)))


_DATA_ROOTS = (("labels_as_targets", _always), ("unscaled_targets", _always),
               ("unscaled_inputs", _always))

#: consequence code -> the findings that can cause it, in order of precedence, each with
#: the condition under which it does
CAUSES = {
    "divergence": (("exploding_signal", _during_run),) + tuple(
        (code, _during_run) for code, _ in _DATA_ROOTS),
    "learning_rate_too_high": (("exploding_signal", _always),) + _DATA_ROOTS,
    "initial_loss_off": (("exploding_signal", _always),) + _DATA_ROOTS,
    "dead_units": (("unscaled_inputs", _from_inputs), ("exploding_signal", _during_run)) + tuple(
        (code, _during_run) for code, _ in _DATA_ROOTS) + (
        ("learning_rate_too_high", _during_run),),
    "saturated_units": (("unscaled_inputs", _from_inputs), ("exploding_signal", _same_layers))
    + tuple((code, _during_run) for code, _ in _DATA_ROOTS)
    + (("learning_rate_too_high", _during_run),),
    "no_update": (("vanishing_signal", _tiny_gradient),),
    "vanishing_signal": (("symmetric_units", _same_layers),),
    "exploding_signal": (("symmetric_units", _same_layers),),
}


def run_rules(rec: Recording) -> list:
    """All findings for a recording, ranked: root causes first."""
    found: tuple = ()
    for rule in RULES:
        found += tuple(rule(rec, found))
    return rank(list(found))


def _direct_cause(f: Finding, findings: list):
    for code, condition in CAUSES.get(f.code, ()):
        for r in findings:
            if r is not f and r.code == code and condition(f, r):
                return r
    return None


def rank(findings: list) -> list:
    """Fold each consequence into its root cause (see :data:`CAUSES`): the root's message
    names it and takes the more serious severity; the consequence stays as "info"."""
    root_of = {}
    for f in findings:
        seen, r = {id(f)}, f
        while (cause := _direct_cause(r, findings)) is not None and id(cause) not in seen:
            seen.add(id(cause))
            r = cause
        root_of[id(f)] = r
    out = []
    for f in findings:
        root = root_of[id(f)]
        if root is not f:
            out.append(replace(f, severity="info",
                               message=f"A consequence of {root.code}, the cause to fix "
                                       f"first: {f.message}",
                               evidence=dict(f.evidence, caused_by=root.code)))
            continue
        consequences = [c for c in findings if c is not f and root_of[id(c)] is f]
        if not consequences:
            out.append(f)
            continue
        severity = min([f.severity] + [c.severity for c in consequences], key=SEVERITIES.index)
        words = "; ".join(f"{c.code} ({c.brief})" for c in consequences)
        out.append(replace(
            f, severity=severity, message=f"{f.message} As a consequence: {words}.",
            evidence=dict(f.evidence, consequences=[c.code for c in consequences])))
    return out
