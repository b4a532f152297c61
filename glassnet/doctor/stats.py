"""Per-layer measurements on one batch: what the doctor's rules read.

:func:`measure` runs one forward and one backward pass on a batch (its own backward, so
the network's gradient buffer is left alone) and returns a :class:`Snapshot`: one
:class:`LayerStats` per weight layer plus the batch loss.  :func:`input_stats` describes
the data and :func:`uninformed_loss` the loss an uninformed network scores.

Layers are numbered as the user sees them: layer ``k`` (1-based) is ``net.weights[k - 1]``
and the units it feeds, so hidden layers are ``1 .. n_layers - 1`` and layer ``n_layers``
is the output layer.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

Array = np.ndarray

#: a bounded unit counts as saturated on a row where f'(z) is below this fraction of its
#: largest value (tanh: |z| > 1.82, |a| > 0.949; sigmoid: |z| > 3.66) ...
SATURATION_SLOPE = 0.1
#: ... and is a saturated unit when that holds on at least half of the rows
SATURATED_ROWS = 0.5
#: a unit that passes signal and gradient on at most this fraction of the rows is inactive
#: (a dead unit, the strict kind, passes them on none)
INACTIVE_ROWS = 0.01
#: activations whose slope vanishes for large |z|, with their largest slope f'(0)
BOUNDED = {"tanh": 1.0, "sigmoid": 0.25}
#: two units are the same unit when their incoming weights and bias agree to this much,
#: relative to the largest weight or bias of the layer (float rounding in a product of
#: identical columns stays far below it; independent random draws are far above it)
DISTINCT_RTOL = 1e-6


@dataclass
class LayerStats:
    """What one weight layer looks like on a batch.

    ``pre`` is the pre-activation z = a_below @ W + b and ``post`` the activation f(z);
    means and stds are over every entry of the batch.  ``signal_std`` is the part that
    depends on the input: each unit's std over the rows, root-mean-squared over the units
    (a bias shifts z without adding any of it).  ``delta_rms`` is the RMS of the
    back-propagated error dL/dz.
    """

    layer: int                 # 1-based; net.weights[layer - 1]
    kind: str                  # "hidden" or "output"
    activation: str
    fan_in: int
    units: int
    weight_norm: float         # Frobenius norm of the incoming weights
    weight_rms: float          # RMS of the incoming weights
    bias_mean: float
    grad_norm: float           # norm of dL/dW on the batch
    weight_zero: bool = False  # every incoming weight is exactly 0
    weight_constant: bool = False  # every incoming weight is the same number (0 included)
    grad_zero: bool = False    # dL/dW is exactly 0 on the batch
    input_zero: bool = False   # the layer's input (X or the layer below) is exactly 0
    delta_zero: bool = False   # dL/dz is exactly 0: no error reaches the layer
    gate_closed: bool = False  # f'(z) = 0 for every unit on every row: nothing passes back
    pre_mean: float = 0.0
    pre_std: float = 0.0
    post_mean: float = 0.0
    post_std: float = 0.0
    signal_std: float = 0.0
    mean_abs_pre: float = 0.0
    delta_rms: float = 0.0
    dead_units: int = 0        # output 0 and slope 0 on every row, incoming weights not all 0
    inactive_units: int = 0    # the same on >= 99% of the rows (dead units included)
    active_rate: float = 1.0   # fraction of (row, unit) entries with a nonzero output or slope
    zero_weight_units: int = 0  # units whose incoming weights are all exactly 0
    saturated_units: int = 0   # tanh/sigmoid units in their flat tails on >= half the rows
    #                            (output units only when the loss is not fused with them)
    distinct_units: int = 0    # units whose incoming weights and bias are identical count once
    nonfinite: bool = False    # NaN or inf in z or f(z)

    @property
    def dead_fraction(self) -> float:
        return self.dead_units / self.units

    @property
    def inactive_fraction(self) -> float:
        return self.inactive_units / self.units

    @property
    def saturated_fraction(self) -> float:
        return self.saturated_units / self.units

    def to_dict(self) -> dict:
        out = asdict(self)
        out["dead_fraction"] = self.dead_fraction
        out["inactive_fraction"] = self.inactive_fraction
        out["saturated_fraction"] = self.saturated_fraction
        return out


@dataclass
class Snapshot:
    """One batch's measurements: a :class:`LayerStats` per layer and the batch loss."""

    layers: list
    loss: float
    logit_std: float           # std of the output layer's pre-activations (the logits)
    step: int = 0              # optimizer steps taken when it was measured
    finite: bool = True        # every parameter is finite
    extra: dict = field(default_factory=dict)

    @property
    def hidden(self) -> list:
        return self.layers[:-1]


def measure(net, X: Array, Y: Array, *, step: int = 0) -> Snapshot:
    """Measure every layer of ``net`` on the validated batch ``X`` (n, d), ``Y`` (n, k).

    Nothing in ``net`` changes: the values and gradients come from ``net.trace(X, Y)``,
    the network's own forward and backward pass, which leaves ``net.grads`` alone.
    """
    L = net.n_layers
    finite = bool(np.all(np.isfinite(net.params)))
    with np.errstate(all="ignore"):
        t = net.trace(X, Y)
        layers = []
        for l in range(L):
            layers.append(_layer_stats(l, L, net, t.inputs if l == 0 else t.post[l - 1],
                                       t.pre[l], t.post[l], t.delta[l], t.grad_w[l]))
        logit_std = float(np.std(t.pre[-1]))
    return Snapshot(layers, float(t.loss), logit_std, step=step, finite=finite)


def _layer_stats(l, L, net, below, z, a, delta, grad) -> LayerStats:
    W, b = net.weights[l], net.biases[l]
    act = net.activations[l]
    units = W.shape[1]
    nonfinite = not (np.all(np.isfinite(z)) and np.all(np.isfinite(a)))
    zero_cols = ~np.any(W != 0, axis=0)                                  # (units,)
    slope = act.df(z) if act.elementwise else np.ones_like(z)            # (batch, units)
    passing = (slope != 0) | (a != 0)                                    # (batch, units)
    closed = ~np.any(slope != 0, axis=0)                                 # slope 0 on every row
    rows_passing = np.mean(passing, axis=0)                              # (units,)
    dead = (rows_passing == 0) & ~zero_cols
    inactive = (rows_passing <= INACTIVE_ROWS) & ~zero_cols
    saturated = 0
    # a confident output unit is the goal, not a fault, when the loss cancels its slope
    # (softmax or sigmoid with cross-entropy); with squared error its slope blocks learning
    if act.name in BOUNDED and (l < L - 1 or not net.fused_loss):
        flat = slope < SATURATION_SLOPE * BOUNDED[act.name]
        saturated = int(np.sum(np.mean(flat, axis=0) >= SATURATED_ROWS))
    per_unit_std = np.std(a, axis=0) if a.shape[0] > 1 else np.zeros(units)
    return LayerStats(
        layer=l + 1, kind="output" if l == L - 1 else "hidden", activation=act.name,
        fan_in=W.shape[0], units=units,
        weight_norm=float(np.linalg.norm(W)), weight_rms=float(np.sqrt(np.mean(W * W))),
        bias_mean=float(np.mean(b)), grad_norm=float(np.linalg.norm(grad)),
        weight_zero=not np.any(W != 0),
        weight_constant=bool(W.size and np.all(W == W.flat[0])), grad_zero=not np.any(grad != 0),
        input_zero=not np.any(below != 0), delta_zero=not np.any(delta != 0),
        gate_closed=bool(act.elementwise and np.all(closed)),
        pre_mean=float(np.mean(z)), pre_std=float(np.std(z)),
        post_mean=float(np.mean(a)), post_std=float(np.std(a)),
        signal_std=float(np.sqrt(np.mean(per_unit_std * per_unit_std))),
        mean_abs_pre=float(np.mean(np.abs(z))),
        delta_rms=float(np.sqrt(np.mean(delta * delta)) * z.shape[0]),
        dead_units=int(np.sum(dead)), inactive_units=int(np.sum(inactive)),
        active_rate=float(np.mean(passing)), zero_weight_units=int(np.sum(zero_cols)),
        saturated_units=saturated,
        distinct_units=distinct_units(W, b) if not nonfinite else units,
        nonfinite=bool(nonfinite),
    )


def distinct_units(W: Array, b: Array, rtol: float = DISTINCT_RTOL) -> int:
    """How many different units a layer has: units with identical incoming weights and bias
    (column ``W[:, j]`` and ``b[j]``) count once.

    Units match when every entry agrees within ``rtol`` times the layer's largest |weight|
    or |bias|.  Columns are sorted by a fixed projection, so only neighbours in that order
    are compared: O(units log units) for a random layer, O(units * fan_in) for a
    symmetric one.

    >>> import numpy as np
    >>> distinct_units(np.full((3, 4), 0.5), np.zeros(4))
    1
    """
    cols = np.vstack([W, np.reshape(b, (1, -1))]).T                    # (units, fan_in + 1)
    if not np.all(np.isfinite(cols)):
        return cols.shape[0]
    scale = float(np.max(np.abs(cols))) if cols.size else 0.0
    if scale == 0.0:
        return 1
    cols = cols / scale                                                 # entries in [-1, 1]
    tol = rtol
    # a fixed, generic direction: equal columns project equally, different ones almost never
    direction = np.random.default_rng(0).standard_normal(cols.shape[1])
    proj = cols @ direction
    order = np.argsort(proj, kind="stable")
    gaps = np.diff(proj[order]) > tol * np.sum(np.abs(direction))
    count, start = 0, 0
    for stop in [*(np.flatnonzero(gaps) + 1), len(order)]:
        count += _cluster_count(cols[order[start:stop]], tol)
        start = stop
    return count


def _cluster_count(group: Array, tol: float) -> int:
    """Number of distinct rows in a group of near-equal projections (greedy, exact check)."""
    reps: list = []
    for row in group:
        if not any(np.max(np.abs(row - r)) <= tol for r in reps):
            reps.append(row)
    return len(reps)


@dataclass
class InputStats:
    """Per-feature mean and std of the data, and the features' names when known."""

    mean: Array
    std: Array
    names: list

    @property
    def magnitude(self) -> Array:
        """sqrt(mean^2 + std^2): the RMS size of each feature's values."""
        return np.hypot(self.mean, self.std)


def input_stats(X: Array, names=None) -> InputStats:
    """Feature means and stds of ``X`` (n, d), in float64.

    Computed in blocks of rows (two passes: mean, then squared deviations), so a large
    float32 X is never copied whole to float64.
    """
    X = np.asarray(X)
    n, d = X.shape
    names = list(names) if names is not None else [f"column {j}" for j in range(d)]
    block = max(1, (1 << 22) // max(d, 1))          # about 32 MB of float64 per block
    total = np.zeros(d)
    squares = np.zeros(d)
    with np.errstate(all="ignore"):     # values near 1e308 overflow the sums: inf is the answer
        for start in range(0, n, block):
            total += X[start:start + block].sum(axis=0, dtype=np.float64)
        mean = total / n
        for start in range(0, n, block):
            dev = X[start:start + block].astype(np.float64) - mean
            squares += np.einsum("ij,ij->j", dev, dev)
        return InputStats(mean, np.sqrt(squares / n), [str(s) for s in names])


@dataclass
class TargetStats:
    """A regressor's targets: per-output mean and std, and what kind of values they hold.

    ``distinct`` counts the different values (all outputs together), stopping at
    ``DISTINCT_CAP`` + 1; ``integer`` is True when every value is a whole number.
    """

    mean: Array
    std: Array
    distinct: int
    integer: bool
    rows: int = 0
    values: list = field(default_factory=list)   # the distinct values, when at most 20

    @property
    def magnitude(self) -> Array:
        """sqrt(mean^2 + std^2): the RMS size of each output's targets."""
        return np.hypot(self.mean, self.std)


#: target_stats counts distinct values up to this many (more is "many")
DISTINCT_CAP = 100
#: target_stats looks at no more rows than this to count distinct values
DISTINCT_ROWS = 100_000


def target_stats(Y: Array) -> TargetStats:
    """Mean, std and the kind of values of a regressor's targets ``Y`` (n, k)."""
    Y = np.asarray(Y)
    head = Y[:DISTINCT_ROWS].ravel()
    with np.errstate(all="ignore"):
        mean = Y.mean(axis=0, dtype=np.float64)
        std = Y.std(axis=0, dtype=np.float64)
        finite = bool(np.all(np.isfinite(head)))
        integer = finite and bool(np.all(head == np.round(head)))
    values = np.unique(head) if finite else head[:0]
    return TargetStats(mean, std, int(min(values.size, DISTINCT_CAP + 1)), integer,
                       rows=int(Y.shape[0]),
                       values=values.tolist() if values.size <= 20 else [])


def uninformed_loss(net, Y: Array) -> float:
    """The loss of a network that knows nothing: uniform class probabilities for softmax
    (ln K for one-hot targets over K classes), 1/2 for each sigmoid output (ln 2 each), the
    targets' mean for an identity output (1/2 the summed variance for squared error)."""
    k = Y.shape[1]
    name = net.output.name
    if name == "softmax":
        guess = np.full_like(Y, 1.0 / k)
    elif name == "sigmoid":
        guess = np.full_like(Y, 0.5)
    else:
        guess = np.broadcast_to(Y.mean(axis=0), Y.shape).copy()
    with np.errstate(all="ignore"):
        return float(np.mean(net.loss.per_sample(guess, Y)))


def class_prior_loss(net, Y: Array) -> float | None:
    """For a classifier, the loss of predicting the class frequencies (their entropy)."""
    if net.loss.name != "cross_entropy":
        return None
    p = Y.mean(axis=0)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))
