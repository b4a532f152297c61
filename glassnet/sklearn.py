"""scikit-learn estimators: ``GlassClassifier`` and ``GlassRegressor``.

They follow MLPClassifier / MLPRegressor: the same hyperparameter names and defaults (one
hidden layer of 100 ReLU units, Adam at 1e-3, ``alpha=1e-4``, up to 200 epochs, stop when
the training loss has not improved by ``tol`` for ``n_iter_no_change`` epochs), the same
fitted attributes (``coefs_``, ``intercepts_``, ``loss_curve_``, ``n_iter_``,
``classes_``, ``best_loss_``, ...) and the same training loop, run by glassnet.  They pass
scikit-learn's estimator checks and work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``; they pickle.

Differences, all deliberate:

* ``standardize=True`` (the default): inputs are standardised inside the estimator
  (weighted mean and standard deviation of the training data, stored as ``mean_`` and
  ``scale_``; constant columns are left unscaled).  MLPs need scaled inputs, and on small
  tabular data this is the difference between a good and a poor default.  ``coefs_[0]``
  therefore applies to standardised inputs, ``(X - mean_) / scale_``.  Set
  ``standardize=False`` to get MLPClassifier's behaviour.
* ``batch_size="auto"`` is ``min(32, n_samples)`` (MLPClassifier: ``min(200,
  n_samples)``): small tabular data sets need more than one step per epoch.
* ``learning_rate`` is the step size (MLPClassifier's ``learning_rate_init``) and may be
  a glassnet schedule; ``schedule`` is MLPClassifier's ``learning_rate``: "constant",
  "invscaling" or "adaptive".
* ``optimizer`` (MLPClassifier's ``solver``) is any glassnet optimizer: "adam", "sgd",
  "momentum", "nesterov", "adamw", "rmsprop", "adagrad".  "sgd" uses ``momentum`` and
  ``nesterovs_momentum`` exactly as MLPClassifier does (0.9, Nesterov); L-BFGS is not
  offered.  An :class:`~glassnet.optimizers.Optimizer` object works too; it carries its
  own learning rate (or schedule), so ``learning_rate`` is then unused and ``schedule``
  must stay "constant".
* ``activation`` accepts every glassnet activation ("relu", "tanh", "logistic", "gelu",
  ...); ``init`` any glassnet initializer (None: MLPClassifier's own scheme,
  U(+-sqrt(6 / (fan_in + fan_out))), 2 instead of 6 for a logistic network).
* A diverging run raises :class:`glassnet.DivergenceError` instead of returning NaN.

>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = GlassClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, random_state=0)
>>> clf.fit(X, y).score(X, y) > 0.95
True
"""
from __future__ import annotations

import numbers
import re
from dataclasses import replace

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, column_or_1d, validate_data

from . import activations as _act
from . import dataset as _dataset
from . import sources as _sources
from . import optimizers as _opt
from . import schedules as _sched
from . import training as _training
from .doctor import DoctorInputs, explain_divergence
from .doctor.probe import column_names
from .data import Standardizer, column_stats
from ._validation import GlassnetError, check_bool, check_choice, check_float, check_int, warn
from .callbacks import EarlyStopping, ReduceLROnPlateau
from .network import Network

__all__ = ["GlassClassifier", "GlassRegressor", "NotFittedError", "InputTypeError"]


class NotFittedError(GlassnetError, _SklearnNotFitted):
    """``predict`` (or another fitted-only method) was called before ``fit``."""


class InputTypeError(GlassnetError, TypeError):
    """Input of a type that cannot be read as numbers (also a TypeError, as scikit-learn's)."""


def _reraise(exc: Exception, name: str | None = None):
    """scikit-learn's validation error as glassnet's own, with the same message, prefixed
    with the argument at fault (``X``, ``y``, ...) when the message does not name it."""
    cls = InputTypeError if isinstance(exc, TypeError) else GlassnetError
    message = str(exc)
    if name and not re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message):
        message = f"{name}: {message}"
    raise cls(message) from None


def _culprit(X) -> str:
    """Which of X and y made a joint validation fail: X if X alone fails the same checks."""
    from sklearn.utils import check_array
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            check_array(X, dtype=(np.float64, np.float32), input_name="X")
    except (ValueError, TypeError, OverflowError):
        return "X"
    return "y"


_SCHEDULES = ("constant", "invscaling", "adaptive")
#: batch_size="auto" is min(AUTO_BATCH_SIZE, n_samples) (MLPClassifier: min(200, n_samples))
AUTO_BATCH_SIZE = 32


class _GlassMLP(BaseEstimator):
    """Shared machinery of the two estimators; see the module docstring."""

    _is_classifier = False

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, init=None,
                 optimizer="adam", learning_rate=0.001, schedule="constant", power_t=0.5,
                 momentum=0.9, nesterovs_momentum=True, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, alpha=0.0001, batch_size="auto", max_iter=200, tol=1e-4,
                 n_iter_no_change=10, early_stopping=False, validation_fraction=0.1,
                 shuffle=True, random_state=None, standardize=True, dtype="float64",
                 verbose=0, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.standardize = standardize
        self.dtype = dtype
        self.verbose = verbose
        self.warm_start = warm_start

    # --- fitted state as scikit-learn names it ------------------------------------------------

    @property
    def coefs_(self) -> list:
        """Weight matrices (fan_in, fan_out), views into ``network_``'s parameters.

        Assigning a list copies it into the network (shapes checked, layer by layer).
        """
        return list(self._fitted().weights)

    @coefs_.setter
    def coefs_(self, values) -> None:
        self._fitted().set_weights(values, None)

    @property
    def intercepts_(self) -> list:
        """Bias vectors (fan_out,), views into ``network_``'s parameters; assignable too."""
        return list(self._fitted().biases)

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        self._fitted().set_weights(None, values)

    def doctor_inputs(self, X, feature_names=None, batch_size: int = 32) -> DoctorInputs:
        """What :func:`glassnet.doctor.diagnose` needs to examine this fitted estimator: a
        copy of its network (with its class labels), X standardised as the estimator does
        it, the feature names and the optimizer it trains with."""
        names = column_names(X, feature_names, self._fitted()) or \
            getattr(self, "feature_names_in_", None)
        net, X = self._fitted().copy(), self._transform(X)
        classes = getattr(self, "classes_", None)
        if classes is not None and not getattr(self, "_multilabel", False):
            net.metadata["classes"] = np.asarray(classes).tolist()
        return DoctorInputs(net, X, names,
                            self._make_optimizer(X.shape[0], min(batch_size, X.shape[0])))

    def _fitted(self) -> Network:
        net = self.__dict__.get("network_")
        if net is None:
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call "
                                 "'fit' with appropriate arguments before using this estimator.")
        return net

    # --- the public methods ----------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for up to ``max_iter`` epochs; returns self.

        ``X`` may also be a Dask array or DataFrame (with a Dask or NumPy ``y``) or a list of
        ``(X, y)`` chunks (with ``y=None``): one pass finds the classes and the scaling, then
        training runs block by block without collecting the data (:mod:`glassnet.sources`).
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _partial_fit(self, X, y, sample_weight, classes=None):
        if self.early_stopping:
            raise GlassnetError("partial_fit does not support early_stopping=True (there is no "
                                "held-out set in a single pass).")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _check_params(self) -> dict:
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = [hidden]
        try:
            hidden = [int(check_int(f"hidden_layer_sizes[{i}]", h, minimum=1))
                      for i, h in enumerate(hidden)]
        except TypeError:
            raise GlassnetError(f"hidden_layer_sizes must be a tuple of layer widths such as "
                                f"(100,). Got {self.hidden_layer_sizes!r}.") from None
        activation = self.activation
        if not isinstance(activation, str):
            raise GlassnetError(f"The 'activation' parameter must be a name such as 'relu'. Got "
                                f"{activation!r}.")
        _act.get(activation)
        if isinstance(self.optimizer, str):
            check_choice("optimizer", self.optimizer, _opt.NAMES)
        elif not isinstance(self.optimizer, _opt.Optimizer):
            raise GlassnetError(f"The 'optimizer' parameter must be one of {sorted(_opt.NAMES)} "
                                f"or a glassnet Optimizer. Got {self.optimizer!r} instead.")
        check_choice("schedule", self.schedule, _SCHEDULES)
        if isinstance(self.optimizer, _opt.Optimizer) and self.schedule != "constant":
            raise GlassnetError(f"schedule={self.schedule!r} applies to a named optimizer; the "
                                f"Optimizer object given ({self.optimizer!r}) carries its own "
                                "learning rate. Build it with a schedule from "
                                "glassnet.schedules, or pass the optimizer's name.")
        if self.batch_size != "auto":
            check_int("batch_size", self.batch_size, minimum=1)
        for name in ("shuffle", "early_stopping", "warm_start", "standardize",
                     "nesterovs_momentum"):
            check_bool(name, getattr(self, name))
        fraction = check_float("validation_fraction", self.validation_fraction, minimum=0.0)
        if self.early_stopping and not 0.0 < fraction < 1.0:
            raise GlassnetError(f"validation_fraction must be in (0, 1). Got {fraction}.")
        return {
            "hidden": hidden,
            "alpha": check_float("alpha", self.alpha, minimum=0.0),
            "max_iter": check_int("max_iter", self.max_iter, minimum=1),
            "tol": check_float("tol", self.tol, minimum=0.0),
            "n_iter_no_change": check_int("n_iter_no_change", self.n_iter_no_change,
                                          minimum=1),
            "verbose": _training.check_verbose(self.verbose),
        }

    def _seed(self):
        rs = self.random_state
        if rs is None or isinstance(rs, np.random.Generator):
            return rs
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(np.iinfo(np.int32).max))
        return check_int("random_state", rs, minimum=0)

    def _validate(self, X, y, reset: bool):
        try:
            # scikit-learn's checks report bad values themselves; its reductions over inf
            # would only add RuntimeWarnings
            with np.errstate(over="ignore", invalid="ignore"):
                X, y = validate_data(self, X, y, multi_output=True,
                                     y_numeric=not self._is_classifier,
                                     dtype=(np.float64, np.float32), reset=reset)
        except (ValueError, TypeError, OverflowError) as exc:   # 10**400: OverflowError
            _reraise(exc, _culprit(X))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _transform(self, X) -> np.ndarray:
        """Validated X as the network sees it: standardised, in the network's dtype."""
        net = self._fitted()
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        except (ValueError, TypeError, OverflowError) as exc:
            _reraise(exc, "X")
        return self._scale(X, net.dtype)

    def _scale(self, X, dtype) -> np.ndarray:
        if self.mean_ is None:
            return np.asarray(X, dtype=dtype)
        return Standardizer(self.mean_, self.scale_).transform(X).astype(dtype, copy=False)

    def _fit_scaler(self, X, sw) -> None:
        if not self.standardize:
            self.mean_ = self.scale_ = None
            return
        # the statistics glassnet train uses: no overflow, constant only when constant
        try:
            self.mean_, self.scale_ = column_stats(X, sw)
        except GlassnetError as exc:
            raise GlassnetError(f"X: {exc} Or pass standardize=False.") from None

    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        params = self._check_params()
        if _sources.is_chunked(X, y):
            return self._fit_chunked(X, y, sample_weight, incremental, params)
        first = incremental and not hasattr(self, "network_")
        continuing = hasattr(self, "network_") and (incremental or self.warm_start)
        X, y = self._validate(X, y, reset=not continuing)
        if sample_weight is not None:
            try:
                sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                     ensure_non_negative=True)
            except (ValueError, TypeError) as exc:
                _reraise(exc, "sample_weight")
            if not sample_weight.sum() > 0:
                raise GlassnetError("sample_weight must have a positive sum (every weight is 0).")
        Y = self._encode(y, incremental, continuing, classes, first, sample_weight)
        n = X.shape[0]
        if not continuing:
            self._fit_scaler(X, sample_weight)
            self.network_ = self._build(X.shape[1], Y, params["hidden"])
            self.loss_curve_ = []
            self.t_ = 0
            self.best_loss_ = np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
        net = self.network_
        Xs = self._scale(X, net.dtype)
        batch_size = self._batch_size(n)
        if self.batch_size != "auto" and self.batch_size > n:
            warn(f"Got `batch_size` larger than the sample size ({n}); it is clipped to the "
                 "sample size.", UserWarning)

        if incremental:
            kept = net.training_state       # the optimizer state partial_fit continues
            opt = None if kept is not None and kept.optimizer is not None else \
                self._make_optimizer(n, batch_size)
            history = _training.train(net, Xs, Y, _training.partial_fit_settings(
                net, optimizer=opt, batch_size=batch_size, alpha=params["alpha"],
                shuffle=self.shuffle, sample_weight=sample_weight, verbose=params["verbose"],
                explain_divergence=explain_divergence))
        else:
            validation = None
            X_train, Y_train, sw_train = Xs, Y, sample_weight
            if self.early_stopping:
                X_train, Y_train, sw_train, validation = self._hold_out(Xs, Y, y,
                                                                        sample_weight)
            opt = self._make_optimizer(X_train.shape[0], batch_size)
            history = _training.train(net, X_train, Y_train, replace(
                _training.DEFAULTS, epochs=params["max_iter"], batch_size=batch_size,
                optimizer=opt, alpha=params["alpha"], shuffle=self.shuffle,
                sample_weight=sw_train, validation_data=validation,
                metrics=[self._score_metric] if self.early_stopping else None,
                callbacks=self._callbacks(params), verbose=params["verbose"],
                explain_divergence=explain_divergence))
            n = X_train.shape[0]
        self.history_ = history
        self.n_iter_ = len(history)
        self.t_ += n * self.n_iter_
        self.loss_curve_.extend(history.loss)
        if self.loss_curve_:
            self.loss_ = self.loss_curve_[-1]
        if self.early_stopping:
            scores = history["val_" + self._score_metric]
            self.validation_scores_.extend(scores)
            self.best_validation_score_ = max([self.best_validation_score_, *scores])
            self.best_loss_ = None
        elif history.loss:
            self.best_loss_ = min(self.best_loss_, min(history.loss))
        if not incremental and not history.stopped_early and not history.interrupted and \
                self.n_iter_ == params["max_iter"]:
            warn(f"Stochastic Optimizer: Maximum iterations ({params['max_iter']}) reached and "
                 "the optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _fit_chunked(self, data, y, sample_weight, incremental: bool, params: dict):
        """fit on block-wise data (Dask, chunks): one pass for the classes and the scaling
        statistics, then training block by block (see :mod:`glassnet.sources`)."""
        if incremental or self.warm_start or self.early_stopping or sample_weight is not None:
            raise GlassnetError("with chunked data (a Dask array or chunks) fit trains from "
                                "scratch: early_stopping, warm_start, partial_fit and "
                                "sample_weight need in-memory arrays.")
        source = _sources.as_chunked(data, y)
        moments, labels, n_features = _dataset.Moments(), [], None
        for i, (x, yb, _) in source.blocks():
            x = np.asarray(x, dtype=np.float64)
            if x.ndim != 2 or not np.all(np.isfinite(x)):
                raise GlassnetError(f"block {i} of X must be a 2-D array of finite numbers; "
                                    f"got shape {x.shape}.")
            n_features = x.shape[1] if n_features is None else n_features
            if self.standardize:
                moments.add(x)
            if self._is_classifier:
                labels.append(np.unique(np.asarray(yb).reshape(-1)))
        self.n_features_in_ = n_features
        self.mean_ = self.scale_ = None
        if self.standardize:
            mean, scale = moments.result()
            scale[~(scale > 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0))] = 1.0
            self.mean_, self.scale_ = mean, scale
        if self._is_classifier:
            self.classes_ = np.unique(np.concatenate(labels))
            self._multilabel = False
            if len(self.classes_) < 2:
                raise GlassnetError(f"y has only one class ({self.classes_.tolist()}); a "
                                    "classifier needs at least two classes to learn from.")
            encode = self._chunk_labels
            Y_shape = np.zeros((1, 1)) if len(self.classes_) == 2 else np.zeros(1)
        else:
            def encode(yb):
                return self._encode(yb, False, False, None, False, None)
            _, first = next(source.blocks([0] if source.random_access else None))
            Y_shape = encode(first[1])
        self.network_ = net = self._build(n_features, Y_shape, params["hidden"])
        source.with_transform(lambda x, yb, w: (self._scale(np.asarray(x, dtype=np.float64),
                                                            net.dtype), encode(yb), w))
        batch_size = self._batch_size(source.n)
        self.loss_curve_, self.t_, self.best_loss_ = [], 0, np.inf
        self.validation_scores_ = self.best_validation_score_ = None
        history = _training.fit(
            net, source, None, epochs=params["max_iter"], batch_size=batch_size,
            optimizer=self._make_optimizer(source.n, batch_size), alpha=params["alpha"],
            shuffle=self.shuffle, callbacks=self._callbacks(params),
            verbose=params["verbose"], checkpoint=None)
        self.history_ = history
        self.n_iter_ = len(history)
        self.t_ = source.n * self.n_iter_
        self.loss_curve_.extend(history.loss)
        if self.loss_curve_:
            self.loss_ = self.loss_curve_[-1]
            self.best_loss_ = min(self.loss_curve_)
        return self

    def _batch_size(self, n: int) -> int:
        return min(AUTO_BATCH_SIZE if self.batch_size == "auto" else self.batch_size, n)

    def _build(self, n_features: int, Y: np.ndarray, hidden: list) -> Network:
        output, loss = self._output()
        n_out = len(self.classes_) if Y.ndim == 1 else Y.shape[1]   # labels -> one per class
        # MLPClassifier's init by default: U(+-sqrt(f / (fan_in + fan_out))) for every layer,
        # f = 2 for a logistic hidden activation, else 6
        init = ("sklearn", {"activation": self.activation}) if self.init is None else self.init
        return Network([n_features, *hidden, n_out], activation=self.activation, output=output,
                       loss=loss, init=init, seed=self._seed(), dtype=self.dtype)

    def _make_optimizer(self, n_train: int, batch_size: int):
        lr = self.learning_rate
        if self.schedule == "invscaling":
            lr = _sched.inverse_scaling(lr, self.power_t,
                                        steps_per_epoch=-(-n_train // batch_size),
                                        samples_per_epoch=n_train)
        if isinstance(self.optimizer, _opt.Optimizer):
            return self.optimizer
        if self.optimizer == "sgd":
            return _opt.sgd(lr, momentum=self.momentum,
                            nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        if self.optimizer == "adam":
            return _opt.adam(lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon,
                             eps_mode="sklearn")
        return _opt.get(self.optimizer, lr)

    def _callbacks(self, params) -> list:
        patience = params["n_iter_no_change"] + 1   # scikit-learn stops when count > n_iter
        monitor = "val_" + self._score_metric if self.early_stopping else "loss"
        if self.schedule == "adaptive":
            cbs = [ReduceLROnPlateau(monitor, factor=0.2, patience=patience,
                                     min_delta=params["tol"], min_lr=1e-6,
                                     stop_at_min_lr=True)]
            if self.early_stopping:  # only to keep the best weights, as scikit-learn does
                cbs.append(EarlyStopping(monitor, patience=params["max_iter"] + 1,
                                         min_delta=params["tol"], restore_best=True))
            return cbs
        return [EarlyStopping(monitor, patience=patience, min_delta=params["tol"],
                              restore_best=self.early_stopping)]

    def _hold_out(self, Xs, Y, y, sw):
        from sklearn.model_selection import train_test_split
        stratify = y if self._is_classifier and np.ndim(y) == 1 else None
        rows = np.arange(Xs.shape[0])
        seed = self._seed()
        try:
            train, val = train_test_split(rows, test_size=self.validation_fraction,
                                          random_state=seed if not isinstance(
                                              seed, np.random.Generator) else
                                          int(seed.integers(2 ** 31)), stratify=stratify)
        except ValueError:
            train, val = train_test_split(rows, test_size=self.validation_fraction,
                                          random_state=None if seed is None else 0)
        if val.size < 2:
            raise GlassnetError("The validation set is too small. Increase "
                                "'validation_fraction' or the size of your dataset.")
        train, val = np.sort(train), np.sort(val)
        sw_train = None if sw is None else sw[train]
        validation = (Xs[val], Y[val]) if sw is None else (Xs[val], Y[val], sw[val])
        return Xs[train], Y[train], sw_train, validation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class GlassClassifier(ClassifierMixin, _GlassMLP):
    """A multilayer-perceptron classifier trained by glassnet, as MLPClassifier.

    Binary problems get one sigmoid output, multiclass a softmax, multilabel (a 0/1
    indicator matrix y) one sigmoid per label.  Labels may be of any type (strings, ...);
    ``classes_`` holds them sorted.  See the module docstring for the parameters.

    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_, n_features_in_, feature_names_in_, n_layers_,
    n_outputs_, out_activation_, mean_, scale_ (the input standardisation), network_ (the
    glassnet Network), history_ (the last run's glassnet History).
    """

    _is_classifier = True
    _score_metric = "accuracy"

    def _output(self):
        if self._multilabel or len(self.classes_) == 2:
            return "sigmoid", "binary_cross_entropy"
        return "softmax", "cross_entropy"

    def _chunk_labels(self, y):
        """A block's labels as the network's targets (classes_ is known)."""
        y = np.asarray(y).reshape(-1)
        index = np.searchsorted(self.classes_, y)
        bad = (index >= len(self.classes_)) | \
            (self.classes_[np.minimum(index, len(self.classes_) - 1)] != y)
        if bad.any():
            raise GlassnetError(f"y holds labels {np.unique(y[bad])[:5].tolist()} not seen in "
                                "the first pass over the data (did it change?).")
        return index.astype(np.float64).reshape(-1, 1) if len(self.classes_) == 2 else index

    def _encode(self, y, incremental, continuing, classes, first, sw):
        try:
            with np.errstate(over="ignore", invalid="ignore"):   # labels such as 1e308
                check_classification_targets(y)
                kind = type_of_target(y)
        except ValueError as exc:
            _reraise(exc, "y")
        except TypeError as exc:   # np.unique on a mix such as ["cat", 0.0]
            raise InputTypeError(f"y holds class labels of types that cannot be compared "
                                 f"({exc}); give every label the same type, e.g. all strings "
                                 "or all integers.") from None
        if kind == "multilabel-indicator":
            labels = np.arange(y.shape[1])
            if continuing and not (self._multilabel and len(self.classes_) == len(labels)):
                raise GlassnetError("y has a different label layout than in the previous fit.")
            self._multilabel = True
            self.classes_ = labels
            return np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise GlassnetError(f"y must be a 1-D array of class labels or a 0/1 label "
                                f"indicator matrix; got a {kind} target of shape {y.shape}.")
        seen = np.unique(y)
        if first:
            if classes is None:
                raise GlassnetError("classes must be passed on the first call to partial_fit "
                                    "(every class the stream will contain).")
            self.classes_ = np.unique(np.asarray(classes))
            self._multilabel = False
        elif incremental and classes is not None and \
                not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise GlassnetError(f"classes={classes!r} is not the same as on the first call to "
                                f"partial_fit ({self.classes_!r}).")
        if continuing or first:
            missing = np.setdiff1d(seen, self.classes_)
            if missing.size:
                raise GlassnetError(f"y has classes {missing.tolist()} that are not in "
                                    f"classes_ {self.classes_.tolist()}.")
            if self.warm_start and not incremental and \
                    not np.array_equal(seen, self.classes_):
                raise GlassnetError("warm_start can only be used where `y` has the same classes "
                                    f"as in the previous call to fit. Previously got "
                                    f"{self.classes_}, `y` has {seen}")
        else:
            self.classes_ = seen
            self._multilabel = False
        if len(self.classes_) < 2:
            raise GlassnetError(f"y has only one class ({self.classes_.tolist()}); a classifier "
                                "needs at least two classes to learn from.")
        index = np.searchsorted(self.classes_, y)
        if sw is not None and not (first or continuing):
            weighted = np.unique(index[sw > 0])
            if weighted.size < 2:
                raise GlassnetError("sample_weight gives positive weight to only one class ("
                                    f"{self.classes_[weighted].tolist()}); a classifier needs "
                                    "at least two classes to learn from.")
        if len(self.classes_) == 2:
            return index.astype(np.float64).reshape(-1, 1)
        return index

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        super()._fit(X, y, sample_weight, incremental, classes)
        net = self.network_
        self.n_layers_ = len(net.layer_sizes)
        self.n_outputs_ = net.layer_sizes[-1]
        self.out_activation_ = "logistic" if net.output.name == "sigmoid" else net.output.name
        return self

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        ``classes`` (every label the stream will contain) is required on the first call.
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes); per-label for multilabel targets."""
        net = self._fitted()
        out = net.forward(self._transform(X))
        if out.shape[1] == 1 and not self._multilabel:
            return np.hstack([1.0 - out, out])
        return out

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted labels (from ``classes_``); a 0/1 matrix for multilabel targets."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class GlassRegressor(RegressorMixin, _GlassMLP):
    """A multilayer-perceptron regressor trained by glassnet, as MLPRegressor.

    Identity output and squared error (``loss_curve_`` holds half the mean squared error, as
    scikit-learn's).  ``y`` may have several columns.  Inputs are standardised by default;
    targets are used as given.  See the module docstring for the parameters.
    """

    _score_metric = "r2"

    def _output(self):
        return "identity", "squared_error"

    def _encode(self, y, incremental, continuing, classes, first, sw):
        try:
            Y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise GlassnetError(f"y must hold numbers for a regressor; got values such as "
                                f"{np.ravel(y)[0]!r} (dtype {np.asarray(y).dtype}). Use "
                                "GlassClassifier for class labels.") from None
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        if continuing and Y.shape[1] != self.network_.layer_sizes[-1]:
            raise GlassnetError(f"y has {Y.shape[1]} columns; the fitted network has "
                                f"{self.network_.layer_sizes[-1]} outputs.")
        return Y

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        super()._fit(X, y, sample_weight, incremental)
        net = self.network_
        self.n_layers_ = len(net.layer_sizes)
        self.n_outputs_ = net.layer_sizes[-1]
        self.out_activation_ = "identity"
        return self

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predicted values: (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._fitted().forward(self._transform(X))
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
