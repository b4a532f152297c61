"""The steps: ``divergence``, ``learning_rate_too_high``, ``learning_rate_too_low``.

A step's size is judged against the weights it changes (update / weight), never against
weights that are zero or tiny (their ratio is huge whatever the learning rate).
"""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from .base import Recording, g, has, lr_short, lr_words, tiny_layers
from .thresholds import (HEALTHY_RATIO, HIGH_RATIO, LOW_PROGRESS, LOW_RATIO, LR_CUT,
                         NO_PROGRESS, RISE_END, RISE_PEAK, RISE_STEP)


def _lower(rec: Recording, short: bool = False) -> str:
    lr = rec.learning_rate
    if not lr:
        return f"lower it about {LR_CUT:g}x"
    return f"try {g(lr / LR_CUT)}" + ("" if short else f" ({LR_CUT:g}x smaller) or less")


def broken_parameters(rec: Recording, found: tuple) -> list:
    """Parameters already NaN or infinite, or a forward pass that overflows before any step."""
    start = rec.start
    if not start.finite:
        bad = [s.layer for s in start.layers if s.nonfinite] or list(range(1, rec.n_layers + 1))
        return [Finding(
            "divergence", "error", bad,
            "The network's parameters already hold NaN or infinite values: an earlier "
            "training run diverged (a step too large made them overflow), so every output "
            "is NaN.",
            f"Start again from a fresh initialization (or the last good checkpoint) with a "
            f"learning rate about {LR_CUT:g}x smaller; scale the inputs.",
            {"nonfinite_layers": bad}, brief="the parameters are already NaN or inf",
            explains=bad)]
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
            brief=f"layer {first} overflows in the forward pass",
            explains=range(first, rec.n_layers + 1))]
    return []


def divergence(rec: Recording, found: tuple) -> list:
    """The loss or the weights became NaN or infinite during the run."""
    if rec.nonfinite_step is None or not rec.start.finite or has(found, "exploding_signal") \
            and any(f.evidence.get("first_nonfinite_layer") for f in found):
        return []
    step = rec.nonfinite_step
    finite = [l for l in rec.batch_losses[:max(step - 1, 0)] if math.isfinite(l)]
    last = finite[-1] if finite else rec.start.loss
    ratios = _step_ratios(rec)
    evidence = {"step": step, "start_loss": rec.start.loss, "last_finite_loss": last,
                "learning_rate": rec.learning_rate, "optimizer": rec.optimizer,
                "max_update_ratio": max(ratios) if ratios else None}
    return [Finding(
        "divergence", "error", [],
        f"Training diverged: the loss became NaN or infinite at {rec.unit} {step} (it was "
        f"{g(rec.start.loss)} at the start and {g(last)} just before). Each step is too "
        f"large for this network: {lr_words(rec)} overshoots, the weights grow without bound "
        "and overflow.",
        f"Lower the learning rate: {_lower(rec)}; or use optimizer 'adam' with "
        "learning_rate=1e-3.",
        evidence, brief=f"the loss became NaN/inf at {rec.unit} {step} with {lr_short(rec)}")]


def _step_ratios(rec: Recording) -> list:
    """Per sampled step, the largest per-layer update/weight ratio (finite ones only, and
    only of layers whose weights did not start at zero or tiny)."""
    skip = tiny_layers(rec)
    per_step = [max((r for l, r in enumerate(ratios) if l not in skip and math.isfinite(r)),
                    default=math.nan)
                for ratios in rec.update_ratios]
    return [r for r in per_step if math.isfinite(r)]


def typical_ratio(rec: Recording) -> float | None:
    """The median over sampled steps of the largest per-layer update/weight ratio."""
    per_step = _step_ratios(rec)
    return float(np.median(per_step)) if per_step else None


def learning_rate_too_high(rec: Recording, found: tuple) -> list:
    """The loss rises; or the steps are huge (update/weight > HIGH_RATIO) while the loss
    does not fall; or some steps are huge while units die or saturate during the run: one
    such step is enough to kill a relu layer."""
    if rec.nonfinite_step is not None or len(rec.checkpoints) < 2:
        return []
    losses = [loss for _, loss in rec.checkpoints]
    start, end, peak = losses[0], losses[-1], max(losses)
    ratio = typical_ratio(rec)
    biggest = max(_step_ratios(rec), default=None)
    rising = end > RISE_END * start or peak > RISE_PEAK * start
    on_the_way = [f for f in found if f.code in ("dead_units", "saturated_units")
                  and f.evidence.get("when") == "run"]
    explained = any(f.severity == "error" for f in found if f not in on_the_way)
    damage = bool(on_the_way)
    thrashing = (not explained and ratio is not None and ratio > HIGH_RATIO
                 and end >= NO_PROGRESS * start)
    harmful = not explained and damage and biggest is not None and biggest > HIGH_RATIO
    if not (rising or thrashing or harmful) or start <= 0:
        return []
    step = next((i + 1 for i, l in enumerate(rec.batch_losses) if l > RISE_STEP * start), None)
    if step is None:
        step = next((s for s, l in rec.checkpoints if l > RISE_STEP * start), None)
    peak_at = rec.checkpoints[int(np.argmax(losses))][0]
    if rising:
        how = (f"the loss rose from {g(start)} to {g(peak)} (at {rec.unit} {peak_at}) and "
               f"ended at {g(end)}" + (f"; it first exceeded {RISE_STEP:g}x its start at "
                                       f"{rec.unit} {step}" if step is not None else ""))
    elif thrashing:
        how = (f"each step changes the weights by {g(ratio)} of their size (about "
               f"{HEALTHY_RATIO:g} is typical) and the loss does not fall ({g(start)} -> "
               f"{g(end)})")
    else:
        how = (f"single steps changed a layer's weights by up to {g(biggest)} of their size "
               f"(about {HEALTHY_RATIO:g} is typical), enough to throw units out of their "
               "working range")
    return [Finding(
        "learning_rate_too_high", "error", [],
        f"The steps are too large: {how}. With {lr_words(rec)} each update overshoots the "
        "minimum it is heading for.",
        f"Lower the learning rate ({_lower(rec, short=True)}, about {LR_CUT:g}x smaller), or "
        "use 'adam' with 1e-3.",
        {"step": step, "start_loss": start, "end_loss": end, "peak_loss": peak,
         "update_ratio": ratio, "max_update_ratio": biggest, "learning_rate": rec.learning_rate},
        brief=(f"the loss rises from {rec.unit} {step} with {lr_short(rec)}"
               if step is not None else
               f"steps up to {g(biggest)} of the weights' size with {lr_short(rec)}"))]


def learning_rate_too_low(rec: Recording, found: tuple) -> list:
    if any(f.severity in ("error", "warning") and f.code not in
           ("unscaled_inputs", "initial_loss_off", "overfitting") for f in found):
        return []
    if len(rec.checkpoints) < 2 or rec.end is None:
        return []
    ratio = typical_ratio(rec)
    start, end = rec.checkpoints[0][1], rec.checkpoints[-1][1]
    if ratio is None or start <= 0:
        return []
    progress = (start - end) / start
    if not (ratio < LOW_RATIO and progress < LOW_PROGRESS):
        return []
    lr = rec.learning_rate
    factor = max(LR_CUT, 10 ** round(math.log10(HEALTHY_RATIO / max(ratio, 1e-300))))
    higher = f"try {g(lr * factor)}" if lr else f"raise it about {g(factor)}x"
    return [Finding(
        "learning_rate_too_low", "warning", [],
        f"The steps are too small to make progress: each changes the weights by "
        f"{g(ratio)} of their size (a healthy step is near {HEALTHY_RATIO:g}) and the loss "
        f"moved only {100 * progress:.2g}% ({g(start)} -> {g(end)}) over {rec.steps} steps "
        f"with {lr_words(rec)}.",
        f"Raise the learning rate ({higher}) or use 'adam' with 1e-3.",
        {"update_ratio": ratio, "loss_progress": progress, "start_loss": start,
         "end_loss": end, "learning_rate": lr, "steps": rec.steps},
        brief=f"steps change the weights by only {g(ratio)} of their size")]
