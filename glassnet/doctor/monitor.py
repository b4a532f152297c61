"""``Monitor``: the doctor as a ``fit`` callback, recording every epoch of a real run."""
from __future__ import annotations

import math
import sys

import numpy as np

from .._validation import GlassnetError, check_int
from ..callbacks import Callback
from .probe import (architecture, column_names, first_learning_rate, layer_bounds,
                    layer_table, update_ratios)
from .report import Report
from .rules import Recording, run_rules
from .stats import class_prior_loss, input_stats, measure, target_stats, uninformed_loss


class Monitor(Callback):
    """Record per-layer statistics every epoch of ``fit``; ``report()`` explains the run.

    Every epoch the network is measured on one fixed batch of ``probe_size`` training rows
    (drawn once with ``numpy.random.default_rng(seed)``, never from the network's own
    generator, so training runs exactly as it would without the monitor).  Per batch it
    only keeps the loss; the size of one optimizer step is measured on the first batch of
    each epoch.

    >>> import numpy as np, glassnet
    >>> X = np.random.default_rng(0).normal(size=(200, 4)); y = (X[:, 0] > 0).astype(int)
    >>> net, monitor = glassnet.Network([4, 8, 2], seed=0), glassnet.doctor.Monitor()
    >>> _ = net.fit(X, y, epochs=3, callbacks=[monitor])
    >>> monitor.report().summary()
    'healthy'

    Attributes
    ----------
    snapshots : list of Snapshot
        The measurements: before the first step, then after every epoch.
    losses : list of float
        Every batch's loss.
    """

    def __init__(self, probe_size: int = 256, seed: int = 0, feature_names=None):
        self.probe_size = check_int("probe_size", probe_size, minimum=2)
        self.seed = check_int("seed", seed, minimum=0)
        self.feature_names = None if feature_names is None else [str(s) for s in feature_names]
        self._reset()

    def _reset(self):
        self.snapshots: list = []
        self.losses: list = []
        self._ratios: list = []
        self._checkpoints: list = []
        self._net = None
        self._before = None
        self._w_start = None
        self._nonfinite_step = None
        self._optimizer = None
        self._pending = None
        self._epoch_losses = {"loss": [], "val_loss": []}

    # --- the callback hooks ---------------------------------------------------------------------

    def on_train_begin(self, ctx, logs):
        self._reset()
        self._net = ctx.net
        X, Y = ctx.X, ctx.Y
        n = X.shape[0]
        rng = np.random.default_rng(self.seed)
        rows = np.sort(rng.choice(n, size=min(n, self.probe_size), replace=False))
        self._Xp, self._Yp = X[rows].copy(), Y[rows].copy()
        names = column_names(X, self.feature_names, ctx.net)
        if names is not None and len(names) != X.shape[1]:
            raise GlassnetError(f"Monitor: feature_names has {len(names)} names but X has "
                                f"{X.shape[1]} columns.")
        self._inputs = input_stats(X, names)
        self._n = n
        self._prior = class_prior_loss(ctx.net, Y)
        self._targets = None if ctx.net.is_classifier else target_stats(Y)
        self._optimizer = ctx.optimizer
        self._learning_rate = first_learning_rate(ctx.optimizer, ctx.state)
        self._bounds = layer_bounds(ctx.net)
        self._epochs = ctx.epochs
        self._batch_size = ctx.batch_size

    def _begin(self, ctx):
        # measured at the first batch, after anything fit does to the weights first (lsuv)
        start = measure(ctx.net, self._Xp, self._Yp, step=ctx.step)
        self.snapshots.append(start)
        self._checkpoints.append((ctx.step, start.loss))
        self._w_start = [w.copy() for w in ctx.net.weights]

    def on_batch_begin(self, ctx, logs):
        if self._w_start is None:
            self._begin(ctx)
        if ctx.batch == 0:
            self._before = ctx.net.params.copy()
        self._pending = ctx.step + 1

    def on_batch_end(self, ctx, logs):
        self._pending = None
        loss = float(logs.get("loss", math.nan))
        self.losses.append(loss)
        if not math.isfinite(loss) and self._nonfinite_step is None:
            self._nonfinite_step = ctx.step
        if self._before is not None:
            params = ctx.net.params
            self._ratios.append(update_ratios(params - self._before, self._before, self._bounds))
            self._before = None
            if self._nonfinite_step is None and not np.all(np.isfinite(params)):
                self._nonfinite_step = ctx.step

    def on_epoch_end(self, ctx, logs):
        if self._w_start is None:
            return
        snap = measure(ctx.net, self._Xp, self._Yp, step=ctx.step)
        self.snapshots.append(snap)
        for key in self._epoch_losses:
            if key in logs:
                self._epoch_losses[key].append(float(logs[key]))
        self._checkpoints.append((ctx.step, snap.loss))
        if self._nonfinite_step is None and not snap.finite:
            self._nonfinite_step = ctx.step

    def close(self):
        """Called by fit when the run ends, normally or by an exception: a DivergenceError
        (the loss or the weights became NaN/inf, and fit put back finite weights) is
        recorded at the step it happened."""
        exc = sys.exc_info()[1]
        if exc is not None and type(exc).__name__ == "DivergenceError" and \
                self._nonfinite_step is None:
            self._nonfinite_step = self._pending or len(self.losses)

    def on_train_end(self, ctx, logs):
        if self._w_start is None:   # no batch ran (epochs=0): the network as it is
            self._begin(ctx)

    # --- the report -----------------------------------------------------------------------------

    def report(self) -> Report:
        """The doctor's :class:`Report` for the recorded run (the same rules as diagnose)."""
        if self._net is None or not self.snapshots:
            raise GlassnetError("Monitor.report() needs a training run first: pass the monitor "
                                "to fit(..., callbacks=[monitor]). (A fit that resumes a "
                                "finished checkpoint trains nothing and calls no callback.)")
        net = self._net
        start = self.snapshots[0]
        steps = len(self.losses)
        end = self.snapshots[-1] if len(self.snapshots) > 1 else None
        if end is not None and (not end.finite or self._nonfinite_step is not None):
            end = None
        with np.errstate(all="ignore"):
            change = [float(np.linalg.norm(w - w0)) for w, w0 in zip(net.weights, self._w_start)]
        opt = self._optimizer
        lr = self._learning_rate
        rec = Recording(
            source="monitor", architecture=architecture(net), start=start, end=end,
            weight_change=change,
            weight_start_norm=[float(np.linalg.norm(w)) for w in self._w_start],
            steps=steps, inputs=self._inputs,
            uninformed_loss=uninformed_loss(net, self._Yp), prior_loss=self._prior,
            targets=self._targets, epochs=self._fit_history(),
            update_ratios=self._ratios, checkpoints=self._checkpoints,
            batch_losses=self.losses, nonfinite_step=self._nonfinite_step,
            optimizer=getattr(opt, "name", "sgd"), learning_rate=lr)
        epochs = len(self.snapshots) - 1
        context = {
            "source": "monitor", "network": repr(net),
            "run": (f"fit: {epochs} epochs, {steps} {rec.optimizer} steps"
                    f"{'' if lr is None else f', learning rate {lr:g}'}; measured every epoch "
                    f"on {len(self._Xp)} of {self._n} samples (seed {self.seed})"),
            "steps": steps, "epochs": epochs, "optimizer": rec.optimizer, "learning_rate": lr,
            "probe_size": len(self._Xp), "n_samples": self._n, "seed": self.seed,
            "start_loss": start.loss, "end_loss": self.snapshots[-1].loss,
            "uninformed_loss": rec.uninformed_loss,
            "loss_curve": [[s, l] for s, l in self._checkpoints],
        }
        return Report(run_rules(rec), layer_table(start, end, self._ratios), context)

    def _fit_history(self) -> dict | None:
        """The per-epoch losses fit logged (val_loss with validation data)."""
        losses = self._epoch_losses
        if not losses["val_loss"] or len(losses["val_loss"]) != len(losses["loss"]):
            return None
        return {"loss": list(losses["loss"]), "val_loss": list(losses["val_loss"]),
                "kept_epoch": self._kept_epoch(len(losses["loss"]))}

    def _kept_epoch(self, epochs: int) -> int | None:
        """The 0-based epoch whose weights the network holds now: the last epoch whose
        measurement on the fixed batch the network still gives bit for bit (early stopping
        with restore-best puts an earlier epoch's weights back); None if none does."""
        after = self.snapshots[1:epochs + 1]
        if not after:
            return None
        now = measure(self._net, self._Xp, self._Yp).loss
        same = [i for i, snap in enumerate(after) if snap.loss == now]
        return same[-1] if same else None

    def history(self, field: str) -> np.ndarray:
        """One LayerStats field per snapshot and layer: an array (snapshots, layers).

        >>> # monitor.history("signal_std")[:, 0] is layer 1's signal std, epoch by epoch
        """
        if not self.snapshots:
            raise GlassnetError("Monitor.history() needs a training run first.")
        if not hasattr(self.snapshots[0].layers[0], field):
            raise GlassnetError(f"Unknown layer statistic {field!r}; see "
                                "glassnet.doctor.LayerStats for the fields.")
        return np.array([[float(getattr(s, field)) for s in snap.layers]
                         for snap in self.snapshots])

