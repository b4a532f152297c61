"""Layers that cannot learn: ``no_update``, ``dead_units``, ``symmetric_units``,
``saturated_units``.

Each stuck layer gets its own reason: no error reaches it from above (all-zero weights or
closed gates higher up), its input is all zeros (a silent layer below it, or the data),
or its gradient is not zero at all, only tiny (a vanishing signal, named as such).
"""
from __future__ import annotations

import math

from ..report import Finding, layer_words
from ..stats import SATURATION_SLOPE
from .base import (Recording, explained, g, gain, init_advice, lr_words, suggested_init,
                   unscaled_columns)
from .thresholds import (BIAS_SPREAD, DEAD_ERROR, DEAD_WARN, LARGE_GAIN, SATURATED_ERROR,
                         SATURATED_WARN, STUCK_RTOL, pct)


def _moves(n: int) -> str:
    return "moves" if n == 1 else "move"


def _layer_name(k: int, L: int) -> str:
    return f"layer {k} (the output layer)" if k == L else f"layer {k}"


# --- why a layer is stuck ---------------------------------------------------------------------

def stuck_layers(rec: Recording) -> list:
    """0-based indices of layers whose weights never changed during the run."""
    if rec.steps == 0 or rec.end is None or rec.nonfinite_step is not None:
        return []
    return [l for l, (change, norm) in enumerate(zip(rec.weight_change, rec.weight_start_norm))
            if math.isfinite(change) and change <= STUCK_RTOL * norm]


def _silent_origin(S: list, l: int):
    """Why layer ``l`` (0-based) outputs only zeros: (kind, 0-based layer) with kind
    "zero_weights", "dead", "zero_data" or "unknown"; follows zero inputs down to where
    they start."""
    while True:
        s = S[l]
        if s.weight_zero:
            return "zero_weights", l
        if s.input_zero:
            if l == 0:
                return "zero_data", None
            l -= 1
            continue
        if s.gate_closed or s.inactive_units == s.units:
            return "dead", l
        return "unknown", l


def why_stuck(S: list, l: int):
    """Why layer ``l`` (0-based) gets no weight gradient: (how, origin kind, origin layer).

    how is "no_error" (no error reaches it: all-zero weights right above it or its own
    closed gates, or further up), "zero_input" (its input is all zeros), "tiny" (its
    gradient is not zero, only too small to move the weights) or "unknown"; the origin is
    the layer whose zero weights or dead units cause it.
    """
    L = len(S)
    s = S[l]
    if not s.grad_zero:
        return "tiny", "tiny", l
    if s.delta_zero and l < L - 1 and S[l + 1].weight_zero:
        return "no_error", "zero_weights", l + 1
    if s.delta_zero and s.gate_closed and s.weight_zero:
        return "no_error", "zero_weights", l
    if s.input_zero:
        if l == 0:
            return "zero_input", "zero_data", None
        kind, origin = _silent_origin(S, l - 1)
        return "zero_input", kind, origin
    m = l
    while m < L - 1 and S[m].delta_zero:
        if S[m + 1].weight_zero:
            return "no_error", "zero_weights", m + 1
        if S[m + 1].delta_zero:
            m += 1
            continue
        if S[m].gate_closed:
            if S[m].weight_zero:
                return "no_error", "zero_weights", m
            if S[m].input_zero and m > 0:
                kind, origin = _silent_origin(S, m - 1)
                return "no_error", kind, origin
            return "no_error", "dead", m
        break
    return "unknown", "unknown", l


def _reason_words(S: list, l: int, how: str, origin: int) -> str:
    L = len(S)
    name = _layer_name(l + 1, L)
    if how == "no_error" and origin == l:
        return (f"{name} has all-zero weights itself, so its {S[l].activation} units sit at "
                f"z = 0 where the slope is 0: no error passes them")
    if how == "no_error" and origin < l:
        return (f"no error reaches {name} from above: the layers above it are silent, their "
                f"input being zero because layer {origin + 1}'s weights are all zero")
    if how == "no_error":
        return (f"no error reaches {name} from above: layer {origin + 1}'s weights are all "
                "zero, so every error back-propagated through them is multiplied by zero")
    via = f" (through layer {l})" if origin < l - 1 else ""
    return (f"{name} gets only zeros as input: layer {origin + 1}'s weights are all zero and "
            f"{S[origin].activation}(0) = 0{via}, so its weight gradients (input x error) "
            "are exactly zero")


# --- no_update and dead units from the start --------------------------------------------------

def no_update_and_dead(rec: Recording, found: tuple) -> list:
    """Layers that never moved, grouped by what blocks them; dead layers from the start."""
    S = rec.start.layers
    groups: dict = {}
    for l in stuck_layers(rec):
        how, kind, origin = why_stuck(S, l)
        if how in ("tiny", "unknown") and any(s.saturated_fraction >= SATURATED_WARN
                                              for s in S[l:]):
            continue   # saturated units on the way back pass almost nothing: saturated_units
        groups.setdefault(kind, []).append((l, how, origin))
    findings = []
    if "zero_weights" in groups:
        findings.append(_zero_weights_finding(rec, groups.pop("zero_weights")))
    dead_blocked: dict = {}
    for l, _, origin in groups.pop("dead", []):
        if l != origin:
            dead_blocked.setdefault(origin, []).append(l)
    findings += dead_units(rec, found + tuple(findings), dead_blocked, "start")
    for kind, members in groups.items():
        findings.append(_other_stuck_finding(rec, kind, members))
    return findings


def _other_stuck_finding(rec: Recording, kind: str, members: list) -> Finding:
    S = rec.start.layers
    layers = [l + 1 for l, _, _ in members]
    change = [rec.weight_change[l] / rec.weight_start_norm[l]
              if rec.weight_start_norm[l] > 0 else 0.0 for l, _, _ in members]
    if kind == "zero_data":
        message = (f"The weights of {layer_words(layers)} never moved: the inputs they "
                   "receive are zero on every sample, so their weight gradients "
                   "(inputs x error) are exactly zero; only their biases can learn.")
        fix = "Check the data (all-zero columns) and the layer below: it outputs only zeros."
    elif kind == "tiny":
        message = (f"The weights of {layer_words(layers)} barely moved during the run: by at "
                   f"most {g(max(change))} of their size, because their gradient is tiny "
                   f"(norm {g(min(S[l].grad_norm for l, _, _ in members))}), though not zero.")
        fix = ("Check the learning rate (a step that rounds to nothing) and the signal "
               "through the layers above (a fan-scaled init matched to the activation).")
    else:
        message = (f"The weights of {layer_words(layers)} never moved during the run, and "
                   "their gradient (inputs x back-propagated error) is exactly zero on the "
                   "measuring batch, with no all-zero weights or dead layer to explain it.")
        fix = ("Check the learning rate (a step that rounds to nothing) and any frozen or "
               "hand-set parameters.")
    return Finding("no_update", "error", layers, message, fix,
                   {"kind": kind, "grad_norm": [S[l].grad_norm for l, _, _ in members],
                    "relative_change": change,
                    "weight_change": [rec.weight_change[l] for l, _, _ in members]},
                   brief=f"{layer_words(layers)} never {_moves(len(layers))}"
                         + (" (tiny gradient)" if kind == "tiny" else ""),
                   explains=layers)


def _zero_weights_finding(rec: Recording, members: list) -> Finding:
    S = rec.start.layers
    L = len(S)
    hidden = sorted({l for l, _, _ in members if l < L - 1})
    output_frozen = any(l == L - 1 for l, _, _ in members)
    lowest = min(l for l, _, _ in members) + 1
    zero_layers = sorted({k for k, s in enumerate(S, 1) if s.weight_zero and k > lowest})
    layers = [l + 1 for l in hidden] or [L]
    acts = sorted({S[l].activation for l in hidden})
    n = len(layers)
    # all blocked from above by zero weights higher up: one sentence says it for all
    from_above = all(how == "no_error" and origin > l for l, how, origin in members
                     if l < L - 1)
    parts = []
    if hidden and from_above:
        it = "it" if n == 1 else "them"
        parts.append(
            f"Hidden {layer_words(layers)} never {_moves(n)}: every weight above {it} is "
            f"zero ({layer_words(zero_layers)} {'starts' if len(zero_layers) == 1 else 'start'}"
            f" with all-zero weights), so every error back-propagated to {it} is multiplied "
            f"by zero and {'its' if n == 1 else 'their'} gradients are exactly zero: nothing "
            "below the output can move.")
    elif hidden:
        reasons = [_reason_words(S, l, how, origin) for l, how, origin in members if l < L - 1]
        parts.append(f"Hidden {layer_words(layers)} never {_moves(n)}, each for its own "
                     f"reason: {'; '.join(reasons)}.")
    if "relu" in acts:
        parts.append("relu's slope at z = 0 is 0 as well, but the units are not dying: the "
                     "cause is the zero weights, and random weights fix both.")
    if output_frozen:
        _, how, origin = next(m for m in members if m[0] == L - 1)
        if how == "zero_input" and origin is not None:
            parts.append(
                f"The output layer (layer {L}) cannot move its weights either: "
                f"the hidden layer below it outputs only zeros (layer {origin + 1}'s weights "
                f"are all zero and {S[origin].activation}(0) = 0), so only the output biases "
                "learn.")
        else:
            parts.append(f"The output layer (layer {L}) never moves either.")
    roots = sorted({origin + 1 for _, _, origin in members if origin is not None})
    return Finding(
        "no_update", "error", layers, " ".join(parts), init_advice(acts or ["relu"]),
        {"zero_weight_layers": zero_layers,
         "grad_norm": [S[l].grad_norm for l in hidden],
         "weight_change": [rec.weight_change[l] for l in hidden],
         "reasons": {str(l + 1): how for l, how, _ in members},
         "output_weights_frozen": output_frozen, "steps": rec.steps},
        brief=f"{layer_words(layers)} never {_moves(n)} (all weights above are zero)"
        if from_above or not hidden else f"{layer_words(layers)} never {_moves(n)} "
        f"(all-zero weights in {layer_words(roots)})",
        explains=sorted(set(layers) | set(roots) | ({L} if output_frozen else set())))


def _flagged(origin: str, start, end, fraction: str, warn: float):
    """The layer's record to report when its ``fraction`` reaches ``warn``: at the start
    (``origin="start"``: ``start``), or only after the run (``"run"``: ``end``, when the
    start was below); None otherwise."""
    if origin == "start":
        return start if getattr(start, fraction) >= warn else None
    if end is not None and getattr(start, fraction) < warn and getattr(end, fraction) >= warn:
        return end
    return None


def dead_units(rec: Recording, found: tuple, blocked: dict, origin: str) -> list:
    """Layers whose units are (nearly) all inactive at the start (``origin="start"``), or
    only after the run (``"run"``)."""
    done = explained(found)
    start = rec.start.hidden
    end = rec.end.hidden if rec.end is not None and rec.end.finite else None
    group, silenced = [], []
    for i, s in enumerate(start):
        if s.layer in done:
            continue
        if origin == "start" and s.input_zero and group and group[-1].layer == s.layer - 1:
            silenced.append(s.layer)       # silent because the dead layer below gives zeros
            continue
        hit = _flagged(origin, s, None if end is None else end[i], "inactive_fraction",
                       DEAD_WARN)
        if hit is not None:
            group.append(hit)
    if not group:
        return []
    layers = [s.layer for s in group]
    worst = max(s.inactive_fraction for s in group)
    severity = "error" if worst >= DEAD_ERROR else "warning"
    below = sorted({l + 1 for where, ls in blocked.items() for l in ls if where + 1 in layers}
                   | set(silenced))
    counts = "; ".join(
        f"layer {s.layer}: {s.inactive_units} of {s.units} {s.activation} units "
        f"({s.dead_units} output 0 for every sample; the layer is active on "
        f"{100 * s.active_rate:.2g}% of sample-unit pairs)" for s in group)
    why = "run"
    if origin == "start":
        cause, fix, why = _dead_cause(rec, group)
        brief = f"{layer_words(layers)}: units dead from the start"
    else:
        cause = (f"They were alive at the start and died during the run: steps with "
                 f"{lr_words(rec)} pushed their weights and biases to where z < 0 for "
                 "every input, and a relu unit there gets no gradient to come back.")
        fix = ("Lower the learning rate (or use 'adam' with 1e-3); leaky_relu or elu keep "
               "a slope below zero so units can recover.")
        brief = f"{layer_words(layers)}: units died during training"
    block = (f" Nothing gets through them (no gradient down, only zeros up), so the weights "
             f"of {layer_words(below)} never {_moves(len(below))} either." if below else "")
    return [Finding(
        "dead_units", severity, layers, f"Dead units: {counts}. {cause}{block}", fix,
        {"inactive_fraction": [s.inactive_fraction for s in group],
         "dead_units": [s.dead_units for s in group],
         "units": [s.units for s in group],
         "active_rate": [s.active_rate for s in group],
         "bias_mean": [s.bias_mean for s in group],
         "pre_mean": [s.pre_mean for s in group],
         "pre_std": [s.pre_std for s in group],
         "blocked_layers": below, "when": origin, "cause": why},
        brief=brief, explains=(layers if severity == "error" else []) + below)]


def _dead_cause(rec: Recording, group) -> tuple:
    s = min(group, key=lambda s: s.bias_mean)
    if s.bias_mean < 0 and -s.bias_mean > BIAS_SPREAD * s.pre_std:
        return (f"Their biases (mean {g(s.bias_mean)} in layer {s.layer}) are far below the "
                f"spread of the weighted inputs (std {g(s.pre_std)}), so z = a @ W + b is "
                "negative for almost every input, where relu outputs 0 and has slope 0.",
                "Start the biases at 0 or a small positive value (bias_init='zeros', or "
                "('constant', {'value': 0.01})); leaky_relu or elu keep a slope below zero.",
                "biases")
    return (f"Their pre-activations are negative for almost every input (mean z "
            f"{g(s.pre_mean)}, std {g(s.pre_std)} in layer {s.layer}), where relu outputs 0 "
            "and has slope 0.",
            f"Re-initialize with init='{suggested_init(s.activation)}' and zero biases, scale "
            "the inputs; leaky_relu or elu keep a slope below zero.",
            "inputs" if s.layer == 1 and unscaled_columns(rec) else "weights")


# --- symmetric units --------------------------------------------------------------------------

def symmetric_units(rec: Recording, found: tuple) -> list:
    """Hidden layers with identical units at the start and still at the end of the run, and
    hidden layers that start with constant (all-zero included) weights.

    Gradient descent never makes distinct units identical, and random weights above make
    identical ones differ at the first step; so copies that last are a symmetric init's.  A
    layer whose weights are all the same number passes the input on as one number (its
    units differ at most by their biases), whatever the network's origin.
    """
    done = explained(found)
    snap = rec.end if rec.end is not None and rec.end.finite else rec.start
    start = {s.layer: s for s in rec.start.hidden}
    group = [s for s in snap.hidden if s.layer not in done and s.units > 1 and (
        start[s.layer].weight_constant
        or (s.distinct_units < s.units and start[s.layer].distinct_units < s.units))]
    if not group:
        return []
    layers = [s.layer for s in group]
    constant = [s.layer for s in group if start[s.layer].weight_constant]
    one = all(s.distinct_units == 1 for s in group)
    severity = "error" if constant or any(s.distinct_units == 1 for s in group) else "warning"
    counts = "; ".join(f"layer {s.layer}: {s.distinct_units} distinct of {s.units} units"
                       for s in group)
    moved = rec.end is not None and any(rec.weight_change[s.layer - 1] > 0 for s in group)
    copies = [s for s in group if s.distinct_units < s.units]
    parts = []
    if copies:
        message = (f"Symmetric units ({counts}): units whose incoming weights and bias are "
                   "identical compute the same value and, as the weights leaving them are "
                   "identical too, receive the same gradient, so they stay copies of each "
                   "other")
        if moved:
            message += " even though the weights do move"
        message += (". " + ("Each layer works as a single unit." if one else
                            "The copies add nothing to the layer's capacity."))
        parts.append(message)
    if constant:
        zero = all(start[k].weight_zero for k in constant)
        parts.append(
            f"{layer_words(constant).capitalize()} "
            f"{'starts' if len(constant) == 1 else 'start'} with "
            f"{'all-zero' if zero else 'constant'} weights: every unit sees the input "
            f"{'not at all' if zero else 'only as the sum of its features'}, so the units "
            "differ at most by their biases and what passes to the layers above carries "
            "(almost) nothing of the input; only small gradients, all alike, can pull them "
            "apart.")
    parts.append("They were identical from the start: a constant (or zero) initialization "
                 "gives every unit the same weights.")
    acts = sorted({s.activation for s in group})
    return [Finding(
        "symmetric_units", severity, layers, " ".join(parts),
        init_advice(acts).replace("Zero biases are fine.",
                                  "Only random weights make units differ."),
        {"distinct_units": [s.distinct_units for s in group],
         "units": [s.units for s in group],
         "distinct_at_start": [start[s.layer].distinct_units for s in group],
         "constant_weight_layers": constant,
         "weights_moved": moved},
        brief=f"{layer_words(layers)} {'has' if len(layers) == 1 else 'have'} "
              + ("1 distinct unit" + (" each" if len(layers) > 1 else "") if one
                 else ("all-zero" if all(start[k].weight_zero for k in constant)
                       else "constant") + " weights" if constant else "duplicate units"),
        explains=[s.layer for s in group if s.distinct_units == 1 or s.layer in constant])]


# --- saturated units --------------------------------------------------------------------------

def saturated_at_start(rec: Recording, found: tuple) -> list:
    return _saturated(rec, found, "start")


def changed_during_run(rec: Recording, found: tuple) -> list:
    """Units alive and unsaturated at the start that died or saturated during the run."""
    return (dead_units(rec, found, {}, "run")
            + _saturated(rec, found, "run"))


def _saturated(rec: Recording, found: tuple, origin: str) -> list:
    """Layers of bounded units stuck in their flat tails at the start, or only after the run
    (an output layer only when its slope matters: squared error on sigmoid or tanh)."""
    done = explained(found)
    end = rec.end.layers if rec.end is not None and rec.end.finite else None
    group = []
    for i, s in enumerate(rec.start.layers):
        if s.layer in done and done[s.layer] != "symmetric_units":
            continue
        hit = _flagged(origin, s, None if end is None else end[i], "saturated_fraction",
                       SATURATED_WARN)
        if hit is not None:
            group.append(hit)
    if not group:
        return []
    layers = [s.layer for s in group]
    worst = max(s.saturated_fraction for s in group)
    severity = "error" if worst >= SATURATED_ERROR else "warning"
    counts = "; ".join(
        f"layer {s.layer}: {s.saturated_units} of {s.units} {s.activation} units "
        f"(mean |z| {g(s.mean_abs_pre)})" for s in group)
    first = group[0]
    if origin == "run":
        why = "run"
        cause = (f"They saturated during the run: steps with {lr_words(rec)} grew the "
                 "weights until the pre-activations left the range where the slope is useful.")
        fix = "Lower the learning rate; scale the inputs."
    elif first.layer == 1 and unscaled_columns(rec):
        why = "inputs"
        cause = (f"The inputs are unscaled (features up to "
                 f"{g(float(rec.inputs.magnitude.max()))} in size), so z = x @ W + b is large.")
        fix = "Standardize the inputs (subtract each feature's mean, divide by its std)."
    elif gain(first) > LARGE_GAIN:
        why = "weights"
        cause = (f"The incoming weights are too large for the fan-in: RMS weight "
                 f"{g(first.weight_rms)} over {first.fan_in} inputs gives a gain "
                 f"RMS(W) x sqrt(fan_in) = {g(gain(first))}, where xavier init gives about 1.")
        fix = ("Use init='xavier_uniform' (or 'he_normal' for relu layers), which scales the "
               "weights by 1/sqrt(fan_in); scale the inputs.")
    else:
        why = "biases"
        cause = (f"Their pre-activations are large (mean |z| {g(first.mean_abs_pre)}, bias "
                 f"mean {g(first.bias_mean)}).")
        fix = "Use init='xavier_uniform' with zero biases; scale the inputs."
    return [Finding(
        "saturated_units", severity, layers,
        f"Saturated units: {counts} sit in the flat tails of their activation on most inputs, "
        f"where the slope is under {pct(SATURATION_SLOPE)} of its peak, so little gradient "
        f"passes through them. {cause}", fix,
        {"saturated_fraction": [s.saturated_fraction for s in group],
         "saturated_units": [s.saturated_units for s in group],
         "units": [s.units for s in group],
         "mean_abs_pre": [s.mean_abs_pre for s in group],
         "gain": [gain(s) for s in group], "when": origin, "cause": why},
        brief=f"{layer_words(layers)} saturated")]
