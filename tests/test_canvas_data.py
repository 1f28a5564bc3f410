"""The journey canvas's tables: values on a hand-built log, invariants, personas, comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
from cjml.analytics import journey_map
from cjml.canvas import JourneyCanvas
from cjml.canvas._compare import compare_canvases
from cjml.datasets import load_sample

# A bring-your-own journey map, stages named unlike the default ones.
MAP = {
    "name": "shop",
    "stages": ["visit", "trial", "paid"],
    "touchpoints": {
        "ad": {"channel": "online", "stages": ["visit"]},
        "store": {"channel": "offline", "stages": ["visit", "trial"]},
        "signup": {"channel": "online", "stages": ["trial"]},
        "payment": {"channel": "online", "stages": ["paid"]},
        "support_ticket": {"channel": "online", "stages": ["trial", "paid"]},
        "ticket_resolved": {"channel": "online", "stages": ["trial", "paid"]},
        "live_chat": {"channel": "online", "stages": ["trial", "paid"], "actionable": True},
    },
}

# The log ends on 01-28 (data end 01-29); with a 10-day horizon a customer whose last
# event is on or before 01-19 went silent.
#   A: visit 01-01, trial 01-03..01-06 (two tickets, one resolved), paid 01-10 -> silent in paid
#   B: visit 01-02, trial 01-03..01-05 (a resolution before any ticket, then a ticket)
#      -> silent in trial
#   C: visit 01-20..01-28 -> active in visit
ROWS = [
    # customer, day, stage, touchpoint, satisfaction, nps, effort, segment
    ("A", "01-01", "visit", "ad", 5, None, None, "deal"),
    ("A", "01-03", "trial", "signup", 1, None, 6, "deal"),
    ("A", "01-04", "trial", "support_ticket", None, None, None, "deal"),
    ("A", "01-05", "trial", "support_ticket", None, None, None, "deal"),
    ("A", "01-06", "trial", "ticket_resolved", None, None, None, "deal"),
    ("A", "01-10", "paid", "payment", None, 10, None, "deal"),
    ("B", "01-02", "visit", "ad", None, 7, None, "deal"),
    ("B", "01-03", "trial", "signup", 4, None, None, "deal"),
    ("B", "01-04", "trial", "ticket_resolved", None, None, None, "deal"),
    ("B", "01-05", "trial", "support_ticket", None, None, None, "deal"),
    ("C", "01-20", "visit", "ad", 3, None, None, "loyal"),
    ("C", "01-28", "visit", "store", None, None, None, "loyal"),
]


def tiny_frame(surveys: bool = True) -> pd.DataFrame:
    df = pd.DataFrame(
        ROWS,
        columns=[
            "customer_id",
            "day",
            "stage",
            "touchpoint",
            "satisfaction",
            "nps",
            "effort",
            "segment",
        ],
    )
    df["timestamp"] = "2024-" + df.pop("day")
    df[["satisfaction", "nps", "effort"]] = df[["satisfaction", "nps", "effort"]].astype(float)
    return df if surveys else df.drop(columns=["satisfaction", "nps", "effort"])


def tiny_map(surveys: bool = True, **kwargs):
    log = cjml.read_events(tiny_frame(surveys), journey_map=MAP)
    return journey_map(log, horizon="10D", min_customers=2, **kwargs)


@pytest.fixture(scope="module")
def tiny():
    return tiny_map(by="segment")


@pytest.fixture(scope="module")
def sample_log():
    return cjml.read_events(load_sample())


@pytest.fixture(scope="module")
def with_bundle(sample_log):
    from _panel_bundle import sample_bundle_path

    bundle = cjml.ModelBundle.load(sample_bundle_path())
    return journey_map(sample_log, bundle, by="segment")


@pytest.fixture(scope="module")
def without_bundle(sample_log):
    return journey_map(sample_log, by="segment")


def all_canvases(report) -> list[JourneyCanvas]:
    return [report.canvas(None)] + [report.canvas(p) for p in report.personas]


# --------------------------------------------------------------------------- known answers
def test_emotion_weighs_negative_answers_on_the_hand_built_log(tiny):
    feeling = tiny.canvas().feeling.set_index("stage")
    # visit: A CSAT 5 -> 1, B NPS 7 -> -0.2 (weight 12), C CSAT 3 -> 0
    assert feeling.loc["visit", "emotion"] == pytest.approx((1 - 12 * 0.2 + 0) / 14)
    # trial: A CSAT 1 -> -1 and effort 6 -> -2/3 (weight 12 each), B CSAT 4 -> 0.5
    assert feeling.loc["trial", "emotion"] == pytest.approx((-12 - 8 + 0.5) / 25)
    # paid: A NPS 10 -> 1; one answer, so the interval is all of [-1, 1]
    assert feeling.loc["paid", "emotion"] == 1.0
    assert feeling.loc["paid", ["emotion_low", "emotion_high"]].tolist() == [-1.0, 1.0]
    assert feeling["answers"].tolist() == [3, 3, 1]
    assert feeling["respondents"].tolist() == [3, 2, 1]
    assert feeling["answered_share"].tolist() == [1.0, 1.0, 1.0]
    assert feeling["negative_share"].tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert feeling.loc["visit", "csat_mean"] == 4.0
    assert feeling.loc["trial", "ces_mean"] == 6.0
    assert feeling["few"].tolist() == [False, False, True]  # min_customers=2
    # the peak is the most intense stage (paid, 1.0), the end the last one with answers
    assert feeling["peak"].tolist() == [False, False, True]
    assert feeling["end"].tolist() == [False, False, True]


def test_one_negative_weighs_like_twelve_positives():
    even = tiny_map(negative_weight=1).canvas().feeling.set_index("stage")
    heavy = tiny_map(negative_weight=12).canvas().feeling.set_index("stage")
    assert even.loc["visit", "emotion"] == pytest.approx((1 - 0.2 + 0) / 3)
    assert even.loc["trial", "emotion"] == pytest.approx((-1 - 2 / 3 + 0.5) / 3)
    for stage in ("visit", "trial"):  # the stages with negative answers
        assert heavy.loc[stage, "emotion"] < even.loc[stage, "emotion"]
    assert heavy.loc["paid", "emotion"] == even.loc["paid", "emotion"]


def test_flow_counts_on_the_hand_built_log(tiny):
    flow = tiny.canvas().flow
    assert flow["reached"].tolist() == [3, 2, 1]
    assert flow["moved_on"].tolist() == [2, 1, 0]
    assert flow["dropped_off"].tolist() == [0, 1, 1]
    assert flow["pending"].tolist() == [1, 0, 0]  # C is still active in visit
    assert flow["moved_on_share"].tolist() == pytest.approx([2 / 3, 0.5, 0.0])
    assert flow["median_days"].tolist() == [2.0, 4.5, 0.0]


def test_pains_on_the_hand_built_log_ranked_by_size(tiny):
    canvas = tiny.canvas()
    pains = canvas.pains
    assert canvas.info["pains_ranked_by"] == "size"
    assert pains["churn_explained"].isna().all()
    got = list(zip(pains["stage"], pains["kind"], pains["rank"], strict=True))
    # trial: both stayed longer than the other stages' median (1.5 days) -> 2 customers;
    # 2 of its 3 tickets are still open (first in, first out; B's early resolution closes
    # nothing) -> 2/3 of 2 customers; then the ties of one customer, in journey order
    assert got == [
        ("trial", "wait", 1),
        ("trial", "unresolved", 2),
        ("trial", "drop_off", 3),
        ("trial", "effort", 4),
        ("trial", "bad_experience", 5),
        ("paid", "drop_off", 6),
    ]
    metric = pains.set_index(["stage", "kind"])["metric"]
    assert metric[("trial", "wait")] == pytest.approx(3.0)
    assert metric[("trial", "unresolved")] == pytest.approx(2 / 3)
    assert metric[("trial", "drop_off")] == 0.5
    assert metric[("paid", "drop_off")] == 1.0
    texts = dict(zip(pains["kind"] + "@" + pains["stage"], pains["text"], strict=True))
    assert texts["wait@trial"] == "median 4.5 days here, 3.0\u00d7 the other stages"
    assert texts["unresolved@trial"] == "67% of tickets opened here stay unresolved"
    assert texts["drop_off@trial"] == "50% of those with a known outcome here went silent"
    assert texts["effort@trial"] == "100% of effort answers are high (5 or more)"
    assert texts["bad_experience@trial"] == "50% of satisfaction answers are 1-2 of 5"
    assert canvas.opportunities.empty and canvas.info["opportunities_from"] is None


def test_doing_lists_the_top_touchpoints_with_their_channel(tiny):
    doing = tiny.canvas().doing
    visit = doing[doing["stage"] == "visit"]
    assert visit[["touchpoint", "channel", "rank", "customers"]].values.tolist() == [
        ["ad", "online", 1, 3],
        ["store", "offline", 2, 1],
    ]
    assert visit["share"].tolist() == pytest.approx([0.75, 0.25])
    trial = doing[doing["stage"] == "trial"]  # most events first, ties by name
    assert trial["touchpoint"].tolist() == ["support_ticket", "signup", "ticket_resolved"]
    assert trial["rank"].tolist() == [1, 2, 3]
    assert doing.groupby("stage")["share"].sum().le(1 + 1e-12).all()


def test_a_persona_canvas_and_the_bring_your_own_stage_names(tiny):
    assert tiny.personas == ["deal", "loyal"]
    deal = tiny.canvas("deal")
    assert deal.stages == ("visit", "trial", "paid")
    assert deal.persona == "deal" and deal.by == "segment"
    assert deal.flow["reached"].tolist() == [2, 2, 1]
    assert deal.info["n_customers"] == 2
    assert deal.info["n_events"] == 10
    loyal = tiny.canvas("loyal")
    assert loyal.flow["pending"].tolist() == [1, 0, 0]
    assert loyal.feeling["emotion"].iloc[0] == 0.0
    assert np.isnan(loyal.feeling["emotion"].iloc[1:]).all()


def test_without_survey_columns_the_feeling_is_empty_and_says_so():
    canvas = tiny_map(surveys=False).canvas()
    assert canvas.feeling["emotion"].isna().all()
    assert not canvas.feeling["peak"].any() and not canvas.feeling["end"].any()
    assert (canvas.feeling["answers"] == 0).all()
    assert canvas.info["columns"] == []
    assert any("no satisfaction, NPS or effort" in n for n in canvas.info["notes"])
    assert set(canvas.pains["kind"]) <= {"drop_off", "wait", "unresolved"}


def test_without_tickets_there_is_no_unresolved_pain():
    frame = tiny_frame()
    frame = frame[~frame["touchpoint"].isin(["support_ticket", "ticket_resolved"])]
    report = journey_map(cjml.read_events(frame, journey_map=MAP), horizon="10D")
    assert "unresolved" not in set(report.canvas().pains["kind"])
    assert (report.canvas_stages["tickets"] == 0).all()


def test_unknown_personas_and_unsplit_maps_are_refused(tiny):
    with pytest.raises(ValueError, match=r"persona='nobody' is not a value of 'segment'.*'deal'"):
        tiny.canvas("nobody")
    with pytest.raises(ValueError, match=r"not split by persona.*--by"):
        tiny_map().canvas("deal")
    assert tiny_map().personas == []
    old = tiny_map()
    old.canvas_stages = None  # a report built without the canvas's inputs
    with pytest.raises(ValueError, match="no canvas inputs"):
        old.canvas()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"negative_weight": 0.5}, "negative_weight must be a number of 1 or more"),
        ({"negative_weight": "12"}, "negative_weight"),
        ({"min_customers": 0}, "min_customers must be a whole number of 1 or more"),
        ({"min_customers": 2.5}, "min_customers"),
    ],
)
def test_bad_canvas_arguments_are_refused(kwargs, message):
    log = cjml.read_events(tiny_frame(), journey_map=MAP)
    with pytest.raises(ValueError, match=message):
        journey_map(log, **kwargs)


# --------------------------------------------------------------------------- invariants
def check_invariants(canvas: JourneyCanvas) -> None:
    flow = canvas.flow
    assert tuple(flow["stage"]) == canvas.stages
    assert (flow["moved_on"] + flow["dropped_off"] + flow["pending"] == flow["reached"]).all()
    assert flow["moved_on"].iloc[-1] == 0
    assert (flow[["moved_on", "dropped_off", "pending"]] >= 0).all().all()
    shares = flow[["moved_on_share", "dropped_off_share", "pending_share"]].sum(axis=1)
    assert np.allclose(shares[flow["reached"] > 0], 1.0)
    f = canvas.feeling
    answered = f["emotion"].notna()
    assert f["emotion"][answered].between(-1, 1).all()
    assert (f["emotion_low"][answered] <= f["emotion"][answered] + 1e-12).all()
    assert (f["emotion"][answered] <= f["emotion_high"][answered] + 1e-12).all()
    assert f["peak"].sum() == f["end"].sum() == int(answered.any())
    if answered.any():
        size = f["emotion"].abs().where(answered, -1)
        assert size[f["peak"]].iloc[0] == size.max()
        assert f.index[f["end"]][0] == f.index[answered][-1]
    pains = canvas.pains
    assert pains["rank"].tolist() == list(range(1, len(pains) + 1))
    assert set(pains["kind"]) <= {"drop_off", "wait", "effort", "unresolved", "bad_experience"}
    minimum = canvas.info["min_customers"]
    assert (pains["few"] == (pains["customers"] < minimum)).all()
    assert (f["few"] == (f["respondents"] < minimum)).all()
    assert (flow["few"] == (flow["reached"] < minimum)).all()


def test_every_canvas_of_the_sample_keeps_the_invariants(without_bundle):
    canvases = all_canvases(without_bundle)
    assert len(canvases) == 1 + len(without_bundle.personas) > 2
    for canvas in canvases:
        check_invariants(canvas)
        assert canvas.info["pains_ranked_by"] == "size"
        assert canvas.opportunities.empty
    whole = canvases[0]
    assert whole.info["n_customers"] == sum(c.info["n_customers"] for c in canvases[1:])
    assert whole.info["n_events"] == sum(c.info["n_events"] for c in canvases[1:])


def test_with_a_bundle_pains_rank_by_the_churn_they_explain(with_bundle, without_bundle):
    for canvas in all_canvases(with_bundle):
        check_invariants(canvas)
        assert canvas.info["pains_ranked_by"] == "churn model"
        explained = canvas.pains["churn_explained"].to_numpy(dtype=float)
        known = explained[~np.isnan(explained)]
        assert len(known) and ((known >= 0) & (known <= 1)).all()
        assert (np.diff(known) <= 1e-12).all()  # ranked by it, the unknown ones last
        o = canvas.opportunities
        assert (o["risk_reduction"] > 0).all()
        assert set(o["status"]) <= {"missing", "worth testing"}
        first = o["status"].to_numpy() == "missing"
        assert not (first[1:] & ~first[:-1]).any()  # the missing ones first
        assert (o.loc[first, "risk_reduction_low"].fillna(1) > 0).all()
        assert (o[~first].groupby("stage").size() <= 2).all()
    # the attributions share: the kinds' shares of the positive push never exceed 1
    churn = with_bundle.canvas_stages.filter(like="churn_")
    assert (churn.sum(axis=1).dropna() <= 1 + 1e-9).all()
    # the same flows with and without a model
    pd.testing.assert_frame_equal(with_bundle.canvas().flow, without_bundle.canvas().flow)


def test_opportunities_keep_only_flagged_positive_certain_ones(sample_log):
    report = journey_map(sample_log, by="segment", cutoff="2024-06-01")
    stages = report.stages["stage"].tolist()
    frame = sample_log.frame
    ids = frame.loc[frame["timestamp"] <= pd.Timestamp("2024-06-01", tz="UTC"), "customer_id"]
    ids = ids.unique()[:400]
    effects = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, 4),
            "stage": stages[1],
            "touchpoint": np.tile(["live_chat", "email", "consultation", "free_trial"], len(ids)),
            "risk_reduction": np.tile([0.04, -0.02, 0.03, 0.002], len(ids)),
            "risk_reduction_low": np.tile([0.01, -0.05, -0.01, -0.001], len(ids)),
            "risk_reduction_high": np.tile([0.07, 0.01, 0.06, 0.005], len(ids)),
            "evidence": np.tile([120, 800, 9, 300], len(ids)),
        }
    )
    with_effects = journey_map(
        sample_log, by="segment", cutoff="2024-06-01", effects=effects, low_use=1.0
    )
    o = with_effects.canvas().opportunities
    # email does not help; consultation's interval includes no effect: worth testing; free
    # trial's could at best cut half a point: not worth a test
    assert o[["touchpoint", "status"]].values.tolist() == [
        ["live_chat", "missing"],
        ["consultation", "worth testing"],
    ]
    assert o["few"].tolist() == [False, True]  # consultation's estimate rests on 9 customers
    row = o.iloc[0]
    assert row["stage"] == stages[1]
    assert row[["risk_reduction", "risk_reduction_low", "risk_reduction_high"]].tolist() == (
        pytest.approx([0.04, 0.01, 0.07])
    )
    assert row["evidence"] == 120 and not row["few"]
    assert row["text"] == "Live chat: 4.0 points less drop-off risk (1.0 to 7.0)"
    table = with_effects.opportunities.set_index("touchpoint")
    assert table.loc["consultation", "evidence"] == 9
    assert table.loc["email", "risk_reduction_high"] == pytest.approx(0.01)


# --------------------------------------------------------------------------- comparison
def synthetic(persona, *, drop_off, conversion, emotion, days, missing=(), customers=200):
    """A canvas of two stages with the given per-stage numbers (no pains)."""
    stages = ("browse", "buy")
    reached = np.array([customers, customers // 2])
    flow = pd.DataFrame(
        {
            "stage": stages,
            "customers": [customers, customers // 2],
            "reached": reached,
            "median_days": days,
            "moved_on": [customers // 2, 0],
            "dropped_off": [customers // 2, 0],
            "pending": [0, customers // 2],
            "moved_on_share": [0.5, 0.0],
            "dropped_off_share": [0.5, 0.0],
            "pending_share": [0.0, 1.0],
            "conversion": conversion,
            "drop_off": drop_off,
            "few": [False, False],
        }
    )
    feeling = pd.DataFrame(
        {"stage": stages, "emotion": emotion, "respondents": [customers, customers]}
    )
    pains = pd.DataFrame(
        {
            "stage": ["buy"] if persona == "deal_seeker" else [],
            "kind": ["unresolved"] if persona == "deal_seeker" else [],
            "metric": [0.4] if persona == "deal_seeker" else [],
            "customers": [min(80, customers)] if persona == "deal_seeker" else [],
            "text": ["40% of tickets opened here stay unresolved"]
            if persona == "deal_seeker"
            else [],
        }
    )
    opportunities = pd.DataFrame(
        {
            "stage": [s for s, _ in missing],
            "touchpoint": [t for _, t in missing],
            "risk_reduction": [0.05] * len(missing),
        }
    )
    return JourneyCanvas(
        stages=stages,
        persona=persona,
        by="segment",
        doing=pd.DataFrame(),
        feeling=feeling,
        pains=pains,
        opportunities=opportunities,
        flow=flow,
        info={"min_customers": 30},
    )


def test_comparison_says_the_differences_that_matter_most_first():
    deal = synthetic(
        "deal_seeker",
        drop_off=[0.46, 0.1],
        conversion=[0.5, np.nan],
        emotion=[-0.5, 0.1],
        days=[4.0, 10.0],
        missing=[("browse", "live_chat")],
    )
    regular = synthetic(
        "regular",
        drop_off=[0.2, 0.11],
        conversion=[0.55, np.nan],
        emotion=[-0.2, 0.15],
        days=[4.0, 30.0],
    )
    texts = compare_canvases(deal, regular).differences["text"].tolist()
    assert texts == [
        "Deal seeker customers drop off 2.3\u00d7 more in browse; live chat is missing for them",
        "Deal seeker customers feel worse in browse: -0.50 against -0.20 (from -1 to 1)",
        "Regular customers stay 3.0\u00d7 longer in buy",
        "Deal seeker customers in buy: 40% of tickets opened here stay unresolved; "
        "not so for regular customers",
    ]
    # conversion 5 points apart and a buy drop-off of 0.10 against 0.11 are not worth saying
    differences = compare_canvases(regular, deal, top=2).differences
    assert len(differences) == 2
    assert differences["kind"].tolist() == ["drop_off", "emotion"]
    assert differences.loc[0, "ratio"] == pytest.approx(0.2 / 0.46)


def test_comparison_needs_enough_customers_on_both_sides():
    deal = synthetic(
        "deal_seeker",
        drop_off=[0.6, 0.1],
        conversion=[0.2, np.nan],
        emotion=[-0.9, 0.1],
        days=[1.0, 1.0],
        missing=[("browse", "live_chat")],
        customers=20,
    )
    regular = synthetic(
        "regular",
        drop_off=[0.1, 0.1],
        conversion=[0.9, np.nan],
        emotion=[0.5, 0.1],
        days=[9.0, 1.0],
    )
    assert compare_canvases(deal, regular).differences.empty
    with pytest.raises(ValueError, match="different stages"):
        compare_canvases(deal, JourneyCanvas(("a",), None, None, *[pd.DataFrame()] * 5))


def test_report_compare_names_the_personas(without_bundle):
    a, b = without_bundle.personas[:2]
    comparison = without_bundle.compare(a, b)
    assert comparison.left.persona == a and comparison.right.persona == b
    d = comparison.differences
    assert len(d) <= 6
    assert set(d["kind"]) <= {"drop_off", "conversion", "emotion", "days", "missing", "pain"}
    assert (d["customers"] >= 30).all()
    assert all(cjml.i18n.label_text(a) in t or cjml.i18n.label_text(b) in t for t in d["text"])


# --------------------------------------------------------------------------- property
TOUCHPOINTS = ["ad", "store", "signup", "payment", "support_ticket", "ticket_resolved"]


@pytest.mark.filterwarnings("ignore:Found .* duplicate event")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 7),  # customer
            st.integers(0, 60),  # day
            st.sampled_from(TOUCHPOINTS),
            st.one_of(st.none(), st.integers(1, 5)),  # satisfaction
        ),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(["5D", "20D"]),
)
def test_flow_always_adds_up(events, horizon):
    frame = pd.DataFrame(events, columns=["customer_id", "day", "touchpoint", "satisfaction"])
    frame["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.pop("day"), "D")
    frame["satisfaction"] = frame["satisfaction"].astype(float)
    frame["segment"] = np.where(frame["customer_id"] % 2 == 0, "even", "odd")
    report = journey_map(
        cjml.read_events(frame, journey_map=MAP), by="segment", horizon=horizon, min_customers=1
    )
    for canvas in all_canvases(report):
        check_invariants(canvas)
