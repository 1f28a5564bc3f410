"""Feature builders: event logs to one vector per customer, point-in-time correct.

:class:`JourneyFeaturizer` combines the families below; each family is also a
small scikit-learn transformer of its own (``fit(log)``, ``transform(log,
cutoff)``). All of them see only the events at or before each row's cutoff:
one internal selection of those events serves one cutoff, several, or one per
customer.
"""

from cjml.features._activity import ActivityFeatures
from cjml.features._attributes import AttributeFeatures
from cjml.features._base import FeatureFamily
from cjml.features._btyd import BtydFeatures
from cjml.features._experience import ExperienceFeatures
from cjml.features._featurizer import DEFAULT_FAMILIES, FAMILIES, JourneyFeaturizer
from cjml.features._memory import MemoryFeatures
from cjml.features._sequences import SequenceFeatures
from cjml.features._stages import StageFeatures
from cjml.features._support import SupportFeatures
from cjml.features._touchpoints import TouchpointFeatures
from cjml.features._value import ValueFeatures

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "ActivityFeatures",
    "AttributeFeatures",
    "BtydFeatures",
    "ExperienceFeatures",
    "FeatureFamily",
    "JourneyFeaturizer",
    "MemoryFeatures",
    "SequenceFeatures",
    "StageFeatures",
    "SupportFeatures",
    "TouchpointFeatures",
    "ValueFeatures",
]
