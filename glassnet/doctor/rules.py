"""The detectors: from a :class:`Recording` of a run to the findings that explain it.

Each rule names a cause, not a symptom.  The rules run in order and later ones leave
alone the layers an earlier, more basic cause already explains: a zero-initialized relu
network passes no gradient because the weights above are zero, so it gets ``no_update``
and not also ``dead_units``, ``vanishing_signal`` or ``learning_rate_too_low``.

Every threshold is a module constant, named and documented where it is defined.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .report import Finding, layer_words
from .stats import InputStats, Snapshot

# --- thresholds -------------------------------------------------------------------------------

#: a layer "never moved" when its weights changed by at most this, relative to their norm
#: (for all-zero weights: not at all)
STUCK_RTOL = 1e-12
#: inactive (dead or nearly dead) units: a warning from this fraction of a layer, an error
#: from the second (the layer then passes almost no gradient)
DEAD_WARN, DEAD_ERROR = 0.5, 0.9
#: saturated units: a warning from this fraction of a layer, an error from the second
SATURATED_WARN, SATURATED_ERROR = 0.3, 0.9
#: vanishing signal: the last hidden layer's signal std below this fraction of the first's,
#: shrinking on average by a factor below the second per layer (the error level: below the
#: third fraction)
VANISH_TOTAL, VANISH_FACTOR, VANISH_ERROR = 0.02, 0.8, 1e-3
#: exploding signal: the same, growing
EXPLODE_TOTAL, EXPLODE_FACTOR, EXPLODE_ERROR = 50.0, 1.25, 1e4
#: a feature is unscaled when sqrt(mean^2 + std^2) exceeds this (standardized data: about 1)
UNSCALED = 5.0
#: a classifier's start loss is off when it exceeds the uninformed loss u by more than
#: max(this, u): ln 10 = 2.30 allows up to 4.8, ln 2 up to 3.19
LOSS_MARGIN = 2.5
#: a regressor's start loss is off beyond this many times the loss of predicting the mean
#: (and by more than 1), when the cause is visible: targets whose size sqrt(mean^2 + std^2)
#: exceeds UNSCALED, or outputs whose std exceeds the second constant times the targets'
#: size (at least 1).  A fan-scaled init gives outputs of std about 1, and on standardized
#: targets that alone can score 4x the mean's loss: no cause, no finding.
REGRESSION_LOSS_RATIO, OUTPUT_SPREAD = 4.0, 3.0
#: learning rate too high: the probe loss ends above this multiple of its start, or peaks
#: above the second; the step named is the first whose batch loss exceeds the third
RISE_END, RISE_PEAK, RISE_STEP = 1.5, 3.0, 2.0
#: learning rate too low: the largest layer's typical step is below this fraction of its
#: weights (a healthy step is near 1e-3), while the loss improved by less than the second
LOW_RATIO, LOW_PROGRESS = 1e-4, 0.01
#: per-step update/weight ratio above which steps are too large to be stable
HIGH_RATIO = 0.1

#: the gain RMS(W) * sqrt(fan_in) that keeps a layer's signal the same size
_NEEDED_GAIN = {"relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0), "elu": math.sqrt(2.0),
                "gelu": math.sqrt(2.0), "silu": math.sqrt(2.0), "softplus": math.sqrt(2.0),
                "tanh": 1.0, "sigmoid": 4.0, "identity": 1.0, "selu": 1.0}
_SUGGESTED_INIT = {"relu": "he_normal", "leaky_relu": "he_normal", "elu": "he_normal",
                   "gelu": "he_normal", "silu": "he_normal", "softplus": "he_normal",
                   "selu": "lecun_normal"}


def suggested_init(activation: str) -> str:
    return _SUGGESTED_INIT.get(activation, "xavier_uniform")


@dataclass
class Recording:
    """Everything the rules read about one run (a probe by ``diagnose`` or a real ``fit``).

    ``start`` and ``end`` are :class:`Snapshot` measurements on the same fixed batch,
    before the first step and after the last (``end`` is None when no step was taken).
    ``update_ratios`` holds, for some of the steps, each layer's ||step of W|| / ||W||.
    ``checkpoints`` are (step, loss on the fixed batch); ``batch_losses`` the loss of every
    step's own batch.  Steps are counted from 1.
    """

    source: str
    architecture: dict
    start: Snapshot
    end: Snapshot | None
    weight_change: list                 # per layer ||W_end - W_start||
    weight_start_norm: list             # per layer ||W_start||
    steps: int
    inputs: InputStats
    uninformed_loss: float
    prior_loss: float | None = None
    target_mean: list | None = None
    target_std: list | None = None
    update_ratios: list = field(default_factory=list)
    checkpoints: list = field(default_factory=list)
    batch_losses: list = field(default_factory=list)
    nonfinite_step: int | None = None
    optimizer: str = "sgd"
    learning_rate: float | None = None
    unit: str = "step"                  # what a checkpoint counts: "step" or "epoch"

    @property
    def n_layers(self) -> int:
        return len(self.start.layers)


class _Explained:
    """Layers an earlier rule already explained (with the code that did)."""

    def __init__(self):
        self.by_layer: dict[int, str] = {}

    def add(self, layers, code):
        for k in layers:
            self.by_layer.setdefault(int(k), code)

    def __contains__(self, k):
        return int(k) in self.by_layer


def run_rules(rec: Recording) -> list:
    """All findings for a recording, most basic causes first."""
    explained = _Explained()
    findings: list = []
    findings += _divergence(rec)
    # causes present from the start: the initialization and the data
    findings += _no_update_and_dead(rec, explained)
    findings += _symmetric_units(rec, explained)
    findings += _saturated_units(rec, explained, "start")
    findings += _signal(rec, explained)
    # what went wrong during the run, in layers no cause above explains: a step size too
    # large is the cause of units that die or saturate on the way
    on_the_way = _dead_units(rec, explained, {}, "run") + _saturated_units(rec, explained, "run")
    too_high = _learning_rate_too_high(rec, findings, bool(on_the_way))
    if too_high:
        findings += [_with_consequences(too_high[0], on_the_way)]
    else:
        findings += on_the_way
    findings += _unscaled_inputs(rec)
    findings += _initial_loss_off(rec, explained)
    findings += _learning_rate_too_low(rec, findings)
    return findings


# --- helpers ----------------------------------------------------------------------------------

def _with_consequences(finding: Finding, consequences: list) -> Finding:
    """``finding`` with the symptoms it caused added to its message and evidence."""
    if not consequences:
        return finding
    words = "; ".join(f.brief for f in consequences)
    evidence = dict(finding.evidence, consequences=[f.to_dict() for f in consequences])
    return replace(finding, message=f"{finding.message} On the way: {words}.",
                   evidence=evidence)


def _g(x) -> str:
    """A number for a sentence: 3 significant digits."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x)
    return f"{x:.3g}"


def _join(items) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _lr_words(rec: Recording) -> str:
    if rec.learning_rate is None:
        return f"the {rec.optimizer} optimizer's step"
    return f"learning rate {_g(rec.learning_rate)} ({rec.optimizer})"


def _lr_short(rec: Recording) -> str:
    if rec.learning_rate is None:
        return rec.optimizer
    return f"learning rate {_g(rec.learning_rate)}"


def _init_advice(activations) -> str:
    names = sorted(set(activations))
    parts = [f"init='{suggested_init(a)}' for {a}" for a in names]
    return "Initialize the weights randomly: " + "; ".join(parts) + \
        " (init=None picks these). Zero biases are fine."


def _unscaled_columns(rec: Recording) -> list:
    mag = rec.inputs.magnitude
    return [int(j) for j in np.argsort(-mag) if mag[j] > UNSCALED]


def _target_size(rec: Recording) -> float:
    """A regressor's largest target size sqrt(mean^2 + std^2) (0 for a classifier)."""
    if rec.target_mean is None:
        return 0.0
    return float(np.max(np.hypot(rec.target_mean, rec.target_std or 0.0)))


def _unscaled_data(rec: Recording) -> tuple:
    """(cause, fix) for steps made large by unscaled inputs or targets, or ("", "")."""
    what, fix = [], []
    if _unscaled_columns(rec):
        what.append(f"inputs (features up to {_g(float(rec.inputs.magnitude.max()))} in size)")
        fix.append("the inputs")
    if _target_size(rec) > UNSCALED:
        what.append(f"targets (mean {_g(rec.target_mean[0])}, std {_g(rec.target_std[0])})")
        fix.append("the targets")
    if not what:
        return "", ""
    return (f"The unscaled {' and '.join(what)} make the gradients, and so the steps, that "
            "large.", f"Standardize {' and '.join(fix)} first")


# --- divergence -------------------------------------------------------------------------------

def _divergence(rec: Recording) -> list:
    start = rec.start
    if not start.finite:
        bad = [s.layer for s in start.layers if s.nonfinite] or list(range(1, rec.n_layers + 1))
        return [Finding(
            "divergence", "error", bad,
            "The network's parameters already hold NaN or infinite values: an earlier "
            "training run diverged (a step too large made them overflow), so every output "
            "is NaN.",
            "Start again from a fresh initialization (or the last good checkpoint) with a "
            "learning rate about 10x smaller; scale the inputs.",
            {"nonfinite_layers": bad}, brief="the parameters are already NaN or inf")]
    if any(s.nonfinite for s in start.layers):
        first = next(s.layer for s in start.layers if s.nonfinite)
        return [Finding(
            "exploding_signal", "error", [first],
            f"The forward pass overflows: layer {first}'s pre-activations are infinite or "
            "NaN before any training, because the weights (or the inputs) are so large that "
            "the signal outgrows floating point.",
            "Scale the inputs and use a fan-scaled init (he_normal for relu, xavier_uniform "
            "for tanh or sigmoid).",
            {"first_nonfinite_layer": first,
             "weight_rms": [s.weight_rms for s in start.layers]},
            brief=f"layer {first} overflows in the forward pass")]
    if rec.nonfinite_step is None:
        return []
    step = rec.nonfinite_step
    finite = [l for l in rec.batch_losses[:max(step - 1, 0)] if math.isfinite(l)]
    last = finite[-1] if finite else rec.start.loss
    ratios = [max(r) for r in rec.update_ratios if r and all(math.isfinite(x) for x in r)]
    evidence = {"step": step, "start_loss": rec.start.loss, "last_finite_loss": last,
                "learning_rate": rec.learning_rate, "optimizer": rec.optimizer,
                "max_update_ratio": max(ratios) if ratios else None}
    why, standardize = _unscaled_data(rec)
    lr = rec.learning_rate
    lower = f"try {_g(lr / 10)} (10x smaller) or less" if lr else "lower it about 10x"
    fix = (f"Lower the learning rate: {lower}; or use optimizer 'adam' with "
           "learning_rate=1e-3.")
    if standardize:
        fix = f"{standardize}; then, if it still diverges, lower the learning rate: {lower}."
    return [Finding(
        "divergence", "error", [],
        f"Training diverged: the loss became NaN or infinite at {rec.unit} {step} (it was "
        f"{_g(rec.start.loss)} at the start and {_g(last)} just before). Each step is too "
        f"large for this network: {_lr_words(rec)} overshoots, the weights grow without bound "
        f"and overflow.{' ' + why if why else ''}", fix,
        evidence, brief=f"the loss became NaN/inf at {rec.unit} {step} with {_lr_short(rec)}")]


# --- no_update and dead_units -----------------------------------------------------------------

def _stuck_layers(rec: Recording) -> list:
    """0-based indices of layers whose weights never changed during the run."""
    if rec.steps == 0 or rec.end is None or rec.nonfinite_step is not None:
        return []
    stuck = []
    for l, (change, norm) in enumerate(zip(rec.weight_change, rec.weight_start_norm)):
        if math.isfinite(change) and change <= STUCK_RTOL * norm:
            stuck.append(l)
    return stuck


def _blocker(S: list, l: int):
    """Why layer ``l`` (0-based) gets a zero weight gradient: (kind, 0-based layer).

    kind is "zero_weights" (all-zero weights above block the error), "zero_self" (a relu
    layer with zero weights and biases sits at z = 0 where its slope is 0), "dead" (every
    unit of the layer closed), "zero_input" (its input is all zeros) or "unknown".
    """
    L = len(S)
    if S[l].input_zero and l > 0:
        return "zero_input", l
    m = l
    while m < L - 1 and S[m].delta_zero:
        if S[m + 1].weight_zero:
            return "zero_weights", m + 1
        if S[m + 1].delta_zero:
            m += 1
            continue
        if S[m].gate_closed:
            return ("zero_self" if S[m].weight_zero else "dead"), m
        break
    return "unknown", l


def _zero_source(S: list, l: int):
    """Why layer ``l``'s input is all zeros: the kind of the layer below's silence."""
    if l == 0:
        return "zero_data"
    below = S[l - 1]
    if below.weight_zero:
        return "zero_weights"
    if below.gate_closed or below.inactive_units == below.units:
        return "dead"
    return "unknown"


def _no_update_and_dead(rec: Recording, explained: _Explained) -> list:
    """Layers that never moved, grouped by what blocks them; dead layers from the start."""
    S = rec.start.layers
    groups: dict[str, list] = {}
    for l in _stuck_layers(rec):
        kind, where = _blocker(S, l)
        if kind == "unknown" and any(s.saturated_fraction >= SATURATED_WARN for s in S[l:]):
            continue   # saturated units on the way back pass almost nothing: saturated_units
        if kind == "zero_input":
            kind = {"zero_weights": "zero_weights", "dead": "dead"}.get(_zero_source(S, l),
                                                                        "zero_input")
            where = l - 1 if kind in ("zero_weights", "dead") else l
        if kind == "zero_self":
            kind = "zero_weights"
        groups.setdefault(kind, []).append((l, where))
    findings = []
    if "zero_weights" in groups:
        findings.append(_zero_weights_finding(rec, groups.pop("zero_weights"), explained))
    dead_blocked = {where: [] for _, where in groups.get("dead", [])}
    for l, where in groups.pop("dead", []):
        if l != where:
            dead_blocked[where].append(l)
    findings += _dead_units(rec, explained, dead_blocked, "start")
    for kind, members in groups.items():
        layers = [l + 1 for l, _ in members]
        explained.add(layers, "no_update")
        if kind == "zero_input":
            message = (f"The weights of {layer_words(layers)} never moved: the inputs they "
                       "receive are zero on every sample, so their weight gradients "
                       "(inputs x error) are exactly zero; only their biases can learn.")
            fix = "Check the data (all-zero columns) and the layer below: it outputs only zeros."
        else:
            message = (f"The weights of {layer_words(layers)} never moved during the run: "
                       "their gradient (inputs x back-propagated error) was exactly zero at "
                       "every step, with no all-zero weights or dead layer to explain it.")
            fix = ("Check the learning rate (a step that rounds to nothing) and any frozen or "
                   "hand-set parameters.")
        findings.append(Finding("no_update", "error", layers, message, fix,
                                {"grad_norm": [S[l].grad_norm for l, _ in members],
                                 "weight_change": [rec.weight_change[l] for l, _ in members]},
                                brief=f"{layer_words(layers)} never "
                                      f"{'moves' if len(layers) == 1 else 'move'}"))
    return findings


def _zero_weights_finding(rec: Recording, members, explained: _Explained) -> Finding:
    S = rec.start.layers
    L = len(S)
    hidden = sorted({l for l, _ in members if l < L - 1})
    output_frozen = any(l == L - 1 for l, _ in members)
    lowest = min(l for l, _ in members) + 1
    zero_layers = sorted({k for k, s in enumerate(S, 1) if s.weight_zero and k > lowest})
    layers = [l + 1 for l in hidden] or [L]
    acts = sorted({S[l].activation for l in hidden})
    explained.add(layers, "no_update")
    explained.add([L] if output_frozen else [], "no_update")
    parts = []
    if hidden:
        parts.append(
            f"Hidden {layer_words(layers)} never {'moves' if len(layers) == 1 else 'move'}: "
            "every weight above "
            f"{'it' if len(layers) == 1 else 'them'} is zero ({layer_words(zero_layers)} "
            f"{'starts' if len(zero_layers) == 1 else 'start'} with all-zero weights), so "
            "every error back-propagated to "
            f"{'it' if len(layers) == 1 else 'them'} is multiplied by zero and "
            f"{'its' if len(layers) == 1 else 'their'} gradients are exactly zero: nothing "
            "below the output can move.")
    if "relu" in acts:
        parts.append("relu's slope at z = 0 is 0 as well, but the units are not dying: the "
                     "cause is the zero weights, and random weights fix both.")
    if output_frozen:
        parts.append(
            f"The output layer's weights cannot move either: the hidden layer below it "
            f"outputs only zeros ({S[L - 2].activation}(0) = 0), so only the output biases "
            "learn.")
    return Finding(
        "no_update", "error", layers, " ".join(parts), _init_advice(acts or ["relu"]),
        {"zero_weight_layers": zero_layers,
         "grad_norm": [S[l].grad_norm for l in hidden],
         "weight_change": [rec.weight_change[l] for l in hidden],
         "output_weights_frozen": output_frozen, "steps": rec.steps},
        brief=f"{layer_words(layers)} never {'moves' if len(layers) == 1 else 'move'} (all "
              "weights above are zero)")


def _dead_units(rec: Recording, explained: _Explained, blocked: dict, origin: str) -> list:
    """Layers whose units are (nearly) all inactive at the start (``origin="start"``), or
    only after the run (``"run"``)."""
    start = rec.start.hidden
    end = rec.end.hidden if rec.end is not None and rec.end.finite else None
    group, silenced = [], []
    for i, s in enumerate(start):
        if s.layer in explained:
            continue
        if origin == "start" and s.input_zero and group and group[-1].layer == s.layer - 1:
            silenced.append(s.layer)       # silent because the dead layer below gives zeros
        elif origin == "start" and s.inactive_fraction >= DEAD_WARN:
            group.append(s)
        elif (origin == "run" and end is not None and s.inactive_fraction < DEAD_WARN
              and end[i].inactive_fraction >= DEAD_WARN):
            group.append(end[i])
    if not group:
        return []
    layers = [s.layer for s in group]
    worst = max(s.inactive_fraction for s in group)
    severity = "error" if worst >= DEAD_ERROR else "warning"
    below = sorted({l + 1 for where, ls in blocked.items() for l in ls if where + 1 in layers}
                   | set(silenced))
    explained.add(layers if severity == "error" else [], "dead_units")
    explained.add(below, "dead_units")
    counts = "; ".join(
        f"layer {s.layer}: {s.inactive_units} of {s.units} {s.activation} units "
        f"({s.dead_units} output 0 for every sample; the layer is active on "
        f"{100 * s.active_rate:.2g}% of sample-unit pairs)" for s in group)
    if origin == "start":
        cause, fix = _dead_cause(rec, group)
        brief = f"{layer_words(layers)}: units dead from the start"
    else:
        cause = (f"They were alive at the start and died during the run: steps with "
                 f"{_lr_words(rec)} pushed their weights and biases to where z < 0 for "
                 "every input, and a relu unit there gets no gradient to come back.")
        fix = ("Lower the learning rate (or use 'adam' with 1e-3); leaky_relu or elu keep "
               "a slope below zero so units can recover.")
        brief = f"{layer_words(layers)}: units died during training"
    block = (f" Nothing gets through them (no gradient down, only zeros up), so the weights "
             f"of {layer_words(below)} never {'moves' if len(below) == 1 else 'move'} either."
             if below else "")
    return [Finding(
        "dead_units", severity, layers, f"Dead units: {counts}. {cause}{block}", fix,
        {"inactive_fraction": [s.inactive_fraction for s in group],
         "dead_units": [s.dead_units for s in group],
         "units": [s.units for s in group],
         "active_rate": [s.active_rate for s in group],
         "bias_mean": [s.bias_mean for s in group],
         "pre_mean": [s.pre_mean for s in group],
         "pre_std": [s.pre_std for s in group],
         "blocked_layers": below, "when": origin},
        brief=brief)]


def _dead_cause(rec: Recording, group) -> tuple:
    s = min(group, key=lambda s: s.bias_mean)
    if s.bias_mean < 0 and -s.bias_mean > 0.5 * s.pre_std:
        return (f"Their biases (mean {_g(s.bias_mean)} in layer {s.layer}) are far below the "
                f"spread of the weighted inputs (std {_g(s.pre_std)}), so z = a @ W + b is "
                "negative for almost every input, where relu outputs 0 and has slope 0.",
                "Start the biases at 0 or a small positive value (bias_init='zeros', or "
                "('constant', {'value': 0.01})); leaky_relu or elu keep a slope below zero.")
    return (f"Their pre-activations are negative for almost every input (mean z "
            f"{_g(s.pre_mean)}, std {_g(s.pre_std)} in layer {s.layer}), where relu outputs 0 "
            "and has slope 0.",
            f"Re-initialize with init='{suggested_init(s.activation)}' and zero biases, scale "
            "the inputs; leaky_relu or elu keep a slope below zero.")


# --- symmetric units --------------------------------------------------------------------------

def _symmetric_units(rec: Recording, explained: _Explained) -> list:
    """Hidden layers with identical units at the start and still at the end of the run.

    Gradient descent never makes distinct units identical, and random weights above make
    identical ones differ at the first step; so copies that last are a symmetric init's.
    """
    snap = rec.end if rec.end is not None and rec.end.finite else rec.start
    start = {s.layer: s for s in rec.start.hidden}
    group = [s for s in snap.hidden
             if s.units > 1 and s.distinct_units < s.units
             and start[s.layer].distinct_units < s.units and s.layer not in explained]
    if not group:
        return []
    layers = [s.layer for s in group]
    one = all(s.distinct_units == 1 for s in group)
    severity = "error" if any(s.distinct_units == 1 for s in group) else "warning"
    explained.add([s.layer for s in group if s.distinct_units == 1], "symmetric_units")
    counts = "; ".join(f"layer {s.layer}: {s.distinct_units} distinct of {s.units} units"
                       for s in group)
    moved = rec.end is not None and any(
        rec.weight_change[s.layer - 1] > 0 for s in group)
    message = (f"Symmetric units ({counts}): units whose incoming weights and bias are "
               "identical compute the same value and, as the weights leaving them are "
               "identical too, receive the same gradient, so they stay copies of each other")
    if moved:
        message += " even though the weights do move"
    message += (". " + ("Each layer works as a single unit." if one else
                        "The copies add nothing to the layer's capacity."))
    message += (" They were identical from the start: a constant (or zero) initialization "
                "gives every unit the same weights.")
    acts = sorted({s.activation for s in group})
    return [Finding(
        "symmetric_units", severity, layers, message,
        _init_advice(acts).replace("Zero biases are fine.",
                                   "Only random weights make units differ."),
        {"distinct_units": [s.distinct_units for s in group],
         "units": [s.units for s in group],
         "distinct_at_start": [start[s.layer].distinct_units for s in group],
         "weights_moved": moved},
        brief=f"{layer_words(layers)} {'has' if len(layers) == 1 else 'have'} "
              + ("1 distinct unit" + (" each" if len(layers) > 1 else "") if one
                 else "duplicate units"))]


# --- saturated units --------------------------------------------------------------------------

def _saturated_units(rec: Recording, explained: _Explained, origin: str) -> list:
    """Layers of bounded units stuck in their flat tails at the start, or only after the run
    (an output layer only when its slope matters: squared error on sigmoid or tanh)."""
    end = rec.end.layers if rec.end is not None and rec.end.finite else None
    group = []
    for i, s in enumerate(rec.start.layers):
        if s.layer in explained and explained.by_layer[s.layer] != "symmetric_units":
            continue
        if origin == "start" and s.saturated_fraction >= SATURATED_WARN:
            group.append(s)
        elif (origin == "run" and end is not None and s.saturated_fraction < SATURATED_WARN
              and end[i].saturated_fraction >= SATURATED_WARN):
            group.append(end[i])
    if not group:
        return []
    layers = [s.layer for s in group]
    worst = max(s.saturated_fraction for s in group)
    severity = "error" if worst >= SATURATED_ERROR else "warning"
    counts = "; ".join(
        f"layer {s.layer}: {s.saturated_units} of {s.units} {s.activation} units "
        f"(mean |z| {_g(s.mean_abs_pre)})" for s in group)
    first = group[0]
    gain = first.weight_rms * math.sqrt(first.fan_in)
    if origin == "run":
        cause = (f"They saturated during the run: steps with {_lr_words(rec)} grew the "
                 "weights until the pre-activations left the range where the slope is useful.")
        fix = "Lower the learning rate; scale the inputs."
    elif first.layer == 1 and _unscaled_columns(rec):
        cause = (f"The inputs are unscaled (features up to "
                 f"{_g(float(rec.inputs.magnitude.max()))} in size), so z = x @ W + b is large.")
        fix = "Standardize the inputs (subtract each feature's mean, divide by its std)."
    elif gain > 2.5:
        cause = (f"The incoming weights are too large for the fan-in: RMS weight "
                 f"{_g(first.weight_rms)} over {first.fan_in} inputs gives a gain "
                 f"RMS(W) x sqrt(fan_in) = {_g(gain)}, where xavier init gives about 1.")
        fix = ("Use init='xavier_uniform' (or 'he_normal' for relu layers), which scales the "
               "weights by 1/sqrt(fan_in); scale the inputs.")
    else:
        cause = (f"Their pre-activations are large (mean |z| {_g(first.mean_abs_pre)}, bias "
                 f"mean {_g(first.bias_mean)}).")
        fix = "Use init='xavier_uniform' with zero biases; scale the inputs."
    return [Finding(
        "saturated_units", severity, layers,
        f"Saturated units: {counts} sit in the flat tails of their activation on most inputs, "
        f"where the slope is under 10% of its peak, so little gradient passes through them. "
        f"{cause}", fix,
        {"saturated_fraction": [s.saturated_fraction for s in group],
         "saturated_units": [s.saturated_units for s in group],
         "units": [s.units for s in group],
         "mean_abs_pre": [s.mean_abs_pre for s in group],
         "gain": [s.weight_rms * math.sqrt(s.fan_in) for s in group], "when": origin},
        brief=f"{layer_words(layers)} saturated")]


# --- vanishing and exploding signal -----------------------------------------------------------

def _signal(rec: Recording, explained: _Explained) -> list:
    hidden = rec.start.hidden
    if len(hidden) < 2 or any(s.layer in explained for s in hidden):
        return []
    stds = [s.signal_std for s in hidden]
    if not all(math.isfinite(x) and x > 0 for x in stds):
        return []
    total = stds[-1] / stds[0]
    factor = total ** (1.0 / (len(stds) - 1))
    if total < VANISH_TOTAL and factor < VANISH_FACTOR:
        code, verb, severity = "vanishing_signal", "shrinks", \
            ("error" if total < VANISH_ERROR else "warning")
    elif total > EXPLODE_TOTAL and factor > EXPLODE_FACTOR:
        code, verb, severity = "exploding_signal", "grows", \
            ("error" if total > EXPLODE_ERROR else "warning")
    else:
        return []
    layers = [s.layer for s in hidden]
    explained.add(layers, code)
    gains = [s.weight_rms * math.sqrt(s.fan_in) for s in hidden[1:]]
    gain = float(np.exp(np.mean(np.log(np.maximum(gains, 1e-300)))))
    acts = sorted({s.activation for s in hidden})
    needed = {a: _NEEDED_GAIN.get(a, 1.0) for a in acts}
    need_words = _join(f"{a} needs about {_g(g)}" for a, g in needed.items())
    size = "small" if code == "vanishing_signal" else "large"
    ratios = [b / a for a, b in zip(stds, stds[1:])]
    deltas = [s.delta_rms for s in hidden]
    message = (f"The signal {verb} by a factor {_g(factor)} per layer through hidden "
               f"layers {layers[0]}-{layers[-1]}: "
               f"the activations' std (per unit, over the batch) goes from {_g(stds[0])} in "
               f"layer {layers[0]} to {_g(stds[-1])} in layer {layers[-1]}, "
               f"{_g(total)} times its size. ")
    if code == "vanishing_signal":
        message += ("The deep layers and the output see almost nothing of the input, so "
                    "there is little to learn from, even where the weight gradients look "
                    "normal. ")
    else:
        message += "The deep layers and the output get huge values that swamp learning. "
    message += (f"The weights are too {size} for this depth: RMS(W) x sqrt(fan_in) is "
                f"{_g(gain)} per layer, where {need_words} to keep the signal's size.")
    fix = ("Use a fan-scaled init matched to the activation: "
           + "; ".join(f"init='{suggested_init(a)}' for {a}" for a in acts)
           + " (init=None picks it); or use fewer layers.")
    return [Finding(
        code, severity, layers, message, fix,
        {"factor_per_layer": factor, "total_ratio": total, "signal_std": stds,
         "layer_ratios": ratios, "gain": gains, "needed_gain": needed,
         "delta_rms": deltas},
        brief=f"signal {verb} x{_g(factor)} per layer over layers {layers[0]}-{layers[-1]}")]


# --- learning rate ----------------------------------------------------------------------------

def _step_ratios(rec: Recording) -> list:
    """Per sampled step, the largest per-layer update/weight ratio (finite ones only)."""
    per_step = [max((r for r in ratios if math.isfinite(r)), default=math.nan)
                for ratios in rec.update_ratios]
    return [r for r in per_step if math.isfinite(r)]


def _typical_ratio(rec: Recording) -> float | None:
    """The median over sampled steps of the largest per-layer update/weight ratio."""
    per_step = _step_ratios(rec)
    return float(np.median(per_step)) if per_step else None


def _learning_rate_too_high(rec: Recording, findings: list, damage: bool) -> list:
    """The loss rises; or the steps are huge (update/weight > HIGH_RATIO) while the loss
    does not fall; or some steps are huge while units die or saturate during the run
    (``damage``): one such step is enough to kill a relu layer."""
    if rec.nonfinite_step is not None or len(rec.checkpoints) < 2:
        return []
    losses = [loss for _, loss in rec.checkpoints]
    start, end, peak = losses[0], losses[-1], max(losses)
    ratio = _typical_ratio(rec)
    biggest = max(_step_ratios(rec), default=None)
    rising = end > RISE_END * start or peak > RISE_PEAK * start
    explained = any(f.severity == "error" for f in findings)
    thrashing = (not explained and ratio is not None and ratio > HIGH_RATIO
                 and end >= 0.95 * start)
    harmful = not explained and damage and biggest is not None and biggest > HIGH_RATIO
    if not (rising or thrashing or harmful) or start <= 0:
        return []
    step = next((i + 1 for i, l in enumerate(rec.batch_losses) if l > RISE_STEP * start), None)
    if step is None:
        step = next((s for s, l in rec.checkpoints if l > RISE_STEP * start), None)
    peak_at = rec.checkpoints[int(np.argmax(losses))][0]
    lr = rec.learning_rate
    lower = f"try {_g(lr / 10)}" if lr else "lower it about 10x"
    if rising:
        how = (f"the loss rose from {_g(start)} to {_g(peak)} (at {rec.unit} {peak_at}) and "
               f"ended at {_g(end)}" + (f"; it first exceeded {RISE_STEP:g}x its start at "
                                        f"{rec.unit} {step}" if step is not None else ""))
    elif thrashing:
        how = (f"each step changes the weights by {_g(ratio)} of their size (about 1e-3 is "
               f"typical) and the loss does not fall ({_g(start)} -> {_g(end)})")
    else:
        how = (f"single steps changed a layer's weights by up to {_g(biggest)} of their size "
               f"(about 1e-3 is typical), enough to throw units out of their working range")
    why, standardize = _unscaled_data(rec)
    fix = f"Lower the learning rate ({lower}, about 10x smaller), or use 'adam' with 1e-3."
    if standardize:
        fix = f"{standardize}; then, if needed, lower the learning rate ({lower})."
    return [Finding(
        "learning_rate_too_high", "error", [],
        f"The steps are too large: {how}. With {_lr_words(rec)} each update overshoots the "
        f"minimum it is heading for.{' ' + why if why else ''}", fix,
        {"step": step, "start_loss": start, "end_loss": end, "peak_loss": peak,
         "update_ratio": ratio, "max_update_ratio": biggest, "learning_rate": lr},
        brief=(f"the loss rises from {rec.unit} {step} with {_lr_short(rec)}"
               if step is not None else
               f"steps up to {_g(biggest)} of the weights' size with {_lr_short(rec)}"))]


def _learning_rate_too_low(rec: Recording, findings: list) -> list:
    if any(f.severity in ("error", "warning") and f.code not in
           ("unscaled_inputs", "initial_loss_off") for f in findings):
        return []
    if len(rec.checkpoints) < 2 or rec.end is None:
        return []
    ratio = _typical_ratio(rec)
    start, end = rec.checkpoints[0][1], rec.checkpoints[-1][1]
    if ratio is None or start <= 0:
        return []
    progress = (start - end) / start
    if not (ratio < LOW_RATIO and progress < LOW_PROGRESS):
        return []
    lr = rec.learning_rate
    factor = max(10.0, 10 ** round(math.log10(1e-3 / max(ratio, 1e-300))))
    higher = f"try {_g(lr * factor)}" if lr else f"raise it about {_g(factor)}x"
    return [Finding(
        "learning_rate_too_low", "warning", [],
        f"The steps are too small to make progress: each changes the weights by "
        f"{_g(ratio)} of their size (a healthy step is near 1e-3) and the loss moved only "
        f"{100 * progress:.2g}% ({_g(start)} -> {_g(end)}) over {rec.steps} steps with "
        f"{_lr_words(rec)}.",
        f"Raise the learning rate ({higher}) or use 'adam' with 1e-3.",
        {"update_ratio": ratio, "loss_progress": progress, "start_loss": start,
         "end_loss": end, "learning_rate": lr, "steps": rec.steps},
        brief=f"steps change the weights by only {_g(ratio)} of their size")]


# --- data and output scale --------------------------------------------------------------------

def _unscaled_inputs(rec: Recording) -> list:
    cols = _unscaled_columns(rec)
    if not cols:
        return []
    names, mean, std = rec.inputs.names, rec.inputs.mean, rec.inputs.std
    shown = cols[:5]
    listing = "; ".join(f"{names[j]!r} (mean {_g(float(mean[j]))}, std {_g(float(std[j]))})"
                        for j in shown)
    d = len(names)
    return [Finding(
        "unscaled_inputs", "warning", [],
        f"{len(cols)} of {d} input features are far from standardized (mean 0, std 1): "
        f"{listing}{', ...' if len(cols) > len(shown) else ''}. Large inputs make large "
        "pre-activations (saturated or exploding units) and large, uneven gradients, so no "
        "single learning rate suits every weight.",
        "Standardize each feature: subtract its mean and divide by its std (scikit-learn's "
        "StandardScaler, fitted on the training data), or divide by its known range (digits "
        "pixels: X / 16).",
        {"columns": [names[j] for j in shown], "mean": [float(mean[j]) for j in shown],
         "std": [float(std[j]) for j in shown], "n_unscaled": len(cols),
         "largest_magnitude": float(rec.inputs.magnitude.max())},
        brief=f"{len(cols)} of {d} features unscaled (up to "
              f"{_g(float(rec.inputs.magnitude.max()))})")]


def _initial_loss_off(rec: Recording, explained: _Explained) -> list:
    start, u = rec.start.loss, rec.uninformed_loss
    if not (math.isfinite(start) and math.isfinite(u)):
        return []
    classifier = rec.architecture.get("loss") in ("cross_entropy", "binary_cross_entropy")
    out = rec.start.layers[-1]
    evidence = {"start_loss": start, "uninformed_loss": u, "logit_std": rec.start.logit_std,
                "prior_loss": rec.prior_loss}
    if classifier:
        if not start - u > max(LOSS_MARGIN, u):
            return []
        k = rec.architecture["layer_sizes"][-1]
        what = (f"ln {k} = {_g(u)} for {k} classes" if rec.architecture.get("output") ==
                "softmax" else f"{_g(u)}, ln 2 per sigmoid output")
        cause = (f"The untrained network's loss is {_g(start)}, far above what an uninformed "
                 f"network scores ({what}): its logits have std {_g(rec.start.logit_std)}, so "
                 "it starts out confidently wrong and the first steps are spent undoing the "
                 "initialization.")
        if _unscaled_columns(rec):
            cause += " The unscaled inputs make the logits large."
        fix = ("Scale the inputs and use a fan-scaled init (xavier_uniform for the output "
               "layer); zero output biases.")
    else:
        tm = rec.target_mean or [0.0]
        ts = rec.target_std or [0.0]
        size = _target_size(rec)
        unscaled_targets = size > UNSCALED
        wide_outputs = out.post_std > OUTPUT_SPREAD * max(size, 1.0)
        if not (start > REGRESSION_LOSS_RATIO * u and start - u > 1.0
                and (unscaled_targets or wide_outputs)):
            return []
        evidence.update(target_mean=tm, target_std=ts, output_std=out.post_std)
        ratio = f"{_g(start / u)} times" if u > 0 else "far above"
        if unscaled_targets:
            cause = (f"The untrained network's loss is {_g(start)}, {ratio} that of "
                     f"predicting the targets' mean ({_g(u)}): the targets (mean {_g(tm[0])}, "
                     f"std {_g(ts[0])}) are far from the outputs a new network gives "
                     f"(std {_g(out.post_std)} around {_g(out.post_mean)}).")
            fix = ("Standardize the targets (subtract their mean, divide by their std) and "
                   "undo it on the predictions; or start the output bias at the targets' mean.")
        else:
            cause = (f"The untrained network's loss is {_g(start)}, {ratio} that of "
                     f"predicting the targets' mean ({_g(u)}): its outputs spread with std "
                     f"{_g(out.post_std)}, while the targets' std is {_g(ts[0])}, so it "
                     "starts out far off and the first steps are spent undoing the "
                     "initialization.")
            if _unscaled_columns(rec):
                cause += " The unscaled inputs make the outputs large."
            fix = ("Scale the inputs and use a fan-scaled init (xavier_uniform for the output "
                   "layer); zero output biases.")
    return [Finding("initial_loss_off", "warning", [rec.n_layers], cause, fix, evidence,
                    brief=f"start loss {_g(start)} vs {_g(u)} for an uninformed network")]
