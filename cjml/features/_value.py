"""Value: purchases, amounts and the rhythm of buying."""

from __future__ import annotations

import numpy as np

from cjml.events import EventLog
from cjml.features._base import (
    AddedEvent,
    ColumnBlock,
    ColumnSink,
    FeatureFamily,
    check_windows,
)
from cjml.features._windows import Windows

__all__ = ["ValueFeatures"]


class ValueFeatures(FeatureFamily):
    """Purchases, spend, recency of buying and inter-purchase time.

    A purchase is an event whose touchpoint is one of ``purchase_touchpoints``.
    Amounts come from the ``amount`` column; purchases without an amount count
    as purchases but not in the amount features. Features (counts and totals 0,
    everything else NaN, where there is no purchase or no known amount):

    - ``purchases``, ``purchases_last_{w}d``, ``total_amount``,
      ``amount_last_{w}d`` (``w`` = ``window``), ``mean_amount`` and
      ``max_amount`` (over purchases with a known amount).
    - ``days_since_last_purchase``, ``days_since_first_purchase``: NaN if none.
    - ``mean_days_between_purchases``: NaN below two purchases.

    Parameters
    ----------
    purchase_touchpoints : tuple of str, default ("purchase",)
        Touchpoints that are purchases. With the default, cjml's one rule
        (:meth:`cjml.EventLog.purchase_touchpoints`): the journey map's
        touchpoints marked ``purchase = true`` when it marks some (a clickstream's
        ``payment_done``, with or without amounts); else ``purchase``; else, with
        a map that has no ``purchase`` touchpoint (your own map, e.g. a SaaS funnel
        with ``invoice_paid``), the touchpoints that carry a positive amount in the
        events ``fit`` sees; the choice is kept in ``purchase_touchpoints_``.
    window : int, default 90
        Window of the recent purchase counts and amounts, in days.
    """

    family = "value"
    relative_cost = 2

    def __init__(self, purchase_touchpoints=("purchase",), window=90):
        self.purchase_touchpoints = purchase_touchpoints
        self.window = window

    def _check_params(self) -> None:
        if isinstance(self.purchase_touchpoints, str) or not all(
            isinstance(v, str) for v in self.purchase_touchpoints
        ):
            raise ValueError(
                f"purchase_touchpoints must be a tuple of touchpoint names, got "
                f"{self.purchase_touchpoints!r}."
            )
        self.window_ = check_windows("window", (self.window,))[0]

    def _fit_counts(self, w: Windows, log: EventLog) -> dict:
        # the latest cutoff of the rows (a set, so that parts join: add_counts)
        return {"cutoffs": {int(w.cutoff_ns.max())} if len(w.cutoff_ns) else set()}

    def _fit_from_counts(self, counts: dict, log: EventLog) -> None:
        # purchases are read from the whole log's events up to the latest cutoff
        until = max(counts["cutoffs"]) if counts["cutoffs"] else None
        self.purchase_touchpoints_ = log.purchase_touchpoints(
            self.purchase_touchpoints, until_ns=until
        )

    def _names(self) -> list[str]:
        n = self.window_
        return [
            "purchases",
            f"purchases_last_{n}d",
            "total_amount",
            f"amount_last_{n}d",
            "mean_amount",
            "max_amount",
            "days_since_last_purchase",
            "days_since_first_purchase",
            "mean_days_between_purchases",
        ]

    def _compute(self, w: Windows, out: ColumnSink) -> None:
        # purchases are a few percent of the events: every reduction runs on them alone
        b = w.subset(w.touchpoint_in(self.purchase_touchpoints_))
        amount = b.column("amount")
        amount = np.full(len(b.ev), np.nan) if amount is None else amount
        age = b.age_days
        n = self.window_
        count = b.count()
        recent = age < n
        last_age, first_age = b.last(age), b.first(age)
        total = b.sum(amount)  # NaN amounts are skipped
        out.update(
            {
                "purchases": count,
                f"purchases_last_{n}d": b.count(recent),
                "total_amount": total,
                f"amount_last_{n}d": b.sum(amount, recent),
                "mean_amount": b.mean(amount),
                "max_amount": b.maximum(amount),
                "days_since_last_purchase": last_age,
                "days_since_first_purchase": first_age,
                "mean_days_between_purchases": np.where(
                    count >= 2, (first_age - last_age) / np.maximum(count - 1, 1), np.nan
                ),
            }
        )

    def _with_event(self, b: ColumnBlock, event: AddedEvent) -> None:
        # A purchase without an amount: counted as a purchase, in no amount feature.
        buy = event.is_one_of(self.purchase_touchpoints_)
        n = self.window_
        count = b["purchases"] + buy
        first_age = np.where(
            buy & np.isnan(b["days_since_first_purchase"]), 0.0, b["days_since_first_purchase"]
        )
        b["purchases"] = count
        b[f"purchases_last_{n}d"] = b[f"purchases_last_{n}d"] + buy
        b["days_since_first_purchase"] = first_age
        b["days_since_last_purchase"] = np.where(buy, 0.0, b["days_since_last_purchase"])
        # the expression of _compute with a last age of 0.0, so the same floats
        b["mean_days_between_purchases"] = np.where(
            buy,
            np.where(count >= 2, (first_age - 0.0) / np.maximum(count - 1, 1), np.nan),
            b["mean_days_between_purchases"],
        )
