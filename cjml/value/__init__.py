"""What each customer is worth: expected value over the horizon, its baselines and metrics.

- :class:`ValueModel` (``_model.py``): expected spend (or margin) over the
  bundle's horizon if the customer stays, from the featurizer's columns; with
  the churn risk it gives the expected value, its interval and the value at risk.
- :func:`value_targets` (``_targets.py``): the spend labels, point-in-time
  correct, on the same population as :func:`cjml.make_labels`.
- :class:`BetaGeoGammaGamma`, :func:`rfm_summary`, :func:`spend_rate_forecast`
  (``_btyd.py``): the buy-till-you-die baseline (BG/NBD x Gamma-Gamma, fitted
  with scipy) and the spend-per-week heuristic.
- :func:`value_metrics`, :func:`value_report` (``_metrics.py``): normalised
  Gini, top-10/20% capture, predicted/actual revenue and Spearman, and the
  evaluation report's value section.
"""

from importlib import import_module
from typing import TYPE_CHECKING

_LAZY = {
    "ValueModel": "cjml.value._model",
    "value_targets": "cjml.value._targets",
    "BetaGeoGammaGamma": "cjml.value._btyd",
    "rfm_summary": "cjml.value._btyd",
    "spend_rate_forecast": "cjml.value._btyd",
    "value_metrics": "cjml.value._metrics",
    "value_report": "cjml.value._metrics",
}


def __getattr__(name: str):
    # Lazy (PEP 562): the scipy fitters are not loaded by scoring, which needs the model only.
    if name not in _LAZY:
        raise AttributeError(f"module 'cjml.value' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from cjml.value._btyd import BetaGeoGammaGamma, rfm_summary, spend_rate_forecast
    from cjml.value._metrics import value_metrics, value_report
    from cjml.value._model import ValueModel
    from cjml.value._targets import value_targets

__all__ = [
    "BetaGeoGammaGamma",
    "ValueModel",
    "rfm_summary",
    "spend_rate_forecast",
    "value_metrics",
    "value_report",
    "value_targets",
]
