"""End to end through the installed ``glassnet`` command, in a temporary folder."""
from __future__ import annotations

import base64
import html.parser
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glassnet

PNG = b"\x89PNG\r\n\x1a\n"


def glassnet_cmd(*args, cwd, timeout=120) -> subprocess.CompletedProcess:
    exe = shutil.which("glassnet")
    assert exe, "the glassnet console command is not installed (pip install -e .)"
    return subprocess.run([exe, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n" \
                                 f"stderr:\n{proc.stderr}"
    return proc


def fails(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The command failed cleanly (exit 2, no traceback) with every one of ``words``."""
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    message = " ".join(proc.stderr.split())       # rich/argparse may wrap lines
    for w in words:
        assert w in message, f"{w!r} not in: {message}"
    return message


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.rows, self.tags = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])
        if tag == "tr":
            self.rows += 1


def _check_page(folder: Path) -> _Page:
    """index.html parses, embeds decodable PNGs, and links only to files that exist."""
    text = (folder / "index.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    page = _Page()
    page.feed(text)
    page.close()
    pngs = {p.read_bytes() for p in folder.glob("*.png")}
    assert page.images
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(PNG) and data in pngs       # the same image as the file
    for href in page.links:
        assert (folder / href).is_file(), href
    return page


# --- demo --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_default(tmp_path_factory):
    """`glassnet demo` exactly as the README runs it: no arguments."""
    cwd = tmp_path_factory.mktemp("demo")
    proc = ok(glassnet_cmd("demo", cwd=cwd))
    return proc, cwd / "glassnet-report"


def test_demo_writes_the_report(demo_default):
    # how long it takes (the README promises under a minute) is measured by
    # benchmarks/bench_commands.py, not asserted here
    proc, folder = demo_default
    names = {p.name for p in folder.iterdir()}
    assert {"index.html", "results.json", "loss_curves.png", "activation_std.png",
            "first_layer_weights.png", "first_layer_learned.png"} <= names
    for png in folder.glob("*.png"):
        assert png.read_bytes().startswith(PNG) and png.stat().st_size > 10_000
    page = _check_page(folder)
    assert len(page.images) == 4
    assert page.rows == 1 + 6                      # header + one row per init
    html_text = (folder / "index.html").read_text()
    for label in ("zeros", "constant", "normal(0, 1)", "xavier", "he", "lsuv"):
        assert label in proc.stdout and label in html_text
    assert "Report:" in proc.stdout and "test accuracy" in proc.stderr   # progress lines
    assert "SymmetryWarning" in proc.stdout and "Warning:" not in proc.stderr
    # the figure's caption defines saturation as the doctor measures it
    from glassnet.doctor.stats import SATURATED_ROWS, SATURATION_SLOPE
    assert (f"slope under {SATURATION_SLOPE:.0%} of its peak on at least {SATURATED_ROWS:.0%}"
            in html_text)


def test_demo_tells_the_story_in_numbers(demo_default):
    _, folder = demo_default
    runs = {r["init"]: r for r in json.loads((folder / "results.json").read_text())["runs"]}
    zeros, const, normal = runs["zeros"], runs["constant"], runs["normal(0, 1)"]
    # zeros: nothing moves, one "unit" per layer, chance accuracy, the loss stays at ln 10
    assert zeros["weights_moved"] == [0.0, 0.0, 0.0]
    assert zeros["distinct_units"] == [1, 1]
    assert zeros["test_accuracy"] < 0.15
    assert abs(zeros["final_loss"] - np.log(10)) < 0.01
    # constant: weights move but the units stay identical copies
    assert all(m > 0 for m in const["weights_moved"])
    assert const["distinct_units"] == [1, 1]
    assert const["test_accuracy"] < 0.5
    assert zeros["symmetry_warning"] and const["symmetry_warning"]
    # normal(0, 1): saturated at the start, learns worse than the scaled inits
    assert min(normal["flat_fraction"][0]) > 0.5
    for good in ("xavier", "he", "lsuv"):
        r = runs[good]
        assert r["distinct_units"] == [32, 32]
        assert r["test_accuracy"] > 0.93
        assert r["test_accuracy"] > normal["test_accuracy"] + 0.03
        assert max(r["flat_fraction"][0]) < 0.2
        assert not r["symmetry_warning"]
    # the doctor's verdicts, from its fixed vocabulary
    assert "no_update" in zeros["verdict"]
    assert "symmetric_units" in const["verdict"]
    assert "saturated_units" in normal["verdict"]
    assert all(runs[g]["verdict"] == "healthy" for g in ("xavier", "he", "lsuv"))
    # curves: epoch 0 plus 30 epochs of test accuracy, 30 training losses
    assert len(runs["xavier"]["loss"]) == 30 and len(runs["xavier"]["test_accuracy_curve"]) == 31


def test_demo_options(tmp_path):
    proc = ok(glassnet_cmd("demo", "--quick", "--inits", "zeros,he", "--activation", "relu",
                           "--hidden", "16", "--out", "my report", cwd=tmp_path))
    folder = tmp_path / "my report"
    doc = json.loads((folder / "results.json").read_text())
    assert [r["init"] for r in doc["runs"]] == ["zeros", "he"]
    assert doc["config"]["epochs"] == 5 and doc["config"]["layers"] == [64, 16, 10]
    assert len(doc["runs"][1]["loss"]) == 5
    assert doc["runs"][0]["weights_moved"] == [0.0, 0.0]
    _check_page(folder)
    assert "relu" in proc.stderr


def test_demo_bad_options(tmp_path):
    (tmp_path / "taken").write_text("a file")
    fails(glassnet_cmd("demo", "--out", "taken", cwd=tmp_path), "is a file")
    fails(glassnet_cmd("demo", "--activation", "softmax", cwd=tmp_path), "--activation",
          "must be one of")
    proc = glassnet_cmd("demo", "--inits", "zeros,bogus", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown init" in proc.stderr


# --- train, predict, info ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    """Wine as a CSV with string labels, an id column and a boolean feature."""
    from sklearn.datasets import load_wine
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame.insert(0, "id", [f"w{i:03d}" for i in range(len(frame))])
    frame["strong"] = frame["alcohol"] > 13.0
    frame["cultivar"] = np.array(["barolo", "grignolino", "barbera"])[bunch.target]
    folder = tmp_path_factory.mktemp("wine")
    frame.to_csv(folder / "wine.csv", index=False)
    return folder, frame


@pytest.fixture(scope="module")
def wine_model(wine_csv):
    folder, _ = wine_csv
    proc = ok(glassnet_cmd("train", "wine.csv", "--target", "cultivar", "--features",
                           ",".join(_wine_features(wine_csv[1])), "--layers", "16",
                           "--epochs", "60", "--out", "wine.glassnet", cwd=folder))
    return folder, proc


def _wine_features(frame):
    return [c for c in frame.columns if c not in ("id", "cultivar")]


def test_train_prints_metrics_and_saves_everything_predict_needs(wine_csv, wine_model):
    folder, proc = wine_model
    frame = wine_csv[1]
    assert "Final metrics" in proc.stdout and "validation" in proc.stdout
    assert "Saved model to wine.glassnet" in proc.stdout
    assert "training" in proc.stderr and "60/60" in proc.stderr          # the progress bar
    net = glassnet.load(folder / "wine.glassnet")
    meta = net.metadata
    assert meta["task"] == "classification" and meta["target_name"] == "cultivar"
    assert meta["classes"] == ["barbera", "barolo", "grignolino"]
    assert meta["feature_names"] == _wine_features(frame)
    assert net.layer_sizes == [14, 16, 3]
    metrics = meta["training"]["metrics"]
    assert metrics["validation"]["accuracy"] > 0.85
    assert meta["training"]["validation_rows"] == 36                      # 20%, stratified
    # the scaling is the training rows' statistics: close to, not equal to, the whole file's
    X = frame[_wine_features(frame)].to_numpy(dtype=float)
    assert np.allclose(meta["scaling"]["mean"], X.mean(axis=0), rtol=0.1)


def test_predict_round_trips_string_labels(wine_csv, wine_model):
    folder, _ = wine_model
    frame = wine_csv[1]
    proc = ok(glassnet_cmd("predict", "wine.glassnet", "wine.csv", "--proba", "--keep", "id",
                           "--output", "pred.csv", cwd=folder))
    assert "accuracy" in proc.stderr          # the file has the target column: scored
    pred = pd.read_csv(folder / "pred.csv")
    assert list(pred.columns) == ["id", "cultivar", "proba_barbera", "proba_barolo",
                                  "proba_grignolino"]
    assert pred["id"].tolist() == frame["id"].tolist()
    assert set(pred["cultivar"]) <= {"barbera", "barolo", "grignolino"}
    proba = pred[["proba_barbera", "proba_barolo", "proba_grignolino"]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(np.array(["barbera", "barolo", "grignolino"])[proba.argmax(axis=1)],
                          pred["cultivar"].to_numpy())
    assert np.mean(pred["cultivar"] == frame["cultivar"]) > 0.95
    # the library, from the same file, predicts the same probabilities bit for bit
    net = glassnet.load(folder / "wine.glassnet")
    meta = net.metadata
    X = frame[meta["feature_names"]].to_numpy(dtype=float)
    Z = (X - np.array(meta["scaling"]["mean"])) / np.array(meta["scaling"]["std"])
    assert np.array_equal(net.predict_proba(Z), proba)


def test_predict_to_stdout_matches_the_file(wine_model):
    folder, _ = wine_model
    proc = ok(glassnet_cmd("predict", "wine.glassnet", "wine.csv", "--ignore-extra", cwd=folder))
    lines = proc.stdout.splitlines()
    assert lines[0] == "cultivar" and len(lines) == 179
    ok(glassnet_cmd("predict", "wine.glassnet", "wine.csv", "--ignore-extra", "-o", "p.csv",
                    cwd=folder))
    assert (folder / "p.csv").read_text().splitlines() == lines


def test_info_describes_the_model(wine_model):
    folder, _ = wine_model
    proc = ok(glassnet_cmd("info", "wine.glassnet", cwd=folder))
    out = " ".join(proc.stdout.split())
    for words in ("14 -> 16", "16 -> 3", "relu", "softmax", "cross_entropy",
                  "barbera, barolo, grignolino", "alcohol", "standardised", "float64",
                  f"written by glassnet {glassnet.__version__}", f"{14 * 16 + 16 + 16 * 3 + 3:,}",
                  "adam", "default (he_normal)"):
        assert words in out, words
    doc = json.loads(ok(glassnet_cmd("info", "wine.glassnet", "--json", cwd=folder)).stdout)
    assert doc["format_version"] == glassnet.io.FORMAT_VERSION
    assert doc["n_parameters"] == 14 * 16 + 16 + 16 * 3 + 3
    assert doc["metadata"]["classes"] == ["barbera", "barolo", "grignolino"]


def test_binary_boolean_target_and_regression(tmp_path):
    from sklearn.datasets import load_breast_cancer, load_diabetes
    bc = load_breast_cancer(as_frame=True).frame
    bc["malignant"] = bc.pop("target") == 0
    bc.to_csv(tmp_path / "bc.csv", index=False)
    ok(glassnet_cmd("train", "bc.csv", "--target", "malignant", "--layers", "8", "--epochs",
                    "20", "--out", "bc.glassnet", cwd=tmp_path))
    net = glassnet.load(tmp_path / "bc.glassnet")
    assert net.layer_sizes[-1] == 1 and net.metadata["classes"] == [False, True]
    assert net.metadata["training"]["metrics"]["validation"]["accuracy"] > 0.9
    ok(glassnet_cmd("predict", "bc.glassnet", "bc.csv", "-o", "p.csv", "--proba", cwd=tmp_path))
    pred = pd.read_csv(tmp_path / "p.csv")
    assert list(pred.columns) == ["malignant", "proba_False", "proba_True"]
    assert pred["malignant"].dtype == bool
    assert np.mean(pred["malignant"] == bc["malignant"]) > 0.95

    db = load_diabetes(as_frame=True, scaled=False).frame
    db.to_csv(tmp_path / "db.csv", index=False)
    proc = ok(glassnet_cmd("train", "db.csv", "--target", "target", "--layers", "16",
                           "--epochs", "40", "--learning-rate", "0.01", "--out", "db.glassnet",
                           cwd=tmp_path))
    assert "rmse" in proc.stdout and "r2" in proc.stdout
    meta = glassnet.load(tmp_path / "db.glassnet").metadata
    assert meta["task"] == "regression" and meta["classes"] is None
    assert meta["training"]["metrics"]["validation"]["r2"] > 0.3
    proc = ok(glassnet_cmd("predict", "db.glassnet", "db.csv", cwd=tmp_path))
    pred = pd.read_csv(io.StringIO(proc.stdout))
    assert list(pred.columns) == ["target"]
    # predictions are in the target's own units (the target scaling is undone)
    assert abs(pred["target"].mean() - db["target"].mean()) < 0.2 * db["target"].std()
    assert "RMSE" in proc.stderr
    fails(glassnet_cmd("predict", "db.glassnet", "db.csv", "--proba", cwd=tmp_path),
          "--proba needs a classifier")


def test_a_model_saved_by_the_library_predicts_from_csv(tmp_path, iris_scaled):
    X, y = iris_scaled
    net = glassnet.Network([4, 8, 3], activation="tanh", seed=0)
    net.fit(X, y, epochs=5)
    net.save(tmp_path / "lib.glassnet")
    pd.DataFrame(X, columns=["a", "b", "c", "d"]).to_csv(tmp_path / "x.csv", index=False)
    proc = ok(glassnet_cmd("predict", "lib.glassnet", "x.csv", "--proba", cwd=tmp_path))
    pred = pd.read_csv(io.StringIO(proc.stdout))
    assert list(pred.columns) == ["prediction", "proba_0", "proba_1", "proba_2"]
    assert np.array_equal(pred["prediction"].to_numpy(), net.predict(X))
    assert np.array_equal(pred[["proba_0", "proba_1", "proba_2"]].to_numpy(),
                          net.predict_proba(X))
    pd.DataFrame(X[:, :3]).to_csv(tmp_path / "x3.csv", index=False)
    fails(glassnet_cmd("predict", "lib.glassnet", "x3.csv", cwd=tmp_path),
          "stores no feature names", "expects 4", "has 3")


# --- every data error exits non-zero with its message ------------------------------------------

def _table(tmp_path, name, frame: pd.DataFrame) -> str:
    frame.to_csv(tmp_path / name, index=False)
    return name


@pytest.fixture
def small(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=30), "x2": rng.normal(size=30),
                          "label": rng.choice(["yes", "no"], 30)})
    return tmp_path, frame


def test_missing_target_column_lists_the_columns(small):
    tmp_path, frame = small
    _table(tmp_path, "d.csv", frame)
    fails(glassnet_cmd("train", "d.csv", "--target", "Label", cwd=tmp_path),
          "d.csv", "no target column 'Label'", "'x1', 'x2', 'label'", "Did you mean 'label'?")


def test_non_numeric_feature_columns_are_named(small):
    tmp_path, frame = small
    frame["colour"] = "red"
    frame = frame.astype({"x2": object})
    frame.loc[4, "x2"] = "oops"
    _table(tmp_path, "d.csv", frame)
    fails(glassnet_cmd("train", "d.csv", "--target", "label", cwd=tmp_path),
          "feature columns must hold numbers", "'x2' (first non-number 'oops' in data row 5)",
          "'colour' (first non-number 'red' in data row 1)")


def test_missing_values_name_the_column_and_rows(small):
    tmp_path, frame = small
    frame.loc[[2, 9], "x1"] = np.nan
    _table(tmp_path, "d.csv", frame)
    fails(glassnet_cmd("train", "d.csv", "--target", "label", cwd=tmp_path),
          "missing or infinite values", "'x1' (empty in data rows 3, 10)",
          "Data row 1 is the first row under the header")
    frame.loc[[2, 9], "x1"] = 0.0
    frame.loc[6, "label"] = None
    _table(tmp_path, "d.csv", frame)
    fails(glassnet_cmd("train", "d.csv", "--target", "label", cwd=tmp_path),
          "target column 'label' has missing values in data row 7")


def test_empty_and_header_only_files(small):
    tmp_path, _ = small
    (tmp_path / "empty.csv").write_text("")
    fails(glassnet_cmd("train", "empty.csv", "--target", "label", cwd=tmp_path),
          "empty.csv", "is empty")
    (tmp_path / "header.csv").write_text("x1,x2,label\n")
    fails(glassnet_cmd("train", "header.csv", "--target", "label", cwd=tmp_path),
          "header.csv", "no data rows")
    fails(glassnet_cmd("train", "absent.csv", "--target", "label", cwd=tmp_path),
          "absent.csv", "does not exist")


def test_a_single_class_and_a_text_regression_target(small):
    tmp_path, frame = small
    frame["label"] = "yes"
    _table(tmp_path, "d.csv", frame)
    fails(glassnet_cmd("train", "d.csv", "--target", "label", cwd=tmp_path),
          "single class ('yes')")
    fails(glassnet_cmd("train", "d.csv", "--target", "label", "--task", "regression",
                       cwd=tmp_path), "regression needs a numeric target")


def test_data_file_whose_columns_differ_from_the_models(small):
    tmp_path, frame = small
    _table(tmp_path, "d.csv", frame)
    ok(glassnet_cmd("train", "d.csv", "--target", "label", "--epochs", "2", "--quiet",
                    cwd=tmp_path))
    _table(tmp_path, "missing.csv", frame[["x1"]])
    fails(glassnet_cmd("predict", "model.glassnet", "missing.csv", cwd=tmp_path),
          "missing.csv", "differ from the ones the model was trained on", "missing 'x2'",
          "expects 2 feature columns: 'x1', 'x2'")
    extra = frame.assign(x3=1.0, id=range(30))
    _table(tmp_path, "extra.csv", extra)
    fails(glassnet_cmd("predict", "model.glassnet", "extra.csv", cwd=tmp_path),
          "not in the model 'x3', 'id'", "--ignore-extra")
    ok(glassnet_cmd("predict", "model.glassnet", "extra.csv", "--ignore-extra", cwd=tmp_path))
    proc = ok(glassnet_cmd("predict", "model.glassnet", "extra.csv", "--keep", "id",
                           "--ignore-extra", cwd=tmp_path))
    assert proc.stdout.splitlines()[0] == "id,label"
    fails(glassnet_cmd("predict", "model.glassnet", "extra.csv", "--keep", "nope",
                       cwd=tmp_path), "--keep names column(s) 'nope'")
    # the same error for a non-numeric or incomplete column at prediction time
    bad = frame.copy()
    bad.loc[3, "x2"] = np.nan
    _table(tmp_path, "gap.csv", bad)
    fails(glassnet_cmd("predict", "model.glassnet", "gap.csv", cwd=tmp_path),
          "'x2' (empty in data row 4)")


def test_bad_model_files_and_options(small):
    tmp_path, frame = small
    _table(tmp_path, "d.csv", frame)
    (tmp_path / "junk.glassnet").write_text("not a model")
    fails(glassnet_cmd("predict", "junk.glassnet", "d.csv", cwd=tmp_path),
          "Cannot load model file 'junk.glassnet'", "not a glassnet model file")
    fails(glassnet_cmd("info", "junk.glassnet", cwd=tmp_path), "not a glassnet model file")
    fails(glassnet_cmd("train", "d.csv", "--target", "label", "--validation", "1.5",
                       cwd=tmp_path), "--validation")
    fails(glassnet_cmd("train", "d.csv", "--target", "label", "--optimizer", "adamm",
                       cwd=tmp_path), "--optimizer", "adam")
    fails(glassnet_cmd("train", "d.csv", "--target", "label", "--out", "no/such/dir/m",
                       cwd=tmp_path), "does not exist")
    fails(glassnet_cmd("train", "d.csv", "--target", "label", "--init", "bogus",
                       cwd=tmp_path), "Unknown init 'bogus'")


# --- the plotting and report helpers the commands use ---------------------------------------

def test_history_figure_and_html_report(tmp_path, iris_scaled):
    from glassnet import plots
    from glassnet.report import HtmlReport
    X, y = iris_scaled
    net = glassnet.Network([4, 8, 3], seed=0)
    hist = net.fit(X, y, epochs=6, optimizer="adam", metrics=["accuracy"],
                   validation_split=0.2)
    fig = plots.history(hist)
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["loss", "metrics"]
    lines = {line.get_label(): line.get_ydata() for line in axes[0].get_lines()}
    assert np.allclose(lines["loss"], hist["loss"]) and np.allclose(lines["val_loss"],
                                                                    hist["val_loss"])
    png = plots.save_png(fig, tmp_path / "h.png")
    assert png.startswith(PNG) and (tmp_path / "h.png").read_bytes() == png
    page = HtmlReport("A <title> & more", "sub")
    page.table(["a", "b"], [["<x>", 0.123456789], [True, 3]], row_classes=["good", None])
    page.figure(png, "cap <i>", file_name="h.png")
    page.details("why", "line 1\nline <2>")
    page.write(tmp_path / "index.html")
    text = (tmp_path / "index.html").read_text()
    assert "&lt;x&gt;" in text and "<x>" not in text and "A &lt;title&gt; &amp; more" in text
    assert '<td class="num">0.1235</td>' in text and '<tr class="good">' in text
    assert len(_check_page(tmp_path).images) == 1


def test_train_stops_early_by_default_and_keeps_the_best_epoch(tmp_path):
    """Diabetes with the README's style of settings: training every epoch overfits
    (training R^2 0.97, validation 0.04); the default early stopping keeps the best epoch."""
    from sklearn.datasets import load_diabetes
    load_diabetes(as_frame=True).frame.to_csv(tmp_path / "db.csv", index=False)
    settings = ["train", "db.csv", "--target", "target", "--layers", "64,32", "--init", "he",
                "--epochs", "200", "--optimizer", "adam", "--quiet"]
    full = ok(glassnet_cmd(*settings, "--no-early-stopping", "--out", "full.glassnet",
                           cwd=tmp_path))
    best = ok(glassnet_cmd(*settings, "--out", "best.glassnet", cwd=tmp_path))
    full_meta = glassnet.load(tmp_path / "full.glassnet").metadata["training"]
    meta = glassnet.load(tmp_path / "best.glassnet").metadata["training"]

    assert full_meta["epochs"] == 200 and full_meta["early_stopping"] is None
    assert full_meta["metrics"]["train"]["r2"] > 0.9 > 0.2 > full_meta["metrics"]["validation"]["r2"]
    val = meta["metrics"]["validation"]["r2"]
    assert val > 0.3 and val > full_meta["metrics"]["validation"]["r2"] + 0.25
    stopping = meta["early_stopping"]
    assert stopping["monitor"] == "val_loss" and stopping["stopped_early"] is True
    # the default patience comes from the data size: 354 training rows, 12 steps an epoch
    from glassnet.cli.train import default_patience
    assert stopping["patience"] == default_patience(354, 32) == 21
    assert meta["epochs"] == meta["kept_epoch"] + stopping["patience"] < 200
    # the kept epoch is the best one of the stored history, and is what was saved
    history = meta["history"]
    assert len(history["loss"]) == len(history["val_loss"]) == meta["epochs"]
    assert int(np.argmin(history["val_loss"])) + 1 == meta["kept_epoch"]
    # printed: which epoch was kept, and training and validation side by side
    assert f"last improved at epoch {meta['kept_epoch']}" in " ".join(best.stderr.split())
    assert f"epoch {meta['kept_epoch']} of {meta['epochs']}" in best.stdout
    row = next(line for line in best.stdout.splitlines() if line.strip("│ ").startswith("r2"))
    assert f"{meta['metrics']['train']['r2']:.4g}" in row and f"{val:.4g}" in row
    info = ok(glassnet_cmd("info", "best.glassnet", cwd=tmp_path))
    assert f"{meta['kept_epoch']} of {meta['epochs']}" in info.stdout


def test_default_patience_suits_the_data_size():
    from glassnet.cli.train import PATIENCE_MAX, PATIENCE_MIN, default_patience
    assert default_patience(120, 32) == PATIENCE_MAX          # iris: 4 steps an epoch
    assert default_patience(10_000, 32) == PATIENCE_MIN       # 313 steps an epoch
    assert PATIENCE_MIN < default_patience(500, 32) < PATIENCE_MAX          # 16 steps


def test_train_no_standardize_on_unscaled_data_says_so_as_a_note(tmp_path):
    from sklearn.datasets import load_wine
    load_wine(as_frame=True).frame.to_csv(tmp_path / "wine.csv", index=False)
    proc = ok(glassnet_cmd("train", "wine.csv", "--target", "target", "--no-standardize",
                           "--epochs", "2", "--quiet", cwd=tmp_path))
    err = " ".join(proc.stderr.split())
    assert "warning: 2 of 13 input columns" in err and "'proline' (mean" in err
    assert "Drop --no-standardize" in err and "UnscaledInputWarning" not in err
    assert "warning" not in " ".join(ok(glassnet_cmd(
        "train", "wine.csv", "--target", "target", "--epochs", "2", "--quiet",
        cwd=tmp_path)).stderr.split())
