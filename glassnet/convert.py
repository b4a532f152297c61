"""Networks built elsewhere, as glassnet Networks: scikit-learn MLPs, PyTorch Sequentials, .npz.

Each converter copies the weights (transposing PyTorch's (out, in) matrices into
glassnet's (fan_in, fan_out)) and returns a :class:`~glassnet.Network` whose predictions
equal the original's, so that the doctor (``glassnet.doctor.diagnose``) can examine it.
scikit-learn and torch are imported only when their converter is called.

A converted network may be symmetric or zero-initialized: that is what the doctor is for,
so the converters do not emit :class:`~glassnet.SymmetryWarning`.
"""
from __future__ import annotations

import os
import warnings
import zipfile
from typing import Any

import numpy as np

from . import activations as _act
from ._validation import GlassnetError, check_choice
from .initializers import SymmetryWarning
from .io import check_archive
from .network import Network

__all__ = ["from_sklearn", "from_torch", "from_npz", "load_npz_weights"]


def _network(sizes, activation, output, loss, weights, biases, dtype, seed, metadata=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SymmetryWarning)
        net = Network(sizes, activation=activation, output=output, loss=loss, seed=seed,
                      dtype=dtype, weights=weights, biases=biases)
    if metadata:
        net.metadata.update(metadata)
    return net


# --- scikit-learn -----------------------------------------------------------------------------

#: scikit-learn's activation names -> glassnet's
_SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                        "relu": "relu"}
#: scikit-learn's out_activation_ -> (glassnet output, loss)
_SKLEARN_OUTPUTS = {"softmax": ("softmax", "cross_entropy"),
                    "logistic": ("sigmoid", "binary_cross_entropy"),
                    "identity": ("identity", "squared_error")}


def from_sklearn(mlp, *, dtype=None, seed: int = 0):
    """A Network computing the same function as a fitted ``MLPClassifier`` or ``MLPRegressor``.

    Weights come from ``coefs_`` and ``intercepts_`` (already (fan_in, fan_out)); the hidden
    activation from ``activation`` ("logistic" becomes "sigmoid"); the output and loss from
    ``out_activation_``: softmax with cross-entropy, logistic (binary or multi-label) with
    binary cross-entropy, identity with squared error.  ``net.metadata["classes"]`` keeps a
    classifier's ``classes_`` (so ``classes[net.predict(X)]`` is ``mlp.predict(X)``) and
    ``net.metadata["feature_names"]`` its ``feature_names_in_`` when it has them.
    ``dtype`` defaults to the dtype of ``coefs_``.

    >>> import warnings
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")            # ConvergenceWarning after 50 epochs
    ...     mlp = MLPClassifier((8,), max_iter=50, random_state=0).fit(X, y)
    >>> net = from_sklearn(mlp)
    >>> net.layer_sizes, net.metadata["classes"]
    ([4, 8, 3], [0, 1, 2])
    >>> bool(np.abs(net.predict_proba(X) - mlp.predict_proba(X)).max() < 1e-6)
    True
    """
    try:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError as exc:  # pragma: no cover - sklearn is an optional extra
        raise GlassnetError("from_sklearn needs scikit-learn: pip install glassnet[sklearn]"
                            ) from exc
    if not isinstance(mlp, (MLPClassifier, MLPRegressor)):
        hint = ""
        if type(mlp).__name__ in ("GlassClassifier", "GlassRegressor"):
            hint = (f" A {type(mlp).__name__} is glassnet already: pass it to "
                    "glassnet.doctor.diagnose as it is, or use its network_ (which takes "
                    "standardized inputs, (X - mean_) / scale_).")
        elif hasattr(mlp, "steps"):
            hint = (" For a Pipeline, convert its last step (pipeline[-1]) and transform X "
                    "with pipeline[:-1] before diagnosing.")
        raise GlassnetError(f"from_sklearn needs a fitted MLPClassifier or MLPRegressor; got "
                            f"{type(mlp).__name__}.{hint}")
    if not hasattr(mlp, "coefs_"):
        raise GlassnetError(f"This {type(mlp).__name__} is not fitted yet (it has no coefs_); "
                            "call fit first.")
    hidden = check_choice("activation", mlp.activation, _SKLEARN_ACTIVATIONS,
                          what=f"parameter of the {type(mlp).__name__}")
    out = check_choice("out_activation_", mlp.out_activation_, _SKLEARN_OUTPUTS,
                       what=f"attribute of the {type(mlp).__name__}")
    output, loss = _SKLEARN_OUTPUTS[out]
    weights = [np.asarray(c) for c in mlp.coefs_]
    biases = [np.asarray(b) for b in mlp.intercepts_]
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    if dtype is None:
        dtype = weights[0].dtype if weights[0].dtype in (np.float32, np.float64) else np.float64
    metadata = {"source": f"sklearn.{type(mlp).__name__}"}
    if hasattr(mlp, "classes_"):
        metadata["classes"] = np.asarray(mlp.classes_).tolist()
    if hasattr(mlp, "feature_names_in_"):
        metadata["feature_names"] = [str(s) for s in mlp.feature_names_in_]
    return _network(sizes, _SKLEARN_ACTIVATIONS[hidden], output, loss, weights, biases, dtype,
                    seed, metadata)


# --- PyTorch ----------------------------------------------------------------------------------

def _torch_activation(module, approximate_gelu: bool):
    """The glassnet activation for a torch activation module, or None if it is not one."""
    name = type(module).__name__
    if name == "ReLU":
        return _act.get("relu")
    if name == "Tanh":
        return _act.get("tanh")
    if name == "Sigmoid":
        return _act.get("sigmoid")
    if name == "LeakyReLU":
        return _act.get("leaky_relu", slope=float(module.negative_slope))
    if name == "ELU":
        return _act.get("elu", alpha=float(module.alpha))
    if name == "SELU":
        return _act.get("selu")
    if name == "SiLU":
        return _act.get("silu")
    if name == "Softplus":
        if float(module.beta) != 1.0:
            raise GlassnetError(f"Softplus(beta={module.beta}) is not supported: glassnet's "
                                "softplus is log(1 + exp(z)), torch's with beta=1.")
        return _act.get("softplus")
    if name == "GELU":
        if module.approximate == "tanh" or approximate_gelu:
            return _act.get("gelu")
        raise GlassnetError(
            "nn.GELU() is the exact, erf-based GELU; glassnet has only its tanh form "
            "(nn.GELU(approximate='tanh')), which differs from it by up to about 5e-4 per "
            "unit. Pass approximate_gelu=True to convert it to the tanh form anyway (fine "
            "for diagnosing, not for exact predictions), or train with "
            "nn.GELU(approximate='tanh').")
    return None


#: modules that compute nothing at inference time (Dropout is the identity in eval mode)
_PASS_THROUGH = ("Identity", "Dropout", "Flatten")
_SUPPORTED_TORCH = ("Linear", "ReLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "SELU", "Softplus",
                    "GELU", "SiLU", "Identity", "Dropout", "Flatten", "Softmax (last)",
                    "LogSoftmax (last)")


def _flatten_modules(module) -> list:
    name = type(module).__name__
    if name in ("Sequential", "ModuleList"):
        out = []
        for child in module.children():
            out.extend(_flatten_modules(child))
        return out
    return [module]


def from_torch(module, *, output=None, loss=None, dtype="float64", approximate_gelu: bool = False,
               seed: int = 0):
    """A Network computing the same function as a PyTorch ``nn.Sequential`` (or ``nn.Linear``).

    The Sequential is a chain of ``nn.Linear`` layers, each optionally followed by one of
    ReLU, Tanh, Sigmoid, LeakyReLU(negative_slope), ELU(alpha), SELU, Softplus (beta=1),
    GELU(approximate='tanh'), SiLU; Identity, Dropout (eval mode: the identity) and Flatten
    are skipped, nested Sequentials are unrolled.  A final Softmax (or LogSoftmax, whose
    exp is the same softmax) becomes the softmax output, a final Sigmoid the sigmoid
    output; a Sequential ending in a Linear layer has an identity output unless ``output``
    names the activation its loss applies (``output="softmax"`` for logits trained with
    ``nn.CrossEntropyLoss``, ``"sigmoid"`` for ``nn.BCEWithLogitsLoss``).  ``loss`` defaults
    to the one that pairs with the output.  Weights are transposed from torch's (out, in).

    The exact nn.GELU() uses erf, which glassnet does not have: it is refused unless
    ``approximate_gelu=True``, which converts it to the tanh form (outputs then differ by up
    to about 5e-4 per unit).
    """
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is an optional extra
        raise GlassnetError("from_torch needs PyTorch: pip install glassnet[torch]") from exc
    if not isinstance(module, torch.nn.Module):
        raise GlassnetError(f"from_torch needs a torch nn.Sequential of Linear layers and "
                            f"activations; got {type(module).__name__}.")
    modules = _flatten_modules(module)
    layers: list = []        # [weight (in, out), bias (out,), activation or None]
    final = None             # "softmax" from a trailing Softmax/LogSoftmax
    for i, m in enumerate(modules):
        name = type(m).__name__
        where = f"module {i} ({name})"
        if final is not None:
            raise GlassnetError(f"{where} comes after the final softmax; a Softmax or "
                                "LogSoftmax must be the last module.")
        if isinstance(m, torch.nn.Linear):
            if layers and layers[-1][0].shape[1] != m.in_features:
                raise GlassnetError(f"{where} takes {m.in_features} inputs but the Linear "
                                    f"layer before it gives {layers[-1][0].shape[1]}.")
            w = m.weight.detach().to("cpu", torch.float64).numpy().T.copy()
            b = (m.bias.detach().to("cpu", torch.float64).numpy().copy() if m.bias is not None
                 else np.zeros(m.out_features))
            layers.append([w, b, None])
            continue
        if name in _PASS_THROUGH:
            if name == "Flatten" and (m.start_dim, m.end_dim) != (1, -1):
                raise GlassnetError(f"{where}: only Flatten(start_dim=1) is supported.")
            continue
        if name in ("Softmax", "LogSoftmax"):
            if m.dim not in (None, 1, -1):
                raise GlassnetError(f"{where} normalizes over dim={m.dim}; glassnet's softmax "
                                    "is over the features (dim=1 or -1).")
            if not layers or layers[-1][2] is not None:
                raise GlassnetError(f"{where} must follow a Linear layer directly.")
            final = "softmax"
            continue
        act = _torch_activation(m, approximate_gelu)
        if act is None:
            raise GlassnetError(f"{where} is not supported. Supported modules: "
                                f"{', '.join(_SUPPORTED_TORCH)}.")
        if not layers:
            raise GlassnetError(f"{where} comes before the first Linear layer; glassnet "
                                "applies activations to a layer's outputs only.")
        if layers[-1][2] is not None:
            raise GlassnetError(f"{where} follows another activation ({layers[-1][2].name}); "
                                "each Linear layer takes at most one activation.")
        layers[-1][2] = act
    if not layers:
        raise GlassnetError("from_torch found no nn.Linear layer in the module.")
    last = layers[-1][2]
    if final is not None or last is not None:
        derived = final or last
        name = derived if isinstance(derived, str) else derived.name
        if output is not None and _act.get(output).name != name:
            raise GlassnetError(f"output={output!r} contradicts the module, which ends in "
                                f"{name!r}; leave output=None.")
        out_act = derived
    else:
        out_act = output if output is not None else "identity"
    hidden = [l[2] if l[2] is not None else _act.get("identity") for l in layers[:-1]]
    sizes = [layers[0][0].shape[0]] + [l[0].shape[1] for l in layers]
    return _network(sizes, hidden, out_act, loss, [l[0] for l in layers],
                    [l[1] for l in layers], dtype, seed, {"source": "torch.nn.Sequential"})


# --- .npz files of weight and bias lists ------------------------------------------------------

#: key prefixes (lower case) that name weight and bias arrays, longest first
_WEIGHT_PREFIXES = ("weights", "weight", "kernels", "kernel", "coefs", "coef", "w")
_BIAS_PREFIXES = ("intercepts", "intercept", "biases", "bias", "b")
_SEPARATORS = "_-."
#: keys that may hold the activation name(s) as strings
_ACTIVATION_KEYS = ("activation", "activations")

NPZ_LAYOUTS = """\
Accepted .npz layouts (np.savez / np.savez_compressed; pickles are refused):
  * named arrays: a weight prefix (w, W, weight, weights, coef, coefs, kernel) and a bias
    prefix (b, B, bias, biases, intercept, intercepts), then an optional separator (_ - .)
    and the layer index, from 0 or 1: w0 b0 w1 b1, W_1 b_1, weights_0 biases_0, coef_0
    intercept_0 ... (a glassnet model file's weights_0 / biases_0 too);
  * stacked arrays under a bare prefix: weights (layers, fan_in, fan_out) with biases
    (layers, n), when every layer has the same shape; or one layer's W and b;
  * positional arrays, as np.savez(path, *weights, *biases) or np.savez(path, w0, b0, w1,
    b1, ...) writes them: arr_0, arr_1, ... (the order is found from the shapes).
Weights are (fan_in, fan_out) like glassnet's and scikit-learn's, or (fan_out, fan_in)
like PyTorch's: the bias lengths tell which (orientation='auto'; all-square layers are
read as (fan_in, fan_out) unless orientation='out_in').  Biases may be (n,), (1, n) or
(n, 1); without any bias arrays the biases are zero.  An optional string array
'activation' (or 'activations', one per hidden layer) names the hidden activation."""


def _parse_key(key: str):
    """("w" or "b", index) for a named weight or bias key, ("w" or "b", None) for a bare
    prefix (an array holding every layer), else None.

    No regex: a known prefix, an optional separator, then digits."""
    low = key.lower()
    for kind, prefixes in (("w", _WEIGHT_PREFIXES), ("b", _BIAS_PREFIXES)):
        for prefix in prefixes:
            if low.startswith(prefix):
                rest = low[len(prefix):]
                if not rest:
                    return kind, None
                if rest[:1] in tuple(_SEPARATORS):
                    rest = rest[1:]
                if rest.isdigit():
                    return kind, int(rest)
    return None


def _open_npz(path, max_bytes=None) -> dict:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise GlassnetError(f"No such file: {path!r}.")
    check_archive(path, max_bytes=max_bytes, what=".npz archive")
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise GlassnetError(f"{path!r} could not be read as a .npz archive ({exc}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise GlassnetError(f"{path!r} is not a readable .npz archive ({exc}).") from None
    if isinstance(data, np.ndarray):
        raise GlassnetError(f"{path!r} holds a single array (a .npy file); expected a .npz "
                            "archive of weight and bias arrays.\n" + NPZ_LAYOUTS)
    arrays = {}
    with data:
        for key in data.files:
            if key.endswith(".json"):      # a glassnet model file's metadata member
                continue
            try:
                arrays[key] = data[key]
            except ValueError:
                raise GlassnetError(f"{path!r}: the array {key!r} holds Python objects (a "
                                    "pickle); glassnet refuses to load pickled data, which "
                                    "could run arbitrary code. A list of layers with "
                                    "different shapes becomes such an object array: save "
                                    "each layer as its own array instead, np.savez(path, "
                                    "*weights, *biases) or np.savez(path, w0=..., b0=..., "
                                    "w1=..., b1=...).") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise GlassnetError(f"{path!r} is truncated or damaged ({exc}).") from None
    return arrays


def _indexed(path, items: dict, what: str) -> list:
    idx = sorted(items)
    base = idx[0]
    if base not in (0, 1) or idx != list(range(base, base + len(idx))):
        raise GlassnetError(f"{path!r}: the {what} arrays are numbered {idx}; expected "
                            "consecutive indices from 0 (or 1).")
    return [items[i] for i in idx], base


def _as_bias(path, name, b) -> np.ndarray:
    b = np.asarray(b)
    if b.ndim == 2 and 1 in b.shape:
        b = b.reshape(-1)
    if b.ndim != 1:
        raise GlassnetError(f"{path!r}: bias {name} has shape {b.shape}; expected (n,), "
                            "(1, n) or (n, 1).")
    return b


def _orient(path, weights, biases, orientation):
    """(weights as (fan_in, fan_out), biases) or raise naming the shapes."""
    def chains(ws, bs):
        return (all(w.ndim == 2 for w in ws)
                and all(a.shape[1] == c.shape[0] for a, c in zip(ws, ws[1:]))
                and (bs is None or all(w.shape[1] == b.shape[0] for w, b in zip(ws, bs))))
    transposed = [w.T for w in weights]
    ok_in_out = chains(weights, biases)
    ok_out_in = chains(transposed, biases)
    if orientation == "in_out" or (orientation == "auto" and ok_in_out):
        chosen, ok = weights, ok_in_out
    else:
        chosen, ok = transposed, ok_out_in
    if not ok:
        shapes = [tuple(w.shape) for w in weights]
        bshapes = None if biases is None else [tuple(b.shape) for b in biases]
        raise GlassnetError(f"{path!r}: the weight shapes {shapes} and bias shapes {bshapes} "
                            "do not form a network in either orientation ((fan_in, fan_out) "
                            "or PyTorch's (fan_out, fan_in)): each layer's fan_out must be the "
                            "next layer's fan_in and its bias length.")
    return chosen


def load_npz_weights(path, *, orientation: str = "auto", max_bytes=None):
    """Read (weights, biases) from a .npz archive; weights come back (fan_in, fan_out).

    Returns two lists of float64 arrays, biases 1-D (zeros when the file has none).  See
    :data:`NPZ_LAYOUTS` for the accepted key layouts and orientations.
    """
    orientation = check_choice("orientation", orientation, ("auto", "in_out", "out_in"))
    arrays = _open_npz(path, max_bytes)
    named = {"w": {}, "b": {}}
    stacked, positional, unknown = {}, {}, []
    for key, arr in arrays.items():
        if key.lower() in _ACTIVATION_KEYS:
            continue
        if key.startswith("arr_") and key[4:].isdigit():
            positional[int(key[4:])] = arr
            continue
        parsed = _parse_key(key)
        if parsed is None:
            unknown.append(key)
            continue
        kind, i = parsed
        if i is None:
            if kind in stacked:
                raise GlassnetError(f"{path!r}: two arrays hold every "
                                    f"{'weight' if kind == 'w' else 'bias'} at once (one is "
                                    f"{key!r}).")
            stacked[kind] = arr
            continue
        if i in named[kind]:
            raise GlassnetError(f"{path!r}: two arrays name {'weight' if kind == 'w' else 'bias'}"
                                f" {i} (one is {key!r}).")
        named[kind][i] = arr
    if unknown:
        raise GlassnetError(f"{path!r}: cannot tell what the arrays {sorted(unknown)} are.\n"
                            + NPZ_LAYOUTS)
    if positional and (named["w"] or named["b"] or stacked):
        raise GlassnetError(f"{path!r} mixes positional arrays (arr_0, ...) with named ones.\n"
                            + NPZ_LAYOUTS)
    if stacked and (named["w"] or named["b"]):
        raise GlassnetError(f"{path!r} mixes numbered arrays (w0, b0, ...) with arrays that "
                            "hold every layer at once (weights, biases).\n" + NPZ_LAYOUTS)
    for key, arr in list(arrays.items()):
        if key.lower() not in _ACTIVATION_KEYS and np.asarray(arr).dtype.kind not in "biuf":
            raise GlassnetError(f"{path!r}: the array {key!r} has dtype {arr.dtype}; expected "
                                "real numbers.")
    if positional:
        return _positional(path, positional, orientation)
    if not named["w"] and "w" not in stacked:
        raise GlassnetError(f"{path!r} holds no weight arrays.\n" + NPZ_LAYOUTS)
    if stacked:
        weights, biases = _unstack(path, stacked)
        wbase = 0
    else:
        weights, wbase = _indexed(path, named["w"], "weight")
        weights = [np.asarray(w, dtype=np.float64) for w in weights]
        biases = None
    if named["b"]:
        biases, bbase = _indexed(path, named["b"], "bias")
        if len(biases) != len(weights) or bbase != wbase:
            raise GlassnetError(f"{path!r} has {len(weights)} weight arrays (from index "
                                f"{wbase}) but {len(biases)} bias arrays (from index {bbase}).")
        biases = [_as_bias(path, f"{i + bbase}", b).astype(np.float64)
                  for i, b in enumerate(biases)]
    for i, w in enumerate(weights):
        if w.ndim != 2:
            raise GlassnetError(f"{path!r}: weight {i + wbase} has shape {w.shape}; expected "
                                "a 2-D matrix.")
    weights = _orient(path, weights, biases, orientation)
    if biases is None:
        biases = [np.zeros(w.shape[1]) for w in weights]
    return [np.ascontiguousarray(w) for w in weights], biases


def _unstack(path, stacked: dict):
    """(weights, biases or None) from arrays holding every layer at once: weights
    (layers, a, b) with biases (layers, n) or (layers, n, 1); or a single layer's (a, b)
    matrix with its bias."""
    w = np.asarray(stacked["w"], dtype=np.float64)
    if w.ndim not in (2, 3):
        raise GlassnetError(f"{path!r}: the weight array has shape {w.shape}; expected one "
                            "layer's (fan_in, fan_out) matrix or a stack (layers, fan_in, "
                            "fan_out).")
    weights = [w] if w.ndim == 2 else list(w)
    if "b" not in stacked:
        return weights, None
    b = np.asarray(stacked["b"], dtype=np.float64)
    if len(weights) == 1:
        return weights, [_as_bias(path, "0", b)]
    if b.ndim == 3 and b.shape[2] == 1:
        b = b[:, :, 0]
    if b.ndim != 2 or b.shape[0] != len(weights):
        raise GlassnetError(f"{path!r}: the weights stack {len(weights)} layers {w.shape} but "
                            f"the bias array has shape {b.shape}; expected ({len(weights)}, n).")
    return weights, list(b)


def _positional(path, positional: dict, orientation):
    arrs, _ = _indexed(path, positional, "positional (arr_*)")
    if arrs and min(positional) != 0:
        raise GlassnetError(f"{path!r}: positional arrays must start at arr_0.")
    arrs = [np.asarray(a, dtype=np.float64) for a in arrs]
    if len(arrs) % 2:
        raise GlassnetError(f"{path!r} holds {len(arrs)} positional arrays; expected a weight "
                            "and a bias per layer.\n" + NPZ_LAYOUTS)
    k = len(arrs) // 2
    candidates = {"weights then biases": (arrs[:k], arrs[k:]),
                  "interleaved": (arrs[0::2], arrs[1::2])}
    found = []
    for label, (ws, bs) in candidates.items():
        try:
            bs = [_as_bias(path, str(i), b) for i, b in enumerate(bs)]
            if any(w.ndim != 2 for w in ws):
                continue
            found.append((label, _orient(path, ws, bs, orientation), bs))
        except GlassnetError:
            continue
    if not found:
        shapes = [tuple(a.shape) for a in arrs]
        raise GlassnetError(f"{path!r}: the positional arrays' shapes {shapes} form no network "
                            "as weights-then-biases or as weight, bias pairs.\n" + NPZ_LAYOUTS)
    if len(found) > 1 and any(not np.array_equal(a, b) for a, b in
                              zip(found[0][1] + found[0][2], found[1][1] + found[1][2])):
        raise GlassnetError(f"{path!r}: the positional arrays fit both orders (all weights "
                            "then all biases, and weight, bias pairs); save them with names "
                            "(w0=..., b0=...) instead.")
    _, weights, biases = found[0]
    return [np.ascontiguousarray(w) for w in weights], biases


def from_npz(path, *, activation: Any = None, output: Any = None, loss: Any = None,
             dtype="float64", orientation: str = "auto", seed: int = 0, max_bytes=None):
    """A Network from a .npz archive of weight and bias lists, with the given activations.

    ``activation`` is the hidden activation (a name, or one per hidden layer); when None,
    the file's 'activation' string array is used.  ``output`` and ``loss`` default as for
    :class:`~glassnet.Network` (softmax and cross-entropy for several outputs, sigmoid and
    binary cross-entropy for one); a hand-written network that applies its activation to
    the output too and trains on squared error is ``output="sigmoid",
    loss="squared_error"``.  See :data:`NPZ_LAYOUTS` for the accepted files.  The archive
    must be a regular file whose arrays inflate to at most ``max_bytes`` (as for
    :func:`glassnet.load`: 4 GiB unless raised, see :func:`glassnet.io.max_model_bytes`).

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> np.savez(p, w0=np.ones((4, 3)), b0=np.zeros(3), w1=np.ones((3, 2)), b1=np.zeros(2))
    >>> from_npz(p, activation="tanh").layer_sizes
    [4, 3, 2]
    """
    weights, biases = load_npz_weights(path, orientation=orientation, max_bytes=max_bytes)
    if activation is None:   # a single layer has no hidden activation to name
        activation = _stored_activation(path, len(weights) - 1, max_bytes) if len(weights) > 1 \
            else "identity"
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    return _network(sizes, activation, output, loss, weights, biases, dtype, seed,
                    {"source": f"npz:{os.path.basename(os.fspath(path))}"})


def _stored_activation(path, n_hidden: int, max_bytes=None):
    arrays = _open_npz(path, max_bytes)
    for key in arrays:
        if key.lower() in _ACTIVATION_KEYS:
            value = np.asarray(arrays[key])
            if value.dtype.kind != "U":
                raise GlassnetError(f"{path!r}: the {key!r} array must hold activation names "
                                    f"(strings); got dtype {value.dtype}.")
            names = [str(v) for v in value.reshape(-1)]
            if len(names) == 1:
                return names[0]
            if len(names) != n_hidden:
                raise GlassnetError(f"{path!r}: {key!r} names {len(names)} activations; the "
                                    f"network has {n_hidden} hidden layers.")
            return names
    raise GlassnetError(f"{os.fspath(path)!r} holds only weights and biases: say which hidden "
                        "activation they were trained with, e.g. from_npz(path, "
                        "activation='sigmoid') (--activation on the command line).")
