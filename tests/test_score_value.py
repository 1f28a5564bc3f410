"""What each customer is worth in scoring and recommending: expected value, value at risk,
value saved net of cost (ranking, budget, reasons), and the churn risk at several horizons."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml.cli import main
from cjml.i18n import language
from cjml.recommend import (
    RecommendationRules,
    RulesError,
    TouchpointRecommender,
    _amounts,
    _over_budget,
    _value_saved,
)
from cjml.scoring import ScoreSummary, score
from cjml.scoring._options import _parse_horizons

VALUE_COLUMNS = ["expected_value", "expected_value_low", "expected_value_high", "value_at_risk"]
HORIZONS = "7D,30D,60D"


@pytest.fixture(scope="module")
def sim():
    return cjml.datasets.make_journeys(700, n_days=180, random_state=22)


@pytest.fixture(scope="module")
def events(sim):
    return sim.events


@pytest.fixture(scope="module")
def log(sim):
    return cjml.read_events(sim.events, journey_map=sim.journey_map)


@pytest.fixture(scope="module")
def bundle(log):
    bundle, _ = cjml.train(log, n_cutoffs=3, step="15D", holdout=False, n_jobs=1)
    assert {"value", "survival"} <= set(bundle.models)  # the log has amounts
    # The policy chosen on a small log is often "no action": the per-customer best gives the
    # recommendations these tests look at (as in tests/test_scoring.py).
    # Its held-out period confirms little of any prediction either, so the reductions are
    # shown at the model's word (a confirmed share of 1): these tests check the value saved's
    # arithmetic, ranking and budget, not the evidence (tests/test_effects.py does).
    policy = bundle.models["touchpoint_policy"]
    bundle.models["touchpoint_policy"] = dataclasses.replace(
        policy,
        policy="dr-point",
        touchpoint=None,
        stage_rule={},
        table=policy.table.assign(confirmed=1.0),
    )
    return bundle


@pytest.fixture(scope="module")
def bundle_path(bundle, tmp_path_factory):
    return bundle.save(tmp_path_factory.mktemp("model") / "model.cjml")


#: Costs small enough that most touchpoints keep more than they cost, so that rankings,
#: budgets and alternatives have customers to be checked on (the map's costs are dollars,
#: the simulator's 30-day spend a few dollars).
def _cheap(bundle, scale=1e-3):
    jm = bundle.journey_map
    return {t: scale * (1 + i) for i, t in enumerate(jm.actionable_touchpoints)}


@pytest.fixture(scope="module")
def cheap(bundle):
    return _cheap(bundle)


@pytest.fixture(scope="module")
def scores(bundle, events, cheap):
    return score(bundle, events, top_k=2, horizons=HORIZONS, rules={"costs": cheap}, drivers=False)


def _features(bundle, log, ids):
    cutoff = log.frame["timestamp"].max()
    return bundle.featurizer.transform(log, cutoff).loc[ids]


# ---------------------------------------------------------------------- value saved
def test_value_saved_is_zero_without_reduction_nor_cost_and_never_multiplies_the_reach():
    assert _value_saved(0.0, 123.4, 0.0) == 0.0
    assert _value_saved(np.zeros(3), np.array([5.0, 0.0, 1e6]), np.zeros(3)).tolist() == [0.0] * 3
    # the reduction already holds the reach: 0.1 * 50 - 2, whatever the reach was
    assert _value_saved(0.1, 50.0, 2.0) == pytest.approx(3.0)
    assert np.isnan(_value_saved(np.nan, 50.0, 2.0))


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-1, 1, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
    st.floats(0, 1e3, allow_nan=False),
)
def test_value_saved_is_reduction_times_value_minus_cost(reduction, value, cost):
    assert _value_saved(reduction, value, cost) == reduction * value - cost


def test_scores_carry_expected_value_value_at_risk_and_value_saved(bundle, log, scores, cheap):
    cols = scores.columns.tolist()
    assert cols[:7] == [
        "customer_id",
        "churn_risk",
        "churn_risk_7d",
        "churn_risk_30d",
        "churn_risk_60d",
        "risk_band",
        "reach_probability",
    ]
    assert cols[7:11] == VALUE_COLUMNS
    for suffix in ("", "_2"):
        i = cols.index(f"expected_risk_reduction{suffix}")
        assert cols[i + 1] == f"expected_value_saved{suffix}"
    scored = scores.set_index("customer_id")
    X = _features(bundle, log, scored.index)
    value = bundle.models["value"].predict(X)
    # expected value and value at risk split the value if retained by the churn risk
    np.testing.assert_allclose(scored["expected_value"] + scored["value_at_risk"], value)
    np.testing.assert_allclose(scored["value_at_risk"], scored["churn_risk"] * value)
    assert (scored["expected_value_low"] <= scored["expected_value"] + 1e-9).all()
    assert (scored["expected_value"] <= scored["expected_value_high"] + 1e-9).all()
    # value saved: the reduction times the value, less the touchpoint's cost; empty without one
    for suffix in ("", "_2"):
        chosen = scored[f"recommended_touchpoint{suffix}"]
        has = chosen.notna()
        assert has.sum() > 10
        cost = chosen[has].map(cheap).to_numpy(dtype=float)
        np.testing.assert_allclose(
            scored.loc[has, f"expected_value_saved{suffix}"],
            scored.loc[has, f"expected_risk_reduction{suffix}"] * value[has.to_numpy()] - cost,
            rtol=1e-9,
        )
        assert scored.loc[~has, f"expected_value_saved{suffix}"].isna().all()


def test_the_summary_counts_each_customers_value_once(scores):
    summary = ScoreSummary.from_dict(scores.attrs["summary"])
    assert summary.value_at_risk == pytest.approx(scores["value_at_risk"].sum())
    # ranks 2.. are alternatives to the first: never added
    assert summary.value_saved == pytest.approx(scores["expected_value_saved"].sum())
    assert summary.value_saved < np.nansum(
        scores[["expected_value_saved", "expected_value_saved_2"]].to_numpy()
    )
    assert "value at risk over the horizon" in summary.to_text()
    again = ScoreSummary.from_dict(summary.to_dict())
    assert again == summary


def test_inactive_customers_have_no_values(bundle, events):
    out = score(bundle, events, include_inactive=True, horizons="7D", recommend=False)
    others = out[out["status"] != "scored"]
    assert len(others) > 0
    assert others[[*VALUE_COLUMNS, "churn_risk_7d", "expected_value_saved"]].isna().all().all()
    assert out.loc[out["status"] == "scored", VALUE_COLUMNS].notna().all().all()
    # recommend=False: the values stay (they do not need the recommender), value saved is empty
    assert out["expected_value_saved"].isna().all()


def test_a_bundle_without_a_value_model_scores_as_before(bundle, events):
    models = {k: v for k, v in bundle.models.items() if k != "value"}
    plain = dataclasses.replace(bundle, models=models)
    out = score(plain, events, drivers=False)
    assert not any(c.startswith(("expected_value", "value_")) for c in out.columns)
    assert ScoreSummary.from_dict(out.attrs["summary"]).value_at_risk is None
    with pytest.raises(RulesError, match="value_saved.*no value model.*--rank-by reduction"):
        score(plain, events, rules={"rank_by": "value_saved"})


# ---------------------------------------------------------------------- ranking and budget
def test_rank_key_auto_means_value_saved_when_the_bundle_has_values(bundle):
    jm = bundle.journey_map
    assert RecommendationRules().rank_key(jm, has_value=True) == "value_saved"
    assert RecommendationRules().rank_key(jm, has_value=False) == "reduction"
    assert RecommendationRules(costs={"email": 1.0}).rank_key(jm, has_value=False) == (
        "reduction_per_cost"
    )
    assert RecommendationRules(rank_by="reduction").rank_key(jm, has_value=True) == "reduction"
    spec = jm.to_dict()
    for attrs in spec["touchpoints"].values():
        attrs.pop("cost", None)
    no_costs = cjml.JourneyMap.from_dict(spec)
    # value saved needs every cost: "auto" never guesses one, an explicit request is refused
    assert RecommendationRules().rank_key(no_costs, has_value=True) == "reduction"
    with pytest.raises(RulesError, match="Ranking by value saved needs the unit cost"):
        RecommendationRules(rank_by="value_saved").check(no_costs)


def test_ranking_by_value_saved_orders_touchpoints_and_leaves_out_the_unprofitable(bundle, log):
    lookback = bundle.metadata["lookback"]
    out = TouchpointRecommender.from_bundle(bundle).recommend(log, lookback=lookback, top_k=2)
    assert {"value_if_retained", "expected_value", "expected_value_saved"} <= set(out.columns)
    np.testing.assert_allclose(
        out["expected_value"], (1 - out["baseline_risk"]) * out["value_if_retained"]
    )
    has = out["recommended_touchpoint"].notna()
    both = out["recommended_touchpoint_2"].notna()
    assert (out.loc[has, "expected_value_saved"] > 0).all()
    assert (out.loc[both, "expected_value_saved"] >= out.loc[both, "expected_value_saved_2"]).all()
    # customers whose best touchpoint costs more than it keeps get none, and are told why
    by_reduction = TouchpointRecommender.from_bundle(bundle, rules={"rank_by": "reduction"})
    plain = by_reduction.recommend(log, lookback=lookback, top_k=1)
    dropped = plain["recommended_touchpoint"].notna() & ~has
    assert dropped.any()
    assert (plain.loc[dropped, "expected_value_saved"] <= 0).all()
    assert (
        out.loc[dropped, "reason"]
        .str.match(
            r"not worth the cost: the best touchpoint, [a-z ]+, keeps about [\d.,]+ of expected "
            r"spend for a cost of [\d.,]+$"
        )
        .all()
    )
    kept = out.loc[has, "reason"]
    assert kept.str.contains(r"; keeps about [\d.,]+ of expected spend for a cost of [\d.,]+").all()


def test_ranking_by_value_saved_under_a_budget(bundle, log, events, cheap):
    lookback = bundle.metadata["lookback"]
    cutoff = log.frame["timestamp"].max()
    base = {"costs": cheap, "rank_by": "value_saved"}
    free = TouchpointRecommender.from_bundle(bundle, rules=base).recommend(
        log, cutoff=cutoff, lookback=lookback, top_k=2
    )
    assert free["recommended_touchpoint"].notna().sum() > 20
    rules = {**base, "budget": float(free["cost"].sum()) / 3}
    capped = TouchpointRecommender.from_bundle(bundle, rules=rules).recommend(
        log, cutoff=cutoff, lookback=lookback, top_k=2
    )
    served = capped["recommended_touchpoint"].notna()
    skipped = capped["reason"] == "budget spent on customers where a touchpoint saves more value"
    assert served.any() and skipped.any()
    assert capped.loc[served, "cost"].sum() <= rules["budget"]
    # customers are served by their first touchpoint's value saved, largest first
    assert (
        free.loc[served, "expected_value_saved"].min()
        >= free.loc[skipped, "expected_value_saved"].max()
    )
    # the one budget rule, run-wide in scoring: the same customers, chunks or not
    whole = score(bundle, events, top_k=2, drivers=False, rules=rules)
    chunked = score(
        bundle,
        events.sample(frac=1.0, random_state=4),
        top_k=2,
        drivers=False,
        rules=rules,
        chunk_events=800,
        n_jobs=2,  # chunks side by side on threads
    )
    assert chunked.attrs["summary"]["n_chunks"] >= 4
    pd.testing.assert_frame_equal(chunked, whole, check_exact=True)
    got = whole.set_index("customer_id")
    assert got.index[got["recommended_touchpoint"].notna()].tolist() == (
        capped.index[served].tolist()
    )
    pd.testing.assert_series_equal(
        got.loc[capped.index, "expected_value_saved"],
        capped["expected_value_saved"],
        check_names=False,
    )


def test_the_budget_rule_orders_customers_by_the_ranking_key():
    reduction = np.array([0.10, 0.05, np.nan, 0.02])
    cost = np.array([5.0, 1.0, 9.0, 1.0])
    saved = np.array([1.0, 8.0, np.nan, 3.0])
    # by value saved: customer 1 (8), then 3 (3), then 0 (1): a budget of 2 serves 1 and 3
    over = _over_budget(reduction, cost, 2.0, rank_by="value_saved", value_saved=saved)
    assert over.tolist() == [True, False, False, False]
    over = _over_budget(reduction, cost, 2.0, rank_by="reduction")
    assert over.tolist() == [True, True, False, True]  # customer 0 first, and it costs 5
    over = _over_budget(reduction, cost, 2.0, rank_by="reduction_per_cost")
    assert over.tolist() == [True, False, False, True]  # 1 (0.05 per unit), then 0: 6 spent
    # a customer without a recommendation (2) is never "past the budget": that is not why


def test_amounts_in_reasons_are_rounded_or_money():
    assert _amounts([35.2, 2.0, 2.5, 0.05, 0.0, 1234.6], None).tolist() == [
        "35",
        "2",
        "2.5",
        "0.05",
        "0",
        "1,235",
    ]
    assert _amounts([35.2], "USD").tolist() == ["$35.20"]
    with language("vi"):
        assert _amounts([1234.6, 2.5], None).tolist() == ["1.235", "2,5"]


def test_reasons_in_vietnamese(bundle, log):
    lookback = bundle.metadata["lookback"]
    with language("vi"):
        out = TouchpointRecommender.from_bundle(bundle).recommend(log, lookback=lookback)
    has = out["recommended_touchpoint"].notna()
    assert out.loc[has, "reason"].str.contains("chi tiêu dự kiến với chi phí").all()
    assert not out["reason"].str.contains("expected spend").any()


# ---------------------------------------------------------------------- horizons
def test_horizon_columns_are_monotone_and_meet_churn_risk_at_the_bundle_horizon(scores, bundle):
    assert pd.Timedelta(bundle.metadata["horizon"]) == pd.Timedelta(days=30)
    risk = scores[["churn_risk_7d", "churn_risk_30d", "churn_risk_60d"]].to_numpy()
    assert np.isfinite(risk).all() and ((risk >= 0) & (risk <= 1)).all()
    assert (np.diff(risk, axis=1) <= 0).all()  # P(no event within d days) never rises with d
    np.testing.assert_array_equal(scores["churn_risk_30d"], scores["churn_risk"])
    assert (scores["churn_risk_7d"] > scores["churn_risk_60d"]).mean() > 0.5


def test_horizons_are_read_as_whole_days():
    assert _parse_horizons("7D, 30D,90D") == (7, 30, 90)
    assert _parse_horizons(["90D", 7, "30"]) == (7, 30, 90)
    assert _parse_horizons("2W,14D") == (14,)
    assert _parse_horizons(None) == ()
    with pytest.raises(ValueError, match=r"Cannot read 'abc' in '7D,abc'.*e\.g\. 7D,30D,90D"):
        _parse_horizons("7D,abc")
    with pytest.raises(ValueError, match=r"'36h'.*not a whole number of days \(1\.5 days\)"):
        _parse_horizons("36h")
    with pytest.raises(ValueError, match="Cannot read '-7D'"):
        _parse_horizons("-7D")


def test_horizons_the_bundle_cannot_give_are_refused_before_any_work(bundle, events, tmp_path):
    out = tmp_path / "scores.parquet"
    longest = int(bundle.models["survival"].max_days_)
    with pytest.raises(ValueError, match=rf"asks for {longest + 1} days.*at most {longest}D"):
        score(bundle, events, out=out, horizons=f"7D,{longest + 1}D")
    models = {k: v for k, v in bundle.models.items() if k != "survival"}
    with pytest.raises(cjml.BundleError, match="--horizons 7D needs the bundle's survival model"):
        score(dataclasses.replace(bundle, models=models), events, out=out, horizons="7D")
    assert not out.exists() and not list(tmp_path.iterdir())  # no run folder either


def test_csv_and_parquet_outputs_carry_the_columns(bundle, events, scores, cheap, tmp_path):
    options = {"top_k": 2, "horizons": HORIZONS, "rules": {"costs": cheap}, "drivers": False}
    for suffix in (".parquet", ".csv"):
        path = tmp_path / f"scores{suffix}"
        summary = score(bundle, events, out=path, **options)
        written = (
            pd.read_parquet(path)
            if suffix == ".parquet"
            else pd.read_csv(path, float_precision="round_trip")  # exact on pandas 2 as well
        )
        assert written.columns.tolist() == scores.columns.tolist()
        for c in [*VALUE_COLUMNS, "churn_risk_7d", "churn_risk_60d", "expected_value_saved"]:
            np.testing.assert_allclose(written[c], scores[c], rtol=1e-12, equal_nan=True)
        assert summary.value_at_risk == pytest.approx(scores["value_at_risk"].sum())


def test_resume_is_refused_with_other_horizons(bundle, events, tmp_path, monkeypatch):
    import cjml.scoring._run

    class Stop(Exception):
        pass

    def stop(part):
        raise Stop

    out = tmp_path / "scores.parquet"
    options = {"chunk_events": 800, "drivers": False}
    monkeypatch.setattr(cjml.scoring._run, "_after_chunk", stop)
    with pytest.raises(Stop):
        score(bundle, events, out=out, horizons="7D", **options)
    monkeypatch.undo()
    with pytest.raises(cjml.BundleError, match=r"different options \(horizons: \[7\] then"):
        score(bundle, events, out=out, horizons="7D,60D", resume=True, **options)
    summary = score(bundle, events, out=out, horizons="7D", resume=True, **options)
    assert summary.n_chunks_resumed == 1
    expected = score(bundle, events, horizons="7D", **options)
    pd.testing.assert_series_equal(pd.read_parquet(out)["churn_risk_7d"], expected["churn_risk_7d"])


def test_dask_engine_gives_the_same_values_and_horizons(bundle, events, cheap, tmp_path):
    distributed = pytest.importorskip("distributed")
    folder = tmp_path / "events"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(events)), 2)):
        events.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=800)
    options = {
        "top_k": 2,
        "horizons": HORIZONS,
        "rules": {"costs": cheap, "budget": 0.05},
        "drivers": False,
        "chunk_events": 1000,
    }
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = score(bundle, folder, engine="dask", scheduler=client, **options)
    assert got.attrs["summary"]["n_chunks"] >= 2
    local = score(bundle, events, **options)
    pd.testing.assert_frame_equal(got, local)
    assert got["expected_value_saved"].notna().any() and got["churn_risk_60d"].notna().all()


# ---------------------------------------------------------------------- command line
def test_score_command_with_horizons(bundle_path, events, tmp_path, capsys):
    data = tmp_path / "events.parquet"
    events.to_parquet(data, index=False)
    out = tmp_path / "scores.csv"
    code = main([
        "score", str(bundle_path), str(data), "--out", str(out), "--horizons", "7D,30D",
        "--quiet",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "value at risk over the horizon" in printed
    written = pd.read_csv(out)
    assert written.columns[:4].tolist() == [
        "customer_id",
        "churn_risk",
        "churn_risk_7d",
        "churn_risk_30d",
    ]
    assert set(VALUE_COLUMNS) <= set(written.columns)
    with pytest.raises(SystemExit) as exc:
        main(["score", str(bundle_path), str(data), "--out", str(tmp_path / "x.csv"),
              "--horizons", "7D,soon"])  # fmt: skip
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --horizons: Cannot read 'soon' in '7D,soon'" in err
    assert not (tmp_path / "x.csv").exists()


def test_recommend_command_ranks_by_the_key_given(bundle_path, events, tmp_path, capsys):
    data = tmp_path / "events.parquet"
    events.to_parquet(data, index=False)
    paths = {}
    for key in ("value_saved", "reduction"):
        paths[key] = tmp_path / f"actions_{key}.parquet"
        code = main([
            "recommend", str(bundle_path), str(data), "--out", str(paths[key]), "--top-k", "2",
            "--rank-by", key,
        ])  # fmt: skip
        assert code == 0
    printed = capsys.readouterr().out
    assert "expected value saved by the first-ranked touchpoints, net of their cost" in printed
    by_value = pd.read_parquet(paths["value_saved"])
    by_reduction = pd.read_parquet(paths["reduction"])
    assert {"value_if_retained", "expected_value", "expected_value_saved_2"} <= set(by_value)
    assert (by_value["expected_value_saved"].dropna() > 0).all()
    assert (by_reduction["expected_value_saved"].dropna() <= 0).any()
    assert by_value["recommended_touchpoint"].notna().sum() < (
        by_reduction["recommended_touchpoint"].notna().sum()
    )
    with pytest.raises(SystemExit) as exc:
        main(["recommend", str(bundle_path), str(data), "--out", str(tmp_path / "y.csv"),
              "--rank-by", "profit"])  # fmt: skip
    assert exc.value.code == 2
    assert "invalid choice: 'profit'" in capsys.readouterr().err


def _without_costs(bundle):
    """The bundle with a journey map that gives no touchpoint a unit cost, as a drafted one."""
    from cjml.journey import JourneyMap

    spec = bundle.journey_map.to_dict()
    for attrs in spec["touchpoints"].values():
        attrs.pop("cost", None)
    return dataclasses.replace(bundle, journey_map=JourneyMap.from_dict(spec))


def test_touchpoints_without_a_cost_have_no_value_saved_and_every_summary_says_why(
    bundle, events, log
):
    """A drafted map gives no cost, and value saved is net of cost: it is unknown, never 0.
    The score summary, the recommend command's lines, the panel's order and its overview
    say which touchpoints lack a cost and how to give one."""
    from cjml.cli._acting import recommendation_summary
    from cjml.panel import default_sort
    from cjml.panel._data._overview import _value_facts

    nocost = _without_costs(bundle)
    out = score(nocost, events, drivers=False)
    chosen = out["recommended_touchpoint"].notna()
    assert chosen.any() and out["expected_value_saved"].isna().all()
    summary = ScoreSummary.from_dict(out.attrs["summary"])
    assert summary.value_saved is None
    assert set(summary.touchpoints_without_cost) == set(out.loc[chosen, "recommended_touchpoint"])
    text = summary.to_text()
    first = sorted(summary.touchpoints_without_cost)[0]
    assert "the value the first-ranked touchpoints save is unknown: " in text
    assert f"add cost = N under [touchpoints.{first}]" in text and "save 0" not in text
    assert ScoreSummary.from_dict(summary.to_dict()) == summary

    lines = recommendation_summary(out)
    assert "expected value saved: unknown; " in lines and "net of their cost: 0" not in lines
    # the at-risk list is ordered by the reduction, not by a column of NaN
    assert default_sort(out) == "expected_retained"
    facts = _value_facts(out, top=5)
    assert facts["top_value_saved"].empty
    assert facts["touchpoints_without_cost"] == tuple(sorted(summary.touchpoints_without_cost))

    # with costs, nothing of it
    priced = score(bundle, events, drivers=False, rules={"costs": _cheap(bundle)})
    assert ScoreSummary.from_dict(priced.attrs["summary"]).touchpoints_without_cost == ()
    assert default_sort(priced) == "value_saved"
    assert "unknown" not in recommendation_summary(priced)


def test_the_recommend_lines_count_the_value_of_priced_touchpoints_and_name_the_others():
    """Some first-ranked touchpoints have a cost, one has none: the total counts the priced
    ones and the line names the other, never a 0 for it."""
    from cjml.cli._acting import recommendation_summary

    actions = pd.DataFrame(
        {
            "recommended_touchpoint": ["email", "call", "call", None],
            "expected_risk_reduction": [0.02, 0.05, 0.04, np.nan],
            "expected_value_saved": [15.0, np.nan, np.nan, np.nan],
        }
    )
    lines = recommendation_summary(actions)
    assert (
        "expected value saved by the first-ranked touchpoints, net of their cost: 15; not "
        "counted: call has no unit cost in the journey map" in lines
    )
    assert "add cost = N under [touchpoints.call]" in lines
    priced = recommendation_summary(actions.assign(expected_value_saved=[15.0, 20.0, 10.0, np.nan]))
    assert priced.splitlines()[-1].endswith("net of their cost: 45")


def test_the_score_summary_gives_the_value_of_priced_touchpoints_and_names_the_others(scores):
    """Some first-ranked touchpoints priced, one not: the total is for the priced ones and
    says so; none priced: unknown, no number."""
    said = scores.attrs["summary"]
    some = ScoreSummary.from_dict(
        {**said, "value_saved": 45.0, "touchpoints_without_cost": ["call"]}
    )
    assert (
        "the value the first-ranked touchpoints save is known only for those with a cost (45 "
        "net of it): call has no unit cost in the journey map" in some.to_text()
    )
    none = ScoreSummary.from_dict(
        {**said, "value_saved": None, "touchpoints_without_cost": ["call"]}
    )
    assert "save is unknown: call has no unit cost" in none.to_text()
    assert "net of it" not in none.to_text()
