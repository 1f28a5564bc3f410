"""The support journey map: tickets from opened to resolved, and what came after.

A tiny hand-built log pins every figure to the value worked out by hand; a
simulated log checks the invariants (per-persona sums, every ticket once,
the same first-in-first-out tickets as the SupportFeatures family) and the
files (CSV, HTML, PNG, PDF) round trip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
from cjml.datasets import make_journeys
from cjml.features import JourneyFeaturizer
from cjml.io._write import unescape_formula

CUTOFF = "2024-06-01"

# (customer, segment, time, touchpoint, channel, satisfaction, nps)
_EVENTS = [
    # A: ticket answered by chat after 3 h, resolved after 24 h, CSAT 5 at the resolution and
    # 4 three days later; a second ticket 8 days after: a reopen; resolved after 48 h.
    ("A", "x", "2024-01-01 09:00", "support_ticket", "chat", None, None),
    ("A", "x", "2024-01-01 12:00", "live_chat", "chat", None, None),
    ("A", "x", "2024-01-02 09:00", "ticket_resolved", "chat", 5, None),
    ("A", "x", "2024-01-05 09:00", "website_visit", "web", 4, None),
    ("A", "x", "2024-01-10 09:00", "support_ticket", "email", None, None),
    ("A", "x", "2024-01-12 09:00", "ticket_resolved", "email", None, None),
    ("A", "x", "2024-01-20 09:00", "purchase", "web", None, None),
    ("A", "x", "2024-03-01 09:00", "purchase", "web", None, None),
    # B: a ticket never answered nor resolved, then silence: churned, unresolved.
    ("B", "y", "2024-02-01 00:00", "support_ticket", "phone", None, None),
    # C: a resolution with no open ticket (ignored), then a ticket resolved after 10 h, then
    # silence: churned after a resolved ticket.
    ("C", "y", "2024-02-15 00:00", "ticket_resolved", "phone", None, None),
    ("C", "y", "2024-03-01 00:00", "support_ticket", "phone", None, None),
    ("C", "y", "2024-03-01 10:00", "ticket_resolved", "phone", None, None),
    # D: a bad CSAT, no ticket, silence: the silent unhappy.
    ("D", "x", "2024-02-01 00:00", "store_visit", "store", 1, None),
    # E: a bad CSAT, then a ticket four days later (complained), resolved after 24 h.
    ("E", "x", "2024-02-01 00:00", "store_visit", "store", 2, None),
    ("E", "x", "2024-02-05 00:00", "support_ticket", "chat", None, None),
    ("E", "x", "2024-02-06 00:00", "ticket_resolved", "chat", None, None),
    ("E", "x", "2024-02-20 00:00", "purchase", "web", None, None),
    ("E", "x", "2024-05-20 00:00", "purchase", "web", None, None),
    # F: a detractor (NPS 3) who stays without a ticket.
    ("F", "y", "2024-03-01 00:00", "website_visit", "web", None, 3),
    ("F", "y", "2024-03-10 00:00", "website_visit", "web", None, None),
    # G: a ticket opened a week before the cutoff: open, its churn not known yet.
    ("G", "x", "2024-05-25 00:00", "support_ticket", "chat", None, None),
]


def _frame(events=_EVENTS) -> pd.DataFrame:
    cols = ["customer_id", "segment", "timestamp", "touchpoint", "channel", "satisfaction", "nps"]
    frame = pd.DataFrame(events, columns=cols)
    for c in ("satisfaction", "nps"):
        frame[c] = frame[c].astype(float)
    return frame


@pytest.fixture(scope="module")
def tiny():
    return cjml.support_journey(
        _frame(), by="segment", cutoff=CUTOFF, horizon="30D", reopen_within="14D", min_customers=3
    )


@pytest.fixture(scope="module")
def simulated():
    return cjml.read_events(make_journeys(400, n_days=150, random_state=3)["events"])


@pytest.fixture(scope="module")
def report(simulated):
    return cjml.support_journey(simulated, by="segment", horizon="30D")


# ------------------------------------------------------------------ exact values
def test_each_ticket_first_in_first_out_with_its_first_response_and_resolution(tiny):
    t = tiny.tickets.set_index(["customer_id", "ticket"])
    assert list(t.index) == [("A", 1), ("A", 2), ("B", 1), ("C", 1), ("E", 1), ("G", 1)]
    assert t["first_response_hours"].tolist()[:2] == [3.0, 48.0]
    assert t.loc[("A", 1), "first_response_touchpoint"] == "live_chat"
    assert np.isnan(t.loc[("B", 1), "first_response_hours"])
    assert t.loc[("C", 1), "first_response_hours"] == 10.0  # the resolution answers it
    assert t["resolution_hours"].tolist()[:2] == [24.0, 48.0]
    assert t.loc[("C", 1), "resolution_hours"] == 10.0  # the resolution before it is ignored
    assert t["status"].tolist() == ["resolved", "resolved", "open", "resolved", "resolved", "open"]
    assert t.loc[("B", 1), "open_days"] == 121.0  # 1 February to 1 June 2024
    assert t.loc[("G", 1), "open_days"] == 7.0
    assert t.loc[("A", 1), "channel"] == "chat" and t.loc[("B", 1), "channel"] == "phone"
    assert t.loc[("A", 1), "csat_after"] == 4.5 and t.loc[("A", 1), "csat_after_answers"] == 2


def test_reopen_and_churn_after_resolved_and_unresolved_tickets(tiny):
    t = tiny.tickets.set_index(["customer_id", "ticket"])
    assert t["reopened"].tolist()[:2] == [True, False]
    assert t["churn_group"].fillna("not yet known").tolist() == [
        "resolved",
        "resolved",
        "unresolved",
        "resolved",
        "resolved",
        "not yet known",
    ]
    assert t["churned"].tolist()[:5] == [False, False, True, True, False]
    assert pd.isna(t.loc[("G", 1), "churned"])

    row = tiny.steps.iloc[0]
    assert row["persona"] is None
    assert (row["customers"], row["customers_with_tickets"], row["tickets"]) == (7, 5, 6)
    assert row["responded"] == 4
    assert row["first_response_hours_median"] == 17.0  # of 3, 10, 24 and 48 hours
    assert (row["resolved"], row["still_open"]) == (4, 2)
    assert row["resolved_share"] == pytest.approx(4 / 6)
    assert row["resolution_hours_median"] == 24.0
    assert row["open_days_median"] == 64.0  # of 121 and 7 days
    assert (row["csat_after_answers"], row["csat_after_mean"], row["csat_after_top_box"]) == (
        2,
        4.5,
        0.5,
    )
    assert (row["reopen_known"], row["reopened"], row["reopen_rate"]) == (4, 1, 0.25)
    assert (row["churn_resolved_tickets"], row["churn_resolved_churned"]) == (4, 1)
    assert (row["churn_unresolved_tickets"], row["churn_unresolved_churned"]) == (1, 1)
    assert (row["churn_resolved"], row["churn_unresolved"]) == (0.25, 1.0)
    assert row["churn_difference"] == 0.75
    assert row["churn_not_yet_known"] == 1
    # Wilson's 90% interval of 1 in 4 (z = 1.645), worked out by hand.
    z = 1.6448536269514722
    centre = (0.25 + z**2 / 8) / (1 + z**2 / 4)
    half = z * np.sqrt(0.25 * 0.75 / 4 + z**2 / 64) / (1 + z**2 / 4)
    assert row["churn_resolved_low"] == pytest.approx(centre - half)
    assert row["churn_resolved_high"] == pytest.approx(centre + half)
    assert row["churn_difference_low"] < 0.75 < row["churn_difference_high"]


def test_the_silent_unhappy_against_those_who_complained(tiny):
    u = tiny.unhappy.set_index("customer_id")
    assert u["outcome"].to_dict() == {"D": "silent", "E": "complained", "F": "stayed"}
    assert u.loc["F", "survey"] == "nps" and u.loc["F", "score"] == 3.0
    row = tiny.steps.iloc[0]
    assert (row["unhappy_customers"], row["silent_unhappy"], row["complained"]) == (3, 1, 1)
    assert row["unhappy_stayed"] == 1 and row["silent_unhappy_share"] == pytest.approx(1 / 3)
    text = tiny.to_text()
    assert "Silent unhappy: 1 of 3 customers with a bad experience" in text
    assert "1 complained" in text


def test_personas_split_the_whole(tiny):
    assert tiny.personas == ["x", "y"]
    steps = tiny.steps.set_index("persona", drop=False)
    x, y = steps.loc["x"], steps.loc["y"]
    assert (x["tickets"], y["tickets"]) == (4, 2)
    assert (x["silent_unhappy"], x["complained"], y["unhappy_stayed"]) == (1, 1, 1)
    assert bool(y["few"]) and not bool(x["few"])  # 2 customers with tickets against 3
    assert tiny.tickets["persona"].tolist() == ["x", "x", "y", "y", "x", "x"]


def test_every_count_of_the_personas_adds_up_to_all_customers(report):
    steps = report.steps
    whole, parts = steps.iloc[0], steps.iloc[1:]
    assert len(parts) == len(report.personas) >= 2
    counts = [c for c in steps.columns if steps[c].dtype.kind == "i"]
    assert "tickets" in counts and "silent_unhappy" in counts and len(counts) > 15
    for column in counts:
        assert parts[column].sum() == whole[column], column
    channels = report.channels
    assert channels.loc[channels["persona"].isna(), "tickets"].sum() == whole["tickets"]
    assert channels.loc[channels["persona"].notna(), "tickets"].sum() == whole["tickets"]


def test_tickets_are_those_of_the_support_features(simulated, report):
    """The same first-in-first-out tickets as cjml.features.SupportFeatures counts."""
    cutoff = report.info["cutoff"]
    X = JourneyFeaturizer(families=("support",)).fit(simulated).transform(simulated, cutoff)
    t = report.tickets
    opened = t.groupby("customer_id").size()
    still = t[t["status"] == "open"].groupby("customer_id").size()
    ids = X.index[X["tickets_opened"] > 0]
    assert opened.reindex(ids).tolist() == X.loc[ids, "tickets_opened"].tolist()
    assert still.reindex(ids, fill_value=0).tolist() == X.loc[ids, "tickets_unresolved"].tolist()
    oldest = t[t["status"] == "open"].groupby("customer_id")["open_days"].max()
    has = X.index[X["tickets_unresolved"] > 0]
    assert np.allclose(oldest.reindex(has), X.loc[has, "oldest_open_ticket_days"])


# ------------------------------------------------------------------ options
def test_custom_ticket_touchpoints_give_the_same_journey(tiny):
    renamed = _frame().replace(
        {"touchpoint": {"support_ticket": "complaint", "ticket_resolved": "case_closed"}}
    )
    jm = cjml.JourneyMap.default().to_dict()
    jm["touchpoints"]["complaint"] = jm["touchpoints"].pop("support_ticket")
    jm["touchpoints"]["case_closed"] = jm["touchpoints"].pop("ticket_resolved")
    log = cjml.read_events(renamed, journey_map=jm)
    other = cjml.support_journey(
        log,
        by="segment",
        cutoff=CUTOFF,
        opened="complaint",
        resolved=["case_closed"],
        min_customers=3,
    )
    pd.testing.assert_frame_equal(other.steps, tiny.steps)
    assert other.info["opened"] == ("complaint",) and other.info["touchpoints_from"] == (
        "the arguments"
    )
    # A bundle's featurizer knows the ticket touchpoints, its metadata the horizon.
    featurizer = JourneyFeaturizer(
        families=("support",),
        ticket_touchpoints=("complaint",),
        resolution_touchpoints=("case_closed",),
    ).fit(log)
    bundle = cjml.ModelBundle(featurizer, log.journey_map, {}, {"horizon": "30D"})
    from_bundle = cjml.support_journey(log, bundle, by="segment", cutoff=CUTOFF, min_customers=3)
    pd.testing.assert_frame_equal(from_bundle.steps, tiny.steps)
    assert from_bundle.info["touchpoints_from"] == "the model bundle"
    assert from_bundle.info["horizon"] == pd.Timedelta(days=30)


def test_responses_option_changes_the_first_response(tiny):
    only_calls = cjml.support_journey(
        _frame(), cutoff=CUTOFF, responses=["follow_up_call"], min_customers=3
    )
    t = only_calls.tickets
    # A's chat reply no longer counts: the resolution, 24 hours on, is the first response.
    assert t["first_response_hours"].iloc[0] == 24.0
    assert only_calls.info["responses"] == ("follow_up_call",)
    assert tiny.info["responses"] == cjml.JourneyMap.default().actionable_touchpoints


def test_a_log_without_tickets_says_what_was_looked_for_and_the_fix():
    frame = _frame()
    frame = frame[~frame["touchpoint"].isin(["support_ticket"])]
    with pytest.raises(ValueError) as info:
        cjml.support_journey(frame, cutoff=CUTOFF)
    message = str(info.value)
    assert "'support_ticket'" in message and "'ticket_resolved'" in message
    assert "opened=" in message and "resolved=" in message
    assert "\n" not in message


def test_options_are_checked():
    with pytest.raises(ValueError, match="both open and resolve"):
        cjml.support_journey(_frame(), opened="support_ticket", resolved="support_ticket")
    with pytest.raises(ValueError, match="opened must be a touchpoint name"):
        cjml.support_journey(_frame(), opened=3)
    with pytest.raises(ValueError, match="min_customers"):
        cjml.support_journey(_frame(), min_customers=-1)
    with pytest.raises(cjml.SchemaError, match="segmnt"):
        cjml.support_journey(_frame(), by="segmnt")


def test_unknown_persona_and_table_name_the_known_ones(tiny):
    with pytest.raises(ValueError, match=r"\['x', 'y'\]"):
        tiny.figure("z")
    with pytest.raises(ValueError, match="Did you mean 'tickets'"):
        tiny.to_frame("ticket")
    no_by = cjml.support_journey(_frame(), cutoff=CUTOFF)
    assert no_by.personas == [] and len(no_by.steps) == 1
    with pytest.raises(ValueError, match="by="):
        no_by.figure("x")


# ------------------------------------------------------------------ files and views
def test_csv_round_trip_and_no_overwrite(tiny, tmp_path):
    path = tiny.to_csv(tmp_path / "steps.csv")
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["tickets"].tolist() == tiny.steps["tickets"].tolist()
    assert back["churn_resolved"].tolist() == pytest.approx(tiny.steps["churn_resolved"].tolist())
    with pytest.raises(cjml.CjmlError, match="force"):
        tiny.to_csv(path)
    tickets = tiny.to_csv(tmp_path / "tickets.csv", table="tickets")
    back = pd.read_csv(tickets, encoding="utf-8-sig")
    assert back["customer_id"].tolist() == ["A", "A", "B", "C", "E", "G"]
    tiny.to_csv(path, table="unhappy", force=True)
    assert pd.read_csv(path, encoding="utf-8-sig")["outcome"].tolist() == [
        "silent",
        "complained",
        "stayed",
    ]


def test_csv_is_formula_safe(tmp_path):
    frame = _frame()
    frame["segment"] = frame["segment"].replace({"x": "=HYPERLINK(1)"})
    report = cjml.support_journey(frame, by="segment", cutoff=CUTOFF)
    path = report.to_csv(tmp_path / "t.csv", table="tickets")
    cells = pd.read_csv(path, encoding="utf-8-sig")["persona"]
    assert cells.iloc[0] == "'=HYPERLINK(1)"
    assert unescape_formula(cells.iloc[0]) == "=HYPERLINK(1)"


def test_html_is_self_contained_with_hover_counts_and_grey_few_groups(tiny, tmp_path):
    fragment = tiny._repr_html_()
    for step in ("Opened", "First response", "Resolved", "After"):
        assert f"<b>{step}</b>" in fragment
    assert "title='6 tickets, 5 customers with tickets of 7 customers'" in fragment
    assert fragment.count("class='group few'") == 1  # persona y: 2 customers with tickets
    assert "few customers: 2" in fragment
    assert "http" not in fragment and "<script" not in fragment
    # One heading per group (all customers, x, y), under the section heading of the page
    # the fragment goes in.
    assert fragment.count("<h3>") == 3 and "<h1>" not in fragment and "<h2>" not in fragment
    path = tiny.save(tmp_path / "support.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and fragment in page
    assert "<h1>Support journey</h1>" in page
    with pytest.raises(cjml.CjmlError, match="force"):
        tiny.save(path)
    tiny.save(path, force=True)


def test_png_and_pdf_are_a4_landscape_and_never_overwritten(tiny, tmp_path):
    from matplotlib.figure import Figure

    fig = tiny.figure()
    assert isinstance(fig, Figure)
    assert tuple(np.round(fig.get_size_inches(), 2)) == (11.69, 8.27)
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "First response" in texts and "Silent unhappy" in texts
    png = tiny.save(tmp_path / "support.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = tiny.save(tmp_path / "support.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 1
    before = png.read_bytes()
    with pytest.raises(cjml.CjmlError, match="force"):
        tiny.save(png)
    assert png.read_bytes() == before
    with pytest.raises(ValueError, match=".html, .png, .pdf"):
        tiny.save(tmp_path / "support.svg")


def test_the_pyplot_state_is_left_alone(tiny):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    tiny.figure("x")
    assert plt.get_fignums() == before


def test_vietnamese_words_and_numbers(tiny):
    fig = tiny.figure(lang="vi")
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "First response" not in texts
    from cjml.i18n import gettext, language

    with language("vi"):
        vi_text = tiny.to_text()
        assert gettext("First response") in vi_text and gettext("First response") in texts
        assert "CSAT sau đó 4,5/5" in vi_text  # the Vietnamese decimal comma
    assert "First response" in tiny.to_text()


# ------------------------------------------------------------------ invariants
_TOUCHPOINTS = ["support_ticket", "ticket_resolved", "email", "website_visit"]


@pytest.mark.filterwarnings("ignore:Found .* exact duplicate event")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.integers(0, 120),
            st.sampled_from(_TOUCHPOINTS),
            st.sampled_from([None, 1.0, 3.0, 5.0]),
        ),
        min_size=1,
        max_size=40,
    ).filter(lambda rows: any(r[2] == "support_ticket" for r in rows))
)
def test_every_ticket_is_counted_once_and_resolved_plus_open_is_opened(rows):
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{r[0]}" for r in rows],
            "timestamp": [pd.Timestamp("2024-01-01") + pd.Timedelta(hours=6 * r[1]) for r in rows],
            "touchpoint": [r[2] for r in rows],
            "satisfaction": [r[3] for r in rows],
            "segment": [f"s{r[0] % 2}" for r in rows],
        }
    )
    report = cjml.support_journey(frame, by="segment", horizon="5D", reopen_within="3D")
    t, steps = report.tickets, report.steps
    assert len(t) == (frame["touchpoint"] == "support_ticket").sum()
    for _, row in steps.iterrows():
        assert row["resolved"] + row["still_open"] == row["tickets"]
        known = row["churn_resolved_tickets"] + row["churn_unresolved_tickets"]
        assert known + row["churn_not_yet_known"] == row["tickets"]
        assert row["reopened"] <= row["reopen_known"] <= row["resolved"]
        assert (
            row["complained"] + row["silent_unhappy"] + row["unhappy_stayed"]
            == row["unhappy_customers"]
        )
    assert steps.iloc[1:]["tickets"].sum() == steps.iloc[0]["tickets"]
    # A ticket is resolved by a later resolution, and answered no later than resolved.
    done = t[t["status"] == "resolved"]
    assert (done["resolution_hours"] >= 0).all()
    assert (done["first_response_hours"] <= done["resolution_hours"]).all()
    # First in, first out: each customer's resolved tickets are its first ones.
    rank = t.groupby("customer_id")["ticket"].rank()
    resolved_first = t.assign(r=rank, done=t["status"] == "resolved").groupby("customer_id")
    for _, g in resolved_first:
        flags = g.sort_values("ticket")["done"].tolist()
        assert flags == sorted(flags, reverse=True)
    # Each satisfaction answer belongs to at most one ticket.
    assert t["csat_after_answers"].sum() <= frame["satisfaction"].notna().sum()


def test_the_resolution_of_an_older_ticket_does_not_answer_a_newer_one():
    frame = pd.DataFrame(
        {
            "customer_id": ["H"] * 5,
            "timestamp": [
                "2024-04-01 00:00",
                "2024-04-01 06:00",
                "2024-04-01 12:00",
                "2024-04-01 20:00",
                "2024-04-02 06:00",
            ],
            "touchpoint": [
                "support_ticket",
                "support_ticket",
                "ticket_resolved",
                "follow_up_call",
                "ticket_resolved",
            ],
        }
    )
    t = cjml.support_journey(frame, cutoff=CUTOFF).tickets
    # First in, first out: the first resolution closes the first ticket (12 h); the second
    # ticket is answered by the call 14 h after it and resolved after 24 h.
    assert t["resolution_hours"].tolist() == [12.0, 24.0]
    assert t["first_response_hours"].tolist() == [12.0, 14.0]
    assert t["first_response_touchpoint"].tolist() == ["ticket_resolved", "follow_up_call"]


@pytest.mark.parametrize(
    "hours, text",
    [
        (3.0, "3 hours"),
        (1.0, "1 hour"),
        (9.96, "10 hours"),
        (17.25, "17 hours"),
        (47.6, "2 days"),
        (24 * 9.96, "10 days"),
        (24 * 3.5, "3.5 days"),
        (np.nan, "\u2013"),
    ],
)
def test_times_read_in_hours_under_two_days_and_in_days_after(hours, text):
    from cjml.support import _duration

    assert _duration(hours) == text


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_words_of_each_step_box_stay_inside_it(lang):
    """Measured as drawn: every text's bounding box inside its box, none overlapping."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    frame = _frame()
    frame["segment"] = frame["segment"].replace({"x": "a persona with a rather long name"})
    report = cjml.support_journey(frame, by="segment", cutoff=CUTOFF, min_customers=3)
    for persona in [None, *report.personas]:
        fig = report.figure(persona, lang=lang)
        renderer = FigureCanvasAgg(fig).get_renderer()
        for k in range(4):
            (box,) = fig.findobj(lambda a, k=k: a.get_gid() == f"support-box-{k}")
            texts = fig.findobj(lambda a, k=k: a.get_gid() == f"support-box-{k}-text")
            assert len(texts) == 4  # the step's name and its three lines
            outer = box.get_window_extent(renderer)
            extents = [t.get_window_extent(renderer) for t in texts]
            for text, extent in zip(texts, extents, strict=True):
                assert outer.x0 <= extent.x0 and extent.x1 <= outer.x1, text.get_text()
                assert outer.y0 <= extent.y0 and extent.y1 <= outer.y1, text.get_text()
            for a, b in zip(extents, extents[1:], strict=False):
                assert b.y1 <= a.y0 + 0.5  # each block below the one before


def test_a_log_without_channel_or_survey_columns_still_maps_the_tickets(tiny):
    bare = _frame()[["customer_id", "timestamp", "touchpoint"]]
    report = cjml.support_journey(bare, cutoff=CUTOFF)
    row = report.steps.iloc[0]
    assert (row["tickets"], row["resolved"], row["reopened"]) == (6, 4, 1)
    assert row["csat_after_answers"] == 0 and np.isnan(row["csat_after_mean"])
    assert row["unhappy_customers"] == 0
    assert report.channels.empty and report.tickets["channel"].isna().all()
    text = report.to_text()
    assert "top channel" not in text and "no CSAT answer after" in text
    assert report.info["columns"] == []


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_no_two_texts_of_the_figure_overlap(report, lang):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    for persona in (None, report.personas[0]):
        fig = report.figure(persona, lang=lang)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # axis labels and ticks find their places when drawn
        renderer = canvas.get_renderer()
        texts = [
            t
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_alpha() != 0
        ]
        boxes = [t.get_window_extent(renderer) for t in texts]
        page = fig.bbox
        for k, (a, box) in enumerate(zip(texts, boxes, strict=True)):
            assert page.x0 <= box.x0 and box.x1 <= page.x1, a.get_text()
            assert page.y0 <= box.y0 and box.y1 <= page.y1, a.get_text()
            for b, other in zip(texts[k + 1 :], boxes[k + 1 :], strict=True):
                shrunk = other.shrunk(0.98, 0.9)  # glyph boxes of adjacent lines may touch
                assert not box.overlaps(shrunk), (a.get_text(), b.get_text())
