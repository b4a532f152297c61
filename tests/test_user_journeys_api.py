"""A new user's first hour with the library: what they try beyond the documented examples.

Each test here is a regression test for something the audit of issues 2-4 found broken or
missing, or an interplay of features no single module's tests cover (the doctor's Monitor
with early stopping, validation and a checkpoint; a model saved, loaded and trained on;
Neuro and the doctor; estimators and their hyperparameters).
"""
from __future__ import annotations

import io
import os
import pickle
import sys
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import checkpoint as ckpt
from glassnet.callbacks import Callback, EarlyStopping, LambdaCallback


@pytest.fixture(scope="module")
def iris(iris_scaled):
    return iris_scaled


# --- metrics: the plain functions behave like scikit-learn's ----------------------------------

def test_a_column_and_a_flat_array_of_the_same_values_are_not_broadcast():
    """(n, 1) against (n,) once broadcast to (n, n): mse 0.5 and accuracy 0.5 for a perfect fit."""
    from sklearn import metrics as skm
    truth = np.array([[1.0], [2.0], [4.0]])
    pred = np.array([1.5, 2.0, 3.0])
    assert gn.metrics.mean_squared_error(truth, truth[:, 0]) == 0.0
    assert gn.metrics.mean_squared_error(truth, pred) == pytest.approx(
        skm.mean_squared_error(truth, pred), rel=1e-15)
    assert gn.metrics.mean_absolute_error(truth, pred) == pytest.approx(
        skm.mean_absolute_error(truth, pred), rel=1e-15)
    assert gn.metrics.r2(truth, pred) == pytest.approx(skm.r2_score(truth, pred), rel=1e-15)
    labels = np.array([[0], [1], [2], [2]])
    assert gn.metrics.accuracy(labels, np.array([0, 1, 2, 1])) == 0.75
    assert gn.metrics.log_loss(labels, [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8],
                                        [0.3, 0.3, 0.4]]) == pytest.approx(
        skm.log_loss(labels[:, 0], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8],
                                    [0.3, 0.3, 0.4]]), rel=1e-12)
    with pytest.raises(gn.GlassnetError, match=r"y_true has shape \(3, 2\) but y_pred"):
        gn.metrics.mean_squared_error(np.ones((3, 2)), np.ones((3, 3)))


@pytest.mark.parametrize("call, match", [
    (lambda: gn.metrics.accuracy([], []), "empty"),
    (lambda: gn.metrics.mean_squared_error([1.0, np.nan], [1.0, 2.0]), "y_true contains NaN"),
    (lambda: gn.metrics.r2([1.0, 2.0], [1.0, np.inf]), "y_pred contains NaN or infinite"),
    (lambda: gn.metrics.accuracy([1, 2], [1, 2], sample_weight=[-1, 1]),
     "sample_weight must be >= 0 with a positive sum"),
    (lambda: gn.metrics.mean_absolute_error([1, 2], [1, 2], sample_weight=[0, 0]),
     "positive sum"),
    (lambda: gn.metrics.log_loss([0, 1.5], [[0.5, 0.5], [0.5, 0.5]]), "class indices 0..1"),
    (lambda: gn.metrics.mean_squared_error(3.0, 3.0), "scalar"),
])
def test_metric_functions_reject_bad_input_with_a_named_error(call, match):
    with pytest.raises(gn.GlassnetError, match=match):
        call()


def test_accuracy_is_available_for_probability_outputs_trained_with_squared_error(iris):
    """softmax + squared error (and Neuro's sigmoid outputs) are classifiers in all but loss."""
    from sklearn.metrics import accuracy_score
    X, y = iris
    net = gn.Network([4, 8, 3], output="softmax", loss="squared_error", seed=0)
    h = net.fit(X, y, epochs=15, batch_size=16, learning_rate=0.5, metrics=["accuracy"],
                validation_data=(X[::2], y[::2]))
    out = net.forward(X)
    assert h.accuracy[-1] == accuracy_score(y, out.argmax(axis=1)) > 0.8
    assert h.val_accuracy[-1] == accuracy_score(y[::2], out[::2].argmax(axis=1))
    # Neuro: sigmoid outputs, squared error, one-hot targets: the largest output is the class
    neuro = gn.Neuro([4, 6, 3], learning_rate=2.0, activators="sigmoid", seed=0, quiet=True)
    neuro.fit(X, y, 40, 16)
    scores = neuro.evaluate(X, y, metrics=["accuracy", "mse"])
    assert set(scores) == {"loss", "accuracy", "mse"}
    assert scores["accuracy"] == accuracy_score(y, neuro.forward(X).argmax(axis=1)) > 0.8
    # several sigmoids trained with binary cross-entropy are multi-label: every output counts
    Y = np.column_stack([y == 0, y == 2]).astype(float)
    multi = gn.Network([4, 6, 2], output="sigmoid", seed=0)
    h = multi.fit(X, Y, epochs=5, metrics=["accuracy"])
    assert h.accuracy[-1] == accuracy_score(Y, (multi.forward(X) > 0.5).astype(float))
    # still refused where it means nothing: a regressor's identity output
    with pytest.raises(gn.GlassnetError, match="softmax or sigmoid output"):
        gn.Network([4, 3, 1], loss="squared_error").fit(X, X[:, 0], metrics=["accuracy"])
    with pytest.raises(gn.GlassnetError, match="'log_loss' needs a classifier"):
        net.fit(X, y, epochs=1, metrics=["log_loss"])


def test_evaluate_takes_a_single_metric_name_or_a_list(iris):
    X, y = iris
    net = gn.Network([4, 5, 3], seed=0)
    assert set(net.evaluate(X, y, metrics="mse")) == {"loss", "mse"}
    assert set(net.evaluate(X, y, metrics=["accuracy", "r2"])) == {"loss", "accuracy", "r2"}
    with pytest.raises(gn.GlassnetError, match="metrics must be a list"):
        net.evaluate(X, y, metrics=3)


# --- the History is a dict of lists ---------------------------------------------------------------

def test_history_iterates_like_a_dict(iris):
    X, y = iris
    h = gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=3, validation_split=0.2,
                                          metrics=["accuracy"])
    assert list(h) == ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    assert dict(h) == h.history and dict(h.items()) == h.history
    assert len(h) == 3 and all(len(v) == 3 for _, v in h.items())
    assert "val_accuracy" in dir(h) and h.val_accuracy == h["val_accuracy"]
    assert pickle.loads(pickle.dumps(h)) == h
    assert repr(h).startswith("History(3 epochs, last={'loss': ")


# --- errors travel between processes ---------------------------------------------------------------

def test_divergence_error_pickles_with_its_fields():
    """joblib (n_jobs in GridSearchCV, cross_val_score) and dask send errors back pickled."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)) * 100
    with pytest.raises(gn.DivergenceError) as info, pytest.warns(gn.UnscaledInputWarning):
        gn.Network([3, 8, 1], loss="squared_error", seed=0).fit(X, X[:, 0] * 100, epochs=5,
                                                               learning_rate=1.0)
    error = info.value
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is gn.DivergenceError and str(copy) == str(error)
    assert (copy.epoch, copy.batch, copy.learning_rate) == (error.epoch, error.batch, 1.0)
    assert copy.history == error.history and copy.value == error.value
    assert isinstance(copy, gn.GlassnetError) and isinstance(copy, ValueError)


def test_a_diverging_estimator_error_comes_back_from_a_joblib_worker(iris):
    from joblib import Parallel, delayed
    from glassnet.sklearn import GlassRegressor
    X, _ = iris

    def fit(seed):
        return GlassRegressor(hidden_layer_sizes=(4,), optimizer="sgd", momentum=0.0,
                              learning_rate=50.0, standardize=False, max_iter=30,
                              random_state=seed).fit(X * 50, X[:, 0] * 1e4)

    with pytest.raises(gn.DivergenceError, match="learning rate was 50"):
        Parallel(n_jobs=2, backend="loky")(delayed(fit)(s) for s in range(2))


# --- the arguments users pass as they would elsewhere --------------------------------------------

def test_verbose_true_means_1(iris, capsys, monkeypatch):
    X, y = iris
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=2, verbose=True)
    assert capsys.readouterr().out == ""            # quiet off a terminal, like verbose=1
    screen = _Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=2, verbose=True)
    assert "epoch 2/2" in screen.getvalue()          # the live bar, like verbose=1
    monkeypatch.undo()
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=2, verbose=False)
    assert capsys.readouterr().out == ""
    with pytest.raises(gn.GlassnetError, match="verbose must be >= 0"):
        gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=2, verbose=-1)


def test_names_are_case_insensitive_and_a_factory_gets_a_hint(iris):
    X, y = iris
    a = gn.Network([4, 5, 3], seed=0)
    b = a.copy()
    a.fit(X, y, epochs=2, optimizer="Adam", learning_rate=0.01)
    b.fit(X, y, epochs=2, optimizer="adam", learning_rate=0.01)
    np.testing.assert_array_equal(a.params, b.params)
    assert gn.schedules.get("Cosine", learning_rate=0.1, total_steps=10)(0) == \
        gn.schedules.cosine(0.1, total_steps=10)(0)
    with pytest.raises(gn.GlassnetError, match=r"adam is the factory: call it, e\.g\. "
                                               r"optimizer=glassnet\.optimizers\.adam\(\.\.\.\)"):
        a.fit(X, y, epochs=1, optimizer=gn.optimizers.adam)


def test_a_column_of_labels_is_labels(iris):
    """y as an (n, 1) column (a one-column DataFrame) trains exactly as the 1-D labels."""
    import pandas as pd
    X, y = iris
    a = gn.Network([4, 5, 3], seed=0)
    b = a.copy()
    ha = a.fit(X, y, epochs=3)
    hb = b.fit(X, pd.DataFrame({"species": y}), epochs=3)
    assert ha == hb
    np.testing.assert_array_equal(a.params, b.params)


def test_monitoring_a_quantity_the_run_will_not_record_is_refused_before_training(iris):
    X, y = iris
    net = gn.Network([4, 5, 3], seed=0)
    before = net.params.copy()
    with pytest.raises(gn.GlassnetError, match=r"monitors 'val_accuracy', which this run does "
                                               r"not record .*needs validation data .* and "
                                               r"metrics=\['accuracy'\]"):
        net.fit(X, y, epochs=3, early_stopping=True, monitor="val_accuracy")
    with pytest.raises(gn.GlassnetError, match=r"monitors 'val_acc'.*needs validation data"):
        net.fit(X, y, epochs=3, metrics=["accuracy"],
                callbacks=[gn.callbacks.ReduceLROnPlateau("val_acc")])
    np.testing.assert_array_equal(net.params, before)       # not one step was taken
    # a key another callback adds to the logs can still be monitored
    add = LambdaCallback(on_epoch_end=lambda ctx, logs: logs.update(score=-ctx.epoch))
    stop = EarlyStopping(monitor="score", mode="max", patience=2)
    h = net.fit(X, y, epochs=10, callbacks=[add, stop])
    assert len(h) == 3 and h.stopped_early and h.best_epoch == 0


# --- checkpoints: what a user changes between two runs ----------------------------------------------

def _make_schedule():
    def decay(step):
        return 0.05 / (1 + step / 50)
    return decay


def test_a_plain_function_schedule_resumes_in_another_process(tmp_path, iris):
    """The checkpoint names the optimizer without memory addresses: a function schedule (a new
    object with the same name after a restart) resumes instead of being called another run."""
    X, y = iris
    path = tmp_path / "run.ckpt"
    kwargs = dict(epochs=6, batch_size=16, optimizer="momentum", checkpoint=path)

    class Crash(Callback):
        def on_epoch_end(self, ctx, logs):
            if ctx.epoch == 2:
                raise SystemExit("killed")

    with pytest.raises(SystemExit):
        gn.Network([4, 6, 3], seed=3).fit(X, y, learning_rate=_make_schedule(),
                                          callbacks=[Crash()], **kwargs)
    first, again = _make_schedule(), _make_schedule()
    assert first is not again and repr(first) != repr(again)     # other addresses
    resumed = gn.Network([4, 6, 3], seed=3)
    h = resumed.fit(X, y, learning_rate=again, **kwargs)
    unbroken = gn.Network([4, 6, 3], seed=3)
    reference = unbroken.fit(X, y, epochs=6, batch_size=16, optimizer="momentum",
                             learning_rate=first)
    np.testing.assert_array_equal(resumed.params, unbroken.params)
    assert h == reference
    assert gn.optimizers.describe(gn.optimizers.sgd(first)) == \
        gn.optimizers.describe(gn.optimizers.sgd(again))


def test_a_finished_checkpoint_asked_for_other_epochs_is_refused(tmp_path, iris):
    """Asking for more epochs once returned the old, shorter run as if it were the new one."""
    X, y = iris
    path = tmp_path / "run.ckpt"
    gn.Network([4, 6, 3], seed=0).fit(X, y, epochs=3, checkpoint=path)
    net = gn.Network([4, 6, 3], seed=0)
    before = net.params.copy()
    for epochs in (5, 2):
        with pytest.raises(gn.GlassnetError, match=f"finished run of 3 epochs, but this call "
                                                   f"asks for epochs={epochs}"):
            net.fit(X, y, epochs=epochs, checkpoint=path)
        np.testing.assert_array_equal(net.params, before)
    assert len(net.fit(X, y, epochs=3, checkpoint=path)) == 3       # the same call loads it
    # a run that early stopping ended is finished whatever the budget
    stopped = tmp_path / "stopped.ckpt"
    first = gn.Network([4, 6, 3], seed=0)
    h = first.fit(X, y, epochs=40, checkpoint=stopped, validation_split=0.3, early_stopping=True,
                  patience=1, min_delta=10.0)
    assert h.stopped_early and len(h) == 2
    assert ckpt.load(stopped).meta["position"]["epoch"] == 2
    again = gn.Network([4, 6, 3], seed=0)
    batches = []
    h2 = again.fit(X, y, epochs=60, checkpoint=stopped, validation_split=0.3,
                   early_stopping=True, patience=1, min_delta=10.0,
                   callbacks=[LambdaCallback(on_batch_end=lambda c, l: batches.append(1))])
    assert batches == [] and h2 == h
    np.testing.assert_array_equal(again.params, first.params)


def test_a_mid_run_checkpoint_past_the_requested_epochs_is_refused(tmp_path, iris):
    X, y = iris
    path = tmp_path / "run.ckpt"

    class Crash(Callback):
        def on_epoch_end(self, ctx, logs):
            if ctx.epoch == 4:
                raise SystemExit("killed")

    with pytest.raises(SystemExit):
        gn.Network([4, 6, 3], seed=0).fit(X, y, epochs=10, checkpoint=path,
                                          callbacks=[Crash()])
    assert ckpt.load(path).meta["position"]["epoch"] == 4
    with pytest.raises(gn.GlassnetError, match=r"already trained 4 epochs, more than this "
                                               r"call's epochs=3\. Pass epochs=4 or more"):
        gn.Network([4, 6, 3], seed=0).fit(X, y, epochs=3, checkpoint=path)
    # more epochs than the crashed run asked for: it resumes and runs on, like one long run
    net = gn.Network([4, 6, 3], seed=0)
    h = net.fit(X, y, epochs=12, checkpoint=path)
    unbroken = gn.Network([4, 6, 3], seed=0)
    assert h == unbroken.fit(X, y, epochs=12)
    np.testing.assert_array_equal(net.params, unbroken.params)


# --- interplay of features ------------------------------------------------------------------------

def test_monitor_early_stopping_validation_and_checkpoint_together(tmp_path, iris):
    """The doctor's Monitor next to early stopping, a plateau schedule and a resumable run."""
    X, y = iris
    path = tmp_path / "run.ckpt"

    def run(net, crash=None):
        callbacks = [gn.doctor.Monitor(), gn.callbacks.ReduceLROnPlateau(patience=2)]
        if crash is not None:
            callbacks.append(crash)
        h = net.fit(X, y, epochs=25, batch_size=16, optimizer="adam", learning_rate=0.05,
                    validation_split=0.25, metrics=["accuracy"], early_stopping=True,
                    patience=4, checkpoint=path, callbacks=callbacks)
        return h, callbacks[0]

    class Crash(Callback):
        def on_epoch_end(self, ctx, logs):
            if ctx.epoch == 3:
                raise SystemExit("killed")

    with pytest.raises(SystemExit):
        run(gn.Network([4, 8, 3], seed=2), Crash())
    net = gn.Network([4, 8, 3], seed=2)
    h, monitor = run(net)
    os.remove(path)
    reference_net = gn.Network([4, 8, 3], seed=2)
    reference, _ = run(reference_net)
    assert h == reference
    np.testing.assert_array_equal(net.params, reference_net.params)
    assert h.val_accuracy[h.best_epoch] > 0.85
    # early stopping put back the best epoch's weights: they score its validation loss on
    # the held-out rows (kept in the checkpoint)
    val = ckpt.load(path).val_index
    assert len(val) == 36                  # stratified: round(0.25 * 50) = 12 per class
    assert reference_net.loss_value(X[val], y[val]) == pytest.approx(
        reference.val_loss[reference.best_epoch], rel=1e-12)
    report = monitor.report()
    assert isinstance(report, gn.doctor.Report) and report.summary()


def test_a_loaded_model_trains_on_like_the_original(tmp_path, iris):
    X, y = iris
    net = gn.Network([4, 8, 3], activation="tanh", seed=0)
    net.fit(X, y, epochs=5, optimizer="adam", learning_rate=0.01)
    path = tmp_path / "model.glassnet"
    net.save(path)
    loaded = gn.load(path)
    np.testing.assert_array_equal(loaded.params, net.params)
    h1 = net.fit(X, y, epochs=3, optimizer="adam", learning_rate=0.01)
    h2 = loaded.fit(X, y, epochs=3, optimizer="adam", learning_rate=0.01)
    assert h1 == h2                                    # the generator state travelled too
    np.testing.assert_array_equal(loaded.params, net.params)
    loaded.partial_fit(X, y)
    net.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.params, net.params)


def test_neuro_and_the_doctor(iris, tmp_path):
    """The doctor names the two classic failures of the hand-written network and clears the fix."""
    X, y = iris
    found = {}
    for init in ("zeros", "constant", None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gn.SymmetryWarning)
            neuro = gn.Neuro([4, 6, 3], learning_rate=0.5, activators="tanh", init=init, seed=0,
                             quiet=True)
        found[init] = [f.code for f in gn.doctor.diagnose(neuro, X, y).findings]
    assert "no_update" in found["zeros"]
    assert "symmetric_units" in found["constant"]
    assert not {"no_update", "symmetric_units"} & set(found[None])      # the fix
    neuro = gn.Neuro([4, 6, 3], learning_rate=0.5, activators="tanh", seed=0, quiet=True)
    neuro.fit(X, y, 3, 16)
    neuro.save(tmp_path / "neuro.glassnet")
    back = gn.load(tmp_path / "neuro.glassnet")
    assert type(back) is gn.Neuro and repr(back) == repr(neuro) == (
        "Neuro([4, 6, 3], learning_rate=0.5, activators='tanh', dtype=float64)")
    assert back.fit(X, y, 2, 16) == neuro.fit(X, y, 2, 16)


def test_network_fit_help_lists_every_argument_of_fit_with_its_default():
    """help(net.fit) is what a user reads; it must not drift from glassnet.training.fit."""
    import inspect
    doc = gn.Network.fit.__doc__
    params = list(inspect.signature(gn.training.fit).parameters.values())[3:]   # after net, X, y
    assert len(params) == 20
    for p in params:
        assert f"{p.name}={p.default!r}".replace("'", '"') in doc, p.name


def test_neuro_repr_names_mixed_activators():
    assert repr(gn.Neuro([3, 5, 2], activators=[3, 1], seed=0)) == (
        "Neuro([3, 5, 2], learning_rate=0.1, activators=['relu', 'sigmoid'], dtype=float64)")


# --- progress with tqdm, when rich is not installed ---------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_tqdm_bar_counts_every_batch_and_shows_the_epochs_metrics(iris, monkeypatch):
    from glassnet import progress
    X, y = iris
    screen = _Terminal()
    monkeypatch.setattr(progress, "make", lambda verbose, epochs, n_batches, stream=None:
                        progress.TqdmBar(epochs, n_batches, screen))
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=3, batch_size=25, verbose=1,
                                      validation_split=0.2, metrics=["accuracy"])
    out = screen.getvalue()
    assert "epoch 3/3" in out and "15/15" in out            # 120 training rows: 5 batches
    assert "val_accuracy: " in out and "lr: 0.01" in out


# --- the estimators -----------------------------------------------------------------------------

def test_estimator_rejects_a_schedule_it_would_ignore(iris):
    from glassnet.sklearn import GlassClassifier
    X, y = iris
    clf = GlassClassifier(optimizer=gn.optimizers.sgd(0.1), schedule="invscaling", max_iter=2)
    with pytest.raises(gn.GlassnetError, match="schedule='invscaling' applies to a named "
                                               "optimizer"):
        clf.fit(X, y)
    assert not hasattr(clf, "network_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.set_params(schedule="constant").fit(X, y)
    assert clf.history_.learning_rate == [0.1, 0.1]


def test_estimator_verbose_2_prints_epoch_lines(iris, capsys):
    from glassnet.sklearn import GlassRegressor
    X, _ = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GlassRegressor(hidden_layer_sizes=(4,), max_iter=2, verbose=2).fit(X, X[:, 0])
        assert capsys.readouterr().out.count("epoch ") == 2
        GlassRegressor(hidden_layer_sizes=(4,), max_iter=2, verbose=True).fit(X, X[:, 0])
        assert capsys.readouterr().out == ""        # verbose=1 is quiet off a terminal


def test_estimator_coefs_can_be_assigned_like_mlpclassifiers(iris):
    """MLPClassifier users set ``coefs_`` and ``intercepts_`` as lists; it copies into the net."""
    from glassnet.sklearn import GlassClassifier
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = GlassClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(4, 5)), rng.normal(size=(5, 3))]
    biases = [rng.normal(size=5), rng.normal(size=3)]
    clf.coefs_, clf.intercepts_ = weights, biases
    for ours, given in zip(clf.coefs_ + clf.intercepts_, weights + biases):
        np.testing.assert_array_equal(ours, given)
    h = np.maximum((X - clf.mean_) / clf.scale_ @ weights[0] + biases[0], 0)   # by hand
    z = h @ weights[1] + biases[1]
    proba = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), proba / proba.sum(axis=1, keepdims=True),
                               rtol=1e-12)
    with pytest.raises(gn.GlassnetError, match=r"weights\[1\] \(layer 2\) must have shape "
                                               r"\(5, 3\); got \(3, 5\)"):
        clf.coefs_ = [weights[0], weights[1].T]
    np.testing.assert_array_equal(clf.coefs_[0], weights[0])    # all or nothing


def test_sparse_input_is_named_with_the_fix():
    import scipy.sparse as sparse
    X = sparse.random(20, 3, density=0.5, random_state=0, format="csr")
    with pytest.raises(gn.GlassnetError, match=r"X is a sparse matrix \(csr_matrix\); glassnet "
                                               r"trains on dense arrays: pass X\.toarray\(\)"):
        gn.Network([3, 4, 2], seed=0).fit(X, np.arange(20) % 2, epochs=1)
    net = gn.Network([3, 4, 2], seed=0)
    net.fit(X.toarray(), np.arange(20) % 2, epochs=1)


def test_metric_names_are_case_insensitive(iris):
    X, y = iris
    h = gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=2, metrics=["Accuracy", "R2"])
    assert set(h) == {"loss", "accuracy", "r2", "learning_rate"}
