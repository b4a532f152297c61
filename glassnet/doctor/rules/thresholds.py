"""Every number the doctor's rules judge by, named once.

Messages are built from these constants (``pct(SATURATION_SLOPE)`` says "10%"), so the
text and the test can never drift apart.
"""
from __future__ import annotations

import math

from ..stats import INACTIVE_ROWS, SATURATED_ROWS, SATURATION_SLOPE  # noqa: F401 (re-exported)

# --- layers that do not learn -----------------------------------------------------------------

#: a layer "never moved" when its weights changed by at most this, relative to their norm
#: (for all-zero weights: not at all)
STUCK_RTOL = 1e-12
#: inactive (dead or nearly dead) units: a warning from this fraction of a layer, an error
#: from the second (the layer then passes almost no gradient)
DEAD_WARN, DEAD_ERROR = 0.5, 0.9
#: dead from the start because of the biases: their mean is below minus this fraction of
#: the spread of the pre-activations
BIAS_SPREAD = 0.5
#: saturated units: a warning from this fraction of a layer, an error from the second
SATURATED_WARN, SATURATED_ERROR = 0.3, 0.9
#: a layer's weights are too large for its fan-in when RMS(W) x sqrt(fan_in) exceeds this
#: (xavier gives about 1, he about 1.4)
LARGE_GAIN = 2.5
#: a layer's weights are "tiny" when RMS(W) x sqrt(fan_in) is below this: a step's size
#: relative to them says nothing about the learning rate (zero or near-zero weights)
TINY_GAIN = 1e-3

# --- the signal through the layers ------------------------------------------------------------

#: vanishing signal: the last hidden layer's signal std (or the first's back-propagated
#: error, going down) below this fraction of the first's, shrinking on average by a factor
#: below the second per layer (the error level: below the third fraction)
VANISH_TOTAL, VANISH_FACTOR, VANISH_ERROR = 0.02, 0.8, 1e-3
#: exploding signal: the same, growing
EXPLODE_TOTAL, EXPLODE_FACTOR, EXPLODE_ERROR = 50.0, 1.25, 1e4
#: the gain RMS(W) * sqrt(fan_in) that keeps a layer's signal the same size
NEEDED_GAIN = {"relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0), "elu": math.sqrt(2.0),
               "gelu": math.sqrt(2.0), "silu": math.sqrt(2.0), "softplus": math.sqrt(2.0),
               "tanh": 1.0, "sigmoid": 4.0, "identity": 1.0, "selu": 1.0}
#: the init that keeps each activation's signal the same size (xavier_uniform otherwise)
SUGGESTED_INIT = {"relu": "he_normal", "leaky_relu": "he_normal", "elu": "he_normal",
                  "gelu": "he_normal", "silu": "he_normal", "softplus": "he_normal",
                  "selu": "lecun_normal"}

# --- the data ---------------------------------------------------------------------------------

#: a feature (or a regression target) is unscaled when sqrt(mean^2 + std^2) exceeds this
#: (standardized data: about 1)
UNSCALED = 5.0
#: unscaled targets are the cause only while the network's outputs are far from them: the
#: outputs' mean is more than one target std away from the targets' mean, or the outputs'
#: std is below this fraction of the targets' (a network trained on them has neither)
OUTPUT_SCALE_MIN = 0.1
#: labels as targets: an identity output trained on at most this many distinct integer
#: values (and at least 2), each seen on average at least the second number of times
LABEL_VALUES, LABEL_REPEATS = 20, 5
#: a classifier's start loss is off when it exceeds the uninformed loss u by more than
#: max(this, u): ln 10 = 2.30 allows up to 4.8, ln 2 up to 3.19
LOSS_MARGIN = 2.5
#: a regressor's start loss is off beyond this many times the loss of predicting the mean
#: (and by more than the second, in the loss's units), when the cause is visible: targets
#: whose size exceeds UNSCALED, or outputs whose std exceeds the third constant times the
#: targets' size (at least 1).  A fan-scaled init gives outputs of std about 1, and on
#: standardized targets that alone can score 4x the mean's loss: no cause, no finding.
REGRESSION_LOSS_RATIO, REGRESSION_LOSS_MARGIN, OUTPUT_SPREAD = 4.0, 1.0, 3.0

# --- the steps --------------------------------------------------------------------------------

#: learning rate too high: the probe loss ends above this multiple of its start, or peaks
#: above the second; the step named is the first whose batch loss exceeds the third
RISE_END, RISE_PEAK, RISE_STEP = 1.5, 3.0, 2.0
#: per-step update/weight ratio above which steps are too large to be stable ...
HIGH_RATIO = 0.1
#: ... a healthy step's ratio, for messages ...
HEALTHY_RATIO = 1e-3
#: ... and huge steps "do not help" while the loss ends above this fraction of its start
NO_PROGRESS = 0.95
#: learning rate too low: the largest layer's typical step is below this fraction of its
#: weights, while the loss improved by less than the second (a fraction of its start)
LOW_RATIO, LOW_PROGRESS = 1e-4, 0.01
#: the factor a fix suggests for a learning rate that is too high
LR_CUT = 10.0

# --- the fit: training against validation loss ------------------------------------------------

#: overfitting: the validation loss at the kept epoch is above its best by more than this
#: fraction, at least the second number of epochs after the best one, while the training
#: loss at the kept epoch is below its value at the best epoch
OVERFIT_RISE, OVERFIT_EPOCHS = 0.1, 3


def pct(fraction: float) -> str:
    """A fraction as a percentage for a sentence: 0.1 -> "10%"."""
    return f"{100 * fraction:.3g}%"
