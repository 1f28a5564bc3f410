"""Which touchpoints are purchases: one rule (``EventLog.purchase_touchpoints``) that the
value features, the BG/NBD summaries, a return after a cancellation and the panel's
timeline all follow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjml import JourneyMap, read_events
from cjml.features import ValueFeatures
from cjml.panel._data._customer import timeline_data
from cjml.value import rfm_summary

END = "2024-06-30"


def shop_map(*, marked: tuple[str, ...] = (), with_purchase: bool = False) -> JourneyMap:
    """A shop whose purchases are ``order`` events (no ``purchase`` touchpoint unless asked),
    with a cancellation that drop-off counts."""
    names = ["website_visit", "order", "gift_card", "subscription_cancelled"]
    if with_purchase:
        names.append("purchase")
    touchpoints = {
        n: {"channel": "online", "stages": ["visit" if n == "website_visit" else "buy"]}
        for n in names
    }
    touchpoints["subscription_cancelled"]["churn"] = True
    for n in marked:
        touchpoints[n]["purchase"] = True
    return JourneyMap.from_dict({"stages": ["visit", "buy"], "touchpoints": touchpoints})


#: 1 orders twice; 2 cancels, then orders again (back); 3 cancels and only visits after
#: (gone); 4 has a gift card with an amount only after the cutoff of the fit below
ROWS = [
    (1, "2024-01-05", "website_visit", None),
    (1, "2024-01-10", "order", 30.0),
    (1, "2024-02-10", "order", 20.0),
    (2, "2024-01-03", "order", 15.0),
    (2, "2024-02-01", "subscription_cancelled", None),
    (2, "2024-03-01", "order", 25.0),
    (3, "2024-01-04", "order", 40.0),
    (3, "2024-02-02", "subscription_cancelled", None),
    (3, "2024-03-03", "website_visit", None),
    (4, "2024-01-06", "website_visit", None),
    (4, "2024-05-01", "gift_card", 10.0),
]


def shop_log(jmap: JourneyMap, rows=ROWS):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint", "amount"])
    if "purchase" in jmap:
        frame.loc[len(frame)] = (5, "2024-01-08", "purchase", None)
    return read_events(frame, journey_map=jmap)


def ns(date: str) -> int:
    return pd.Timestamp(date, tz="UTC").value


def test_a_map_of_its_own_takes_the_touchpoints_that_carry_amounts_up_to_the_cutoff():
    log = shop_log(shop_map())
    assert log.purchase_touchpoints() == ("order", "gift_card")  # in the map's order
    assert log.purchase_touchpoints(until_ns=ns("2024-04-01")) == ("order",)


def test_the_rule_in_order_asked_then_marked_then_purchase_then_amounts():
    assert shop_log(shop_map()).purchase_touchpoints(("gift_card",)) == ("gift_card",)
    assert shop_log(shop_map(marked=("gift_card",))).purchase_touchpoints() == ("gift_card",)
    # a touchpoint named purchase wins over amounts on other touchpoints
    assert shop_log(shop_map(with_purchase=True)).purchase_touchpoints() == ("purchase",)


def test_without_amounts_or_marks_nothing_is_a_purchase():
    frame = pd.DataFrame(ROWS, columns=["customer_id", "timestamp", "touchpoint", "amount"])
    log = read_events(frame.drop(columns="amount"), journey_map=shop_map())
    assert log.purchase_touchpoints() == ("purchase",)
    assert log._events_of(log.purchase_touchpoints()) is None
    # so a cancellation is final: customer 2's later order does not bring them back
    gone = log.gone_at(ns(END))
    assert gone is not None
    assert dict(zip(log.customer_ids, gone, strict=True)) == {1: False, 2: True, 3: True, 4: False}


@pytest.mark.parametrize("marked", [(), ("order",)], ids=["by amounts", "marked"])
def test_every_part_of_cjml_reads_the_same_purchases(marked):
    log = shop_log(shop_map(marked=marked))
    cutoff = "2024-04-01"  # the gift card's amount comes later: not a purchase yet
    fitted = ValueFeatures().fit(log, cutoff=cutoff)
    assert fitted.purchase_touchpoints_ == ("order",)
    purchases = fitted.transform(log, cutoff=cutoff)["purchases"]
    assert purchases.to_dict() == {1: 2, 2: 2, 3: 1, 4: 0}

    summary = rfm_summary(log, cutoff, unit="D")
    assert summary["total_spend"].to_dict() == {1: 50.0, 2: 40.0, 3: 40.0}
    assert summary["frequency"].to_dict() == {1: 1.0, 2: 1.0, 3: 0.0}

    # customer 2 ordered after cancelling: back; customer 3 only visited: gone
    gone = log.gone_at(ns(END))
    assert gone is not None
    assert dict(zip(log.customer_ids, gone, strict=True)) == {1: False, 2: False, 3: True, 4: False}

    timeline = timeline_data(log, 2)
    assert timeline["purchase"].tolist() == [True, False, True]


def test_the_panel_marks_a_marked_purchase_without_an_amount():
    rows = [(1, "2024-01-05", "website_visit", None), (1, "2024-01-10", "order", np.nan)]
    log = shop_log(shop_map(marked=("order",)), rows)
    assert timeline_data(log, 1)["purchase"].tolist() == [False, True]
