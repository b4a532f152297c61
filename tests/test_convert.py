"""Converters: scikit-learn MLPs, PyTorch Sequentials and .npz weight files become Networks
whose predictions equal the original's within 1e-6, and the doctor can examine them."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from sklearn.metrics import log_loss

import glassnet
from glassnet import GlassnetError, from_npz, from_sklearn, from_torch
from glassnet.convert import load_npz_weights
from glassnet.doctor import diagnose

nn = torch.nn


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def _fit(estimator, X, y):
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


# --- scikit-learn -----------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp_classifier_multiclass(iris, activation):
    from sklearn.neural_network import MLPClassifier
    X, y = iris
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(8, 5), activation=activation, max_iter=60,
                             random_state=0), X, y)
    net = from_sklearn(mlp)
    assert net.layer_sizes == [4, 8, 5, 3]
    assert [a.name for a in net.activations] == \
        [{"logistic": "sigmoid"}.get(activation, activation)] * 2 + ["softmax"]
    assert net.loss.name == "cross_entropy"
    assert np.max(np.abs(net.predict_proba(X) - mlp.predict_proba(X))) < 1e-6
    classes = np.array(net.metadata["classes"])
    assert np.array_equal(classes[net.predict(X)], mlp.predict(X))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_mlp_classifier_binary_with_string_labels_and_feature_names():
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.neural_network import MLPClassifier
    data = load_breast_cancer()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    frame = pd.DataFrame(X, columns=list(data.feature_names))
    labels = np.where(data.target == 1, "benign", "malignant")
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(10,), max_iter=40, random_state=0), frame,
               labels)
    if not hasattr(mlp, "feature_names_in_"):      # not every scikit-learn version keeps them
        mlp.feature_names_in_ = np.array(data.feature_names, dtype=object)
    net = from_sklearn(mlp)
    assert net.layer_sizes == [30, 10, 1] and net.output.name == "sigmoid"
    assert net.loss.name == "binary_cross_entropy"
    assert np.max(np.abs(net.predict_proba(X) - mlp.predict_proba(frame))) < 1e-6
    assert net.metadata["classes"] == ["benign", "malignant"]
    assert net.metadata["feature_names"] == list(data.feature_names)
    assert np.array_equal(np.array(net.metadata["classes"])[net.predict(X)], mlp.predict(frame))
    assert diagnose(net, frame, (labels == "malignant").astype(int), steps=20).ok
    # the labels themselves work too: the stored classes map them, and the start loss is
    # the MLP's own training loss (less its L2 term), so the mapping is the right one
    report = diagnose(net, frame, labels, steps=0, probe_size=len(frame))
    assert report.ok
    assert report.context["start_loss"] == pytest.approx(
        log_loss(labels, mlp.predict_proba(frame)), rel=1e-9)


def test_labels_that_are_not_0_to_k_minus_1_are_mapped_by_the_stored_classes(iris):
    from sklearn.neural_network import MLPClassifier
    X, y = iris
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0), X, y + 1)
    net = from_sklearn(mlp)
    assert net.metadata["classes"] == [1, 2, 3]
    report = diagnose(net, X, y + 1, steps=0)
    assert report.context["start_loss"] == pytest.approx(
        log_loss(y + 1, mlp.predict_proba(X)), rel=1e-9)
    with pytest.raises(GlassnetError, match=r"labels the model does not know: \['0'\]; its "
                                            r"classes are \[1, 2, 3\]"):
        diagnose(net, X, y, steps=0)       # 0..2 would silently shift every class


def test_mlp_classifier_multilabel():
    from sklearn.datasets import make_multilabel_classification
    from sklearn.neural_network import MLPClassifier
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=3,
                                          random_state=0)
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(7,), max_iter=40, random_state=0), X, Y)
    net = from_sklearn(mlp)
    assert net.output.name == "sigmoid" and net.layer_sizes[-1] == 3
    assert np.max(np.abs(net.forward(X) - mlp.predict_proba(X))) < 1e-6
    assert np.array_equal(net.predict(X), mlp.predict(X))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_regressor(activation):
    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor
    X, y = load_diabetes(return_X_y=True)
    mlp = _fit(MLPRegressor(hidden_layer_sizes=(12,), activation=activation, max_iter=30,
                            random_state=0),
               X, (y - y.mean()) / y.std())
    net = from_sklearn(mlp)
    assert net.output.name == "identity" and net.loss.name == "squared_error"
    assert np.max(np.abs(net.predict(X) - mlp.predict(X))) < 1e-6
    assert "classes" not in net.metadata


def test_float32_mlp_keeps_float32(iris):
    from sklearn.neural_network import MLPClassifier
    X, y = iris
    mlp = _fit(MLPClassifier(hidden_layer_sizes=(6,), max_iter=30, random_state=0),
               X.astype(np.float32), y)
    net = from_sklearn(mlp)
    assert net.dtype == np.float32
    assert np.max(np.abs(net.predict_proba(X.astype(np.float32))
                         - mlp.predict_proba(X.astype(np.float32)))) < 1e-6
    assert from_sklearn(mlp, dtype="float64").dtype == np.float64


def test_from_sklearn_refuses_what_it_cannot_convert(iris):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = iris
    with pytest.raises(GlassnetError, match="not fitted"):
        from_sklearn(MLPClassifier(hidden_layer_sizes=(4,)))
    with pytest.raises(GlassnetError, match="MLPClassifier or MLPRegressor; got LogisticReg"):
        from_sklearn(LogisticRegression())
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(4,)))
    with pytest.raises(GlassnetError, match=r"pipeline\[-1\]"):
        from_sklearn(pipe)
    from glassnet.sklearn import GlassClassifier
    ours = GlassClassifier((4,), max_iter=5, random_state=0)
    with pytest.warns(Warning):           # ConvergenceWarning after 5 epochs
        ours.fit(X, y)
    with pytest.raises(GlassnetError, match="glassnet already: pass it to "
                                            "glassnet.doctor.diagnose"):
        from_sklearn(ours)
    from sklearn.neural_network import MLPRegressor
    poisson = _fit(MLPRegressor(hidden_layer_sizes=(3,), loss="poisson", max_iter=5,
                                random_state=0), X, y + 1.0)
    with pytest.raises(GlassnetError, match="out_activation_.*'exp'"):
        from_sklearn(poisson)


# --- PyTorch ----------------------------------------------------------------------------------

_ACTIVATIONS = [
    (lambda: nn.ReLU(), "relu", {}),
    (lambda: nn.Tanh(), "tanh", {}),
    (lambda: nn.Sigmoid(), "sigmoid", {}),
    (lambda: nn.LeakyReLU(0.2), "leaky_relu", {"slope": 0.2}),
    (lambda: nn.ELU(alpha=0.5), "elu", {"alpha": 0.5}),
    (lambda: nn.SELU(), "selu", {}),
    (lambda: nn.Softplus(), "softplus", {}),
    (lambda: nn.GELU(approximate="tanh"), "gelu", {"approximate": "tanh"}),
    (lambda: nn.SiLU(), "silu", {}),
]


def _torch_out(module, X, dtype=torch.float64):
    with torch.no_grad():
        return module(torch.tensor(X, dtype=dtype)).numpy()


@pytest.mark.parametrize("make,name,params", _ACTIVATIONS, ids=[a[1] for a in _ACTIVATIONS])
def test_each_supported_activation(make, name, params):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 9), make(), nn.Linear(9, 7), make(), nn.Linear(7, 2)
                          ).double()
    X = np.random.default_rng(0).normal(scale=2.0, size=(64, 5))
    net = from_torch(model)
    assert [a.name for a in net.activations] == [name, name, "identity"]
    assert net.activations[0].params == params
    assert net.loss.name == "squared_error"
    assert np.max(np.abs(net.forward(X) - _torch_out(model, X))) < 1e-6
    # the weights are torch's, transposed into (fan_in, fan_out)
    assert np.array_equal(net.weights[0], model[0].weight.detach().numpy().T)
    assert np.array_equal(net.biases[2], model[4].bias.detach().numpy())


def test_softmax_sigmoid_logsoftmax_endings_and_logit_models(iris):
    X, y = iris
    torch.manual_seed(1)
    body = [nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)]
    model = nn.Sequential(*body, nn.Softmax(dim=1)).double().eval()
    net = from_torch(model)
    assert net.output.name == "softmax" and net.loss.name == "cross_entropy"
    assert np.max(np.abs(net.predict_proba(X) - _torch_out(model, X))) < 1e-6
    log_model = nn.Sequential(*body, nn.LogSoftmax(dim=-1)).double().eval()
    assert np.max(np.abs(from_torch(log_model).forward(X) - np.exp(_torch_out(log_model, X)))) \
        < 1e-6
    logits = nn.Sequential(nn.Sequential(*body[:2]), *body[2:]).double().eval()   # nested
    net = from_torch(logits, output="softmax")
    reference = torch.softmax(torch.tensor(_torch_out(logits, X)), dim=1).numpy()
    assert np.max(np.abs(net.predict_proba(X) - reference)) < 1e-6
    binary = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1), nn.Sigmoid()).double()
    net = from_torch(binary)
    assert net.output.name == "sigmoid" and net.loss.name == "binary_cross_entropy"
    assert np.max(np.abs(net.forward(X) - _torch_out(binary, X))) < 1e-6
    with pytest.raises(GlassnetError, match="contradicts"):
        from_torch(binary, output="softmax")


def test_float32_models_and_dtypes():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 3), nn.Softmax(dim=1))
    X = np.random.default_rng(1).normal(size=(40, 6))
    for dtype in ("float32", "float64"):
        net = from_torch(model, dtype=dtype)
        assert net.dtype == np.dtype(dtype)
        out = net.forward(X.astype(dtype))
        assert np.max(np.abs(out - _torch_out(model, X, torch.float32))) < 1e-6


def test_exact_gelu_is_refused_unless_approximation_is_asked_for():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 12), nn.GELU(), nn.Linear(12, 2)).double()
    with pytest.raises(GlassnetError, match="approximate_gelu=True"):
        from_torch(model)
    X = np.random.default_rng(0).normal(size=(50, 4))
    diff = np.max(np.abs(from_torch(model, approximate_gelu=True).forward(X)
                         - _torch_out(model, X)))
    assert 1e-7 < diff < 5e-3       # a documented approximation, not an exact conversion


def test_from_torch_refuses_unsupported_structures():
    with pytest.raises(GlassnetError, match=r"module 1 \(BatchNorm1d\) is not supported"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)))
    with pytest.raises(GlassnetError, match="before the first Linear"):
        from_torch(nn.Sequential(nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(GlassnetError, match="follows another activation"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2)))
    with pytest.raises(GlassnetError, match="must be the last module"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=1), nn.Linear(4, 2)))
    with pytest.raises(GlassnetError, match="takes 5 inputs but the Linear layer before it "
                                            "gives 4"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)))
    with pytest.raises(GlassnetError, match="dim=0"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)))
    with pytest.raises(GlassnetError, match="beta"):
        from_torch(nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2), nn.Linear(4, 2)))
    with pytest.raises(GlassnetError, match="no nn.Linear"):
        from_torch(nn.Sequential(nn.Identity()))
    with pytest.raises(GlassnetError, match="torch nn.Sequential"):
        from_torch([nn.Linear(3, 4)])


def test_a_zero_initialized_torch_model_is_diagnosed(iris):
    X, y = iris
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 3))
    for layer in (model[0], model[2], model[4]):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    net = from_torch(model, output="softmax")
    report = diagnose(net, X, y, steps=30)
    assert report.codes == ["no_update"] and report.findings[0].layers == (1, 2)
    model_without_bias = nn.Sequential(nn.Linear(4, 6, bias=False), nn.ReLU(),
                                       nn.Linear(6, 3, bias=False))
    assert not np.any(from_torch(model_without_bias).biases[0])


# --- .npz files -------------------------------------------------------------------------------

def _handwritten(rng, sizes=(5, 7, 4, 3)):
    """Weights and biases as a hand-written sigmoid network keeps them: w (in, out), b (1, out)."""
    w = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(size=(1, n)) for n in sizes[1:]]
    return w, b


def _forward(X, w, b, act):
    """The hand-written forward pass: the oracle the converted network must equal."""
    a = X
    for W, B in zip(w, b):
        a = act(a @ W + B)
    return a


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("layout", ["w0", "W_1", "weights_0", "coef_0", "weight.0",
                                    "positional", "interleaved", "torch"])
def test_npz_layouts_give_the_handwritten_networks_predictions(tmp_path, layout):
    rng = np.random.default_rng(0)
    w, b = _handwritten(rng)
    path = tmp_path / "net.npz"
    if layout == "positional":
        np.savez(path, *w, *b)
    elif layout == "interleaved":
        np.savez(path, *[a for pair in zip(w, b) for a in pair])
    elif layout == "torch":                 # PyTorch's (out, in) orientation, 1-D biases
        np.savez(path, **{f"weight_{i}": W.T for i, W in enumerate(w)},
                 **{f"bias_{i}": B.ravel() for i, B in enumerate(b)})
    else:
        wp, bp, base = {"w0": ("w", "b", 0), "W_1": ("W_", "b_", 1),
                        "weights_0": ("weights_", "biases_", 0),
                        "coef_0": ("coef_", "intercept_", 0),
                        "weight.0": ("weight.", "bias.", 0)}[layout]
        np.savez(path, **{f"{wp}{i + base}": W for i, W in enumerate(w)},
                 **{f"{bp}{i + base}": B for i, B in enumerate(b)})
    net = from_npz(path, activation="sigmoid", output="sigmoid", loss="squared_error")
    assert net.layer_sizes == [5, 7, 4, 3]
    X = rng.normal(size=(30, 5))
    assert np.max(np.abs(net.forward(X) - _forward(X, w, b, _sigmoid))) < 1e-6


def test_npz_activation_stored_in_the_file_and_missing_biases(tmp_path):
    rng = np.random.default_rng(1)
    w, _ = _handwritten(rng, (4, 6, 2))
    path = tmp_path / "net.npz"
    np.savez(path, w0=w[0], w1=w[1], activation=np.array("tanh"))
    net = from_npz(path, output="identity")
    assert net.activations[0].name == "tanh" and not np.any(net.biases[0])
    X = rng.normal(size=(10, 4))
    assert np.max(np.abs(net.forward(X) - np.tanh(X @ w[0]) @ w[1])) < 1e-6
    weights, biases = load_npz_weights(path)
    assert [W.shape for W in weights] == [(4, 6), (6, 2)] and biases[1].shape == (2,)


def test_npz_square_layers_default_to_glassnets_orientation(tmp_path):
    rng = np.random.default_rng(2)
    w = [rng.normal(size=(4, 4)), rng.normal(size=(4, 4))]
    path = tmp_path / "square.npz"
    np.savez(path, w0=w[0], w1=w[1], b0=np.zeros(4), b1=np.zeros(4))
    assert np.array_equal(load_npz_weights(path)[0][0], w[0])
    assert np.array_equal(load_npz_weights(path, orientation="out_in")[0][0], w[0].T)


def test_npz_problems_are_named(tmp_path):
    rng = np.random.default_rng(3)
    p = tmp_path / "a.npz"
    np.savez(p, w0=rng.normal(size=(3, 4)), b0=np.zeros(4), w1=rng.normal(size=(4, 2)),
             b1=np.zeros(2))
    with pytest.raises(GlassnetError, match="activation='sigmoid'"):
        from_npz(p)
    with pytest.raises(GlassnetError, match="does not exist|No such file"):
        from_npz(tmp_path / "missing.npz", activation="relu")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(GlassnetError, match="single array"):
        from_npz(tmp_path / "single.npy", activation="relu")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(GlassnetError, match="npz"):
        from_npz(tmp_path / "text.npz", activation="relu")
    np.savez(tmp_path / "pickled.npz", w0=np.array([{"x": 1}], dtype=object), b0=np.zeros(1))
    with pytest.raises(GlassnetError, match="pickle"):
        from_npz(tmp_path / "pickled.npz", activation="relu")
    # a ragged list of layers can only be saved as an object array: say how to save it
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.ones((4, 8)), np.ones((8, 3))]
    np.savez(tmp_path / "ragged.npz", weights=ragged)
    with pytest.raises(GlassnetError, match=r"pickle.*np\.savez\(path, \*weights, \*biases\)"):
        from_npz(tmp_path / "ragged.npz", activation="relu")
    np.savez(tmp_path / "odd.npz", w0=np.zeros((3, 4)), b0=np.zeros(4), head=np.zeros(2))
    with pytest.raises(GlassnetError, match=r"cannot tell what the arrays \['head'\] are"):
        from_npz(tmp_path / "odd.npz", activation="relu")
    np.savez(tmp_path / "gap.npz", w0=np.zeros((3, 4)), w2=np.zeros((4, 2)))
    with pytest.raises(GlassnetError, match="consecutive"):
        from_npz(tmp_path / "gap.npz", activation="relu")
    np.savez(tmp_path / "shapes.npz", w0=np.zeros((3, 4)), w1=np.zeros((5, 2)))
    with pytest.raises(GlassnetError, match="do not form a network"):
        from_npz(tmp_path / "shapes.npz", activation="relu")
    np.savez(tmp_path / "count.npz", w0=np.zeros((3, 4)), w1=np.zeros((4, 2)), b0=np.zeros(4))
    with pytest.raises(GlassnetError, match="2 weight arrays .* but 1 bias"):
        from_npz(tmp_path / "count.npz", activation="relu")
    # positional arrays: the order is found from the shapes.  Read as weight, bias pairs,
    # arr_1 (2, 2) would be a bias, which it cannot be; so these are weights then biases
    np.savez(tmp_path / "order.npz", np.ones((2, 2)), np.ones((2, 2)), np.zeros((1, 2)) + 1,
             np.zeros((1, 2)) + 2)
    weights, biases = load_npz_weights(tmp_path / "order.npz")
    assert [B.tolist() for B in biases] == [[1.0, 1.0], [2.0, 2.0]]
    np.savez(tmp_path / "three.npz", np.ones((2, 2)), np.ones(2), np.ones((2, 2)))
    with pytest.raises(GlassnetError, match="3 positional arrays"):
        load_npz_weights(tmp_path / "three.npz")


def test_npz_with_every_layer_in_one_array(tmp_path):
    """np.savez(path, weights=ws, biases=bs) stacks equal-shaped layers into one array."""
    rng = np.random.default_rng(4)
    w = [rng.normal(size=(5, 5)) / 2 for _ in range(3)]
    b = [rng.normal(size=5) for _ in range(3)]
    X = rng.normal(size=(12, 5))
    expected = _forward(X, w[:2], b[:2], np.tanh) @ w[2] + b[2]     # identity output
    for name, biases in (("rows", b), ("columns", [v.reshape(-1, 1) for v in b])):
        path = tmp_path / f"stacked_{name}.npz"
        np.savez(path, weights=w, biases=biases)
        net = from_npz(path, activation="tanh", output="identity")
        assert net.layer_sizes == [5, 5, 5, 5]
        assert np.max(np.abs(net.forward(X) - expected)) < 1e-12
    # a single layer (logistic regression): no hidden activation to name
    np.savez(tmp_path / "single.npz", W=w[0][:, :1], b=b[0][:1])
    single = from_npz(tmp_path / "single.npz")
    assert single.layer_sizes == [5, 1] and single.output.name == "sigmoid"
    z = X @ w[0][:, :1] + b[0][:1]
    assert np.max(np.abs(single.forward(X) - 1 / (1 + np.exp(-z)))) < 1e-12
    np.savez(tmp_path / "short.npz", weights=w, biases=np.zeros((2, 5)))
    with pytest.raises(GlassnetError, match=r"stack 3 layers .* \(2, 5\)"):
        from_npz(tmp_path / "short.npz", activation="tanh")
    np.savez(tmp_path / "mixed.npz", weights=w, w0=w[0])
    with pytest.raises(GlassnetError, match="mixes numbered arrays"):
        from_npz(tmp_path / "mixed.npz", activation="tanh")


def test_a_glassnet_model_file_is_a_readable_npz(tmp_path):
    net = glassnet.Network([4, 5, 3], activation="tanh", seed=0)
    path = tmp_path / "model.glassnet"
    net.save(path)
    again = from_npz(path, activation="tanh")
    X = np.random.default_rng(0).normal(size=(8, 4))
    assert np.max(np.abs(again.forward(X) - net.forward(X))) < 1e-12
