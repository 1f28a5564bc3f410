"""Drafting a journey map from a log's own stages and touchpoints (cjml.draft_journey_map,
JourneyMap.to_toml, cjml draft-map)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml import draft_journey_map
from cjml._map_draft import _says_service
from cjml.cli import main
from cjml.datasets import make_scenario
from cjml.journey import JourneyMap


@pytest.mark.parametrize("world", ["silent_leavers", "bank_stage_effects"])
def test_a_draft_recovers_a_worlds_stages_in_order_and_reads_its_log(world):
    data = make_scenario(world, 1500, 0)
    drafted = draft_journey_map(data.events)
    assert drafted.stages == data.journey_map.stages
    assert set(drafted.touchpoint_names) == set(data.events["touchpoint"].unique())
    assert not drafted.actionable_touchpoints  # which the business delivers is the user's call
    log = cjml.read_events(data.events, journey_map=drafted)
    assert log.n_events == len(data.events)
    # each touchpoint is listed in the stages where its events happened (1% or more of them)
    counts = pd.crosstab(data.events["touchpoint"], data.events["stage"])
    for t in drafted.touchpoints:
        seen = counts.loc[t.name]
        assert set(t.stages) == {s for s in seen.index if seen[s] >= 0.01 * seen.sum()}


def test_min_share_leaves_out_a_stray_stage():
    events = pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(200), 2),
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(np.tile([0, 5], 200), unit="D"),
            "touchpoint": np.tile(["visit", "purchase"], 200),
            "stage": np.tile(["browsing", "buying"], 200),
        }
    )
    events.loc[0, "stage"] = "buying"  # one visit of 200 logged in the later stage
    assert draft_journey_map(events).to_dict()["touchpoints"]["visit"]["stages"] == ["browsing"]
    assert draft_journey_map(events, min_share=0).to_dict()["touchpoints"]["visit"]["stages"] == [
        "browsing",
        "buying",
    ]


def test_a_name_written_two_ways_is_pointed_out_before_it_splits_the_draft():
    events = _funnel(200).rename(columns={"touchpoint": "event"})
    events.loc[events.index[::9], "event"] = events["event"].iloc[::9].str.title() + " "
    with pytest.warns(UserWarning) as caught:
        drafted = draft_journey_map(events, columns={"touchpoint": "event"})
    (said,) = [str(w.message) for w in caught if "more than one way" in str(w.message)]
    assert "Column 'event' (touchpoint) writes " in said
    assert "'Cart ' and 'cart'" in said
    assert "df['event'] = df['event'].str.strip().str.lower()" in said
    # the draft still lists what the log holds: the warning is the user's cue to clean it
    assert {"Cart ", "cart"} <= set(drafted.touchpoint_names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draft_journey_map(_funnel(200))  # one way each: no warning


def _funnel(n_customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """A shop's clickstream with no stage column: every customer browses, fewer reach the
    cart, fewer check out, fewer buy; a rare error page comes late in some journeys."""
    rng = np.random.default_rng(seed)
    steps = [["home", "catalog"], ["cart"], ["checkout"], ["purchase"]]
    rows = []
    for c in range(n_customers):
        depth = rng.choice(4, p=[0.25, 0.25, 0.25, 0.25])
        day = 0.0
        for level in range(depth + 1):
            for touchpoint in steps[level]:
                day += rng.exponential(2)
                rows.append((c, day, touchpoint))
        if depth >= 2 and rng.random() < 0.1:  # 5% of customers, after the checkout
            rows.append((c, day + 0.5, "error_page"))
        for _ in range(rng.integers(0, 3)):  # browsing goes on at every stage
            day += rng.exponential(5)
            rows.append((c, day, "catalog"))
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "touchpoint"])
    frame["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.pop("day"), unit="D")
    return frame


def test_a_log_without_a_stage_column_gets_stages_of_funnel_depth():
    events = _funnel()
    drafted = draft_journey_map(events)
    # each stage begins where fewer customers went on; the rare error page begins none
    assert drafted.stages == ("1_home", "2_cart", "3_checkout", "4_purchase")
    spec = drafted.to_dict()["touchpoints"]
    assert spec["catalog"]["stages"] == list(drafted.stages)  # browsing goes on at every stage
    assert spec["checkout"]["stages"] == ["3_checkout", "4_purchase"]
    assert spec["error_page"]["stages"][0] in ("3_checkout", "4_purchase")
    assert not drafted.actionable_touchpoints
    # a customer's stage is the deepest reached so far
    log = cjml.read_events(events, journey_map=drafted)
    frame = log.frame
    last = frame.groupby("customer_id", observed=True)["stage"].last().astype(str)
    deepest = events.groupby("customer_id")["touchpoint"].agg(
        lambda t: (
            "4_purchase"
            if "purchase" in set(t)
            else "3_checkout"
            if "checkout" in set(t)
            else "2_cart"
            if "cart" in set(t)
            else "1_home"
        )
    )
    assert (last.sort_index() == deepest.sort_index()).all()
    # fewer stages when asked; every touchpoint's stages are its own and every later one
    two = draft_journey_map(events, n_stages=2)
    assert len(two.stages) == 2 and two.stages[0] == "1_home"
    for t in two.touchpoints:
        assert list(t.stages) == list(two.stages[two.stages.index(t.stages[0]) :])
    assert draft_journey_map(events, n_stages=1).stages == ("1_home",)


def test_a_cancellation_ends_journeys_but_never_begins_a_stage():
    # nearly every customer cancels at the end of their journey: reached by enough of them
    # to begin a stage, and last in journey order (with six stages asked for, it began the
    # sixth), but no customer's stage is "cancelled"
    events = _funnel()
    rng = np.random.default_rng(1)
    last = events.groupby("customer_id")["timestamp"].max()
    leaving = last[rng.random(len(last)) < 0.95]
    cancelled = pd.DataFrame(
        {
            "customer_id": leaving.index,
            "timestamp": leaving.to_numpy() + pd.Timedelta(days=1),
            "touchpoint": "subscription_cancelled",
        }
    )
    drafted = draft_journey_map(pd.concat([events, cancelled], ignore_index=True), n_stages=6)
    assert drafted.stages == ("1_home", "2_catalog", "3_cart", "4_checkout", "5_purchase")
    spec = drafted.to_dict()["touchpoints"]["subscription_cancelled"]
    assert spec["churn"] is True and spec["stages"][-1] == "5_purchase"


def test_a_service_contact_comes_at_any_step_and_never_begins_a_stage():
    # half of the customers file a support ticket at a random point of their journey: reached
    # by enough of them to begin a stage (as the SaaS export's tickets began "2_support_ticket"),
    # yet no step of the funnel
    events = _funnel()
    rng = np.random.default_rng(2)
    some = events.groupby("customer_id").sample(1, random_state=3)
    some = some[rng.random(len(some)) < 0.5]
    tickets = some.assign(
        timestamp=some["timestamp"] + pd.Timedelta(minutes=1), touchpoint="Support Ticket"
    )
    drafted = draft_journey_map(pd.concat([events, tickets], ignore_index=True), n_stages=6)
    assert not any("Support" in stage for stage in drafted.stages)
    assert drafted.stages[0] == "1_home" and "4_purchase" in drafted.stages[-1]
    assert [_says_service(t) for t in ("support_ticket", "Complaint filed", "refund_issued")] == [
        True,
        True,
        True,
    ]
    assert not any(_says_service(t) for t in ("purchase", "supporter_badge", "cart", "returning"))


def test_stages_are_drafted_only_without_a_stage_column():
    with pytest.raises(ValueError, match="has one \\('stage'\\), and its own stages are used"):
        draft_journey_map(make_scenario("silent_leavers", 300, 0).events, n_stages=3)
    for wrong in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_stages must be a whole number of at least 1"):
            draft_journey_map(_funnel(50), n_stages=wrong)


def test_the_command_drafts_stages_for_a_clickstream(tmp_path, capsys):
    source = tmp_path / "clicks.csv"
    _funnel().rename(columns={"customer_id": "user_id", "touchpoint": "event"}).to_csv(
        source, index=False
    )
    columns = "customer_id=user_id,touchpoint=event"
    # refused without a map, with the way out named
    assert main(["validate", str(source), "--columns", columns]) == 1
    assert "cjml draft-map EVENTS --out map.toml drafts one" in capsys.readouterr().err
    out = tmp_path / "shop.toml"
    argv = ["draft-map", str(source), "--columns", columns, "--out", str(out), "--stages", "3"]
    assert main(argv) == 0
    assert "3 stages (1_home > " in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.startswith(
        "# A journey map drafted by cjml draft-map from clicks.csv (no stage column)."
    )
    assert main(["validate", str(source), "--columns", columns, "--map", str(out)]) == 0
    # in Python too, a file's map is named after it
    assert draft_journey_map(source, columns=columns).name == "clicks"
    assert draft_journey_map(_funnel(50)).name == "drafted"


_NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda s: s.strip() == s
)


@settings(max_examples=60, deadline=None)
@given(
    # "dropped" is reserved: the next-stage label of customers who leave
    stages=st.lists(_NAMES.filter(lambda s: s != "dropped"), min_size=1, max_size=4, unique=True),
    names=st.lists(_NAMES, min_size=1, max_size=4, unique=True),
    cost=st.none() | st.floats(0, 1e6, allow_nan=False),
    description=st.text(max_size=20),
)
def test_to_toml_reads_back_as_the_same_map(tmp_path_factory, stages, names, cost, description):
    spec = {
        "name": 'any "name" \\ here',
        "stages": stages,
        "touchpoints": {
            n: {
                "channel": "offline" if k % 2 else "online",
                "stages": stages[: k % len(stages) + 1],
                "actionable": bool(k % 2),
                **({} if cost is None else {"cost": cost}),
                **({"description": description} if description else {}),
                **({"purchase": True} if k % 3 == 0 else {}),
            }
            for k, n in enumerate(names)
        },
    }
    jmap = JourneyMap.from_dict(spec)
    path = tmp_path_factory.mktemp("toml") / "map.toml"
    path.write_text(jmap.to_toml("a header\non two lines"), encoding="utf-8")
    assert JourneyMap.from_file(path).to_dict() == jmap.to_dict()


def test_the_draft_marks_the_purchases_and_the_value_features_count_them(tmp_path, capsys):
    # a clickstream's payment_done carries no amount: without a mark the value family
    # counted no purchase at all
    rows = []
    for c in range(60):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=c % 20)
        steps = ["paid_ad", "purchase_page_view", "payment_done", "invoice_paid"]
        steps += ["subscription"] if c % 2 else []
        for k, t in enumerate(steps[: 2 + c % 4] if c % 2 == 0 else steps):
            amount = 9.5 if t == "subscription" else np.nan
            rows.append((c, day + pd.Timedelta(hours=k), t, amount))
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint", "amount"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jmap = draft_journey_map(events)
    # by name (payment_done, invoice_paid) or by amount (subscription); not paid_ad, nor a
    # page about purchasing
    assert set(jmap.purchase_touchpoints) == {"payment_done", "invoice_paid", "subscription"}
    log = cjml.read_events(events, journey_map=jmap)
    X = cjml.features.ValueFeatures().fit(log).transform(log)
    bought = events[events["touchpoint"].isin(jmap.purchase_touchpoints)]
    expected = bought.groupby("customer_id").size().reindex(X.index, fill_value=0)
    assert (X["purchases"] == expected).all() and expected.max() == 3
    assert X["total_amount"].max() == 9.5
    # the command says what it marked, and the file reads back with the marks
    source, out = tmp_path / "clicks.csv", tmp_path / "map.toml"
    events.to_csv(source, index=False)
    assert main(["draft-map", str(source), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "none actionable yet, payment_done, invoice_paid, subscription marked as " in said
    assert set(JourneyMap.from_file(out).purchase_touchpoints) == set(jmap.purchase_touchpoints)


def test_the_command_writes_a_map_that_train_can_use_and_never_overwrites(tmp_path, capsys):
    data = make_scenario("silent_leavers", 800, 1)
    events = data.events.rename(columns={"customer_id": "user", "stage": "phase"})
    source = tmp_path / "crm.csv"
    events.to_csv(source, index=False)
    columns = "customer_id=user,stage=phase"
    # without a map, the stages are refused with the way out named
    assert main(["validate", str(source), "--columns", columns]) == 1
    said = capsys.readouterr().err
    assert "cjml draft-map EVENTS --out map.toml drafts one from the data" in said
    assert "journey_map=" not in said  # command-line words only
    out = tmp_path / "crm.toml"
    assert main(["draft-map", str(source), "--columns", columns, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "5 stages (visitor > trial > paying > expanding > advocate)" in printed
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# A journey map drafted by cjml draft-map from crm.csv.")
    assert JourneyMap.from_file(out).name == "crm"
    assert main(["validate", str(source), "--columns", columns, "--map", str(out)]) == 0
    capsys.readouterr()
    # an existing map (the user's edits) is never replaced without --force
    out.write_text(text.replace("actionable = false", "actionable = true", 1), encoding="utf-8")
    assert main(["draft-map", str(source), "--columns", columns, "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert "actionable = true" in out.read_text(encoding="utf-8")


def test_the_journey_map_of_a_drafted_funnel_reads_right_in_its_last_stage():
    events = _funnel()
    report = cjml.journey_map(cjml.read_events(events, journey_map=draft_journey_map(events)))
    last = report.stages.iloc[-1]
    # nobody moves back from the deepest stage, so "of those whose outcome is known" would
    # be the silent ones alone (100%); staying active is the last stage's good outcome
    assert 0 < last["dropped"] < last["customers"]
    assert last["drop_off"] == pytest.approx(last["dropped"] / last["customers"])
    lines = report.to_text().splitlines()[1:5]
    # the columns line up whatever the stage names' length
    assert len({line.index("reached") for line in lines}) == 1


def test_purchases_too_rare_to_begin_a_stage_are_shown_how_to_get_one():
    """A web funnel where 1 in 10 buys: the draft begins no stage with the purchase, and says
    which milestones would; following it gives the purchases their stage."""
    events = _funnel(n_customers=600)
    buyers = events.loc[events["touchpoint"] == "purchase", "customer_id"].unique()
    kept = set(buyers[: len(buyers) * 2 // 5])  # about 10% of the customers
    events = events[(events["touchpoint"] != "purchase") | events["customer_id"].isin(kept)]
    with pytest.warns(UserWarning) as said:
        drafted = draft_journey_map(events)
    assert "4_purchase" not in drafted.stages
    (message,) = [str(w.message) for w in said if "begins no stage" in str(w.message)]
    assert message.startswith("'purchase' (marked as a purchase) begins no stage: only 10% of")
    assert "at least 20% of them met" in message
    milestones = message.split("--milestones ")[1].split(" ")[0]
    assert milestones == "cart,checkout,purchase"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # told to, the draft says nothing more
        again = draft_journey_map(events, milestones=milestones)
    assert again.stages == ("1_home", "2_cart", "3_checkout", "4_purchase")
    # where enough customers buy, no such warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draft_journey_map(_funnel())


def test_the_users_milestones_begin_the_stages_and_only_they_move_a_customer():
    events = _funnel()
    drafted = draft_journey_map(events, milestones="cart,purchase")
    assert drafted.stages == ("1_home", "2_cart", "3_purchase")
    spec = drafted.to_dict()["touchpoints"]
    assert spec["cart"]["stages"] == ["2_cart", "3_purchase"]
    assert spec["purchase"]["stages"] == ["3_purchase"]
    # checkout is no milestone: it never moves a customer, and happens from the cart on
    assert spec["checkout"]["stages"] == ["2_cart", "3_purchase"]
    frame = cjml.read_events(events, journey_map=drafted).frame
    last = frame.groupby("customer_id", observed=True)["stage"].last().astype(str).sort_index()
    met = events.groupby("customer_id")["touchpoint"].agg(set).sort_index()
    expected = met.map(
        lambda t: "3_purchase" if "purchase" in t else "2_cart" if "cart" in t else "1_home"
    )
    assert (last == expected).all()
    # the same through a list, in the order given
    assert draft_journey_map(events, milestones=["cart", "purchase"]).stages == drafted.stages
    # every touchpoint a milestone: the first stage is the start, before any of them
    every = ["home", "catalog", "cart", "checkout", "purchase", "error_page"]
    assert draft_journey_map(events, milestones=every).stages[:2] == ("1_start", "2_home")


def test_milestones_are_checked():
    events = _funnel(60)
    with pytest.raises(
        ValueError, match="'chekout' .* is not a touchpoint of this log. Did you mean 'checkout'"
    ):
        draft_journey_map(events, milestones="cart,chekout")
    with pytest.raises(ValueError, match="names a touchpoint twice"):
        draft_journey_map(events, milestones="cart,cart")
    with pytest.raises(ValueError, match="not both"):
        draft_journey_map(events, milestones="cart", n_stages=3)
    with pytest.raises(ValueError, match=r"milestones \(--milestones\) drafts stages"):
        draft_journey_map(make_scenario("silent_leavers", 300, 0).events, milestones="x")


def test_a_large_vocabulary_is_ordered_by_its_most_reached_values_and_depth(monkeypatch):
    """Pairs of values cost values² x customers (14.5 s for 2,775 URLs and 800
    customers): beyond _PAIRWISE_VALUES only the most reached are ranked pairwise and
    the others go where their median depth puts them."""
    import cjml._map_draft as draft

    steps = list("abcdefgh")
    rows = []
    for c in range(60):
        reach = 8 if c % 3 else 4  # a third stop half way: the first four are most reached
        for k, step in enumerate(steps[:reach]):
            rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=k + c % 2), step))
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint"])
    full = draft._journey_order(frame, "touchpoint")
    monkeypatch.setattr(draft, "_PAIRWISE_VALUES", 3)
    assert draft._journey_order(frame, "touchpoint") == full == steps


def test_a_vocabulary_of_urls_is_drafted_with_a_warning_to_group_it():
    rng = np.random.default_rng(0)
    n = 3000
    events = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 200, n),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
            "touchpoint": [f"/product/{k}" for k in rng.integers(0, 400, n)],
        }
    )
    with pytest.warns(UserWarning, match=r"The draft lists \d{3} touchpoints.*pages or URLs"):
        drafted = draft_journey_map(events)
    assert len(drafted.touchpoint_names) == events["touchpoint"].nunique()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draft_journey_map(_funnel(200))  # a funnel's few steps: nothing to say
