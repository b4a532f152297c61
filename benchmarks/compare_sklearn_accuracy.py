"""Default GlassClassifier vs default MLPClassifier: 5-fold cross-validated accuracy.

Both estimators run with their default settings (one hidden layer of 100 ReLU units, Adam
at 1e-3, alpha 1e-4, up to 200 epochs).  Two defaults differ: glassnet's
``standardize=True`` (inputs standardised inside the estimator) and the batch, min(32, n)
for GlassClassifier (``glassnet.sklearn.AUTO_BATCH_SIZE``) against min(200, n) for
MLPClassifier; the printed note reads both from the estimators.  The folds are
scikit-learn's StratifiedKFold(5, shuffle=True, random_state=0), the same for both, and
both are seeded (random_state=0).  BLAS runs on one thread for both (threadpoolctl): the
matrices are small, and a shared machine's threads only fight.  Prints a markdown table.

    python benchmarks/compare_sklearn_accuracy.py
"""
from __future__ import annotations

import time
import warnings


def compare(datasets=("digits", "iris", "wine", "breast_cancer"), n_splits: int = 5,
            seed: int = 0) -> list[dict]:
    from sklearn import datasets as skd
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    from glassnet.sklearn import GlassClassifier

    rows = []
    for name in datasets:
        X, y = getattr(skd, f"load_{name}")(return_X_y=True)
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        row = {"dataset": name, "n_samples": X.shape[0], "n_features": X.shape[1],
               "n_classes": len(set(y))}
        for label, est in (("glassnet", GlassClassifier(random_state=seed)),
                           ("sklearn", MLPClassifier(random_state=seed))):
            start = time.perf_counter()
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore", ConvergenceWarning)
                scores = cross_val_score(est, X, y, cv=folds, n_jobs=1)
            row[label] = float(scores.mean())
            row[label + "_std"] = float(scores.std())
            row[label + "_seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows


def defaults_note() -> str:
    """What the table compares, with the batch sizes read from the two estimators."""
    from sklearn.neural_network import MLPClassifier

    from glassnet.sklearn import AUTO_BATCH_SIZE, GlassClassifier
    glass = GlassClassifier()
    mlp_batch = 200       # MLPClassifier's batch_size="auto" is min(200, n_samples)
    assert MLPClassifier().batch_size == "auto" and glass.batch_size == "auto"
    return ("5-fold stratified CV mean accuracy (+- std over folds), both estimators at their "
            f"defaults (batches of min({AUTO_BATCH_SIZE}, n) for GlassClassifier, "
            f"min({mlp_batch}, n) for MLPClassifier; GlassClassifier standardizes its inputs: "
            f"standardize={glass.standardize}), random_state=0, one BLAS thread.")


def markdown(rows) -> str:
    lines = ["| dataset | samples x features | classes | GlassClassifier | MLPClassifier | "
             "difference |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['n_samples']} x {r['n_features']} | "
                     f"{r['n_classes']} | {r['glassnet']:.4f} +- {r['glassnet_std']:.4f} | "
                     f"{r['sklearn']:.4f} +- {r['sklearn_std']:.4f} | "
                     f"{r['glassnet'] - r['sklearn']:+.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    results = compare()
    print(markdown(results))
    print()
    print(defaults_note())
    total = {k: sum(r[k + "_seconds"] for r in results) for k in ("glassnet", "sklearn")}
    print(f"Total time: glassnet {total['glassnet']:.1f}s, scikit-learn {total['sklearn']:.1f}s.")
