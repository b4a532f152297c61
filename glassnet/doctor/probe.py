"""``diagnose``: inspect a network as it is and during a short probe run on a copy."""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .. import optimizers as _opt
from .._validation import GlassnetError, check_int
from ..data import class_codes
from ..network import Network
from ..neuro import Neuro
from .report import Report
from .rules import Recording, run_rules
from .stats import class_prior_loss, input_stats, measure, target_stats, uninformed_loss


def diagnose(net, X, y, *, optimizer=None, learning_rate=None, batch_size: int = 32,
             steps: int = 100, sample_weight=None, seed: int = 0, probe_size: int = 512,
             feature_names=None, history=None) -> Report:
    """Find out why ``net`` would not learn from ``(X, y)``; returns a :class:`Report`.

    The network is measured as it is, then trained for ``steps`` mini-batch steps on a
    copy (``net`` itself, its generator included, is left exactly as it was), measured
    again, and the doctor's rules explain what they saw: see ``docs/doctor.md``.

    Parameters
    ----------
    net : Network, or a fitted ``glassnet.sklearn`` GlassClassifier / GlassRegressor
        (its network is diagnosed on X standardized as the estimator does it, and the
        probe trains with the estimator's own optimizer unless told otherwise)
    X, y : the data, as for ``fit`` (a DataFrame's column names name the features); when
        the network stores its class labels (``net.metadata["classes"]``, as
        ``from_sklearn`` and ``glassnet train`` keep them), y may hold those labels
    optimizer : name or Optimizer, default "sgd"
    learning_rate : float or schedule, default: the optimizer's own default (a
        :class:`~glassnet.Neuro` probes with plain SGD at its own learning rate)
    batch_size, steps : the probe run's batch size and number of optimizer steps
        (``steps=0`` only inspects the network as it is)
    sample_weight : optional per-sample weights for the probe's loss
    seed : seeds the probe's batches and its fixed measuring batch
    probe_size : rows of the fixed batch every layer is measured on
    feature_names : names for the columns of X, used in the ``unscaled_inputs`` finding
    history : the network's training history, for ``overfitting``: a ``History`` from
        ``fit`` or a dict ``{"loss": [...], "val_loss": [...]}`` of per-epoch losses
        (``"kept_epoch"``: the 0-based epoch whose weights the network holds, when early
        stopping restored the best); default: the history a model file stores
        (``net.metadata["training"]["history"]``, written by ``glassnet train``)

    >>> import numpy as np, glassnet
    >>> X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
    >>> glassnet.doctor.diagnose(glassnet.Network([4, 8, 2], seed=0), X, y).summary()
    'healthy'
    """
    steps = check_int("steps", steps, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    probe_size = check_int("probe_size", probe_size, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    described = ""
    if not isinstance(net, Network) and callable(getattr(net, "doctor_inputs", None)):
        # a model that wraps a network (glassnet.sklearn's estimators) hands over the
        # network, X as the network sees it and the optimizer it trains with
        given = net.doctor_inputs(X, feature_names=feature_names, batch_size=batch_size)
        described = f"{type(net).__name__} (network_ = {given.network!r})"
        net, X, feature_names = given.network, given.X, given.feature_names
        if optimizer is None and learning_rate is None:
            optimizer = given.optimizer
    _check_network(net)
    if optimizer is None and learning_rate is None and isinstance(net, Neuro):
        learning_rate = net.learning_rate                      # its own plain-SGD step size
    names = column_names(X, feature_names, net)
    work = net.copy()
    X, Y, sw = work.check_data(X, _stored_class_codes(net, y), sample_weight)
    if names is not None and len(names) != X.shape[1]:
        raise GlassnetError(f"feature_names has {len(names)} names but X has {X.shape[1]} "
                            "columns.")
    opt = _opt.get("sgd" if optimizer is None else optimizer, learning_rate)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    work.initialize_on_data(X[:min(n, max(batch_size, 256))])   # as fit does: lsuv
    rows = np.sort(rng.choice(n, size=min(n, probe_size), replace=False))
    Xp, Yp = X[rows], Y[rows]
    start = measure(work, Xp, Yp)
    w_start = [w.copy() for w in work.weights]
    run = _probe(work, X, Y, sw, Xp, Yp, opt, rng, steps, batch_size)
    end = None
    if run["steps"] and run["nonfinite_step"] is None:
        end = measure(work, Xp, Yp, step=run["steps"])
    with np.errstate(all="ignore"):
        change = [float(np.linalg.norm(w - w0)) for w, w0 in zip(work.weights, w_start)]
    rec = Recording(
        source="diagnose", architecture=architecture(net), start=start, end=end,
        weight_change=change, weight_start_norm=[float(np.linalg.norm(w)) for w in w_start],
        steps=run["steps"], inputs=input_stats(X, names),
        uninformed_loss=uninformed_loss(work, Yp), prior_loss=class_prior_loss(work, Y),
        targets=None if net.is_classifier else target_stats(Y),
        epochs=epoch_history(history if history is not None else net),
        update_ratios=run["ratios"], checkpoints=run["checkpoints"],
        batch_losses=run["losses"], nonfinite_step=run["nonfinite_step"],
        optimizer=opt.name, learning_rate=run["learning_rate"])
    context = {
        "source": "diagnose", "network": described or repr(net),
        "run": (f"{run['steps']} {opt.name} steps of {min(batch_size, n)} samples on a copy"
                f"{_lr_words(rec)}, measured on {len(rows)} of {n} samples (seed {seed})"
                if steps else f"inspected as it is on {len(rows)} of {n} samples"),
        "steps": run["steps"], "steps_requested": steps, "optimizer": opt.name,
        "learning_rate": rec.learning_rate, "batch_size": batch_size, "probe_size": len(rows),
        "n_samples": n, "seed": seed, "start_loss": start.loss,
        "end_loss": end.loss if end is not None else None,
        "uninformed_loss": rec.uninformed_loss,
        "loss_curve": [[s, l] for s, l in run["checkpoints"]],
    }
    return Report(run_rules(rec), layer_table(start, end, run["ratios"]), context)


def _probe(net, X, Y, sw, Xp, Yp, opt, rng, steps, batch_size) -> dict:
    """Train ``net`` (the copy) for ``steps`` steps, recording what the rules need.

    Each step is ``net.train_step``, the step fit takes; only the batches are drawn here.
    """
    n = X.shape[0]
    bounds = layer_bounds(net)
    every = max(1, steps // 20)
    state = opt.init(net.params)
    out = {"ratios": [], "losses": [], "checkpoints": [(0, _loss(net, Xp, Yp))],
           "nonfinite_step": None, "steps": 0, "learning_rate": first_learning_rate(opt, state)}
    order, pos = rng.permutation(n), 0
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            if pos >= n:
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            norms = _weight_norms(net.params, bounds)          # before the step
            loss, state = net.train_step(X[idx], Y[idx], None if sw is None else sw[idx],
                                         opt, state)
            out["losses"].append(float(loss))
            if not math.isfinite(loss):          # nothing was applied
                out["nonfinite_step"] = step
                break
            out["ratios"].append(_ratios(net.grads, norms, bounds))    # grads: the step
            out["steps"] = step
            if not np.all(np.isfinite(net.params)):
                out["nonfinite_step"] = step
                break
            if step % every == 0 or step == steps:
                out["checkpoints"].append((step, _loss(net, Xp, Yp)))
    return out


def epoch_history(source) -> dict | None:
    """Per-epoch ``{"loss", "val_loss", "kept_epoch"}`` from a ``History``, a dict, or a
    network whose metadata stores its training history; None when there is none."""
    kept = None
    if isinstance(source, Network):
        training = (source.metadata or {}).get("training")
        training = training if isinstance(training, dict) else {}
        source = training.get("history")
        if isinstance(training.get("kept_epoch"), int):     # 1-based, beside the history
            kept = training["kept_epoch"] - 1
    if source is None:
        return None
    if hasattr(source, "history") and hasattr(source, "epochs"):       # a fit History
        kept = _kept_epoch(source)
        source = source.history
    if not isinstance(source, dict):
        raise GlassnetError(f"history must be a fit History or a dict of per-epoch losses; "
                            f"got {type(source).__name__}.")
    def floats(key):
        values = source.get(key)
        try:
            return [float(v) for v in values] if values is not None else None
        except (TypeError, ValueError):
            raise GlassnetError(f"history[{key!r}] must be a list of numbers.") from None
    kept = source.get("kept_epoch", kept)
    return {"loss": floats("loss"), "val_loss": floats("val_loss"),
            "kept_epoch": None if kept is None else int(kept)}


def _kept_epoch(history):
    """The 0-based position in ``history`` of the epoch whose weights early stopping
    restored, or None.  A History does not say whether ``restore_best`` (fit's default)
    was on: it is assumed; pass a dict with ``kept_epoch`` to say otherwise."""
    best = getattr(history, "best_epoch", None)
    epochs = list(getattr(history, "epochs", []))
    return epochs.index(best) if best is not None and best in epochs else None


def _loss(net, X, Y) -> float:
    """The mean loss on the measuring batch (NaN or inf allowed: the rules read it)."""
    with np.errstate(all="ignore"):
        return float(np.mean(net.loss_per_sample(net.trace(X).pre[-1], Y)))


def layer_bounds(net) -> list:
    """(start, stop) of each layer's weights in the flat parameter buffer."""
    return [(w.start, w.stop) for w in net.layout.weights]


def _weight_norms(params: np.ndarray, bounds) -> list:
    with np.errstate(all="ignore"):
        return [float(np.linalg.norm(params[a:b])) for a, b in bounds]


def _ratios(step: np.ndarray, norms: list, bounds) -> list:
    """Per layer ||step of W|| / ||W|| from the norms before the step (NaN for W = 0)."""
    with np.errstate(all="ignore"):
        return [float(np.linalg.norm(step[a:b])) / w if w > 0 else math.nan
                for (a, b), w in zip(bounds, norms)]


def update_ratios(step: np.ndarray, params: np.ndarray, bounds) -> list:
    """Per layer ||step of W|| / ||W|| (NaN for an all-zero W)."""
    return _ratios(step, _weight_norms(params, bounds), bounds)


def layer_table(start, end, ratios) -> list:
    """The per-layer measurements a Report carries: start, end and the median step ratio."""
    table = []
    for l, s in enumerate(start.layers):
        column = [r[l] for r in ratios if math.isfinite(r[l])]
        table.append({"layer": s.layer, "start": s.to_dict(),
                      "end": end.layers[l].to_dict() if end is not None else None,
                      "update_ratio": float(np.median(column)) if column else None})
    return table


def architecture(net) -> dict:
    return {"layer_sizes": list(net.layer_sizes),
            "activations": [a.name for a in net.activations[:-1]],
            "output": net.output.name, "loss": net.loss.name, "dtype": net.dtype.name}


def first_learning_rate(opt, state):
    """The learning rate of the first step (a schedule's value at step 0), if it has one."""
    try:
        lr = _opt.current_learning_rate(opt, state)
    except (TypeError, ValueError, AttributeError, KeyError):
        lr = None           # an optimizer built elsewhere, with a state of its own shape
    if lr is not None:
        return float(lr)
    lr = getattr(opt, "config", {}).get("learning_rate")
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def _lr_words(rec) -> str:
    return f", learning rate {rec.learning_rate:g}" if rec.learning_rate is not None else ""


class DoctorInputs(NamedTuple):
    """What a model that wraps a network hands the doctor (its ``doctor_inputs`` method):
    the network (a copy the doctor may change), X as the network sees it, the feature
    names, and the optimizer the model trains with."""

    network: Any
    X: Any
    feature_names: Any = None
    optimizer: Any = None


def _check_network(net) -> None:
    if not isinstance(net, Network):
        raise GlassnetError(
            f"net must be a glassnet Network (or a glassnet.sklearn GlassClassifier or "
            f"GlassRegressor); got {type(net).__name__}. Convert models from "
            "elsewhere first: glassnet.from_sklearn(mlp), glassnet.from_torch(module), "
            "glassnet.from_npz(path, activation=...).")


def explain_divergence(net, X, Y, optimizer, batch_size: int):
    """The doctor's view of a run that diverged: ``(report, text)``.

    A short probe (50 steps) on a copy of ``net`` with the run's optimizer; ``text`` is
    "glassnet.doctor: " with the report's summary and its first fix.  The training loop
    calls it through ``FitSettings.explain_divergence`` (``Network.fit`` and the
    estimators set it), so the loop never imports the doctor.
    """
    report = diagnose(net, X, Y, optimizer=optimizer, batch_size=batch_size, steps=50)
    try:
        text = report.summary()
        serious = [f for f in report.findings if f.severity != "info"]
        if serious and getattr(serious[0], "fix", ""):
            text += f"\n  fix: {serious[0].fix}"
    except Exception:
        text = ""
    return report, ("glassnet.doctor: " + text) if text else ""


def _stored_class_codes(net, y):
    """Labels as class indices when the network stores its class labels (``from_sklearn``,
    ``glassnet train``): ``y`` may then hold the labels themselves, of any kind."""
    classes = (getattr(net, "metadata", None) or {}).get("classes")
    single_label = net.loss.name == "cross_entropy" or net.layer_sizes[-1] == 1
    if not (isinstance(classes, list) and net.is_classifier and single_label
            and len(classes) == net.n_classes):
        return y
    try:
        labels = np.asarray(y)
    except (TypeError, ValueError):   # ragged: left to the network's own check
        return y
    if labels.ndim != 1:
        return y
    return class_codes(labels, classes, "y")


def column_names(X, names, net):
    """The names of X's columns: given, a DataFrame's, or the network's stored ones."""
    if names is not None:
        return [str(s) for s in names]
    columns = getattr(X, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    meta = getattr(net, "metadata", None) or {}
    stored = meta.get("feature_names")
    if isinstance(stored, list) and len(stored) == net.layer_sizes[0]:
        return [str(s) for s in stored]
    return None
