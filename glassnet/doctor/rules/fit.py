"""The fit: ``overfitting``, from the per-epoch training and validation losses of a real
run (the Monitor's, or the history a model file stores)."""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from .base import Recording, g
from .thresholds import OVERFIT_EPOCHS, OVERFIT_RISE, pct


def overfitting(rec: Recording, found: tuple) -> list:
    """The validation loss rose well above its best while the training loss kept falling,
    and the network holds the weights of an epoch after the best one."""
    history = rec.epochs or {}
    train, val = list(history.get("loss") or []), list(history.get("val_loss") or [])
    n = len(val)
    if n != len(train) or n < OVERFIT_EPOCHS + 1:
        return []
    if not all(math.isfinite(x) for x in train + val):
        return []
    best = int(np.argmin(val))
    kept = history.get("kept_epoch")
    kept = n - 1 if kept is None else int(kept)
    if not 0 <= kept < n or kept - best < OVERFIT_EPOCHS:
        return []
    rise = (val[kept] - val[best]) / val[best] if val[best] > 0 else math.inf
    if not (rise > OVERFIT_RISE and train[kept] < train[best]):
        return []
    gap = val[kept] - train[kept]
    return [Finding(
        "overfitting", "warning", [],
        f"The network overfits: the validation loss was lowest at epoch {best + 1} "
        f"({g(val[best])}) and rose by {pct(rise)} to {g(val[kept])} by epoch {kept + 1}, "
        f"while the training loss kept falling ({g(train[best])} -> {g(train[kept])}). "
        f"The gap between them is now {g(gap)}: after epoch {best + 1} the network learned "
        "the training rows' noise rather than what carries over to new data.",
        "Stop at the best epoch: fit(..., early_stopping=True, restore_best=True) with "
        "validation data (`glassnet train --patience N`); add an L2 penalty "
        "(fit(..., alpha=1e-3) or more); or use fewer hidden units.",
        {"best_epoch": best + 1, "kept_epoch": kept + 1, "epochs": n,
         "best_val_loss": val[best], "val_loss": val[kept], "train_loss_at_best": train[best],
         "train_loss": train[kept], "gap": gap, "val_rise": rise},
        brief=f"validation loss up {pct(rise)} since epoch {best + 1} while training loss "
              "falls")]
