"""cjml: customer-journey machine learning.

Turn touchpoint histories into per-customer features, predict each customer's
next journey stage and drop-off risk, and recommend the touchpoint most likely
to keep them.

The public surface:

- :class:`EventLog`, :func:`read_events`: the validated, canonical event log.
- :class:`JourneyMap`, :class:`Touchpoint`: stages and the touchpoint catalogue.
- :class:`JourneyFeaturizer` and :mod:`cjml.features`: per-customer features at a cutoff.
- :func:`make_labels`, :func:`make_training_set`, :func:`rolling_cutoffs`: point-in-time
  churn and next-stage labels, stacked over rolling cutoffs.
- :class:`ValueModel`: expected spend over the horizon if the customer stays, for the
  expected value, its interval and the value at risk.
- :class:`ChurnModel`, :class:`NextStageModel`: calibrated LightGBM models;
  :func:`train` fits both from a log, :func:`evaluate` compares them with
  baselines on a held-out later cutoff (:class:`EvaluationReport`).
- :func:`explain`, :func:`top_drivers_text`: each customer's top drivers of a
  prediction, from LightGBM's contributions, grouped by feature family, in words.
- :func:`journey_map`: the data-driven journey map per stage (funnel, drop-off, time in
  stage, touchpoints, satisfaction, NPS, missing touchpoints), with HTML, CSV and plots
  (:class:`JourneyMapReport`).
- :class:`TouchpointRecommender`, :class:`RecommendationRules`: the touchpoints most
  likely to prevent each customer's drop-off, under business rules.
- :class:`ModelBundle`: featurizer, models and metadata, saved and loaded with integrity checks.
- :func:`score`: batch scoring of every customer (risk, band, next stage, drivers,
  recommended touchpoint) in bounded memory, resumable, locally or on Dask.
- :func:`export_campaign`, :func:`measure_campaign` (:mod:`cjml.campaign`): a seeded,
  stratified control group in every exported list, recorded in a campaign manifest
  (:class:`Campaign`); after the horizon, the realised uplift against the control group
  beside the predicted one (:class:`UpliftReport`).
- :func:`panel` (:mod:`cjml.panel`): the marketer's ipywidgets panel (overview,
  at-risk list, customer view with what-if, approvals and a spreadsheet-safe export).
- :mod:`cjml.datasets`: the journey simulator with ground truth, and the sample.
- :mod:`cjml.exceptions`: the errors cjml raises.
"""

from importlib import import_module
from typing import TYPE_CHECKING

# Names are imported on first use (PEP 562): ``import cjml`` stays light, so the
# command line and Dask workers do not pay for scikit-learn, LightGBM and
# matplotlib until they need them (nor for importlib.metadata's version lookup).
_LAZY = {
    "__version__": "cjml._version",
    "JourneyMapReport": "cjml.analytics",
    "journey_map": "cjml.analytics",
    "BundleError": "cjml.bundle",
    "Campaign": "cjml.campaign",
    "UpliftReport": "cjml.campaign",
    "export_campaign": "cjml.campaign",
    "measure_campaign": "cjml.campaign",
    "ModelBundle": "cjml.bundle",
    "EvaluationReport": "cjml.evaluation",
    "evaluate": "cjml.training",
    "EventLog": "cjml.events",
    "EventLogSummary": "cjml.events",
    "read_events": "cjml.events",
    "explain": "cjml.explanations",
    "top_drivers_text": "cjml.explanations",
    "CampaignError": "cjml.exceptions",
    "CjmlError": "cjml.exceptions",
    "ClusterError": "cjml.exceptions",
    "InputFileError": "cjml.exceptions",
    "JourneyMapError": "cjml.exceptions",
    "NoSupportTicketsError": "cjml.exceptions",
    "SchemaError": "cjml.exceptions",
    "JourneyFeaturizer": "cjml.features",
    "JourneyMap": "cjml.journey",
    "draft_journey_map": "cjml._map_draft",
    "Touchpoint": "cjml.journey",
    "make_labels": "cjml.labels",
    "make_training_set": "cjml.labels",
    "rolling_cutoffs": "cjml.labels",
    "ChurnModel": "cjml.models",
    "NextStageModel": "cjml.models",
    "RecommendationRules": "cjml.recommend",
    "TouchpointRecommender": "cjml.recommend",
    "ScoreSummary": "cjml.scoring",
    "score": "cjml.scoring",
    "train": "cjml.training",
    "ValueModel": "cjml.value",
    "JourneyCanvas": "cjml.canvas",
    "PersonaComparison": "cjml.canvas",
    "SupportJourneyReport": "cjml.support",
    "support_journey": "cjml.support",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name == "panel":  # a callable module: cjml.panel(bundle, events)
        value = import_module("cjml.panel")
    else:  # a submodule such as cjml.scoring or cjml.datasets
        try:
            value = import_module(f"cjml.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"cjml.{name}":
                raise
            raise AttributeError(f"module 'cjml' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs: the names as if imported eagerly
    from cjml import panel
    from cjml._version import __version__
    from cjml.analytics import JourneyMapReport, journey_map
    from cjml.bundle import BundleError, ModelBundle
    from cjml.campaign import Campaign, UpliftReport, export_campaign, measure_campaign
    from cjml.canvas import JourneyCanvas, PersonaComparison
    from cjml.evaluation import EvaluationReport
    from cjml.events import EventLog, EventLogSummary, read_events
    from cjml.exceptions import (
        CampaignError,
        CjmlError,
        ClusterError,
        InputFileError,
        JourneyMapError,
        SchemaError,
    )
    from cjml.explanations import explain, top_drivers_text
    from cjml.features import JourneyFeaturizer
    from cjml.journey import JourneyMap, Touchpoint
    from cjml.labels import make_labels, make_training_set, rolling_cutoffs
    from cjml.models import ChurnModel, NextStageModel
    from cjml.recommend import RecommendationRules, TouchpointRecommender
    from cjml.scoring import ScoreSummary, score
    from cjml.support import SupportJourneyReport, support_journey
    from cjml.training import evaluate, train
    from cjml.value import ValueModel


__all__ = [
    "BundleError",
    "Campaign",
    "CampaignError",
    "ChurnModel",
    "CjmlError",
    "ClusterError",
    "EvaluationReport",
    "EventLog",
    "EventLogSummary",
    "InputFileError",
    "JourneyCanvas",
    "JourneyFeaturizer",
    "JourneyMap",
    "JourneyMapError",
    "JourneyMapReport",
    "ModelBundle",
    "NextStageModel",
    "NoSupportTicketsError",
    "PersonaComparison",
    "RecommendationRules",
    "SchemaError",
    "ScoreSummary",
    "SupportJourneyReport",
    "Touchpoint",
    "TouchpointRecommender",
    "UpliftReport",
    "ValueModel",
    "__version__",
    "draft_journey_map",
    "evaluate",
    "explain",
    "export_campaign",
    "journey_map",
    "make_labels",
    "make_training_set",
    "measure_campaign",
    "panel",
    "read_events",
    "rolling_cutoffs",
    "score",
    "support_journey",
    "top_drivers_text",
    "train",
]
