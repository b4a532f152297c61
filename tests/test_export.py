"""Exports: ONNX graphs run in onnxruntime give what glassnet's predict gives (every
activation, output and dtype, on random and real data, batches of 1 and 1000); to_torch and
to_sklearn are exact inverses of from_torch and from_sklearn and predict like the network;
``glassnet export`` serves a model trained by ``glassnet train``.

How close is "equal": float64 to 1e-12, float32 to 1e-6, relative to the size of the output
(probabilities are at most 1, so for them it is absolute).  float32 cannot do better: the
same network run in float32 by glassnet and by onnxruntime differs from its float64 value by
up to ~2e-6 of the output's size either way, from the order of the sums alone.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import glassnet
from glassnet import GlassnetError, activations, from_sklearn, from_torch
from glassnet import to_onnx, to_sklearn, to_torch
from glassnet.data import Standardizer
from glassnet.export import DEFAULT_OPSET, ONNX_ACTIVATIONS, TORCH_ACTIVATIONS, build_onnx

HIDDEN = [n for n in activations.NAMES if n not in activations.OUTPUT_ONLY]
TOL = {"float32": 1e-6, "float64": 1e-12}
pytestmark = pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")

#: output kind -> (units, output activation, loss)
OUTPUTS = {"softmax": (3, "softmax", "cross_entropy"),
           "sigmoid": (1, "sigmoid", "binary_cross_entropy"),
           "multilabel": (3, "sigmoid", "binary_cross_entropy"),
           "identity": (2, "identity", "squared_error")}
#: parameters that are not the defaults, so a dropped parameter shows
PARAMS = {"leaky_relu": {"slope": 0.2}, "elu": {"alpha": 0.7}}


@pytest.fixture(scope="module")
def real():
    """Raw (unscaled) features of two real data sets, 1000 rows each."""
    from sklearn.datasets import load_breast_cancer, load_digits
    digits = load_digits().data[:1000]
    cancer = load_breast_cancer().data
    return {"digits": digits, "breast_cancer": np.resize(cancer, (1000, cancer.shape[1]))}


def session(model, **kw) -> ort.InferenceSession:
    """An onnxruntime session straight from the built graph (no file: cheap to make)."""
    return ort.InferenceSession(build_onnx(model, **kw).SerializeToString(),
                                providers=["CPUExecutionProvider"])


def run(sess, X) -> dict:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": X})))


def reference(net, X) -> dict:
    """What ``glassnet predict`` computes for a network carrying a model file's metadata."""
    meta = net.metadata
    Xs = X
    if meta.get("scaling"):
        Xs = Standardizer.from_dict(meta["scaling"], X.shape[1]).transform(X).astype(net.dtype)
    if net.is_classifier:
        proba = net.predict_proba(Xs)
        if net.loss.name == "binary_cross_entropy" and net.layer_sizes[-1] > 1:
            return {"label": net.predict(Xs), "probabilities": proba}
        labels = np.argmax(proba, axis=1)
        if meta.get("classes") is not None:
            labels = np.asarray(meta["classes"])[labels]
        return {"label": labels, "probabilities": proba}
    out = net.forward(Xs)
    ts = meta.get("target_scaling")
    if ts:
        out = out * ts["std"] + ts["mean"]
    return {"prediction": out[:, 0] if out.shape[1] == 1 else out}


def assert_same(got: dict, want: dict, dtype: str) -> float:
    """Labels equal, numbers within TOL of the output's size; returns the worst error."""
    assert set(got) == set(want)
    worst = 0.0
    for key, w in want.items():
        g = got[key]
        assert g.shape == w.shape, key
        if key == "label":
            np.testing.assert_array_equal(g, w)
            continue
        assert g.dtype == np.dtype(dtype), (key, g.dtype)   # float32 stays float32
        err = float(np.max(np.abs(g.astype(np.float64) - w)) / max(1.0, np.max(np.abs(w))))
        assert err <= TOL[dtype], f"{key}: {err:.3g} > {TOL[dtype]}"
        worst = max(worst, err)
    return worst


def make_net(activation, output, dtype, n_in, X=None, seed=0):
    units, out_act, loss = OUTPUTS[output]
    act = (activation, PARAMS[activation]) if activation in PARAMS else activation
    net = glassnet.Network([n_in, 24, 16, units], activation=act, output=out_act, loss=loss,
                           seed=seed, dtype=dtype)
    if X is not None:
        net.metadata["scaling"] = Standardizer.fit(X).to_dict()
    if output == "identity":
        net.metadata["target_scaling"] = {"mean": 150.0, "std": 75.0}
    if output == "softmax":
        net.metadata["classes"] = ["setosa", "versicolor", "virginica"]
    return net


# --- ONNX: every activation x output x dtype ----------------------------------------------------

def test_every_activation_has_an_onnx_and_a_torch_mapping():
    assert set(ONNX_ACTIVATIONS) == set(activations.NAMES)
    assert set(TORCH_ACTIVATIONS) == set(activations.NAMES)


@pytest.mark.parametrize("data", ["digits", "breast_cancer"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("activation", HIDDEN)
def test_onnx_matches_predict(real, activation, output, dtype, data):
    X_real = real[data]
    net = make_net(activation, output, dtype, X_real.shape[1], X_real)
    sess = session(net)
    rng = np.random.default_rng(1)
    # random rows around the data's own scale, spread twice as wide (tails included)
    X_rand = X_real.mean(0) + 2 * X_real.std(0) * rng.normal(size=X_real.shape)
    for X in (X_real, X_rand):
        X = X.astype(dtype)
        for batch in (X[:1], X):
            assert_same(run(sess, batch), reference(net, batch), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", HIDDEN)
def test_every_activation_as_the_output(activation, dtype):
    """Each activation on the output layer too (a regressor), on inputs reaching both tails
    (z from -40 to 40: gelu's clipped cubic, softplus's large |z|, elu/selu's negative
    side).  The layer's weights are the identity, so z is the input exactly and only the
    activation is compared."""
    act = (activation, PARAMS[activation]) if activation in PARAMS else activation
    net = glassnet.Network([4, 4], output=act, loss="squared_error", seed=3, dtype=dtype,
                           weights=[np.eye(4)], biases=[np.zeros(4)])
    X = np.random.default_rng(2).uniform(-40, 40, size=(1000, 4))
    X[:, 0] = np.linspace(-40, 40, 1000)
    X = X.astype(dtype)
    sess = session(net)
    for batch in (X[:1], X):
        assert_same(run(sess, batch), reference(net, batch), dtype)


def test_graph_metadata_batch_axis_and_file(tmp_path, real):
    X = real["breast_cancer"]
    net = make_net("relu", "softmax", "float32", X.shape[1], X)
    net.metadata["feature_names"] = [f"f{i}" for i in range(X.shape[1])]
    path = to_onnx(net, tmp_path / "model.onnx")
    assert path == tmp_path / "model.onnx"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]   # no temporary left
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["glassnet_version"] == glassnet.__version__
    assert json.loads(props["feature_names"]) == net.metadata["feature_names"]
    assert json.loads(props["classes"]) == ["setosa", "versicolor", "virginica"]
    assert props["task"] == "classification"
    assert model.producer_name == "glassnet"
    assert model.opset_import[0].version == DEFAULT_OPSET
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == X.shape[1]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    for n in (1, 7, 1000):   # any batch size
        Xn = X[:n].astype(np.float32)
        got = run(sess, Xn)
        assert got["label"].tolist() == reference(net, Xn)["label"].tolist()


@pytest.mark.parametrize("opset", [13, 21])
def test_other_opsets(opset, real):
    X = real["digits"]
    net = make_net("gelu", "softmax", "float64", X.shape[1], X)
    assert_same(run(session(net, opset=opset), X), reference(net, X), "float64")


@pytest.mark.parametrize("scaled", [True, False])
def test_float64_input_for_a_float32_network(real, scaled):
    """input_dtype='float64': raw float64 rows go in, standardization happens before the
    rounding to float32, so the graph sees exactly what predict sees on float64 data."""
    X = real["breast_cancer"]
    net = make_net("tanh", "softmax", "float32", X.shape[1], X if scaled else None)
    model = build_onnx(net, input_dtype="float64")
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for batch in (X[:1], X):
        assert_same(run(sess, batch), reference(net, batch), "float32")
    with pytest.raises(GlassnetError, match="input_dtype must be 'float32' or 'float64'"):
        build_onnx(net, input_dtype="int8")


def test_label_types_int_float_bool_and_strings():
    net = glassnet.Network([4, 6, 3], activation="tanh", seed=0)
    X = np.random.default_rng(0).normal(size=(200, 4))
    index = net.predict(X)
    for classes in ([3, 5, 9], [0.5, 1.5, 2.5], ["cat", "dog", "émeu"]):
        net.metadata["classes"] = classes
        got = run(session(net), X)["label"]
        assert got.tolist() == [classes[i] for i in index]
    binary = glassnet.Network([4, 6, 1], activation="relu", seed=0)
    binary.metadata["classes"] = [False, True]
    got = run(session(binary), X)["label"]
    assert got.dtype == bool and got.tolist() == (binary.predict(X) == 1).tolist()
    del net.metadata["classes"]   # no labels: class indices, as Network.predict
    assert run(session(net), X)["label"].tolist() == index.tolist()


# --- estimators (trained briefly: not converged, on purpose) -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cancer_strings():
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    return data.data, np.asarray(data.target_names)[data.target]   # "malignant" / "benign"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_glass_classifier_with_string_labels(cancer_strings, dtype):
    from glassnet.sklearn import GlassClassifier
    X, y = cancer_strings
    clf = GlassClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0,
                          dtype=dtype).fit(X, y)
    assert clf.score(X, y) > 0.9
    X = X.astype(dtype)
    got = run(session(clf), X)
    assert got["label"].dtype == object
    np.testing.assert_array_equal(got["label"], clf.predict(X))
    assert_same({"probabilities": got["probabilities"]},
                {"probabilities": clf.predict_proba(X)}, dtype)


def test_glass_classifier_multiclass_and_regressor_with_frames(real):
    import pandas as pd
    from sklearn.datasets import load_diabetes, load_digits
    from glassnet.sklearn import GlassClassifier, GlassRegressor
    digits = load_digits()
    X = pd.DataFrame(digits.data[:600], columns=[f"px{i}" for i in range(64)])
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"])[digits.target[:600]]
    clf = GlassClassifier(hidden_layer_sizes=(32,), max_iter=15, random_state=0).fit(X, labels)
    model = build_onnx(clf)
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["feature_names"]) == list(X.columns)
    got = run(session(clf), X.to_numpy())
    np.testing.assert_array_equal(got["label"], clf.predict(X))
    assert_same({"probabilities": got["probabilities"]}, {"probabilities": clf.predict_proba(X)},
                "float64")
    Xd, yd = load_diabetes(return_X_y=True)
    reg = GlassRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(Xd, yd)
    assert_same(run(session(reg), Xd), {"prediction": reg.predict(Xd)}, "float64")


def test_a_loaded_model_file_keeps_scaling_labels_and_target_scaling(tmp_path, real):
    X = real["digits"]
    for output in ("softmax", "identity"):
        net = make_net("silu", output, "float64", X.shape[1], X)
        net.save(tmp_path / "m.glassnet")
        loaded = glassnet.load(tmp_path / "m.glassnet")
        assert_same(run(session(loaded), X), reference(net, X), "float64")


# --- bad input ---------------------------------------------------------------------------------

def test_to_onnx_refuses_bad_input_clearly(tmp_path):
    from glassnet.sklearn import GlassClassifier
    net = glassnet.Network([3, 4, 2], seed=0)
    with pytest.raises(GlassnetError, match="needs a glassnet Network .* got dict"):
        to_onnx({}, tmp_path / "x.onnx")
    with pytest.raises(GlassnetError, match="from_sklearn"):
        from sklearn.neural_network import MLPClassifier
        to_onnx(MLPClassifier(), tmp_path / "x.onnx")
    with pytest.raises(GlassnetError, match="not fitted yet"):
        to_onnx(GlassClassifier(), tmp_path / "x.onnx")
    with pytest.raises(GlassnetError, match="opset must be an integer from 13"):
        to_onnx(net, tmp_path / "x.onnx", opset=7)
    with pytest.raises(GlassnetError, match="path must be the ONNX file's path .* got int"):
        to_onnx(net, 3)
    with pytest.raises(GlassnetError, match="folder .* does not exist"):
        to_onnx(net, tmp_path / "missing" / "x.onnx")
    net.metadata["classes"] = ["only one"]
    with pytest.raises(GlassnetError, match=r"metadata\['classes'\].*expected a list of 2"):
        to_onnx(net, tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_old_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous")
    bad = glassnet.Network([3, 4, 2], seed=0)
    bad.metadata["scaling"] = {"mean": [0.0], "std": [1.0]}   # 1 value for 3 inputs
    with pytest.raises(GlassnetError, match="scaling"):
        to_onnx(bad, path)
    assert path.read_bytes() == b"previous"


# --- PyTorch -----------------------------------------------------------------------------------

def _same_network(a, b):
    assert a.layer_sizes == b.layer_sizes
    assert [x.name for x in a.activations] == [x.name for x in b.activations]
    assert [x.params for x in a.activations] == [x.params for x in b.activations]
    for wa, wb in zip(list(a.weights) + list(a.biases), list(b.weights) + list(b.biases)):
        assert wa.dtype == wb.dtype
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
@pytest.mark.parametrize("activation", HIDDEN)
def test_torch_round_trip_and_predictions(activation, output, dtype):
    net = make_net(activation, output, dtype, 6)
    net.metadata.clear()
    module = to_torch(net)
    back = from_torch(module, dtype=dtype, loss=net.loss.name)
    _same_network(net, back)
    X = 3 * np.random.default_rng(0).normal(size=(1000, 6)).astype(dtype)
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    assert_same({"out": got}, {"out": net.forward(X)}, dtype)


def test_torch_softplus_is_exact_far_out():
    net = glassnet.Network([1, 1], output="softplus", loss="squared_error", seed=0,
                           weights=[np.ones((1, 1))], biases=[np.zeros(1)])
    z = np.array([[-50.0], [-5.0], [0.0], [5.0], [25.0], [39.0], [41.0], [800.0]])
    with torch.no_grad():
        got = to_torch(net)(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(got, net.forward(z), rtol=1e-15, atol=0)


def test_torch_takes_raw_features_of_a_scaled_model(cancer_strings):
    from glassnet.sklearn import GlassClassifier
    X, y = cancer_strings
    clf = GlassClassifier(hidden_layer_sizes=(16,), activation="tanh", max_iter=10,
                          random_state=0).fit(X, y)
    module = to_torch(clf)
    assert isinstance(module[0], torch.nn.Linear) and module[0].in_features == 30
    with torch.no_grad():
        p = module(torch.from_numpy(X)).numpy()[:, 0]
    np.testing.assert_allclose(p, clf.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_torch_undoes_target_scaling_of_a_model_file(real):
    X = real["digits"]
    net = make_net("relu", "identity", "float64", X.shape[1], X)
    with torch.no_grad():
        got = to_torch(net)(torch.from_numpy(X)).numpy()
    assert_same({"prediction": got}, reference(net, X), "float64")


# --- scikit-learn ------------------------------------------------------------------------------

SK_HIDDEN = ["identity", "sigmoid", "tanh", "relu"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("activation", SK_HIDDEN)
def test_sklearn_round_trip_and_predictions(activation, output, dtype):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    net = make_net(activation, output, dtype, 6)
    net.metadata.pop("target_scaling", None)
    mlp = to_sklearn(net)
    assert isinstance(mlp, MLPRegressor if output == "identity" else MLPClassifier)
    back = from_sklearn(mlp, dtype=dtype)
    _same_network(net, back)
    X = 3 * np.random.default_rng(0).normal(size=(1000, 6))
    want = reference(net, X.astype(dtype))
    if output == "identity":
        assert_same({"prediction": mlp.predict(X).astype(dtype)}, want, dtype)
        return
    assert_same({"probabilities": mlp.predict_proba(X).astype(dtype)},
                {"probabilities": want["probabilities"]}, dtype)
    np.testing.assert_array_equal(mlp.predict(X), want["label"])
    if output == "softmax":
        assert mlp.classes_.tolist() == ["setosa", "versicolor", "virginica"]


def test_sklearn_model_keeps_training():
    """The exported MLP is fitted for real: partial_fit continues from the weights."""
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    net = glassnet.Network([4, 8, 3], activation="relu", seed=0)
    net.fit(X, y, epochs=30, batch_size=16, learning_rate=0.1)
    mlp = to_sklearn(net)
    before = mlp.score(X, y)
    assert before == pytest.approx(float(np.mean(net.predict(X) == y)))
    mlp.partial_fit(X, y)
    assert mlp.score(X, y) > 0.8 and mlp.n_iter_ == 1


def test_sklearn_pipeline_for_a_scaled_model(cancer_strings, tmp_path):
    from sklearn.pipeline import Pipeline
    from glassnet.sklearn import GlassClassifier, GlassRegressor
    X, y = cancer_strings
    clf = GlassClassifier(hidden_layer_sizes=(16,), activation="relu", max_iter=10,
                          random_state=0).fit(X, y)
    pipe = to_sklearn(clf)
    assert isinstance(pipe, Pipeline)
    np.testing.assert_array_equal(pipe.predict(X), clf.predict(X))
    np.testing.assert_allclose(pipe.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-12)
    # a model file's target scaling is folded into the output layer
    Xd = np.random.default_rng(0).normal(size=(300, 5)) * [1, 10, 100, 0.1, 5]
    net = make_net("tanh", "identity", "float64", 5, Xd)
    pipe = to_sklearn(net)
    assert_same({"prediction": pipe.predict(Xd)}, reference(net, Xd), "float64")


def test_sklearn_refuses_what_it_does_not_have():
    with pytest.raises(GlassnetError, match=r"hidden layer 2 \(layer 2 of 3\) uses 'elu'"):
        to_sklearn(glassnet.Network([4, 5, 5, 2], activation=["relu", "elu"], seed=0))
    with pytest.raises(GlassnetError, match="hidden layer 2 uses 'tanh' but hidden layer 1 "
                                            "uses 'relu'"):
        to_sklearn(glassnet.Network([4, 5, 5, 2], activation=["relu", "tanh"], seed=0))
    with pytest.raises(GlassnetError, match=r"output layer \(layer 2 of 2\) uses 'tanh'"):
        to_sklearn(glassnet.Network([4, 5, 2], activation="relu", output="tanh",
                                    loss="squared_error", seed=0))


# --- the command -------------------------------------------------------------------------------

GLASSNET = shutil.which("glassnet")


def cli(*args, cwd):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([GLASSNET or sys.executable, *([] if GLASSNET else ["-m", "glassnet"]),
                           *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=180)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cancer_strings):
    """A classifier with string labels and a regressor, trained by `glassnet train`."""
    import pandas as pd
    folder = tmp_path_factory.mktemp("export_cli")
    X, y = cancer_strings
    frame = pd.DataFrame(X[:, :8], columns=[f"feature {i}" for i in range(8)])
    frame["diagnosis"] = y
    frame.to_csv(folder / "cancer.csv", index=False)
    reg = frame.drop(columns="diagnosis").assign(area=X[:, 3] * 1.0)
    reg = reg.drop(columns="feature 3")
    reg.to_csv(folder / "area.csv", index=False)
    for data, target, model in (("cancer.csv", "diagnosis", "cancer.glassnet"),
                                ("area.csv", "area", "area.glassnet")):
        done = cli("train", data, "--target", target, "--layers", "8", "--epochs", "5",
                   "--out", model, "--quiet", cwd=folder)
        assert done.returncode == 0, done.stderr
    return folder, frame, reg


def test_cli_export_serves_in_onnxruntime(trained):
    folder, frame, reg = trained
    done = cli("export", "cancer.glassnet", "--to", "onnx", "-o", "cancer.onnx", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "Wrote cancer.onnx" in done.stderr
    sess = ort.InferenceSession(str(folder / "cancer.onnx"), providers=["CPUExecutionProvider"])
    X = frame.drop(columns="diagnosis").to_numpy()
    got = run(sess, X)
    net = glassnet.load(folder / "cancer.glassnet")
    want = reference(net, X)
    assert_same(got, want, "float64")
    assert set(got["label"]) == {"benign", "malignant"}
    assert np.mean(got["label"] == frame["diagnosis"].to_numpy()) > 0.8
    props = {p.key: p.value for p in onnx.load(str(folder / "cancer.onnx")).metadata_props}
    assert json.loads(props["feature_names"]) == [f"feature {i}" for i in range(8)]
    # the regressor: default output name, target scaling undone inside the graph
    assert main("export", folder / "area.glassnet") == 0
    sess = ort.InferenceSession(str(folder / "area.onnx"), providers=["CPUExecutionProvider"])
    Xr = reg.drop(columns="area").to_numpy()
    got = run(sess, Xr)
    assert_same(got, reference(glassnet.load(folder / "area.glassnet"), Xr), "float64")
    assert abs(np.mean(got["prediction"]) - reg["area"].mean()) < reg["area"].std()


def main(*args) -> int:
    """The command in-process (the export itself; the models come from real subprocesses)."""
    from glassnet.cli import main as glassnet_main
    return glassnet_main([str(a) for a in args])


def test_cli_export_torch_and_sklearn(trained, capsys):
    import pickle
    folder, frame, _ = trained
    features = frame.drop(columns="diagnosis")
    X = features.to_numpy().copy()
    want = reference(glassnet.load(folder / "cancer.glassnet"), X)
    assert main("export", folder / "cancer.glassnet", "--to", "sklearn") == 0
    with open(folder / "cancer.pkl", "rb") as f:
        pipe = pickle.load(f)
    np.testing.assert_array_equal(pipe.predict(features), want["label"])
    assert main("export", folder / "cancer.glassnet", "--to", "torch") == 0
    module = torch.load(folder / "cancer.pt", weights_only=False)
    with torch.no_grad():
        p = module(torch.from_numpy(X)).numpy()[:, 0]
    np.testing.assert_allclose(p, want["probabilities"][:, 1], rtol=0, atol=1e-12)
    assert "Wrote" in capsys.readouterr().err


def _one_line_error(capsys, status, *words):
    err = capsys.readouterr().err
    assert status == 2, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("glassnet export: error: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def test_cli_export_bad_input(trained, tmp_path, capsys):
    folder, _, _ = trained
    model = folder / "cancer.glassnet"
    _one_line_error(capsys, main("export", model, "--to", "tflite"), "'tflite'",
                    "onnx, torch, sklearn")
    net = glassnet.Network([3, 4, 2], activation="gelu", seed=0)
    net.save(tmp_path / "gelu.glassnet")
    _one_line_error(capsys, main("export", tmp_path / "gelu.glassnet", "--to", "sklearn"),
                    "hidden layer 1", "'gelu'")
    _one_line_error(capsys, main("export", model, "-o", tmp_path / "no" / "such" / "m.onnx"),
                    "does not exist")
    _one_line_error(capsys, main("export", model, "-o", tmp_path), "it is a folder")
    if sys.platform.startswith("linux"):   # nobody creates files in /proc, root included
        _one_line_error(capsys, main("export", model, "-o", "/proc/glassnet-test.onnx"),
                        "Cannot write '/proc/glassnet-test.onnx'")
    if os.geteuid() != 0:   # a read-only folder stops everyone but root
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            _one_line_error(capsys, main("export", model, "-o", locked / "m.onnx"),
                            "Cannot write")
        finally:
            locked.chmod(stat.S_IRWXU)
        assert list(locked.iterdir()) == []
    _one_line_error(capsys, main("export", tmp_path / "missing.glassnet"), "no such file")
    _one_line_error(capsys, main("export", model, "--to", "torch", "--opset", "13", "-o",
                                 tmp_path / "x.pt"), "--opset")
    _one_line_error(capsys, main("export", model, "--input-dtype", "float16", "-o",
                                 tmp_path / "x.onnx"), "--input-dtype", "'float16'")
    assert not (tmp_path / "x.pt").exists()


def test_cli_bad_format_in_a_real_process(trained):
    folder, _, _ = trained
    done = cli("export", "cancer.glassnet", "--to", "tflite", cwd=folder)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "glassnet export: error: --to 'tflite' is not a format glassnet exports; choose one of "
        "onnx, torch, sklearn."]


def test_core_imports_no_exporter_package_and_a_missing_one_is_named(monkeypatch):
    code = ("import sys, glassnet; net = glassnet.Network([2, 3, 2], seed=0); "
            "print(sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'sklearn') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    net = glassnet.Network([2, 3, 2], seed=0)
    for module, call, extra in (("onnx", lambda: to_onnx(net, "never.onnx"), "onnx"),
                                ("torch", lambda: to_torch(net), "torch"),
                                ("sklearn", lambda: to_sklearn(net), "sklearn")):
        monkeypatch.setitem(sys.modules, module, None)   # import now raises ImportError
        with pytest.raises(GlassnetError, match=rf"needs {module}, which is not installed: "
                                                rf"pip install 'glassnet\[{extra}\]'"):
            call()
        monkeypatch.undo()
    assert not Path("never.onnx").exists()
