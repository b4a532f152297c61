"""``glassnet doctor MODEL DATA.csv --target COLUMN``: tables, JSON, and an exit status that
can gate a CI job (1 when an error-level finding exists, 2 for bad input)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import glassnet
from glassnet.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """CSV files (raw breast-cancer features with string labels; digits / 16) and models."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_digits

    folder = tmp_path_factory.mktemp("doctor_cli")
    cancer = load_breast_cancer()
    frame = pd.DataFrame(cancer.data, columns=list(cancer.feature_names))
    frame["diagnosis"] = np.where(cancer.target == 1, "benign", "malignant")
    frame.to_csv(folder / "cancer.csv", index=False)
    X, y = load_digits(return_X_y=True)
    digits = pd.DataFrame(X / 16.0, columns=[f"p{i}" for i in range(64)])
    digits["digit"] = y
    digits.to_csv(folder / "digits.csv", index=False)

    # a model as `glassnet train` writes it: feature names, classes, stored scaling
    mean, std = cancer.data.mean(0), cancer.data.std(0)
    net = glassnet.Network([30, 16, 1], activation="relu", seed=0)
    net.metadata = {"task": "classification", "target_name": "diagnosis",
                    "feature_names": list(cancer.feature_names),
                    "classes": ["benign", "malignant"],
                    "scaling": {"mean": mean.tolist(), "std": std.tolist()},
                    "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32}}
    net.save(folder / "cancer.glassnet")
    np.savez(folder / "cancer_weights.npz", *net.weights, *net.biases)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glassnet.SymmetryWarning)
        zero = glassnet.Network([64, 32, 32, 10], activation="tanh", init="zeros", seed=0)
    np.savez(folder / "zero_tanh.npz", **{f"w{i}": w for i, w in enumerate(zero.weights)},
             **{f"b{i}": b for i, b in enumerate(zero.biases)})
    zero.save(folder / "zero_tanh.glassnet")
    good = glassnet.Network([64, 32, 10], activation="relu", seed=0)
    np.savez(folder / "good.npz", *good.weights, *good.biases)
    return folder


def _run(capsys, *args):
    code = main(["doctor", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_healthy_model_file_exits_0_with_its_metadata_applied(files, capsys):
    code, out, err = _run(capsys, files / "cancer.glassnet", files / "cancer.csv")
    assert code == 0, out + err
    assert "verdict: healthy" in out and "Layers" in out
    assert "standardized with the model's stored scaling" in out
    # the run used the model's training settings
    assert "adam" in out


def test_json_output_is_the_reports_dict(files, capsys):
    code, out, _ = _run(capsys, files / "cancer.glassnet", files / "cancer.csv", "--target",
                        "diagnosis", "--json", "--steps", "30")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True and data["findings"] == []
    assert data["context"]["steps"] == 30 and data["context"]["target"] == "diagnosis"
    assert data["context"]["optimizer"] == "adam"
    assert len(data["layers"]) == 2


def test_the_same_weights_without_the_stored_scaling_see_unscaled_inputs(files, capsys):
    code, out, _ = _run(capsys, files / "cancer_weights.npz", files / "cancer.csv",
                        "--target", "diagnosis", "--activation", "relu", "--json")
    data = json.loads(out)
    codes = [f["code"] for f in data["findings"]]
    assert "unscaled_inputs" in codes
    unscaled = data["findings"][codes.index("unscaled_inputs")]
    assert unscaled["evidence"]["columns"][0] == "worst area"     # ~880 +- 570
    assert data["context"]["notes"][0].startswith("labels ['benign', 'malignant'] mapped")
    assert code == (1 if any(f["severity"] == "error" for f in data["findings"]) else 0)


@pytest.mark.parametrize("model,extra", [("zero_tanh.npz", ["--activation", "tanh"]),
                                         ("zero_tanh.glassnet", [])])
def test_an_error_finding_exits_1(files, capsys, model, extra):
    code, out, _ = _run(capsys, files / model, files / "digits.csv", "--target", "digit",
                        *extra)
    assert code == 1
    assert "no_update" in out and "never move" in out
    code, out, _ = _run(capsys, files / model, files / "digits.csv", "--target", "digit",
                        "--json", *extra)
    data = json.loads(out)
    assert code == 1 and [f["code"] for f in data["findings"]] == ["no_update"]
    assert data["findings"][0]["layers"] == [1, 2]


def test_a_healthy_npz_exits_0(files, capsys):
    code, out, _ = _run(capsys, files / "good.npz", files / "digits.csv", "--target", "digit",
                        "--activation", "relu", "--steps", "40")
    assert code == 0 and "verdict: healthy" in out


def test_probe_options_are_used(files, capsys):
    code, out, _ = _run(capsys, files / "good.npz", files / "digits.csv", "--target", "digit",
                        "--activation", "relu", "--learning-rate", "10", "--json",
                        "--optimizer", "sgd", "--batch-size", "16", "--seed", "3")
    data = json.loads(out)
    assert code == 1
    assert data["context"]["learning_rate"] == 10.0 and data["context"]["batch_size"] == 16
    assert {"divergence", "learning_rate_too_high"} & {f["code"] for f in data["findings"]}


@pytest.mark.parametrize("args,message", [
    (["good.npz", "digits.csv", "--target", "digit"], "activation='sigmoid'"),
    (["good.npz", "digits.csv", "--target", "label", "--activation", "relu"],
     "no target column 'label'"),
    (["cancer.glassnet", "cancer.csv", "--activation", "relu"], "only apply to .npz"),
    (["missing.glassnet", "cancer.csv", "--target", "diagnosis"], "does not exist"),
    (["good.npz", "cancer.csv", "--target", "diagnosis", "--activation", "relu"],
     "expects 64 inputs"),
    (["good.npz", "digits.csv", "--target", "digit", "--activation", "relu", "--steps", "-1"],
     "--steps must be >= 0"),
    (["cancer.glassnet", "digits.csv"], "no target column 'diagnosis'"),
])
def test_bad_input_exits_2_with_a_message(files, capsys, args, message):
    code, out, err = _run(capsys, *[files / a if a.endswith((".npz", ".csv", ".glassnet"))
                                    else a for a in args])
    assert code == 2
    assert message in err and "glassnet doctor: error:" in err


def test_data_that_does_not_match_the_model_is_named(files, capsys, tmp_path):
    import pandas as pd
    frame = pd.read_csv(files / "cancer.csv")
    frame.loc[3, "diagnosis"] = "unsure"
    frame.to_csv(tmp_path / "odd.csv", index=False)
    code, _, err = _run(capsys, files / "cancer.glassnet", tmp_path / "odd.csv")
    assert code == 2 and "'unsure'" in err
    frame.drop(columns=["mean radius"]).to_csv(tmp_path / "fewer.csv", index=False)
    code, _, err = _run(capsys, files / "cancer.glassnet", tmp_path / "fewer.csv")
    assert code == 2 and "'mean radius'" in err and "not in the file" in err
    frame["mean area"] = "big"
    frame.loc[3, "diagnosis"] = "benign"
    frame.to_csv(tmp_path / "text.csv", index=False)
    code, _, err = _run(capsys, files / "cancer.glassnet", tmp_path / "text.csv")
    assert code == 2 and "'mean area'" in err and "must hold numbers" in err


def test_the_console_command_gates_a_ci_job(files):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "glassnet", "doctor",
                           str(files / "zero_tanh.glassnet"), str(files / "digits.csv"),
                           "--target", "digit", "--json", "--steps", "20"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["findings"][0]["code"] == "no_update"
