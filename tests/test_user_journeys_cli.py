"""A new user's paths through the edges: models from elsewhere into the command line, a
trained model back into the doctor, the doctor's report as an object, and every
docstring example of the edge modules."""
from __future__ import annotations

import doctest
import importlib
import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import glassnet
from glassnet.cli import main


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    """Breast cancer, standardized, with string labels: a frame and its CSV file."""
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    frame = pd.DataFrame(X, columns=[str(c) for c in data.feature_names])
    labels = np.where(data.target == 1, "benign", "malignant")
    folder = tmp_path_factory.mktemp("journeys")
    frame.assign(diagnosis=labels).to_csv(folder / "cancer.csv", index=False)
    return folder, frame, labels


def test_a_trained_csv_model_goes_through_info_predict_and_the_doctor(cancer, capsys):
    folder, frame, labels = cancer
    model = folder / "trained.glassnet"
    code, _, err = _run(capsys, "train", folder / "cancer.csv", "--target", "diagnosis",
                        "--layers", "16", "--epochs", "15", "--quiet", "--out", model)
    assert code == 0, err
    code, out, _ = _run(capsys, "info", model)
    assert code == 0 and "default (he_normal)" in out and "benign, malignant" in out
    code, out, err = _run(capsys, "predict", model, folder / "cancer.csv")
    predicted = pd.read_csv(pd.io.common.StringIO(out))["diagnosis"].to_numpy()
    accuracy = float(np.mean(predicted == labels))
    assert code == 0 and accuracy > 0.9 and f"accuracy {accuracy:.1%}" in err
    # the doctor reads the target, the features, the scaling and the optimizer from the file
    code, out, _ = _run(capsys, "doctor", model, folder / "cancer.csv", "--json", "--steps", 30)
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["context"]["optimizer"] == "adam"
    assert data["context"]["target"] == "diagnosis"
    # a step far too large is an error finding: exit status 1, for a CI job
    code, out, _ = _run(capsys, "doctor", model, folder / "cancer.csv", "--json",
                        "--optimizer", "sgd", "--learning-rate", 200)
    found = {f["code"] for f in json.loads(out)["findings"]}
    assert code == 1 and found & {"divergence", "learning_rate_too_high"}


@pytest.mark.parametrize("kind", ["1..3", "-1..1", "bool", "text"])
def test_the_doctor_maps_a_trained_models_labels_once(tmp_path, capsys, kind):
    """Labels of any kind through train and doctor: the doctor's start loss is the model's
    own loss on the data (mapping the labels twice would shift 1..3 onto 0..2, or fail)."""
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    labels = {"1..3": y + 1, "-1..1": y - 1, "bool": y == 1,
              "text": np.array(["setosa", "versicolor", "virginica"])[y]}[kind]
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(species=labels)
    frame.to_csv(tmp_path / "iris.csv", index=False)
    code, _, err = _run(capsys, "train", tmp_path / "iris.csv", "--target", "species",
                        "--layers", "8", "--epochs", "5", "--quiet", "--out",
                        tmp_path / "m.glassnet")
    assert code == 0, err
    code, out, err = _run(capsys, "doctor", tmp_path / "m.glassnet", tmp_path / "iris.csv",
                          "--json", "--steps", 0)
    assert code in (0, 1), err
    net = glassnet.load(tmp_path / "m.glassnet")
    codes = glassnet.data.class_codes(labels, net.metadata["classes"])
    scaling = glassnet.data.Standardizer.from_dict(net.metadata["scaling"], 4)
    expected = net.loss_value(scaling.transform(X), codes)
    assert json.loads(out)["context"]["start_loss"] == pytest.approx(expected, rel=1e-9)


def test_a_scikit_learn_model_saved_by_glassnet_works_from_the_command_line(cancer, capsys):
    from sklearn.neural_network import MLPClassifier
    folder, frame, labels = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # ConvergenceWarning
        mlp = MLPClassifier((10,), max_iter=60, random_state=0).fit(frame, labels)
    glassnet.from_sklearn(mlp).save(folder / "sk.glassnet")
    code, out, err = _run(capsys, "predict", folder / "sk.glassnet", folder / "cancer.csv")
    assert code == 2 and "'diagnosis'" in err and "--ignore-extra" in err
    code, out, _ = _run(capsys, "predict", folder / "sk.glassnet", folder / "cancer.csv",
                        "--ignore-extra", "--proba")
    result = pd.read_csv(pd.io.common.StringIO(out))
    assert code == 0 and list(result.columns) == ["prediction", "proba_benign",
                                                  "proba_malignant"]
    assert np.array_equal(result["prediction"].to_numpy(), mlp.predict(frame))
    assert np.max(np.abs(result[["proba_benign", "proba_malignant"]].to_numpy()
                         - mlp.predict_proba(frame))) < 1e-6
    # the stored class labels map the CSV's text labels for the doctor
    code, out, _ = _run(capsys, "doctor", folder / "sk.glassnet", folder / "cancer.csv",
                        "--target", "diagnosis", "--json", "--steps", 0)
    data = json.loads(out)
    assert code == 0 and data["ok"]
    from sklearn.metrics import log_loss
    rows = np.sort(np.random.default_rng(0).choice(len(frame), 512, replace=False))
    assert data["context"]["start_loss"] == pytest.approx(
        log_loss(labels[rows], mlp.predict_proba(frame.iloc[rows]), labels=mlp.classes_),
        rel=1e-9)
    code, out, _ = _run(capsys, "info", folder / "sk.glassnet")
    assert code == 0 and "sklearn.MLPClassifier" in out


def test_a_hand_written_neuro_saved_to_a_file_meets_the_doctor(tmp_path, capsys):
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame((X - X.mean(0)) / X.std(0), columns=["a", "b", "c", "d"])
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    frame.to_csv(tmp_path / "iris.csv", index=False)
    with pytest.warns(glassnet.SymmetryWarning):
        neuro = glassnet.Neuro([4, 16, 3], 0.5, "tanh", init="constant", seed=0)
    neuro.save(tmp_path / "neuro.glassnet")
    code, out, err = _run(capsys, "doctor", tmp_path / "neuro.glassnet", tmp_path / "iris.csv",
                          "--target", "species", "--json")
    data = json.loads(out)
    assert code == 1, err
    assert {f["code"] for f in data["findings"]} >= {"symmetric_units"}
    assert data["context"]["learning_rate"] == 0.5          # the Neuro's own step
    assert data["context"]["notes"][0].startswith("labels ['setosa', 'versicolor', "
                                                  "'virginica'] mapped")


def test_a_stacked_npz_of_a_hand_written_network(tmp_path, capsys):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X / 16, columns=[f"p{i}" for i in range(64)])
    frame["digit"] = y
    frame.to_csv(tmp_path / "digits.csv", index=False)
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 1 / 8, (64, 64)) for _ in range(2)]
    np.savez(tmp_path / "net.npz", weights=weights, biases=np.zeros((2, 64)))
    net = glassnet.from_npz(tmp_path / "net.npz", activation="tanh")
    assert net.layer_sizes == [64, 64, 64] and net.output.name == "softmax"
    # digits 0..9 are class indices of its 64 outputs; labels it has no output for are not
    code, out, err = _run(capsys, "doctor", tmp_path / "net.npz", tmp_path / "digits.csv",
                          "--target", "digit", "--activation", "tanh", "--json", "--steps", 20)
    data = json.loads(out)
    assert code == 0 and data["ok"], err
    assert data["context"]["network"] == repr(net)
    frame.assign(digit=frame["digit"] + 60).to_csv(tmp_path / "shifted.csv", index=False)
    code, out, err = _run(capsys, "doctor", tmp_path / "net.npz", tmp_path / "shifted.csv",
                          "--target", "digit", "--activation", "tanh")
    assert code == 2 and "10 distinct labels but the model has 64 classes" in err


def test_a_report_prints_pickles_and_serializes(cancer):
    folder, frame, labels = cancer
    with pytest.warns(glassnet.SymmetryWarning):
        net = glassnet.Network([30, 8, 8, 2], activation="tanh", init="zeros", seed=0)
    report = glassnet.doctor.diagnose(net, frame, (labels == "benign").astype(int), steps=20)
    assert repr(report) == "Report(ok=False, findings=['no_update'])"
    text = str(report)
    assert text.splitlines()[1] == f"verdict: {report.summary()}"
    assert str(report.findings[0]).startswith("ERROR no_update (layers 1, 2): ")
    again = pickle.loads(pickle.dumps(report))
    assert again.to_dict() == report.to_dict() and str(again) == text
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False)) == report.to_dict()
    assert "no_update" in report and len(report) == 1 and list(report) == report.findings


@pytest.mark.parametrize("module", ["doctor.probe", "doctor.monitor", "doctor.stats",
                                    "doctor.report", "doctor.rules", "convert", "io", "data",
                                    "plots", "report", "study", "cli.demo", "cli.doctor"])
def test_docstring_examples_of_the_edge_modules_run(module):
    mod = importlib.import_module(f"glassnet.{module}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(mod)
    assert result.failed == 0
    examples = {"doctor.probe", "doctor.monitor", "doctor.stats", "convert", "io", "data",
                "plots", "report", "study"}
    assert (result.attempted > 0) == (module in examples)
