"""Bring your own data: a SaaS log with its own column names and journey map, through the CLI.

A newcomer's export does not look like the sample: other column names (``user``,
``event_time``, ``action``, ``phase``, ``medium``, ``csat``, ``revenue``), text
customer ids, shuffled rows, a funnel of its own (visitor, trial, paying,
expanding, advocate) and touchpoints of its own, some of which the business
can trigger, at a cost. ``validate``, ``train``, ``score``, ``recommend`` and
``journey-map`` must all run on it with ``--columns`` and ``--map`` alone, and
speak its vocabulary back.

The log is simulated here with numpy (about 2,500 customers over eight months,
a second to make): customers arrive, move up the funnel, open tickets, pay
monthly invoices and go silent for good at a daily hazard. Bad support
experiences raise the hazard for good; sales demos, success calls, discount
offers and onboarding emails lower it for 30 days (and speed progression);
repeated webinar invites do nothing but tire. The business contacts customers
at random among the touchpoints the map allows in their stage, so the models
have something to learn.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import shlex
import textwrap
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.cli import main
from cjml.i18n import label_text

README = Path(__file__).resolve().parents[1] / "README.md"
STAGES = ["visitor", "trial", "paying", "expanding", "advocate"]
COLUMNS = (
    "customer_id=user,timestamp=event_time,touchpoint=action,stage=phase,"
    "channel=medium,satisfaction=csat,amount=revenue"
)
# Observed touchpoints: what customers do in each stage, with relative frequencies.
OBSERVED: dict[str, dict[str, float]] = {
    "visitor": {"blog_visit": 3, "pricing_page": 1},
    "trial": {"login": 3, "feature_use": 3, "pricing_page": 1, "support_ticket": 0.4},
    "paying": {"login": 3, "feature_use": 4, "support_ticket": 0.5},
    "expanding": {"login": 3, "feature_use": 5, "support_ticket": 0.5},
    "advocate": {"login": 2, "feature_use": 4, "support_ticket": 0.3},
}
# Actionable touchpoints: stages, unit cost, churn-hazard multiplier for 30 days, progression boost.
ACTIONABLE = {
    "onboarding_email": (["trial"], 0.1, 0.8, 1.5),
    "sales_demo": (["trial", "paying"], 40.0, 0.5, 2.5),
    "success_call": (["paying", "expanding"], 15.0, 0.4, 1.5),
    "discount_offer": (["trial", "paying"], 10.0, 0.7, 2.0),
    "webinar_invite": (STAGES, 0.5, 1.0, 1.0),
}
MOVES = ["signup", "invoice_paid", "seat_added", "review_posted"]  # the event of each step up
PLANS = {"starter": (29.0, 0.6, 1.3), "team": (99.0, 0.3, 0.9), "enterprise": (499.0, 0.1, 0.6)}

MAP_TOML = """\
name = "saas"
stages = ["visitor", "trial", "paying", "expanding", "advocate"]

[touchpoints]
# observed: what customers do
blog_visit = { channel = "online", stages = ["visitor"] }
pricing_page = { channel = "online", stages = ["visitor", "trial"] }
signup = { channel = "online", stages = ["visitor", "trial"] }
login = { channel = "online", stages = ["trial", "paying", "expanding", "advocate"] }
feature_use = { channel = "online", stages = ["trial", "paying", "expanding", "advocate"] }
invoice_paid = { channel = "online", stages = ["paying", "expanding", "advocate"] }
support_ticket = { channel = "online", stages = ["trial", "paying", "expanding", "advocate"] }
seat_added = { channel = "online", stages = ["paying", "expanding"] }
review_posted = { channel = "online", stages = ["advocate"] }

# actionable: what the business can deliver, at a unit cost
[touchpoints.onboarding_email]
channel = "online"
stages = ["trial"]
actionable = true
cost = 0.1

[touchpoints.sales_demo]
channel = "offline"
stages = ["trial", "paying"]
actionable = true
cost = 40.0

[touchpoints.success_call]
channel = "offline"
stages = ["paying", "expanding"]
actionable = true
cost = 15.0

[touchpoints.discount_offer]
channel = "online"
stages = ["trial", "paying"]
actionable = true
cost = 10.0

[touchpoints.webinar_invite]
channel = "online"
stages = ["visitor", "trial", "paying", "expanding", "advocate"]
actionable = true
cost = 0.5
"""  # the same as in the README's "Bring your own data"

RULES_TOML = textwrap.dedent("""\
    exclude = ["discount_offer"]
    [caps]
    webinar_invite = { max = 1, days = 30 }
    """)


def simulate_saas(n_customers=2500, n_days=240, seed=0) -> pd.DataFrame:
    """A shuffled SaaS event log with its own column names (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = n_customers
    arrive = rng.integers(0, n_days - 45, n)
    plan = rng.choice(len(PLANS), n, p=[p[1] for p in PLANS.values()])
    price = np.array([p[0] for p in PLANS.values()])[plan]
    plan_hazard = np.array([p[2] for p in PLANS.values()])[plan]
    stage = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    protected = np.zeros(n)  # days left of a touchpoint's effect
    protect_mult, boost, grudge, webinars = np.ones(n), np.ones(n), np.ones(n), np.zeros(n)
    next_invoice = np.full(n, -1)
    base_hazard = np.array([0.05, 0.02, 0.006, 0.004, 0.003])
    p_event = np.array([0.25, 0.45, 0.35, 0.4, 0.3])
    p_move = np.array([0.05, 0.025, 0.012, 0.01, 0.0])
    actions = list(ACTIONABLE)
    eligible = [[k for k, t in enumerate(actions) if s in ACTIONABLE[t][0]] for s in STAGES]
    mult = np.array([ACTIONABLE[t][2] for t in actions])
    speed = np.array([ACTIONABLE[t][3] for t in actions])
    webinar = actions.index("webinar_invite")
    names = sorted({t for d in OBSERVED.values() for t in d} | set(actions) | set(MOVES))
    code = {t: k for k, t in enumerate(names)}
    observed = [
        (
            np.array([code[t] for t in OBSERVED[s]]),
            np.array(list(OBSERVED[s].values())) / sum(OBSERVED[s].values()),
        )
        for s in STAGES
    ]
    parts: dict[str, list] = {k: [] for k in ("user", "day", "tp", "stage", "csat", "revenue")}

    def emit(who, day, tp, csat=None, revenue=None):
        parts["user"].append(who)
        parts["day"].append(np.full(len(who), day))
        parts["tp"].append(np.broadcast_to(np.asarray(tp, dtype=np.int64), len(who)))
        parts["stage"].append(stage[who].copy())
        parts["csat"].append(np.full(len(who), np.nan) if csat is None else csat)
        parts["revenue"].append(np.full(len(who), np.nan) if revenue is None else revenue)

    for day in range(n_days):
        emit(np.flatnonzero(arrive == day), day, code["blog_visit"])
        here = alive & (arrive < day)
        hazard = (
            base_hazard[stage]
            * plan_hazard
            * grudge
            * np.where(protected > 0, protect_mult, 1.0)
            * (1 + 0.2 * np.maximum(webinars - 2, 0))
        )
        alive &= ~(here & (rng.random(n) < hazard))
        here &= alive
        protected = np.maximum(protected - 1, 0)
        # the business: a random eligible actionable touchpoint for about 4% of customers a day
        contact = np.flatnonzero(here & (rng.random(n) < 0.04))
        pick = np.empty(len(contact), dtype=np.int64)
        for s, allowed in enumerate(eligible):
            at = stage[contact] == s
            pick[at] = np.asarray(allowed)[rng.integers(len(allowed), size=at.sum())]
        webinars[contact[pick == webinar]] += 1
        helped, how = contact[pick != webinar], pick[pick != webinar]
        protected[helped], protect_mult[helped], boost[helped] = 30, mult[how], speed[how]
        emit(contact, day, [code[actions[k]] for k in pick])
        # the customers: observed touchpoints; low CSAT on a ticket leaves a grudge
        active = np.flatnonzero(here & (rng.random(n) < p_event[stage] / np.sqrt(grudge)))
        tps = np.empty(len(active), dtype=np.int64)
        for s, (codes, weights) in enumerate(observed):
            at = stage[active] == s
            tps[at] = rng.choice(codes, size=at.sum(), p=weights)
        csat = np.where(
            (tps == code["support_ticket"]) & (rng.random(len(active)) < 0.6),
            rng.choice(np.arange(1.0, 6.0), len(active), p=[0.15, 0.15, 0.2, 0.25, 0.25]),
            np.nan,
        )
        grudge[active[csat <= 2]] *= 1.8
        emit(active, day, tps, csat=csat)
        # moving up: the step's event, in the new stage; paying starts the monthly invoices
        move = np.flatnonzero(
            here & (rng.random(n) < p_move[stage] * np.where(protected > 0, boost, 1.0))
        )
        stage[move] += 1
        other = move[stage[move] != 2]
        emit(other, day, [code[MOVES[s - 1]] for s in stage[other]])
        next_invoice[move[stage[move] == 2]] = day
        bill = np.flatnonzero(alive & (next_invoice == day))
        next_invoice[bill] = day + 30
        emit(
            bill,
            day,
            code["invoice_paid"],
            revenue=price[bill] * np.where(stage[bill] >= 3, 1.5, 1.0),
        )

    cat = {k: np.concatenate(v) for k, v in parts.items()}
    seconds = cat["day"] * 86_400 + rng.integers(0, 86_400, len(cat["day"]))
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(seconds, unit="s")
    tp = np.asarray(names, dtype=object)[cat["tp"]]
    medium = np.where(
        np.isin(tp, ["onboarding_email", "discount_offer", "webinar_invite"]),
        "email",
        np.where(np.isin(tp, ["sales_demo", "success_call"]), "phone", "web"),
    )
    events = pd.DataFrame(
        {
            "user": np.char.add("u", np.char.zfill(cat["user"].astype(str), 5)),
            "event_time": when.strftime("%Y-%m-%d %H:%M:%S"),
            "action": tp,
            "phase": np.asarray(STAGES, dtype=object)[cat["stage"]],
            "medium": medium,
            "csat": cat["csat"],
            "revenue": cat["revenue"],
            "plan": np.asarray(list(PLANS), dtype=object)[plan[cat["user"]]],
        }
    )
    return events.sample(frac=1, random_state=seed, ignore_index=True)


def cli(*args) -> tuple[int, str, str]:
    """Run the cjml command line in process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def current_stage(events: pd.DataFrame) -> pd.Series:
    """Each user's stage at their last event (the scoring and recommending cutoff)."""
    last = events.sort_values("event_time", kind="stable").groupby("user").tail(1)
    return last.set_index("user")["phase"]


def eligible_in(stage: str) -> set[str]:
    return {t for t, (stages, *_) in ACTIONABLE.items() if stage in stages}


@pytest.fixture(scope="module")
def saas(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("byod")
    events = simulate_saas()
    events.to_csv(folder / "events.csv", index=False)
    (folder / "saas.toml").write_text(MAP_TOML)
    (folder / "rules.toml").write_text(RULES_TOML)
    return SimpleNamespace(
        folder=folder,
        events=events,
        csv=folder / "events.csv",
        map=folder / "saas.toml",
        rules=folder / "rules.toml",
    )


@pytest.fixture(scope="module")
def trained(saas) -> SimpleNamespace:
    model = saas.folder / "models" / "saas.cjml"
    code, out, err = cli(
        "train",
        saas.csv,
        "--map",
        saas.map,
        "--columns",
        COLUMNS,
        "--out",
        model,
        "--n-cutoffs",
        6,
        "--step",
        "15D",
        "--quiet",
    )
    assert code == 0, err
    return SimpleNamespace(path=model, out=out, err=err)


def test_the_simulated_log_is_a_plausible_saas_history(saas):
    events = saas.events
    assert events["user"].nunique() == 2500
    assert 30_000 < len(events) < 80_000
    assert set(events["phase"]) == set(STAGES)
    counts = events["action"].value_counts()
    assert all(counts[t] >= 100 for t in ACTIONABLE), counts  # every lever is pulled
    assert events["revenue"].notna().sum() == counts["invoice_paid"]
    jm = cjml.JourneyMap.from_file(saas.map)
    assert jm.stages == tuple(STAGES) and jm.actionable_touchpoints == tuple(ACTIONABLE)
    assert jm.costs() == {
        t: (ACTIONABLE[t][1] if t in ACTIONABLE else None) for t in jm.touchpoint_names
    }
    assert set(jm.touchpoint_names) == set(events["action"])


def test_validate_with_column_mapping_and_custom_map(saas):
    code, out, err = cli("validate", saas.csv, "--map", saas.map, "--columns", COLUMNS)
    assert code == 0, err
    assert "journey map 'saas'" in out and "2,500 customers" in out
    for name in [*STAGES, *ACTIONABLE, "invoice_paid", "feature_use"]:
        assert name in out
    # without the mapping, the message names each missing column and the user's likely one
    code, out, err = cli("validate", saas.csv, "--map", saas.map)
    assert code == 1 and out == ""
    for canonical, theirs in [
        ("customer_id", "user"),
        ("timestamp", "event_time"),
        ("touchpoint", "action"),
    ]:
        assert f"'{canonical}'" in err and f"Did you mean '{theirs}'?" in err


def test_train_keeps_the_custom_vocabulary(saas, trained):
    assert trained.path.is_file()
    assert Path(f"{trained.path}.manifest.json").is_file()
    assert "rfm_logistic" in trained.out and "Saved the churn and next-stage models" in trained.out
    bundle = cjml.ModelBundle.load(trained.path)
    assert bundle.journey_map.name == "saas"
    assert bundle.journey_map.stages == tuple(STAGES)
    assert bundle.journey_map.actionable_touchpoints == tuple(ACTIONABLE)
    assert list(bundle.models["next_stage"].classes_) == [*STAGES, "dropped"]
    assert "touchpoint_response" in bundle.models  # it can recommend
    names = set(bundle.feature_names)
    assert {"count_onboarding_email", "days_since_sales_demo", "attribute_plan"} <= names
    churn = bundle.metadata["evaluation"]["churn"]
    assert churn["model"]["roc_auc"] > max(churn["prior"]["roc_auc"], churn["markov"]["roc_auc"])


def test_value_features_find_the_purchases_of_a_map_without_purchase(saas, trained):
    # Regression: the value family looked for a touchpoint named "purchase" only, so on a
    # map without one every customer had 0 purchases and 0 spend although the amounts were
    # mapped (amount=revenue). With the default setting it now takes the touchpoints that
    # carry an amount, here invoice_paid.
    bundle = cjml.ModelBundle.load(trained.path)
    value = next(f for f in bundle.featurizer.families_ if f.family == "value")
    assert value.purchase_touchpoints_ == ("invoice_paid",)
    log = cjml.read_events(saas.csv, columns=COLUMNS, journey_map=bundle.journey_map)
    X = bundle.featurizer.transform(log, cutoff="2024-07-01")
    paid = saas.events[
        (saas.events["action"] == "invoice_paid") & (saas.events["event_time"] <= "2024-07-01")
    ]
    assert X["purchases"].sum() == len(paid)
    assert X["total_amount"].sum() == pytest.approx(paid["revenue"].sum())


def test_score_speaks_the_custom_vocabulary(saas, trained):
    # `cjml score` has no --method and the policy chosen at training may well be "no action"
    # on 2,500 customers: score with a copy of the bundle that follows the per-customer best
    # ("dr-point"), so that there are recommendations to check in the custom vocabulary.
    bundle = cjml.ModelBundle.load(trained.path)
    policy = bundle.models["touchpoint_policy"]
    bundle.models["touchpoint_policy"] = dataclasses.replace(
        policy, policy="dr-point", touchpoint=None, stage_rule={}
    )
    model = bundle.save(saas.folder / "models" / "saas_dr_point.cjml")
    out = saas.folder / "scores.csv"
    code, stdout, err = cli(
        "score",
        model,
        saas.csv,
        "--columns",
        COLUMNS,
        "--out",
        out,
        "--top-k",
        2,
        "--quiet",
        "--include-inactive",
    )
    assert code == 0, err
    assert "2,500 customers at" in stdout
    scores = pd.read_csv(out)
    assert list(scores.columns) == [
        "customer_id",
        "churn_risk",
        "risk_band",
        "reach_probability",
        # the events have amounts: the bundle has a value model
        "expected_value",
        "expected_value_low",
        "expected_value_high",
        "value_at_risk",
        "next_stage",
        "next_stage_proba",
        "top_drivers",
        "recommended_touchpoint",
        "expected_risk_reduction",
        "expected_value_saved",
        "expected_risk_reduction_low",
        "expected_risk_reduction_high",
        "uncertain",
        "recommended_touchpoint_2",
        "expected_risk_reduction_2",
        "expected_value_saved_2",
        "status",
    ]
    assert sorted(scores["customer_id"]) == sorted(saas.events["user"].unique())
    scored = scores[scores["status"] == "scored"].set_index("customer_id")
    assert 500 < len(scored) < 2500
    assert scored["churn_risk"].between(0, 1).all()
    assert set(scored["next_stage"]) <= {*STAGES, "dropped"}
    assert scored["top_drivers"].notna().mean() > 0.9
    assert scores.loc[scores["status"] != "scored", "churn_risk"].isna().all()
    stage = current_stage(saas.events)
    for rank in ("", "_2"):
        chosen = scored[f"recommended_touchpoint{rank}"].dropna()
        assert len(chosen) > 0
        for customer, tp in chosen.items():
            assert tp in eligible_in(stage[customer]), (customer, stage[customer], tp)
        assert (scored.loc[chosen.index, f"expected_risk_reduction{rank}"] > 0).all()
    has = scored["recommended_touchpoint"].notna()
    low = scored["expected_risk_reduction_low"]
    assert scored.loc[has, "uncertain"].astype(bool).tolist() == (~(low[has] > 0)).tolist()
    assert scored.loc[~has, "uncertain"].isna().all()


def test_recommend_follows_the_map_and_the_rules(saas, trained):
    out = saas.folder / "actions.csv"
    # An explicit method: the policy chosen at training may recommend nothing on 2,500
    # customers, and the map and the rules are to be exercised on many recommendations. Not
    # "dr-point": in this world (random assignment) its effects are left unestimated for most
    # customers (propensity per event under the 5% overlap floor), only ~56 recommendations
    # remain; the response model ranks every customer.
    code, stdout, err = cli(
        "recommend",
        trained.path,
        saas.csv,
        "--map",
        saas.map,
        "--columns",
        COLUMNS,
        "--rules",
        saas.rules,
        "--out",
        out,
        "--method",
        "response",
        "--top-k",
        "3",
        # with values "auto" ranks by value saved, which leaves out every touchpoint that
        # costs more than it keeps (most of this world's): many are wanted here
        "--rank-by",
        "reduction",
    )
    assert code == 0, err
    actions = pd.read_csv(out).set_index("customer_id")
    ranks = ["", "_2", "_3"]
    assert list(actions.columns) == [
        "stage",
        "baseline_risk",
        "reach_probability",
        "value_if_retained",  # the events have amounts: the bundle has a value model
        "expected_value",
        *[
            f"{c}{r}"
            for r in ranks
            for c in (
                "recommended_touchpoint",
                "expected_risk",
                "expected_risk_reduction",
                "expected_value_saved",
                "expected_risk_reduction_low",
                "expected_risk_reduction_high",
                "evidence",
                "evidence_source",
                "uncertain",
                "cost",
            )
        ],
        "reason",
    ]
    assert set(actions["stage"]) <= set(STAGES)
    stage = current_stage(saas.events)
    assert (actions["stage"] == stage[actions.index]).all()
    events = saas.events
    end = events["event_time"].max()
    month_ago = str(pd.Timestamp(end) - pd.Timedelta("30D"))
    had_webinar = set(
        events.loc[
            (events["action"] == "webinar_invite") & (events["event_time"] > month_ago), "user"
        ]
    )
    n_recommended = 0
    for r in ranks:
        chosen = actions[f"recommended_touchpoint{r}"].dropna()
        n_recommended += len(chosen)
        for customer, tp in chosen.items():
            assert tp in eligible_in(actions.at[customer, "stage"]), (customer, tp)
            assert tp != "discount_offer"  # excluded by the rules
            assert not (tp == "webinar_invite" and customer in had_webinar)  # capped
            assert actions.at[customer, f"cost{r}"] == ACTIONABLE[tp][1]
        assert (actions.loc[chosen.index, f"expected_risk_reduction{r}"] > 0).all()
        low = actions.loc[chosen.index, f"expected_risk_reduction_low{r}"]
        high = actions.loc[chosen.index, f"expected_risk_reduction_high{r}"]
        red = actions.loc[chosen.index, f"expected_risk_reduction{r}"]
        known = low.notna()
        clipped = actions.loc[chosen.index, f"expected_risk{r}"] <= 0  # interval not clipped
        assert ((low[known] <= red[known] + 1e-9) | clipped[known]).all()
        assert (red[known] <= high[known] + 1e-9).all()
        assert (actions.loc[chosen.index, f"uncertain{r}"] == ~(low > 0)).all()
        assert (actions.loc[chosen.index, f"evidence{r}"] >= 0).all()
    first = actions["recommended_touchpoint"].dropna()
    assert n_recommended > 100 and first.nunique() >= 3
    assert actions["reason"].notna().all()
    assert all(  # the touchpoint in words, capitalised where it starts the sentence
        tp.replace("_", " ") in reason.lower()
        for tp, reason in zip(first, actions.loc[first.index, "reason"], strict=True)
    )
    for name in set(first):
        assert name in stdout


def test_recommend_reads_a_customer_list_in_the_users_own_column_name(saas, trained):
    # Regression: `cjml recommend --customers` wanted a column named customer_id (or a
    # single column), while `cjml score --customers` also took the id column's own name.
    some = saas.events["user"].drop_duplicates().head(25)
    listed = saas.folder / "listed.csv"
    pd.DataFrame({"user": some, "plan": "any"}).to_csv(listed, index=False)
    out = saas.folder / "listed_actions.csv"
    code, _, err = cli(
        "recommend",
        trained.path,
        saas.csv,
        "--columns",
        COLUMNS,
        "--customers",
        listed,
        "--out",
        out,
    )
    assert code == 0, err
    assert pd.read_csv(out)["customer_id"].tolist() == some.tolist()


def test_journey_map_uses_the_custom_stages(saas, trained):
    html_out, csv_out = saas.folder / "map.html", saas.folder / "map.csv"
    code, stdout, err = cli(
        "journey-map",
        saas.csv,
        "--map",
        saas.map,
        "--columns",
        COLUMNS,
        "--model",
        trained.path,
        "--by",
        "plan",
        "--out",
        html_out,
    )
    assert code == 0, err
    page = html_out.read_text(encoding="utf-8")
    shown = [label_text(s) for s in STAGES]  # "Visitor": names as people read them
    heading = "Touchpoints that lower the drop-off risk, by stage"
    for name in [*shown, "starter", "enterprise", heading]:
        assert name in page
    assert all(name in stdout for name in shown)
    code, _, err = cli(
        "journey-map", saas.csv, "--map", saas.map, "--columns", COLUMNS, "--out", csv_out
    )
    assert code == 0, err
    table = pd.read_csv(csv_out)
    assert table["stage"].tolist() == STAGES
    assert table["reached"].is_monotonic_decreasing and table.loc[0, "reached"] == 2500
    assert {"conversion", "drop_off", "median_days", "top_touchpoints"} <= set(table.columns)


def test_the_readme_example_runs_as_written(saas, tmp_path, monkeypatch):
    """The README's "Bring your own data": its CSV, journey map and commands, on this log."""
    match = re.search(
        r"^## Bring your own data\n(.*?)(?=^## |\Z)",
        README.read_text(encoding="utf-8"),
        re.S | re.M,
    )
    if match is None:
        pytest.skip("README.md has no 'Bring your own data' section yet")
    section = match.group(1)
    (toml,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    (example,) = re.findall(r"```csv\n(.*?)```", section, re.S)
    lines = [
        line.strip()
        for block in re.findall(r"```(?:shell|bash)\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.strip().startswith("cjml ")
    ]
    # the README shows this test's map and column mapping, for a log like this one
    assert cjml.JourneyMap.from_dict(tomllib.loads(toml)) == cjml.JourneyMap.from_file(saas.map)
    assert f"`{COLUMNS}`" in section
    head = cjml.read_events(
        pd.read_csv(io.StringIO(example)), columns=COLUMNS, journey_map=saas.map
    )
    assert head.n_events == len(example.strip().splitlines()) - 1
    assert [line.split()[1] for line in lines] == [
        "validate",
        "train",
        "score",
        "recommend",
        "journey-map",
    ]
    monkeypatch.chdir(tmp_path)
    saas.events.to_csv("crm_export.csv", index=False)
    (tmp_path / "saas.toml").write_text(toml, encoding="utf-8")
    for line in lines:
        args = shlex.split(line)[1:]
        code, _, err = cli(*args)
        assert code == 0, f"{line}\n{err}"
        if "--out" in args:
            assert Path(args[args.index("--out") + 1]).is_file(), line


def test_the_python_api_reads_a_frame_in_the_users_names_as_the_bundle_was_trained(saas, trained):
    """A DataFrame in the user's own names and vocabulary, handed to the recommender of a
    bundle or to the journey map with it, is read as training read it: no columns= and
    no journey_map= again, the same answers as from the log read by hand."""
    bundle = cjml.ModelBundle.load(trained.path)
    log = cjml.read_events(
        saas.events, columns=COLUMNS, journey_map=bundle.journey_map, timezone="UTC"
    )
    recommender = cjml.TouchpointRecommender.from_bundle(bundle, n_jobs=1)
    from_frame = recommender.recommend(saas.events, lookback="90D")
    pd.testing.assert_frame_equal(from_frame, recommender.recommend(log, lookback="90D"))
    stages = from_frame["stage"].dropna()
    assert len(stages) > 100 and stages.isin(bundle.journey_map.stages).all()
    by_frame = cjml.journey_map(saas.csv, bundle)
    by_log = cjml.journey_map(log, bundle)
    pd.testing.assert_frame_equal(by_frame.stages, by_log.stages)
    assert list(by_frame.stages["stage"]) == list(bundle.journey_map.stages)


def test_the_bundle_remembers_the_column_names_it_was_trained_on(saas, trained, tmp_path):
    mapping = dict(pair.split("=") for pair in COLUMNS.split(","))
    bundle = cjml.ModelBundle.load(trained.path)
    assert bundle.metadata["column_names"] == mapping
    # scoring without --columns reads the events as training did, to the same scores
    without, given = tmp_path / "without.csv", tmp_path / "given.csv"
    code, _, err = cli("score", trained.path, saas.csv, "--out", without, "--no-recommend")
    assert code == 0, err
    code, _, err = cli(
        "score", trained.path, saas.csv, "--columns", COLUMNS, "--out", given, "--no-recommend"
    )
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(without), pd.read_csv(given))
    # and so do recommend, evaluate and the journey map of the model
    for argv in (
        ("recommend", trained.path, saas.csv, "--out", tmp_path / "actions.csv"),
        ("journey-map", saas.csv, "--model", trained.path, "--out", tmp_path / "map.csv"),
        ("evaluate", trained.path, saas.csv, "--quiet"),
    ):
        code, _, err = cli(*argv)
        assert code == 0, (argv[0], err)
    # events that carry the canonical names are read as they are
    canonical = saas.events.rename(columns={v: k for k, v in mapping.items()})
    assert bundle.columns_for(canonical) is None
    assert bundle.columns_for(saas.events) == mapping
    assert bundle.columns_for(saas.events, columns="customer_id=user") == "customer_id=user"
    assert bundle.columns_for(cjml.read_events(canonical, journey_map=saas.map)) is None
    scores = cjml.score(bundle, canonical, recommend=False)
    pd.testing.assert_series_equal(
        scores["churn_risk"].reset_index(drop=True),
        pd.read_csv(without)["churn_risk"],
        check_exact=False,
        rtol=1e-9,
    )
