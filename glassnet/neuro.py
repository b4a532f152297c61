"""The hand-written API, kept working: ``Neuro(cellnum, learning_rate, activators).fit(x, y, epochs, batch_size)``.

This is the network from the blog post glassnet grew from, done properly.  Every layer,
the output included, uses the activator(s) given; the loss is squared error, so the output
error term is ``(a - y) * f'(z)``; error terms are back-propagated through the weights
above; each step moves ``w -= (learning_rate / batch_size) * x^T error``.

``.w[l]`` has shape (cellnum[l], cellnum[l+1]) and ``.b[l]`` shape (1, cellnum[l+1]); both
are lists you may overwrite before ``fit``.  The default init is random (the post's fix);
``init="zeros"`` and ``init="constant"`` (all 0.5) reproduce the two failures it describes:
with zeros nothing below the output can move, with a constant every hidden unit stays a
copy of the others.
"""
from __future__ import annotations

import numpy as np

from ._validation import (GlassnetError, UnscaledInputWarning, check_float, check_int,
                          input_scale_message, warn)
from .network import Network, ParamList, _check_sizes
from .history import (LOSS_GROWTH_LIMIT, NO_LIMIT, WEIGHT_GROWTH_LIMIT, DivergenceError,
                      History, _explosion, _largest, _loss_limit, _weight_limit)


class Neuro(Network):
    """A fully connected network trained by plain mini-batch back-propagation.

    Parameters
    ----------
    cellnum : list of int
        Units per layer, inputs first.
    learning_rate : float
        Divided by the batch size at each step, as in the hand-written loop.
    activators : int, name, or one per layer
        ``1`` is the sigmoid; see :data:`glassnet.activations.IDS` for the table.
    init : init spec, optional
        Default: the random scheme suited to each activation.  ``"zeros"`` and
        ``"constant"`` (0.5) reproduce the classic failures.
    seed : int, optional
        Seeds initialization and shuffling.
    quiet : bool
        When False (the default, like the original), ``fit`` prints ``loss = ...`` per batch.

    >>> import numpy as np
    >>> n = Neuro([2, 3, 1], learning_rate=0.5, seed=0, quiet=True)
    >>> n.w[0].shape, n.b[0].shape
    ((2, 3), (1, 3))
    >>> X, y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([[0], [1], [1], [0]])
    >>> len(n.fit(X, y, epochs=10, batch_size=2).loss)
    10
    """

    def __init__(self, cellnum, learning_rate=0.1, activators=1, init=None, *, bias_init=None,
                 seed=None, dtype="float64", quiet=False):
        cellnum = _check_sizes(cellnum, "cellnum")
        layer_num = len(cellnum) - 1
        if isinstance(activators, (list, tuple)):
            acts = list(activators)
            if len(acts) != layer_num:
                raise GlassnetError(f"activators has {len(acts)} entries; expected one per layer "
                                    f"({layer_num} for cellnum={cellnum}).")
        else:
            acts = [activators] * max(layer_num, 1)
        if isinstance(init, str) and init == "constant":
            init = ("constant", {"value": 0.5})
        super().__init__(cellnum, activation=acts[:-1], output=acts[-1], loss="squared_error",
                         init=init, bias_init=bias_init, seed=seed, dtype=dtype)
        self.learning_rate = check_float("learning_rate", learning_rate, strictly_positive=True)
        self.quiet = bool(quiet)

    def __repr__(self) -> str:
        names = [a.name for a in self.activations]
        acts = names[0] if len(set(names)) == 1 else names
        return (f"Neuro({self.layer_sizes}, learning_rate={self.learning_rate:g}, "
                f"activators={acts!r}, dtype={self.dtype.name})")

    # the original's attribute names
    @property
    def cellnum(self) -> list:
        return list(self.layer_sizes)

    @property
    def layer_num(self) -> int:
        return self.n_layers

    @property
    def activator(self) -> list:
        return list(self.activations)

    @property
    def w(self) -> ParamList:
        return self.weights

    @w.setter
    def w(self, values) -> None:
        self.set_weights(values, None)

    @property
    def b(self) -> ParamList:
        """Biases as (1, fan_out) rows: views into the same parameters as ``biases``."""
        return ParamList([b.reshape(1, -1) for b in self.biases], "b")

    @b.setter
    def b(self, values) -> None:
        self.set_weights(None, values)

    def fit(self, x, y, epochs, batch_size, quiet=None) -> History:
        """Mini-batch back-propagation; prints ``loss = ||a - y||`` per batch unless quiet.

        Every sample is used every epoch (the last batch may be smaller; its step uses its
        own size).  Returns the per-epoch mean squared-error loss.
        """
        epochs = check_int("epochs", epochs, minimum=0)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        quiet = self.quiet if quiet is None else quiet
        X, Y, _ = self.check_data(x, y)
        message = input_scale_message(X)
        if message:
            warn(message, UnscaledInputWarning)
        n = X.shape[0]
        history = History()
        snapshot = np.empty_like(self.params)
        n_batches = -(-n // batch_size)
        # divergence, the same rule as fit's: NaN, inf, or a finite explosion
        loss_limit, weight_limit = NO_LIMIT, _weight_limit(self.params)
        baseline = False                      # the first batch's loss sets loss_limit
        # overflow is detected below (non-finite loss or weights), not warned about
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(epochs):
                np.copyto(snapshot, self.params)      # the last known finite weights
                index = self.rng.permutation(n)
                X_epoch, Y_epoch = X[index], Y[index]
                total = 0.0
                for batch, start in enumerate(range(0, n, batch_size)):
                    xb, yb = X_epoch[start:start + batch_size], Y_epoch[start:start + batch_size]
                    loss = self.compute_gradients(xb, yb)          # grads = x^T error / len(batch)
                    if not loss <= loss_limit:
                        self._diverged(snapshot, history, epoch, epochs, batch, n_batches,
                                       _explosion(loss, loss_limit, LOSS_GROWTH_LIMIT,
                                                  "the loss"))
                    if not baseline:
                        loss_limit, baseline = _loss_limit(loss), True
                    total += loss * xb.shape[0]
                    if not quiet:
                        out = self._workspace(xb.shape[0]).a[-1]
                        print("loss = ", np.linalg.norm(out - yb))
                    self.params -= self.learning_rate * self.grads
                biggest = _largest(self.params)
                if not biggest <= weight_limit:
                    self._diverged(snapshot, history, epoch, epochs, n_batches - 1, n_batches,
                                   _explosion(biggest, weight_limit, WEIGHT_GROWTH_LIMIT,
                                              "the largest weight"))
                history.record(epoch, loss=total / n)
        return history

    def _diverged(self, snapshot, history, epoch, epochs, batch, n_batches, what):
        """Put back the epoch's starting weights and say where training diverged."""
        np.copyto(self.params, snapshot)
        lr = self.learning_rate
        raise DivergenceError(
            f"Training diverged at epoch {epoch + 1}/{epochs}, batch {batch + 1}/{n_batches}: "
            f"{what}. The weights were restored to those at "
            f"the start of epoch {epoch + 1} (all finite). The learning rate was {lr:.4g}; a "
            f"rate that is too high is the usual cause: try {lr / 10:.4g} (divided by 10).",
            epoch=epoch, batch=batch, history=history, learning_rate=lr)
