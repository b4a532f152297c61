"""The data: ``labels_as_targets``, ``unscaled_targets``, ``unscaled_inputs``, and
``initial_loss_off`` (an untrained network far from its targets)."""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from .base import Recording, g, has, is_classifier, target_size, unscaled_columns
from .thresholds import (LABEL_REPEATS, LABEL_VALUES, LOSS_MARGIN, OUTPUT_SCALE_MIN,
                         OUTPUT_SPREAD, REGRESSION_LOSS_MARGIN, REGRESSION_LOSS_RATIO,
                         UNSCALED)


def labels_as_targets(rec: Recording, found: tuple) -> list:
    """A few distinct whole numbers fed to an identity output: class labels read as
    quantities."""
    t = rec.targets
    if t is None or rec.architecture.get("output") != "identity" or t.mean.size != 1:
        return []   # several outputs of 0/1 are classes one-hot encoded already
    if not (t.integer and 2 <= t.distinct <= LABEL_VALUES
            and t.rows >= LABEL_REPEATS * t.distinct):
        return []
    shown = ", ".join(f"{v:g}" for v in t.values[:10]) + (", ..." if len(t.values) > 10 else "")
    return [Finding(
        "labels_as_targets", "warning", [rec.n_layers],
        f"The targets take only {t.distinct} distinct whole-number values ({shown}) over "
        f"{t.rows} rows, and they go into an identity output trained on "
        f"{rec.architecture.get('loss')}: they look like class labels. A regression output "
        "reads them as amounts on one line: it is pulled towards in-between values (a 4.5 "
        "for a 4-or-5), class 9 is 'further' from class 0 than class 1 is, and its error is "
        "measured in label units.",
        "If they are classes: use a softmax output with cross-entropy "
        "(Network(..., output='softmax'), the default for integer labels) or "
        "glassnet.sklearn.GlassClassifier; if they really are amounts (counts, ratings), "
        "standardize them, as GlassRegressor does.",
        {"distinct_values": t.distinct, "values": t.values, "rows": t.rows,
         "target_mean": t.mean.tolist(), "target_std": t.std.tolist()},
        brief=f"{t.distinct} integer target values into an identity output")]


def unscaled_targets(rec: Recording, found: tuple) -> list:
    """Regression targets far from standardized while the outputs are far from them."""
    t = rec.targets
    if t is None or has(found, "labels_as_targets") or target_size(rec) <= UNSCALED:
        return []
    out = rec.start.layers[-1]
    if not (math.isfinite(out.post_mean) and math.isfinite(out.post_std)):
        return []
    mean, std = float(np.max(np.abs(t.mean))), float(np.max(t.std))
    off_center = abs(out.post_mean - float(np.mean(t.mean))) > std
    too_narrow = out.post_std < OUTPUT_SCALE_MIN * std
    if not (off_center or too_narrow):
        return []
    return [Finding(
        "unscaled_targets", "warning", [rec.n_layers],
        f"The regression targets are far from standardized: mean {g(t.mean[0])}, std "
        f"{g(t.std[0])} (size sqrt(mean^2 + std^2) up to {g(target_size(rec))}; standardized "
        f"targets are about 1), while the untrained network's outputs have mean "
        f"{g(out.post_mean)} and std {g(out.post_std)}. The output must grow by that much, "
        "so the first steps are spent only on the scale, the gradients are as large as the "
        "targets, and adaptive optimizers (steps of about the learning rate) need thousands "
        "of steps to get there.",
        "Standardize the targets (subtract their mean, divide by their std) and undo it on "
        "the predictions, as glassnet.sklearn.GlassRegressor and `glassnet train` do; or "
        "rescale the output layer (its biases at the targets' mean, its weights by their std).",
        {"target_mean": t.mean.tolist(), "target_std": t.std.tolist(),
         "output_mean": out.post_mean, "output_std": out.post_std,
         "largest_magnitude": target_size(rec)},
        brief=f"targets of mean {g(mean)} and std {g(std)} unscaled")]


def unscaled_inputs(rec: Recording, found: tuple) -> list:
    cols = unscaled_columns(rec)
    if not cols:
        return []
    names, mean, std = rec.inputs.names, rec.inputs.mean, rec.inputs.std
    shown = cols[:5]
    listing = "; ".join(f"{names[j]!r} (mean {g(float(mean[j]))}, std {g(float(std[j]))})"
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
              f"{g(float(rec.inputs.magnitude.max()))})")]


def initial_loss_off(rec: Recording, found: tuple) -> list:
    start, u = rec.start.loss, rec.uninformed_loss
    if not (math.isfinite(start) and math.isfinite(u)):
        return []
    out = rec.start.layers[-1]
    evidence = {"start_loss": start, "uninformed_loss": u, "logit_std": rec.start.logit_std,
                "prior_loss": rec.prior_loss}
    if is_classifier(rec):
        if not start - u > max(LOSS_MARGIN, u):
            return []
        k = rec.architecture["layer_sizes"][-1]
        what = (f"ln {k} = {g(u)} for {k} classes" if rec.architecture.get("output") ==
                "softmax" else f"{g(u)}, ln 2 per sigmoid output")
        cause = (f"The untrained network's loss is {g(start)}, far above what an uninformed "
                 f"network scores ({what}): its logits have std {g(rec.start.logit_std)}, so "
                 "it starts out confidently wrong and the first steps are spent undoing the "
                 "initialization.")
        if unscaled_columns(rec):
            cause += " The unscaled inputs make the logits large."
        fix = ("Scale the inputs and use a fan-scaled init (xavier_uniform for the output "
               "layer); zero output biases.")
    else:
        tm = rec.target_mean or [0.0]
        ts = rec.target_std or [0.0]
        size = target_size(rec)
        unscaled = size > UNSCALED
        wide_outputs = out.post_std > OUTPUT_SPREAD * max(size, 1.0)
        if not (start > REGRESSION_LOSS_RATIO * u and start - u > REGRESSION_LOSS_MARGIN
                and (unscaled or wide_outputs)):
            return []
        evidence.update(target_mean=tm, target_std=ts, output_std=out.post_std)
        ratio = f"{g(start / u)} times" if u > 0 else "far above"
        if unscaled:
            cause = (f"The untrained network's loss is {g(start)}, {ratio} that of "
                     f"predicting the targets' mean ({g(u)}): the targets (mean {g(tm[0])}, "
                     f"std {g(ts[0])}) are far from the outputs a new network gives "
                     f"(std {g(out.post_std)} around {g(out.post_mean)}).")
            fix = ("Standardize the targets (subtract their mean, divide by their std) and "
                   "undo it on the predictions; or start the output bias at the targets' mean.")
        else:
            cause = (f"The untrained network's loss is {g(start)}, {ratio} that of "
                     f"predicting the targets' mean ({g(u)}): its outputs spread with std "
                     f"{g(out.post_std)}, while the targets' std is {g(ts[0])}, so it "
                     "starts out far off and the first steps are spent undoing the "
                     "initialization.")
            if unscaled_columns(rec):
                cause += " The unscaled inputs make the outputs large."
            fix = ("Scale the inputs and use a fan-scaled init (xavier_uniform for the output "
                   "layer); zero output biases.")
    return [Finding("initial_loss_off", "warning", [rec.n_layers], cause, fix, evidence,
                    brief=f"start loss {g(start)} vs {g(u)} for an uninformed network")]
