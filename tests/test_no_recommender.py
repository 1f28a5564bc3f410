"""A bundle that cannot recommend (no actionable touchpoint delivered in its history, as
on a purchase-only log) still scores, maps and shows customers, and says why."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import cjml
from cjml.cli import main
from cjml.datasets import load_sample
from cjml.exceptions import SmallDataWarning
from cjml.panel import customer_profile
from cjml.scoring import score


@pytest.fixture(scope="module")
def events():
    return load_sample()


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def unrecommending_bundle(events):
    """A bundle trained on the sample without any actionable touchpoint: it scores but
    cannot recommend, and says why."""
    actionable = cjml.JourneyMap.default().actionable_touchpoints
    plain = events[~events["touchpoint"].isin(actionable)]
    with pytest.warns(UserWarning, match="No touchpoint recommendations from this bundle"):
        bundle, _ = cjml.train(
            plain, n_cutoffs=3, step="15D", holdout=False, survival=False, value=False
        )
    return bundle, plain


def test_a_bundle_that_cannot_recommend_still_scores_and_says_why(
    unrecommending_bundle, tmp_path, capsys
):
    bundle, plain = unrecommending_bundle
    note = bundle.metadata["recommender"]
    assert note["fitted"] is False and "actionable touchpoint" in note["note"]
    with pytest.warns(UserWarning, match="cannot recommend: No actionable touchpoint"):
        scores = score(bundle, plain)
    expected = score(bundle, plain, recommend=False)
    # who is still there to reach is the churn model's, so it is there without a recommender
    reach = scores["reach_probability"]
    assert expected["reach_probability"].isna().all()
    assert reach.notna().all() and reach.between(0, 1).all() and (reach < 0.5).any()
    # the risk splits as (1 - reach) + reach * risk_if_there, with risk_if_there <= risk
    assert (reach >= 1 - scores["churn_risk"] - 1e-12).all()
    pd.testing.assert_frame_equal(
        scores.drop(columns="reach_probability"), expected.drop(columns="reach_probability")
    )
    recommended = [c for c in scores.columns if c.startswith("recommended_touchpoint")]
    assert recommended and scores[recommended].isna().all().all()  # the same columns, empty
    # the command line: the scores are written, with the reason as a warning
    model = bundle.save(tmp_path / "plain.cjml")
    data = tmp_path / "plain.parquet"
    plain.to_parquet(data)
    code, _, err = run(capsys, "score", str(model), str(data), "--out", str(tmp_path / "s.csv"))
    assert code == 0, err
    assert "warning: This bundle has no touchpoint effects, so it cannot recommend" in err
    assert len(pd.read_csv(tmp_path / "s.csv")) == len(expected)
    # a control group needs recommendations: none is drawn, and the scores are still written
    out = tmp_path / "c.csv"
    code, _, err = run(
        capsys, "score", str(model), str(data), "--out", str(out), "--control", "10%"
    )
    assert code == 0, err
    assert "no control group was drawn and no campaign was recorded" in err
    assert len(pd.read_csv(out)) == len(expected)
    assert not list(tmp_path.glob("*.campaign.json"))
    # rules only apply to recommendations: asking for them is an error that says why
    with pytest.raises(cjml.CjmlError, match=r"cannot recommend.*drop them"):
        score(bundle, plain, rules={"min_risk": 0.5})
    # and the recommender itself names the way out in command-line words; not the churn
    # model alone (s-learner): no actionable touchpoint was ever delivered for it to learn
    assert not any(bundle.metadata["recommender"]["deliveries"].values())
    for method in ("auto", "s-learner"):
        with pytest.raises(cjml.CjmlError) as info:
            cjml.TouchpointRecommender.from_bundle(bundle, method=method)
        assert "s-learner" not in str(info.value)
        assert "recommend=False; cjml score --no-recommend" in str(info.value)


def test_the_journey_map_and_the_customer_view_leave_the_touchpoints_out(
    unrecommending_bundle,
):
    bundle, plain = unrecommending_bundle
    log = cjml.read_events(plain, journey_map=bundle.journey_map)
    with pytest.warns(UserWarning, match="leaves out the touchpoints that lower the drop-off"):
        report = cjml.journey_map(log, bundle)
    assert report.opportunities is None and len(report.stages) > 0
    assert "cannot recommend" in report.info["opportunities_note"]
    assert "this model cannot estimate them" in report.to_text()
    assert "need a model" not in report.to_text()  # a model was given
    assert report.canvas_stages is not None  # the churn model's attributions are still there
    customer = log.frame["customer_id"].iloc[-1]
    profile = customer_profile(bundle, log, customer)
    assert 0.0 <= profile.churn_risk <= 1.0 and profile.drivers
    assert profile.recommendations.empty and profile.options.empty
    assert profile.reason == ""


@pytest.fixture(scope="module")
def map_without_actions(events, tmp_path_factory):
    """The sample trained with a journey map that marks no touchpoint as actionable."""
    spec = cjml.JourneyMap.default().to_dict()
    for touchpoint in spec["touchpoints"].values():
        touchpoint["actionable"] = False
        touchpoint.pop("cost", None)
    spec["name"] = "observed_only"
    jm = cjml.JourneyMap.from_dict(spec)
    log = cjml.read_events(events, journey_map=jm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)  # 3 cutoffs of the sample
        bundle, _ = cjml.train(
            log, n_cutoffs=3, step="15D", holdout=False, survival=False, value=False
        )
    assert "marks no touchpoint as actionable" in bundle.metadata["recommender"]["note"]
    folder = tmp_path_factory.mktemp("observed_only")
    events.to_parquet(folder / "events.parquet")
    return bundle, log, bundle.save(folder / "observed.cjml"), folder / "events.parquet"


def test_a_map_without_actionable_touchpoints_is_refused_by_every_method(
    map_without_actions, capsys, tmp_path
):
    bundle, log, model, data = map_without_actions
    # the churn model alone cannot help: the reason says so and offers no s-learner
    for method in ("auto", "s-learner"):
        with pytest.raises(cjml.CjmlError) as info:
            cjml.TouchpointRecommender.from_bundle(bundle, method=method)
        assert "marks no touchpoint as actionable" in str(info.value)
        assert "s-learner" not in str(info.value) and "--no-recommend" in str(info.value)
    # built by hand, the recommender says so instead of failing deep inside
    recommender = cjml.TouchpointRecommender(
        bundle.models["churn"], bundle.featurizer, bundle.journey_map, method="s-learner"
    )
    with pytest.raises(cjml.CjmlError, match="'observed_only' marks no touchpoint as actionable"):
        recommender.recommend(log)
    out = tmp_path / "actions.csv"
    code, _, err = run(
        capsys, "recommend", str(model), str(data), "--method", "s-learner", "--out", str(out)
    )
    assert code == 1 and "internal error" not in err
    assert "marks no touchpoint as actionable" in err and not out.exists()


def _train_summary(capsys, events, folder, *options) -> tuple[str, str]:
    """``cjml train`` on the first 600 customers of ``events``: the summary's last line
    ("Saved the churn ...") and what the command wrote to stderr."""
    small = events[events["customer_id"].isin(events["customer_id"].unique()[:600])]
    small.to_parquet(folder / "small.parquet")
    code, out, err = run(
        capsys,
        "train",
        str(folder / "small.parquet"),
        *options,
        "--out",
        str(folder / "m.cjml"),
        "--jobs",
        "1",
        "--no-holdout",
    )
    assert code == 0, err
    return next(line for line in out.splitlines() if line.startswith("Saved the churn")), err


def test_train_says_at_the_end_why_the_bundle_cannot_recommend(events, tmp_path, capsys):
    import json

    spec = cjml.JourneyMap.default().to_dict()
    for touchpoint in spec["touchpoints"].values():
        touchpoint["actionable"] = False  # as a drafted map is until the user marks some
    (tmp_path / "map.json").write_text(json.dumps(spec), encoding="utf-8")
    saved, _ = _train_summary(capsys, events, tmp_path, "--map", str(tmp_path / "map.json"))
    assert "No recommender: the journey map marks no touchpoint as actionable" in saved


def test_train_says_once_why_no_touchpoint_was_learnable(events, tmp_path, capsys):
    """No actionable touchpoint delivered (a purchase-only log): the summary's last
    sentence says why, and no warning repeats it."""
    actionable = cjml.JourneyMap.default().actionable_touchpoints
    plain = events[~events["touchpoint"].isin(actionable)]
    saved, err = _train_summary(capsys, plain, tmp_path)
    assert "No recommender: no actionable touchpoint was delivered at least 30 times" in saved
    assert "No actionable touchpoint was delivered" not in err


def test_a_purchase_log_names_each_fact_once_in_the_drivers(events, tmp_path):
    """In a log of purchases only, the last contact is the last purchase: train records
    such twin columns on the featurizer, the bundle keeps them, and no customer's drivers
    say "no contact for 63 days; no purchase for 63 days"."""
    purchases = events[events["touchpoint"] == "purchase"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle, _ = cjml.train(
            purchases, n_cutoffs=3, step="15D", holdout=False, survival=False, value=False
        )
    aliases = bundle.featurizer.feature_aliases_
    assert aliases["days_since_last_purchase"] == "days_since_last_event"
    loaded = cjml.ModelBundle.load(bundle.save(tmp_path / "purchases.cjml"))
    assert loaded.featurizer.feature_aliases_ == aliases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drivers = score(loaded, purchases, recommend=False)["top_drivers"].dropna()
    contact = drivers.str.contains("no contact for")
    assert contact.any()
    assert not (contact & drivers.str.contains("no purchase for")).any()


def test_a_bundle_trained_without_a_recommender_says_so_in_whole_sentences(events):
    bundle, _ = cjml.train(
        events,
        n_cutoffs=3,
        step="15D",
        holdout=False,
        survival=False,
        value=False,
        recommender=False,
    )
    with pytest.warns(UserWarning) as caught:
        score(bundle, events)
    (said,) = [str(w.message) for w in caught if "cannot recommend" in str(w.message)]
    assert "cannot recommend: not asked for (recommender=False). The recommendation" in said
