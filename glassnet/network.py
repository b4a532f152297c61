"""Network: a stack of dense layers with forward, backward and parameters.

All parameters live in one flat buffer (all weight matrices first, then all biases) and
all gradients in another of the same layout; ``weights[l]`` and ``biases[l]`` are views
into it.  An optimizer step is therefore a handful of NumPy calls whatever the depth, and
the training step writes into preallocated buffers, so it allocates nothing
parameter-sized.  Reading or assigning ``net.weights[l]`` keeps working: assignment copies
into the view (with a shape check that names the layer).
"""
from __future__ import annotations

import copy
import math
import os
from typing import Any, NamedTuple, Sequence

import numpy as np

from . import activations as _act
from . import backend as _backend
from . import initializers as _init
from . import losses as _losses
from . import metrics as _metrics
from ._validation import (GlassnetError, _first_bad_rows, as_float_array, check_dtype, check_int,
                          echo, warn)

Array = np.ndarray


class Trace(NamedTuple):
    """Every layer's values on one batch: ``pre[l]`` is z_l, ``post[l]`` is a_l = f(z_l).

    With targets (``net.trace(X, y)``) it also holds the backward pass: ``delta[l]`` is
    dL/dz_l (batch, fan_out) for the batch's (weighted) mean loss, ``grad_w[l]`` and
    ``grad_b[l]`` are dL/dW_l and dL/db_l, and ``loss`` is that mean loss.  Without
    targets those fields are None.
    """

    inputs: Array
    pre: list
    post: list
    delta: list | None = None
    grad_w: list | None = None
    grad_b: list | None = None
    loss: float | None = None


class ParameterLayout(NamedTuple):
    """Where each layer's parameters sit in the flat ``params`` (and ``grads``) buffer.

    ``weights[l]`` and ``biases[l]`` are slices: ``net.params[layout.weights[l]]`` is
    ``net.weights[l]`` flattened.  All weights come first, then all biases.
    """

    weights: list
    biases: list


class Gradients(NamedTuple):
    """Gradients of the mean batch loss, in the parameters' shapes."""

    weights: list
    biases: list
    loss: float


class ParamList(list):
    """A list of parameter views; ``params[l] = array`` copies into the view in place."""

    def __init__(self, views, kind: str):
        super().__init__(views)
        self._kind = kind

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            for i, v in zip(range(*index.indices(len(self))), value):
                self[i] = v
            return
        view = list.__getitem__(self, index)
        _copy_into(view, value, f"{self._kind}[{index}]")

    def _readonly(self, *args, **kwargs):
        raise GlassnetError(f"{self._kind} has one entry per layer; its length cannot change.")

    append = extend = insert = pop = remove = clear = __delitem__ = __iadd__ = _readonly


def _copy_into(view: Array, value, what: str) -> None:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):   # ragged nested lists
        raise GlassnetError(f"{what} must be an array of shape {view.shape}; got a "
                            f"{type(value).__name__} NumPy cannot read as one.") from None
    if arr.shape != view.shape:
        if arr.size == view.size and arr.squeeze().shape == view.squeeze().shape:
            arr = arr.reshape(view.shape)
        else:
            raise GlassnetError(f"{what} must have shape {view.shape}; got {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        raise GlassnetError(f"{what} must hold real numbers; got dtype {arr.dtype}.")
    with np.errstate(over="ignore", invalid="ignore"):  # too big for float32: reported next
        arr = arr.astype(view.dtype)
    if not np.all(np.isfinite(arr)):   # checked before writing: the network stays as it was
        raise GlassnetError(f"{what} contains NaN, inf or values too large for {view.dtype}.")
    view[...] = arr


class _Workspace:
    """Buffers for one batch size, reused across steps: z, a and delta per layer.

    ``backward=False`` leaves out the deltas: a forward pass on many rows needs only z and a.
    """

    def __init__(self, n: int, sizes: Sequence[int], dtype, backward: bool = True):
        outs = sizes[1:]
        self.z = [np.empty((n, k), dtype) for k in outs]      # (batch, fan_out)
        self.a = [np.empty((n, k), dtype) for k in outs]      # (batch, fan_out)
        self.delta = [np.empty((n, k), dtype) for k in outs] if backward else None
        self.ones = np.ones(n, dtype)                          # sums rows by a GEMV
        self.out_ones = np.ones(outs[-1], dtype)               # sums output units by a GEMV
        self.rows = np.empty(n, dtype)                         # per-sample sums, then their logs
        self.rows_col = self.rows[:, None]                     # the same, as a (batch, 1) column
        # softmax's row sums below this lose precision (see _softmax_ce): sqrt of the
        # smallest normal number, so every probability above it is computed in full
        self.safe = np.sqrt(np.finfo(dtype).tiny)
        self.scale = np.empty((n, 1), dtype)                   # per-row loss weights


class Network:
    """A multilayer perceptron.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, inputs first: ``[64, 32, 10]`` is 64 inputs, one hidden layer of
        32 units and 10 outputs.
    activation : name, int id, Activation, or one per hidden layer
        Hidden activation(s); see :mod:`glassnet.activations`.
    output : name or None
        Output activation (``"softmax"``, ``"sigmoid"``, ``"identity"``, ...).  By default
        the one that pairs with ``loss``; with neither given, softmax and cross-entropy for
        several outputs, sigmoid and binary cross-entropy for one.
    loss : name or None
        ``"cross_entropy"``, ``"binary_cross_entropy"`` or ``"squared_error"``.
    init : init spec or one per layer
        See :mod:`glassnet.initializers`; by default the scheme that suits each layer's
        activation.
    bias_init : init spec or None
        Biases start at zero unless this (or the weight scheme's own bias rule) says otherwise.
    seed : int or None
        Seeds the network's ``numpy.random.Generator``: initial weights and shuffling.
    dtype : "float64" or "float32"
    weights, biases : lists of arrays, optional
        Start from arrays you already have instead of drawing them.
    backend : "auto", "numpy", "numba" or None
        What trains the network (see :mod:`glassnet.backend`): ``"numba"`` runs compiled
        kernels (``pip install glassnet[fast]``), ``"numpy"`` the reference code, ``"auto"``
        Numba when it is installed.  None reads ``$GLASSNET_BACKEND`` (default "auto").
        ``net.backend`` says which one was chosen; the numbers agree to rounding.

    >>> net = Network([4, 8, 3], activation="tanh", seed=0)
    >>> net.weights[0].shape, net.biases[0].shape
    ((4, 8), (8,))
    """

    def __init__(self, layer_sizes: Sequence[int], activation: Any = "relu", output: Any = None,
                 loss: Any = None, init: Any = None, bias_init: Any = None, seed: int | None = None,
                 dtype: Any = "float64", weights=None, biases=None, backend: Any = None):
        self.layer_sizes = _check_sizes(layer_sizes)
        #: "numpy" or "numba": what trains this network (a choice of this process, not
        #: saved with the model)
        self.backend = _backend.resolve(backend)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        #: JSON-ready facts stored with the model by save() (class labels, feature names, ...)
        self.metadata: dict = {}
        self.rng = _make_rng(seed)
        n_hidden = len(self.layer_sizes) - 2
        hidden = _per_layer("activation", activation, n_hidden, _act.get)
        for a in hidden:
            if not a.elementwise:
                raise GlassnetError(f"activation {a.name!r} can only be used as the output "
                                    "(output=...), not in a hidden layer.")
        out_act, self.loss = _resolve_output(output, loss, self.layer_sizes[-1])
        self.activations = hidden + [out_act]
        #: the output activation and the loss are fused: dL/dz = a - y (see losses.py)
        self.fused_loss = self.loss.fused_output == out_act.name
        self._allocate()
        self._attach_backend()
        self.init = _per_layer("init", init, self.n_layers, None)
        self.bias_init = bias_init
        self.initialize()
        if weights is not None or biases is not None:
            self.set_weights(weights if weights is not None else list(self.weights),
                             biases if biases is not None else list(self.biases))
        self._warn_if_symmetric()

    # --- structure -----------------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """Number of weight layers (hidden layers + the output layer)."""
        return len(self.layer_sizes) - 1

    @property
    def output(self):
        return self.activations[-1]

    @property
    def is_classifier(self) -> bool:
        return self.loss.name in ("cross_entropy", "binary_cross_entropy")

    @property
    def n_classes(self) -> int | None:
        if not self.is_classifier:
            return None
        k = self.layer_sizes[-1]
        return 2 if k == 1 else k

    def _allocate(self) -> None:
        sizes = self.layer_sizes
        shapes = list(zip(sizes[:-1], sizes[1:]))
        n_w = sum(i * o for i, o in shapes)
        self.n_weights = n_w
        self.params, self.grads = _zeros_pair(n_w + sum(sizes[1:]), self.dtype, sizes)
        self.layout = _layout(shapes, n_w)
        self._weights, self._biases = _views(self.params, self.layout)
        self._grad_w, self._grad_b = _views(self.grads, self.layout)
        self._workspaces: dict[int, _Workspace] = {}
        self._l2 = None                                 # (n_weights,) scratch, made on demand

    @property
    def needs_data_init(self) -> bool:
        """True until :meth:`initialize_on_data` has run for a data-dependent init (lsuv)."""
        return self._needs_data_init

    @needs_data_init.setter
    def needs_data_init(self, value: bool) -> None:
        self._needs_data_init = bool(value)

    @property
    def training_state(self):
        """What the last ``fit`` or ``partial_fit`` left for ``partial_fit`` to continue: a
        :class:`glassnet.training.TrainingState` (the optimizer, its state, the step
        count), or None."""
        return self.__dict__.get("_training")

    @training_state.setter
    def training_state(self, value) -> None:
        self._training = value

    @property
    def weights(self) -> ParamList:
        """Weight matrices, ``weights[l]`` of shape (fan_in, fan_out); views into ``params``."""
        return self._weights

    @weights.setter
    def weights(self, values) -> None:
        self.set_weights(values, None)

    @property
    def biases(self) -> ParamList:
        """Bias vectors, ``biases[l]`` of shape (fan_out,); views into ``params``."""
        return self._biases

    @biases.setter
    def biases(self, values) -> None:
        self.set_weights(None, values)

    def set_weights(self, weights=None, biases=None) -> "Network":
        """Copy arrays you already have into the network; shapes are checked per layer.

        All or nothing: if any array is refused, the network keeps its previous parameters.
        """
        before = self.params.copy()
        try:
            for name, values, views in (("weights", weights, self._weights),
                                        ("biases", biases, self._biases)):
                if values is None:
                    continue
                if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                    raise GlassnetError(f"{name} must be a list of {self.n_layers} arrays (one "
                                        f"per layer); got {type(values).__name__}.")
                values = list(values)
                if len(values) != self.n_layers:
                    raise GlassnetError(f"{name} must hold {self.n_layers} arrays (one per "
                                        f"layer); got {len(values)}.")
                for l, v in enumerate(values):
                    _copy_into(views[l], v, f"{name}[{l}] (layer {l + 1})")
        except GlassnetError:
            self.params[...] = before
            raise
        return self

    def initialize(self) -> "Network":
        """(Re)draw every weight and bias from the init specs, using the network's generator."""
        self._needs_data_init = False
        for l, (fi, fo) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:])):
            scheme = _init.resolve(self.init[l], self.activations[l])
            self._weights[l][...] = scheme(fi, fo, self.rng, self.dtype)
            bias_scheme = (scheme.bias if self.bias_init is None else
                           _init.resolve(self.bias_init, self.activations[l]))
            if bias_scheme is None:
                self._biases[l].fill(0)
            else:
                self._biases[l][...] = bias_scheme(fi, fo, self.rng, self.dtype, shape=(fo,))
            if getattr(scheme, "data_dependent", False):
                self._needs_data_init = True
                self._data_init_params = dict(scheme.params)
        return self

    def initialize_on_data(self, X) -> "Network":
        """Finish a data-dependent init (``lsuv``) on a batch of inputs; fit calls this once."""
        if self._needs_data_init:
            _init.lsuv(self, X, **getattr(self, "_data_init_params", {}))
            self._needs_data_init = False
        return self

    def _warn_if_symmetric(self) -> None:
        hidden = [a.name for a in self.activations[:-1]]
        message = _init.symmetry_report(list(self._weights[:-1]), hidden)
        if message:
            warn(message, _init.SymmetryWarning)

    def copy(self) -> "Network":
        """An independent deep copy (parameters, generator state, settings)."""
        return copy.deepcopy(self)

    def __deepcopy__(self, memo):
        new = object.__new__(type(self))
        for key, value in self.__dict__.items():
            if key in _BUFFERS:
                continue
            setattr(new, key, copy.deepcopy(value, memo))
        new._allocate()
        new.params[...] = self.params
        new._attach_backend()
        return new

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k == "params" or k not in _BUFFERS}
        return state

    def __setstate__(self, state):
        params = state.pop("params")
        if "_fused" in state:                    # pickled before the attribute had its name
            state["fused_loss"] = state.pop("_fused")
        state.pop("layout", None)
        self.__dict__.update(state)
        # the backend is this process's choice: a network pickled with Numba loads without it
        if getattr(self, "backend", "numpy") != "numpy" and not _backend.numba_available():
            self.backend = "numpy"
        self.backend = getattr(self, "backend", None) or _backend.resolve()
        self._allocate()
        self.params[...] = params
        self._attach_backend()

    def __repr__(self) -> str:
        acts = ",".join(a.name for a in self.activations[:-1]) or "-"
        return (f"Network({self.layer_sizes}, activation={acts}, output={self.output.name}, "
                f"loss={self.loss.name}, dtype={self.dtype.name})")

    # --- checking data -------------------------------------------------------------------------

    def check_inputs(self, X, name: str = "X") -> Array:
        """``X`` as a 2-D array of the network's dtype with ``layer_sizes[0]`` columns.

        Raises a GlassnetError naming ``name`` (non-numeric, NaN, wrong width, ...).
        """
        X = as_float_array(name, X, self.dtype)
        if X.shape[1] != self.layer_sizes[0]:
            raise GlassnetError(f"{name} has {X.shape[1]} features (columns) but the network "
                                f"expects {self.layer_sizes[0]} (layer_sizes[0]).")
        return X

    def encode_targets(self, y, name: str = "y") -> Array:
        """Targets as a float array shaped like the output: labels become one-hot rows."""
        k = self.layer_sizes[-1]
        try:
            y = np.asarray(y)
        except (TypeError, ValueError):  # ragged nested lists
            raise GlassnetError(f"{name} must be a rectangular array of numbers; got "
                                f"{type(y).__name__} whose rows have different lengths.") from None
        if y.dtype == object or y.dtype.kind in "USV":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError, OverflowError):
                raise GlassnetError(f"{name} must hold numbers (integer class labels or "
                                    "target values); use glassnet.sklearn.GlassClassifier for "
                                    "labels of any kind.") from None
        if y.ndim == 0 or y.size == 0:
            raise GlassnetError(f"{name} is empty or a scalar; expected one target per sample.")
        if y.ndim == 2 and y.shape[1] == 1 and k > 1:   # a column of labels (a DataFrame's)
            y = y[:, 0]
        if y.ndim == 1 and k > 1:  # one value per sample for k outputs: class labels
            labels = y
            if labels.dtype.kind not in "biuf":
                raise GlassnetError(f"{name} must hold integer class labels 0..{k - 1}; got "
                                    f"dtype {labels.dtype}.")
            if labels.dtype.kind == "f":
                if not np.all(np.isfinite(labels)):
                    raise GlassnetError(f"{name} contains NaN or infinite values (first rows: "
                                        f"{_first_bad_rows(~np.isfinite(labels))}).")
                if np.any(labels != np.round(labels)):
                    raise GlassnetError(f"{name} holds non-integer values; class labels must be "
                                        f"integers 0..{k - 1} or one-hot rows.")
            bad = (labels < 0) | (labels >= k)   # before the cast: 1e300 is no int64
            if bad.any():
                rows = _first_bad_rows(bad)
                raise GlassnetError(f"{name} has class labels outside 0..{k - 1} (the network has "
                                    f"{k} outputs); first bad rows: {rows}.")
            labels = labels.astype(np.int64)
            out = np.zeros((labels.shape[0], k), self.dtype)
            out[np.arange(labels.shape[0]), labels] = 1
            return out
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        out = as_float_array(name, y, self.dtype)
        if out.shape[1] != k:
            raise GlassnetError(f"{name} has {out.shape[1]} columns but the network has {k} "
                                "outputs.")
        if self.loss.name == "binary_cross_entropy" and np.any((out < 0) | (out > 1)):
            raise GlassnetError(self._not_labels_message(name, out))
        if self.loss.name == "cross_entropy":
            # the fused gradient a - y assumes each row is a distribution over the classes
            tol = 1e-4 if self.dtype == np.float32 else 1e-8
            bad = np.any(out < 0, axis=1) | (np.abs(out.sum(axis=1) - 1) > tol)
            if bad.any():
                raise GlassnetError(
                    f"{name} rows must be one-hot or class probabilities summing to 1 for "
                    f"cross_entropy; first bad rows: {_first_bad_rows(bad)}. "
                    "For several labels per sample use output='sigmoid' with "
                    "loss='binary_cross_entropy'.")
        return out

    def _not_labels_message(self, name: str, out: Array) -> str:
        """Why targets outside [0, 1] do not fit binary cross-entropy, and what to write."""
        k = self.layer_sizes[-1]
        finite = out[np.isfinite(out)]
        span = (f"values from {finite.min():.4g} to {finite.max():.4g}" if finite.size
                else "no finite values")
        text = (f"{name} must be 0/1 (or probabilities in [0, 1]) for binary_cross_entropy; "
                f"it holds {span} (first rows outside [0, 1]: "
                f"{_first_bad_rows(np.any((out < 0) | (out > 1), axis=1))}).")
        sizes = ", ".join(str(s) for s in self.layer_sizes)
        whole = finite.size and np.all(finite == np.round(finite)) and finite.min() >= 0
        if k == 1 and whole and finite.max() < 20:      # a few small whole numbers: labels?
            classes = int(finite.max()) + 1
            text += (f" If these are class labels 0..{classes - 1}, give the network one output "
                     f"per class: Network([{', '.join(str(s) for s in self.layer_sizes[:-1])}, "
                     f"{classes}]) (softmax with cross-entropy).")
        if k == 1:
            text += (" A one-output network defaults to a binary classifier (sigmoid output "
                     "with binary cross-entropy). For regression on real-valued targets, "
                     f"write Network([{sizes}], output=\"identity\") (squared error), or use "
                     "glassnet.sklearn.GlassRegressor, which also standardizes the targets.")
        else:
            text += (" For regression, write output=\"identity\" (squared error), or use "
                     "glassnet.sklearn.GlassRegressor.")
        return text

    def check_data(self, X, y, sample_weight=None):
        """Validated training data: ``(X, Y, sample_weight)`` in the network's dtype.

        ``X`` as :meth:`check_inputs` makes it, ``Y`` as :meth:`encode_targets` (one-hot rows
        for labels), ``sample_weight`` a (n,) array or None; lengths must agree.  Every
        entry point that trains or scores checks its data here, once, before any weight moves.
        """
        X = self.check_inputs(X)
        Y = self.encode_targets(y)
        if Y.shape[0] != X.shape[0]:
            raise GlassnetError(f"X and y have different lengths: X has {X.shape[0]} rows, "
                                f"y has {Y.shape[0]}.")
        sw = None
        if sample_weight is not None:
            sw = as_float_array("sample_weight", sample_weight, self.dtype, ndim=1)
            if sw.shape[0] != X.shape[0]:
                raise GlassnetError(f"sample_weight has {sw.shape[0]} entries; X has "
                                    f"{X.shape[0]} rows.")
            with np.errstate(over="ignore"):
                total = sw.sum()
            if np.any(sw < 0) or not total > 0:
                raise GlassnetError("sample_weight must be >= 0 with a positive sum.")
            if not np.isfinite(total):
                raise GlassnetError(f"sample_weight sums to more than {self.dtype.name} can "
                                    "hold; rescale the weights (only their ratios matter).")
        return X, Y, sw

    # --- forward and backward: the one maths core ----------------------------------------------
    #
    # compute_gradients is the only forward and backward pass in glassnet.  The training
    # step (train_step), backward, trace and forward all run it; the doctor reads every
    # layer through trace.  A compiled backend replaces this one method.

    def trace(self, X, y=None, sample_weight=None) -> Trace:
        """Every layer's values on a batch; with targets ``y``, the backward pass as well.

        ``trace(X)`` is the forward pass keeping each layer's pre-activation z and
        activation a.  ``trace(X, y)`` also back-propagates the batch's (weighted) mean
        loss and returns dL/dz and dL/dW, dL/db for every layer (see :class:`Trace`).
        Nothing in the network changes: ``grads`` and the training buffers are left alone.
        Values too large for the dtype become inf (or NaN) without a warning, so that the
        trace shows where a network overflows; :meth:`forward` refuses such outputs.

        >>> net = Network([3, 4, 2], seed=0)
        >>> t = net.trace([[0.5, -1.0, 2.0]], [1])
        >>> [z.shape for z in t.pre], [g.shape for g in t.grad_w]
        ([(1, 4), (1, 2)], [(3, 4), (4, 2)])
        """
        if y is None:
            x, Y, sw = self.check_inputs(X), None, None
        else:
            x, Y, sw = self.check_data(X, y, sample_weight)
        twin = self._scratch_twin(x.shape[0], backward=Y is not None)
        ws = twin._workspaces[x.shape[0]]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            twin.compute_gradients(x, None)                 # the forward pass
            if Y is None:
                return Trace(x, ws.z, ws.a)
            post = [a.copy() for a in ws.a]                 # the backward pass reuses ws.a
            loss = twin.compute_gradients(x, Y, sw)
        return Trace(x, ws.z, post, ws.delta, list(twin._grad_w), list(twin._grad_b), loss)

    def _scratch_twin(self, n: int, backward: bool) -> "Network":
        """This network with buffers of its own: the same parameters (shared, read only),
        fresh gradients and a workspace for ``n`` rows, so that a pass on it leaves this
        network's ``grads`` and training buffers alone."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.grads = np.zeros_like(self.params)
        twin._grad_w, twin._grad_b = _views(twin.grads, self.layout)
        twin._workspaces = {n: _Workspace(n, self.layer_sizes, self.dtype, backward)}
        # the same backend on the twin's own buffers (its layer-by-layer path fills the
        # workspace trace reads)
        twin._attach_backend()
        return twin

    def forward(self, X) -> Array:
        """The network's output for ``X`` (batch, n_features) -> (batch, n_outputs)."""
        trace = self.trace(X)
        out = trace.post[-1]
        if not np.all(np.isfinite(out)):
            raise self.overflow_error("output", out, trace.inputs)
        return out

    def overflow_error(self, what: str, values: Array, X: Array,
                       first_row: int = 0) -> GlassnetError:
        """The error to raise when ``what`` ("output", "loss", ...) overflowed the dtype on
        ``X``: it names the first bad rows of ``values`` (rows of X from ``first_row`` on)
        and suggests scaling."""
        rows = [first_row + r for r in _first_bad_rows(~np.isfinite(values))]
        with np.errstate(over="ignore", invalid="ignore"):       # X a block at a time
            x_max = max((float(np.max(np.abs(X[i:i + 65536])))
                         for i in range(0, len(X), 65536)), default=0.0)
            w_max = float(np.max(np.abs(self.params)))
        return GlassnetError(
            f"the network's {what} overflows {self.dtype.name} on X (first rows: {rows}): X "
            f"holds values up to {x_max:.3g} and the weights up to {w_max:.3g}. Scale X (e.g. "
            "standardize each column) or use smaller weights.")

    __call__ = forward

    def loss_value(self, X, y, sample_weight=None) -> float:
        """The mean loss on (X, y)."""
        X, Y, sw = self.check_data(X, y, sample_weight)
        z = self.trace(X).pre[-1]
        with np.errstate(over="ignore", invalid="ignore"):
            per = self.loss_per_sample(z, Y)
            loss = float(np.average(per, weights=sw))
        if not np.isfinite(loss):
            raise self.overflow_error("loss", per, X)
        return loss

    def loss_per_sample(self, z: Array, Y: Array) -> Array:
        """Each row's loss (batch,) from the output layer's pre-activations ``z``
        (batch, n_out) and encoded targets ``Y``; from the logits directly when the output
        and the loss are fused (exact where the probabilities would round to 0 or 1)."""
        if self.fused_loss:
            return self.loss.per_sample_from_logits(z, Y)
        return self.loss.per_sample(self.output.f(z), Y)

    def backward(self, X, y, sample_weight=None) -> Gradients:
        """Gradients of the (weighted) mean batch loss for every parameter (copies)."""
        X, Y, sw = self.check_data(X, y, sample_weight)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = self.compute_gradients(X, Y, sw)
        if not (np.isfinite(loss) and np.all(np.isfinite(self.grads))):
            raise self.overflow_error("loss or gradient", np.full(X.shape[0], loss), X)
        return Gradients([g.copy() for g in self._grad_w], [g.copy() for g in self._grad_b], loss)

    def _workspace(self, n: int) -> _Workspace:
        """The training buffers for batches of ``n`` rows (kept for the next step)."""
        ws = self._workspaces.get(n)
        if ws is None:
            if len(self._workspaces) > 4:   # training needs two sizes; drop stale ones
                self._workspaces.clear()
            ws = self._workspaces[n] = _Workspace(n, self.layer_sizes, self.dtype)
        return ws

    def compute_gradients(self, x: Array, y: Array | None, sw: Array | None = None,
                          factor: float = 1.0) -> float | None:
        """Forward and backward on one batch, gradients into ``self.grads``; returns the loss.

        The seam of the training step: fit, partial_fit, the doctor's probe, :meth:`trace`
        and :meth:`backward` all reach the maths through here, so a compiled backend
        replaces this one method.  ``x`` (batch, n_in) and ``y`` (batch, n_out) must
        already be validated arrays of the network's dtype (:meth:`check_data`); ``sw`` is
        (batch,) sample weights or None.  With ``y`` None only the forward pass runs (every
        layer's z and a into the workspace; :meth:`trace` reads them) and None is returned.
        Nothing parameter-sized is allocated.  ``factor`` multiplies the gradients (not the
        loss): plain SGD passes -learning_rate, and the gradients come out as the step (see
        ``Optimizer.linear``).
        """
        if y is not None and self._kernels is not None:      # the Numba backend
            return self._kernels.train_batch(x, y, sw, factor)   # prepares, then layer_pass
        return self.layer_pass(x, y, sw, factor)

    def _attach_backend(self) -> None:
        """This process's backend for the network: its kernels (None for NumPy, loaded at
        the first step otherwise) and the per-layer operations :meth:`layer_pass` calls:
        ``(forward, backward, output, forward for forward-only passes)``.  NumPy's are the
        reference; a backend's kernels replace those they have a kernel for when they load
        (``Kernels.layer_ops``), and forward-only passes (trace, forward, predict) keep
        NumPy's."""
        self._kernels = _backend.kernels_for(self)
        hidden = self.activations[:-1]
        forward = [_numpy_forward(a) for a in hidden]
        # the output operation is the function, not the bound method: no reference cycle
        self._ops = (forward, [_numpy_backward(a) for a in hidden], Network._output_delta,
                     forward)

    def layer_pass(self, x: Array, y: Array | None, sw: Array | None = None,
                   factor: float = 1.0) -> float | None:
        """:meth:`compute_gradients`'s forward and backward, layer by layer, with the
        backend's per-layer operations: ``forward[l](z, b, out)`` adds the bias to ``z`` and
        writes f(z) into ``out``, ``backward[l](delta, z, a)`` multiplies ``delta`` by
        f'(z) in place, ``output(net, z, a, y, sw, delta, ws, factor)`` gives the loss and
        ``factor`` * dL/dz.  The matrix products are NumPy's BLAS on every backend."""
        forward, backward, output, numpy_forward = self._ops
        # np.dot rather than np.matmul: the same BLAS calls with less dispatch overhead,
        # which is most of the cost of a step on small layers
        n = x.shape[0]
        ws = self._workspaces.get(n) or self._workspace(n)
        W, B, acts = self._weights, self._biases, self.activations
        gW, gB = self._grad_w, self._grad_b
        zs, As, deltas = ws.z, ws.a, ws.delta
        last = len(W) - 1
        if y is None:
            forward = numpy_forward
        a = x
        for l in range(last):
            z = np.dot(a, W[l], out=zs[l])                   # (batch, fan_out)
            a = forward[l](z, B[l], As[l])
        z = np.dot(a, W[last], out=zs[last])
        z += B[last]
        if y is None:
            acts[last].apply(z, As[last])
            return None
        delta = deltas[last]
        loss = output(self, z, As[last], y, sw, delta, ws, factor)
        for l in range(last, -1, -1):
            below = As[l - 1] if l else x
            np.dot(below.T, delta, out=gW[l])                # (fan_in, fan_out)
            np.dot(ws.ones, delta, out=gB[l])                # column sums, (fan_out,)
            if l:
                prev = deltas[l - 1]
                np.dot(delta, W[l].T, out=prev)              # (batch, fan_in)
                backward[l - 1](prev, zs[l - 1], As[l - 1])
                delta = prev
        return loss

    def _output_delta(self, z, a, y, sw, delta, ws, factor: float = 1.0) -> float:
        """The output activation of ``z`` into ``a`` and ``factor`` * dL/dz into ``delta``;
        returns the batch's (weighted) mean loss."""
        n = z.shape[0]
        if sw is None:
            scale = 1.0 / n
        else:
            scale = np.divide(sw.reshape(-1, 1), sw.sum(), out=ws.scale)
        if self.fused_loss:
            if self.output.name == "softmax":
                loss = _softmax_ce(z, a, y, scale, ws)
            else:
                self.output.apply(z, a)
                per = self.loss.per_sample_from_logits(z, y)
                loss = float(per.mean() if sw is None else per @ scale[:, 0])
            np.subtract(a, y, out=delta)
        else:
            self.output.apply(z, a)
            per = self.loss.per_sample(a, y)
            loss = float(per.mean() if sw is None else per @ scale[:, 0])
            g = self.loss.grad(a, y) * n            # per-sample dl/da
            delta[...] = self.output.vjp(g, z, a)
        if sw is None:
            delta *= scale * factor
        else:
            delta *= scale
            if factor != 1.0:
                delta *= factor
        return loss

    def train_step(self, x: Array, y: Array, sw: Array | None, optimizer, state,
                   alpha: float = 0.0):
        """One step of mini-batch gradient descent on a validated batch; returns
        ``(loss, state)``.

        ``loss`` is the batch's (weighted) mean loss before the step, L2 penalty included;
        ``state`` the optimizer's state after it.  The step: gradients
        (:meth:`compute_gradients`), plus MLPClassifier's L2 term ``alpha * W / batch_n``
        on the weights (``batch_n``: the batch's size or sample-weight sum), then
        ``optimizer.update`` turns ``grads`` into the step and ``params += grads``.  Plain
        SGD folds ``-learning_rate`` into the backward pass instead (``Optimizer.linear``).
        When the loss is not finite nothing is applied: the caller decides what follows
        (fit runs its steps under ``np.errstate(over="ignore", invalid="ignore")`` and
        checks the loss, which is cheaper than an errstate per step).  Afterwards ``grads``
        holds the step that was taken.
        """
        linear = optimizer.linear
        # the Numba backend may take a small network's whole forward-backward in one call
        gradients = self.compute_gradients if self._kernels is None else \
            self._kernels.step_gradients
        if linear is None:
            factor = 1.0
            loss = gradients(x, y, sw)
        else:                                   # grads come out as the step
            factor, following = linear(state)
            loss = gradients(x, y, sw, factor)
        if alpha:
            n_w = self.n_weights
            pw, gw = self.params[:n_w], self.grads[:n_w]
            if self._l2 is None:
                self._l2 = np.empty_like(pw)                  # (n_weights,) scratch
            scale = alpha / (x.shape[0] if sw is None else float(sw.sum()))
            loss += 0.5 * scale * float(np.dot(pw, pw))
            np.multiply(pw, scale * factor, out=self._l2)
            gw += self._l2
        if not math.isfinite(loss):
            return loss, state
        if linear is None and self._kernels is not None:
            # the Numba backend: update and params += grads in one compiled pass
            fused = self._kernels.fused_update(optimizer, state)
            if fused is not None:
                return loss, fused(self.grads, state, self.params)
        if linear is None:
            state = optimizer.update(self.grads, state, self.params)
        else:
            state = following
        self.params += self.grads
        return loss, state

    # --- training and prediction -----------------------------------------------------------------

    def fit(self, X, y, **settings):
        """Train with mini-batch gradient descent; returns a History.

        Keyword arguments (all described in :func:`glassnet.training.fit`): ``epochs=10,
        batch_size=32, optimizer="sgd", learning_rate=None, alpha=0.0, shuffle=True,
        sample_weight=None, validation_data=None, validation_split=0.0, metrics=None,
        callbacks=None, early_stopping=False, patience=10, min_delta=0.0, monitor="auto",
        restore_best=True, checkpoint=None, checkpoint_every=1, resume="auto", verbose=0``.
        If training diverges, the error carries glassnet.doctor's explanation.
        """
        # Deliberate hand-off upward: the training loop and the doctor sit above the
        # network (docs/architecture.md), so they are imported when fit is called.
        from . import training
        from .doctor import explain_divergence
        return training.train(self, X, y, training.make_settings(
            "fit", **settings, explain_divergence=explain_divergence))

    def partial_fit(self, X, y, **settings):
        """One pass over (X, y), keeping the optimizer state; see :func:`glassnet.training.partial_fit`."""
        # Deliberate hand-off upward, as in fit.
        from . import training
        from .doctor import explain_divergence
        return training.train(self, X, y, training.partial_fit_settings(
            self, **settings, explain_divergence=explain_divergence))

    def predict_proba(self, X) -> Array:
        """Class probabilities, (batch, n_classes); a single sigmoid output gives [1-p, p]."""
        if not self.is_classifier:
            raise GlassnetError(f"predict_proba needs a classifier; this network's loss is "
                                f"{self.loss.name!r}.")
        p = self.forward(X)
        if p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def predict(self, X) -> Array:
        """Class indices for a classifier (0/1 matrix for multi-label), values for a regressor."""
        out = self.forward(X)
        if self.loss.name == "cross_entropy" and out.shape[1] > 1:
            return out.argmax(axis=1)
        if self.loss.name == "binary_cross_entropy":
            labels = (out > 0.5).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return out[:, 0] if out.shape[1] == 1 else out

    def evaluate(self, X, y, sample_weight=None, metrics=None) -> dict:
        """The loss and the usual metrics: accuracy for classifiers, MSE and R^2 for regressors.

        ``metrics`` (names or callables, as in ``fit``) replaces the usual set.
        """
        return _metrics.evaluate(self, X, y, sample_weight=sample_weight, metrics=metrics)

    def save(self, path) -> None:
        """Write the network to a safe, versioned model file (see :mod:`glassnet.io`)."""
        # Deliberate hand-off upward: model files sit above the network.
        from .io import save
        save(self, path)


def _softmax_ce(z, a, y, scale, ws) -> float:
    """Softmax of ``z`` into ``a`` and the (weighted) mean cross-entropy, sharing the work.

    With shifted logits s = z - c and r_i = sum_k exp s_ik, softmax is exp(s_i) / r_i and
    loss_i = log r_i - y_i . s_i (each target row sums to 1; ``encode_targets`` makes
    sure).  Any shift c gives the same values; c is the batch's largest logit, one
    contiguous reduction instead of a maximum per short row (a third of this function's
    cost on a small network).  If some row's logits all lie far below the batch's largest,
    its r_i would underflow and lose precision: then each row is shifted by its own maximum.
    ``scale`` is 1/n, or the normalised sample weights as a (batch, 1) column.
    Sums along rows go through BLAS (GEMV, dot): on a handful of output units that is
    several times cheaper than NumPy's reductions over short rows.
    """
    rows = ws.rows                                               # (batch,)
    ys = _exp_shifted(z, np.maximum.reduce(z, None), a, y, scale, ws)
    if np.minimum.reduce(rows) < ws.safe:                        # a row far below the rest
        np.maximum.reduce(z, axis=1, out=rows)
        ys = _exp_shifted(z, ws.rows_col, a, y, scale, ws)       # each row by its max: r_i >= 1
    a /= ws.rows_col
    np.log(rows, out=rows)
    if isinstance(scale, float):
        return (float(np.dot(rows, ws.ones)) - float(ys)) * scale
    return float(np.dot(rows, scale[:, 0])) - float(ys)


def _exp_shifted(z, shift, a, y, scale, ws):
    """exp(z - shift) into ``a`` and its row sums r_i into ``ws.rows``; returns the (weighted)
    sum of y_i . s_i over the batch, taken from the shifted logits s before the exp."""
    np.subtract(z, shift, out=a)
    ys = np.vdot(y, a) if isinstance(scale, float) else np.einsum("ij,ij,i->", y, a, scale[:, 0])
    np.exp(a, out=a)
    np.dot(a, ws.out_ones, out=ws.rows)
    return ys


def _zeros_pair(n: int, dtype, sizes):
    """The parameter and gradient buffers, or an error naming layer_sizes if they can't fit."""
    need = 2 * n * dtype.itemsize
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # not a POSIX system
        memory = None
    try:
        if memory is not None and need > memory:
            raise MemoryError
        params = np.zeros(n, dtype)
        # np.zeros, not zeros_like: calloc'd pages cost no memory until training writes them
        return params, np.zeros(n, dtype)
    except (MemoryError, ValueError):
        raise GlassnetError(f"layer_sizes {echo(sizes)} needs {n:,} parameters "
                            f"({need / 2 ** 30:.3g} GiB with their gradients in {dtype.name}), "
                            "more than this machine's memory.") from None


def _layout(shapes, n_w: int) -> ParameterLayout:
    """The slices of each layer's weights and biases in the flat buffer (weights first)."""
    weights, biases, w_off, b_off = [], [], 0, n_w
    for fi, fo in shapes:
        weights.append(slice(w_off, w_off + fi * fo))
        biases.append(slice(b_off, b_off + fo))
        w_off += fi * fo
        b_off += fo
    return ParameterLayout(weights, biases)


def _views(buf: Array, layout: ParameterLayout):
    """Per-layer views of a flat buffer: weights (fan_in, fan_out), biases (fan_out,)."""
    weights = [buf[w].reshape(-1, b.stop - b.start) for w, b in zip(layout.weights, layout.biases)]
    biases = [buf[b] for b in layout.biases]
    return ParamList(weights, "weights"), ParamList(biases, "biases")


def _numpy_forward(act):
    """``forward(z, b, out)``: z += b, then f(z) into ``out`` (NumPy's operation)."""
    apply = act.apply

    def forward(z, b, out):
        z += b
        return apply(z, out)
    return forward


def _numpy_backward(act):
    """``backward(delta, z, a)``: delta *= f'(z) in place (NumPy's operation)."""
    grad = act.grad_inplace

    def backward(delta, z, a):
        delta *= grad(z, a)
    return backward


#: what a copy or a pickle rebuilds rather than copies (see _allocate)
_BUFFERS = ("params", "grads", "layout", "_weights", "_biases", "_grad_w", "_grad_b",
            "_workspaces", "_l2", "_kernels", "_ops")


def _make_rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        check_int("seed", seed, minimum=0)
    return np.random.default_rng(seed)


def _check_sizes(layer_sizes, name: str = "layer_sizes") -> list:
    try:
        sizes = list(layer_sizes)
    except TypeError:
        raise GlassnetError(f"{name} must be a list of layer widths such as [64, 32, 10]; "
                            f"got {echo(layer_sizes)}.") from None
    if len(sizes) < 2:
        raise GlassnetError(f"{name} needs at least an input and an output size; got "
                            f"{echo(sizes)}.")
    for i, s in enumerate(sizes):
        check_int(f"{name}[{i}]", s, minimum=1)
    return [int(s) for s in sizes]


def _per_layer(name: str, spec, count: int, resolve) -> list:
    """One spec for every layer, or a list with exactly one per layer."""
    if isinstance(spec, list):
        if len(spec) != count:
            raise GlassnetError(f"{name} was given as a list of {len(spec)}; expected one per "
                                f"layer ({count}), or a single value for all.")
        items = spec
    else:
        items = [spec] * count
        if resolve and count == 0:
            resolve(spec)   # still reject a bad name when there is no hidden layer
    return [resolve(s) for s in items] if resolve else list(items)


def _resolve_output(output, loss, n_out: int):
    if output is None and loss is None:
        output, loss = ("softmax", "cross_entropy") if n_out > 1 else ("sigmoid",
                                                                       "binary_cross_entropy")
    if loss is None:
        loss = _losses.DEFAULT_LOSS_FOR_OUTPUT.get(_act.get(output).name, "squared_error")
    loss = _losses.get(loss)
    out_act = _act.get(output if output is not None else loss.default_output)
    if out_act.name == "softmax" and n_out < 2:
        raise GlassnetError("output='softmax' needs at least 2 output units; use "
                            "output='sigmoid' with loss='binary_cross_entropy' for one.")
    if loss.name == "cross_entropy" and n_out < 2:
        raise GlassnetError("loss='cross_entropy' needs at least 2 output units; use "
                            "'binary_cross_entropy' for a single output.")
    if loss.name != "squared_error" and out_act.name not in ("softmax", "sigmoid"):
        # log of a value outside (0, 1) is NaN or -inf: training would silently diverge
        raise GlassnetError(f"loss={loss.name!r} needs probabilities from output 'softmax' or "
                            f"'sigmoid'; output={out_act.name!r} gives values outside (0, 1).")
    return out_act, loss
