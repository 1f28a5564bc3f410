"""Campaigns with a control group, and what they really did.

Every list that leaves cjml can carry a random control group:
:func:`export_campaign` holds out a seeded share of the customers with a
recommended touchpoint, stratified by touchpoint and risk band, and records
the campaign in a manifest beside the export (written once, never
overwritten). After the campaign's horizon, :func:`measure_campaign` reads
the later events and reports the realised drop-off of the treated against
the control group, with intervals, beside what the recommender predicted
(:class:`UpliftReport`). :func:`worth_testing` draws, per customer, one of
the touchpoints the models are unsure about: an exploration campaign, which
teaches the recommender more than a campaign of its own first choices.
"""

from cjml._intervals import newcombe_interval
from cjml.campaign._explore import worth_testing
from cjml.campaign._export import ARMS, RISK_BANDS, assign_arms, export_campaign, parse_share
from cjml.campaign._record import (
    Campaign,
    assignments_path,
    file_sha256,
    manifest_path,
    read_campaign,
)
from cjml.campaign._uplift import UpliftReport, measure_campaign
from cjml.exceptions import CampaignError

__all__ = [
    "ARMS",
    "RISK_BANDS",
    "Campaign",
    "CampaignError",
    "UpliftReport",
    "assign_arms",
    "assignments_path",
    "export_campaign",
    "file_sha256",
    "manifest_path",
    "measure_campaign",
    "newcombe_interval",
    "parse_share",
    "read_campaign",
    "worth_testing",
]
