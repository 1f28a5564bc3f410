"""Logs without a touchpoint column (a log of purchases): ``touchpoint="purchase"`` names
the touchpoint of every event, on every command, and the bundle remembers it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cjml
from cjml.cli import main
from cjml.exceptions import SchemaError

COLUMNS = "customer_id=id,timestamp=date,amount=spend"


@pytest.fixture(scope="module")
def purchases(tmp_path_factory):
    """A shop's orders over a year, as a CSV without a touchpoint column."""
    rng = np.random.default_rng(5)
    rows = []
    for c in range(400):
        start, stop = int(rng.integers(0, 120)), int(rng.integers(60, 365))
        day = start
        while day < stop:
            rows.append((c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), 20.0 + c % 7))
            day += int(rng.integers(5, 40))
    frame = pd.DataFrame(rows, columns=["id", "date", "spend"])
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    frame.to_csv(path, index=False)
    return path


def test_every_event_is_the_touchpoint_named(purchases):
    log = cjml.read_events(purchases, columns=COLUMNS, touchpoint="purchase")
    assert log.constant_touchpoint == "purchase"
    assert set(log.frame["touchpoint"]) == {"purchase"}
    frame = pd.read_csv(purchases)
    same = cjml.read_events(frame, columns=COLUMNS, touchpoint="purchase")
    assert same.frame.equals(log.frame) and "touchpoint" not in frame.columns  # not modified
    assert (
        cjml.read_events(frame.assign(touchpoint="purchase"), columns=COLUMNS).constant_touchpoint
        is None
    )


def test_a_log_with_a_touchpoint_column_refuses_a_second_one(purchases):
    frame = pd.read_csv(purchases).assign(kind="order")
    with pytest.raises(SchemaError, match=r"have a touchpoint column \('kind'\)"):
        cjml.read_events(frame, columns=COLUMNS + ",touchpoint=kind", touchpoint="purchase")
    with pytest.raises(ValueError, match="touchpoint must be the name"):
        cjml.read_events(purchases, columns=COLUMNS, touchpoint=" ")


def test_the_bundle_remembers_it_so_scoring_the_same_file_needs_it_no_more(purchases, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = cjml.read_events(purchases, columns=COLUMNS, touchpoint="purchase")
        bundle, _ = cjml.train(log, recommender=False, survival=False, n_jobs=1)
        bundle.save(tmp_path / "b.cjml")
        bundle = cjml.ModelBundle.load(tmp_path / "b.cjml")
        assert bundle.metadata["constant_touchpoint"] == "purchase"
        expected = cjml.score(bundle, log)
        parquet = tmp_path / "orders.parquet"
        pd.read_csv(purchases).to_parquet(parquet)
        for events in (purchases, parquet, pd.read_csv(purchases)):
            got = cjml.score(bundle, events, chunk_events=500)
            assert np.array_equal(got["churn_risk"].to_numpy(), expected["churn_risk"].to_numpy())
        # events that do have a touchpoint column are read by it
        own = pd.read_csv(purchases).assign(touchpoint="website_visit")
        visits = cjml.score(bundle, own)
    assert not np.array_equal(visits["churn_risk"].to_numpy(), expected["churn_risk"].to_numpy())


def test_the_command_line_names_it_once(purchases, tmp_path, capsys):
    model = tmp_path / "m.cjml"
    assert main(["validate", str(purchases), "--columns", COLUMNS]) != 0
    assert "--touchpoint purchase" in capsys.readouterr().err
    args = ["--columns", COLUMNS, "--touchpoint", "purchase"]
    assert main(["train", str(purchases), *args, "--out", str(model), "--horizon", "60D"]) == 0
    out = tmp_path / "scores.parquet"
    assert main(["score", str(model), str(purchases), "--out", str(out), "--no-recommend"]) == 0
    capsys.readouterr()
    assert len(pd.read_parquet(out)) > 0
