"""The training doctor: why a network is not learning, the cause and the fix.

* :func:`diagnose` inspects a network as it is and during a short probe run on a copy;
* :class:`Monitor` is a ``fit`` callback that records every epoch of a real run;

both return a :class:`Report` of :class:`Finding` objects whose codes come from a fixed
vocabulary (:data:`CODES`).  Layers are numbered from 1 as the user sees them: layer ``k``
is ``net.weights[k - 1]`` and the units it feeds, the last layer is the output layer.
See ``docs/doctor.md``.
"""
from .monitor import Monitor
from .probe import DoctorInputs, diagnose, explain_divergence
from .report import CODES, SEVERITIES, Finding, Report
from .stats import LayerStats, Snapshot, distinct_units, measure

__all__ = ["diagnose", "explain_divergence", "DoctorInputs", "Monitor", "Report", "Finding", "CODES", "SEVERITIES", "LayerStats",
           "Snapshot", "measure", "distinct_units"]
