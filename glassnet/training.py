"""The fit loop, read top to bottom: batching, optimizer step, history."""
from __future__ import annotations

import numpy as np

from . import optimizers as _opt
from .callbacks import TrainingContext
from ._validation import GlassnetError, check_int


class History:
    """Per-epoch values of every tracked quantity: ``history["loss"]``, ``history.loss``."""

    def __init__(self):
        self.history: dict[str, list] = {"loss": []}
        self.epochs: list[int] = []

    def record(self, epoch: int, **values) -> None:
        self.epochs.append(epoch)
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def __len__(self):
        return len(self.epochs)

    @property
    def loss(self) -> list:
        return self.history["loss"]

    def to_dict(self) -> dict:
        return {"epochs": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History({len(self)} epochs, last={last})"


def fit(net, X, y, *, epochs: int = 10, batch_size: int = 32, learning_rate=0.01,
        optimizer="sgd", shuffle: bool = True, verbose: int = 0, sample_weight=None,
        callbacks=()) -> History:
    """Train ``net`` with mini-batch gradient descent; returns a :class:`History`.

    Every epoch uses every sample once, the last smaller batch included, in an order
    drawn from the network's generator (so the same seed gives the same run, bit for bit).
    """
    epochs = check_int("epochs", epochs, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    X, Y, sw = net._check_pair(X, y, sample_weight)
    opt = _opt.get(optimizer, learning_rate)
    state = opt.init(net.params)
    history = History()
    n = X.shape[0]
    callbacks = list(callbacks or ())
    ctx = TrainingContext(net, X, Y, opt, state, history, epochs=epochs, batch_size=batch_size)
    for cb in callbacks:
        cb.on_train_begin(ctx, {})
    if net._needs_data_init:
        from .initializers import lsuv
        lsuv(net, X[:min(n, max(batch_size, 256))])
        net._needs_data_init = False
    bx, by, bw = (np.empty_like(X), np.empty_like(Y), None if sw is None else np.empty_like(sw))
    for epoch in range(epochs):
        ctx.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(ctx, {})
        if shuffle:
            order = net.rng.permutation(n)
            np.take(X, order, axis=0, out=bx)
            np.take(Y, order, axis=0, out=by)
            if sw is not None:
                np.take(sw, order, out=bw)
            xs, ys, ws = bx, by, bw
        else:
            xs, ys, ws = X, Y, sw
        total = 0.0
        for batch, start in enumerate(range(0, n, batch_size)):
            ctx.batch = batch
            for cb in callbacks:
                cb.on_batch_begin(ctx, {})
            stop = start + batch_size
            loss = net._train_batch(xs[start:stop], ys[start:stop],
                                    None if ws is None else ws[start:stop])
            total += loss * (min(stop, n) - start)
            state = ctx.state = opt.update(net.grads, state, net.params)
            net.params += net.grads
            ctx.step += 1
            for cb in callbacks:
                cb.on_batch_end(ctx, {"loss": loss})
            if ctx.stop:
                break
        logs = {"loss": total / n}
        history.record(epoch, **logs)
        for cb in callbacks:
            cb.on_epoch_end(ctx, logs)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  loss {total / n:.6f}")
        if ctx.stop:
            break
    for cb in callbacks:
        cb.on_train_end(ctx, {})
    return history
