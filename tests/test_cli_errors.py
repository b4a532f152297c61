"""Every ``glassnet`` command answers bad input with a clean exit and a message that says
what was wrong: non-zero status, the argument, column or file named, no Python traceback.

Each case runs the installed ``glassnet`` command in a subprocess, as a user would.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

GLASSNET = shutil.which("glassnet")


def run_cli(*args, cwd=None, timeout=120):
    assert GLASSNET, "the glassnet command is not installed (pip install -e .)"
    env = dict(os.environ, COLUMNS="200", PYTHONWARNINGS="default")
    return subprocess.run([GLASSNET, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def _rewrite_model(src: Path, dst: Path, edit=None, arrays=None) -> Path:
    """Copy a model file with its metadata changed by ``edit(header)`` and/or arrays replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "metadata.json" and edit is not None:
                header = json.loads(data)
                edit(header)
                data = json.dumps(header).encode()
            if arrays and info.filename[:-4] in arrays:
                buf = io.BytesIO()
                np.save(buf, arrays[info.filename[:-4]], allow_pickle=True)
                data = buf.getvalue()
            zout.writestr(info.filename, data)
    return dst


class _Payload:
    """Unpickling this calls os.mkdir(marker)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad inputs, and two models trained by `glassnet train` on iris."""
    from sklearn.datasets import load_iris

    d = tmp_path_factory.mktemp("cli")
    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = iris.target_names[iris.target]
    frame = frame.drop(columns="target")
    good = d / "iris.csv"
    frame.to_csv(good, index=False)
    features = [c for c in frame.columns if c != "species"]
    f = SimpleNamespace(dir=d, good=good, features=features)

    def csv(name, text):
        path = d / name
        path.write_text(text)
        return path

    head = ",".join(frame.columns)
    rows = frame.to_csv(index=False, header=False).splitlines()
    f.empty = csv("empty.csv", "")
    f.header_only = csv("header_only.csv", head + "\n")
    f.ragged = csv("ragged.csv", "\n".join([head, *rows[:3], rows[3] + ",9.9", *rows[4:10]]))
    f.text_feature = csv("text_feature.csv", "\n".join(
        [head, *rows[:5], rows[5].replace(rows[5].split(",")[1], "wide", 1), *rows[6:20]]))
    f.missing_cell = csv("missing_cell.csv", "\n".join(
        [head, *rows[:5], "," + ",".join(rows[5].split(",")[1:]), *rows[6:20]]))
    f.inf_cell = csv("inf_cell.csv", "\n".join(
        [head, *rows[:5], "1e400," + ",".join(rows[5].split(",")[1:]), *rows[6:20]]))
    f.one_class = csv("one_class.csv", "\n".join([head, *rows[:20]]))  # all setosa
    f.dup_columns = csv("dup_columns.csv", "a,a,species\n1,2,x\n3,4,y\n")
    f.semicolons = csv("semicolons.csv", "\n".join(r.replace(",", ";") for r in [head, *rows]))
    f.no_target = csv("no_target.csv", frame.drop(columns="species").to_csv(index=False))
    f.extra_column = d / "extra_column.csv"
    frame.assign(colour="red").to_csv(f.extra_column, index=False)
    f.missing_feature = d / "missing_feature.csv"
    frame.drop(columns=features[0]).to_csv(f.missing_feature, index=False)
    f.binary = d / "binary.csv"
    f.binary.write_bytes(bytes(range(256)) * 4)
    f.utf16 = d / "utf16.csv"
    f.utf16.write_text(frame.head(10).to_csv(index=False), encoding="utf-16")
    f.a_file = csv("a_file.txt", "not a folder")
    f.folder = d / "a_folder"
    f.folder.mkdir()

    # models, trained the way a user would
    f.model = d / "model.glassnet"
    out = run_cli("train", good, "--target", "species", "--epochs", "2", "--layers", "8",
                  "--quiet", "--out", f.model)
    assert out.returncode == 0, out.stderr
    f.regressor = d / "regressor.glassnet"
    out = run_cli("train", good, "--target", "petal_width", "--features", ",".join(features[:3]),
                  "--epochs", "2", "--layers", "8", "--quiet", "--out", f.regressor)
    assert out.returncode == 0, out.stderr

    # damaged and hostile model files
    data = f.model.read_bytes()
    f.truncated = d / "truncated.glassnet"
    f.truncated.write_bytes(data[: len(data) // 2])
    f.csv_as_model = good
    f.plain_npz = d / "plain.npz"
    np.savez(f.plain_npz, w=np.zeros(3))
    f.marker = d / "pickle_ran"
    payload = np.empty((4, 8), dtype=object)
    payload[...] = 0.0
    payload[0, 0] = _Payload(f.marker)
    f.pickled = _rewrite_model(f.model, d / "pickled.glassnet", arrays={"weights_0": payload})
    f.future = _rewrite_model(f.model, d / "future.glassnet",
                              lambda h: h.update(format_version=h["format_version"] + 1))

    def bad_scaling(h):
        h["metadata"]["scaling"]["mean"] = h["metadata"]["scaling"]["mean"][:2]
    f.bad_scaling = _rewrite_model(f.model, d / "bad_scaling.glassnet", bad_scaling)

    def bad_classes(h):
        h["metadata"]["classes"] = "setosa"
    f.bad_classes = _rewrite_model(f.model, d / "bad_classes.glassnet", bad_classes)

    def bad_training(h):
        h["metadata"]["training"] = {"metrics": {"train": {"loss": "low"}}, "epochs": "many"}
        h["metadata"]["target_scaling"] = {"mean": "x"}
    f.bad_training = _rewrite_model(f.model, d / "bad_training.glassnet", bad_training)

    def bad_features(h):
        h["metadata"]["feature_names"] = 42
    f.bad_features = _rewrite_model(f.model, d / "bad_features.glassnet", bad_features)
    return f


def _given(args, option: str) -> bool:
    return any(str(a) == option or str(a).startswith(option + "=") for a in args)


def _check(result, *words):
    """A clean failure: exit status 2, no traceback, and every word in standard error."""
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout, err[-3000:]
    assert result.returncode == 2, (result.returncode, err[-2000:], result.stdout[-2000:])
    assert err.strip(), "a failure must say why on standard error"
    for word in words:
        assert str(word).lower() in err.lower(), f"{word!r} not in stderr:\n{err}"
    return err


# --- the cases: (command, name, argv(files), words the message must contain) -------------------------
# Every case runs in its own empty working folder, with the defaults that keep a run that
# wrongly succeeded short (one epoch, two doctor steps, a quick demo, a tiny study).

TRAIN = [
    # files
    ("missing file", lambda f: ["nope.csv"], ["nope.csv", "does not exist"]),
    ("a folder", lambda f: [f.folder], ["a_folder", "folder"]),
    ("empty file", lambda f: [f.empty], ["empty.csv", "empty"]),
    ("header only", lambda f: [f.header_only], ["header_only.csv", "no data rows"]),
    ("ragged rows", lambda f: [f.ragged], ["ragged.csv"]),
    ("binary file", lambda f: [f.binary], ["binary.csv"]),
    ("utf-16 file", lambda f: [f.utf16], ["utf16.csv"]),
    ("duplicate columns", lambda f: [f.dup_columns], ["dup_columns.csv", "'a'"]),
    ("text in a feature", lambda f: [f.text_feature], ["text_feature.csv", "sepal_width",
                                                       "wide"]),
    ("empty cell", lambda f: [f.missing_cell], ["missing_cell.csv", "sepal_length"]),
    ("overflowing cell", lambda f: [f.inf_cell], ["inf_cell.csv", "sepal_length"]),
    ("a single class", lambda f: [f.one_class], ["one_class.csv", "species", "class"]),
    ("missing target column", lambda f: [f.no_target], ["no_target.csv", "species"]),
    # columns
    ("unknown target", lambda f: [f.good, "--target", "specie"], ["specie", "iris.csv",
                                                                  "Did you mean 'species'?"]),
    ("wrong separator", lambda f: [f.semicolons], ["semicolons.csv", "separated by ';'",
                                                   "Pass --sep ';'"]),
    ("unknown feature", lambda f: [f.good, "--features", "sepal_length,petal_girth"],
     ["petal_girth"]),
    ("target as a feature", lambda f: [f.good, "--features", "sepal_length,species"],
     ["species"]),
    ("regression on text", lambda f: [f.good, "--task", "regression"], ["--task", "species"]),
    # options
    ("layers not numbers", lambda f: [f.good, "--layers", "64,abc"], ["--layers", "64,abc"]),
    ("layers zero", lambda f: [f.good, "--layers", "0"], ["--layers"]),
    ("layers huge", lambda f: [f.good, "--layers", "100000000000"], ["layer"]),
    ("unknown activation", lambda f: [f.good, "--activation", "rleu"],
     ["--activation", "rleu", "relu"]),
    ("output-only activation", lambda f: [f.good, "--activation", "softmax"],
     ["--activation", "softmax"]),
    ("unknown init", lambda f: [f.good, "--init", "xavierr"], ["init", "xavierr"]),
    ("init parameter", lambda f: [f.good, "--init", "normal:std=-1"], ["init", "std"]),
    ("init parameter syntax", lambda f: [f.good, "--init", "normal:std"], ["--init", "key=value"]),
    ("unknown optimizer", lambda f: [f.good, "--optimizer", "adamw2"], ["--optimizer", "adamw2"]),
    ("epochs zero", lambda f: [f.good, "--epochs", "0"], ["--epochs"]),
    ("batch size zero", lambda f: [f.good, "--batch-size", "0"], ["--batch-size"]),
    ("learning rate nan", lambda f: [f.good, "--learning-rate", "nan"], ["--learning-rate"]),
    ("learning rate inf", lambda f: [f.good, "--learning-rate", "inf"], ["--learning-rate"]),
    ("validation fraction", lambda f: [f.good, "--validation", "1.5"], ["--validation"]),
    ("dtype", lambda f: [f.good, "--dtype", "float16"], ["--dtype", "float16"]),
    ("seed negative", lambda f: [f.good, "--seed=-1"], ["--seed"]),
    ("out in a missing folder", lambda f: [f.good, "--out", f.dir / "no" / "m.glassnet"],
     ["--out", "does not exist"]),
    ("out is a folder", lambda f: [f.good, "--out", f.folder], ["--out", "folder"]),
]

PREDICT = [
    ("missing model", lambda f: ["nope.glassnet", f.good], ["nope.glassnet"]),
    ("plain npz as model", lambda f: [f.plain_npz, f.good], ["plain.npz", "metadata.json"]),
    ("pickled model", lambda f: [f.pickled, f.good], ["pickled.glassnet", "pickle"]),
    ("bad stored scaling", lambda f: [f.bad_scaling, f.good], ["bad_scaling.glassnet",
                                                               "scaling"]),
    ("bad stored classes", lambda f: [f.bad_classes, f.good], ["bad_classes.glassnet",
                                                               "classes"]),
    ("bad stored features", lambda f: [f.bad_features, f.good], ["bad_features.glassnet",
                                                                 "feature"]),
    ("missing data", lambda f: [f.model, "nope.csv"], ["nope.csv", "does not exist"]),
    ("missing feature column", lambda f: [f.model, f.missing_feature],
     ["missing_feature.csv", "sepal_length"]),
    ("unknown extra column", lambda f: [f.model, f.extra_column], ["extra_column.csv", "colour",
                                                                    "--ignore-extra"]),
    ("text in a feature", lambda f: [f.model, f.text_feature], ["text_feature.csv", "wide"]),
    ("keep unknown column", lambda f: [f.model, f.good, "--keep", "id"], ["--keep", "'id'"]),
    ("proba on a regressor", lambda f: [f.regressor, f.good, "--proba", "--ignore-extra"],
     ["--proba"]),
    ("output in a missing folder", lambda f: [f.model, f.good, "--output",
                                              f.dir / "no" / "p.csv"], ["p.csv"]),
]

INFO = [
    ("missing", lambda f: ["nope.glassnet"], ["nope.glassnet", "no such file"]),
    ("folder", lambda f: [f.folder], ["a_folder", "folder"]),
    ("csv", lambda f: [f.good], ["iris.csv", "not a glassnet model"]),
    ("empty", lambda f: [f.empty], ["empty.csv", "empty"]),
    ("truncated", lambda f: [f.truncated], ["truncated.glassnet", "truncated"]),
    ("future version", lambda f: [f.future], ["future.glassnet", "upgrade"]),
    ("pickled", lambda f: [f.pickled], ["pickled.glassnet", "pickle"]),
    ("bad training record", lambda f: [f.bad_training], ["bad_training.glassnet", "training"]),
    ("bad stored classes", lambda f: [f.bad_classes], ["bad_classes.glassnet", "classes"]),
    ("bad stored features", lambda f: [f.bad_features], ["bad_features.glassnet", "feature"]),
    ("no model", lambda f: [], ["MODEL"]),
]

DOCTOR = [
    ("missing model", lambda f: ["nope.glassnet", f.good], ["nope.glassnet"]),
    ("pickled model", lambda f: [f.pickled, f.good], ["pickled.glassnet", "pickle"]),
    ("missing data", lambda f: [f.model, "nope.csv"], ["nope.csv"]),
    ("unknown target", lambda f: [f.model, f.good, "--target", "specie"], ["specie"]),
    ("missing feature", lambda f: [f.model, f.missing_feature], ["sepal_length"]),
    ("too few features", lambda f: [f.model, f.good, "--features",
                                    "sepal_length,sepal_width,petal_length"], ["4 inputs"]),
    ("activation with a model file", lambda f: [f.model, f.good, "--activation", "relu"],
     ["--activation"]),
    ("npz without activation", lambda f: [f.plain_npz, f.good, "--target", "species"],
     ["plain.npz"]),
    ("steps negative", lambda f: [f.model, f.good, "--steps=-1"], ["--steps"]),
    ("learning rate zero", lambda f: [f.model, f.good, "--learning-rate", "0"],
     ["--learning-rate"]),
    ("unknown optimizer", lambda f: [f.model, f.good, "--optimizer", "adamw2"], ["adamw2"]),
    ("bad stored scaling", lambda f: [f.bad_scaling, f.good], ["scaling"]),
]

DEMO = [
    ("epochs zero", lambda f: ["--epochs", "0"], ["--epochs"]),
    ("learning rate", lambda f: ["--learning-rate=-1"], ["--learning-rate"]),
    ("learning rate inf", lambda f: ["--learning-rate", "inf"], ["--learning-rate"]),
    ("activation", lambda f: ["--activation", "rleu"], ["--activation", "rleu"]),
    ("hidden", lambda f: ["--hidden", "32,x"], ["--hidden"]),
    ("inits", lambda f: ["--inits", "zeros,glorious"], ["--inits", "glorious"]),
    ("seed", lambda f: ["--seed=-5"], ["--seed"]),
    ("out is a file", lambda f: ["--out", f.a_file], ["--out", "a_file.txt"]),
]

STUDY = [
    ("no study", lambda f: [], ["STUDY"]),
    ("unknown study", lambda f: ["depth"], ["depth", "init"]),
    ("activation", lambda f: ["init", "--activation", "rleu"], ["activation", "rleu"]),
    ("depth", lambda f: ["init", "--depth", "0"], ["depth"]),
    ("seeds", lambda f: ["init", "--seeds", "0"], ["seeds"]),
    ("schemes", lambda f: ["init", "--schemes", "xavier,glorious"], ["glorious"]),
    ("scheme parameter", lambda f: ["init", "--schemes", "normal:std=-1"], ["std"]),
    ("learning rate", lambda f: ["init", "--learning-rate", "0"], ["learning"]),
    ("n-jobs", lambda f: ["init", "--n-jobs", "0"], ["--n-jobs"]),
    ("out is a file", lambda f: ["init", "--out", f.a_file], ["--out", "a_file.txt"]),
]

#: what each command gets unless the case sets it: short runs, should one wrongly start
DEFAULTS = {
    "train": [("--target", "species"), ("--epochs", "1"), ("--out", "m.glassnet"),
              ("--quiet", None)],
    "doctor": [("--steps", "2")],
    "demo": [("--quick", None)],
    "study": [("--depth", "2"), ("--width", "8"), ("--seeds", "1"), ("--epochs", "0"),
              ("--n-jobs", "1")],
}
#: what a refused command must not leave in its working folder
NOT_CREATED = {"train": "m.glassnet", "demo": "glassnet-report", "study": "glassnet-study"}

CASES = [(command, name, argv, words)
         for command, table in (("train", TRAIN), ("predict", PREDICT), ("info", INFO),
                                ("doctor", DOCTOR), ("demo", DEMO), ("study", STUDY))
         for name, argv, words in table]


def _argv(command, argv, files):
    args = list(argv(files))
    if command == "study" and args[:1] != ["init"]:
        return args
    for option, value in DEFAULTS.get(command, []):
        if not _given(args, option):
            args += [option] if value is None else [option, value]
    return args


@pytest.fixture(scope="module")
def outcomes(files):
    """Run every case at once (a few at a time): each is a separate `glassnet` process."""
    from concurrent.futures import ThreadPoolExecutor

    def one(case):
        command, name, argv, _ = case
        cwd = files.dir / "runs" / f"{command}-{name.replace(' ', '_')}"
        cwd.mkdir(parents=True)
        return run_cli(command, *_argv(command, argv, files), cwd=cwd), cwd

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, CASES))
    return {(c[0], c[1]): r for c, r in zip(CASES, results)}


@pytest.mark.parametrize("command, name, argv, words", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_input_is_a_clean_error(files, outcomes, command, name, argv, words):
    result, cwd = outcomes[(command, name)]
    _check(result, *words)
    if command in NOT_CREATED:
        assert not (cwd / NOT_CREATED[command]).exists(), "a refused run left output behind"
    assert not files.marker.exists(), "a pickle in a model file was executed"


# --- the command line itself, and the controls ----------------------------------------------------------

def test_no_command_and_unknown_command():
    _check(run_cli(), "command")
    _check(run_cli("trian"), "trian", "train")
    _check(run_cli("train"), "DATA.csv", "--target")


def test_good_input_works(files, tmp_path):
    """The controls: the same model and files, undamaged, work."""
    out = run_cli("predict", files.model, files.good, "--proba", "--output", tmp_path / "p.csv")
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0].startswith("species,proba_setosa") and len(lines) == 151
    out = run_cli("info", files.model)
    assert out.returncode == 0 and "sepal_length" in out.stdout, out.stderr


def test_info_json_prints_even_odd_user_metadata(files):
    """--json shows the stored metadata as it is, so a hand-edited file can be inspected."""
    out = run_cli("info", files.bad_training, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metadata"]["training"]["epochs"] == "many"
