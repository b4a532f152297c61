"""CSV reading, label encoding, task detection, scaling, splitting, and the data errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glassnet import GlassnetError
from glassnet import data as D


@pytest.fixture(scope="module")
def wine_frame():
    """scikit-learn's wine data as a table with string labels."""
    from sklearn.datasets import load_wine
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["cultivar"] = np.array(["barolo", "grignolino", "barbera"])[bunch.target]
    return frame


def _write(tmp_path, text: str, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- reading -----------------------------------------------------------------------------------

def test_reads_a_real_table(tmp_path, wine_frame):
    path = tmp_path / "wine.csv"
    wine_frame.to_csv(path, index=False)
    frame = D.read_csv(path)
    assert list(frame.columns) == list(wine_frame.columns)
    assert frame.shape == (178, 14)
    features = D.select_features(frame, "cultivar", None, "wine.csv")
    X = D.feature_matrix(frame, features, "wine.csv")
    assert X.shape == (178, 13) and X.dtype == np.float64
    assert np.allclose(X, wine_frame.drop(columns="cultivar").to_numpy())


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("\n\n  \n", "is empty"),
    ("a,b,target\n", "has a header ('a', 'b', 'target') but no data rows"),
    ("a,a,target\n1,2,x\n", "repeats the column name(s) 'a'"),
    ("a,,target\n1,2,x\n", "empty column names (column positions [2])"),
    ("a,b\n1,2\n3,4,5\n", "cannot be read as CSV"),
])
def test_bad_files(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(GlassnetError) as info:
        D.read_csv(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_missing_folder_and_binary_files(tmp_path):
    with pytest.raises(GlassnetError, match="does not exist"):
        D.read_csv(tmp_path / "nope.csv")
    with pytest.raises(GlassnetError, match="is a folder"):
        D.read_csv(tmp_path)
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(GlassnetError, match="not a UTF-8 text file"):
        D.read_csv(tmp_path / "bin.csv")


def test_separator(tmp_path):
    frame = D.read_csv(_write(tmp_path, "a;b\n1;2\n"), sep=";")
    assert list(frame.columns) == ["a", "b"] and frame.iloc[0].tolist() == [1, 2]


# --- columns -----------------------------------------------------------------------------------

def test_missing_target_lists_the_columns_and_a_near_match():
    frame = pd.DataFrame({"sepal": [1.0], "petal": [2.0], "Species": ["a"]})
    with pytest.raises(GlassnetError) as info:
        D.check_target_column(frame, "species", "iris.csv")
    message = str(info.value)
    assert "iris.csv" in message and "no target column 'species'" in message
    assert "'sepal', 'petal', 'Species'" in message
    assert "Did you mean 'Species'?" in message


def test_non_numeric_features_are_named_with_the_first_bad_value():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"],
                          "size": ["1", "2", "n/a?"], "y": [0, 1, 0]})
    frame["size"] = frame["size"].astype(object)
    with pytest.raises(GlassnetError) as info:
        D.feature_matrix(frame, ["x", "colour", "size"], "t.csv")
    message = str(info.value)
    assert "these columns do not" in message
    assert "'colour' (first non-number 'red' in data row 1)" in message
    assert "'size' (first non-number 'n/a?' in data row 3)" in message
    assert "'x'" not in message


def test_missing_values_name_column_and_rows(tmp_path):
    rows = ["a,b,c,target"] + [f"{i},{i},{i},x" for i in range(10)]
    rows[3] = "2,,2,x"        # data row 3: b empty
    rows[8] = "7,,NA,x"       # data row 8: b and c empty
    rows[9] = "8,8,inf,x"     # data row 9: c infinite
    frame = D.read_csv(_write(tmp_path, "\n".join(rows) + "\n"))
    with pytest.raises(GlassnetError) as info:
        D.feature_matrix(frame, ["a", "b", "c"], "d.csv")
    message = str(info.value)
    assert "'b' (empty in data rows 3, 8)" in message
    assert "'c' (empty in data row 8)" in message
    assert "'c' (infinite in data row 9)" in message
    assert "'a'" not in message
    assert "Data row 1 is the first row under the header" in message


def test_booleans_are_numbers():
    frame = pd.DataFrame({"flag": [True, False, True], "v": [1.5, 2.5, 3.5]})
    X = D.feature_matrix(frame, ["flag", "v"], "t")
    assert X.tolist() == [[1.0, 1.5], [0.0, 2.5], [1.0, 3.5]]


def test_select_features():
    frame = pd.DataFrame({"a": [1], "b": [2], "t": [0]})
    assert D.select_features(frame, "t", None, "f") == ["a", "b"]
    assert D.select_features(frame, "t", ["b"], "f") == ["b"]
    with pytest.raises(GlassnetError, match="'zz'.*not in the file"):
        D.select_features(frame, "t", ["a", "zz"], "f")
    with pytest.raises(GlassnetError, match="cannot also be a feature"):
        D.select_features(frame, "t", ["a", "t"], "f")
    with pytest.raises(GlassnetError, match="no feature columns"):
        D.select_features(frame[["t"]], "t", None, "f")


def test_match_columns_says_which_are_missing_and_which_extra():
    frame = pd.DataFrame({"a": [1], "c": [2], "id": [3], "target": [0]})
    with pytest.raises(GlassnetError) as info:
        D.match_columns(frame, ["a", "b"], "new.csv", target="target")
    message = str(info.value)
    assert "missing 'b'" in message and "not in the model 'c', 'id'" in message
    assert "'target'" not in message.split("expects")[0]    # the target column is allowed
    D.match_columns(frame, ["a", "c"], "new.csv", target="target", allowed_extra=["id"])
    D.match_columns(frame, ["a"], "new.csv", ignore_extra=True)
    with pytest.raises(GlassnetError, match="--ignore-extra"):
        D.match_columns(frame, ["a", "c", "id"], "new.csv")


def test_target_with_missing_values():
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", None, "b", None]})
    with pytest.raises(GlassnetError, match=r"target column 'y' has missing values in data "
                                            r"rows 2, 4"):
        D.target_values(frame, "y", "f.csv")


# --- tasks and labels --------------------------------------------------------------------------

@pytest.mark.parametrize("values, task", [
    (np.array(["a", "b", "a"], dtype=object), "classification"),
    (np.array([True, False, True]), "classification"),
    (np.array([0, 1, 2, 1, 0]), "classification"),
    (np.array([1.0, 2.0, 3.0]), "classification"),                 # whole numbers
    (np.arange(D.MAX_AUTO_CLASSES), "classification"),
    (np.arange(D.MAX_AUTO_CLASSES + 1), "regression"),             # too many distinct values
    (np.array([0.5, 1.25, 3.0]), "regression"),
])
def test_task_rule(values, task):
    assert D.detect_task(values) == task


def test_task_override_and_bad_task():
    assert D.detect_task(np.array([0, 1, 0]), "regression") == "regression"
    assert D.detect_task(np.array([0.1, 0.2]), "classification") == "classification"
    with pytest.raises(GlassnetError, match="task must be one of"):
        D.detect_task(np.array([1]), "clustering")


@pytest.mark.parametrize("labels, classes", [
    (np.array(["dog", "cat", "emu", "cat"], dtype=object), ["cat", "dog", "emu"]),
    (np.array([7, 3, 7, 5]), [3, 5, 7]),
    (np.array([True, False, False]), [False, True]),
    (np.array([2.0, 1.0, 2.0]), [1, 2]),                           # whole floats -> ints
])
def test_labels_of_any_kind_round_trip(labels, classes):
    codes, found = D.encode_labels(labels)
    assert found == classes
    assert all(type(c) is type(classes[0]) for c in found)
    assert codes.dtype == np.int64 and codes.min() == 0 and codes.max() == len(classes) - 1
    back = D.decode_labels(codes, found)
    assert [type(v) for v in back] == [type(classes[0])] * len(labels)
    expected = labels.astype(np.int64) if labels.dtype.kind == "f" else labels
    assert back.tolist() == expected.tolist()


@pytest.mark.parametrize("labels, classes", [
    (np.array(["dog", "cat", "emu", "cat"], dtype=object), ["cat", "dog", "emu"]),
    (np.array([7, 3, 7, 5]), [3, 5, 7]),
    (np.array([True, False, False]), [False, True]),
    (np.array([2.0, 1.0, 2.0]), [1, 2]),
])
def test_stored_classes_map_labels_back_to_their_codes(labels, classes):
    codes, found = D.encode_labels(labels)
    # read back from a CSV or a JSON model file, labels come as other types: "7", 7.0, ...
    variants = [labels, labels.astype(object)]
    if labels.dtype.kind != "f":                  # "2.0" is text, not the number 2
        variants.append(labels.astype(str))
    for variant in variants:
        assert D.class_codes(variant, found).tolist() == codes.tolist()
    assert D.class_codes(labels, [str(c) for c in found]).tolist() == codes.tolist()


def test_stored_classes_accept_codes_only_when_no_label_is_a_number():
    assert D.class_codes(np.array([1, 0, 1]), ["cat", "dog"]).tolist() == [1, 0, 1]
    with pytest.raises(GlassnetError, match=r"y holds labels the model does not know: \['0'\]; "
                                            r"its classes are \[1, 2, 3\]"):
        D.class_codes(np.array([0, 1, 2]), [1, 2, 3])      # codes or labels? refuse to guess
    with pytest.raises(GlassnetError, match=r"'unsure'"):
        D.class_codes(np.array(["cat", "unsure"]), ["cat", "dog"], "data.csv: the target")
    with pytest.raises(GlassnetError, match="does not know"):
        D.class_codes(np.array([2, 0]), ["cat", "dog"])     # 2 is no code of 2 classes


# --- scaling and splitting -----------------------------------------------------------------------

def test_standardizer(wine_frame):
    X = wine_frame.drop(columns="cultivar").to_numpy()
    X = np.column_stack([X, np.full(len(X), 4.2)])                 # a constant column
    s = D.Standardizer.fit(X)
    Z = s.transform(X)
    assert np.allclose(Z[:, :-1].mean(axis=0), 0, atol=1e-12)
    assert np.allclose(Z[:, :-1].std(axis=0), 1)
    assert np.allclose(Z[:, -1], 0, atol=1e-12) and s.std[-1] == 1.0   # centred, not / 0
    assert np.allclose(s.inverse(Z), X)
    again = D.Standardizer.from_dict(s.to_dict(), X.shape[1])
    assert np.array_equal(again.transform(X), Z)
    with pytest.raises(GlassnetError, match="expected 3 of each"):
        D.Standardizer.from_dict(s.to_dict(), 3)
    with pytest.raises(GlassnetError, match="damaged"):
        D.Standardizer.from_dict({"mean": [0.0]}, 1)


def test_stratified_holdout(wine_frame):
    codes, _ = D.encode_labels(wine_frame["cultivar"].to_numpy(dtype=object))
    train, val = D.holdout_split(len(codes), 0.25, 3, labels=codes)
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(codes)))
    for c in range(3):
        share = np.mean(codes[val] == c) - np.mean(codes == c)
        assert abs(share) < 0.03                                    # each class keeps its share
    assert abs(len(val) - 0.25 * len(codes)) <= 3
    again = D.holdout_split(len(codes), 0.25, 3, labels=codes)
    assert all(np.array_equal(a, b) for a, b in zip((train, val), again))
    other = D.holdout_split(len(codes), 0.25, 4, labels=codes)
    assert not np.array_equal(other[1], val)


def test_holdout_edge_cases():
    train, val = D.holdout_split(10, 0.0, 0)
    assert len(train) == 10 and len(val) == 0
    train, val = D.holdout_split(10, 0.3, 0)
    assert len(val) == 3 and len(train) == 7
    # a class with one row keeps it for training
    labels = np.array([0, 0, 0, 0, 1])
    train, val = D.holdout_split(5, 0.5, 0, labels=labels)
    assert 4 in train
    with pytest.raises(GlassnetError, match=r"in \[0, 1\)"):
        D.holdout_split(10, 1.0, 0)


def test_target_suggestions_come_from_every_column_and_are_never_cut():
    names = [f"feature_{i}" for i in range(30)] + ["label"]     # the wanted one comes last
    frame = pd.DataFrame({n: [1.0] for n in names})
    with pytest.raises(GlassnetError) as info:
        D.check_target_column(frame, "Label", "d.csv")
    assert "Did you mean 'label'?" in str(info.value) and "more" not in str(info.value)
    with pytest.raises(GlassnetError) as info:
        D.check_target_column(frame, "featur_2", "d.csv")      # several close names: all shown
    assert "Did you mean one of 'feature_2', " in str(info.value)


@pytest.mark.parametrize("sep, shown", [(";", "';'"), ("\t", "$'\\t'")])
def test_a_file_read_with_the_wrong_separator_is_named(sep, shown):
    frame = pd.DataFrame({sep.join(["x1", "x2", "label"]): ["1;2;a"]})
    with pytest.raises(GlassnetError) as info:
        D.check_target_column(frame, "label", "d.csv")
    assert f"probably separated by {sep!r}. Pass --sep {shown}." in str(info.value)


def test_holdout_split_equals_the_per_class_permutations_sorted():
    """The split draws each class's permutation in class order and returns each side's rows
    sorted; checked against that formulation spelled out, for labels of every kind."""
    rng = np.random.default_rng(0)

    def reference(n, fraction, seed, labels):
        draw = np.random.default_rng(seed)
        train, val = [], []
        for c in np.unique(labels):
            rows = draw.permutation(np.flatnonzero(labels == c))
            k = min(int(round(fraction * rows.size)), rows.size - 1)
            val.append(rows[:k])
            train.append(rows[k:])
        return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))

    for trial in range(120):
        n = int(rng.integers(2, 400))
        labels = [rng.integers(0, 5, n), rng.integers(-3, 3, n), rng.normal(size=n).round(),
                  np.array(["a", "b", "c"])[rng.integers(0, 3, n)]][trial % 4]
        fraction, seed = float(rng.uniform(0.05, 0.9)), int(rng.integers(0, 100))
        got = D.holdout_split(n, fraction, seed, labels=labels)
        for mine, theirs in zip(got, reference(n, fraction, seed, labels)):
            assert np.array_equal(mine, theirs) and mine.dtype == theirs.dtype, trial
