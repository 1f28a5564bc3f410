"""Tests of cjml.events: the event-log contract."""

from __future__ import annotations

import doctest
import json
import pickle
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cjml
import cjml.events as events
from cjml import EventLog, EventLogSummary, JourneyMap, read_events
from cjml.events import CANONICAL_COLUMNS, REQUIRED_COLUMNS, to_utc_timestamp
from cjml.exceptions import InputFileError, SchemaError


def small_events() -> pd.DataFrame:
    """Three customers, eight events, optional columns and one extra column."""
    return pd.DataFrame(
        {
            "customer_id": [2, 1, 1, 3, 2, 1, 2, 3],
            "timestamp": [
                "2024-01-02 10:00:00",
                "2024-01-01 09:00:00",
                "2024-01-03 12:00:00",
                "2024-01-05 08:00:00",
                "2024-01-04 18:30:00",
                "2024-01-02 09:00:00",
                "2024-01-06 11:00:00",
                "2024-01-05 09:00:00",
            ],
            "touchpoint": [
                "website_visit",
                "paid_ad",
                "purchase",
                "online_review",
                "live_chat",
                "email",
                "purchase",
                "free_trial",
            ],
            "channel": ["web", "social", "web", "social", "web", "email", "store", None],
            "satisfaction": [np.nan, np.nan, 5.0, np.nan, 4.0, np.nan, 3.0, np.nan],
            "amount": [np.nan, np.nan, 49.9, np.nan, np.nan, np.nan, -10.0, np.nan],
            "region": ["north", "south", "south", "east", "north", "south", "north", "east"],
        }
    )


def quiet_read(source, **kwargs) -> EventLog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_events(source, **kwargs)


# --------------------------------------------------------------------------- public API
def test_all_is_consistent():
    for name in events.__all__:
        assert hasattr(events, name), name
    for name in ("EventLog", "EventLogSummary", "read_events"):
        assert getattr(cjml, name) is getattr(events, name)
    assert CANONICAL_COLUMNS[:3] == REQUIRED_COLUMNS


def test_docstring_examples_run():
    result = doctest.testmod(events, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3
    assert result.failed == 0


# --------------------------------------------------------------------------- canonical form
def test_canonical_frame_layout_and_dtypes():
    log = read_events(small_events())
    f = log.frame
    assert list(f.columns) == [
        "customer_id",
        "timestamp",
        "touchpoint",
        "stage",
        "channel",
        "satisfaction",
        "amount",
        "region",
    ]
    assert isinstance(f.index, pd.RangeIndex)
    assert f["customer_id"].dtype == np.int64
    assert str(f["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert f["touchpoint"].cat.categories.tolist()[:16] == list(
        JourneyMap.default().touchpoint_names
    )
    assert f["stage"].cat.ordered
    assert f["stage"].cat.categories.tolist() == list(JourneyMap.default().stages)
    assert f["channel"].cat.categories.tolist() == ["email", "social", "store", "web"]
    assert f["satisfaction"].dtype == np.float64
    assert f["customer_id"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3]
    for _, g in f.groupby("customer_id"):
        assert g["timestamp"].is_monotonic_increasing


def test_arrays_and_counts():
    log = read_events(small_events())
    assert (log.n_customers, log.n_events, len(log)) == (3, 8, 8)
    np.testing.assert_array_equal(log.customer_codes, [0, 0, 0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(log.offsets, [0, 3, 6, 8])
    np.testing.assert_array_equal(log.customer_ids, [1, 2, 3])
    np.testing.assert_array_equal(log.source_rows, [1, 5, 2, 0, 4, 6, 3, 7])
    np.testing.assert_array_equal(
        log.timestamps_ns, log.frame["timestamp"].astype("int64").to_numpy()
    )
    np.testing.assert_array_equal(log.touchpoint_codes, log.frame["touchpoint"].cat.codes)
    np.testing.assert_array_equal(log.stage_codes, log.frame["stage"].cat.codes)
    assert log.customer_codes.dtype == np.int64 and log.offsets.dtype == np.int64
    with pytest.raises(ValueError):
        log.customer_codes[0] = 5  # read-only
    assert log.columns["customer_id"] == "customer_id"
    assert log.extra_columns == ("region",)
    assert log.head(2).shape[0] == 2
    assert repr(log).startswith("EventLog(8 events, 3 customers")


def test_string_customer_ids_sorted_as_text():
    df = small_events()
    df["customer_id"] = df["customer_id"].map({1: "b", 2: "a10", 3: "a9"})
    log = read_events(df)
    assert log.customer_ids.tolist() == ["a10", "a9", "b"]
    assert log.frame["customer_id"].tolist()[:3] == ["a10"] * 3


def test_csv_keeps_leading_zero_ids_as_text(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text(
        "customer_id,timestamp,touchpoint\n007,2024-01-01,paid_ad\n12,2024-01-02,paid_ad\n"
    )
    log = read_events(path)
    assert log.customer_ids.tolist() == ["007", "12"]


def test_canonical_frame_reads_back_unchanged():
    log = read_events(small_events())
    again = read_events(log.frame)
    pd.testing.assert_frame_equal(again.frame, log.frame)
    assert again.columns["stage"] == "stage"


def test_event_log_pickles():
    log = read_events(small_events())
    assert len(log.offsets) == log.n_customers + 1  # a cached array travels too
    copy = pickle.loads(pickle.dumps(log))
    pd.testing.assert_frame_equal(copy.frame, log.frame)
    np.testing.assert_array_equal(copy.offsets, log.offsets)
    assert copy.journey_map == log.journey_map


def test_constructor_is_from_frame():
    pd.testing.assert_frame_equal(
        EventLog(small_events()).frame, EventLog.from_frame(small_events()).frame
    )
    with pytest.raises(TypeError, match="read_events"):
        EventLog.from_frame("events.csv")


# --------------------------------------------------------------------------- sources
def _text_as_files_give_it(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its text in the dtype a file's text is read as: pandas 3's ``str``, which
    pandas 2.2 calls ``string[pyarrow_numpy]`` (its frames hold text as objects)."""
    from cjml.io._files import _TEXT_DTYPE

    if _TEXT_DTYPE is None:
        return df
    return df.astype({c: _TEXT_DTYPE for c in df.columns if df[c].dtype == object})


def test_csv_parquet_folder_and_frame_give_the_same_log(tmp_path):
    df = small_events()
    expected = read_events(_text_as_files_give_it(df)).frame

    csv = tmp_path / "events.csv"
    df.to_csv(csv, index=False)
    pq = tmp_path / "events.parquet"
    df.to_parquet(pq, index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    df.iloc[:3].to_parquet(folder / "part-0.parquet", index=False)
    df.iloc[3:].to_parquet(folder / "part-1.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    csv_folder = tmp_path / "csv_parts"
    csv_folder.mkdir()
    df.iloc[:5].to_csv(csv_folder / "a.csv", index=False)
    df.iloc[5:].to_csv(csv_folder / "b.csv", index=False)

    for source in (csv, str(pq), folder, csv_folder):
        log = read_events(source)
        pd.testing.assert_frame_equal(log.frame, expected)
    np.testing.assert_array_equal(read_events(folder).source_rows, read_events(df).source_rows)


def test_event_log_passes_through():
    log = read_events(small_events())
    assert read_events(log) is log


def test_tz_aware_frame_equals_text(tmp_path):
    df = small_events()
    aware = df.assign(timestamp=pd.to_datetime(df["timestamp"]).dt.tz_localize("UTC"))
    pd.testing.assert_frame_equal(read_events(aware).frame, read_events(df).frame)


# --------------------------------------------------------------------------- mapping
USER_FRAME = pd.DataFrame(
    {
        "event_time": ["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-01 11:00"],
        "user": ["u1", "u1", "u2"],
        "segment": ["a", "a", "b"],
        "action": ["paid_ad", "email", "online_review"],
        "csat": [np.nan, 4.0, 5.0],
        "basket": [1, 2, 3],
    }
)


@pytest.mark.parametrize(
    "columns",
    [
        {
            "customer_id": "user",
            "timestamp": "event_time",
            "touchpoint": "action",
            "satisfaction": "csat",
        },
        "customer_id=user, timestamp=event_time,touchpoint=action,satisfaction=csat",
    ],
)
def test_column_mapping_dict_and_string(columns):
    log = read_events(USER_FRAME, columns=columns)
    assert list(log.frame.columns) == [
        "customer_id",
        "timestamp",
        "touchpoint",
        "stage",
        "satisfaction",
        "segment",
        "basket",
    ]
    assert log.columns == {
        "customer_id": "user",
        "timestamp": "event_time",
        "touchpoint": "action",
        "satisfaction": "csat",
    }
    assert log.frame["basket"].tolist() == [1, 2, 3]
    assert log.frame["basket"].dtype == np.int64
    assert log.frame["segment"].tolist() == ["a", "a", "b"]


def test_mapping_key_not_canonical():
    with pytest.raises(SchemaError, match=r"'customer'.*Did you mean 'customer_id'"):
        read_events(USER_FRAME, columns={"customer": "user"})


def test_mapping_reversed_is_explained():
    with pytest.raises(SchemaError, match=r"did you mean \{'customer_id': 'user'\}"):
        read_events(USER_FRAME, columns={"user": "customer_id"})


def test_mapped_column_absent():
    with pytest.raises(SchemaError, match=r"'usr'.*Did you mean 'user'\?.*Available columns"):
        read_events(
            USER_FRAME,
            columns={"customer_id": "usr", "timestamp": "event_time", "touchpoint": "action"},
        )


def test_mapping_string_malformed():
    with pytest.raises(SchemaError, match=r"'customer_id:user'.*canonical=your_column"):
        read_events(USER_FRAME, columns="customer_id:user")


def test_missing_required_column_suggests_mapping():
    with pytest.raises(SchemaError) as info:
        read_events(USER_FRAME)
    msg = str(info.value)
    assert "'customer_id'" in msg and "'timestamp'" in msg and "'touchpoint'" in msg
    assert "Did you mean 'user'?" in msg and "Did you mean 'event_time'?" in msg
    assert "Available columns: ['event_time', 'user'" in msg
    assert "columns={'customer_id': 'user'" in msg
    assert "--columns customer_id=user,timestamp=event_time,touchpoint=action" in msg
    assert "Fix:" in msg
    assert "same kind of event" not in msg  # 'action' is the touchpoint column


def test_a_log_of_purchases_without_a_touchpoint_column_is_told_how_to_name_them(tmp_path):
    path = tmp_path / "transactions.csv"
    path.write_text("id,date,spend\n1,2024-01-02,10.5\n2,2024-01-03,3.0\n")
    with pytest.raises(SchemaError) as info:
        read_events(path, columns="customer_id=id,timestamp=date,amount=spend")
    msg = str(info.value)
    assert "missing required column:\n  'touchpoint'" in msg
    assert "touchpoint='purchase' (--touchpoint purchase)" in msg
    # the fix, as the message says it
    log = read_events(
        path, columns="customer_id=id,timestamp=date,amount=spend", touchpoint="purchase"
    )
    assert log.n_events == 2 and set(log.frame["touchpoint"]) == {"purchase"}


def test_a_required_column_in_the_index_is_told_to_come_back_as_a_column():
    indexed = small_events().set_index("customer_id")
    with pytest.raises(SchemaError) as info:
        read_events(indexed)
    msg = str(info.value)
    assert "'customer_id' is in the DataFrame's index, not its columns" in msg
    assert msg.endswith("Fix: pass df.reset_index().")
    log = read_events(indexed.reset_index())  # the fix, as the message says it
    assert log.n_events == len(indexed)
    mapped = small_events().rename(columns={"customer_id": "user"}).set_index("user")
    with pytest.raises(SchemaError, match=r"'user' is the DataFrame's index, not a column"):
        read_events(mapped, columns={"customer_id": "user"})


def test_canonical_name_clash():
    df = small_events().rename(columns={"region": "stage_label"}).assign(stage="junk")
    with pytest.raises(SchemaError, match=r"Your column 'stage'.*rename or drop"):
        read_events(df, columns={"stage": "stage_label"})


# --------------------------------------------------------------------------- validation
def test_empty_frame():
    with pytest.raises(SchemaError, match=r"no rows.*Fix:"):
        read_events(small_events().iloc[:0])


def test_header_only_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("customer_id,timestamp,touchpoint\n")
    with pytest.raises(SchemaError, match=r"'empty.csv' has no rows"):
        read_events(path)


def test_unparseable_timestamps_csv_lines(tmp_path):
    df = small_events()
    df.loc[[2, 6], "timestamp"] = ["yesterday", "2024-13-45"]
    path = tmp_path / "bad.csv"
    df.rename(columns={"timestamp": "event_time"}).to_csv(path, index=False)
    with pytest.raises(SchemaError) as info:
        read_events(path, columns={"timestamp": "event_time"})
    msg = str(info.value)
    assert (
        "Column 'timestamp' (your column 'event_time') has 2 rows with values that cannot be "
        "read as dates:"
    ) in msg
    assert "row 2 (bad.csv line 4): event_time='yesterday'" in msg
    assert "row 6 (bad.csv line 8): event_time='2024-13-45'" in msg
    assert "Fix:" in msg


def test_non_iso_dates_in_one_format_are_read():
    df = small_events().iloc[:2].assign(timestamp=["01/02/2024 10:00", "01/03/2024 10:00"])
    log = read_events(df)
    assert log.frame["timestamp"].dt.day.tolist() == [3, 2]  # customer 1 on Jan 3, 2 on Jan 2


def test_numeric_timestamps_need_a_unit():
    df = small_events().iloc[:3].assign(timestamp=[1704103200, 1704189600, 1704276000])
    with pytest.raises(SchemaError, match=r"(?s)numbers instead of dates.*timestamp_unit='s'"):
        read_events(df)
    log = read_events(df, timestamp_unit="s")
    assert str(log.frame["timestamp"].iloc[0]) == "2024-01-02 10:00:00+00:00"
    ms = read_events(df.assign(timestamp=df["timestamp"] * 1000), timestamp_unit="ms")
    pd.testing.assert_frame_equal(ms.frame, log.frame)


def test_epoch_seconds_in_csv_and_text(tmp_path):
    path = tmp_path / "epoch.csv"
    path.write_text("customer_id,timestamp,touchpoint\n1,1704103200,paid_ad\n1,1704189600,email\n")
    log = read_events(path, timestamp_unit="s")
    assert [str(t) for t in log.frame["timestamp"]] == [
        "2024-01-01 10:00:00+00:00",
        "2024-01-02 10:00:00+00:00",
    ]
    text = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "timestamp": ["1704103200", "1704189600"],
            "touchpoint": ["paid_ad", "email"],
        }
    )
    pd.testing.assert_frame_equal(read_events(text, timestamp_unit="s").frame, log.frame)
    with pytest.raises(SchemaError, match=r"(?s)cannot be read as dates.*timestamp_unit='s'"):
        read_events(text)


def test_unhashable_cells_do_not_crash():
    df = small_events().astype({"touchpoint": object})
    df.at[0, "touchpoint"] = ["email"]
    with pytest.raises(SchemaError, match=r"\"\['email'\]\""):
        read_events(df)


def test_out_of_range_timestamp():
    df = small_events().assign(timestamp=lambda d: d["timestamp"].where(d.index != 3, "3024-01-01"))
    with pytest.raises(SchemaError, match=r"(?s)dates outside the supported range.*row 3: "):
        read_events(df)


@pytest.mark.parametrize("missing", [None, "", "  "])
def test_null_customer_ids(missing):
    df = small_events().astype({"customer_id": object})
    df.loc[4, "customer_id"] = missing
    with pytest.raises(
        SchemaError,
        match=r"(?s)Column 'customer_id' has 1 row with a missing "
        r"or empty customer id:\n  row 4: customer_id=.*Fix:",
    ):
        read_events(df)


def test_null_customer_ids_int_with_index_label():
    df = small_events().set_index(pd.Index(list("abcdefgh")))
    df["customer_id"] = df["customer_id"].astype("Float64")
    df.loc["c", "customer_id"] = None
    with pytest.raises(SchemaError, match=r"row 2 \(index 'c'\)"):
        read_events(df)


def test_null_timestamps():
    df = small_events()
    df.loc[[0, 5], "timestamp"] = [None, ""]
    with pytest.raises(
        SchemaError,
        match=r"Column 'timestamp' has 2 rows with no timestamp:"
        r"\n  row 0: .*\n  row 5: ",
    ):
        read_events(df)


def test_null_timestamps_datetime_dtype():
    df = small_events().assign(timestamp=lambda d: pd.to_datetime(d["timestamp"]))
    df.loc[1, "timestamp"] = pd.NaT
    with pytest.raises(
        SchemaError, match=r"(?s)Column 'timestamp' has 1 row with no timestamp.*row 1"
    ):
        read_events(df)


def test_null_touchpoints():
    df = small_events()
    df.loc[[3, 7], "touchpoint"] = [None, ""]
    with pytest.raises(
        SchemaError,
        match=r"(?s)Column 'touchpoint' has 2 rows with a missing or "
        r"empty touchpoint.*row 3.*row 7",
    ):
        read_events(df)


@pytest.mark.parametrize(
    "column, bad, pattern",
    [
        ("satisfaction", 6, r"satisfaction.*outside the CSAT range 1 to 5"),
        ("satisfaction", 0, r"satisfaction.*outside the CSAT range 1 to 5"),
        ("nps", 11, r"nps.*outside the NPS range 0 to 10"),
        ("effort", 0, r"effort.*outside the CES range 1 to 7"),
        ("satisfaction", "great", r"satisfaction.*not numbers \(CSAT scores from 1 to 5"),
        ("amount", np.inf, r"amount.*not finite"),
        ("amount", "12,50", r"amount.*not numbers"),
    ],
)
def test_scores_and_amounts_validated(column, bad, pattern):
    df = small_events()
    values = df[column].tolist() if column in df else [np.nan] * len(df)
    values[5] = bad
    df[column] = pd.Series(values, dtype=object if isinstance(bad, str) else float)
    with pytest.raises(SchemaError, match="(?s)" + pattern + r".*row 5: " + column + r"=.*Fix:"):
        read_events(df)


@pytest.mark.parametrize(
    "column, scores, advice",
    [
        (
            "satisfaction",
            [1, 7, 10],
            "its scores run from 1 to 10: if they are on a 1-10 scale, rescale them to 1-5 "
            "before reading, e.g. df['satisfaction'] = 1 + (df['satisfaction'] - 1) * 4 / 9;",
        ),
        (
            "satisfaction",
            [0, 3, 5],
            "its scores run from 0 to 5: if they are on a 0-5 scale, rescale them to 1-5 "
            "before reading, e.g. df['satisfaction'] = 1 + df['satisfaction'] * 4 / 5;",
        ),
        (
            "nps",
            [0, 55, 90],
            "its scores run from 0 to 90: if they are on a 0-100 scale, rescale them to 0-10 "
            "before reading, e.g. df['nps'] = 0 + df['nps'] * 10 / 100;",
        ),
        ("nps", [-100, 20, 60], "rescale nps to 0-10 (or map it to another column name"),
        ("effort", [1, 250], "rescale effort to 1-7 (or map it to another column name"),
    ],
)
def test_scores_on_another_scale_get_the_formula_that_rescales_them(column, scores, advice):
    df = small_events()
    values = [np.nan] * len(df)
    values[: len(scores)] = scores
    df[column] = pd.Series(values, dtype=float)
    with pytest.raises(SchemaError) as err:
        read_events(df)
    assert f"Fix: {advice}" in str(err.value)
    if "scale, rescale" in advice:  # the formula given does bring them into the range
        fixed = df.copy()
        formula = advice.split("e.g. ")[1].split(";")[0].split(" = ")[1]
        fixed[column] = eval(formula, {"df": df})  # noqa: S307 (our own message)
        read_events(fixed)


@pytest.mark.parametrize(
    "written, said, fix",
    [
        (
            ["$1,234.50", "$12.00", "", "-$3.10"],
            "carry a currency or thousands separators",
            lambda s: pd.to_numeric(s.str.replace(r"[^0-9.+-]", "", regex=True)),
        ),
        (
            ["12.5 EUR", "7 EUR", "", "1 200 EUR"],
            "carry a currency or thousands separators",
            lambda s: pd.to_numeric(s.str.replace(r"[^0-9.+-]", "", regex=True)),
        ),
        (
            ["1486,23", "12,5", "", "-3,10"],  # thousands without a separator
            "use a decimal comma",
            lambda s: pd.to_numeric(
                s.str.replace(r"[^0-9,+-]", "", regex=True).str.replace(",", ".")
            ),
        ),
        (
            ["1.234,50", "12,5", "", "-3,10"],
            "use a decimal comma",
            lambda s: pd.to_numeric(
                s.str.replace(r"[^0-9,+-]", "", regex=True).str.replace(",", ".")
            ),
        ),
    ],
)
def test_amounts_written_for_people_get_the_line_that_reads_them(written, said, fix):
    df = small_events().iloc[:4].drop(columns="amount", errors="ignore").assign(spend=written)
    with pytest.raises(SchemaError) as info:
        read_events(df, columns={"amount": "spend"})
    msg = str(info.value)
    assert f"Fix: these numbers {said}" in msg
    assert "df['spend'] = pd.to_numeric(df['spend'].str.replace(" in msg
    # the line the message gives reads them, to the cent
    log = read_events(df.assign(spend=fix(df["spend"])), columns={"amount": "spend"})
    assert sorted(log.frame["amount"].dropna().round(2)) == sorted(
        pd.to_numeric(fix(df["spend"])).dropna().round(2)
    )


def test_a_number_that_reads_either_way_is_not_called_a_decimal_comma():
    from cjml.io._values import _number_text_fix

    said = _number_text_fix(pd.Series(["5,401", "€12,000"]), "amount")
    assert said is not None and "thousands separators" in said
    assert _number_text_fix(pd.Series(["n/a", "12"]), "amount") is None


def test_scores_accept_text_numbers_and_blanks():
    df = small_events().assign(nps=["9", "", None, "7", "10", "0", "nan", "3.5"])
    log = read_events(df)
    assert log.frame["nps"].isna().sum() == 3


def test_unknown_stage_names():
    df = small_events().assign(
        stage=[
            "consideration",
            "awarenes",
            "conversion",
            "awareness",
            "retention",
            "awarenes",
            "convert",
            "consideration",
        ]
    )
    with pytest.raises(SchemaError) as info:
        read_events(df)
    msg = str(info.value)
    assert "Column 'stage' has 3 rows with stages that journey map 'default'" in msg
    assert "'awarenes': 2 rows. Did you mean 'awareness'?" in msg
    assert "'convert': 1 row." in msg
    assert "The map's stages are ['awareness'" in msg
    assert "row 1: stage='awarenes', touchpoint='paid_ad'" in msg
    assert "Fix:" in msg


def test_stages_written_in_other_case_or_spacing_get_the_cleaning_line():
    df = small_events()
    df["stage"] = ["RETENTION", "Awareness ", "awareness", "retention", *["conversion"] * 4]
    with pytest.raises(SchemaError) as info:
        read_events(df)
    msg = str(info.value)
    assert "'RETENTION': 1 row. Did you mean 'retention'?" in msg
    assert "'Awareness ': 1 row. Did you mean 'awareness'?" in msg
    assert (
        "2 stages differ from the map's only in case, spaces or hyphens ('RETENTION' is "
        "'retention', 'Awareness ' is 'awareness'); cjml compares names exactly, so their "
        "events do not count as the map's. Fix: clean the column before reading, e.g. "
        "df['stage'] = df['stage'].str.strip().str.lower().str.replace(r'[\\s-]+', '_', "
        "regex=True)."
    ) in msg
    cleaned = df.assign(stage=df["stage"].str.strip().str.lower())
    assert set(read_events(cleaned).frame["stage"]) == {"retention", "awareness", "conversion"}


def test_unknown_touchpoints_without_stage_column():
    df = small_events()
    df.loc[[1, 4], "touchpoint"] = ["emial", "tiktok"]
    with pytest.raises(SchemaError) as info:
        read_events(df)
    msg = str(info.value)
    assert "Cannot derive the stage of 2 rows" in msg
    assert "'emial': 1 row. Did you mean 'email'?" in msg
    assert "row 1: touchpoint='emial'" in msg
    assert "Fix: add these touchpoints to a journey map that lists their stages" in msg
    assert "(journey_map='map.toml', --map map.toml;" in msg


def test_a_log_of_its_own_vocabulary_is_sent_to_draft_a_map_without_near_spellings():
    df = small_events()
    df["touchpoint"] = ["main", "catalog", "cart", "main", "catalog", "cart", "main", "main"]
    with pytest.raises(SchemaError) as info:
        read_events(df)
    msg = str(info.value)
    assert "Cannot derive the stage of 8 rows" in msg
    assert "'main': 4 rows.\n" in msg and "Did you mean" not in msg  # not 'email'
    assert "none of the log's touchpoints is in journey map 'default'" in msg
    assert "draft a map of it (cjml draft-map EVENTS --out map.toml" in msg
    # the map's names written otherwise are no vocabulary of its own: the cleaning fix
    df["touchpoint"] = ["Email", "Purchase", "Website Visit"] * 2 + ["Email", "Email"]
    with pytest.raises(SchemaError) as info:
        read_events(df)
    msg = str(info.value)
    assert "none of the log's touchpoints" not in msg
    assert "3 touchpoints differ from the map's only in case, spaces or hyphens" in msg
    assert "'Website Visit' is 'website_visit'" in msg
    df["touchpoint"] = ["main", "catalog", "cart", "main", "catalog", "cart", "main", "main"]
    # one known touchpoint among them: the names may be misspellings, as before
    df.loc[0, "touchpoint"] = "email"
    with pytest.raises(SchemaError, match="'main': 3 rows. Did you mean 'email'"):
        read_events(df)


def test_unknown_touchpoints_with_stage_column_warn():
    df = small_events().assign(stage="awareness")
    df.loc[[1, 4], "touchpoint"] = ["tiktok", "billboard"]
    with pytest.warns(
        UserWarning,
        match=r"2 touchpoints .* not in journey map 'default': "
        r"'billboard' \(1\), 'tiktok' \(1\)",
    ):
        log = read_events(df)
    assert log.unknown_touchpoints == ("billboard", "tiktok")
    assert log.frame["touchpoint"].cat.categories.tolist()[-2:] == ["billboard", "tiktok"]
    summary = log.summary()
    assert summary.unknown_touchpoints == ("billboard", "tiktok")
    assert summary.events_per_touchpoint["tiktok"] == 1
    assert "*billboard" in summary.to_text()


def test_touchpoints_written_differently_are_named_with_the_cleaning_fix():
    df = small_events().assign(stage="awareness").rename(columns={"touchpoint": "action"})
    df.loc[[1, 4], "action"] = ["Email ", "tiktok"]
    with pytest.warns(UserWarning) as caught:
        log = read_events(df, columns={"touchpoint": "action"})
    (msg,) = [str(w.message) for w in caught if "not in journey map" in str(w.message)]
    assert "1 touchpoint differs from the map's only in case, spaces or hyphens " in msg
    assert "('Email ' is 'email')" in msg
    assert "df['action'] = df['action'].str.strip().str.lower()" in msg
    # 'tiktok' is new, not misspelt: it keeps the journey-map fix
    assert "Fix for the others: add them to the journey map" in msg
    # names are compared exactly: the events stay where the data put them
    assert log.unknown_touchpoints == ("Email ", "tiktok")


def test_written_differently_pairs_only_case_space_and_hyphen_variants():
    from cjml.io._messages import _written_differently

    known = ["email", "website_visit", "live_chat"]
    names = ["Email", " website visit ", "Live-Chat", "emails", "sms", "WEBSITE_VISIT"]
    assert _written_differently(names, known) == [
        ("Email", "email"),
        (" website visit ", "website_visit"),
        ("Live-Chat", "live_chat"),
        ("WEBSITE_VISIT", "website_visit"),
    ]
    assert _written_differently(["sms"], known) == []
    # the line the messages give writes every such variant as the map does
    from cjml.io._messages import _cleaning_line

    df = pd.DataFrame({"tp": [n for n in names if n not in ("emails", "sms")]})
    exec(_cleaning_line("tp"), {"df": df})
    assert df["tp"].tolist() == ["email", "website_visit", "live_chat", "website_visit"]


def test_unknown_touchpoint_with_null_stage_is_an_error():
    df = small_events().assign(stage="awareness")
    df.loc[1, "touchpoint"] = "tiktok"
    df.loc[1, "stage"] = None
    with pytest.raises(SchemaError, match=r"(?s)column 'stage' is empty on these rows.*'tiktok'"):
        quiet_read(df)


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("events.txt", "pd.read_csv("),
        ("events", "pd.read_excel("),
    ],
)
def test_unsupported_files(tmp_path, name, reader):
    path = tmp_path / name
    path.write_text("customer_id,timestamp,touchpoint\n1,2024-01-01,paid_ad\n")
    with pytest.raises(InputFileError, match=rf"{name}.*not supported.*Parquet file") as info:
        read_events(path)
    # the fix names the pandas reader that opens this kind of file, and the file itself
    assert f"e.g. {reader}{str(path)!r}" in str(info.value)


@pytest.mark.parametrize(
    ("name", "unpack"),
    [
        ("export.zip", "unzip '{p}' -d events"),
        ("export.tar.gz", "tar -xf '{p}' -C events"),
        ("export.7z", "7z x '{p}' -oevents"),
    ],
)
def test_an_archive_of_files_says_to_unpack_it(tmp_path, name, unpack):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputFileError) as info:
        read_events(path)
    said = str(info.value)
    assert "it is an archive" in said and unpack.format(p=path) in said
    assert "read_excel" not in said


def test_missing_path(tmp_path):
    with pytest.raises(InputFileError, match=r"nope.csv.*no such file.*CSV file"):
        read_events(tmp_path / "nope.csv")


def test_folder_without_readable_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        InputFileError, match=r"holds no CSV, Parquet or JSON Lines file.*notes.txt"
    ):
        read_events(tmp_path)


def test_folder_mixing_formats(tmp_path):
    small_events().to_csv(tmp_path / "a.csv", index=False)
    small_events().to_parquet(tmp_path / "b.parquet")
    with pytest.raises(
        InputFileError, match=r"holds CSV files \('a.csv', \.\.\.\) and Parquet files"
    ):
        read_events(tmp_path)


def test_folder_with_different_columns(tmp_path):
    small_events().to_parquet(tmp_path / "a.parquet")
    small_events().drop(columns="region").to_parquet(tmp_path / "b.parquet")
    with pytest.warns(UserWarning, match=r"'region': 1 of 2 files lack it \('b.parquet'\)"):
        log = read_events(tmp_path)
    assert log.frame["region"].isna().sum() == len(small_events())
    # a file without a channel: its events are counted as such in the summary
    small_events().drop(columns="channel").to_parquet(tmp_path / "b.parquet")
    with pytest.warns(UserWarning, match=r"'channel': 1 of 2 files lack it"):
        summary = read_events(tmp_path).summary()
    assert "\n  (no channel)                9  56.2%" in summary.to_text()  # 8 + a None
    assert "<td>(no channel)</td><td style='text-align:right'>9</td>" in summary._repr_html_()
    small_events().drop(columns="touchpoint").to_parquet(tmp_path / "b.parquet")
    with pytest.raises(SchemaError, match=r"'b.parquet' lacks \['touchpoint'\]"):
        read_events(tmp_path)


def test_folder_errors_name_the_file(tmp_path):
    df = small_events()
    df.loc[6, "timestamp"] = "soon"
    df.iloc[:4].to_csv(tmp_path / "a.csv", index=False)
    df.iloc[4:].to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(SchemaError, match=r"row 6 \(b.csv line 4\): timestamp='soon'"):
        read_events(tmp_path)


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputFileError, match=r"Cannot read the Parquet file .*broken.parquet"):
        read_events(path)


def test_malformed_csv(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text('customer_id,timestamp,touchpoint\n1,2024-01-01,paid_ad\n2,"2024,x,y,z\n')
    with pytest.raises(
        InputFileError,
        match=r"Line 3 of the CSV file .*broken.csv.* opens a "
        r"quote .* never closed",
    ):
        read_events(path)


def test_wrong_source_type():
    with pytest.raises(InputFileError, match=r"Cannot read events from a list"):
        read_events([1, 2, 3])


# --------------------------------------------------------------------------- stages
TINY = pd.DataFrame(
    {
        "customer_id": ["a"] * 6 + ["b"] * 4,
        "timestamp": pd.date_range("2024-01-01", periods=10, freq="D"),
        "touchpoint": [
            "paid_ad",
            "website_visit",
            "purchase",
            "email",
            "renewal_reminder",
            "online_review",
            "online_review",
            "email",
            "referral_invite",
            "website_visit",
        ],
    }
)
TINY_STAGES = [
    "awareness",  # paid_ad: awareness only
    "consideration",  # website_visit: consideration..retention, running max 1
    "conversion",  # purchase: conversion..loyalty
    "conversion",  # email: consideration..loyalty, running max 2 -> conversion
    "retention",  # renewal_reminder: retention only
    "consideration",  # online_review: awareness..consideration, max 3 clipped to 1
    "awareness",  # b: online_review starts at awareness
    "consideration",  # email: earliest consideration
    "loyalty",  # referral_invite: loyalty only
    "retention",  # website_visit: running max 4 clipped to its latest, retention
]


def test_stage_derived_from_the_map():
    log = read_events(TINY)
    assert log.frame["stage"].tolist() == TINY_STAGES


def test_null_stages_filled_from_evidence():
    given = pd.Series(
        [None, "consideration", None, None, None, None, "awareness", "", None, None], dtype=object
    )
    log = read_events(TINY.assign(stage=given))
    assert log.frame["stage"].tolist() == TINY_STAGES
    # a given stage counts as evidence for the rows that follow
    given2 = given.copy()
    given2[1] = "retention"
    log2 = read_events(TINY.assign(stage=given2))
    assert log2.frame["stage"].tolist()[:4] == ["awareness", "retention", "retention", "retention"]


def test_given_stages_kept_as_is():
    stages = ["loyalty", "awareness"] * 5
    log = read_events(TINY.assign(stage=stages))
    assert log.frame["stage"].tolist() == stages


def test_custom_journey_map_dict():
    jm = {
        "stages": ["lead", "client"],
        "touchpoints": {
            "call": {"channel": "offline", "stages": ["lead", "client"]},
            "invoice": {"channel": "online", "stages": ["client"]},
        },
    }
    df = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "touchpoint": ["call", "invoice", "call"],
        }
    )
    log = read_events(df, journey_map=jm)
    assert log.frame["stage"].tolist() == ["lead", "client", "client"]
    assert log.summary().journey_map_name == "custom"


# --------------------------------------------------------------------------- time zones
def test_naive_in_timezone_equals_aware():
    naive = TINY.copy()
    aware = TINY.assign(timestamp=TINY["timestamp"].dt.tz_localize("Europe/Paris"))
    text_offsets = TINY.assign(timestamp=aware["timestamp"].map(lambda t: t.isoformat()))
    expected = read_events(aware).frame
    pd.testing.assert_frame_equal(read_events(naive, timezone="Europe/Paris").frame, expected)
    pd.testing.assert_frame_equal(read_events(text_offsets).frame, expected)
    text_naive = TINY.assign(timestamp=TINY["timestamp"].astype(str))
    pd.testing.assert_frame_equal(read_events(text_naive, timezone="Europe/Paris").frame, expected)
    assert str(expected["timestamp"].iloc[0]) == "2023-12-31 23:00:00+00:00"


def test_text_with_offsets_ignores_timezone():
    df = TINY.iloc[:2].assign(timestamp=["2024-01-01T10:00:00+02:00", "2024-01-02T10:00:00Z"])
    log = read_events(df, timezone="America/New_York")
    assert [str(t) for t in log.frame["timestamp"]] == [
        "2024-01-01 08:00:00+00:00",
        "2024-01-02 10:00:00+00:00",
    ]


def test_local_times_across_a_daylight_saving_change_are_read_and_said():
    wall = ["2024-10-27 02:30:00", "2024-03-31 02:15:00", "2024-10-28 10:00:00"]
    df = TINY.iloc[:3].assign(timestamp=wall)
    with pytest.warns(UserWarning) as caught:
        log = read_events(df, timezone="Europe/Paris")
    (said,) = [str(w.message) for w in caught if "daylight-saving" in str(w.message)]
    assert said.startswith(
        "2 local times of column 'timestamp' fall in a daylight-saving change of timezone "
        "'Europe/Paris': 1 in an hour that repeats when clocks go back (read as its first "
        "occurrence, summer time) and 1 in an hour that clocks skip"
    )
    assert "e.g. row 0: '2024-10-27 02:30:00' read as 2024-10-27T02:30:00+02:00" in said
    assert "give the timestamps a UTC offset" in said
    read = sorted(str(t) for t in log.frame["timestamp"])
    assert read == [
        "2024-03-31 01:15:00+00:00",  # 02:15 does not exist: an hour later, 03:15 CEST
        "2024-10-27 00:30:00+00:00",  # 02:30 happens twice: the first, CEST (+02:00)
        "2024-10-28 09:00:00+00:00",  # an ordinary time, CET (+01:00)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_events(df.iloc[2:], timezone="Europe/Paris")  # nothing to say


def test_unknown_timezone():
    with pytest.raises(
        ValueError,
        match=r"Unknown timezone 'Europe/Pariss'.*Did you mean "
        r"'Europe/Paris'",
    ):
        read_events(TINY, timezone="Europe/Pariss")


def test_to_utc_timestamp():
    ts = to_utc_timestamp("2024-07-01 12:00", timezone="Europe/Paris")
    assert ts == pd.Timestamp("2024-07-01 10:00", tz="UTC")
    assert str(ts.tz) == "UTC" and ts.unit == "ns"
    assert to_utc_timestamp("2024-07-01T12:00+02:00", timezone="Asia/Tokyo") == ts
    with pytest.raises(ValueError, match="Cannot read 'soon'"):
        to_utc_timestamp("soon")
    with pytest.raises(ValueError, match="number"):
        to_utc_timestamp(1704103200)


# --------------------------------------------------------------------------- duplicates
def test_duplicates_reported_and_removed():
    df = pd.concat([small_events(), small_events().iloc[[2, 4, 4]]], ignore_index=True)
    with pytest.warns(UserWarning, match=r"3 exact duplicate events.*\n  row 8 repeats row 2"):
        kept = read_events(df)
    assert (kept.n_events, kept.duplicates_found, kept.duplicates_removed) == (11, 3, 0)
    with pytest.warns(UserWarning, match=r"They were removed"):
        dropped = read_events(df, drop_duplicates=True)
    assert (dropped.n_events, dropped.duplicates_found, dropped.duplicates_removed) == (8, 3, 3)
    pd.testing.assert_frame_equal(dropped.frame, read_events(small_events()).frame)
    np.testing.assert_array_equal(dropped.source_rows, read_events(small_events()).source_rows)
    assert dropped.summary().duplicates_removed == 3


def test_rows_differing_only_in_an_extra_column_are_not_duplicates():
    df = pd.concat(
        [small_events(), small_events().iloc[[2]].assign(region="west")], ignore_index=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = read_events(df)
    assert log.duplicates_found == 0 and log.n_events == 9


# --------------------------------------------------------------------------- shuffling
rows = st.tuples(
    st.sampled_from([1, 2, 3, 10]),
    st.integers(0, 4),  # day
    st.sampled_from(["paid_ad", "email", "purchase", "website_visit", "loyalty_reward"]),
    st.sampled_from(["web", "store", None]),
    st.sampled_from([np.nan, 1.0, 5.0]),
    st.sampled_from(["x", "y"]),
)


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(rows, min_size=1, max_size=25), st.randoms(use_true_random=False), st.booleans())
def test_shuffled_rows_give_the_same_frame(data, rnd, drop):
    df = pd.DataFrame(
        data, columns=["customer_id", "day", "touchpoint", "channel", "satisfaction", "note"]
    )
    df["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df.pop("day"), unit="D")
    order = list(range(len(df)))
    rnd.shuffle(order)
    shuffled = df.iloc[order].reset_index(drop=True)
    a = quiet_read(df, drop_duplicates=drop)
    b = quiet_read(shuffled, drop_duplicates=drop)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.duplicates_found == b.duplicates_found
    if not a.duplicates_found:  # with duplicates, which copy comes first is arbitrary
        np.testing.assert_array_equal(np.asarray(order)[b.source_rows], a.source_rows)


# --------------------------------------------------------------------------- summary
def test_summary_values():
    s = read_events(small_events()).summary()
    assert isinstance(s, EventLogSummary)
    assert (s.n_customers, s.n_events) == (3, 8)
    assert s.first_timestamp == pd.Timestamp("2024-01-01 09:00", tz="UTC")
    assert s.last_timestamp == pd.Timestamp("2024-01-06 11:00", tz="UTC")
    assert s.events_per_touchpoint["purchase"] == 2
    assert s.events_per_touchpoint["referral_invite"] == 0  # gaps are shown
    assert len(s.events_per_touchpoint) == 16
    assert s.events_per_stage.to_dict() == {
        "awareness": 2,
        "consideration": 4,
        "conversion": 2,
        "retention": 0,
        "loyalty": 0,
    }
    assert s.events_per_channel.to_dict() == {"email": 1, "social": 2, "store": 1, "web": 3}
    assert s.coverage == {"satisfaction": 3 / 8, "nps": None, "effort": None, "amount": 2 / 8}
    assert s.duplicates_found == 0
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["events_per_stage"]["conversion"] == 2
    text = str(s)
    assert text == s.to_text() and len(text.splitlines()) < 40
    assert "8 events from 3 customers" in text
    assert "referral_invite" in text and "not seen" in text
    # the columns besides the canonical ones are named, as the input names them
    assert s.other_columns == ("region",) and d["other_columns"] == ["region"]
    assert text.splitlines()[-1] == "Other columns, carried along: region"
    assert "other columns</th><td>region</td>" in s._repr_html_()
    many = read_events(small_events().assign(**{f"x{i}": i for i in range(14)})).summary()
    assert many.to_text().splitlines()[-1].endswith("x10 and 3 more")


def test_summary_counts_events_at_the_same_moment_as_another_and_says_what_to_do():
    # an order of three lines, one of two lines at the same time with another touchpoint between
    # them in the file, and an exact duplicate: 2 + 1 + 1 events repeat an earlier one
    rows = [
        (1, "2024-01-01 10:00", "purchase", 5.0),
        (1, "2024-01-01 10:00", "purchase", 7.0),
        (1, "2024-01-01 10:00", "purchase", 1.0),
        (1, "2024-01-03 09:00", "purchase", 2.0),
        (1, "2024-01-03 09:00", "email", None),
        (1, "2024-01-03 09:00", "purchase", 3.0),
        (2, "2024-01-01 10:00", "website_visit", None),
        (2, "2024-01-01 10:00", "website_visit", None),
        (3, "2024-01-01 10:00", "purchase", 4.0),
        (3, "2024-01-05 10:00", "purchase", 4.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "touchpoint", "amount"])
    with pytest.warns(UserWarning, match="exact duplicate"):
        summary = read_events(frame).summary()
    assert summary.same_moment_events == 4 and summary.to_dict()["same_moment_events"] == 4
    line = next(x for x in summary.to_text().splitlines() if x.startswith("Same moment:"))
    assert line.startswith("Same moment: 4 events (40%) repeat the customer, time and touchpoint")
    assert "sum them into one row per customer, time and touchpoint" in line
    assert "same moment" in summary._repr_html_()
    # a log without such events, or with under 1% of them, has no such line
    assert "Same moment" not in read_events(small_events()).summary().to_text()
    assert read_events(small_events()).summary().same_moment_events == 0


def test_summary_says_who_came_back_and_how_long_their_silences_last():
    # two of small_events' three customers come back within days
    summary = read_events(small_events()).summary()
    assert (summary.returning_customers, summary.half_silence_days) == (2, 2)
    assert summary.silent_share_30d == 0.0
    assert (
        "Returns: 2 customers came back; half of the time between their visits is spent in "
        "silences of 2 days or more, 0% in silences longer than 30 days (the default horizon)"
    ) in summary.to_text()
    assert summary.to_dict()["half_silence_days"] == 2
    # silences of 1, 40 and 100 days: 141 days between visits, 80 of them past 30 days
    times = ["2024-01-01", "2024-01-02", "2024-02-11", "2024-05-21", "2024-01-01"]
    spaced = pd.DataFrame(
        {"customer_id": [1, 1, 1, 1, 2], "timestamp": times, "touchpoint": "website_visit"}
    )
    summary = read_events(spaced).summary()
    assert summary.half_silence_days == 100 and summary.silent_share_30d == pytest.approx(80 / 141)
    assert "half of the time between their visits is spent in silences of 100 days" in (
        summary._repr_html_()
    )
    once = read_events(spaced.assign(customer_id=range(5))).summary()
    assert "Returns: no customer came back on a later day" in once.to_text()
    assert once.to_dict()["silent_share_30d"] is None


def test_summary_shows_the_period_in_the_logs_timezone_and_how_naive_times_were_read():
    events = small_events()  # naive times
    utc = read_events(events).summary()
    lines = utc.to_text().splitlines()
    assert lines[1] == "Period: 2024-01-01 09:00:00 to 2024-01-06 11:00:00 (UTC)"
    assert lines[2].startswith("  Times without a zone are read as UTC; if they are local times")
    assert utc.to_dict()["timezone"] == "UTC"
    paris = read_events(events, timezone="Europe/Paris").summary()
    # the same wall times, said in their zone; the instants an hour earlier in UTC
    assert paris.to_text().splitlines()[1] == (
        "Period: 2024-01-01 09:00:00 to 2024-01-06 11:00:00 (Europe/Paris)"
    )
    assert "Times without a zone" not in paris.to_text()
    assert paris.first_timestamp == pd.Timestamp("2024-01-01 08:00", tz="UTC")
    assert paris.to_dict()["first_timestamp"] == "2024-01-01T09:00:00+01:00"
    assert "<td>Europe/Paris</td>" in paris._repr_html_()
    # times that carry their zone need no word on it
    zoned = events.assign(timestamp=pd.to_datetime(events["timestamp"]).dt.tz_localize("UTC"))
    assert "Times without a zone" not in read_events(zoned).summary().to_text()
    assert read_events(zoned).summary().to_dict()["naive_times"] is False


@pytest.mark.parametrize(
    ("values", "naive"),
    [
        (["2024-01-01 10:00", "2024-01-02"], True),
        (["2024-01-01T10:00:00Z", "2024-01-02 10:00:00+02:00"], False),
        (["2024-01-01T10:00:00Z", "2024-01-02 10:00"], True),
        (pd.to_datetime(["2024-01-01"]), True),
        (pd.to_datetime(["2024-01-01"]).tz_localize("Europe/Paris"), False),
        ([1704103200, 1704189600], False),  # epoch seconds: UTC
        ([20240101, 20240102], True),  # dates written as numbers
        (pd.Categorical(["2024-01-01 10:00"]), True),
    ],
)
def test_naive_times_tells_times_without_a_zone(values, naive):
    from cjml.io._timestamps import naive_times

    assert naive_times(pd.Series(values)) is naive


def test_summary_html_escapes_user_strings():
    df = small_events().assign(stage="awareness")
    df.loc[0, "touchpoint"] = "<script>alert(1)</script>"
    log = quiet_read(df)
    page = log._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert ">8<" in page and ">3<" in page  # events and customers
    assert page == log.summary()._repr_html_()


def test_categorical_columns_give_the_same_log_as_text_and_ignore_unused_categories():
    text = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"],
            "touchpoint": ["email", "purchase", "email", "website_visit"],
            "stage": ["consideration", "conversion", "consideration", "consideration"],
            "channel": ["email", "web", "email", "web"],
        }
    )
    cat = text.copy()
    for col in ("touchpoint", "stage", "channel"):
        cat[col] = pd.Categorical(text[col], categories=[*sorted(set(text[col])), "never_used"])
    cat["stage"] = (
        cat["stage"].cat.remove_categories("never_used").cat.add_categories(["retension"])
    )
    from cjml import read_events

    a, b = read_events(text), read_events(cat)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert "never_used" not in b.unknown_touchpoints


@pytest.mark.parametrize(
    ("cust_scale", "time_scale", "time_shift"),
    [
        (1, 10**9, 0),  # whole seconds: both sorts pack the row into the key
        (2**60, 10**9, 0),  # ids too far apart to pack: a stable argsort by customer
        (1, 2**56, 1),  # nanosecond times over centuries: an argsort with ties restored
        (1, 2**60, -(2**62)),  # times too far apart for one key: lexsort
    ],
)
@pytest.mark.parametrize("parallel_rows", [500_000, 2])  # 2: the gathers by halves on 2 threads
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=200
    )
)
@settings(max_examples=100, deadline=None)
def test_the_primary_order_is_stable_on_ties(
    cust_scale, time_scale, time_shift, parallel_rows, rows
):
    # Whatever sort the key ranges allow, exact ties (customer, time, touchpoint) keep
    # their input order, exactly as a stable sort by the three keys.
    from unittest import mock

    from cjml import events
    from cjml.events import _primary_order

    cust, secs, tp = (np.array(col, dtype=np.int64) for col in zip(*rows, strict=True))
    with mock.patch.object(events, "_PARALLEL_ROWS", parallel_rows):
        order = _primary_order(cust * cust_scale - 1, secs * time_scale + time_shift, tp, 3)
    perm, same = order.perm, order.same
    expected = np.lexsort((tp, secs, cust))  # lexsort is stable
    np.testing.assert_array_equal(perm, expected)
    np.testing.assert_array_equal(order.cust, (cust * cust_scale - 1)[expected])
    np.testing.assert_array_equal(order.ts, (secs * time_scale + time_shift)[expected])
    keys = np.stack([cust, secs, tp], axis=1)[expected]
    np.testing.assert_array_equal(same, (keys[1:] == keys[:-1]).all(axis=1))


@pytest.mark.parametrize("drop_duplicates", [False, True])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 4),
            st.sampled_from(["email", "purchase", "website_visit"]),
            st.one_of(st.none(), st.floats(1, 5)),
            st.one_of(st.none(), st.floats(-50, 50, allow_subnormal=False)),
        ),
        min_size=1,
        max_size=60,
    )
)
@settings(max_examples=60, deadline=None)
def test_a_large_log_s_gathers_on_two_threads_give_the_same_log(drop_duplicates, rows):
    # Large logs read their checks, sorts and gathers on two threads, and move mostly
    # missing float columns by their values only: the log must be the same to the bit,
    # with duplicate rows dropped or kept.
    import warnings
    from unittest import mock

    from cjml import events, read_events

    cust, day, tp, sat, amount = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "customer_id": cust,
            "timestamp": pd.to_datetime("2024-01-01") + pd.to_timedelta(day, unit="D"),
            "touchpoint": tp,
            "satisfaction": np.array(sat, dtype=float),
            "amount": np.array(amount, dtype=float),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate rows are reported: not what is tested
        one = read_events(frame, drop_duplicates=drop_duplicates).frame
        with mock.patch.object(events, "_PARALLEL_ROWS", 1):
            two = read_events(frame, drop_duplicates=drop_duplicates).frame
    pd.testing.assert_frame_equal(one, two, check_exact=True)


@pytest.mark.parametrize("columns", [["amount"], ["amount", "satisfaction"], ["channel"]])
def test_a_large_log_with_one_optional_column_mostly_missing_reads_as_a_small_one(columns):
    """The gathers of a large log (here every log: the threshold set to 1) with a single
    optional column, mostly missing, as amounts are: read_events raised a NameError there
    (the sparse column's gather needed the other thread's inverse, never started)."""
    from unittest import mock

    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 40, n),
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
            "touchpoint": rng.choice(["email", "purchase", "website_visit"], n),
            "amount": np.where(rng.random(n) < 0.1, 25.0, np.nan),
            "satisfaction": np.where(rng.random(n) < 0.2, 4.0, np.nan),
            "channel": rng.choice(["web", "email"], n),
        }
    )
    frame = frame[["customer_id", "timestamp", "touchpoint", *columns]]
    small = read_events(frame).frame
    with mock.patch.object(events, "_PARALLEL_ROWS", 1):
        large = read_events(frame).frame
    pd.testing.assert_frame_equal(large, small, check_exact=True)
    assert set(columns) <= set(large.columns)


@pytest.mark.parametrize("parallel_rows", [500_000, 1])  # 1: the checks on a second thread
def test_the_times_error_comes_first_when_the_checks_run_beside_them(parallel_rows):
    # A large log checks its touchpoints on a second thread while its times are parsed:
    # the errors, and which comes first when both are wrong, are those of one thread.
    from unittest import mock

    from cjml import events, read_events

    both = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "timestamp": ["2024-01-01", None, "2024-01-03"],
            "touchpoint": ["email", "purchase", None],
        }
    )
    with mock.patch.object(events, "_PARALLEL_ROWS", parallel_rows):
        with pytest.raises(SchemaError, match=r"Column 'timestamp' has 1 row with no timestamp"):
            read_events(both)
        touchpoint_only = both.assign(timestamp="2024-01-02")
        with pytest.raises(
            SchemaError, match=r"Column 'touchpoint' has 1 row with a missing or empty touchpoint"
        ):
            read_events(touchpoint_only)


def test_a_saved_log_reads_back_as_the_same_log(tmp_path):
    log = read_events(_text_as_files_give_it(small_events()), timezone="Europe/Paris")
    path = log.save(tmp_path / "clean.parquet")
    back = read_events(path, timezone="Europe/Paris")
    pd.testing.assert_frame_equal(back.frame, log.frame)
    # the times are written in the log's timezone, the instants unchanged
    written = pd.read_parquet(path)["timestamp"]
    assert str(written.dt.tz) == "Europe/Paris"
    assert (written.dt.tz_convert("UTC") == log.frame["timestamp"]).all()
    with pytest.raises(InputFileError, match="already exists"):
        log.save(path)
    assert log.save(path, force=True) == path
    with pytest.raises(InputFileError, match=r"give a \.parquet file"):
        log.save(tmp_path / "clean.csv")
    assert not (tmp_path / "clean.csv").exists()


_PARQUET_COLUMN_KINDS = st.sampled_from(
    [
        "int",
        "float",
        "Int64",
        "bool",
        "bool_or_none",
        "text",
        "category",
        "ordered_category",
        "naive_ns",
        "naive_us",
        "utc_ms",
        "paris",
        "utc_or_nat",
    ]
)


def _parquet_column(kind: str, n: int, draw) -> Any:
    values = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    holes = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if kind == "int":
        return np.array(values, dtype=np.int64)
    if kind == "float":
        return np.where(holes, np.nan, np.array(values, dtype=float) / 2)
    if kind == "Int64":
        return pd.array(
            [None if h else v for v, h in zip(values, holes, strict=True)], dtype="Int64"
        )
    if kind == "bool":
        return np.array([v > 0 for v in values])
    if kind == "bool_or_none":
        return pd.Series(
            [None if h else v > 0 for v, h in zip(values, holes, strict=True)], dtype=object
        )
    if kind == "text":
        return pd.Series([None if h else f"t{v}" for v, h in zip(values, holes, strict=True)])
    if kind in ("category", "ordered_category"):
        cats = [f"c{v}" for v in range(4, -4, -1)]  # not in sorted order
        return pd.Categorical(
            [None if h else f"c{v}" for v, h in zip(values, holes, strict=True)],
            categories=cats,
            ordered=kind == "ordered_category",
        )
    times = pd.to_datetime(np.array(values, dtype=np.int64) * 3_600_000_000_123, unit="ns")
    if kind == "naive_ns":
        return times
    if kind == "naive_us":
        return times.as_unit("us")
    if kind == "utc_ms":
        return times.as_unit("ms").tz_localize("UTC")
    if kind == "paris":
        return times.tz_localize("UTC").tz_convert("Europe/Paris")
    return pd.DatetimeIndex(np.where(holes, np.datetime64("NaT"), times)).tz_localize("UTC")


@st.composite
def _parquet_frames(draw):
    n = draw(st.integers(1, 12))
    kinds = draw(st.lists(_PARQUET_COLUMN_KINDS, min_size=0, max_size=5))
    frame = pd.DataFrame({f"c{i}_{k}": _parquet_column(k, n, draw) for i, k in enumerate(kinds)})
    index = draw(st.sampled_from(["default", "shifted", "labels"]))
    if index == "shifted":
        frame.index = pd.RangeIndex(7, 7 + n)
    elif index == "labels":
        frame.index = pd.Index([f"r{i}" for i in range(n)], name="row")
    if draw(st.booleans()):
        frame.attrs = {"cjml_timezone": "Europe/Paris"}
    return frame, draw(st.integers(1, 5)), draw(st.booleans()), draw(st.booleans())


@given(_parquet_frames())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_parquet_table_becomes_the_frame_pandas_reads(tmp_path_factory, case):
    """The reader's conversion (numeric, time and category columns by numpy, the rest by
    Arrow) gives the DataFrame of pd.read_parquet, to the last dtype, label and attr:
    any mix of columns, nulls, row groups (chunks), index, with or without pandas metadata,
    on one thread or two."""
    from unittest import mock

    import pyarrow as pa
    import pyarrow.parquet as pq

    from cjml.io import _files
    from cjml.io._files import _PANDAS_VERSION, _as_pandas, _table_frame

    frame, row_group_size, bare, parallel = case
    path = tmp_path_factory.mktemp("pq") / "events.parquet"
    if bare:  # as Spark or DuckDB write it: no pandas metadata
        table = pa.Table.from_pandas(frame).replace_schema_metadata(None)
        pq.write_table(table, path, row_group_size=row_group_size)
    else:  # with the attrs, as PANDAS_ATTRS
        frame.to_parquet(path, row_group_size=row_group_size)
    read = pq.read_table(path, use_pandas_metadata=True)
    expected = _as_pandas(read)
    if not bare and frame.attrs:
        expected.attrs = frame.attrs
    # parallel: the columns converted on two threads, as for a large log
    with mock.patch.object(_files, "_PARALLEL_COLUMNS_FROM_ROWS", 1 if parallel else 10**9):
        got = _table_frame(read)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs == expected.attrs
    if _PANDAS_VERSION >= (3, 1):
        pd.testing.assert_frame_equal(got, pd.read_parquet(path), check_exact=True)


def test_a_table_whose_columns_repeat_a_name_converts_as_arrow_converts_it():
    """Arrow allows two columns of one name (pandas cannot write them): the text ones go
    through Arrow's conversion and are put back by position, beside numpy's."""
    import pyarrow as pa

    from cjml.io._files import _as_pandas, _table_frame

    table = pa.table(
        [pa.array(["a", "b"]), pa.array([1.5, None]), pa.array(["c", "d"])], names=["x", "y", "x"]
    )
    got = _table_frame(table)
    pd.testing.assert_frame_equal(got, _as_pandas(table), check_exact=True)
    assert got.iloc[:, 2].tolist() == ["c", "d"]


def test_categories_that_differ_between_row_groups_are_read_as_pandas_reads_them(tmp_path):
    """A dictionary column whose row groups hold different dictionaries (as other writers
    make) is left to Arrow, which unifies them: the same frame as pd.read_parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cjml.io._files import _as_pandas, _table_frame

    chunks = [
        pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int8()), pa.array(["email", "chat"])),
        pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int8()), pa.array(["web", "email"])),
    ]
    table = pa.table({"touchpoint": pa.chunked_array(chunks), "customer_id": [1, 2, 3, 4, 5]})
    schema = table.schema
    path = tmp_path / "events.parquet"
    with pq.ParquetWriter(path, schema) as writer:
        for start, stop in ((0, 3), (3, 5)):
            writer.write_table(table.slice(start, stop - start))
    read = pq.read_table(path, use_pandas_metadata=True)
    got = _table_frame(read)
    pd.testing.assert_frame_equal(got, _as_pandas(read), check_exact=True)
    assert got["touchpoint"].tolist() == ["email", "chat", "email", "email", "web"]


def test_pandas_2_reads_file_text_as_pandas_3_holds_it(tmp_path, monkeypatch):
    """pandas 2.2's path: Arrow's text mapped to one dtype (there string[pyarrow_numpy], here
    pandas 3's str) for CSV and Parquet alike, which gives the log read as usual."""
    from cjml.io import _files

    frame = small_events()
    csv, parquet = tmp_path / "events.csv", tmp_path / "events.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    usual = read_events(csv).frame
    text = _files._TEXT_DTYPE or pd.StringDtype("pyarrow", na_value=np.nan)
    monkeypatch.setattr(_files, "_TEXT_DTYPE", text)
    for path in (csv, parquet):
        log = read_events(path)
        assert log.frame["region"].dtype == text
        pd.testing.assert_frame_equal(log.frame, usual)


def test_a_saved_log_keeps_its_timezone_for_dates_read_later(tmp_path):
    """Read back without timezone=, a saved log reads cutoff dates in its own timezone."""
    from cjml.io._files import TIMEZONE_ATTR, recorded_timezone

    frame = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            # 00:30 in Paris on 2 March is 23:30 UTC on 1 March
            "timestamp": ["2024-03-01 10:00", "2024-03-02 00:30", "2024-03-01 12:00"],
            "touchpoint": ["email", "website_visit", "email"],
        }
    )
    log = read_events(frame, timezone="Europe/Paris")
    path = log.save(tmp_path / "paris.parquet")
    assert recorded_timezone(path) == "Europe/Paris"
    back = read_events(path)
    assert str(back.timezone) == "Europe/Paris"
    assert back.frame.attrs == {} and log.frame.attrs == {}  # the record is the file's only
    featurizer = cjml.JourneyFeaturizer(families=["activity"])
    at = dict(cutoff="2024-03-02")  # local midnight: the 00:30 visit is after it
    local = featurizer.fit(log).transform(log, **at)
    assert local.loc[1, "n_events"] == 1
    pd.testing.assert_frame_equal(featurizer.fit(back).transform(back, **at), local)
    utc = read_events(path, timezone="UTC")  # an explicit timezone wins
    assert featurizer.fit(utc).transform(utc, **at).loc[1, "n_events"] == 2
    # a file that records nothing, or a name that is no timezone, is read in UTC
    frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True)).to_parquet(
        tmp_path / "plain.parquet"
    )
    bad = frame.copy()
    bad.attrs = {TIMEZONE_ATTR: "Mars/Olympus"}
    bad.to_parquet(tmp_path / "bad.parquet")
    for name in ("plain.parquet", "bad.parquet"):
        assert recorded_timezone(tmp_path / name) is None
        assert str(read_events(tmp_path / name).timezone) == "UTC"
    assert recorded_timezone(tmp_path) is None and recorded_timezone(frame) is None


def test_a_timezone_aware_timestamp_column_sets_the_log_timezone(tmp_path):
    """Events whose times carry a zone are read in it: "2024-03-02" means midnight there."""
    from cjml.io._files import TIMEZONE_ATTR, column_timezone

    wall = pd.to_datetime(["2024-03-01 10:00", "2024-03-02 00:30", "2024-03-01 12:00"])
    frame = pd.DataFrame(
        {
            "user": [1, 1, 2],
            "when": wall.tz_localize("Europe/Paris"),
            "touchpoint": ["email", "website_visit", "email"],
        }
    )
    columns = {"customer_id": "user", "timestamp": "when"}
    (tmp_path / "folder" / "segment=a").mkdir(parents=True)
    frame.to_parquet(tmp_path / "paris.parquet")
    frame.to_parquet(tmp_path / "folder" / "segment=a" / "part-0.parquet")
    featurizer = cjml.JourneyFeaturizer(families=["activity"])
    for source in (frame, tmp_path / "paris.parquet", tmp_path / "folder"):
        assert column_timezone(source, columns) == "Europe/Paris"
        log = read_events(source, columns=columns)
        assert str(log.timezone) == "Europe/Paris"
        # local midnight: the 00:30 visit is after the cutoff
        assert featurizer.fit(log).transform(log, cutoff="2024-03-02").loc[1, "n_events"] == 1
    # an explicit timezone wins, and so does the one a saved log records
    assert str(read_events(frame, columns=columns, timezone="UTC").timezone) == "UTC"
    recorded = frame.copy()
    recorded.attrs = {TIMEZONE_ATTR: "Asia/Tokyo"}
    recorded.to_parquet(tmp_path / "tokyo.parquet")
    assert str(read_events(tmp_path / "tokyo.parquet", columns=columns).timezone) == "Asia/Tokyo"
    # UTC, a fixed offset, text with offsets and naive times say no zone: UTC
    for when in (
        wall.tz_localize("UTC"),
        wall.tz_localize("Europe/Paris").tz_convert("+05:00"),
        wall.tz_localize("Europe/Paris").map(lambda t: t.isoformat()),
        wall,
    ):
        other = frame.assign(when=when)
        assert column_timezone(other, columns) is None
        assert str(read_events(other, columns=columns).timezone) == "UTC"
    assert column_timezone(frame) is None  # no column named timestamp: nothing to say


def test_validate_out_then_features_need_no_timezone_again(tmp_path, capsys, monkeypatch):
    """The command line's round trip: the saved file's features equal the CSV's read with
    --timezone, and validate says the file records it."""
    from cjml.cli import main

    monkeypatch.chdir(tmp_path)
    pd.DataFrame(
        {
            "user": [1, 1, 2],
            "when": ["2024-03-01 10:00", "2024-03-02 00:30", "2024-03-01 12:00"],
            "tp": ["email", "website_visit", "email"],
        }
    ).to_csv("local.csv", index=False)
    read = ["--columns", "customer_id=user,timestamp=when,touchpoint=tp"]
    paris = ["--timezone", "Europe/Paris"]
    assert main(["validate", "local.csv", *read, *paris, "--out", "events.parquet"]) == 0
    assert "without --columns or --timezone (it records Europe/Paris)" in capsys.readouterr().out
    at = ["--cutoff", "2024-03-02"]
    assert main(["features", "events.parquet", *at, "--out", "saved.parquet"]) == 0
    assert main(["features", "local.csv", *read, *paris, *at, "--out", "csv.parquet"]) == 0
    saved, csv = pd.read_parquet("saved.parquet"), pd.read_parquet("csv.parquet")
    pd.testing.assert_frame_equal(saved, csv)
    assert saved.set_index("customer_id").loc[1, "n_events"] == 1  # 00:30 is after midnight
