"""Metrics: accuracy, log loss, mean squared error, R^2."""
from __future__ import annotations

import numpy as np


def accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def mean_squared_error(y_true, y_pred) -> float:
    d = np.asarray(y_true, float) - np.asarray(y_pred, float)
    return float(np.mean(d * d))


def r2(y_true, y_pred) -> float:
    y_true = np.asarray(y_true, float)
    ss_res = np.sum((y_true - np.asarray(y_pred, float)) ** 2)
    ss_tot = np.sum((y_true - y_true.mean(axis=0)) ** 2)
    return float(1 - ss_res / ss_tot) if ss_tot > 0 else 0.0


def evaluate(net, X, y, sample_weight=None) -> dict:
    """The loss, plus accuracy (classifiers) or MSE and R^2 (regressors)."""
    X, Y, sw = net._check_pair(X, y, sample_weight)
    out = {"loss": net.loss_value(X, Y, sample_weight=sw)}
    if net.is_classifier:
        pred = net.predict(X)
        truth = Y.argmax(axis=1) if Y.shape[1] > 1 and net.loss.name == "cross_entropy" else \
            (Y > 0.5).astype(np.int64).reshape(pred.shape)
        out["accuracy"] = accuracy(truth, pred)
    else:
        pred = net.forward(X)
        out["mse"] = mean_squared_error(Y, pred)
        out["r2"] = r2(Y, pred)
    return out
