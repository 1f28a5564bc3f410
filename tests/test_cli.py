"""The cjml command line: exit codes, messages, files written and left alone."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import cjml
from cjml.cli import main
from cjml.datasets import sample_path
from tests._panel_bundle import sample_bundle_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"cjml {cjml.__version__}"
    code, out, _ = run(capsys)
    assert code == 2
    for command in ("generate", "validate", "features", "train", "evaluate", "demo"):
        assert command in out


def test_console_script_runs_as_a_real_process(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,when,what\n1,2024-01-01,email\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cjml", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ")
    assert "customer_id" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_generate_is_deterministic_and_writes_truth(tmp_path, capsys):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert (
        run(
            capsys,
            "generate",
            "--customers",
            "150",
            "--seed",
            "4",
            "--days",
            "60",
            "--out",
            str(a),
            "--truth",
        )[0]
        == 0
    )
    assert (
        run(
            capsys, "generate", "--customers", "150", "--seed", "4", "--days", "60", "--out", str(b)
        )[0]
        == 0
    )
    pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    truth = pd.read_parquet(tmp_path / "a_truth.parquet")
    assert truth["cutoff"].nunique() == 1
    assert str(truth["cutoff"].iloc[0].date()) == "2024-01-31"  # the last possible cutoff
    assert not (tmp_path / "b_truth.parquet").exists()


def test_generate_csv_validates(tmp_path, capsys):
    out = tmp_path / "events.csv"
    assert run(capsys, "generate", "--customers", "80", "--days", "45", "--out", str(out))[0] == 0
    code, text, err = run(capsys, "validate", str(out))
    assert code == 0, err
    assert "80 customers" in text


def test_existing_output_is_never_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "events.parquet"
    out.write_bytes(b"precious")
    code, _, err = run(capsys, "generate", "--customers", "20", "--days", "30", "--out", str(out))
    assert code == 1
    assert "already exists" in err and "--force" in err
    assert out.read_bytes() == b"precious"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    code, _, _ = run(
        capsys, "generate", "--customers", "20", "--days", "30", "--out", str(out), "--force"
    )
    assert code == 0
    assert len(pd.read_parquet(out)) > 0


def test_validate_accepts_the_sample(capsys):
    code, out, err = run(capsys, "validate", str(sample_path("events")))
    assert code == 0, err
    assert "3,000 customers" in out
    assert "retention" in out and "personalised_offer" in out
    assert "Times without a zone" not in out  # the sample's times are in UTC


def test_validate_says_how_times_without_a_zone_were_read(tmp_path, capsys):
    path = tmp_path / "local.csv"
    path.write_text("customer_id,timestamp,touchpoint\n1,2024-01-01 10:00,email\n")
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0, err
    assert "Period: 2024-01-01 10:00:00 to 2024-01-01 10:00:00 (UTC)" in out
    # in command-line words
    assert "say their zone (--timezone Europe/Paris)." in out and "timezone=" not in out
    code, out, err = run(capsys, "validate", str(path), "--timezone", "Europe/Paris")
    assert "(Europe/Paris)" in out and "Times without a zone" not in out
    path.write_text("customer_id,timestamp,touchpoint\n1,2024-01-01T10:00:00+01:00,email\n")
    code, out, err = run(capsys, "validate", str(path))
    assert "Period: 2024-01-01 09:00:00 to" in out and "Times without a zone" not in out


def test_validate_with_a_column_mapping_and_a_map_file(tmp_path, capsys):
    frame = pd.DataFrame(
        {
            "user": ["u1", "u1", "u2"],
            "when": ["2024-01-01 10:00", "2024-01-03 09:00", "2024-01-02 12:00"],
            "action": ["signup", "onboarding_email", "signup"],
        }
    )
    path = tmp_path / "crm.csv"
    frame.to_csv(path, index=False)
    jm = tmp_path / "saas.toml"
    jm.write_text(
        'stages = ["visitor", "trial", "paying"]\n'
        '[touchpoints.signup]\nchannel = "online"\nstages = ["visitor", "trial"]\n'
        '[touchpoints.onboarding_email]\nchannel = "online"\nstages = ["trial"]\n'
        "actionable = true\n"
    )
    code, out, err = run(
        capsys,
        "validate",
        str(path),
        "--map",
        str(jm),
        "--columns",
        "customer_id=user,timestamp=when,touchpoint=action",
    )
    assert code == 0, err
    assert "2 customers" in out and "trial" in out


BAD_INPUTS = {
    "missing column": ("customer_id,touchpoint\n1,email\n", "timestamp"),
    "unparseable timestamp": (
        "customer_id,timestamp,touchpoint\n1,2024-01-01,email\n2,not a time,email\n",
        "not a time",
    ),
    "null customer": (
        "customer_id,timestamp,touchpoint\n1,2024-01-01,email\n,2024-01-02,email\n",
        "customer_id",
    ),
    "score out of range": (
        "customer_id,timestamp,touchpoint,satisfaction\n1,2024-01-01,email,9\n",
        "satisfaction",
    ),
    "unknown stage": (
        "customer_id,timestamp,touchpoint,stage\n1,2024-01-01,email,retension\n",
        "retention",
    ),
    "empty": ("customer_id,timestamp,touchpoint\n", "no rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_validate_rejects_bad_input_with_one_clear_message(tmp_path, capsys, case):
    text, expected = BAD_INPUTS[case]
    path = tmp_path / "events.csv"
    path.write_text(text)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["events.xlsx", "events.txt", "missing.csv"])
def test_validate_rejects_files_it_cannot_read(tmp_path, capsys, name):
    path = tmp_path / name
    if name != "missing.csv":
        path.write_text("whatever")
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1
    assert str(path) in err or name in err
    assert "Traceback" not in err


def test_demo_runs_end_to_end(tmp_path, capsys):
    code, out, err = run(capsys, "demo", "--workdir", str(tmp_path / "demo"))
    assert code == 0, err
    assert "identical to the bundled sample: yes" in out
    assert "3,000 customers" in out
    assert (tmp_path / "demo" / "events.parquet").exists()
    assert "rfm_logistic" in out and (tmp_path / "demo" / "model.cjml").exists()


def test_validate_reads_epoch_timestamps_when_told_the_unit(tmp_path, capsys):
    path = tmp_path / "epoch.csv"
    path.write_text("customer_id,timestamp,touchpoint\n1,1704103200,email\n2,1704189600,purchase\n")
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1 and "--timestamp-unit" in err
    code, out, err = run(capsys, "validate", str(path), "--timestamp-unit", "s")
    assert code == 0, err
    assert "Period: 2024-01-01 10:00:00 to 2024-01-02 10:00:00 (UTC)" in out


def test_features_writes_one_row_per_customer_seen_before_the_cutoff(tmp_path, capsys):
    out = tmp_path / "features.parquet"
    code, text, err = run(
        capsys, "features", str(sample_path("events")), "--cutoff", "2024-03-01", "--out", str(out)
    )
    assert code == 0, err
    table = pd.read_parquet(out)
    events = pd.read_parquet(sample_path("events"))
    seen = events.loc[events["timestamp"] <= pd.Timestamp("2024-03-01", tz="UTC"), "customer_id"]
    assert sorted(table["customer_id"]) == sorted(seen.unique())
    assert table.columns[0] == "customer_id" and "days_since_last_event" in table.columns
    assert f"{len(table):,} customers" in text
    code, _, err = run(capsys, "features", str(sample_path("events")), "--out", str(out))
    assert code == 1 and "already exists" in err
    code, _, err = run(
        capsys,
        "features",
        str(sample_path("events")),
        "--cutoff",
        "someday",
        "--out",
        str(tmp_path / "x.csv"),
    )
    assert code == 1 and "someday" in err and "Traceback" not in err


def test_features_families_picks_the_columns_and_refuses_unknown_names(tmp_path, capsys):
    events = str(sample_path("events"))
    chosen = "value,activity"
    out = tmp_path / "core.parquet"
    code, _, err = run(
        capsys,
        "features",
        events,
        "--cutoff",
        "2024-03-01",
        "--families",
        chosen,
        "--out",
        str(out),
    )
    assert code == 0, err
    log = cjml.read_events(sample_path("events"))
    expected = (
        cjml.JourneyFeaturizer(families=("value", "activity"))
        .fit_transform(log, cutoff="2024-03-01")
        .reset_index()
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)
    assert "purchases" in expected.columns and "csat_mean" not in expected.columns
    for bad, words in [
        (
            "activty,value",
            ["unknown feature family 'activty'", "activity, touchpoints", "mean 'activity'?"],
        ),
        ("activity,,value", ["separated by commas"]),
        ("value,value", ["named twice"]),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["features", events, "--families", bad, "--out", str(tmp_path / "x.csv")])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--families" in err and all(w in err for w in words), err
    assert not (tmp_path / "x.csv").exists()


def test_features_help_lists_the_default_families():
    from cjml.features import DEFAULT_FAMILIES

    proc = subprocess.run(
        [sys.executable, "-m", "cjml", "features", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    words = " ".join(proc.stdout.split())  # the help is wrapped to the terminal
    assert f"every family but btyd: {', '.join(DEFAULT_FAMILIES)})" in words


def test_train_then_evaluate_and_a_flipped_byte_is_refused(tmp_path, capsys):
    model = tmp_path / "models" / "sample.cjml"
    code, out, err = run(
        capsys,
        "train",
        str(sample_path()),
        "--out",
        str(model),
        "--n-cutoffs",
        "5",
        "--step",
        "15D",
        "--quiet",
    )
    assert code == 0, err
    assert "rfm_logistic" in out and "roc_auc" in out and "next stage" in out
    assert model.exists() and model.with_name("sample.cjml.manifest.json").exists()
    code, out, err = run(capsys, "evaluate", str(model), str(sample_path()), "--quiet")
    assert code == 0, err
    assert "test cutoff 2024-07-29" in out and "markov" in out
    # Training again onto the same name is refused before any work, the bundle intact.
    before = model.read_bytes()
    code, _, err = run(capsys, "train", str(sample_path()), "--out", str(model), "--quiet")
    assert code == 1 and "already exists" in err and "--force" in err
    assert model.read_bytes() == before
    # One flipped byte: evaluate refuses to load it, with the reason and the fix.
    data = bytearray(before)
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    code, out, err = run(capsys, "evaluate", str(model), str(sample_path()), "--quiet")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "sha256" in err and "was not loaded" in err
    assert "Traceback" not in err


def test_evaluate_refuses_events_from_the_training_period(capsys):
    # the run's shared bundle: trained on the whole sample (4 cutoffs 15 days apart, no
    # held-out cutoff), as `cjml train SAMPLE --n-cutoffs 4 --step 15D --no-holdout` does
    model = sample_bundle_path()
    code, _, err = run(capsys, "evaluate", str(model), str(sample_path()), "--quiet")
    assert code == 1
    assert "inside the period this bundle was trained on" in err and "pass events up to" in err
    # what works instead, never back to the refusal that led here
    assert "cjml evaluate MODEL EVENTS --cv 5" in err
    assert "retrain with the latest cutoff held out" in err


def test_a_horizon_too_long_for_a_held_out_cutoff_trains_and_evaluates_with_cv(tmp_path, capsys):
    events = tmp_path / "journeys.parquet"
    assert (
        run(
            capsys,
            "generate",
            "--customers",
            "300",
            "--seed",
            "0",
            "--days",
            "400",
            "--out",
            str(events),
        )[0]
        == 0
    )
    model = tmp_path / "m.cjml"
    code, _, err = run(
        capsys, "train", str(events), "--out", str(model), "--horizon", "175D", "--quiet"
    )
    assert code == 1 and not model.exists()
    # held out at 2024-08-13, the 19 weekly training cutoffs would end 182 days before it:
    # 168 days is the longest horizon that leaves at least half of them after the first event
    # in command-line words: the library's "(horizon='168D', --horizon 168D)" loses its keyword
    assert "use a horizon of at most 168 days (--horizon 168D)" in err
    assert "keep the 175-day horizon with 20 cutoffs 10 days apart (--step 10D)" in err
    assert "at the one cutoff 2024-08-13" in err and "(--cv 5)" in err
    assert "horizon='" not in err and "step='" not in err and "cv=5" not in err
    assert "--no-holdout" not in err
    code, out, err = run(
        capsys,
        "train",
        str(events),
        "--out",
        str(model),
        "--horizon",
        "175D",
        "--lookback",
        "365D",
        "--cv",
        "2",
        "--quiet",
    )
    assert code == 0, err
    assert "cutoff 2024-08-13 (horizon 175 days): 258 customers" in out
    assert "2-fold cross-validation over these customers" in out
    assert out.index(
        "== active within the 175 days before the cutoff (the customers a campaign "
        "can still reach): 222 customers"
    ) < out.index("== every customer with an event in the 365 days before the cutoff")
    assert "refitted on every customer at 2024-08-13" in out
    code, _, err = run(capsys, "evaluate", str(model), str(events), "--quiet")
    assert code == 1 and "cjml evaluate MODEL EVENTS --cv 5" in err
    code, out, err = run(capsys, "evaluate", str(model), str(events), "--cv", "2", "--quiet")
    assert code == 0, err
    assert "cutoff 2024-08-13 (horizon 175 days)" in out and "per fold" in out
    with pytest.raises(SystemExit) as usage:
        main(["train", str(events), "--out", str(tmp_path / "x.cjml"), "--cv", "1"])
    assert usage.value.code == 2 and "expected 2 folds or more" in capsys.readouterr().err


def test_train_says_why_there_is_no_value_model_or_recommender_in_command_line_words():
    from cjml.cli._models import _recommender_sentence, _value_sentence

    assert _value_sentence({"note": "not asked for (value=False, --no-value)"}) == (
        " No value model: not asked for (--no-value)."
    )
    note = "Too few customers (min_customers=500, --min-customers 500)."
    assert _recommender_sentence({"fitted": False, "note": note}) == (
        " No recommender: too few customers (--min-customers 500)."
    )


def test_train_takes_a_training_row_limit_and_refuses_a_tiny_one(tmp_path, capsys):
    events, out = str(sample_path()), tmp_path / "m.cjml"
    small = ["--n-cutoffs", "6", "--step", "15D", "--no-survival", "--no-value", "--quiet"]
    assert main(["train", events, "--out", str(out), *small, "--max-training-rows", "5,000"]) == 0
    printed = capsys.readouterr().out
    sample = cjml.ModelBundle.load(out).metadata["training_sample"]
    assert sample["max_rows"] == 5_000 and sample["rows"] < sample["of_rows"]
    assert "more than the 5,000 allowed (--max-training-rows 5000)" in printed
    with pytest.raises(SystemExit) as exc:
        main(["train", events, "--out", str(out), "--force", "--max-training-rows", "10"])
    assert exc.value.code == 2
    assert "expected 0 (every row) or a number of at least 1000, got 10" in capsys.readouterr().err
