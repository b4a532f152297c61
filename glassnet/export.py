"""Networks leave glassnet: an ONNX file, a PyTorch ``nn.Sequential``, a fitted scikit-learn MLP.

The inverses of :mod:`glassnet.convert`.  Each takes a :class:`~glassnet.Network` (also
one read by :func:`glassnet.load`) or a fitted ``GlassClassifier`` / ``GlassRegressor``,
and carries over what ``predict`` applies around the network:

* input standardization, ``(x - mean) / std`` per feature: the estimator's ``mean_`` and
  ``scale_``, or a model file's ``metadata["scaling"]`` (``glassnet train`` stores it);
* class labels: the estimator's ``classes_`` or ``metadata["classes"]``;
* target scaling of a regressor trained by ``glassnet train``
  (``metadata["target_scaling"]``: the prediction is ``output * std + mean``).

=============  ============================================================================
to_onnx        one graph: standardization, the layers, probabilities *and* labels (or the
               unscaled prediction); runs in onnxruntime alone, float32 or float64
to_torch       ``nn.Sequential`` of Linear layers and activation modules; standardization
               and target scaling become one extra Linear layer each (diagonal weights)
to_sklearn     ``MLPClassifier`` / ``MLPRegressor`` with the same weights; standardization
               becomes a ``StandardScaler`` in front (a ``Pipeline``), target scaling is
               folded into the output layer
=============  ============================================================================

onnx, torch and scikit-learn are imported only when their exporter is called.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import GlassnetError
from ._version import __version__
from .activations import SELU_ALPHA, SELU_SCALE, _GELU_C, _GELU_CLIP
from .data import Standardizer
from .io import _as_path, atomic_write
from .network import Network

__all__ = ["to_onnx", "build_onnx", "to_torch", "to_sklearn", "DEFAULT_OPSET", "MIN_OPSET"]

#: the opset written when ``opset=None``: old enough for every onnxruntime since 1.13
DEFAULT_OPSET = 17
#: the oldest opset the graph can be written in (Softmax over one axis, Squeeze's axes input)
MIN_OPSET = 13


# --- what predict applies around the network --------------------------------------------------

@dataclass(frozen=True)
class _Exported:
    """A network plus the preprocessing and postprocessing its predict applies."""

    net: Any                       #: the glassnet Network
    mean: np.ndarray | None        #: input standardization (float64), or None
    scale: np.ndarray | None
    classes: list | None           #: labels of a single-label classifier's classes
    multilabel: bool               #: several independent sigmoid outputs, 0/1 labels
    target_mean: float | None      #: a regressor's prediction is output * std + mean
    target_std: float | None
    feature_names: list | None
    source: str                    #: "Network" or the estimator's class name

    @property
    def is_classifier(self) -> bool:
        return self.net.is_classifier


def _resolve(model, caller: str) -> _Exported:
    if isinstance(model, Network):
        return _from_network(model, caller)
    if type(model).__name__ in ("GlassClassifier", "GlassRegressor") \
            and type(model).__module__ == "glassnet.sklearn":
        return _from_estimator(model, caller)
    hint = ""
    if type(model).__module__.startswith(("sklearn.", "torch.")):
        hint = " (a model from another library: convert it with glassnet.from_sklearn or " \
               "glassnet.from_torch first)"
    raise GlassnetError(f"{caller} needs a glassnet Network (or a model read with "
                        f"glassnet.load) or a fitted GlassClassifier / GlassRegressor; got "
                        f"{type(model).__name__}{hint}.")


def _from_network(net, caller: str) -> _Exported:
    meta = net.metadata or {}
    n_in, n_out = net.layer_sizes[0], net.layer_sizes[-1]
    mean = scale = None
    if meta.get("scaling"):
        s = Standardizer.from_dict(meta["scaling"], n_in, what="metadata['scaling']")
        mean, scale = s.mean, s.std
    multilabel = net.loss.name == "binary_cross_entropy" and n_out > 1
    classes = None
    if net.is_classifier and not multilabel:
        classes = meta.get("classes")
        if classes is not None:
            if not isinstance(classes, (list, tuple, np.ndarray)) or len(classes) != net.n_classes:
                raise GlassnetError(f"{caller}: the network's metadata['classes'] is "
                                    f"{classes!r:.80}; expected a list of {net.n_classes} class "
                                    f"labels (the network has {n_out} output unit(s)).")
            classes = list(classes)
    t_mean = t_std = None
    ts = meta.get("target_scaling")
    if ts and not net.is_classifier:
        try:
            t_mean, t_std = float(ts["mean"]), float(ts["std"])
        except (KeyError, TypeError, ValueError):
            raise GlassnetError(f"{caller}: the network's metadata['target_scaling'] is "
                                f"{ts!r:.80}; expected {{'mean': number, 'std': number}}."
                                ) from None
    return _Exported(net, mean, scale, classes, multilabel, t_mean, t_std,
                     _feature_names(meta.get("feature_names"), n_in, caller), "Network")


def _from_estimator(est, caller: str) -> _Exported:
    net = est.__dict__.get("network_")
    if net is None:
        raise GlassnetError(f"This {type(est).__name__} is not fitted yet (it has no network_); "
                            f"call fit before {caller}.")
    mean = None if est.mean_ is None else np.asarray(est.mean_, dtype=np.float64)
    scale = None if est.scale_ is None else np.asarray(est.scale_, dtype=np.float64)
    multilabel = bool(getattr(est, "_multilabel", False))
    classes = None
    if hasattr(est, "classes_") and not multilabel:
        classes = np.asarray(est.classes_).tolist()
    names = getattr(est, "feature_names_in_", None)
    return _Exported(net, mean, scale, classes, multilabel, None, None,
                     _feature_names(None if names is None else list(names),
                                    net.layer_sizes[0], caller), type(est).__name__)


def _feature_names(names, n_in: int, caller: str) -> list | None:
    if names is None:
        return None
    if not isinstance(names, (list, tuple)) or len(names) != n_in:
        raise GlassnetError(f"{caller}: the feature names {names!r:.80} are not a list of "
                            f"{n_in} names (one per input).")
    return [str(n) for n in names]


def _need(module: str, caller: str, extra: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise GlassnetError(f"{caller} needs {module.split('.')[0]}, which is not installed: "
                            f"pip install 'glassnet[{extra}]'.") from None


# --- ONNX --------------------------------------------------------------------------------------

class _Graph:
    """Nodes and constants of one ONNX graph in one float dtype, with fresh names."""

    def __init__(self, dtype: np.dtype):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.dtype = np.dtype(dtype)
        self.elem = helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._count: dict = {}
        self._scalars: dict = {}

    def name(self, hint: str) -> str:
        n = self._count.get(hint, 0)
        self._count[hint] = n + 1
        return hint if n == 0 else f"{hint}_{n}"

    def const(self, value, hint: str = "c", dtype=None) -> str:
        """An initializer; scalars in the graph's dtype unless ``dtype`` says otherwise."""
        arr = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        key = (hint, arr.dtype.str, arr.item()) if arr.ndim == 0 else None
        if key in self._scalars:   # one initializer per scalar, however often it is used
            return self._scalars[key]
        name = self.name(hint)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        if key is not None:
            self._scalars[key] = name
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        out = self.name(hint or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out],
                                                name=self.name(f"{op_type}_node"), **attrs))
        return out


def _onnx_where_positive(g: _Graph, z: str, negative: str) -> str:
    """``z if z > 0 else negative``: np.where(z > 0, z, ...) as glassnet writes it."""
    return g.op("Where", g.op("Greater", z, g.const(0.0, "zero")), z, negative)


def _onnx_expm1_nonpositive(g: _Graph, z: str) -> str:
    """exp(min(z, 0)) - 1: ONNX has no expm1; the absolute error is below 1 ulp of 1."""
    neg = g.op("Min", z, g.const(0.0, "zero"))
    return g.op("Sub", g.op("Exp", neg), g.const(1.0, "one"))


def _onnx_sigmoid(g, z, p):
    return g.op("Sigmoid", z)


def _onnx_leaky_relu(g, z, p):
    # LeakyRelu's alpha attribute is a float32: in a float64 graph slope 0.01 would be off by
    # 2e-10, so the slope is a constant of the graph's dtype
    return _onnx_where_positive(g, z, g.op("Mul", z, g.const(p["slope"], "slope")))


def _onnx_elu(g, z, p):
    # Elu (like Selu and Softplus) has no float64 kernel in onnxruntime: composed instead
    return _onnx_where_positive(g, z, g.op("Mul", g.const(p["alpha"], "alpha"),
                                           _onnx_expm1_nonpositive(g, z)))


def _onnx_selu(g, z, p):
    inner = _onnx_where_positive(g, z, g.op("Mul", g.const(SELU_ALPHA, "selu_alpha"),
                                            _onnx_expm1_nonpositive(g, z)))
    return g.op("Mul", g.const(SELU_SCALE, "selu_scale"), inner)


def _onnx_softplus(g, z, p):
    # max(z, 0) + log(1 + exp(-|z|)): never overflows (glassnet's form, log1p -> log(1 + .))
    tail = g.op("Exp", g.op("Neg", g.op("Abs", z)))
    return g.op("Add", g.op("Max", z, g.const(0.0, "zero")),
                g.op("Log", g.op("Add", g.const(1.0, "one"), tail)))


def _onnx_gelu(g, z, p):
    # 0.5 z (1 + tanh(sqrt(2/pi) (zc + 0.044715 zc^3))), zc = clip(z, -10, 10) as in glassnet
    zc = g.op("Clip", z, g.const(-_GELU_CLIP, "clip_min"), g.const(_GELU_CLIP, "clip_max"))
    cube = g.op("Mul", g.op("Mul", zc, zc), zc)
    inner = g.op("Mul", g.const(_GELU_C, "gelu_c"),
                 g.op("Add", zc, g.op("Mul", g.const(0.044715, "gelu_k"), cube)))
    return g.op("Mul", g.op("Mul", g.const(0.5, "half"), z),
                g.op("Add", g.const(1.0, "one"), g.op("Tanh", inner)))


def _onnx_silu(g, z, p):
    return g.op("Mul", z, g.op("Sigmoid", z))


#: glassnet activation name -> (graph, z, params) -> output; a test checks every registry name
ONNX_ACTIVATIONS = {
    "identity": lambda g, z, p: z,
    "sigmoid": _onnx_sigmoid,
    "tanh": lambda g, z, p: g.op("Tanh", z),
    "relu": lambda g, z, p: g.op("Relu", z),
    "leaky_relu": _onnx_leaky_relu,
    "elu": _onnx_elu,
    "selu": _onnx_selu,
    "softplus": _onnx_softplus,
    "gelu": _onnx_gelu,
    "silu": _onnx_silu,
    "softmax": lambda g, z, p: g.op("Softmax", z, axis=-1),
}


def _label_constant(classes: list):
    """The class labels as one array of a type ONNX holds: int64, double, bool or string."""
    values = list(classes)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
           for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating))
           and not isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=np.float64)
    return np.asarray([str(v) for v in values], dtype=object)


def _check_input_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise GlassnetError(f"input_dtype must be 'float32' or 'float64' (or None: the "
                            f"network's dtype); got {dtype!r}.")
    return dt


def _check_opset(opset) -> int:
    import onnx
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) \
            or not MIN_OPSET <= int(opset) <= newest:
        raise GlassnetError(f"opset must be an integer from {MIN_OPSET} to {newest} (the newest "
                            f"this onnx package knows); got {opset!r}.")
    return int(opset)


def build_onnx(model, *, opset=None, input_dtype=None):
    """The ``onnx.ModelProto`` that :func:`to_onnx` writes, checked, without writing it.

    ``onnxruntime.InferenceSession(build_onnx(model).SerializeToString())`` serves a model
    without a file.
    """
    onnx = _need("onnx", "to_onnx", "onnx")
    from onnx import TensorProto, helper
    exp = _resolve(model, "to_onnx")
    opset = _check_opset(opset)
    net = exp.net
    g = _Graph(net.dtype)
    n_in, n_out = net.layer_sizes[0], net.layer_sizes[-1]
    in_dtype = net.dtype if input_dtype is None else _check_input_dtype(input_dtype)
    in_elem = helper.np_dtype_to_tensor_dtype(in_dtype)

    x = "input"
    if exp.mean is not None:
        # standardized in float64 and then cast, as predict does
        if in_dtype != np.float64:
            x = g.op("Cast", x, to=TensorProto.DOUBLE, hint="input_f64")
        x = g.op("Sub", x, g.const(exp.mean, "input_mean", np.float64), hint="centred")
        x = g.op("Div", x, g.const(exp.scale, "input_scale", np.float64), hint="standardized")
        in_elem = TensorProto.DOUBLE
    if in_elem != g.elem:
        x = g.op("Cast", x, to=g.elem, hint="input_cast")
    a = x
    for i, (W, b, act) in enumerate(zip(net.weights, net.biases, net.activations), start=1):
        z = g.op("Add", g.op("MatMul", a, g.const(W, f"W{i}"), hint=f"matmul{i}"),
                 g.const(b, f"b{i}"), hint=f"z{i}")
        a = ONNX_ACTIVATIONS[act.name](g, z, act.params)

    batch = "batch"
    outputs = []
    if exp.is_classifier:
        if exp.multilabel:
            proba = g.op("Identity", a, hint="probabilities")
            label = g.op("Cast", g.op("Greater", proba, g.const(0.5, "threshold")),
                         to=TensorProto.INT64, hint="label")
            outputs.append(helper.make_tensor_value_info(label, TensorProto.INT64,
                                                         [batch, n_out]))
        else:
            if n_out == 1:   # one sigmoid unit: [1 - p, p], as predict_proba
                proba = g.op("Concat", g.op("Sub", g.const(1.0, "one"), a), a, axis=1,
                             hint="probabilities")
            else:
                proba = g.op("Identity", a, hint="probabilities")
            index = g.op("ArgMax", proba, axis=1, keepdims=0,
                         hint="label" if exp.classes is None else "class_index")
            label, label_type = index, TensorProto.INT64
            if exp.classes is not None:
                table = _label_constant(exp.classes)
                label = g.op("Gather", g.const(table, "classes", table.dtype), index, axis=0,
                             hint="label")
                label_type = helper.np_dtype_to_tensor_dtype(table.dtype) \
                    if table.dtype != object else TensorProto.STRING
            outputs.append(helper.make_tensor_value_info(label, label_type, [batch]))
        n_proba = n_out if exp.multilabel else net.n_classes
        outputs.append(helper.make_tensor_value_info(proba, g.elem, [batch, n_proba]))
    else:
        y = a
        if exp.target_std is not None:
            y = g.op("Add", g.op("Mul", y, g.const(exp.target_std, "target_std")),
                     g.const(exp.target_mean, "target_mean"), hint="unscaled")
        if n_out == 1:   # (batch,) as predict returns for one target
            y = g.op("Reshape", y, g.const([-1], "flat", np.int64), hint="prediction")
            shape = [batch]
        else:
            y = g.op("Identity", y, hint="prediction")
            shape = [batch, n_out]
        outputs.append(helper.make_tensor_value_info(y, g.elem, shape))

    inputs = [helper.make_tensor_value_info("input", helper.np_dtype_to_tensor_dtype(in_dtype),
                                            [batch, n_in])]
    layers = " -> ".join(str(s) for s in net.layer_sizes)
    acts = ", ".join(a.name for a in net.activations)
    graph = helper.make_graph(g.nodes, "glassnet", inputs, outputs, g.initializers,
                              doc_string=f"glassnet {exp.source}: layers {layers}; "
                                         f"activations {acts}")
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="glassnet",
                              producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto.doc_string = _doc(exp)
    props = {"glassnet_version": __version__,
             "task": "classification" if exp.is_classifier else "regression",
             "layer_sizes": json.dumps(list(net.layer_sizes)),
             "activations": json.dumps([a.name for a in net.activations]),
             "dtype": net.dtype.name,
             "input_standardization": "inside the graph" if exp.mean is not None else "none"}
    if exp.feature_names is not None:
        props["feature_names"] = json.dumps(exp.feature_names)
    if exp.classes is not None:
        props["classes"] = json.dumps(_label_constant(exp.classes).tolist())
    if exp.target_std is not None:
        props["target_scaling"] = json.dumps({"mean": exp.target_mean, "std": exp.target_std})
    helper.set_model_props(proto, props)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _doc(exp: _Exported) -> str:
    n_in = exp.net.layer_sizes[0]
    lines = [f"input: (batch, {n_in}) {exp.net.dtype.name}"
             + (" raw features (standardized inside the graph)" if exp.mean is not None else "")]
    if exp.is_classifier:
        if exp.multilabel:
            lines.append("label: (batch, labels) int64, 1 where the label's probability > 0.5")
        else:
            lines.append("label: (batch,) the predicted class"
                         + (" label" if exp.classes is not None else " index"))
        lines.append("probabilities: (batch, classes), as predict_proba")
    else:
        lines.append("prediction: as predict"
                     + (" (target scaling undone)" if exp.target_std is not None else ""))
    return "\n".join(lines)


def to_onnx(model, path, *, opset: int | None = None, input_dtype=None) -> Path:
    """Write ``model`` as an ONNX file computing what its ``predict`` / ``predict_proba`` do.

    ``model`` is a :class:`~glassnet.Network` (one read by :func:`glassnet.load` keeps its
    input scaling, class labels and target scaling) or a fitted ``GlassClassifier`` /
    ``GlassRegressor``.  The graph takes one input, ``input`` (batch, n_features) in the
    network's dtype (float32 or float64; raw features: standardization happens inside, in
    float64 as ``predict`` does it), with a dynamic batch axis, and gives:

    * classifiers: ``label`` (batch,) the class labels (int64, double, bool or string, from
      ``classes_``; class indices without labels; a (batch, labels) 0/1 int64 matrix for
      multilabel) and ``probabilities`` (batch, n_classes);
    * regressors: ``prediction`` (batch,) for one target, else (batch, n_targets).

    The metadata (``metadata_props``) holds ``glassnet_version``, ``feature_names``,
    ``classes``, ``task``, the layer sizes and activations.  Every glassnet activation maps
    to standard operators in both dtypes (elu, selu, softplus and the tanh-form gelu are
    composed from elementary ones, which onnxruntime runs in float64 too).  ``opset``
    defaults to :data:`DEFAULT_OPSET`.  ``input_dtype="float64"`` gives a float32 network
    a float64 input, standardized before it is rounded to float32, exactly as ``predict``
    treats float64 data (a float32 input is rounded first: up to 6e-8 * |x| / std more
    error per standardized feature).  The file is written atomically; returns its path.

    >>> import glassnet, os, tempfile
    >>> net = glassnet.Network([4, 8, 3], activation="gelu", seed=0)
    >>> path = glassnet.to_onnx(net, os.path.join(tempfile.mkdtemp(), "net.onnx"))
    >>> path.suffix
    '.onnx'
    """
    path = _as_path(path, "ONNX file")
    proto = build_onnx(model, opset=opset, input_dtype=input_dtype)
    data = proto.SerializeToString()
    with atomic_write(path, "wb") as f:
        f.write(data)
    return path


# --- PyTorch -----------------------------------------------------------------------------------

def _torch_module(nn, act):
    """The torch module for a glassnet activation (None for the identity)."""
    name, p = act.name, act.params
    if name == "identity":
        return None
    modules = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "selu": nn.SELU,
               "silu": nn.SiLU}
    if name in modules:
        return modules[name]()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=p["slope"])
    if name == "elu":
        return nn.ELU(alpha=p["alpha"])
    if name == "softplus":
        # torch returns z itself above its threshold (default 20, dropping log1p(exp(-z)) up
        # to 2.1e-9); from 40 on that term is below 5e-18, under half an ulp of z in float64
        return nn.Softplus(beta=1.0, threshold=SOFTPLUS_THRESHOLD)
    if name == "gelu":
        return nn.GELU(approximate="tanh")
    if name == "softmax":
        return nn.Softmax(dim=-1)
    raise GlassnetError(f"to_torch has no module for activation {name!r}.")  # pragma: no cover


#: where to_torch's Softplus switches to the identity (exact in float64 from here on)
SOFTPLUS_THRESHOLD = 40.0

#: the names to_torch maps (a test checks the registry against it)
TORCH_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu",
                     "softplus", "gelu", "silu", "softmax")


def to_torch(model):
    """An ``nn.Sequential`` computing what the network computes: the inverse of ``from_torch``.

    One ``nn.Linear`` per layer (weights transposed to torch's (out, in)), each followed by
    its activation module: Sigmoid, Tanh, ReLU, LeakyReLU(slope), ELU(alpha), SELU,
    Softplus, GELU(approximate='tanh'), SiLU; none for the identity.  The output activation
    ends the Sequential (Softmax(dim=-1), Sigmoid, ...), which is how ``from_torch`` reads a
    network's output back.  Parameters have the network's dtype, and
    ``from_torch(to_torch(net))`` gives back the same weights.

    A model with input standardization (a fitted GlassClassifier / GlassRegressor, or a
    model file from ``glassnet train``) gets one more ``nn.Linear`` in front with diagonal
    weights 1/std and bias -mean/std, so the module takes raw features; a model file's
    target scaling becomes a diagonal Linear after the output.  Class labels have no place
    in a Sequential: ``classes[module(x).argmax(1)]``.

    >>> import glassnet
    >>> glassnet.to_torch(glassnet.Network([4, 8, 3], activation="tanh", seed=0))
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=3, bias=True)
      (3): Softmax(dim=-1)
    )
    """
    torch = _need("torch", "to_torch", "torch")
    nn = torch.nn
    exp = _resolve(model, "to_torch")
    net = exp.net
    tdtype = torch.float64 if net.dtype == np.float64 else torch.float32

    def linear(W, b):   # W is (fan_in, fan_out), glassnet's orientation
        layer = nn.Linear(W.shape[0], W.shape[1], dtype=tdtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(W).T)))
            layer.bias.copy_(torch.from_numpy(np.asarray(b).reshape(-1).copy()))
        return layer

    modules = []
    if exp.mean is not None:
        inv = 1.0 / exp.scale
        modules.append(linear(np.diag(inv).astype(net.dtype), (-exp.mean * inv).astype(net.dtype)))
    for W, b, act in zip(net.weights, net.biases, net.activations):
        modules.append(linear(W, b))
        m = _torch_module(nn, act)
        if m is not None:
            modules.append(m)
    if exp.target_std is not None:
        k = net.layer_sizes[-1]
        modules.append(linear(np.eye(k, dtype=net.dtype) * exp.target_std,
                              np.full(k, exp.target_mean, dtype=net.dtype)))
    return nn.Sequential(*modules).eval()


# --- scikit-learn ------------------------------------------------------------------------------

#: glassnet hidden activations scikit-learn's MLPs have -> their scikit-learn names
SKLEARN_ACTIVATIONS = {"identity": "identity", "sigmoid": "logistic", "tanh": "tanh",
                       "relu": "relu"}


def to_sklearn(model):
    """A fitted ``MLPClassifier`` or ``MLPRegressor`` with the network's weights.

    scikit-learn's MLPs apply one activation, identity, logistic (glassnet's sigmoid), tanh
    or relu, to every hidden layer, and end in softmax (multiclass), logistic (binary or
    multilabel) or identity (regression, an ``MLPRegressor``); any other network is refused
    with an error naming the layer.  Class labels come from ``classes_`` or
    ``metadata["classes"]`` (else 0..k-1), feature names from the model too, and
    ``from_sklearn(to_sklearn(net))`` gives back the same weights.

    A model with input standardization comes back as a ``Pipeline`` of a fitted
    ``StandardScaler`` and the MLP, so it takes raw features; a model file's target scaling
    is folded into the output layer (``W * std``, ``b * std + mean``).  The MLP continues
    training with ``partial_fit`` or ``warm_start=True``.

    >>> import glassnet
    >>> mlp = glassnet.to_sklearn(glassnet.Network([4, 8, 3], activation="tanh", seed=0))
    >>> mlp.activation, mlp.out_activation_, mlp.classes_.tolist()
    ('tanh', 'softmax', [0, 1, 2])
    """
    _need("sklearn", "to_sklearn", "sklearn")
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelBinarizer, StandardScaler
    exp = _resolve(model, "to_sklearn")
    net = exp.net
    n_layers = net.n_layers
    hidden = [a.name for a in net.activations[:-1]]
    for i, name in enumerate(hidden, start=1):
        if name not in SKLEARN_ACTIVATIONS:
            raise GlassnetError(
                f"to_sklearn: hidden layer {i} (layer {i} of {n_layers}) uses {name!r}, which "
                "scikit-learn's MLPs do not have (they have identity, logistic = sigmoid, tanh "
                "and relu); export this network with glassnet.to_onnx or glassnet.to_torch.")
        if name != hidden[0]:
            raise GlassnetError(
                f"to_sklearn: hidden layer {i} uses {name!r} but hidden layer 1 uses "
                f"{hidden[0]!r}; scikit-learn's MLPs apply one activation to every hidden "
                "layer. Export this network with glassnet.to_onnx or glassnet.to_torch.")
    out = net.output.name
    n_out = net.layer_sizes[-1]
    if out not in ("softmax", "sigmoid", "identity"):
        raise GlassnetError(
            f"to_sklearn: the output layer (layer {n_layers} of {n_layers}) uses {out!r}; "
            "scikit-learn's MLPs end in softmax, logistic (sigmoid) or identity. Export this "
            "network with glassnet.to_onnx or glassnet.to_torch.")
    weights = [np.array(W) for W in net.weights]
    biases = [np.array(b).reshape(-1) for b in net.biases]
    params = dict(hidden_layer_sizes=tuple(net.layer_sizes[1:-1]),
                  activation=SKLEARN_ACTIVATIONS[hidden[0]] if hidden else "identity")
    if out == "identity":
        mlp = MLPRegressor(**params)
        mlp.out_activation_ = "identity"
        if exp.target_std is not None:
            weights[-1] = weights[-1] * net.dtype.type(exp.target_std)
            biases[-1] = biases[-1] * net.dtype.type(exp.target_std) \
                + net.dtype.type(exp.target_mean)
    else:
        mlp = MLPClassifier(**params)
        lb = LabelBinarizer()
        if out == "sigmoid" and n_out > 1:   # one independent probability per label
            lb.fit(np.eye(n_out, dtype=np.int64))
        else:
            lb.fit(np.asarray(exp.classes if exp.classes is not None
                              else np.arange(max(2, n_out))))
        mlp._label_binarizer = lb
        mlp.classes_ = lb.classes_
        mlp.out_activation_ = "softmax" if out == "softmax" else "logistic"
    mlp.coefs_, mlp.intercepts_ = weights, biases
    mlp.n_features_in_ = net.layer_sizes[0]
    mlp.n_layers_ = len(net.layer_sizes)
    mlp.n_outputs_ = n_out
    # what fit leaves behind, so that partial_fit and warm_start continue from these weights
    mlp.n_iter_, mlp.t_, mlp.loss_, mlp.loss_curve_ = 0, 0, None, []
    mlp.best_loss_, mlp._no_improvement_count = np.inf, 0
    mlp.validation_scores_ = mlp.best_validation_score_ = None
    if exp.mean is None:
        if exp.feature_names is not None:
            mlp.feature_names_in_ = np.asarray(exp.feature_names, dtype=object)
        return mlp
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = exp.mean.copy(), exp.scale.copy()
    scaler.var_ = exp.scale ** 2
    scaler.n_features_in_ = net.layer_sizes[0]
    scaler.n_samples_seen_ = 0
    if exp.feature_names is not None:
        scaler.feature_names_in_ = np.asarray(exp.feature_names, dtype=object)
    return Pipeline([("standardize", scaler), ("mlp", mlp)])
