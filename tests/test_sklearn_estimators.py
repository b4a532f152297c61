"""GlassClassifier and GlassRegressor: scikit-learn's own estimator checks, parity with
MLPClassifier, the sklearn tool chain, pickling, and accuracy against MLPClassifier."""
from __future__ import annotations

import importlib.util
import pathlib
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import estimator_checks_generator

import glassnet as gn
from glassnet.sklearn import GlassClassifier, GlassRegressor, NotFittedError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


#: scikit-learn checks that test a capability these estimators do not claim: the array API
#: (glassnet computes in NumPy only) and ``decision_function`` (not defined: classifiers
#: expose predict_proba).  sklearn would report them as skipped or check nothing.
NOT_APPLICABLE = {"check_array_api_input",
                  "check_classifiers_multilabel_output_format_decision_function",
                  "check_decision_proba_consistency"}

_ESTIMATOR_CHECKS = [
    (estimator, check)
    for base in (GlassClassifier(), GlassRegressor())
    for estimator, check in estimator_checks_generator(base, legacy=True)
    if _check_name(check) not in NOT_APPLICABLE
]


@pytest.mark.parametrize(
    "estimator, check", _ESTIMATOR_CHECKS,
    ids=[f"{type(e).__name__}-{_check_name(c)}-{i}" for i, (e, c) in enumerate(_ESTIMATOR_CHECKS)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_inapplicable_checks_are_really_inapplicable():
    """What NOT_APPLICABLE leaves out stays out for a reason."""
    assert not hasattr(GlassClassifier(), "decision_function")
    assert len(_ESTIMATOR_CHECKS) > 80


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:310] / 16.0, y[:310]


# --- the same training as MLPClassifier -------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_same_weights_as_mlpclassifier_through_the_estimator(optimizer, digits):
    """standardize=False, the estimator's default sgd (momentum 0.9, Nesterov) or adam, warm
    started from MLPClassifier's own initial weights: the same weights after 10 epochs."""
    from sklearn.neural_network import MLPClassifier
    X, y = digits
    common = dict(hidden_layer_sizes=(16,), alpha=1e-3, batch_size=64, shuffle=False, tol=0.0,
                  n_iter_no_change=1000, max_iter=10, random_state=0)
    lr = 0.05 if optimizer == "sgd" else 0.01
    mlp = MLPClassifier(solver=optimizer, learning_rate_init=lr, **common)
    probe = MLPClassifier(**mlp.get_params())
    probe._random_state = np.random.RandomState(0)
    init = [probe._init_coef(a, b, np.float64) for a, b in ((64, 16), (16, 10))]
    mlp.fit(X, y)
    clf = GlassClassifier(optimizer=optimizer, learning_rate=lr, standardize=False,
                          warm_start=True, **dict(common, max_iter=1)).fit(X, y)
    for (w, b), cw, cb in zip(init, clf.coefs_, clf.intercepts_):
        cw[...] = w                                  # coefs_ are views into network_
        cb[...] = b
    clf.set_params(max_iter=10).fit(X, y)           # warm start: weights kept, fresh optimizer
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 11
    for ours, theirs in zip(clf.coefs_ + clf.intercepts_, mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(clf.loss_curve_[1:], mlp.loss_curve_, rtol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), mlp.predict(X))


# --- fitted state, labels, outputs ---------------------------------------------------------------

def test_fitted_attributes(iris):
    X, y = iris
    clf = GlassClassifier(hidden_layer_sizes=(10, 5), max_iter=30, random_state=0).fit(X, y)
    assert [w.shape for w in clf.coefs_] == [(4, 10), (10, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(10,), (5,), (3,)]
    assert len(clf.loss_curve_) == clf.n_iter_ == 30 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.t_ == 30 * 150
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_features_in_ == 4
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert isinstance(clf.network_, gn.Network) and clf.history_.loss == clf.loss_curve_
    np.testing.assert_allclose(clf.mean_, X.mean(axis=0))
    np.testing.assert_allclose(clf.scale_, X.std(axis=0))
    with pytest.raises(NotFittedError) as info:
        GlassClassifier().predict(X)
    assert isinstance(info.value, gn.GlassnetError)


def test_string_labels_binary_and_multilabel(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = GlassClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.9
    binary = np.where(y == 0, "yes", "no")
    clf = GlassClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0).fit(X, binary)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2) and np.allclose(proba.sum(axis=1), 1)
    assert clf.score(X, binary) > 0.95
    Y = np.column_stack([y == 0, y == 2, X[:, 0] > 5.8]).astype(int)
    clf = GlassClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == (150, 3) and clf.predict_proba(X).shape == (150, 3)
    assert clf.score(X, Y) > 0.8                     # subset accuracy


def test_standardize_makes_the_fit_scale_free(iris):
    X, y = iris
    a = GlassClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, y)
    b = GlassClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X * 1000 + 7,
                                                                                  y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X * 1000 + 7), atol=1e-8)
    raw = GlassClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0,
                          standardize=False).fit(X, y)
    assert raw.mean_ is None and raw.scale_ is None


def test_regressor(iris):
    from sklearn.metrics import r2_score
    X, _ = iris
    y = X[:, 0] * 2 - X[:, 3]
    reg = GlassRegressor(hidden_layer_sizes=(16,), max_iter=300, learning_rate=0.01,
                         random_state=0).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (150,) and reg.score(X, y) == pytest.approx(r2_score(y, pred))
    assert reg.score(X, y) > 0.95 and reg.out_activation_ == "identity"
    Y = np.column_stack([y, X[:, 0]])
    reg = GlassRegressor(hidden_layer_sizes=(16,), max_iter=50, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (150, 2) and reg.n_outputs_ == 2


def test_float32(iris):
    X, y = iris
    clf = GlassClassifier(hidden_layer_sizes=(8,), max_iter=20, dtype="float32",
                          random_state=0).fit(X, y)
    assert clf.network_.params.dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32 and clf.coefs_[0].dtype == np.float32


# --- stopping rules and schedules ---------------------------------------------------------------

def test_tol_stopping_and_convergence_warning(iris):
    X, y = iris
    clf = GlassClassifier(hidden_layer_sizes=(8,), tol=0.05, n_iter_no_change=2, max_iter=500,
                          learning_rate=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ < 500 and clf.history_.stopped_early
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\) reached"):
        GlassClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)


def test_early_stopping_keeps_the_best_validation_score(iris):
    X, y = iris
    clf = GlassClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=10,
                          validation_fraction=0.2, max_iter=500, learning_rate=0.01,
                          random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) and clf.best_loss_ is None
    assert clf.best_validation_score_ > 0.9
    with pytest.raises(gn.GlassnetError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X, y)


def test_schedules(iris):
    X, y = iris
    adaptive = GlassClassifier(hidden_layer_sizes=(8,), optimizer="sgd", schedule="adaptive",
                               learning_rate=0.1, tol=0.5, n_iter_no_change=1, max_iter=12,
                               random_state=0).fit(X, y)
    rates = adaptive.history_.learning_rate
    assert rates[0] == 0.1 and rates[-1] < 0.1 / 5 ** 2
    inv = GlassClassifier(hidden_layer_sizes=(8,), optimizer="sgd", schedule="invscaling",
                          learning_rate=0.1, power_t=0.5, max_iter=3, random_state=0).fit(X, y)
    n = 150
    assert inv.history_.learning_rate == pytest.approx(
        [0.1 / (e * n + 1) ** 0.5 for e in (1, 2, 3)])


# --- partial_fit, warm start ------------------------------------------------------------------

def test_partial_fit_streams(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    order = rng.permutation(150)
    clf = GlassClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, random_state=0)
    with pytest.raises(gn.GlassnetError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:10], y[:10])
    for epoch in range(30):
        for chunk in np.array_split(order, 5):
            clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 150 and clf.score(X, y) > 0.9
    with pytest.raises(gn.GlassnetError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(gn.GlassnetError, match=r"classes \[7\] that are not in classes_"):
        clf.partial_fit(X[:3], [0, 1, 7])


def test_warm_start_continues(iris):
    X, y = iris
    clf = GlassClassifier(hidden_layer_sizes=(8,), max_iter=10, warm_start=True,
                          random_state=0).fit(X, y)
    first = list(clf.loss_curve_)
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 20 and clf.loss_curve_[:10] == first
    assert clf.loss_curve_[10] < first[0]
    with pytest.raises(gn.GlassnetError, match="warm_start can only be used"):
        clf.fit(X[y < 2], y[y < 2])


# --- the scikit-learn tool chain, pickling ----------------------------------------------------

def test_pipeline_gridsearch_and_cross_val_score(iris):
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    X, y = iris
    pipe = make_pipeline(MinMaxScaler(), GlassClassifier(hidden_layer_sizes=(8,), max_iter=60,
                                                         learning_rate=0.01, random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.85
    grid = GridSearchCV(pipe, {"glassclassifier__alpha": [1e-4, 1e-1],
                               "glassclassifier__hidden_layer_sizes": [(4,), (8,)]}, cv=3)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"glassclassifier__alpha",
                                      "glassclassifier__hidden_layer_sizes"}
    assert grid.score(X, y) > 0.85


def test_pickle_round_trip_keeps_predictions_and_optimizer_state(iris):
    X, y = iris
    clf = GlassClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)               # Adam's moments travelled with the pickle
    np.testing.assert_array_equal(copy.network_.params, clf.network_.params)
    reg = GlassRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y * 1.0)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("params, match", [
    (dict(hidden_layer_sizes=(0,)), r"hidden_layer_sizes\[0\] must be >= 1"),
    (dict(hidden_layer_sizes="big"), "hidden_layer_sizes"),
    (dict(activation="rleu"), "Unknown activation 'rleu'"),
    (dict(optimizer="lbfgs"), "'optimizer' parameter must be one of"),
    (dict(schedule="optimal"), "'schedule' parameter must be one of"),
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(max_iter=0), "max_iter must be >= 1"),
    (dict(alpha=-1), "alpha must be >= 0"),
    (dict(early_stopping=True, validation_fraction=0.0), "validation_fraction must be in"),
    (dict(learning_rate=0.0), "learning_rate must be > 0"),
    (dict(dtype="float16"), "dtype must be 'float32' or 'float64'"),
])
def test_bad_hyperparameters_are_named_at_fit(params, match, iris):
    X, y = iris
    clf = GlassClassifier(**params)                  # __init__ only stores
    with pytest.raises(gn.GlassnetError, match=match):
        clf.fit(X, y)


def test_bad_data_gives_glassnet_errors(iris):
    X, y = iris
    clf = GlassClassifier(max_iter=5)
    with pytest.raises(gn.GlassnetError, match="NaN"):
        clf.fit(np.where(X > 7, np.nan, X), y)
    with pytest.raises(gn.GlassnetError, match="only one class"):
        clf.fit(X, np.zeros(150))
    with pytest.raises(gn.GlassnetError, match="Unknown label type"):
        clf.fit(X, X[:, 0])
    with pytest.raises(gn.GlassnetError, match="positive weight to only one class"):
        clf.fit(X, y, sample_weight=(y == 1).astype(float))
    clf.fit(X, y)
    with pytest.raises(gn.GlassnetError, match="X has 3 features, but GlassClassifier is "
                                               "expecting 4"):
        clf.predict(X[:, :3])


def test_a_diverging_estimator_raises_and_keeps_finite_weights(iris):
    X, y = iris
    reg = GlassRegressor(hidden_layer_sizes=(8,), optimizer="sgd", momentum=0.0,
                         learning_rate=10.0, standardize=False, max_iter=100,
                         n_iter_no_change=1000, random_state=0)
    with pytest.raises(gn.DivergenceError, match="learning rate was 10"):
        reg.fit(X, X[:, 0] * 100)
    assert np.isfinite(reg.network_.params).all()


# --- accuracy against MLPClassifier -------------------------------------------------------------

def _benchmark():
    path = pathlib.Path(__file__).parent.parent / "benchmarks" / "compare_sklearn_accuracy.py"
    spec = importlib.util.spec_from_file_location("compare_sklearn_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_classifier_is_as_accurate_as_mlpclassifier():
    """5-fold CV on digits, iris, wine and breast cancer, both at their defaults."""
    bench = _benchmark()
    rows = bench.compare()
    table = bench.markdown(rows)
    for row in rows:
        assert row["glassnet"] >= row["sklearn"] - 0.01, table
    assert "| iris |" in table and len(rows) == 4
