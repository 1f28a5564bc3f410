"""Exceptions raised by cjml.

Every error subclasses :class:`CjmlError` and a matching built-in exception, so
``except ValueError`` still catches a :class:`SchemaError`. Warnings subclass
:class:`UserWarning`, so a filter on that category still applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CampaignError",
    "CjmlError",
    "ClusterError",
    "InputFileError",
    "JourneyMapError",
    "NoSupportTicketsError",
    "SchemaError",
    "SmallDataWarning",
]


class CjmlError(Exception):
    """Base class of every error cjml raises on purpose."""


class SchemaError(CjmlError, ValueError):
    """An event log does not fit the event-log contract.

    The message names the column, shows a few offending rows and says how to
    fix the input. When the fault lies in particular rows, the error carries them
    for programs (``score`` quarantines them): ``column`` (the canonical column),
    ``positions`` (0-based positions in the input given, or None when the whole
    column or table is at fault) and ``problem`` (a short description).
    """

    column: str | None = None
    positions: np.ndarray | None = None
    problem: str | None = None


class JourneyMapError(CjmlError, ValueError):
    """A journey map (stages and touchpoint catalogue) is inconsistent."""


class InputFileError(CjmlError, ValueError):
    """A file cjml was asked to read is missing or of an unsupported format."""


class CampaignError(CjmlError, ValueError):
    """A campaign cannot be exported, read or measured as asked.

    The message names the file, campaign or date at fault and says how to fix
    it: a manifest or assignments file that differs from what was recorded, a
    campaign that would overwrite another's record, or a measurement asked for
    before the campaign's horizon has passed (with the date it can run).

    ``can_run_from`` is that date (a UTC midnight Timestamp) when the horizon
    has not passed yet, and None for every other refusal: a program that
    measures many campaigns can skip the young ones and stop on the rest.
    """

    can_run_from: pd.Timestamp | None = None


class NoSupportTicketsError(CjmlError, ValueError):
    """The events hold no support ticket, so there is no support journey to draw.

    Not a fault of the data: many journeys have no tickets. ``opened`` is the
    touchpoints looked for (a program, or the app, can say so in its own words).
    """

    opened: tuple = ()


class SmallDataWarning(UserWarning):
    """A model adapted itself to few rows, or learned nothing beyond the base rate.

    The message says what was changed (a smaller minimum leaf size, the
    calibration chosen on the held-out rows) and why. Filter it with
    ``warnings.filterwarnings("ignore", category=cjml.exceptions.SmallDataWarning)``.
    """


class ClusterError(ConnectionError):
    """The Dask cluster failed the run, not the input.

    The scheduler is out of reach, no worker is left, or workers keep dying on
    one task.
    Not a :class:`CjmlError` on purpose: those say the input must change,
    and a scoring run then drops its folder; after a cluster fault the finished chunks are
    kept, and the same command with ``--resume`` continues.
    """
