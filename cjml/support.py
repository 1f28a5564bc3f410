"""The support journey: from ticket opened to resolved, and what happened after."""

from __future__ import annotations

__all__ = ["SupportJourneyReport", "support_journey"]


class SupportJourneyReport:
    """The support journey map made by :func:`support_journey` (being built, issue 20)."""


def support_journey(log, bundle=None, **options) -> SupportJourneyReport:
    """The support journey map (being built, issue 20).

    Parameters
    ----------
    log : EventLog, DataFrame or path
        The events.
    bundle : ModelBundle, optional
        A trained bundle (its journey map, horizon and churn scores).
    **options
        See the finished function.

    Returns
    -------
    SupportJourneyReport
        The support journey.
    """
    raise NotImplementedError("support_journey: being built (issue 20)")
