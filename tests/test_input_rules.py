"""What cjml reads (events, customer lists, rules, maps): one set of rules, one message.

Issue 18: validate (pandas) and score (Arrow) read CSV under the same rules and say
the same thing about the same bad file; ids are text where the user's are text;
timestamps written as numbers, in the wrong unit, in mixed formats or far in the
future are recognised or refused; files that are not what they claim get one clear
line.
"""

from __future__ import annotations

import datetime
import gzip
import re
import shlex
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cjml
from cjml import read_events
from cjml.cli import main
from cjml.cli._shared import cli_words
from cjml.exceptions import InputFileError, JourneyMapError, SchemaError
from cjml.features._base import unique_names
from cjml.io._csv import parse_missing_ids
from cjml.journey import JourneyMap
from cjml.recommend import RecommendationRules, RulesError
from tests._panel_bundle import sample_bundle_path

HEADER = "customer_id,timestamp,touchpoint"
ROWS = [
    "1,2024-01-01 09:00,paid_ad",
    "1,2024-01-03 10:00,website_visit",
    "2,2024-01-02 12:00,email",
    "2,2024-01-05 08:30,purchase",
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def write(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture(scope="module")
def bundle():
    return cjml.ModelBundle.load(sample_bundle_path())


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory) -> Path:
    from cjml.datasets import load_sample

    path = tmp_path_factory.mktemp("sample") / "events.csv"
    events = load_sample()
    assert isinstance(events, pd.DataFrame)  # without truth=True: the events alone
    events.to_csv(path, index=False)
    return path


def sample_text(sample_csv: Path) -> pd.DataFrame:
    return pd.read_csv(sample_csv, dtype=str, keep_default_na=False)


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def error_of(call) -> str:
    with pytest.raises((SchemaError, InputFileError)) as info:
        call()
    return str(info.value)


# --------------------------------------------------------------------------- CSV rules
def test_a_short_row_is_refused_by_every_reader_with_the_same_message(tmp_path, sample_csv, bundle):
    lines = sample_csv.read_text().splitlines()
    lines.insert(40, "1,2024-01-02 10:00:00+00:00,website_visit")  # line 41, 3 of 10 fields
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines) + "\n")
    by_read = error_of(lambda: read_events(path))
    by_score = error_of(lambda: cjml.score(bundle, path, recommend=False))
    assert by_read == by_score
    assert by_read.startswith(
        f"Line 41 of the CSV file {str(path)!r} has 3 fields where the "
        "header has 10: '1,2024-01-02 10:00:00+00:00,website_visit'."
    )


@pytest.mark.parametrize("command", ["validate", "features", "score"])
def test_the_cli_commands_say_the_same_about_a_long_row(tmp_path, sample_csv, capsys, command):
    lines = sample_csv.read_text().splitlines()
    lines.insert(6, lines[6] + ",oops")  # line 7
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    argv = {
        "validate": ["validate", path],
        "features": ["features", path, "--out", tmp_path / "f.parquet"],
        "score": ["score", sample_bundle_path(), path, "--out", tmp_path / "s.parquet", "--quiet"],
    }[command]
    code, output = cli(capsys, *argv)
    assert code == 1
    assert (
        f"error: Line 7 of the CSV file {str(path)!r} has 11 fields where the header has 10"
        in output
    )
    assert not (tmp_path / "f.parquet").exists() and not (tmp_path / "s.parquet").exists()
    assert not list(tmp_path.glob(".*.cjml-run"))


def test_short_rows_used_to_be_padded_by_validate(tmp_path):
    path = write(tmp_path / "short.csv", ROWS[0], "2,2024-01-02 12:00", ROWS[3])
    with pytest.raises(
        InputFileError,
        match=r"Line 3 of the CSV file .* has 2 fields where "
        r"the header has 3",
    ):
        read_events(path)


def test_quoted_commas_and_line_breaks_are_one_field_for_both_readers(tmp_path, bundle, sample_csv):
    frame = sample_text(sample_csv)
    frame.loc[3, "segment"] = "spon\ntaneous, really"
    path = tmp_path / "quoted.csv"
    frame.to_csv(path, index=False)
    log = read_events(path)
    assert "spon\ntaneous, really" in set(log.frame["segment"])
    scores = cjml.score(bundle, path, recommend=False, drivers=False, include_inactive=True)
    assert len(scores) == 3000


def test_blank_lines_are_skipped_and_a_line_of_spaces_is_a_short_row(tmp_path):
    log = read_events(write(tmp_path / "blank.csv", ROWS[0], "", ROWS[1], "", ROWS[2]))
    assert log.n_events == 3
    with pytest.raises(InputFileError, match=r"Line 3 .* has 1 field where the header has 3"):
        read_events(write(tmp_path / "space.csv", ROWS[0], "   ", ROWS[1]))


def test_a_repeated_column_name_is_refused_not_renamed(tmp_path, bundle):
    path = write(tmp_path / "dup.csv", *(r + ",x" for r in ROWS), header=HEADER + ",touchpoint")
    message = (
        f"The header of the CSV file {str(path)!r} names a column more than once: "
        "'touchpoint' (columns 3, 4)."
    )
    assert error_of(lambda: read_events(path)).startswith(message)
    assert error_of(lambda: cjml.score(bundle, path)).startswith(message)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_file_separated_by_another_character_reads_as_the_comma_file(
    tmp_path, sep, sample_csv, bundle
):
    path = tmp_path / "x.csv"
    path.write_text(sample_csv.read_text().replace(",", sep))
    pd.testing.assert_frame_equal(read_events(path).frame, read_events(sample_csv).frame)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    pd.testing.assert_frame_equal(
        cjml.score(bundle, path, **kwargs), cjml.score(bundle, sample_csv, **kwargs)
    )


def test_a_tab_separated_file_named_tsv_is_read_alone_or_in_a_folder(tmp_path):
    comma = write(tmp_path / "comma.csv", *ROWS, header=HEADER)
    (tmp_path / "logs").mkdir()
    tabs = [r.replace(",", "\t") for r in ROWS]
    path = write(tmp_path / "logs" / "a.tsv", *tabs[:2], header=HEADER.replace(",", "\t"))
    write(tmp_path / "logs" / "b.tsv", *tabs[2:], header=HEADER.replace(",", "\t"))
    expected = read_events(comma).frame
    pd.testing.assert_frame_equal(read_events(tmp_path / "logs").frame, expected)
    assert read_events(path).n_events == 2


def _european_export() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["007", "007", "12,5", "0042"],
            "timestamp": [
                "31.12.2023 09:00",
                "02.01.2024 10:00",
                "15.01.2024 12:30",
                "20.01.2024 08:00",
            ],
            "touchpoint": ["purchase", "email", "purchase", "support_ticket"],
            "amount": ["1.234,50", "", "12,5", "3"],
            "satisfaction": ["", "4", "", "2,5"],
            "segment": ["0,25", "0,25", "1.000", "7"],
        }
    )


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_european_export_reads_its_decimal_commas_and_day_first_dates(tmp_path, sep):
    path = tmp_path / "export.csv"
    _european_export().to_csv(path, sep=sep, index=False)
    frame = read_events(path).frame.set_index(["customer_id", "touchpoint"])
    # ids stay as written, even one that looks like a decimal-comma number
    assert sorted(frame.index.get_level_values(0).unique()) == ["0042", "007", "12,5"]
    assert frame.loc[("007", "purchase"), "amount"] == 1234.5
    assert frame.loc[("12,5", "purchase"), "amount"] == 12.5
    assert frame.loc[("0042", "support_ticket"), "satisfaction"] == 2.5
    # the user's own columns too: '1.000' is a thousand where the decimal is a comma
    assert frame.loc[("12,5", "purchase"), "segment"] == 1000.0
    assert frame.loc[("0042", "support_ticket"), "segment"] == 7.0
    assert (frame.loc["007", "segment"] == 0.25).all()
    assert frame.loc[("007", "purchase"), "timestamp"] == pd.Timestamp("2023-12-31 09:00", tz="UTC")


def test_validate_says_how_a_csv_was_read_when_not_with_commas(tmp_path, capsys):
    path = tmp_path / "export.csv"
    _european_export().to_csv(path, sep=";", index=False)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Read as CSV separated by ';', numbers with a decimal comma ('12,50' is 12.5)\nEvent log:"
    )
    comma = write(tmp_path / "comma.csv", *ROWS, header=HEADER)
    assert main(["validate", str(comma)]) == 0
    assert capsys.readouterr().out.startswith("Event log:")


def test_a_semicolon_file_with_decimal_points_keeps_them(tmp_path):
    path = tmp_path / "points.csv"
    _european_export().assign(
        amount=["1234.50", "", "12.5", "0.125"], satisfaction=["", "4", "", "2.5"], segment="1"
    ).to_csv(path, sep=";", index=False)
    frame = read_events(path).frame
    assert sorted(frame["amount"].dropna()) == [0.125, 12.5, 1234.5]
    assert sorted(frame["satisfaction"].dropna()) == [2.5, 4.0]


@pytest.mark.parametrize("sep", [";", "|"])
def test_each_column_is_read_with_the_decimal_its_sample_writes(tmp_path, capsys, sep):
    # an export whose amounts were formatted by a German spreadsheet and whose survey
    # scores came from a tool writing points: neither column is refused
    path = tmp_path / "mixed.csv"
    _european_export().assign(
        amount=["1.234,50", "", "12,5", "3"],
        satisfaction=["", "4.5", "", "2.5"],
        segment=["0,25", "1", "2", "3"],
    ).to_csv(path, sep=sep, index=False)
    frame = read_events(path).frame.set_index(["customer_id", "touchpoint"])
    assert frame.loc[("007", "purchase"), "amount"] == 1234.5
    assert frame.loc[("12,5", "purchase"), "amount"] == 12.5
    assert sorted(frame["satisfaction"].dropna()) == [2.5, 4.5]
    assert frame.loc[("007", "purchase"), "segment"] == 0.25
    assert main(["validate", str(path)]) == 0
    said = {";": "';'", "|": "'|'"}[sep]
    assert capsys.readouterr().out.startswith(
        f"Read as CSV separated by {said}, numbers with a decimal comma ('12,50' is 12.5) "
        "except in 'satisfaction', which use a decimal point\nEvent log:"
    )


def test_a_comma_in_a_tab_file_without_decimal_commas_is_not_guessed(tmp_path):
    # '1,234' is a thousand in a US export and 1.234 in a German one: with nothing else
    # to tell, the cell is refused with the fix, not read one way
    path = tmp_path / "us.tsv"
    _european_export().assign(
        customer_id=["7", "7", "12", "42"],
        amount=["1,234", "", "12", "3"],
        satisfaction="",
        segment="1",
    ).to_csv(path, sep="\t", index=False)
    message = error_of(lambda: read_events(path))
    assert "amount='1,234'" in message and "Fix:" in message


def test_a_short_line_in_a_semicolon_file_is_named_with_its_separator(tmp_path):
    path = write(
        tmp_path / "x.csv",
        *(r.replace(",", ";") for r in ROWS[:2]),
        "2;2024-01-02 12:00",
        header=HEADER.replace(",", ";"),
    )
    message = error_of(lambda: read_events(path))
    assert message.startswith(
        f"Line 4 of the CSV file {str(path)!r} has 2 fields where the header has 3"
    )
    assert "quote values that hold a ';'" in message


def test_archives_are_read_by_their_content_whatever_their_name(tmp_path, sample_csv, bundle):
    data = sample_csv.read_bytes()
    (tmp_path / "gz.csv").write_bytes(gzip.compress(data))
    with zipfile.ZipFile(tmp_path / "zip.csv", "w") as archive:
        archive.writestr("events.csv", data)
    expected = read_events(sample_csv).frame
    for name in ("gz.csv", "zip.csv"):
        pd.testing.assert_frame_equal(read_events(tmp_path / name).frame, expected)
    scores = cjml.score(
        bundle, tmp_path / "gz.csv", recommend=False, drivers=False, include_inactive=True
    )
    assert len(scores) == 3000


@pytest.mark.parametrize(
    "content, said",
    [
        (PNG, "it is a PNG image, not CSV text"),
        (b"PAR1" + bytes(20), r"it is a Parquet file, not CSV text. Fix: name it \.parquet"),
    ],
)
def test_files_that_are_not_csv_say_what_they_are(tmp_path, content, said):
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=said):
        read_events(path)


def test_an_excel_workbook_and_a_zip_of_several_files(tmp_path):
    with zipfile.ZipFile(tmp_path / "book.csv", "w") as archive:
        archive.writestr("xl/workbook.xml", "<x/>")
    with pytest.raises(InputFileError, match="an Excel workbook"):
        read_events(tmp_path / "book.csv")
    with zipfile.ZipFile(tmp_path / "two.csv", "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(InputFileError, match=r"holding 2 files \['a.csv', 'b.csv'\]"):
        read_events(tmp_path / "two.csv")


def test_text_named_parquet(tmp_path):
    path = write(tmp_path / "events.parquet", *ROWS)
    with pytest.raises(
        InputFileError,
        match=r"it is a text file, not a Parquet file. Fix: "
        r"name it \.csv",
    ):
        read_events(path)


def test_not_utf8_names_the_byte_and_line_for_both_readers(tmp_path, sample_csv, bundle):
    lines = sample_csv.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"spontaneous", b"spontan\xe9ous")
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\n".join(lines))
    message = f"Cannot read the CSV file {str(path)!r}: it is not UTF-8 text (byte 0xe9 on line 6)."
    assert error_of(lambda: read_events(path)).startswith(message)
    assert error_of(lambda: cjml.score(bundle, path)).startswith(message)


def _accented(sample_csv: Path) -> pd.DataFrame:
    """The sample with touchpoints and a segment of accented names (Latin-1 letters)."""
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    frame["touchpoint"] = frame["touchpoint"].replace({"email": "e-mail für Kunden"})
    frame["segment"] = frame["segment"].replace({"regular": "régulier"})
    return frame


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_windows_1252_export_is_refused_with_the_line_as_it_would_read(tmp_path, sample_csv, sep):
    frame = _accented(sample_csv)
    path = tmp_path / "excel.csv"
    frame.to_csv(path, sep=sep, index=False, encoding="cp1252")
    lines = path.read_bytes().split(b"\n")
    at = next(i for i, raw in enumerate(lines) if max(raw, default=0) > 127)
    byte = next(b for b in lines[at] if b > 127)
    message = error_of(lambda: read_events(path))
    assert message.startswith(
        f"Cannot read the CSV file {str(path)!r}: it is not UTF-8 text "
        f"(byte 0x{byte:02x} on line {at + 1})."
    )
    assert "(encoding='cp1252', --encoding cp1252)" in message
    assert f"that line then reads {lines[at].decode('cp1252')[:40]!r}"[:-1] in message
    assert "that line then reads '" in message and "Save As > CSV UTF-8" in message


def test_an_encoding_given_reads_the_file_as_its_utf8_twin(tmp_path, sample_csv, bundle):
    frame = _accented(sample_csv)
    utf8, cp1252 = tmp_path / "utf8.csv", tmp_path / "cp1252.csv"
    frame.to_csv(utf8, sep=";", index=False)
    frame.to_csv(cp1252, sep=";", index=False, encoding="cp1252")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the renamed touchpoint is not in the map
        expected = read_events(utf8).frame
        got = read_events(cp1252, encoding="CP-1252").frame
        pd.testing.assert_frame_equal(got, expected)
        assert "e-mail für Kunden" in set(got["touchpoint"])
        kwargs = dict(recommend=False, drivers=False, include_inactive=True)
        pd.testing.assert_frame_equal(
            cjml.score(bundle, cp1252, encoding="cp1252", **kwargs),
            cjml.score(bundle, utf8, **kwargs),
        )
        # the panel (and so the app) reads it the same way
        from cjml.panel import PanelData

        data = PanelData.from_inputs(bundle, cp1252, encoding="cp1252")
        assert "e-mail für Kunden" in set(data.log.frame["touchpoint"])


@pytest.fixture(scope="module")
def dask_client():
    """One local Dask cluster for this module's tests of the Dask engine."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_the_dask_engine_reads_the_encoding_given(tmp_path, sample_csv, bundle, dask_client):
    frame = _accented(sample_csv)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 2)):
        frame.iloc[rows].to_csv(folder / f"part-{i}.csv", index=False, encoding="latin-1")
    utf8 = tmp_path / "utf8.csv"
    frame.to_csv(utf8, index=False)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = cjml.score(
            bundle, folder, engine="dask", scheduler=dask_client, encoding="latin-1", **kwargs
        )
        pd.testing.assert_frame_equal(got, cjml.score(bundle, utf8, **kwargs))


def test_a_customer_list_is_read_in_the_encoding_of_the_events(
    tmp_path, sample_csv, bundle, capsys
):
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    frame["customer_id"] = "Müller-" + frame["customer_id"]
    events, listed = tmp_path / "events.csv", tmp_path / "list.csv"
    frame.to_csv(events, index=False, encoding="cp1252")
    chosen = ["Müller-3", "Müller-1"]
    pd.DataFrame({"customer_id": chosen}).to_csv(listed, index=False, encoding="cp1252")
    # the models never see the ids: the bundle trained on the sample scores these events
    bundle_path = sample_bundle_path()
    got = cjml.score(bundle, events, customers=listed, encoding="cp1252", include_inactive=True)
    assert sorted(got["customer_id"]) == sorted(chosen)
    out = tmp_path / "actions.csv"
    argv = ["recommend", str(bundle_path), str(events), "--out", str(out), "--all"]
    assert main([*argv, "--customers", str(listed), "--encoding", "cp1252"]) == 0
    assert sorted(pd.read_csv(out, encoding="utf-8-sig")["customer_id"]) == sorted(chosen)
    capsys.readouterr()
    again = [*argv[:4], str(tmp_path / "again.csv"), "--all", "--customers", str(listed)]
    assert main(again) == 1  # not told: refused, not misread
    assert "not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_its_byte_order_mark_is_read_without_being_told(tmp_path, codec):
    text = "\n".join([HEADER, *ROWS]).replace(",", "\t") + "\n"
    path = tmp_path / "unicode.txt.csv"
    mark = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
    path.write_bytes(mark + text.encode(codec))
    expected = read_events(write(tmp_path / "plain.csv", *ROWS)).frame
    pd.testing.assert_frame_equal(read_events(path).frame, expected)


def test_a_byte_order_mark_wins_over_the_encoding_given(tmp_path):
    path = tmp_path / "bom.csv"
    rows = [f"{r},régulier" for r in ROWS]
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join([HEADER + ",segment", *rows]) + "\n").encode())
    assert set(read_events(path, encoding="cp1252").frame["segment"]) == {"régulier"}


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.text(
            alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0xFF)
            | st.sampled_from(" a,;'\""),
            max_size=6,
        ),
        min_size=len(ROWS),
        max_size=len(ROWS),
    ),
    codec=st.sampled_from(["cp1252", "latin-1", "iso8859-15", "utf-16"]),
    sep=st.sampled_from([",", ";"]),
)
def test_any_latin_text_reads_the_same_in_its_encoding_as_in_utf8(
    tmp_path_factory, values, codec, sep
):
    folder = tmp_path_factory.mktemp("enc")
    frame = pd.read_csv(write(folder / "plain.csv", *ROWS), dtype=str).assign(note=values)
    utf8, other = folder / "utf8.csv", folder / "other.csv"
    frame.to_csv(utf8, sep=sep, index=False)
    try:
        frame.to_csv(other, sep=sep, index=False, encoding=codec)
    except UnicodeEncodeError:  # latin-9 lacks a few Latin-1 letters
        return
    pd.testing.assert_frame_equal(read_events(other, encoding=codec).frame, read_events(utf8).frame)


def test_an_encoding_that_does_not_fit_names_the_byte(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(
        ("\n".join([HEADER, *ROWS[:2]]) + "\n3,2024-01-04 10:00,a\x81b\n").encode("latin-1")
    )
    message = error_of(lambda: read_events(path, encoding="cp1252"))
    assert message.startswith(
        f"Cannot read the CSV file {str(path)!r}: it is not Windows-1252 (cp1252) text "
        "(byte 0x81 on line 4). Fix: give the encoding it was saved in"
    )


def test_an_unknown_encoding_is_refused_whatever_the_source(tmp_path):
    path = write(tmp_path / "x.csv", *ROWS)
    for source in (path, pd.read_csv(path)):
        with pytest.raises(ValueError, match=r"Unknown text encoding 'utf-9'.*e\.g\. cp1252"):
            read_events(source, encoding="utf-9")
    with pytest.raises(ValueError, match="Unknown text encoding 'base64'"):
        read_events(path, encoding="base64")  # a codec of bytes, not of text


def test_validate_says_which_encoding_it_read(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_bytes(("\n".join([HEADER, *ROWS]) + "\n").encode("utf-16"))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.startswith("Read as CSV text in UTF-16\nEvent log: 4 events")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("\n".join([HEADER, *ROWS]) + "\n").encode("latin-1"))
    assert main(["validate", str(latin), "--encoding", "latin-1"]) == 0
    assert capsys.readouterr().out.startswith(
        "Read as CSV text in Latin-1 (ISO 8859-1)\nEvent log:"
    )


def _with_blank_lines(sample_csv: Path, folder: Path, sep: str = ",") -> tuple[Path, Path]:
    """The sample as a spreadsheet saves it (empty lines as ',,,,' after row 4 and at the
    end), and the same without them."""
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    plain, blanks = folder / "plain.csv", folder / "blanks.csv"
    frame.to_csv(plain, sep=sep, index=False)
    lines = plain.read_text().splitlines()
    empty = sep * (len(frame.columns) - 1)
    blanks.write_text("\n".join([*lines[:5], empty, *lines[5:], empty, empty]) + "\n")
    return plain, blanks


def test_blank_rows_are_left_out_with_their_lines_by_every_reader(tmp_path, sample_csv, bundle):
    plain, blanks = _with_blank_lines(sample_csv, tmp_path, ";")
    n = len(plain.read_text().splitlines())  # lines of the file without the blank ones
    said = (
        "3 rows with no customer id, timestamp or touchpoint left out (row 4 (blanks.csv line 6), "
        f"row {n} (blanks.csv line {n + 2}), row {n + 1} (blanks.csv line {n + 3})): not events"
    )
    with pytest.warns(UserWarning) as caught:
        log = read_events(blanks)
    assert [str(w.message) for w in caught if "left out" in str(w.message)][0].startswith(said)
    pd.testing.assert_frame_equal(log.frame, read_events(plain).frame)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    with pytest.warns(UserWarning) as caught:
        scores = cjml.score(bundle, blanks, **kwargs)
    assert [str(w.message) for w in caught if "left out" in str(w.message)][0].startswith(said)
    pd.testing.assert_frame_equal(scores, cjml.score(bundle, plain, **kwargs))


def test_the_dask_engine_leaves_out_the_same_blank_rows(tmp_path, sample_csv, bundle, dask_client):
    plain, blanks = _with_blank_lines(sample_csv, tmp_path)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True)
    with pytest.warns(UserWarning, match=r"^3 rows with no customer id, timestamp or touchpoint"):
        got = cjml.score(bundle, blanks, engine="dask", scheduler=dask_client, **kwargs)
    pd.testing.assert_frame_equal(got, cjml.score(bundle, plain, **kwargs))


def test_blank_rows_of_a_dataframe_are_named_by_index_and_only_blank_ones_go():
    frame = pd.DataFrame(
        {
            "customer_id": [1, None, 2, None],
            "timestamp": ["2024-01-01", None, "2024-01-02", None],
            "touchpoint": ["email", None, "purchase", None],
            "amount": [None, 9.5, 3.0, None],  # a total under the data: still not an event
        },
        index=[10, 11, 12, 13],
    )
    with pytest.warns(UserWarning, match=r"^2 rows .* \(row 1 \(index 11\), row 3 \(index 13\)\)"):
        log = read_events(frame)
    assert log.frame["customer_id"].tolist() == [1, 2]
    # a row with a timestamp but no id is not blank: refused, at its own row
    frame.loc[13, "timestamp"] = "2024-01-03"
    with pytest.warns(UserWarning, match="^1 row with no customer id"):
        message = error_of(lambda: read_events(frame))
    assert "row 3 (index 13)" in message and "1 row with no customer id" in message
    with pytest.raises(SchemaError, match="only blank rows"):
        read_events(frame.iloc[[1]])


def test_files_joined_with_their_headers_read_as_one_log(tmp_path, sample_csv, bundle):
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    frame["visits"] = [str(i % 7) for i in range(len(frame))]  # a numeric column of the user
    frame["vip"] = ["true" if i % 3 else "false" for i in range(len(frame))]  # and true/false
    flat, joined = tmp_path / "flat.csv", tmp_path / "joined.csv"
    frame.to_csv(flat, index=False)
    parts = [frame.iloc[:1000], frame.iloc[1000:2000], frame.iloc[2000:]]
    joined.write_text("".join(p.to_csv(index=False) for p in parts))  # cat a.csv b.csv c.csv
    said = (
        "2 rows repeating the header left out (row 1000 (joined.csv line 1002), row 2001 "
        "(joined.csv line 2003)): not events"
    )
    with pytest.warns(UserWarning) as caught:
        log = read_events(joined)
    assert [str(w.message) for w in caught if "repeating" in str(w.message)][0].startswith(said)
    expected = read_events(flat).frame
    pd.testing.assert_frame_equal(log.frame, expected)  # 'visits' numbers, as in the flat file
    assert expected["visits"].dtype == np.int64 and expected["vip"].dtype == bool
    kwargs = dict(recommend=False, drivers=False, include_inactive=True, chunk_events=3000)
    with pytest.warns(UserWarning) as caught:
        scores = cjml.score(bundle, joined, **kwargs)
    assert [str(w.message) for w in caught if "repeating" in str(w.message)][0].startswith(said)
    pd.testing.assert_frame_equal(scores, cjml.score(bundle, flat, **kwargs))


def test_a_header_read_as_a_row_of_a_dataframe_is_left_out():
    frame = pd.DataFrame(
        [["customer_id", "timestamp", "touchpoint"], ["1", "2024-01-01", "email"]],
        columns=["customer_id", "timestamp", "touchpoint"],
    )
    with pytest.warns(UserWarning, match=r"^1 row repeating the header left out \(row 0\)"):
        log = read_events(frame)
    assert log.n_events == 1


def test_thousands_commas_before_a_decimal_point_are_read_and_ambiguous_ones_refused(tmp_path):
    path = write(
        tmp_path / "us.csv",
        '1,2024-01-02 09:00,purchase,"1,234.50","1,234.50"',
        '2,2024-01-03 09:00,purchase,"-12,000.5",x',
        header=HEADER + ",amount,note",
    )
    frame = read_events(path).frame
    assert frame["amount"].tolist() == [1234.5, -12000.5]
    assert frame["note"].tolist() == ["1,234.50", "x"]  # the user's own columns stay as written
    # the same amounts in a DataFrame
    as_frame = pd.read_csv(path, dtype=str)
    assert read_events(as_frame).frame["amount"].tolist() == [1234.5, -12000.5]
    write(tmp_path / "us.csv", '1,2024-01-02 09:00,purchase,"1,234"', header=HEADER + ",amount")
    message = error_of(lambda: read_events(path))
    assert "amount='1,234'" in message and "Fix:" in message
    # the customer id stays as written
    write(tmp_path / "ids.csv", '"1,234.50",2024-01-02 09:00,purchase')
    assert read_events(tmp_path / "ids.csv").frame["customer_id"].tolist() == ["1,234.50"]


def test_spreadsheet_serial_dates_are_named_with_their_conversion(tmp_path, sample_csv, bundle):
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False).iloc[:50]
    when = pd.to_datetime(frame.pop("timestamp"), utc=True).dt.tz_localize(None)
    serial = (when - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
    frame.insert(1, "date", serial.round(6))
    path = tmp_path / "serial.csv"
    frame.to_csv(path, index=False)
    first = float(frame["date"].iloc[0])
    fix = (
        f"Fix: they look like spreadsheet serial dates, days since 1899-12-30 ({first:.10g} is "
        f"{when.iloc[0]:%Y-%m-%d %H:%M}): format the column as dates in the spreadsheet before "
        "saving it, or convert them, e.g. df['date'] = pd.to_datetime(df['date'], unit='D', "
        "origin='1899-12-30')."
    )
    columns = {"timestamp": "date"}
    assert error_of(lambda: read_events(path, columns=columns)).endswith(fix)
    assert error_of(lambda: cjml.score(bundle, path, columns=columns)).endswith(fix)
    # the conversion the fix gives reads the times back, to the second
    back = pd.to_datetime(frame["date"], unit="D", origin="1899-12-30")
    assert (back - when).abs().max() < pd.Timedelta(seconds=1)


@pytest.mark.parametrize(
    "names",
    [
        ["Customer ID", "Event Time", "Touchpoint"],
        ["customerId", "eventTime", "eventName"],
        ["CUSTOMER-ID", "Time Stamp", "Event Type"],
        ["user_pseudo_id", "event_timestamp", "event_name"],  # a GA4 export
        ["distinct_id", "time", "event"],  # Mixpanel
        ["properties.distinct_id", "properties.time", "event"],  # Mixpanel's JSON, flattened
        ["CustomerID", "InvoiceDate", "event_type"],  # an Online Retail-like export
        ["Email", "Created at", "event"],  # a shop's orders export (Shopify)
    ],
)
def test_missing_columns_suggest_names_written_another_way(tmp_path, names):
    path = tmp_path / "x.csv"
    pd.DataFrame([[1, "2024-01-01 09:00", "email"]], columns=names).to_csv(path, index=False)
    message = error_of(lambda: read_events(path))
    for name in names:
        assert f"Did you mean {name!r}?" in message
    # the command line it suggests is one argument for the shell, and it works
    cli = message.split("on the command line --columns ")[1].splitlines()[0]
    (value,) = shlex.split(cli)
    assert read_events(path, columns=value).n_events == 1


def test_a_date_and_a_time_of_day_in_two_columns_are_shown_how_to_join(tmp_path):
    path = tmp_path / "x.csv"
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "Order Date": ["2024-01-01", "2024-01-02"],
            "time": ["09:00:00", "17:30:00"],
            "touchpoint": ["email", "purchase"],
        }
    )
    frame.to_csv(path, index=False)
    message = error_of(lambda: read_events(path))
    hint = (
        "If 'Order Date' holds the date and 'time' the time of day, join them into one column "
        "first, e.g. in pandas df['timestamp'] = df['Order Date'].astype(str) + ' ' + "
        "df['time'].astype(str), then pass df or save it to a file (with --columns "
        "'timestamp=Order Date' alone, every event of a day would be at midnight)."
    )
    assert hint in message
    # the join it gives reads every event at its time of day
    joined = frame.assign(timestamp=frame["Order Date"].astype(str) + " " + frame["time"])
    got = read_events(joined.drop(columns=["Order Date", "time"])).frame["timestamp"]
    assert list(got.dt.strftime("%d %H:%M")) == ["01 09:00", "02 17:30"]
    # a file with only one of the two gets no such hint
    frame.drop(columns="time").to_csv(path, index=False)
    assert "time of day" not in error_of(lambda: read_events(path))


def test_a_table_of_customers_with_a_churn_label_is_told_what_cjml_needs(tmp_path):
    path = tmp_path / "telco.csv"
    pd.DataFrame(
        {"customerID": ["7590-VHVEG", "5575-GNVDE"], "tenure": [1, 34], "Churn": ["No", "Yes"]}
    ).to_csv(path, index=False)
    message = error_of(lambda: read_events(path))
    assert "Column 'Churn' looks like a churn label, so this may be a table of one row per " in (
        message
    )
    assert "Give it the events behind the table" in message
    assert message.endswith(
        "Fix: give cjml the event log, one row per event with the customer id, its time and the "
        "touchpoint (cjml generate --out example.csv writes an example)."
    )
    path.write_text("customer_id,when,tenure\n1,2024-01-01,3\n")  # no label: no such hint
    assert "churn label" not in error_of(lambda: read_events(path))


def test_a_column_of_cjmls_written_another_way_is_named_not_silently_an_attribute(tmp_path):
    path = write(
        tmp_path / "x.csv",
        *(f"{r},{a},4" for r, a in zip(ROWS, ["", "", "", "12.5"], strict=True)),
        header=HEADER + ",Amount,Satisfaction",
    )
    said = (
        "Read as attributes, though their names are cjml's written another way: 'Amount' "
        "(amount), 'Satisfaction' (satisfaction). Fix: to read them as cjml's, add "
        "amount=Amount,satisfaction=Satisfaction to --columns (columns={'amount': 'Amount', "
        "'satisfaction': 'Satisfaction'} in Python)."
    )
    with pytest.warns(UserWarning, match=re.escape(said)):
        log = read_events(path)
    assert "Amount" in log.frame.columns and "amount" not in log.frame.columns
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mapped as the warning says: nothing to say
        log = read_events(path, columns={"amount": "Amount", "satisfaction": "Satisfaction"})
    assert log.frame["amount"].sum() == 12.5 and (log.frame["satisfaction"] == 4).all()


def test_ids_written_as_whole_floats_are_the_same_customers(tmp_path, sample_csv, bundle):
    """pandas writes the ids of a float column (one with a missing cell) as '42.0': the same
    customers as in a Parquet file or a DataFrame, which hold 42.0, and as '42'."""
    frame = pd.read_csv(sample_csv)
    floats = tmp_path / "floats.csv"
    frame.assign(customer_id=frame["customer_id"].astype(float)).to_csv(floats, index=False)
    assert "\n1.0," in floats.read_text() or "\n2.0," in floats.read_text()
    mixed = tmp_path / "mixed.csv"  # every other row written '42', the others '42.0'
    ids = (
        frame["customer_id"]
        .astype(str)
        .where(frame.index % 2 == 0, frame["customer_id"].astype(str) + ".0")
    )
    frame.assign(customer_id=ids).to_csv(mixed, index=False)
    expected = read_events(sample_csv).frame
    for path in (floats, mixed):
        pd.testing.assert_frame_equal(read_events(path).frame, expected)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True, chunk_events=2000)
    reference = cjml.score(bundle, sample_csv, **kwargs)
    for path in (floats, mixed):  # several partitions: a customer's rows must meet in one
        pd.testing.assert_frame_equal(cjml.score(bundle, path, **kwargs), reference)


def test_midnights_written_without_their_time_are_one_format_with_the_rest(
    tmp_path, sample_csv, bundle
):
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    when = pd.to_datetime(frame["timestamp"])
    short = (when.dt.hour % 5 == 0).to_numpy()  # these rows lose their time, as at midnight
    written = when.dt.strftime("%d/%m/%Y %H:%M")
    written[short] = when[short].dt.strftime("%d/%m/%Y")
    iso = when.where(~short, when.dt.normalize()).dt.strftime("%Y-%m-%d %H:%M")
    mixed, plain = tmp_path / "mixed.csv", tmp_path / "plain.csv"
    frame.assign(timestamp=written).to_csv(mixed, index=False)
    frame.assign(timestamp=iso).to_csv(plain, index=False)
    pd.testing.assert_frame_equal(read_events(mixed).frame, read_events(plain).frame)
    kwargs = dict(recommend=False, drivers=False, include_inactive=True, chunk_events=3000)
    pd.testing.assert_frame_equal(
        cjml.score(bundle, mixed, **kwargs), cjml.score(bundle, plain, **kwargs)
    )
    # another order of day and month is still refused
    written[short] = when[short].dt.strftime("%m/%d/%Y")
    frame.assign(timestamp=written).to_csv(mixed, index=False)
    assert "mixes date formats" in error_of(lambda: read_events(mixed))


@pytest.mark.parametrize(
    "written, read",
    [
        (["31.01.24 10:00", "01.02.24 11:30"], ["2024-01-31 10:00", "2024-02-01 11:30"]),
        (["1/31/24 9:00 AM", "2/1/24 1:30 PM"], ["2024-01-31 09:00", "2024-02-01 13:30"]),
        # a first afternoon or midnight time, which pandas' format guess misses
        (["1/2/2024 3:04 PM", "1/3/2024 9:15 AM"], ["2024-01-02 15:04", "2024-01-03 09:15"]),
        (["1/2/2024 12:30 AM", "1/2/2024 12:30 PM"], ["2024-01-02 00:30", "2024-01-02 12:30"]),
        (["1/13/2024 3:04pm", "1/14/2024 9:15am"], ["2024-01-13 15:04", "2024-01-14 09:15"]),
        (["1/31/24 3:00 PM", "2/1/24 1:30 PM"], ["2024-01-31 15:00", "2024-02-01 13:30"]),
        # dotted dates are day first, also where both readings are dates
        (["05.02.2024", "06.02.2024"], ["2024-02-05 00:00", "2024-02-06 00:00"]),
    ],
)
def test_spreadsheet_short_dates_are_read(tmp_path, written, read):
    path = write(tmp_path / "x.csv", *(f"1,{w},email" for w in written))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # '05.02.2024' reads two ways: said, not refused
        frame = read_events(path).frame
    assert frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M").tolist() == read


def test_a_zone_abbreviation_is_never_guessed_as_literal_text():
    # pandas 2 guesses '%Y-%m-%d %H:%M:%S CET'; taken as a format, a column of CET and CEST
    # times would be refused as mixed formats instead of with the zone's fix
    from cjml.io._timestamps import _guess_formats

    assert _guess_formats("2024-01-02 15:04:05 CET") == []
    assert _guess_formats("2024-07-03 09:00 CEST") == []
    assert "%Y-%m-%dT%H:%M:%S" in _guess_formats("2024-01-02T15:04:05")
    assert "%d %B %Y" in _guess_formats("02 January 2024")


def test_iso_dates_beyond_nanoseconds_are_found_whatever_pandas_reads():
    from cjml.io._timestamps import _iso_beyond_range

    values = pd.Series(
        ["3024-01-01", "1500-06-01T00:00:00+02:00", "nonsense", "2024-01-01", "10000-01-01", ""]
    )
    assert _iso_beyond_range(values).tolist() == [True, True, False, False, False, False]


def test_an_unreadable_date_is_named_before_a_date_out_of_range():
    df = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "timestamp": ["2024-01-01", "not a date", "3024-01-01", "2024-01-03"],
            "touchpoint": "email",
        }
    )
    said = error_of(lambda: read_events(df))
    assert "1 row with values that cannot be read as dates" in said
    assert "row 1: timestamp='not a date'" in said and "3024" not in said
    df.loc[1, "timestamp"] = "2024-01-02"
    said = error_of(lambda: read_events(df))
    assert "dates outside the supported range (years 1677 to 2262)" in said
    assert "row 2: " in said


def test_plain_whole_number_ids_held_as_python_strings_take_the_fast_path():
    # object columns: pandas 2's text, or a frame built with dtype=object
    from cjml.io._values import _canonical_int_keys

    keys = _canonical_int_keys(pd.Series(["7", "42", "-3"], dtype=object))
    assert keys is not None and keys.tolist() == [7, 42, -3]
    for cells in (["C1", "2"], ["1", None], ["1", 2], ["007", "1"]):
        assert _canonical_int_keys(pd.Series(cells, dtype=object)) is None, cells


def test_times_with_a_zone_abbreviation_are_refused_with_the_fix(tmp_path):
    path = write(
        tmp_path / "x.csv", "1,2024-01-02 15:04:05 CET,email", "2,2024-07-03 09:00 CEST,email"
    )
    said = error_of(lambda: read_events(path))
    assert "2 rows with values that cannot be read as dates" in said
    assert "end with a zone's abbreviation ('CEST', 'CET')" in said
    assert "say the zone instead (timezone='Europe/Paris', --timezone Europe/Paris)" in said
    # the fix it gives reads them
    frame = pd.read_csv(path)
    frame["timestamp"] = frame["timestamp"].str.replace(r"\s+[A-Z]{2,6}$", "", regex=True)
    log = read_events(frame, timezone="Europe/Paris")
    assert log.frame["timestamp"].dt.tz_convert("UTC").dt.hour.tolist() == [14, 7]
    # other unreadable text keeps the general fix
    path = write(tmp_path / "y.csv", "1,2024-01-02 15:04 CET,email", "2,soon,email")
    assert "preferably ISO 8601" in error_of(lambda: read_events(path))
    # an hour past 12 before PM is no zone
    path = write(tmp_path / "z.csv", "1,1/2/2024 13:04 PM,email", "2,1/3/2024 14:00 PM,email")
    assert "abbreviation" not in error_of(lambda: read_events(path))


@pytest.mark.parametrize(
    "written, fix",
    [
        ("(12.50)", "negatives in an accounting format ('(12.50)' is -12.50)"),
        ('"($1,200.00)"', "negatives in an accounting format"),
        ("-", "a dash is how a spreadsheet shows an empty (or a zero) cell"),
        ("(soon)", "give finite amounts (negative for refunds) as numbers"),
    ],
)
def test_amounts_as_accounting_formats_write_them_are_refused_with_their_fix(
    tmp_path, written, fix
):
    path = write(
        tmp_path / "x.csv",
        "1,2024-01-02,purchase,12.00",
        f"2,2024-01-03,purchase,{written}",
        header="customer_id,timestamp,touchpoint,amount",
    )
    said = error_of(lambda: read_events(path))
    assert "Column 'amount' has 1 row with values that are not numbers" in said
    assert fix in said


def test_unsigned_64_bit_ids_beyond_int64_keep_every_digit(tmp_path, bundle):
    """uint64 ids above 2**63 - 1 (64-bit hashes) were wrapped to negative numbers by
    pandas' cast: they are kept as their digits, through every reader and score."""
    from cjml.datasets import load_sample

    events = load_sample()
    big = np.uint64(2**63) + events["customer_id"].to_numpy().astype(np.uint64)
    events["customer_id"] = big
    expected = sorted(str(v) for v in set(big.tolist()))
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    for source in (events, path):
        log = read_events(source)
        assert sorted(log.customer_ids) == expected and log.n_customers == len(expected)
    scores = cjml.score(bundle, path, recommend=False, drivers=False, include_inactive=True)
    assert sorted(scores["customer_id"].astype(str)) == expected
    # within int64 they stay whole numbers
    events["customer_id"] = (big - np.uint64(2**63)).astype(np.uint64)
    assert read_events(events).customer_ids.dtype == np.int64


def test_ids_that_differ_only_by_spaces_are_named():
    frame = pd.DataFrame(
        {
            "user": ["42", " 42", "C7", "C7 ", "C8"],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"],
            "touchpoint": ["paid_ad", "email", "email", "purchase", "email"],
        }
    )
    said = (
        "Column 'customer_id' (your column 'user') has 2 ids that differ from another only by "
        "spaces around them: ' 42' and '42', 'C7 ' and 'C7'. They are read as different "
        "customers, each with part of one history. Fix: strip the spaces before reading, e.g. "
        "df['user'] = df['user'].str.strip()."
    )
    with pytest.warns(UserWarning, match=re.escape(said)):
        log = read_events(frame, columns={"customer_id": "user"})
    assert log.n_customers == 5  # said, not merged
    stripped = frame.assign(user=frame["user"].str.strip())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fix it gives: nothing more to say
        assert read_events(stripped, columns={"customer_id": "user"}).n_customers == 3


def test_permission_denied_says_so_and_names_the_file(tmp_path, monkeypatch):
    import cjml.io._csv

    path = write(tmp_path / "locked.csv", *ROWS)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cjml.io._csv, "open", denied, raising=False)
    message = error_of(lambda: read_events(path))
    assert message.startswith(f"Cannot read the CSV file {str(path)!r}: permission denied.")
    assert "separator" not in message


def test_an_unclosed_quote_is_named_with_its_line(tmp_path):
    path = write(tmp_path / "q.csv", ROWS[0], '2,"2024-01-02 12:00,email', ROWS[3])
    with pytest.raises(InputFileError, match=r"Line 3 of the CSV file .* opens a quote"):
        read_events(path)


# --------------------------------------------------------------------------- ids
def test_na_null_none_are_ids_in_a_csv(tmp_path):
    path = write(
        tmp_path / "na.csv",
        "NA,2024-01-01,paid_ad",
        "null,2024-01-02,email",
        "None,2024-01-03,purchase",
        "7,2024-01-04,email",
    )
    log = read_events(path)
    assert sorted(log.customer_ids.tolist()) == ["7", "NA", "None", "null"]


def test_missing_ids_says_which_texts_mean_missing(tmp_path):
    path = write(
        tmp_path / "na.csv",
        "NA,2024-01-01,paid_ad",
        "null,2024-01-02,email",
        "None,2024-01-03,purchase",
    )
    with pytest.raises(SchemaError, match=r"2 rows with a customer id that means missing"):
        read_events(path, missing_ids="NA,null")
    df = pd.DataFrame(
        {
            "customer_id": ["NA", "x"],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "touchpoint": ["email", "email"],
        }
    )
    with pytest.raises(SchemaError, match=r"row 0: customer_id='NA'"):
        read_events(df, missing_ids=["NA"])
    assert parse_missing_ids(" NA, null,NA ,") == ("NA", "null")


def test_na_stays_missing_outside_the_id_column(tmp_path):
    with pytest.raises(SchemaError, match=r"a missing or empty touchpoint"):
        read_events(write(tmp_path / "tp.csv", ROWS[0], "1,2024-01-02,NA"))


def test_score_reads_na_ids_as_ids_and_missing_ids_quarantines_them(tmp_path, sample_csv, bundle):
    frame = sample_text(sample_csv)
    frame["customer_id"] = frame["customer_id"].replace({"1": "NA", "2": "null"})
    path = tmp_path / "na.csv"
    frame.to_csv(path, index=False)
    scores = cjml.score(bundle, path, recommend=False, drivers=False, include_inactive=True)
    assert {"NA", "null"} <= set(scores["customer_id"])
    assert validated_ids(path) == set(scores["customer_id"])
    listed = cjml.score(
        bundle,
        path,
        customers=["NA", "null", "3"],
        recommend=False,
        drivers=False,
        include_inactive=True,
    )
    assert len(listed) == 3
    assert (listed["status"] != "no_events").all()
    quarantined = cjml.score(
        bundle,
        path,
        missing_ids=["NA"],
        on_error="quarantine",
        recommend=False,
        drivers=False,
        include_inactive=True,
    )
    rejects = pd.DataFrame(quarantined.attrs["rejects"])
    assert set(rejects["customer_id"]) == {"NA"} and len(quarantined) == 2999


def validated_ids(path: Path) -> set:
    return set(read_events(path).customer_ids.tolist())


def test_customer_lists_keep_leading_zeros_in_recommend_and_score(tmp_path, sample_csv, capsys):
    frame = sample_text(sample_csv)
    frame["customer_id"] = frame["customer_id"].str.zfill(5)
    events = tmp_path / "padded.csv"
    frame.to_csv(events, index=False)
    write(tmp_path / "list.csv", "00001", "00017", "00042", header="customer_id")
    code, output = cli(
        capsys,
        "recommend",
        sample_bundle_path(),
        events,
        "--customers",
        tmp_path / "list.csv",
        "--out",
        tmp_path / "a.parquet",
    )
    assert code == 0, output
    actions = pd.read_parquet(tmp_path / "a.parquet")
    assert sorted(actions["customer_id"]) == ["00001", "00017", "00042"]
    assert not actions["reason"].astype(str).str.contains("no event before the cutoff").any()
    code, output = cli(
        capsys,
        "score",
        sample_bundle_path(),
        events,
        "--customers",
        tmp_path / "list.csv",
        "--out",
        tmp_path / "s.parquet",
        "--quiet",
        "--include-inactive",
    )
    assert code == 0, output
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert sorted(scores["customer_id"]) == ["00001", "00017", "00042"]
    assert (scores["status"] != "no_events").all()


def test_customer_list_in_a_log_of_numbers_refuses_text(tmp_path, capsys, sample_csv):
    write(tmp_path / "list.csv", "1", "abc", header="customer_id")
    code, output = cli(
        capsys,
        "recommend",
        sample_bundle_path(),
        sample_csv,
        "--customers",
        tmp_path / "list.csv",
        "--out",
        tmp_path / "a.parquet",
    )
    assert code == 1
    assert "has ids that are not whole numbers (['abc']" in output


# --------------------------------------------------------------------------- timestamps
def test_numbers_written_like_dates_are_dates(tmp_path):
    log = read_events(write(tmp_path / "ymd.csv", "1,20240131,paid_ad", "2,20240102,email"))
    assert [str(t.date()) for t in log.frame["timestamp"]] == ["2024-01-31", "2024-01-02"]
    log = read_events(write(tmp_path / "ymdhms.csv", "1,20240131093000,paid_ad"))
    assert str(log.frame["timestamp"].iloc[0]) == "2024-01-31 09:30:00+00:00"
    frame = pd.DataFrame({"customer_id": [1], "timestamp": [20240131], "touchpoint": ["email"]})
    assert str(read_events(frame).frame["timestamp"].iloc[0]) == "2024-01-31 00:00:00+00:00"


def test_numbers_written_like_dates_refuse_an_epoch_unit(tmp_path):
    path = write(tmp_path / "ymd.csv", "1,20240131,paid_ad", "2,20240102,email")
    with pytest.raises(
        SchemaError,
        match=r"(?s)written like dates \(YYYYMMDD: 20240131 is "
        r"2024-01-31\).*leave out --timestamp-unit s",
    ):
        read_events(path, timestamp_unit="s")


def test_yyyymmdd_is_read_the_same_by_score(tmp_path, sample_csv, bundle):
    frame = sample_text(sample_csv)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.strftime("%Y%m%d")
    path = tmp_path / "ymd.csv"
    frame.to_csv(path, index=False)
    summary = ScoreSummary_of(cjml.score(bundle, path, recommend=False, drivers=False))
    assert summary.cutoff == read_events(path).summary().last_timestamp


def ScoreSummary_of(scores):  # noqa: N802 - reads as the class it returns
    return cjml.scoring.ScoreSummary.from_dict(scores.attrs["summary"])


@pytest.mark.parametrize(
    "values, unit",
    [
        ([1706700000, 1706800000], "s"),
        ([1706700000000, 1706800000000], "ms"),
        ([1706700000000000, 1706800000000000], "us"),
    ],
)
def test_epoch_numbers_without_a_unit_suggest_the_unit_of_their_size(values, unit):
    frame = pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": values, "touchpoint": ["email", "email"]}
    )
    with pytest.raises(SchemaError, match=rf"Unix epoch times in \w+ .*timestamp_unit='{unit}'"):
        read_events(frame)


def test_times_all_within_a_day_of_1970_are_refused_with_the_right_unit(
    tmp_path, sample_csv, bundle
):
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "timestamp": [1706700000, 1706800000],
            "touchpoint": ["email", "email"],
        }
    )
    message = error_of(lambda: read_events(frame, timestamp_unit="ns"))
    assert "falls within a year of 1970-01-01" in message
    assert "pass timestamp_unit='s' (--timestamp-unit s) instead of 'ns'" in message
    text = sample_text(sample_csv)
    ts = pd.to_datetime(text["timestamp"], utc=True)
    text["timestamp"] = ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")).astype(str)
    path = tmp_path / "epoch.csv"
    text.to_csv(path, index=False)
    by_read = error_of(lambda: read_events(path, timestamp_unit="ns"))
    by_score = error_of(lambda: cjml.score(bundle, path, timestamp_unit="ns"))
    assert by_read == by_score and "instead of 'ns'" in by_score
    assert "count from the start of the data" not in by_score  # the unit explains them


def test_seconds_from_the_start_of_the_data_are_shown_how_to_date(tmp_path):
    """Times counted from the start of the data (Criteo's attribution log), not from 1970:
    without a unit, and with one, the fix adds the start date, and that fix reads them."""
    seconds = [57_661, 717_339, 1_417_033, 2_388_266]
    frame = pd.DataFrame(
        {"uid": [1, 1, 2, 2], "ts": seconds, "touchpoint": ["email", "purchase"] * 2}
    )
    columns = {"customer_id": "uid", "timestamp": "ts"}
    fix = (
        "If they count from the start of the data rather than from 1970 (as some public "
        "datasets do, e.g. Criteo's attribution data), add the start date: df['ts'] = "
        "pd.Timestamp('2024-01-01') + pd.to_timedelta(df['ts'], unit='s'), with the real start "
        "date if known."
    )
    assert fix in error_of(lambda: read_events(frame, columns=columns))
    path = tmp_path / "criteo.csv"
    frame.to_csv(path, index=False)
    with_unit = error_of(lambda: read_events(path, columns=columns, timestamp_unit="s"))
    assert "falls within a year of 1970-01-01" in with_unit and fix in with_unit
    df = frame.copy()
    df["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df["ts"], unit="s")
    log = read_events(df, columns=columns)
    assert str(log.frame["timestamp"].max()) == "2024-01-28 15:24:26+00:00"


@pytest.mark.parametrize("order", [[0, 1, 2], [1, 2, 0], [2, 0, 1]])
def test_mixed_date_formats_are_refused_whatever_the_order(order):
    dates = ["2024-01-31", "31/01/2024", "13/02/2024"]
    frame = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "timestamp": [dates[i] for i in order],
            "touchpoint": ["email"] * 3,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas warning leaks either
        with pytest.raises(
            SchemaError,
            match=r"mixes date formats: .*ISO 8601 on 1 row.*"
            r"'%d/%m/%Y' on 2 rows",
        ):
            read_events(frame)


def test_one_non_iso_format_is_read_the_same_in_any_order():
    dates = ["02/01/2024", "31/01/2024", "13/01/2024"]
    frame = pd.DataFrame(
        {"customer_id": [1, 2, 3], "timestamp": dates, "touchpoint": ["email"] * 3}
    )
    first = read_events(frame).frame
    again = read_events(frame.iloc[::-1].reset_index(drop=True)).frame
    pd.testing.assert_frame_equal(first, again)
    assert str(first["timestamp"].iloc[0].date()) == "2024-01-02"


def test_mixed_formats_across_files_are_refused_by_score(tmp_path, sample_csv, bundle):
    folder = tmp_path / "logs"
    folder.mkdir()
    text = sample_text(sample_csv)
    text.to_csv(folder / "a.csv", index=False)
    text.assign(timestamp=pd.to_datetime(text["timestamp"]).dt.strftime("%d/%m/%Y %H:%M")).to_csv(
        folder / "b.csv", index=False
    )
    for call in (lambda: read_events(folder), lambda: cjml.score(bundle, folder)):
        assert "mixes date formats: ISO 8601 on 24,992 rows" in error_of(call)


def test_events_far_past_the_rest_are_warned_about(tmp_path, sample_csv, bundle):
    text = sample_text(sample_csv)
    late = pd.concat([text, text.iloc[[0]].assign(timestamp="2199-01-01 00:00:00+00:00")])
    path = tmp_path / "late.csv"
    late.to_csv(path, index=False)
    with pytest.warns(
        UserWarning,
        match=r"1 event of column 'timestamp' is far past the rest"
        r".*2199-01-01.*--cutoff",
    ):
        read_events(path)
    with pytest.warns(UserWarning, match=r"far past the rest"):
        cjml.score(bundle, path, recommend=False, drivers=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cjml.score(bundle, path, cutoff="2024-08-28", recommend=False, drivers=False)
    assert not [w for w in caught if "far past" in str(w.message)]


def test_no_warning_for_a_log_without_stray_events(sample_csv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_events(sample_csv)
    said = [str(w.message) for w in caught]
    assert not [m for m in said if "far past" in m or "after today" in m or "missing date" in m]


def _days(*pairs):
    """{day since 1970-01-01: events} from (ISO date, events) pairs."""
    return {int(pd.Timestamp(d).value // 86_400_000_000_000): n for d, n in pairs}


def test_stand_in_days_for_a_missing_date_are_warned_about():
    from cjml.io._timestamps import _stand_in_dates_warning

    log = [("2024-01-01", 500), ("2024-06-30", 500)]
    said = _stand_in_dates_warning("column 'timestamp'", _days(("1899-12-30", 2), *log))
    assert said.startswith("2 events of column 'timestamp' are dated 1899-12-30")
    assert "(a spreadsheet's day zero, 2), at least 124 years before" in said
    assert "which starts on 2024-01-01" in said
    # an epoch day within a year of the rest is a date like any other, and so is a log
    # that is all one stand-in day (the epoch rule refuses that one)
    assert _stand_in_dates_warning("t", _days(("1970-01-01", 3), ("1970-06-01", 9))) is None
    assert _stand_in_dates_warning("t", _days(("1970-01-01", 3))) is None
    assert _stand_in_dates_warning("t", _days(*log)) is None


def test_weeks_without_events_inside_the_log_are_warned_about():
    from cjml.io._timestamps import _hole_warning

    every_day = {d: 80 for d in range(19_800, 19_900)}  # 100 days of about 80 events
    said = _hole_warning(
        "column 'timestamp'", every_day | {d: 0 for d in range(19_840, 19_860)} | {19_850: 1}
    )
    assert said.startswith(
        "Column 'timestamp' has only 1 event from 2024-04-27 to 2024-05-16 (20 days), where "
        "the median day has 80: a tracking outage, a file missing from the export, or a "
        "closure?"
    )
    assert said.endswith(
        "train with cutoffs whose label windows avoid it (cjml.train(..., cutoffs=[...]); "
        "cjml train --cutoffs DATE,...)."
    )
    assert cli_words(said).endswith("avoid it (cjml train --cutoffs DATE,...).")
    # weekends, a four-day closure, a sparse log's empty days and a stray date are not holes
    weekdays = {d: (0 if d % 7 in (2, 3) else 80) for d in range(19_800, 19_900)}
    closure = every_day | {d: 0 for d in range(19_840, 19_844)}
    sparse = {d: (3 if d % 9 else 0) for d in range(19_800, 19_900)}
    stray = every_day | {0: 1}
    for days in (every_day, weekdays, closure, sparse, stray):
        assert _hole_warning("t", days) is None


def test_read_events_and_score_say_the_same_of_a_hole(tmp_path, sample_csv, bundle):
    text = sample_text(sample_csv)
    when = pd.to_datetime(text["timestamp"], utc=True)
    path = tmp_path / "outage.csv"
    text[(when < "2024-05-01") | (when >= "2024-05-21")].to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_events(path)
        cjml.score(bundle, path, recommend=False, drivers=False)
    said = [str(w.message) for w in caught if "a tracking outage" in str(w.message)]
    assert len(said) == 2 and said[0] == said[1]
    assert "no events from 2024-05-01 to 2024-05-20 (20 days)" in said[0]


def test_events_after_today_are_warned_about_with_a_cutoff_before_them():
    from cjml.io._timestamps import _future_events_warning

    today = pd.Timestamp("2026-12-05 10:00", tz="UTC")
    days = _days(("2024-01-01", 500), ("2026-11-30", 500), ("2031-06-01", 40))
    last = pd.Timestamp("2031-06-01 08:00", tz="UTC").value
    said = _future_events_warning("column 'timestamp'", days, last, today=today)
    assert said.startswith("40 events of column 'timestamp' are dated after today (2026-12-05)")
    assert "the latest on 2031-06-01 08:00" in said
    assert "e.g. --cutoff 2026-12-01" in said  # the end of the last day before them
    # tomorrow is within a clock's or a timezone's reach of today
    assert _future_events_warning("t", _days(("2026-12-06", 1)), 0, today=today) is None


def test_the_whole_log_rules_name_a_stray_event_once(tmp_path, sample_csv, bundle):
    text = sample_text(sample_csv)
    future = pd.concat([text, text.iloc[:40].assign(timestamp="2031-06-01 00:00:00+00:00")])
    path = tmp_path / "future.csv"
    future.to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_events(path)
        cjml.score(bundle, path, cutoff="2024-08-28", recommend=False, drivers=False)
    said = [str(w.message) for w in caught if "2031-06-01" in str(w.message)]
    # read_events says it; score with a cutoff before the events ignores them, silently
    assert len(said) == 1 and "40 events of column 'timestamp' are dated after today" in said[0]
    one = pd.concat([text, text.iloc[:1].assign(timestamp="2031-06-01 00:00:00+00:00")])
    one.to_csv(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_events(path)
    said = [str(w.message) for w in caught if "2031-06-01" in str(w.message)]
    # one event among thousands is far past the rest: that warning alone, not both
    assert len(said) == 1 and "far past the rest" in said[0]


# --------------------------------------------------------------------------- rules and maps
@pytest.mark.parametrize(
    "toml, said",
    [
        ('min_risk = "high"', r"min_risk must be a number, got 'high' \(text\)"),
        ('budget = "lots"', r"budget must be a number, got 'lots'"),
        ("min_risk = true", r"min_risk must be a number, got True"),
        ("min_reduction = [1]", r"min_reduction must be a number, got \[1\]"),
        ('[caps]\nemail = { max = "two", days = 7 }', r"the cap on 'email' must allow a whole"),
        (
            '[caps]\nemail = { max = 2, days = "week" }',
            r"the cap on 'email': days must be a number, got 'week'",
        ),
        ("caps = 3", r"caps must be a table"),
        ("exclude = 3", r"exclude must be a list of touchpoint names"),
        ("costs = 3", r"costs must be a table"),
        ('[costs]\nemail = "cheap"', r"the cost of 'email' must be a number"),
    ],
)
def test_bad_rule_values_name_the_rule_and_the_file(tmp_path, toml, said):
    path = tmp_path / "rules.toml"
    path.write_text(toml + "\n")
    with pytest.raises(RulesError, match=rf"In the rules file '.*rules\.toml': {said}"):
        RecommendationRules.from_file(path)


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda p: p.write_bytes(PNG), r"it is a PNG image, not a TOML text file"),
        (
            lambda p: p.write_bytes("# \xe9t\xe9\n".encode("latin-1")),
            r"it is not UTF-8 text \(byte 0xe9 on line 1\)",
        ),
        (lambda p: p.mkdir(), r"it is a folder, not a file"),
    ],
)
def test_rules_and_maps_that_cannot_be_read(tmp_path, make, said):
    rules, jmap = tmp_path / "rules.toml", tmp_path / "map.toml"
    make(rules)
    make(jmap)
    with pytest.raises(RulesError, match=said):
        RecommendationRules.from_file(rules)
    with pytest.raises(JourneyMapError, match=said):
        JourneyMap.from_file(jmap)


def test_bad_map_values_get_one_line(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('stages = ["a"]\n[touchpoints.email]\nchannel = "online"\nstages = 3\n')
    with pytest.raises(JourneyMapError, match=r"touchpoint 'email' has stages = 3"):
        JourneyMap.from_file(path)
    path.write_text(
        'stages = ["a"]\n[touchpoints.email]\nchannel = "online"\nstages = ["a"]\ncost = "cheap"\n'
    )
    with pytest.raises(JourneyMapError, match=r"has cost 'cheap', which is not a number"):
        JourneyMap.from_file(path)


# --------------------------------------------------------------------------- feature names
def test_unique_names_never_reuse_a_name():
    assert unique_names(["x", "x_2", "x"]) == ["x", "x_2", "x_3"]
    assert unique_names(["a", "a", "a"]) == ["a", "a_2", "a_3"]
    assert unique_names(["other", "b"], reserved=["other"]) == ["other_2", "b"]


def test_touchpoints_that_read_alike_get_their_own_features_and_a_warning():
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 1],
            "touchpoint": ["=x", "x_2", "＝x", "email"],
            "timestamp": ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"],
            "stage": ["awareness", "awareness", "awareness", "consideration"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = read_events(frame)
    with pytest.warns(
        UserWarning,
        match=r"touchpoints '=x' and '＝x' all become 'x' \(told "
        r"apart as 'x', 'x_3'\).*rename them",
    ):
        features = cjml.JourneyFeaturizer().fit(log).transform(log)
    assert features.columns.is_unique
    assert features.loc[3, "count_x_3"] == 1 and features.loc[2, "count_x_2"] == 1


# --------------------------------------------------------------------------- nested columns
def test_nested_extra_columns_are_left_out_with_a_warning(tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "touchpoint": ["email", "email"],
            "meta": [{"a": 1}, {"a": 2}],
            "tags": [[1], [2]],
        }
    )
    path = tmp_path / "nested.parquet"
    frame.to_parquet(path)
    with pytest.warns(
        UserWarning,
        match=r"Columns 'meta' \(struct\), 'tags' \(list\) hold "
        r"nested values.*left out",
    ):
        log = read_events(path)
    assert "meta" not in log.frame.columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cjml.JourneyFeaturizer().fit(log).transform(log)  # was TypeError: unhashable 'dict'


def test_score_refuses_a_nested_attribute_before_any_work(tmp_path, bundle):
    from cjml.datasets import load_sample

    frame = load_sample()
    frame["segment"] = [{"plan": "basic"}] * len(frame)
    path = tmp_path / "nested.parquet"
    frame.to_parquet(path)
    out = tmp_path / "scores.parquet"
    with pytest.raises(
        SchemaError,
        match=r"Column 'segment' holds nested values \(struct\), "
        r"but it is a customer attribute of the model",
    ):
        cjml.score(bundle, path, out=out)
    assert not out.exists() and not list(tmp_path.glob(".*.cjml-run"))
    with pytest.warns(UserWarning, match=r"'segment' \(struct\) holds nested values"):
        read_events(path)


def test_the_id_list_reader_refuses_missing_ids(tmp_path):
    from cjml.io._files import _read_id_list

    path = write(tmp_path / "list.csv", "007,a", ",b", "NA,c", header="customer_id,note")
    with pytest.raises(SchemaError, match=r"1 missing or empty id\(s\), at positions \[1\]"):
        _read_id_list(path)
    listed, _ = _read_id_list(write(tmp_path / "ok.csv", "007", "NA", "007", header="customer_id"))
    assert listed.tolist() == ["007", "NA"]
    assert np.asarray(listed).dtype == object


def test_a_scores_csv_read_back_as_a_customer_list_finds_the_escaped_ids(tmp_path):
    from cjml.io._files import _read_id_list
    from cjml.io._write import write_csv

    ids = ["=1+1", " -2", "+cmd", "@SUM(A1)", "\uff1dx", "c2", "'quoted", "007"]
    path = tmp_path / "scores.csv"
    write_csv(pd.DataFrame({"customer_id": ids, "churn_risk": np.linspace(0, 1, len(ids))}), path)
    assert "'=1+1" in path.read_text(encoding="utf-8-sig")  # escaped in the file
    listed, where = _read_id_list(path)
    assert list(listed) == ids  # and read back as they were
    assert where == f"customer list {str(path)!r}"


@pytest.mark.parametrize(
    "lines, header_is_an_id",
    [
        (["1001", "1002", "1003"], True),
        (["C-1001", "C-1002"], True),
        (["0042", "0043"], True),
        (["customers", "1001"], False),
        (["Kunden-ID", "C-1001"], False),
    ],
)
def test_a_list_of_ids_without_a_header_loses_no_customer(tmp_path, lines, header_is_an_id):
    from cjml.io._files import _read_id_list

    path = tmp_path / "ids.csv"
    path.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        listed, where = _read_id_list(path)
    said = [str(w.message) for w in caught]
    if header_is_an_id:
        assert listed.tolist() == lines
        assert said == [
            f"The {where} has no header: its first line {lines[0]!r} is read as an id, like the "
            "lines under it. Fix: to silence this, give it a first line customer_id."
        ]
    else:
        assert listed.tolist() == lines[1:] and said == []


def test_score_serves_every_customer_of_a_list_without_a_header(tmp_path, bundle, sample_csv):
    path = tmp_path / "ids.csv"
    path.write_text("3\n1\n")
    with pytest.warns(UserWarning, match="has no header"):
        got = cjml.score(bundle, sample_csv, customers=path, include_inactive=True)
    assert sorted(got["customer_id"]) == [1, 3]


def test_a_short_row_in_a_customer_list_names_the_list_and_the_line(tmp_path):
    from cjml.io._files import _read_id_list

    path = write(tmp_path / "ids.csv", "1,a", "2", "3,c", header="customer_id,name")
    with pytest.raises(InputFileError, match=r"Line 3 of the customer list .* has 1 field"):
        _read_id_list(path)


_ISO_SHAPES = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%-m-%-d %H:%M:%S",  # a single-digit month: pandas reads it, Arrow does not
    " %Y-%m-%d %H:%M:%S",  # a space before
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(
                min_value=datetime.datetime(1990, 1, 1), max_value=datetime.datetime(2040, 1, 1)
            ),
            st.sampled_from(_ISO_SHAPES),
            st.sampled_from([0, 60, -330, 120]),  # the offset in minutes, for %z
        ),
        min_size=1,
        max_size=8,
    )
)
def test_iso_times_parsed_by_arrow_are_what_pandas_reads(cells):
    """The fast path for ISO 8601 text gives pandas' instants, or steps aside (None)."""
    from cjml.io._timestamps import _iso_by_arrow

    text = []
    for when, shape, minutes in cells:
        zone = datetime.timezone(datetime.timedelta(minutes=minutes))
        written = when.replace(tzinfo=zone).strftime(shape)
        text.append(written.replace("+0000", "Z") if minutes == 0 and "%z" in shape else written)
    raw = pd.Series(text, dtype="str")
    fast = _iso_by_arrow(raw)
    slow = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    if fast is None:
        return
    assert fast.index.equals(slow.index)
    assert fast.notna().all() and list(fast) == list(slow)
    # Arrow refuses a single-digit month or day and a space around the value
    assert all(re.match(r"\d{4}-\d{2}-\d{2}", t) for t in text)


def test_touchpoints_written_as_numbers_are_shown_how_to_name(tmp_path):
    path = tmp_path / "codes.csv"
    frame = pd.DataFrame(
        {"customer_id": [1, 1, 2], "ts": ["2024-01-01"] * 3, "event_type": [3, 7, 12]}
    )
    frame.to_csv(path, index=False)
    message = error_of(
        lambda: read_events(path, columns={"timestamp": "ts", "touchpoint": "event_type"})
    )
    assert "The touchpoints are numbers: if they are codes of kinds of event, give them " in (
        message
    )
    assert "df['event_type'] = df['event_type'].map({1: 'email'" in message
    # names of the log's own: no such line
    frame.assign(event_type=["a", "b", "c"]).to_csv(path, index=False)
    message = error_of(
        lambda: read_events(path, columns={"timestamp": "ts", "touchpoint": "event_type"})
    )
    assert "are numbers" not in message and "draft a map of it" in message


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.integers(-(10**12), 10**12).map(str),
            st.sampled_from(["", " 4 ", "1,234.50", "4,5", "abc", "NaN", "1e3", "+2", "-0", "."]),
        ),
        max_size=12,
    )
)
def test_text_numbers_by_arrow_are_what_pandas_reads(cells):
    """The fast path for numbers written as text gives pandas' to_numeric values, NaN alike."""
    from cjml.io._values import _text_numbers

    s = pd.Series(cells, dtype="str")
    expected = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if int(pd.__version__.split(".")[0]) >= 3:
        np.testing.assert_array_equal(_text_numbers(s), expected)
    else:  # pandas 2's parser can miss the last bit of a long number; Arrow reads it exactly
        np.testing.assert_allclose(_text_numbers(s), expected, rtol=5e-16, atol=0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(-(10**19), 10**19).map(str),
            st.sampled_from(["007", "+5", "5.0", "-0", " 5", "5 ", "", "1e3", "0x10", "٣"]),
            st.sampled_from([str(10**18 - 1), str(10**18), str(-(10**18)), str(2**63 - 1)]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_plain_whole_number_ids_read_by_arrow_are_the_numbers_they_say(cells):
    """The fast path for text ids reads exactly the ids written as plain whole numbers of up
    to 18 digits, as the numbers they say; anything else ('007', '+5', '5.0', '-0', spaces,
    19 digits, an empty cell) is left to the general path (None)."""
    from cjml.io._values import _canonical_int_keys

    keys = _canonical_int_keys(pd.Series(cells, dtype="str"))
    plain = all(re.fullmatch(r"0|-?[1-9][0-9]{0,17}", c) for c in cells)
    if not plain:
        assert keys is None
    else:
        assert keys is not None and keys.dtype == np.int64
        assert keys.tolist() == [int(c) for c in cells]


def test_the_columns_of_a_large_csv_conformed_side_by_side_read_as_one_by_one(
    tmp_path, monkeypatch
):
    """Missing markers, numbers, true/false and the ids as written: the same frame whether
    a text file's columns are conformed on threads (a large file) or one after another."""
    import cjml.io._files as files

    path = tmp_path / "events.csv"
    path.write_text(
        "customer_id,timestamp,touchpoint,amount,flag,note,satisfaction\n"
        "007,2024-01-01,email,12.5,true,NA,4\n"
        "NA,2024-01-02,purchase,null,false,hello,\n"
        "7,2024-01-03,email,3,true,n/a,5\n"
    )

    def frame() -> pd.DataFrame:
        return files._read_path(path, {})[0]

    monkeypatch.setattr(files, "_PARALLEL_COLUMNS_FROM_ROWS", 10**9)
    one_by_one = frame()
    monkeypatch.setattr(files, "_PARALLEL_COLUMNS_FROM_ROWS", 0)
    side_by_side = frame()
    pd.testing.assert_frame_equal(side_by_side, one_by_one)
    assert side_by_side["customer_id"].tolist() == ["007", "NA", "7"]
    assert side_by_side["note"].isna().tolist() == [True, False, True]
    assert side_by_side["amount"].tolist()[0] == 12.5 and side_by_side["flag"].dtype == bool
