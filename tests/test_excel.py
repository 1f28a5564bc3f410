"""Excel workbooks read by the one reader: the first sheet, every cell as a CSV cell.

A workbook of events reads as the same events saved as CSV, through ``read_events`` and
``score`` alike, with the sheet's rows named in messages; its header and cells follow the
CSV rules.
"""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

import cjml
from cjml.exceptions import InputFileError
from tests._panel_bundle import sample_bundle_path

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    from cjml.datasets import load_sample

    frame = load_sample()
    # a workbook holds naive date cells: the times, in UTC
    return frame.assign(timestamp=frame["timestamp"].dt.tz_localize(None))


def write_book(path: Path, rows: list[list], sheets: int = 1) -> Path:
    """A workbook whose first sheet holds ``rows`` (the header first), as Excel saves it."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Events"
    for row in rows:
        sheet.append(row)
    for k in range(1, sheets):
        book.create_sheet(f"Other {k}").append(["note"])
    book.save(path)
    return path


def test_a_workbook_reads_as_the_same_events_saved_as_csv(tmp_path, events):
    book = tmp_path / "events.xlsx"
    with pd.ExcelWriter(book) as writer:
        events.to_excel(writer, sheet_name="Events", index=False)
        pd.DataFrame({"note": ["kept aside"]}).to_excel(writer, sheet_name="Notes", index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    with pytest.warns(UserWarning, match=r"has 2 sheets; cjml read the first, 'Events'"):
        got = cjml.read_events(book)
    expected = cjml.read_events(tmp_path / "events.csv")
    pd.testing.assert_frame_equal(got.frame, expected.frame)


def test_score_streams_a_workbook_as_it_scores_the_csv(tmp_path, events):
    distributed = pytest.importorskip("distributed")
    bundle = cjml.ModelBundle.load(sample_bundle_path())
    book = tmp_path / "events.xlsx"
    events.to_excel(book, index=False)
    events.to_csv(tmp_path / "events.csv", index=False)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    expected = cjml.score(bundle, tmp_path / "events.csv", **kwargs)
    pd.testing.assert_frame_equal(cjml.score(bundle, book, chunk_events=5_000, **kwargs), expected)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = cjml.score(bundle, book, engine="dask", scheduler=client, **kwargs)
    pd.testing.assert_frame_equal(got, expected)


def test_cells_of_every_kind_are_read_as_a_csv_would_hold_them(tmp_path):
    when = dt.datetime(2024, 3, 1, 14, 30)
    book = write_book(
        tmp_path / "cells.xlsx",
        [
            ["customer_id", "timestamp", "touchpoint", "amount", "vip", None, None],
            ["007", when, "purchase", 12.5, True],
            [8, when + dt.timedelta(days=1), "email", 12.0, False, None],
            [None, None, None, None, None, None, None],  # formatting left at the end
        ],
    )
    log = cjml.read_events(book)
    frame = log.frame
    assert list(frame["customer_id"]) == ["007", "8"]  # text ids, as written
    assert list(frame["amount"]) == [12.5, 12.0]
    assert list(frame["vip"]) == [True, False]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert log.n_events == 2  # the empty row at the end is no row


def test_an_empty_row_among_the_events_is_left_out_with_its_row_named(tmp_path):
    rows = [
        ["customer_id", "timestamp", "touchpoint"],
        [1, "2024-01-01 09:00", "email"],
        [None, None, None],
        [2, "2024-01-02 09:00", "purchase"],
    ]
    book = write_book(tmp_path / "gap.xlsx", rows)
    with pytest.warns(UserWarning, match=r"row 1 \(gap.xlsx line 3\)"):
        assert cjml.read_events(book).n_events == 2


def test_a_bad_cell_is_named_by_the_sheets_row(tmp_path):
    rows = [
        ["customer_id", "timestamp", "touchpoint", "amount"],
        [1, "2024-01-01 09:00", "purchase", 10],
        [2, "2024-01-02 09:00", "purchase", "#DIV/0!"],
    ]
    book = write_book(tmp_path / "na.xlsx", rows)
    with pytest.raises(cjml.CjmlError, match=r"row 1 \(na.xlsx line 3\): amount='#DIV/0!'"):
        cjml.read_events(book)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [["customer_id", None, "touchpoint"], [1, "2024-01-01", "email"]],
            r"column B has no name in row 1\. Fix: name it, or delete the column",
        ),
        (
            [["customer_id", "timestamp", "customer_id"], [1, "2024-01-01", 1]],
            r"the column name 'customer_id' is written twice in row 1",
        ),
        (
            [["customer_id", "timestamp", "touchpoint"], [1, "2024-01-01", "email", "stray"]],
            r"row 2 has a value in column D, which has no name in row 1 \('stray'\)",
        ),
        ([[None, None]], r"its first sheet has no header in its first row"),
        (
            [
                ["Weekly export, 1 March 2024"],
                [],
                ["customer_id", "timestamp", "touchpoint"],
                [1, "2024-01-01", "email"],
            ],
            r"row 1 holds one cell \('Weekly export, 1 March 2024'\) and row 3 more: the "
            r"table seems to start below a title",
        ),
    ],
)
def test_a_sheet_that_breaks_the_header_rules_is_refused(tmp_path, rows, message):
    book = write_book(tmp_path / "bad.xlsx", rows)
    with pytest.raises(InputFileError, match=message):
        cjml.read_events(book)


def test_a_file_that_is_not_a_workbook_or_without_openpyxl_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("customer_id,timestamp,touchpoint\n")
    with pytest.raises(InputFileError, match=r"fake\.xlsx.*save it again as \.xlsx"):
        cjml.read_events(fake)
    book = write_book(tmp_path / "ok.xlsx", [["customer_id"], [1]])
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if it were not installed
    with pytest.raises(InputFileError, match=r'needs openpyxl\. Fix: pip install "cjml\[excel\]"'):
        cjml.read_events(book)


def test_a_folder_of_workbooks_skips_excels_lock_files(tmp_path, events):
    folder = tmp_path / "monthly"
    folder.mkdir()
    events.iloc[:100].to_excel(folder / "january.xlsx", index=False)
    events.iloc[100:200].to_excel(folder / "february.xlsx", index=False)
    (folder / "~$january.xlsx").write_bytes(b"owner")  # Excel's lock file, not a workbook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cjml.read_events(folder).n_events == 200


def test_a_customer_list_is_a_csv_or_parquet_file_not_a_workbook(tmp_path):
    from cjml.io._files import _read_id_list

    book = write_book(tmp_path / "ids.xlsx", [["customer_id"], [1], [2]])
    with pytest.raises(InputFileError, match=r"give a \.csv or \.parquet file"):
        _read_id_list(book)
