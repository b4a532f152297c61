"""Weight initializers: functions of ``(fan_in, fan_out, rng, dtype)``, in one registry.

Every scheme is a factory that takes the scheme's parameters and returns an
:class:`Initializer`, called as ``init(fan_in, fan_out, rng, dtype=np.float64, shape=None)``.
Weight matrices are ``(fan_in, fan_out)`` (PyTorch stores the transpose); the formulas,
defaults and gains follow ``torch.nn.init`` unless the table in ``docs/initialization.md``
says otherwise.

=====================  ====================================================================
name (aliases)         draw
=====================  ====================================================================
zeros, ones            0, 1
constant(value)        value
normal(mean, std)      N(mean, std^2)
uniform(low, high)     U(low, high)
truncated_normal       N(mean, std^2) restricted to [a, b] (absolute bounds, torch's meaning;
(trunc_normal)         the resulting std is *smaller* than ``std``, not corrected)
xavier_uniform         U(-g sqrt(6 / (fan_in + fan_out)), +...)          (glorot_uniform)
xavier_normal          N(0, g^2 * 2 / (fan_in + fan_out))                (glorot_normal)
he_uniform             U(-sqrt(3) g / sqrt(fan), +...), g = calculate_gain(nonlinearity,
                       negative_slope), fan = fan_in or fan_out (mode)   (kaiming_uniform)
he_normal              N(0, g^2 / fan)                                    (kaiming_normal)
lecun_uniform          U(-sqrt(3 / fan_in), +...)
lecun_normal           N(0, 1 / fan_in)
variance_scaling       variance scale / fan; fan_in, fan_out, fan_avg or fan_geo_avg;
                       truncated_normal (corrected, as Keras/JAX), normal or uniform
orthogonal(gain)       gain * a (semi-)orthogonal matrix, orthonormal along the smaller side
identity (eye)         gain * eye(fan_in, fan_out)
sparse(sparsity, std)  N(0, std^2) with ceil(sparsity * fan_in) of each unit's incoming
                       weights set to 0
sklearn                U(-sqrt(f / (fan_in + fan_out)), +...), f = 2 for sigmoid else 6;
                       biases alike (MLPClassifier's init)
torch_linear           U(-1 / sqrt(fan_in), +...) for weights and biases (nn.Linear's default)
lsuv                   orthogonal, then rescaled on a batch by :func:`lsuv` (data-dependent)
=====================  ====================================================================

>>> import numpy as np
>>> w = get("he_normal")(256, 128, np.random.default_rng(0))
>>> w.shape
(256, 128)
"""
from __future__ import annotations

import inspect
import math
from typing import Callable

import numpy as np

from . import activations as _act
from ._registry import Registry
from ._validation import GlassnetError, check_choice, check_dtype, check_float, check_int, warn


class SymmetryWarning(UserWarning):
    """An initialization that leaves hidden units identical or unable to move."""


class Initializer:
    """A named initializer: ``init(fan_in, fan_out, rng, dtype, shape=None) -> array``.

    ``name`` is the registry key and ``params`` a JSON-ready dict, so that
    ``get(init.name, **init.params)`` rebuilds it.  ``bias`` is None or the companion
    initializer used for the biases when the user gave none (``sklearn``, ``torch_linear``);
    ``data_dependent`` is True for schemes finished on data (``lsuv``); ``random`` is False for
    the constant schemes, which ignore ``rng`` (it may be None).  Values are drawn in
    float64 and cast, so one seed gives the same weights (up to rounding) in either dtype.
    """

    def __init__(self, name: str, draw: Callable, params: dict | None = None, bias=None,
                 data_dependent: bool = False, random: bool = True):
        self.name = name
        self._draw = draw  # draw(fan_in, fan_out, rng, shape) -> float64 array of shape
        self.params = dict(params or {})
        self.bias = bias
        self.data_dependent = data_dependent
        self.random = random

    def __call__(self, fan_in, fan_out, rng, dtype=np.float64, shape=None):
        fan_in = check_int("fan_in", fan_in, minimum=1)
        fan_out = check_int("fan_out", fan_out, minimum=1)
        dtype = check_dtype(dtype)
        shape = (fan_in, fan_out) if shape is None else _check_shape(shape)
        if self.random and not isinstance(rng, np.random.Generator):
            raise GlassnetError(
                f"init {self.name!r} needs rng, a numpy Generator such as "
                f"np.random.default_rng(seed); got {type(rng).__name__}."
            )
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # reported just below
                w = np.asarray(self._draw(fan_in, fan_out, rng, shape), dtype=dtype)
        except OverflowError:   # rng.uniform(-1e308, 1e308): the range itself overflows
            w = None
        if w is None or not np.all(np.isfinite(w)):
            extra = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            raise GlassnetError(
                f"init {self.name!r}" + (f" ({extra})" if extra else "") + " draws values "
                f"that are infinite or NaN in {dtype.name}; use smaller parameters."
            )
        return w

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Initializer({self.name!r}{extra})"


def _check_shape(shape) -> tuple:
    try:
        shape = tuple(shape)
    except TypeError:
        raise GlassnetError(f"shape must be a tuple of integers; got {shape!r}.") from None
    if len(shape) not in (1, 2):
        raise GlassnetError(f"shape must be 1-D (a bias) or 2-D (a weight matrix); got {shape}.")
    return tuple(check_int("shape", n, minimum=1) for n in shape)


# --- parameter checks, each message naming the scheme and the parameter ------------------

def _real(scheme, name, value, **limits) -> float:
    try:
        return check_float(name, value, **limits)
    except GlassnetError as exc:
        raise GlassnetError(f"init {scheme!r}: {exc}") from None


def _choice(scheme, name, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise GlassnetError(
            f"init {scheme!r}: the {name!r} parameter must be one of {sorted(choices)}. "
            f"Got {value!r} instead."
        )
    return value


# --- gains ---------------------------------------------------------------------------------

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d",
               "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
#: nonlinearities calculate_gain accepts: torch's names plus glassnet's spellings
GAIN_NAMES = _LINEAR_FNS + ("identity", "sigmoid", "logistic", "tanh", "relu", "leaky_relu",
                            "selu")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity, PyTorch's values.

    ==========================  ==================================
    nonlinearity                gain
    ==========================  ==================================
    linear, identity, conv*     1
    sigmoid (logistic)          1
    tanh                        5 / 3
    relu                        sqrt(2)
    leaky_relu                  sqrt(2 / (1 + negative_slope**2)), slope ``param`` (0.01)
    selu                        3 / 4
    ==========================  ==================================

    >>> round(calculate_gain("leaky_relu", 0.2), 6)
    1.38675
    """
    check_choice("nonlinearity", nonlinearity, GAIN_NAMES, what="argument of calculate_gain")
    if nonlinearity in _LINEAR_FNS or nonlinearity in ("identity", "sigmoid", "logistic"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4  # torch's empirical value (pytorch PR 50664)
    slope = 0.01 if param is None else check_float("param (negative_slope)", param)
    try:
        return math.sqrt(2.0 / (1 + slope ** 2))
    except OverflowError:  # |slope| > 1e154: slope ** 2 overflows; 1 + slope^2 ~ slope^2
        return math.sqrt(2.0) / abs(slope)


# --- constant schemes ----------------------------------------------------------------------

def zeros() -> Initializer:
    """All zeros: w = 0.  Fine for biases; on hidden weights it leaves units symmetric."""
    return Initializer("zeros", lambda fi, fo, rng, shape: np.zeros(shape), random=False)


def ones() -> Initializer:
    """All ones: w = 1."""
    return Initializer("ones", lambda fi, fo, rng, shape: np.ones(shape), random=False)


def constant(value=0.5) -> Initializer:
    """Every entry equal: w = value."""
    value = _real("constant", "value", value)
    return Initializer("constant", lambda fi, fo, rng, shape: np.full(shape, value),
                       {"value": value}, random=False)


def identity(gain=1.0) -> Initializer:
    """gain * eye(fan_in, fan_out): torch's eye_, rectangular when fan_in != fan_out."""
    gain = _real("identity", "gain", gain)

    def draw(fi, fo, rng, shape):
        _need_matrix("identity", shape)
        return gain * np.eye(*shape)
    return Initializer("identity", draw, {"gain": gain}, random=False)


def _need_matrix(scheme, shape):
    if len(shape) != 2:
        raise GlassnetError(
            f"init {scheme!r} draws matrices only and cannot draw a 1-D array of shape {shape} "
            "(a bias); use bias_init='zeros' or another elementwise scheme for biases."
        )


# --- plain distributions -------------------------------------------------------------------

def normal(mean=0.0, std=1.0) -> Initializer:
    """w ~ N(mean, std^2)."""
    mean = _real("normal", "mean", mean)
    std = _real("normal", "std", std, minimum=0.0)
    return Initializer("normal", lambda fi, fo, rng, shape: rng.normal(mean, std, shape),
                       {"mean": mean, "std": std})


def uniform(low=0.0, high=1.0) -> Initializer:
    """w ~ U(low, high): mean (low + high) / 2, std (high - low) / sqrt(12)."""
    low = _real("uniform", "low", low)
    high = _real("uniform", "high", high)
    if not high > low:
        raise GlassnetError(f"init 'uniform': the 'high' parameter must be > low={low}. Got {high}.")
    return Initializer("uniform", lambda fi, fo, rng, shape: rng.uniform(low, high, shape),
                       {"low": low, "high": high})


def _phi_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _truncated_normal(rng, mean, std, a, b, shape):
    """Exact samples of N(mean, std^2) conditioned on [a, b], by torch's two rejection rules."""
    n = math.prod(shape)
    mass = _phi_cdf((b - mean) / std) - _phi_cdf((a - mean) / std)
    if mass > 0.3:
        # propose from the normal itself; accept those inside [a, b]
        out = rng.normal(mean, std, n)
        bad = np.flatnonzero((out < a) | (out > b))
        while bad.size:
            out[bad] = rng.normal(mean, std, bad.size)
            bad = bad[(out[bad] < a) | (out[bad] > b)]
        return out.reshape(shape)
    # little mass inside [a, b]: propose uniformly on [a, b], accept by the density's ratio
    # to its peak over [a, b]
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2
    out = np.empty(n)
    pending = np.arange(n)
    for _ in range(100_000):
        x = rng.uniform(a, b, pending.size)
        log_ratio = -0.5 * ((x - mean) / std) ** 2 - log_peak
        ok = np.log(rng.random(pending.size)) <= log_ratio
        out[pending[ok]] = x[ok]
        pending = pending[~ok]
        if not pending.size:
            return out.reshape(shape)
    raise GlassnetError(  # pragma: no cover - needs a window ~1e5 std wide in a far tail
        f"init 'truncated_normal': could not sample N({mean}, {std}^2) on [{a}, {b}]; "
        "the interval holds almost none of the distribution's mass."
    )


def truncated_normal(mean=0.0, std=1.0, a=-2.0, b=2.0) -> Initializer:
    """w ~ N(mean, std^2) conditioned on a <= w <= b (torch's trunc_normal_, absolute bounds).

    ``std`` is the std of the normal *before* truncation: the draw's own std is smaller
    (0.8796 * std for the default a = mean - 2 std, b = mean + 2 std).  This is torch's
    meaning and is not corrected; ``variance_scaling(distribution="truncated_normal")``
    is the corrected form.
    """
    mean = _real("truncated_normal", "mean", mean)
    std = _real("truncated_normal", "std", std, strictly_positive=True)
    a = _real("truncated_normal", "a", a)
    b = _real("truncated_normal", "b", b)
    if not b > a:
        raise GlassnetError(f"init 'truncated_normal': the 'b' parameter must be > a={a}. Got {b}.")
    return Initializer("truncated_normal",
                       lambda fi, fo, rng, shape: _truncated_normal(rng, mean, std, a, b, shape),
                       {"mean": mean, "std": std, "a": a, "b": b})


# --- fan-scaled schemes ----------------------------------------------------------------------

def xavier_uniform(gain=1.0) -> Initializer:
    """Glorot & Bengio (2010): w ~ U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))."""
    gain = _real("xavier_uniform", "gain", gain)

    def draw(fi, fo, rng, shape):
        bound = gain * math.sqrt(6.0 / (fi + fo))
        return rng.uniform(-bound, bound, shape)
    return Initializer("xavier_uniform", draw, {"gain": gain})


def xavier_normal(gain=1.0) -> Initializer:
    """Glorot & Bengio (2010): w ~ N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    gain = _real("xavier_normal", "gain", gain)

    def draw(fi, fo, rng, shape):
        return rng.normal(0.0, gain * math.sqrt(2.0 / (fi + fo)), shape)
    return Initializer("xavier_normal", draw, {"gain": gain})


def _he_params(scheme, mode, nonlinearity, negative_slope):
    mode = _choice(scheme, "mode", mode, ("fan_in", "fan_out"))
    _choice(scheme, "nonlinearity", nonlinearity, GAIN_NAMES)
    negative_slope = _real(scheme, "negative_slope", negative_slope)
    if negative_slope != 0.0 and nonlinearity != "leaky_relu":
        raise GlassnetError(
            f"init {scheme!r}: the 'negative_slope' parameter ({negative_slope}) only applies "
            f"with nonlinearity='leaky_relu'; got nonlinearity={nonlinearity!r}. "
            "(torch's kaiming default is nonlinearity='leaky_relu'; glassnet's is 'relu'.)"
        )
    gain = calculate_gain(nonlinearity, negative_slope)
    return gain, {"mode": mode, "nonlinearity": nonlinearity, "negative_slope": negative_slope}


def he_uniform(mode="fan_in", nonlinearity="relu", negative_slope=0.0) -> Initializer:
    """He et al. (2015): w ~ U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan).

    gain = calculate_gain(nonlinearity, negative_slope); fan = fan_in or fan_out (``mode``).
    """
    gain, params = _he_params("he_uniform", mode, nonlinearity, negative_slope)

    def draw(fi, fo, rng, shape):
        bound = math.sqrt(3.0) * (gain / math.sqrt(fi if mode == "fan_in" else fo))
        return rng.uniform(-bound, bound, shape)
    return Initializer("he_uniform", draw, params)


def he_normal(mode="fan_in", nonlinearity="relu", negative_slope=0.0) -> Initializer:
    """He et al. (2015): w ~ N(0, std^2), std = gain / sqrt(fan).

    gain = calculate_gain(nonlinearity, negative_slope); fan = fan_in or fan_out (``mode``).
    """
    gain, params = _he_params("he_normal", mode, nonlinearity, negative_slope)

    def draw(fi, fo, rng, shape):
        return rng.normal(0.0, gain / math.sqrt(fi if mode == "fan_in" else fo), shape)
    return Initializer("he_normal", draw, params)


def lecun_uniform() -> Initializer:
    """LeCun et al. (1998): w ~ U(-bound, bound), bound = sqrt(3 / fan_in), variance 1 / fan_in."""
    def draw(fi, fo, rng, shape):
        bound = math.sqrt(3.0 / fi)
        return rng.uniform(-bound, bound, shape)
    return Initializer("lecun_uniform", draw)


def lecun_normal() -> Initializer:
    """LeCun et al. (1998): w ~ N(0, 1 / fan_in) (untruncated; Keras truncates, same variance)."""
    def draw(fi, fo, rng, shape):
        return rng.normal(0.0, math.sqrt(1.0 / fi), shape)
    return Initializer("lecun_normal", draw)


#: std of N(0, 1) truncated to [-2, 2]: Keras and JAX divide by it so that the variance is exact
TRUNCATED_STD_2 = 0.87962566103423978

_FANS = {"fan_in": lambda fi, fo: fi, "fan_out": lambda fi, fo: fo,
         "fan_avg": lambda fi, fo: (fi + fo) / 2.0,
         "fan_geo_avg": lambda fi, fo: math.sqrt(fi * fo)}


def variance_scaling(scale=1.0, mode="fan_in", distribution="truncated_normal") -> Initializer:
    """The general form (Keras, JAX): Var(w) = scale / fan, exactly.

    fan = fan_in, fan_out, (fan_in + fan_out) / 2 (fan_avg) or sqrt(fan_in * fan_out)
    (fan_geo_avg).  distribution "normal": N(0, scale / fan); "uniform": U(-b, b) with
    b = sqrt(3 * scale / fan); "truncated_normal": N(0, s^2) cut at +-2 s with
    s = sqrt(scale / fan) / 0.87962566103423978, so the truncated draw has std sqrt(scale / fan).
    He normal is (2, fan_in, normal), Xavier uniform (1, fan_avg, uniform), LeCun (1, fan_in).
    """
    scale = _real("variance_scaling", "scale", scale, strictly_positive=True)
    mode = _choice("variance_scaling", "mode", mode, _FANS)
    distribution = _choice("variance_scaling", "distribution", distribution,
                           ("truncated_normal", "normal", "uniform"))

    def draw(fi, fo, rng, shape):
        std = math.sqrt(scale / _FANS[mode](fi, fo))
        if distribution == "normal":
            return rng.normal(0.0, std, shape)
        if distribution == "uniform":
            bound = math.sqrt(3.0) * std
            return rng.uniform(-bound, bound, shape)
        s = std / TRUNCATED_STD_2
        return _truncated_normal(rng, 0.0, s, -2.0 * s, 2.0 * s, shape)
    return Initializer("variance_scaling", draw,
                       {"scale": scale, "mode": mode, "distribution": distribution})


# --- structured schemes ----------------------------------------------------------------------

def _orthogonal(rng, shape, gain):
    """gain * Q with orthonormal columns (fan_in >= fan_out) or rows (fan_in < fan_out)."""
    _need_matrix("orthogonal", shape)
    rows, cols = shape
    flat = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    # signs of R's diagonal make Q Haar-distributed (Mezzadri 2007), as torch does
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    return gain * (q if rows >= cols else q.T)


def orthogonal(gain=1.0) -> Initializer:
    """Saxe et al. (2013): a random (semi-)orthogonal matrix times gain.

    For W of shape (fan_in, fan_out): W^T W = gain^2 I when fan_in >= fan_out, else
    W W^T = gain^2 I (torch's orthogonal_ on the transposed weight).  Entries have
    std gain / sqrt(max(fan_in, fan_out)).
    """
    gain = _real("orthogonal", "gain", gain)
    return Initializer("orthogonal", lambda fi, fo, rng, shape: _orthogonal(rng, shape, gain),
                       {"gain": gain})


def sparse(sparsity=0.9, std=0.01) -> Initializer:
    """Martens (2010): w ~ N(0, std^2), then ceil(sparsity * fan_in) of each column set to 0.

    A column is one unit's incoming weights, so each unit keeps about (1 - sparsity) of its
    inputs.  (torch's sparse_ zeroes that fraction of each column of *its* (fan_out, fan_in)
    weight, i.e. of each input's outgoing weights; the overall statistics are the same.)
    A 1-D draw is treated as a single column.
    """
    sparsity = _real("sparse", "sparsity", sparsity, minimum=0.0)
    if not sparsity < 1.0:
        raise GlassnetError(f"init 'sparse': the 'sparsity' parameter must be in [0, 1). Got {sparsity}.")
    std = _real("sparse", "std", std, minimum=0.0)

    def draw(fi, fo, rng, shape):
        w = rng.normal(0.0, std, shape)
        cols = w.reshape(shape[0], -1)  # a view: (rows, columns)
        n_zero = math.ceil(sparsity * cols.shape[0])
        if n_zero:
            # a random subset of rows in each column: the first n_zero of a random order
            order = np.argsort(rng.random(cols.shape), axis=0)[:n_zero]
            np.put_along_axis(cols, order, 0.0, axis=0)
        return w
    return Initializer("sparse", draw, {"sparsity": sparsity, "std": std})


# --- schemes users meet in other libraries ---------------------------------------------------

def _sklearn_factor(activation: str) -> float:
    return 2.0 if activation in ("sigmoid", "logistic") else 6.0


def sklearn(activation="relu") -> Initializer:
    """scikit-learn's MLP init: w, b ~ U(-bound, bound), bound = sqrt(factor / (fan_in + fan_out)).

    factor = 2 for a sigmoid ("logistic") network, 6 otherwise; biases are drawn the same
    way.  MLPClassifier uses its hidden activation for every layer, output included;
    :func:`resolve` fills ``activation`` from each layer's own activation when not given.
    """
    if not isinstance(activation, str):
        raise GlassnetError(f"init 'sklearn': the 'activation' parameter must be a name. Got {activation!r}.")
    factor = _sklearn_factor(activation)

    def draw(fi, fo, rng, shape):
        bound = math.sqrt(factor / (fi + fo))
        return rng.uniform(-bound, bound, shape)
    params = {"activation": activation}
    return Initializer("sklearn", draw, params, bias=Initializer("sklearn", draw, params))


def torch_linear() -> Initializer:
    """PyTorch nn.Linear's default: w, b ~ U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)).

    (kaiming_uniform_ with a = sqrt(5): sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(fan_in).)  This is
    also the old "standard" init of Glorot & Bengio (2010), eq. 1.
    """
    def draw(fi, fo, rng, shape):
        bound = 1.0 / math.sqrt(fi)
        return rng.uniform(-bound, bound, shape)
    return Initializer("torch_linear", draw, bias=Initializer("torch_linear", draw))


def lsuv_init(margin=0.02, max_passes=20) -> Initializer:
    """Mishkin & Matas (2015): orthonormal weights, later rescaled on data by :func:`lsuv`.

    The Initializer draws ``orthogonal(gain=1)`` and carries ``data_dependent=True``; the
    network then calls ``lsuv(net, X_batch, **init.params)``.
    """
    margin = _real("lsuv", "margin", margin, strictly_positive=True)
    max_passes = _passes(max_passes)
    return Initializer("lsuv", lambda fi, fo, rng, shape: _orthogonal(rng, shape, 1.0),
                       {"margin": margin, "max_passes": max_passes}, data_dependent=True)


def _passes(max_passes) -> int:
    try:
        return check_int("max_passes", max_passes, minimum=1)
    except GlassnetError as exc:
        raise GlassnetError(f"init 'lsuv': {exc}") from None


def lsuv(net, X, *, margin=0.02, max_passes=20) -> list[float]:
    """Layer-sequential unit variance: rescale each layer until Var(z_l) = 1 +- margin on X.

    Layer by layer from the input, ``W_l <- W_l / sqrt(Var(z_l))`` where z_l is the layer's
    pre-activation on the batch (``net.trace(X).pre[l]``, variance over every entry), at most
    ``max_passes`` times per layer.  Weights change in place; biases are left alone.
    Returns each layer's final variance; warns when a layer missed the margin.
    """
    margin = _real("lsuv", "margin", margin, strictly_positive=True)
    max_passes = _passes(max_passes)
    variances = []
    for l in range(len(net.weights)):
        passes = 0
        while True:
            var = float(np.var(net.trace(X).pre[l]))
            if not (np.isfinite(var) and var > 0.0):
                raise GlassnetError(
                    f"LSUV cannot rescale layer {l + 1}: its pre-activations have variance {var} "
                    "on the batch (constant inputs, or a layer of dead units above it)."
                )
            if abs(var - 1.0) <= margin or passes == max_passes:
                break
            w = net.weights[l]
            w[...] = w / math.sqrt(var)
            passes += 1
        if abs(var - 1.0) > margin:
            warn(f"LSUV: layer {l + 1}'s pre-activation variance is {var:.4g} after "
                 f"{max_passes} passes, outside 1 +- {margin}.", RuntimeWarning)
        variances.append(var)
    return variances


# --- the registry ------------------------------------------------------------------------------

_TABLE: dict[str, Callable[..., Initializer]] = {
    "zeros": zeros, "ones": ones, "constant": constant,
    "normal": normal, "uniform": uniform, "truncated_normal": truncated_normal,
    "xavier_uniform": xavier_uniform, "xavier_normal": xavier_normal,
    "he_uniform": he_uniform, "he_normal": he_normal,
    "lecun_uniform": lecun_uniform, "lecun_normal": lecun_normal,
    "variance_scaling": variance_scaling,
    "orthogonal": orthogonal, "identity": identity, "sparse": sparse,
    "sklearn": sklearn, "torch_linear": torch_linear, "lsuv": lsuv_init,
}
#: other names for the same schemes (torch's, Keras's and the papers')
ALIASES = {"glorot_uniform": "xavier_uniform", "glorot_normal": "xavier_normal",
           "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal",
           "xavier": "xavier_uniform", "glorot": "xavier_uniform",
           "he": "he_normal", "kaiming": "he_normal", "lecun": "lecun_normal",
           "trunc_normal": "truncated_normal", "eye": "identity"}
_REGISTRY = Registry("init", _TABLE, ALIASES,
                     unknown="Unknown init {key!r}. Valid names: {names}; aliases: {aliases}.")
NAMES = _REGISTRY.names


def get(name, **params) -> Initializer:
    """The initializer registered as ``name`` (or an alias), built with ``params``.

    >>> get("kaiming_normal", nonlinearity="leaky_relu", negative_slope=0.2).name
    'he_normal'
    """
    if not isinstance(name, str):
        raise GlassnetError(f"An init name must be a string; got {name!r}.")
    return _REGISTRY.build(name, params)


# --- defaults by activation ---------------------------------------------------------------------



def _activation_name(activation) -> tuple[str, dict]:
    """A layer's activation as (canonical name, params), from a name or an Activation."""
    if isinstance(activation, str):
        name, params = activation, {}
    else:
        name, params = getattr(activation, "name", str(activation)), getattr(activation, "params", {})
    name = name.lower()
    return _act.ALIASES.get(name, name), dict(params or {})


def default_for(activation) -> str:
    """The default init's name for a layer with this activation.

    ============================================================  ==============
    activation                                                    default init
    ============================================================  ==============
    relu, leaky_relu, elu, gelu, silu, softplus (relu family)     he_normal
    selu                                                          lecun_normal
    tanh, sigmoid, identity, softmax and anything else            xavier_uniform
    ============================================================  ==============
    """
    name, _ = _activation_name(activation)
    if name in _act.RELU_FAMILY:
        return "he_normal"
    if name == "selu":
        return "lecun_normal"
    return "xavier_uniform"


def _default(activation) -> Initializer:
    name, params = _activation_name(activation)
    if name == "leaky_relu":
        # the gain of the layer's own slope (glassnet's leaky_relu default slope is 0.01)
        return he_normal(nonlinearity="leaky_relu", negative_slope=params.get("slope", 0.01))
    return get(default_for(name))


def _wrap_callable(fn) -> Initializer:
    """An Initializer around a user's f(fan_in, fan_out, rng, dtype) -> array."""
    label = getattr(fn, "__name__", "custom")

    def draw(fi, fo, rng, shape):
        out = np.asarray(fn(fi, fo, rng, np.float64))
        if out.shape != shape and out.size == math.prod(shape) and len(shape) == 1:
            out = out.reshape(shape)  # a (1, fan_out) row for a bias
        if out.shape != shape:
            raise GlassnetError(f"init callable {label!r} returned shape {out.shape}; "
                                f"expected {shape} for fan_in={fi}, fan_out={fo}.")
        if out.dtype.kind not in "biuf" or not np.all(np.isfinite(out)):
            raise GlassnetError(f"init callable {label!r} must return finite real numbers.")
        return out
    return Initializer(label, draw)


def resolve(spec, activation) -> Initializer:
    """Turn a user's ``init=`` value into an Initializer for a layer with ``activation``.

    ``spec`` is None (the default for the activation, see :func:`default_for`; leaky_relu
    layers get the gain of their own slope), a name, ``(name, params)`` or ``[name, params]``,
    a dict ``{"name": ..., **params}``, an :class:`Initializer`, or a callable
    ``f(fan_in, fan_out, rng, dtype) -> array``.  ``sklearn`` without an ``activation``
    parameter takes the layer's.
    """
    if spec is None:
        return _default(activation)
    if isinstance(spec, Initializer):
        return spec
    name, params = None, None
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, dict):
        params = dict(spec)
        if "name" not in params:
            raise GlassnetError(f"An init given as a dict needs a 'name' key; got keys {sorted(params)}.")
        name = params.pop("name")
    elif (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str)
          and isinstance(spec[1], dict)):
        name, params = spec[0], dict(spec[1])
    elif callable(spec):
        return _wrap_callable(spec)
    if name is None:
        raise GlassnetError(
            "init must be None, a name, (name, params), {'name': ..., **params}, an Initializer "
            f"or a callable f(fan_in, fan_out, rng, dtype); got {spec!r}."
        )
    if ALIASES.get(str(name).lower(), str(name).lower()) == "sklearn" and "activation" not in params:
        params["activation"] = _activation_name(activation)[0]
    return get(name, **params)


# --- symmetry ------------------------------------------------------------------------------------

#: activations with f(0) = 0: a zero weight matrix (and zero bias) makes the layer output zeros
_ZERO_AT_ZERO = ("identity", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu")


def symmetry_report(weights, hidden_activations) -> str | None:
    """Explain which hidden layers start with units that can never differ or never move.

    ``weights`` are the matrices feeding the hidden layers (all but the output's) and
    ``hidden_activations`` those layers' activations.  A layer is flagged when its incoming
    weights are all zero, or when every unit's incoming column is the same (a constant).
    Returns None when no layer is flagged.
    """
    lines = []
    for l, (w, act) in enumerate(zip(weights, hidden_activations), start=1):
        w = np.asarray(w)
        name, _ = _activation_name(act)
        units = w.shape[1] if w.ndim == 2 else 1
        zero = not np.any(w)
        same = w.ndim == 2 and units > 1 and bool(np.all(w == w[:, :1]))
        if not (zero or same):
            continue
        if zero:
            start = "all incoming weights 0"
        elif np.all(w == w.flat[0]):
            start = f"all incoming weights {w.flat[0]:g}"
        else:
            start = "identical incoming weights for every unit"
        if zero and name == "relu":
            fate = ("relu(0) = 0 and relu'(0) = 0, so it outputs zeros and passes back no "
                    "gradient: its weights, and every layer below it, never move")
        elif zero and name in _ZERO_AT_ZERO:
            fate = (f"{name}(0) = 0, so it outputs zeros and the weights above it get no "
                    "gradient; its own weights move only through nonzero weights above it. "
                    "With zeros on every layer, no hidden weight ever moves and only the "
                    "output bias learns")
        else:
            fate = (f"its {units} units compute the same value and, while the weights leaving "
                    "them are equal too (as when one init is used on every layer), get the "
                    "same update: they move but stay identical copies and can never differ, "
                    "so the layer works as a single unit")
        lines.append(f"  hidden layer {l} ({name}, {units} units): {start}; {fate}.")
    if not lines:
        return None
    return ("Symmetric initialization (with zero biases):\n" + "\n".join(lines) + "\n"
            "Use a random init instead: init=None picks one per activation (he_normal for "
            "the relu family, xavier_uniform for tanh, sigmoid and identity, lecun_normal "
            "for selu); zeros are fine for biases.")
