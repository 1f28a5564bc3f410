"""Hostile inputs that cjml READS: event logs, customer lists, rules and journey maps.

Four areas: ``reading`` (the CSV rules shared by every command, files that are not
what their name says), ``ids`` (text ids stay text, "NA" is an id), ``timestamps``
(dates written as numbers, wrong epoch units, mixed formats, a stray future event)
and ``messages`` (bad rule and map values, touchpoints that read alike, nested
columns). Files are small and written by each case's ``setup``; cases that score
derive their file from the sample (``events.csv``) so that the bundle's columns are
all there.
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import pandas as pd

from tests.hostile.harness import Case

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
HEADER = "customer_id,timestamp,touchpoint"
ROWS = [
    "1,2024-01-01 09:00,paid_ad",
    "1,2024-01-03 10:00,website_visit",
    "2,2024-01-02 12:00,email",
    "2,2024-01-05 08:30,purchase",
]


# --------------------------------------------------------------------------- helpers
def text(name: str, content: str | bytes):
    """A setup writing ``content`` to ``name`` in the case's folder."""

    def setup(tmp: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(data)

    return setup


def small(name: str, *rows: str, header: str = HEADER):
    """A small CSV: the header then the rows."""
    return text(name, "\n".join([header, *rows]) + "\n")


def both(*setups):
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)

    return setup


def sample(tmp: Path) -> pd.DataFrame:
    """The sample events as text, as written in the CSV (every column of the bundle)."""
    return pd.read_csv(tmp / "events.csv", dtype=str, keep_default_na=False)


def from_sample(name: str, change=None, fmt: str = "csv"):
    """A setup writing the sample, changed by ``change(frame) -> frame``, to ``name``."""

    def setup(tmp: Path) -> None:
        frame = sample(tmp)
        if change is not None:
            frame = change(frame)
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        if fmt == "parquet":
            frame.to_parquet(tmp / name, index=False)
        else:
            frame.to_csv(tmp / name, index=False)

    return setup


def sample_lines(tmp: Path) -> list[str]:
    return (tmp / "events.csv").read_text().splitlines()


def sample_with_line(name: str, line: str, at: int = 40):
    """The sample CSV with ``line`` inserted as line ``at`` (1-based, header is line 1)."""

    def setup(tmp: Path) -> None:
        lines = sample_lines(tmp)
        lines.insert(at - 1, line)
        (tmp / name).write_text("\n".join(lines) + "\n")

    return setup


def times(change):
    """Change the sample's timestamps (a Series of pandas Timestamps) to new text."""

    def apply(frame: pd.DataFrame) -> pd.DataFrame:
        ts = pd.to_datetime(frame["timestamp"], utc=True)
        return frame.assign(timestamp=change(ts))

    return apply


def epoch(ts: pd.Series, unit: str) -> pd.Series:
    per = {"s": "1s", "ms": "1ms", "us": "1us"}[unit]
    return ((ts - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(per)).astype(str)


def padded_ids(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(customer_id=frame["customer_id"].str.zfill(5))


def na_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers 1, 2 and 3 renamed "NA", "null" and "None"."""
    names = {"1": "NA", "2": "null", "3": "None"}
    return frame.assign(customer_id=frame["customer_id"].map(lambda c: names.get(c, c)))


def no_run_folder(tmp: Path, output: str) -> None:
    left = [p.name for p in tmp.iterdir() if p.name.endswith(".cjml-run")]
    assert not left, f"run folder left behind: {left}"


def absent(*names: str):
    def check(tmp: Path, output: str) -> None:
        for name in names:
            assert not (tmp / name).exists(), f"{name} was written"
        no_run_folder(tmp, output)

    return check


def lacks(*texts: str):
    def check(tmp: Path, output: str) -> None:
        for t in texts:
            assert t not in output, f"{t!r} in the output"

    return check


def zipped(name: str, members: dict[str, bytes]):
    def setup(tmp: Path) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        (tmp / name).write_bytes(buffer.getvalue())

    return setup


def gzipped_sample(name: str):
    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(gzip.compress((tmp / "events.csv").read_bytes()))

    return setup


def zipped_sample(name: str):
    def setup(tmp: Path) -> None:
        with zipfile.ZipFile(tmp / name, "w") as archive:
            archive.write(tmp / "events.csv", "events.csv")

    return setup


def xz_sample(name: str):
    def setup(tmp: Path) -> None:
        import lzma

        (tmp / name).write_bytes(lzma.compress((tmp / "events.csv").read_bytes()))

    return setup


def parquet_of(name: str, frame: pd.DataFrame):
    def setup(tmp: Path) -> None:
        frame.to_parquet(tmp / name, index=False)

    return setup


def nested_sample(name: str, column: str, kind: str):
    """The sample as Parquet with ``column`` holding structs or lists."""

    def setup(tmp: Path) -> None:
        frame = pd.read_parquet(tmp / "events.parquet")
        frame[column] = (
            [{"plan": "basic", "n": i % 3} for i in range(len(frame))]
            if kind == "struct"
            else [[i % 3] for i in range(len(frame))]
        )
        frame.to_parquet(tmp / name, index=False)

    return setup


LATIN = ("\n".join([HEADER + ",city", ROWS[0] + ",Paris", ROWS[1] + ",Orl\xe9ans"]) + "\n").encode(
    "latin-1"
)


def latin_line(tmp: Path) -> bytes:
    """The sample with a Latin-1 byte on line 6."""
    lines = (tmp / "events.csv").read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"spontaneous", b"spontan\xe9ous")
    return b"\n".join(lines)


def repeated_last_column(name: str, n_lines: int | None = None):
    """The sample (or its first lines) with its last column written twice."""

    def setup(tmp: Path) -> None:
        lines = sample_lines(tmp)[:n_lines]
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(
            "\n".join(line + "," + line.rsplit(",", 1)[1] for line in lines) + "\n"
        )

    return setup


def copy_sample(name: str):
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes((tmp / "events.csv").read_bytes())

    return setup


def ids_kept(name: str, ids: list[str], column: str = "customer_id"):
    """Check that an output (Parquet) has these ids, as text, and none missing."""

    def check(tmp: Path, output: str) -> None:
        frame = pd.read_parquet(tmp / name)
        got = frame[column].tolist()
        for i in ids:
            assert i in got, f"{i!r} not in {got[:10]}"
        assert frame[column].notna().all()

    return check


def listed_found(name: str, ids: list[str]):
    """Check that every listed customer of a score output had events."""

    def check(tmp: Path, output: str) -> None:
        frame = pd.read_parquet(tmp / name)
        assert sorted(frame["customer_id"].tolist()) == sorted(ids), frame["customer_id"].tolist()
        assert (frame["status"] != "no_events").all(), frame[["customer_id", "status"]]

    return check


def actions_found(name: str, ids: list[str]):
    """Check that a recommend output names the listed customers, found in the events."""

    def check(tmp: Path, output: str) -> None:
        frame = pd.read_parquet(tmp / name)
        assert sorted(frame["customer_id"].tolist()) == sorted(ids), frame["customer_id"].tolist()
        assert not frame["reason"].astype(str).str.contains("no event before the cutoff").any()

    return check


SCORE = ["score", "{bundle}"]
OUT = ["--out", "{tmp}/scores.parquet", "--quiet"]
ROW_RULE = r"Line {line} of the CSV file '[^']*{file}' has {got} fields? where the header has {n}"


def row_rule(line: int, file: str, got: int, n: int) -> str:
    return ROW_RULE.format(line=line, file=file.replace(".", r"\."), got=got, n=n)


# --------------------------------------------------------------------------- reading
READING = [
    Case(
        name="in-amount-currency-validate",
        area="reading",
        argv=["validate", "{tmp}/spend.csv"],
        exit_code=1,
        message=r"(?s)Column 'amount' has 2 rows with values that are not numbers.*"
        r"row 0 \(spend.csv line 2\): amount='\$1,234.50'.*Fix: these numbers carry a "
        r"currency or thousands separators.*pd.to_numeric",
        description="amounts written '$1,234.50' (the fix was generic: 'give numbers')",
        setup=small(
            "spend.csv",
            '1,2024-01-01 09:00,purchase,"$1,234.50"',
            "2,2024-01-02 12:00,purchase,$12.00",
            header=HEADER + ",amount",
        ),
    ),
    Case(
        name="in-amount-decimal-comma-validate",
        area="reading",
        argv=["validate", "{tmp}/spend.csv"],
        exit_code=1,
        message=r"(?s)amount='12,50'.*Fix: these numbers use a decimal comma.*"
        r"in a CSV file separated by ';'",
        description="amounts written '12,50' with a decimal comma",
        setup=small(
            "spend.csv",
            '1,2024-01-01 09:00,purchase,"12,50"',
            '2,2024-01-02 12:00,purchase,"1.234,00"',
            header=HEADER + ",amount",
        ),
    ),
    Case(
        name="in-short-row-validate",
        area="reading",
        argv=["validate", "{tmp}/short.csv"],
        exit_code=1,
        message=row_rule(4, "short.csv", 2, 3) + r".*give every line 3 fields",
        description="validate: a CSV row with 2 of 3 fields (was accepted, cells blanked)",
        setup=small("short.csv", ROWS[0], ROWS[1], "2,2024-01-02 12:00", ROWS[3]),
    ),
    Case(
        name="in-short-row-features",
        area="reading",
        argv=["features", "{tmp}/short.csv", "--out", "{tmp}/f.parquet"],
        exit_code=1,
        message=row_rule(4, "short.csv", 2, 3),
        description="features: the same short row, the same message",
        setup=small("short.csv", ROWS[0], ROWS[1], "2,2024-01-02 12:00", ROWS[3]),
        check=absent("f.parquet"),
    ),
    Case(
        name="in-short-row-score",
        area="reading",
        argv=[*SCORE, "{tmp}/short.csv", *OUT],
        exit_code=1,
        message=row_rule(41, "short.csv", 3, 10) + r".*give every line 10 fields",
        description="score: a row with 3 of 10 fields (line number now given, as validate)",
        setup=sample_with_line("short.csv", "1,2024-01-02 10:00:00+00:00,website_visit", 41),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-short-row-validate-sample",
        area="reading",
        argv=["validate", "{tmp}/short.csv"],
        exit_code=1,
        message=row_rule(41, "short.csv", 3, 10),
        description="validate: the very file score refuses, with the very same message",
        setup=sample_with_line("short.csv", "1,2024-01-02 10:00:00+00:00,website_visit", 41),
    ),
    Case(
        name="in-long-row-validate",
        area="reading",
        argv=["validate", "{tmp}/long.csv"],
        exit_code=1,
        message=row_rule(3, "long.csv", 4, 3),
        description="validate: a row with one field too many",
        setup=small("long.csv", ROWS[0], "1,2024-01-03 10:00,website_visit,extra", ROWS[2]),
    ),
    Case(
        name="in-long-row-score",
        area="reading",
        argv=[*SCORE, "{tmp}/long.csv", *OUT],
        exit_code=1,
        message=row_rule(7, "long.csv", 11, 10),
        description="score: a row with 11 of 10 fields",
        setup=sample_with_line(
            "long.csv", "1,2024-01-02 10:00:00+00:00,email,awareness,email,,,,,spontaneous,oops", 7
        ),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-short-row-customer-list",
        area="reading",
        argv=[*SCORE, "{events}", "--customers", "{tmp}/list.csv", *OUT],
        exit_code=1,
        message=r"Line 3 of the customer list '[^']*list\.csv' has 1 field where the header "
        r"has 2",
        description="score --customers: a customer list with a short row",
        setup=small("list.csv", "1,vip", "2", header="customer_id,segment"),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-unclosed-quote-validate",
        area="reading",
        argv=["validate", "{tmp}/quote.csv"],
        exit_code=1,
        message=r"Line 3 of the CSV file '[^']*quote\.csv' opens a quote .* never closed",
        description="validate: a quote opened and never closed",
        setup=small("quote.csv", ROWS[0], '2,"2024-01-02 12:00,email', ROWS[3]),
    ),
    Case(
        name="in-unclosed-quote-score",
        area="reading",
        argv=[*SCORE, "{tmp}/quote.csv", *OUT],
        exit_code=1,
        message=r"Line 5 of the CSV file '[^']*quote\.csv' opens a quote .* never closed",
        description="score: the same unclosed quote, the same message",
        setup=sample_with_line(
            "quote.csv", '1,"2024-01-02 10:00:00+00:00,email,awareness,email,,,,,spontaneous', 5
        ),
    ),
    Case(
        name="in-quoted-newline-validate",
        area="reading",
        argv=["validate", "{tmp}/note.csv"],
        exit_code=0,
        message=r"4 events from 2 customers",
        description="validate: a quoted value holding a line break is one field",
        setup=small(
            "note.csv",
            *(r + ",x" for r in ROWS[:3]),
            ROWS[3] + ',"two\nlines"',
            header=HEADER + ",note",
        ),
    ),
    Case(
        name="in-quoted-newline-score",
        area="reading",
        argv=[*SCORE, "{tmp}/note.csv", *OUT, "--drop-duplicates"],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: a quoted line break is read as validate reads it",
        setup=from_sample(
            "note.csv",
            lambda f: f.assign(segment=f["segment"].where(f.index != 3, "spon\ntaneous")),
        ),
    ),
    Case(
        name="in-quoted-comma",
        area="reading",
        argv=["validate", "{tmp}/city.csv"],
        exit_code=0,
        message=r"4 events from 2 customers",
        description="a quoted value holding a comma",
        setup=small("city.csv", *(r + ',"Paris, France"' for r in ROWS), header=HEADER + ",city"),
    ),
    Case(
        name="in-blank-lines",
        area="reading",
        argv=["validate", "{tmp}/blank.csv"],
        exit_code=0,
        message=r"4 events from 2 customers",
        description="blank lines between rows are skipped by every reader",
        setup=small("blank.csv", ROWS[0], "", ROWS[1], "", ROWS[2], ROWS[3]),
    ),
    Case(
        name="in-whitespace-line",
        area="reading",
        argv=["validate", "{tmp}/space.csv"],
        exit_code=1,
        message=row_rule(3, "space.csv", 1, 3),
        description="a line of spaces is a short row, not a blank line",
        setup=small("space.csv", ROWS[0], "   ", ROWS[1]),
    ),
    Case(
        name="in-bom-validate",
        area="reading",
        argv=["validate", "{tmp}/bom.csv"],
        exit_code=0,
        message=r"4 events from 2 customers",
        description="a UTF-8 byte-order mark before the header (Excel's CSV UTF-8)",
        setup=text("bom.csv", "\ufeff" + "\n".join([HEADER, *ROWS]) + "\n"),
    ),
    Case(
        name="in-bom-score",
        area="reading",
        argv=[*SCORE, "{tmp}/bom.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: the sample with a byte-order mark",
        setup=lambda tmp: (tmp / "bom.csv").write_bytes(
            b"\xef\xbb\xbf" + (tmp / "events.csv").read_bytes()
        ),
    ),
    Case(
        name="in-crlf",
        area="reading",
        argv=["validate", "{tmp}/crlf.csv"],
        exit_code=0,
        message=r"4 events from 2 customers",
        description="Windows line ends",
        setup=text("crlf.csv", "\r\n".join([HEADER, *ROWS]) + "\r\n"),
    ),
    Case(
        name="in-latin1-validate",
        area="reading",
        argv=["validate", "{tmp}/latin.csv"],
        exit_code=1,
        message=r"'[^']*latin\.csv': it is not UTF-8 text \(byte 0xe9 on line 3\).*read it so "
        r"\(--encoding cp1252\): that line then reads '.*Orléans'; or save it as UTF-8",
        description="a Latin-1 file: names the byte, its line as Windows-1252 reads it, the option",
        setup=text("latin.csv", LATIN),
    ),
    Case(
        name="in-latin1-encoding-validate",
        area="reading",
        argv=["validate", "{tmp}/latin.csv", "--encoding", "latin-1"],
        exit_code=0,
        message=r"Read as CSV text in Latin-1 \(ISO 8859-1\)\nEvent log: 2 events",
        description="the same file read with --encoding latin-1",
        setup=text("latin.csv", LATIN),
    ),
    Case(
        name="in-latin1-score",
        area="reading",
        argv=[*SCORE, "{tmp}/latin.csv", *OUT],
        exit_code=1,
        message=r"'[^']*latin\.csv': it is not UTF-8 text \(byte 0xe9 on line 6\)",
        description="score: the same message for a Latin-1 byte in the sample",
        setup=lambda tmp: (tmp / "latin.csv").write_bytes(latin_line(tmp)),
    ),
    Case(
        name="in-cp1252-encoding-score",
        area="reading",
        argv=[*SCORE, "{tmp}/latin.csv", *OUT, "--encoding", "cp1252"],
        exit_code=0,
        message=r"customers at .*wrote",
        description="score: the sample with a Windows-1252 byte, read with --encoding cp1252",
        setup=lambda tmp: (tmp / "latin.csv").write_bytes(latin_line(tmp)),
    ),
    Case(
        name="in-encoding-unknown",
        area="reading",
        argv=["validate", "{tmp}/events.csv", "--encoding", "utf-9"],
        exit_code=1,
        message=r"Unknown text encoding 'utf-9' \(--encoding utf-9\)\. Fix: name the encoding",
        description="an encoding Python does not know",
    ),
    Case(
        name="in-wrong-encoding",
        area="reading",
        argv=["validate", "{tmp}/bad.csv", "--encoding", "cp1252"],
        exit_code=1,
        message=r"it is not Windows-1252 \(cp1252\) text \(byte 0x81 on line 3\)\. Fix: give "
        r"the encoding it was saved in \(--encoding NAME\)",
        description="a byte Windows-1252 does not define, with --encoding cp1252",
        setup=text(
            "bad.csv", ("\n".join([HEADER, ROWS[0], ROWS[1] + "\x81"]) + "\n").encode("latin-1")
        ),
    ),
    Case(
        name="in-blank-lines-validate",
        area="reading",
        argv=["validate", "{tmp}/blanks.csv"],
        exit_code=0,
        message=r"(?s)4 events from 2 customers.*2 rows with no customer id, timestamp or "
        r"touchpoint left out \(row 2 \(blanks\.csv line 4\), row 5 \(blanks\.csv line 7\)\)",
        description="a spreadsheet's empty lines (',,') among and after the rows: left out, named",
        setup=text("blanks.csv", "\n".join([HEADER, *ROWS[:2], ",,", *ROWS[2:], ",,"]) + "\n"),
    ),
    Case(
        name="in-blank-lines-score",
        area="reading",
        argv=[*SCORE, "{tmp}/blanks.csv", *OUT],
        exit_code=0,
        message=r"3 rows with no customer id, timestamp or touchpoint left out",
        description="score: the sample with three empty lines, the same words",
        setup=lambda tmp: (tmp / "blanks.csv").write_text(
            "\n".join(
                (lines := (tmp / "events.csv").read_text().splitlines())[:5]
                + ["," * (lines[0].count(","))] * 3
                + lines[5:]
            )
            + "\n"
        ),
    ),
    Case(
        name="in-thousands-amount",
        area="reading",
        argv=["validate", "{tmp}/us.csv"],
        exit_code=0,
        message=r"3 events from 2 customers.*amount 33\.3%",
        description='an amount written "1,234.50" (thousands commas, a decimal point): 1234.5',
        setup=text(
            "us.csv",
            "\n".join([HEADER + ",amount", ROWS[0] + ",", ROWS[1] + ',"1,234.50"', ROWS[2] + ","])
            + "\n",
        ),
    ),
    Case(
        name="in-serial-dates",
        area="reading",
        argv=["validate", "{tmp}/serial.csv"],
        exit_code=1,
        message=r"they look like spreadsheet serial dates, days since 1899-12-30 \(45292\.375 is "
        r"2024-01-01 09:00\).*pd\.to_datetime\(df\['timestamp'\], unit='D', origin='1899-12-30'\)",
        description="times saved as spreadsheet serial numbers (45292.375): named, with the fix",
        setup=text(
            "serial.csv",
            HEADER + "\n1,45292.375,paid_ad\n1,45300.5,purchase\n2,45310.25,email\n",
        ),
    ),
    Case(
        name="in-title-above-header-validate",
        area="reading",
        argv=["validate", "{tmp}/title.csv"],
        exit_code=1,
        message=r"Line 3 of the CSV file '[^']*title\.csv' has 3 fields where the header \(line 1: "
        r"'Report: customers'\) has 1.*Fix: if the lines above it are a title or notes, remove",
        description="a title line and a blank line above the header",
        setup=text("title.csv", "Report: customers\n\n" + "\n".join([HEADER, *ROWS]) + "\n"),
    ),
    Case(
        name="in-title-above-header-score",
        area="reading",
        argv=[*SCORE, "{tmp}/title.csv", *OUT],
        exit_code=1,
        message=r"Available columns: \['Report: customers'\]\.\nOnly one column was read: if a "
        r"title or notes come before the header line, remove them",
        description="score: the same file, refused at its columns",
        setup=text("title.csv", "Report: customers\n\n" + "\n".join([HEADER, *ROWS]) + "\n"),
    ),
    Case(
        name="in-no-header",
        area="reading",
        argv=["validate", "{tmp}/nohead.csv"],
        exit_code=1,
        message=r"The column names look like data \('1', '2024-01-01 09:00'\): if the file has no "
        r"header line, add one as its first line",
        description="an export without its header line: the first event read as column names",
        setup=text("nohead.csv", "\n".join(ROWS) + "\n"),
    ),
    Case(
        name="in-joined-headers",
        area="reading",
        argv=["validate", "{tmp}/joined.csv"],
        exit_code=0,
        message=r"(?s)4 events from 2 customers.*1 row repeating the header left out \(row 2 "
        r"\(joined\.csv line 4\)\)",
        description="two exports joined with both headers (cat a.csv b.csv): the second left out",
        setup=text("joined.csv", "\n".join([HEADER, *ROWS[:2], HEADER, *ROWS[2:]]) + "\n"),
    ),
    Case(
        name="in-utf16",
        area="reading",
        argv=["validate", "{tmp}/wide.csv"],
        exit_code=0,
        message=r"Read as CSV text in UTF-16\nEvent log: 4 events from 2 customers",
        description="an Excel 'Unicode text' export (UTF-16 with its byte-order mark): read",
        setup=text("wide.csv", ("\n".join([HEADER, *ROWS]) + "\n").encode("utf-16")),
    ),
    Case(
        name="in-gzip-named-csv-validate",
        area="reading",
        argv=["validate", "{tmp}/packed.csv"],
        exit_code=0,
        message=r"24,992 events from 3,000 customers",
        description="a gzip archive named .csv (was 'not UTF-8'): read by its content",
        setup=gzipped_sample("packed.csv"),
    ),
    Case(
        name="in-gzip-named-csv-score",
        area="reading",
        argv=[*SCORE, "{tmp}/packed.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: the same gzip archive named .csv",
        setup=gzipped_sample("packed.csv"),
    ),
    Case(
        name="in-zip-named-csv-validate",
        area="reading",
        argv=["validate", "{tmp}/packed.csv"],
        exit_code=0,
        message=r"24,992 events from 3,000 customers",
        description="a zip archive holding one CSV, named .csv (was a header of binary)",
        setup=zipped_sample("packed.csv"),
    ),
    Case(
        name="in-zip-named-csv-score",
        area="reading",
        argv=[*SCORE, "{tmp}/packed.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: the same zip archive named .csv",
        setup=zipped_sample("packed.csv"),
    ),
    Case(
        name="in-zip-two-files",
        area="reading",
        argv=["validate", "{tmp}/two.csv"],
        exit_code=1,
        message=r"zip archive holding 2 files \['a.csv', 'b.csv'\].*unpack it",
        description="a zip of two CSV files named .csv",
        setup=zipped("two.csv", {"a.csv": b"x\n", "b.csv": b"y\n"}),
    ),
    Case(
        name="in-xlsx-named-csv",
        area="reading",
        argv=["validate", "{tmp}/book.csv"],
        exit_code=1,
        message=r"it is an Excel workbook, not CSV text.*export the sheet as CSV",
        description="an Excel workbook renamed .csv",
        setup=zipped("book.csv", {"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}),
    ),
    Case(
        name="in-parquet-named-csv",
        area="reading",
        argv=["validate", "{tmp}/data.csv"],
        exit_code=1,
        message=r"'[^']*data\.csv': it is a Parquet file, not CSV text.*name it \.parquet",
        description="a Parquet file named .csv",
        setup=lambda tmp: (tmp / "data.csv").write_bytes((tmp / "events.parquet").read_bytes()),
    ),
    Case(
        name="in-png-named-csv",
        area="reading",
        argv=["validate", "{tmp}/chart.csv"],
        exit_code=1,
        message=r"'[^']*chart\.csv': it is a PNG image, not CSV text",
        description="a PNG image named .csv",
        setup=text("chart.csv", PNG),
    ),
    Case(
        name="in-csv-named-parquet",
        area="reading",
        argv=["validate", "{tmp}/data.parquet"],
        exit_code=1,
        message=r"'[^']*data\.parquet': it is a text file, not a Parquet file.*name it \.csv",
        description="a CSV file named .parquet",
        setup=small("data.parquet", *ROWS),
    ),
    Case(
        name="in-png-named-parquet-score",
        area="reading",
        argv=[*SCORE, "{tmp}/chart.parquet", *OUT],
        exit_code=1,
        message=r"'[^']*chart\.parquet': it is a PNG image, not a Parquet file",
        description="score: a PNG image named .parquet",
        setup=text("chart.parquet", PNG),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-xz-csv-score",
        area="reading",
        argv=[*SCORE, "{tmp}/events.csv.xz", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: an xz-compressed CSV (was an internal error from Arrow)",
        setup=xz_sample("events.csv.xz"),
    ),
    Case(
        name="in-semicolon-validate",
        area="reading",
        argv=["validate", "{tmp}/semi.csv"],
        exit_code=0,
        message=r"Event log: 4 events from 2 customers",
        description="a semicolon-separated CSV (was 'missing required columns', then refused)",
        setup=small(
            "semi.csv", *(r.replace(",", ";") for r in ROWS), header=HEADER.replace(",", ";")
        ),
    ),
    Case(
        name="in-semicolon-score",
        area="reading",
        argv=[*SCORE, "{tmp}/semi.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: the sample separated by semicolons (was refused)",
        setup=lambda tmp: (tmp / "semi.csv").write_text(
            (tmp / "events.csv").read_text().replace(",", ";")
        ),
    ),
    Case(
        name="in-semicolon-decimal-comma-score",
        area="reading",
        argv=[*SCORE, "{tmp}/eu.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: the sample as a European spreadsheet saves it, ';' and "
        "decimal commas (was refused)",
        setup=lambda tmp: pd.read_csv(tmp / "events.csv", dtype={"customer_id": str}).to_csv(
            tmp / "eu.csv", sep=";", decimal=",", index=False
        ),
    ),
    Case(
        name="in-tab-validate",
        area="reading",
        argv=["validate", "{tmp}/tabs.csv"],
        exit_code=0,
        message=r"Event log: 4 events from 2 customers",
        description="a tab-separated file named .csv (was refused)",
        setup=small(
            "tabs.csv", *(r.replace(",", "\t") for r in ROWS), header=HEADER.replace(",", "\t")
        ),
    ),
    Case(
        name="in-tsv-validate",
        area="reading",
        argv=["validate", "{tmp}/tabs.tsv"],
        exit_code=0,
        message=r"Event log: 4 events from 2 customers",
        description="a .tsv file (was 'not supported')",
        setup=small(
            "tabs.tsv", *(r.replace(",", "\t") for r in ROWS), header=HEADER.replace(",", "\t")
        ),
    ),
    Case(
        name="in-pipe-validate",
        area="reading",
        argv=["validate", "{tmp}/pipes.csv"],
        exit_code=0,
        message=r"Event log: 4 events from 2 customers",
        description="a pipe-separated file named .csv (was refused)",
        setup=small(
            "pipes.csv", *(r.replace(",", "|") for r in ROWS), header=HEADER.replace(",", "|")
        ),
    ),
    Case(
        name="in-dup-header-validate",
        area="reading",
        argv=["validate", "{tmp}/dup.csv"],
        exit_code=1,
        message=r"header of the CSV file '[^']*dup\.csv' names a column more than once: "
        r"'touchpoint' \(columns 3, 4\)",
        description="a header naming touchpoint twice (was renamed touchpoint.1 silently)",
        setup=small("dup.csv", *(r + ",x" for r in ROWS), header=HEADER + ",touchpoint"),
    ),
    Case(
        name="in-dup-header-score",
        area="reading",
        argv=[*SCORE, "{tmp}/dup.csv", *OUT],
        exit_code=1,
        message=r"names a column more than once: 'segment'",
        description="score: the sample with segment twice",
        setup=repeated_last_column("dup.csv"),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-dup-header-customer-list",
        area="reading",
        argv=[*SCORE, "{events}", "--customers", "{tmp}/list.csv", *OUT],
        exit_code=1,
        message=r"header of the customer list '[^']*list\.csv' names a column more than once",
        description="score --customers: a list whose header repeats customer_id",
        setup=small("list.csv", "1,1", header="customer_id,customer_id"),
    ),
    Case(
        name="in-empty-file-validate",
        area="reading",
        argv=["validate", "{tmp}/empty.csv"],
        exit_code=1,
        message=r"'[^']*empty\.csv' is empty: no header and no rows",
        description="an empty CSV file",
        setup=text("empty.csv", ""),
    ),
    Case(
        name="in-empty-file-score",
        area="reading",
        argv=[*SCORE, "{tmp}/empty.csv", *OUT],
        exit_code=1,
        message=r"'[^']*empty\.csv' is empty: no header and no rows",
        description="score: an empty CSV file",
        setup=text("empty.csv", "\n\n"),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-header-only",
        area="reading",
        argv=["validate", "{tmp}/head.csv"],
        exit_code=1,
        message=r"has no rows",
        description="a header and no rows",
        setup=small("head.csv"),
    ),
    Case(
        name="in-folder-short-row",
        area="reading",
        argv=["validate", "{tmp}/logs"],
        exit_code=1,
        message=row_rule(3, "b.csv", 2, 3),
        description="a folder of CSV files, the second with a short row",
        setup=both(small("logs/a.csv", *ROWS[:2]), small("logs/b.csv", ROWS[2], "2,2024-01-06")),
    ),
    Case(
        name="in-folder-dup-header-score",
        area="reading",
        argv=[*SCORE, "{tmp}/logs", *OUT],
        exit_code=1,
        message=r"'[^']*b\.csv' names a column more than once",
        description="score: a folder whose second file repeats a column",
        setup=both(copy_sample("logs/a.csv"), repeated_last_column("logs/b.csv", 5)),
    ),
    Case(
        name="in-events-folder-given-as-rules",
        area="reading",
        argv=[*SCORE, "{events}", "--rules", "{tmp}/rules", *OUT],
        exit_code=1,
        message=r"Cannot read the rules file '[^']*': it is a folder, not a file",
        description="a folder given as --rules (was '[Errno 21] Is a directory')",
        setup=lambda tmp: (tmp / "rules").mkdir(),
    ),
    Case(
        name="in-missing-customer-list",
        area="reading",
        argv=[*SCORE, "{events}", "--customers", "{tmp}/nope.csv", *OUT],
        exit_code=1,
        message=r"Cannot read the customer list '[^']*nope\.csv': no such file",
        description="score --customers: a list that does not exist",
    ),
]


if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads any file

    def _unreadable(name: str):
        def setup(tmp: Path) -> None:
            (tmp / name).write_text("\n".join([HEADER, *ROWS]) + "\n")
            (tmp / name).chmod(0)

        return setup

    READING += [
        Case(
            name="in-permission-denied-validate",
            area="reading",
            argv=["validate", "{tmp}/locked.csv"],
            exit_code=1,
            message=r"Cannot read the CSV file '[^']*locked\.csv': permission denied",
            description="an unreadable file (was a suggestion to check the separator)",
            setup=_unreadable("locked.csv"),
            check=lacks("separator"),
        ),
        Case(
            name="in-permission-denied-score",
            area="reading",
            argv=[*SCORE, "{tmp}/locked.csv", *OUT],
            exit_code=1,
            message=r"Cannot read the CSV file '[^']*locked\.csv': permission denied",
            description="score: an unreadable file",
            setup=_unreadable("locked.csv"),
            check=lacks("separator"),
        ),
    ]


# --------------------------------------------------------------------------- nested columns
NESTED = [
    Case(
        name="in-struct-extra-validate",
        area="reading",
        argv=["validate", "{tmp}/nested.parquet"],
        exit_code=0,
        message=r"Column 'meta' \(struct\) holds nested values.*left out",
        description="validate: a Parquet struct column is left out, with a warning naming it",
        setup=nested_sample("nested.parquet", "meta", "struct"),
    ),
    Case(
        name="in-struct-extra-features",
        area="reading",
        argv=["features", "{tmp}/nested.parquet", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"Column 'meta' \(struct\) holds nested values",
        description="features: the struct column left out, no internal error (unhashable dict)",
        setup=nested_sample("nested.parquet", "meta", "struct"),
    ),
    Case(
        name="in-struct-attribute-score",
        area="reading",
        argv=[*SCORE, "{tmp}/nested.parquet", *OUT],
        exit_code=1,
        message=r"Column 'segment' holds nested values \(struct\), but it is a customer "
        r"attribute of the model.*flatten it",
        description="score: segment, a model attribute, as a struct (was an internal error "
        "in features/_attributes.py)",
        setup=nested_sample("nested.parquet", "segment", "struct"),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-struct-attribute-validate",
        area="reading",
        argv=["validate", "{tmp}/nested.parquet"],
        exit_code=0,
        message=r"Column 'segment' \(struct\) holds nested values",
        description="validate: the same file, the column named",
        setup=nested_sample("nested.parquet", "segment", "struct"),
    ),
    Case(
        name="in-list-attribute-score",
        area="reading",
        argv=[*SCORE, "{tmp}/nested.parquet", *OUT],
        exit_code=1,
        message=r"Column 'segment' holds nested values \(list\)",
        description="score: a model attribute as a list column",
        setup=nested_sample("nested.parquet", "segment", "list"),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-struct-unused-score",
        area="reading",
        argv=[*SCORE, "{tmp}/nested.parquet", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: a struct column the model does not use is not read",
        setup=nested_sample("nested.parquet", "meta", "struct"),
    ),
    Case(
        name="in-struct-unused-score-duplicates",
        area="reading",
        argv=[*SCORE, "{tmp}/nested.parquet", *OUT, "--drop-duplicates"],
        exit_code=0,
        message=r"Column 'meta' \(struct\) holds nested values.*left out",
        description="score --drop-duplicates: the unused struct column left out with a warning",
        setup=nested_sample("nested.parquet", "meta", "struct"),
    ),
]


# --------------------------------------------------------------------------- ids
IDS = [
    Case(
        name="in-ids-leading-zeros-recommend",
        area="ids",
        argv=[
            "recommend",
            "{bundle}",
            "{tmp}/padded.csv",
            "--customers",
            "{tmp}/list.csv",
            "--out",
            "{tmp}/actions.parquet",
        ],
        exit_code=0,
        message=r"Wrote recommendations for 3 customers",
        description="recommend --customers: ids with leading zeros (was 0 of 6 found)",
        setup=both(
            from_sample("padded.csv", padded_ids),
            small("list.csv", "00001", "00002", "00017", header="customer_id"),
        ),
        check=actions_found("actions.parquet", ["00001", "00002", "00017"]),
    ),
    Case(
        name="in-ids-leading-zeros-score",
        area="ids",
        argv=[
            *SCORE,
            "{tmp}/padded.csv",
            "--customers",
            "{tmp}/list.csv",
            "--include-inactive",
            *OUT,
        ],
        exit_code=0,
        message=r"of 3 listed, 0 not in the events",
        description="score --customers: ids with leading zeros",
        setup=both(
            from_sample("padded.csv", padded_ids),
            small("list.csv", "00001", "00002", "00017", header="customer_id"),
        ),
        check=listed_found("scores.parquet", ["00001", "00002", "00017"]),
    ),
    Case(
        name="in-ids-leading-zeros-features",
        area="ids",
        argv=["features", "{tmp}/padded.csv", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"Wrote features of 3,000 customers",
        description="features: ids with leading zeros stay text",
        setup=from_sample("padded.csv", padded_ids),
        check=ids_kept("f.parquet", ["00001", "00017"]),
    ),
    Case(
        name="in-ids-int-list-text-log-recommend",
        area="ids",
        argv=[
            "recommend",
            "{bundle}",
            "{events_csv}",
            "--customers",
            "{tmp}/list.csv",
            "--out",
            "{tmp}/actions.parquet",
        ],
        exit_code=1,
        message=r"customer list '[^']*list\.csv' has ids that are not whole numbers "
        r"\(\['abc'\].*every customer id of the events is one",
        description="recommend --customers: a text id where every id of the log is a number",
        setup=small("list.csv", "1", "abc", header="customer_id"),
    ),
    Case(
        name="in-ids-na-validate",
        area="ids",
        argv=["validate", "{tmp}/na.csv"],
        exit_code=0,
        message=r"5 events from 3 customers",
        description="ids 'NA', 'null', 'None' are ids, not missing (README: ids are text)",
        setup=small(
            "na.csv",
            "NA,2024-01-01,paid_ad",
            "null,2024-01-02,email",
            "None,2024-01-03,purchase",
            "NA,2024-01-04,email",
            "null,2024-01-05,email",
        ),
    ),
    Case(
        name="in-ids-na-features",
        area="ids",
        argv=["features", "{tmp}/na.csv", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"Wrote features of 3 customers",
        description="features: the 'NA', 'null' and 'None' customers get their rows",
        setup=small(
            "na.csv",
            "NA,2024-01-01,paid_ad",
            "null,2024-01-02,email",
            "None,2024-01-03,purchase",
            "NA,2024-01-04,email",
        ),
        check=ids_kept("f.parquet", ["NA", "null", "None"]),
    ),
    Case(
        name="in-ids-na-score",
        area="ids",
        argv=[*SCORE, "{tmp}/na.csv", "--include-inactive", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: customers named 'NA', 'null', 'None' are scored",
        setup=from_sample("na.csv", na_ids),
        check=ids_kept("scores.parquet", ["NA", "null", "None"]),
    ),
    Case(
        name="in-ids-na-list-score",
        area="ids",
        argv=[*SCORE, "{tmp}/na.csv", "--customers", "{tmp}/list.csv", "--include-inactive", *OUT],
        exit_code=0,
        message=r"of 3 listed, 0 not in the events",
        description="score --customers: a list naming 'NA' and 'null'",
        setup=both(
            from_sample("na.csv", na_ids),
            small("list.csv", "NA", "null", "4", header="customer_id"),
        ),
        check=listed_found("scores.parquet", ["NA", "null", "4"]),
    ),
    Case(
        name="in-ids-na-list-recommend",
        area="ids",
        argv=[
            "recommend",
            "{bundle}",
            "{tmp}/na.csv",
            "--customers",
            "{tmp}/list.csv",
            "--out",
            "{tmp}/actions.parquet",
        ],
        exit_code=0,
        message=r"Wrote recommendations for 3 customers",
        description="recommend --customers: 'NA' and 'None' in the list (were dropped)",
        setup=both(
            from_sample("na.csv", na_ids),
            small("list.csv", "NA", "None", "4", header="customer_id"),
        ),
        check=actions_found("actions.parquet", ["NA", "None", "4"]),
    ),
    Case(
        name="in-ids-missing-ids-validate",
        area="ids",
        argv=["validate", "{tmp}/na.csv", "--missing-ids", "NA,null"],
        exit_code=1,
        message=r"2 rows with a customer id that means missing \(missing_ids=\['NA', 'null'\]\)"
        r".*na\.csv line 2",
        description="--missing-ids NA,null: the user says they mean missing",
        setup=small(
            "na.csv", "NA,2024-01-01,paid_ad", "null,2024-01-02,email", "None,2024-01-03,purchase"
        ),
    ),
    Case(
        name="in-ids-missing-ids-score",
        area="ids",
        argv=[*SCORE, "{tmp}/na.csv", *OUT, "--missing-ids", "NA,null"],
        exit_code=1,
        message=r"customer id that means missing \(missing_ids=\['NA', 'null'\]\)",
        description="score --missing-ids: refused as validate refuses",
        setup=from_sample("na.csv", na_ids),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-ids-missing-ids-quarantine",
        area="ids",
        argv=[*SCORE, "{tmp}/na.csv", *OUT, "--missing-ids", "NA", "--on-error", "quarantine"],
        exit_code=0,
        message=r"2,999 customers at",
        description="score --missing-ids NA --on-error quarantine: those rows set aside",
        setup=from_sample("na.csv", na_ids),
        check=lambda tmp, out: _rejected_ids(tmp, "NA"),
    ),
    Case(
        name="in-ids-missing-ids-list",
        area="ids",
        argv=[*SCORE, "{events}", "--customers", "{tmp}/list.csv", *OUT, "--missing-ids", "n/a"],
        exit_code=1,
        message=r"customer list '[^']*list\.csv' has 1 missing or empty id",
        description="score --customers --missing-ids n/a: a list saying n/a",
        setup=small("list.csv", "1", "n/a", header="customer_id"),
    ),
    Case(
        name="in-ids-empty-validate",
        area="ids",
        argv=["validate", "{tmp}/empty_id.csv"],
        exit_code=1,
        message=r"a missing or empty customer id.*empty_id\.csv line 3",
        description="an empty id is still missing",
        setup=small("empty_id.csv", ROWS[0], ",2024-01-02,email"),
    ),
    Case(
        name="in-ids-empty-score",
        area="ids",
        argv=[*SCORE, "{tmp}/empty_id.csv", *OUT],
        exit_code=1,
        message=r"a missing or empty customer id.*empty_id\.csv line 11",
        description="score: an empty id, the same message",
        setup=from_sample(
            "empty_id.csv", lambda f: f.assign(customer_id=f["customer_id"].where(f.index != 9, ""))
        ),
    ),
    Case(
        name="in-ids-na-touchpoint-still-missing",
        area="ids",
        argv=["validate", "{tmp}/tp.csv"],
        exit_code=1,
        message=r"a missing or empty touchpoint.*tp\.csv line 3",
        description="'NA' stays missing outside the id column (pandas' default markers)",
        setup=small("tp.csv", ROWS[0], "1,2024-01-02,NA"),
    ),
    Case(
        name="in-ids-na-text-extra-column-score",
        area="ids",
        argv=[*SCORE, "{tmp}/seg.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at",
        description="score: 'NA' in an attribute column is missing, as validate reads it",
        setup=from_sample(
            "seg.csv", lambda f: f.assign(segment=f["segment"].where(f.index % 7 != 0, "NA"))
        ),
    ),
]


def _rejected_ids(tmp: Path, value: str) -> None:
    rejects = pd.read_parquet(tmp / "scores.rejects.parquet")
    assert len(rejects) and set(rejects["customer_id"]) == {value}, rejects.head()
    assert rejects["reason"].str.contains("means missing").all()


# --------------------------------------------------------------------------- timestamps
def _dmy(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime("%d/%m/%Y %H:%M")


def _one_iso(ts: pd.Series) -> pd.Series:
    out = _dmy(ts)
    out.iloc[20] = ts.iloc[20].strftime("%Y-%m-%d %H:%M")
    return out


def _late(frame: pd.DataFrame) -> pd.DataFrame:
    extra = frame.iloc[[0]].assign(timestamp="2199-01-01 00:00:00+00:00")
    return pd.concat([frame, extra], ignore_index=True)


def _stand_ins(frame: pd.DataFrame) -> pd.DataFrame:
    """Thirty events dated 1970-01-01, as a database writes a missing date."""
    out = frame.copy()
    out.loc[out.index[::800][:30], "timestamp"] = "1970-01-01 00:00:00+00:00"
    return out


def _future(frame: pd.DataFrame) -> pd.DataFrame:
    """Forty events in 2031: too many for the far-past-the-rest rule (0.1% of events)."""
    extra = frame.iloc[:40].assign(timestamp="2031-06-01 00:00:00+00:00")
    return pd.concat([frame, extra], ignore_index=True)


TIMESTAMPS = [
    Case(
        name="in-ts-yyyymmdd-validate",
        area="timestamps",
        argv=["validate", "{tmp}/ymd.csv"],
        exit_code=0,
        message=r"Period: 2024-01-02 00:00:00 to 2024-01-31 00:00:00 \(UTC\)",
        description="integer dates 20240131 are read as dates (were 'pass --timestamp-unit s')",
        setup=small("ymd.csv", "1,20240131,paid_ad", "1,20240105,email", "2,20240102,email"),
    ),
    Case(
        name="in-ts-yyyymmdd-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/ymd.csv", *OUT],
        exit_code=0,
        message=r"3,000 customers at 2024-08-27 00:00 UTC",
        description="score: the sample with YYYYMMDD dates",
        setup=from_sample("ymd.csv", times(lambda ts: ts.dt.strftime("%Y%m%d"))),
    ),
    Case(
        name="in-ts-yyyymmdd-parquet",
        area="timestamps",
        argv=["validate", "{tmp}/ymd.parquet"],
        exit_code=0,
        message=r"Period: 2024-01-02 00:00:00 to 2024-01-31",
        description="a Parquet int64 column of YYYYMMDD dates",
        setup=parquet_of(
            "ymd.parquet",
            pd.DataFrame(
                {
                    "customer_id": [1, 1, 2],
                    "timestamp": [20240131, 20240105, 20240102],
                    "touchpoint": ["paid_ad", "email", "email"],
                }
            ),
        ),
    ),
    Case(
        name="in-ts-yyyymmddhhmmss-validate",
        area="timestamps",
        argv=["validate", "{tmp}/ymdhms.csv"],
        exit_code=0,
        message=r"Period: 2024-01-02 08:00:00 to 2024-01-31 09:30:00 \(UTC\)",
        description="integer date-times 20240131093000",
        setup=small(
            "ymdhms.csv",
            "1,20240131093000,paid_ad",
            "1,20240105120000,email",
            "2,20240102080000,email",
        ),
    ),
    Case(
        name="in-ts-yyyymmdd-with-unit-validate",
        area="timestamps",
        argv=["validate", "{tmp}/ymd.csv", "--timestamp-unit", "s"],
        exit_code=1,
        message=r"numbers written like dates \(YYYYMMDD: 20240131 is 2024-01-31\).*leave out "
        r"--timestamp-unit s.*1970-08-23",
        description="--timestamp-unit s on YYYYMMDD dates (was accepted: all in 1970-08)",
        setup=small("ymd.csv", "1,20240131,paid_ad", "1,20240105,email", "2,20240102,email"),
    ),
    Case(
        name="in-ts-yyyymmdd-with-unit-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/ymd.csv", *OUT, "--timestamp-unit", "s"],
        exit_code=1,
        message=r"numbers written like dates \(YYYYMMDD.*leave out --timestamp-unit s",
        description="score: the same refusal",
        setup=from_sample("ymd.csv", times(lambda ts: ts.dt.strftime("%Y%m%d"))),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-ts-yyyymmddhhmmss-with-unit-us",
        area="timestamps",
        argv=["validate", "{tmp}/ymdhms.csv", "--timestamp-unit", "us"],
        exit_code=1,
        message=r"YYYYMMDDhhmmss.*leave out --timestamp-unit us",
        description="--timestamp-unit us on YYYYMMDDhhmmss date-times",
        setup=small("ymdhms.csv", "1,20240131093000,paid_ad", "2,20240102080000,email"),
    ),
    Case(
        name="in-ts-epoch-seconds-no-unit",
        area="timestamps",
        argv=["validate", "{tmp}/epoch.csv"],
        exit_code=1,
        message=r"look like Unix epoch times in seconds.*--timestamp-unit s",
        description="epoch seconds without a unit: the unit their size implies",
        setup=small("epoch.csv", "1,1706700000,paid_ad", "2,1706800000,email"),
    ),
    Case(
        name="in-ts-epoch-ms-no-unit",
        area="timestamps",
        argv=["validate", "{tmp}/epoch.csv"],
        exit_code=1,
        message=r"look like Unix epoch times in milliseconds.*--timestamp-unit ms",
        description="epoch milliseconds without a unit: suggests ms, not s",
        setup=small("epoch.csv", "1,1706700000000,paid_ad", "2,1706800000000,email"),
    ),
    Case(
        name="in-ts-epoch-ms-no-unit-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/epoch.csv", *OUT],
        exit_code=1,
        message=r"look like Unix epoch times in milliseconds.*--timestamp-unit ms",
        description="score: epoch milliseconds as text, the same suggestion",
        setup=from_sample("epoch.csv", times(lambda ts: epoch(ts, "ms"))),
    ),
    Case(
        name="in-ts-seconds-as-ns-validate",
        area="timestamps",
        argv=["validate", "{tmp}/epoch.csv", "--timestamp-unit", "ns"],
        exit_code=1,
        message=r"falls within a year of 1970-01-01.*wrong unit.*epoch seconds: pass "
        r"--timestamp-unit s instead of 'ns'",
        description="epoch seconds read as nanoseconds: every time within a year of 1970",
        setup=small("epoch.csv", "1,1706700000,paid_ad", "2,1706800000,email"),
    ),
    Case(
        name="in-ts-seconds-as-ns-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/epoch.csv", *OUT, "--timestamp-unit", "ns"],
        exit_code=1,
        message=r"falls within a year of 1970-01-01.*--timestamp-unit s instead of 'ns'",
        description="score: the sample in epoch seconds read as ns",
        setup=from_sample("epoch.csv", times(lambda ts: epoch(ts, "s"))),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-ts-ms-as-ns",
        area="timestamps",
        argv=["validate", "{tmp}/epoch.csv", "--timestamp-unit", "ns"],
        exit_code=1,
        message=r"within a year of 1970-01-01.*epoch milliseconds: pass --timestamp-unit ms",
        description="epoch milliseconds read as nanoseconds",
        setup=small("epoch.csv", "1,1706700000000,paid_ad", "2,1706800000000,email"),
    ),
    Case(
        name="in-ts-seconds-right-unit-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/epoch.csv", *OUT, "--timestamp-unit", "s"],
        exit_code=0,
        message=r"3,000 customers at 2024-08-27 23:16:30 UTC",
        description="score: the same file with the right unit is scored",
        setup=from_sample("epoch.csv", times(lambda ts: epoch(ts, "s"))),
    ),
    Case(
        name="in-ts-seconds-as-ms",
        area="timestamps",
        argv=["validate", "{tmp}/epoch.csv", "--timestamp-unit", "ms"],
        exit_code=1,
        message=r"within a year of 1970-01-01, the Unix epoch \(1970-01-20.*epoch seconds: pass "
        r"--timestamp-unit s",
        description="epoch seconds read as milliseconds: every time on 1970-01-20",
        setup=small("epoch.csv", "1,1706700000,paid_ad", "2,1706800000,email"),
    ),
    Case(
        name="in-ts-ms-as-us-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/epoch.csv", *OUT, "--timestamp-unit", "us"],
        exit_code=1,
        message=r"within a year of 1970-01-01.*epoch milliseconds: pass --timestamp-unit ms",
        description="score: the sample in epoch milliseconds read as microseconds (1970-01-20)",
        setup=from_sample("epoch.csv", times(lambda ts: epoch(ts, "ms"))),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-ts-seconds-as-us",
        area="timestamps",
        argv=["validate", "{tmp}/epoch.csv", "--timestamp-unit", "us"],
        exit_code=1,
        message=r"within a year of 1970-01-01.*epoch seconds: pass --timestamp-unit s",
        description="epoch seconds read as microseconds",
        setup=small("epoch.csv", "1,1706700000,paid_ad", "2,1706800000,email"),
    ),
    Case(
        name="in-ts-all-1970-text",
        area="timestamps",
        argv=["validate", "{tmp}/zero.csv"],
        exit_code=1,
        message=r"falls within a year of 1970-01-01.*probably zeros",
        description="text dates all on 1970-01-01 (zeros exported as dates)",
        setup=small("zero.csv", "1,1970-01-01 00:00:00,paid_ad", "2,1970-01-01 00:00:01,email"),
    ),
    Case(
        name="in-ts-mixed-iso-first",
        area="timestamps",
        argv=["validate", "{tmp}/mixed.csv"],
        exit_code=1,
        message=r"mixes date formats: ISO 8601 on 1 row.*'%d/%m/%Y' on 2 rows.*one format",
        description="ISO then d/m/Y dates (was accepted in this order)",
        setup=small(
            "mixed.csv", "1,2024-01-31,paid_ad", "1,31/01/2024,email", "2,13/02/2024,email"
        ),
        check=lacks("dayfirst"),
    ),
    Case(
        name="in-ts-mixed-dmy-first",
        area="timestamps",
        argv=["validate", "{tmp}/mixed.csv"],
        exit_code=1,
        message=r"mixes date formats: ISO 8601 on 1 row.*'%d/%m/%Y' on 2 rows",
        description="the same dates in another row order: the same refusal",
        setup=small(
            "mixed.csv", "1,31/01/2024,email", "2,13/02/2024,email", "1,2024-01-31,paid_ad"
        ),
        check=lacks("dayfirst"),
    ),
    Case(
        name="in-ts-mixed-dmy-mdy",
        area="timestamps",
        argv=["validate", "{tmp}/mixed.csv"],
        exit_code=1,
        message=r"mixes date formats: '%d/%m/%Y'.*'%m/%d/%Y'",
        description="31/01/2024 beside 01/15/2024: day-first and month-first in one column",
        setup=small("mixed.csv", "1,31/01/2024,email", "2,01/15/2024,email"),
        check=lacks("dayfirst", "UserWarning"),
    ),
    Case(
        name="in-ts-mixed-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/mixed.csv", *OUT],
        exit_code=1,
        message=r"mixes date formats: ISO 8601 on 1 row.*'%d/%m/%Y %H:%M' on 24,991 rows",
        description="score: the sample in d/m/Y with one ISO date",
        setup=from_sample("mixed.csv", times(_one_iso)),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-ts-mixed-across-files-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/logs", *OUT],
        exit_code=1,
        message=r"mixes date formats: ISO 8601 on 24,992 rows.*'%d/%m/%Y %H:%M' on 24,992 rows",
        description="score: a folder of two files, each in its own date format",
        setup=both(from_sample("logs/a.csv"), from_sample("logs/b.csv", times(_dmy))),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-ts-dmy-ambiguous-first",
        area="timestamps",
        argv=["validate", "{tmp}/dmy.csv"],
        exit_code=0,
        message=r"Period: 2024-01-02 00:00:00 to 2024-01-31",
        description="d/m/Y throughout, first date ambiguous (02/01): read day first, whatever "
        "the order",
        setup=small("dmy.csv", "1,02/01/2024,email", "1,31/01/2024,email", "2,13/01/2024,email"),
        check=lacks("dayfirst"),
    ),
    Case(
        name="in-ts-late-2199-validate",
        area="timestamps",
        argv=["validate", "{tmp}/late.csv"],
        exit_code=0,
        message=r"1 event of column 'timestamp' is far past the rest.*2199-01-01.*moves the "
        r"default cutoff.*--cutoff 2024-08-28",
        description="one event dated 2199 (moved the default cutoff silently)",
        setup=from_sample("late.csv", _late),
    ),
    Case(
        name="in-ts-late-2199-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/late.csv", *OUT],
        exit_code=0,
        message=r"far past the rest.*latest on 2199-01-01.*pass --cutoff",
        description="score: the same warning before the cutoff moves",
        setup=from_sample("late.csv", _late),
    ),
    Case(
        name="in-ts-late-2199-score-cutoff",
        area="timestamps",
        argv=[*SCORE, "{tmp}/late.csv", *OUT, "--cutoff", "2024-08-28"],
        exit_code=0,
        message=r"3,000 customers at 2024-08-28",
        description="score --cutoff: the stray event is ignored, no warning",
        setup=from_sample("late.csv", _late),
        check=lacks("far past"),
    ),
    Case(
        name="in-ts-late-features",
        area="timestamps",
        argv=["features", "{tmp}/late.parquet", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"far past the rest.*2199-01-01",
        description="features (Parquet): the same warning",
        setup=from_sample("late.parquet", _late, fmt="parquet"),
    ),
    Case(
        name="in-ts-stand-in-1970-validate",
        area="timestamps",
        argv=["validate", "{tmp}/zero.csv"],
        exit_code=0,
        message=r"30 events of column 'timestamp' are dated 1970-01-01 \(the Unix epoch's day "
        r"zero, 30\), at least 54 years before.*what exports write for a missing date",
        description="30 events dated 1970-01-01, a missing date written as the epoch (were "
        "read as customers 54 years old)",
        setup=from_sample("zero.csv", _stand_ins),
    ),
    Case(
        name="in-ts-future-score",
        area="timestamps",
        argv=[*SCORE, "{tmp}/future.csv", *OUT],
        exit_code=0,
        message=r"40 events of column 'timestamp' are dated after today.*latest on "
        r"2031-06-01.*--cutoff 2024-08-28",
        description="score: 40 events in 2031, too many to be far past the rest (moved the "
        "cutoff into the future silently)",
        setup=from_sample("future.csv", _future),
    ),
    Case(
        name="in-ts-late-small-log",
        area="timestamps",
        argv=["validate", "{tmp}/late.csv"],
        exit_code=0,
        message=r"1 event of column 'timestamp' is far past the rest.*2099-01-31",
        description="a small log with one date typed 2099 for 2024",
        setup=small("late.csv", *ROWS, "2,2099-01-31 10:00,email"),
    ),
]


# --------------------------------------------------------------------------- messages
RULES = ["--rules", "{tmp}/rules.toml"]


def rules(content: str | bytes):
    return text("rules.toml", content)


MESSAGES = [
    Case(
        name="in-rules-min-risk-text",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"In the rules file '[^']*rules\.toml': min_risk must be a number, got 'high' "
        r"\(text\).*min_risk = 0\.2",
        description="min_risk = \"high\" (was 'could not convert string to float')",
        setup=rules('min_risk = "high"\n'),
        check=lacks("could not convert"),
    ),
    Case(
        name="in-rules-min-risk-text-recommend",
        area="messages",
        argv=["recommend", "{bundle}", "{events}", "--out", "{tmp}/a.csv", *RULES],
        exit_code=1,
        message=r"min_risk must be a number, got 'high'",
        description="recommend: the same rules file, the same message",
        setup=rules('min_risk = "high"\n'),
        check=absent("a.csv"),
    ),
    Case(
        name="in-rules-budget-text",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"budget must be a number, got 'lots'",
        description='budget = "lots"',
        setup=rules('budget = "lots"\n'),
    ),
    Case(
        name="in-rules-min-risk-bool",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"min_risk must be a number, got True \(bool\)",
        description="min_risk = true",
        setup=rules("min_risk = true\n"),
    ),
    Case(
        name="in-rules-min-reduction-list",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"min_reduction must be a number, got \[1\]",
        description="min_reduction = [1] (was an internal error)",
        setup=rules("min_reduction = [1]\n"),
    ),
    Case(
        name="in-rules-cap-max-text",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"the cap on 'email' must allow a whole number of contacts.*got max = 'two'",
        description="a cap with max = \"two\" (was 'invalid literal for int()')",
        setup=rules('[caps]\nemail = { max = "two", days = 7 }\n'),
        check=lacks("invalid literal"),
    ),
    Case(
        name="in-rules-cap-days-text",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"the cap on 'email': days must be a number, got 'week'",
        description='a cap with days = "week"',
        setup=rules('[caps]\nemail = { max = 2, days = "week" }\n'),
    ),
    Case(
        name="in-rules-caps-not-table",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"caps must be a table of touchpoint = \{ max, days \}, got 3",
        description="caps = 3 (was an internal error)",
        setup=rules("caps = 3\n"),
    ),
    Case(
        name="in-rules-exclude-number",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"exclude must be a list of touchpoint names, got 3",
        description="exclude = 3 (was an internal error)",
        setup=rules("exclude = 3\n"),
    ),
    Case(
        name="in-rules-costs-not-table",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"costs must be a table of touchpoint = unit cost, got 3",
        description="costs = 3 (was an internal error)",
        setup=rules("costs = 3\n"),
    ),
    Case(
        name="in-rules-cost-text",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"the cost of 'email' must be a number, got 'cheap'",
        description="a cost given as text",
        setup=rules('[costs]\nemail = "cheap"\n'),
    ),
    Case(
        name="in-rules-png",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, "--rules", "{tmp}/chart.png"],
        exit_code=1,
        message=r"Cannot read the rules file '[^']*chart\.png': it is a PNG image, not a TOML "
        r"text file",
        description="a PNG given as --rules (was \"'utf-8' codec can't decode byte 0x89\")",
        setup=text("chart.png", PNG),
        check=lacks("codec"),
    ),
    Case(
        name="in-rules-png-recommend",
        area="messages",
        argv=[
            "recommend",
            "{bundle}",
            "{events}",
            "--out",
            "{tmp}/a.csv",
            "--rules",
            "{tmp}/rules.toml",
        ],
        exit_code=1,
        message=r"'[^']*rules\.toml': it is a PNG image, not a TOML text file",
        description="recommend: a PNG named rules.toml",
        setup=rules(PNG),
    ),
    Case(
        name="in-rules-latin1",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"'[^']*rules\.toml': it is not UTF-8 text \(byte 0xe9 on line 2\)",
        description="a rules file saved as Latin-1",
        setup=rules("min_risk = 0.2\n# \xe9t\xe9\n".encode("latin-1")),
    ),
    Case(
        name="in-rules-bad-toml",
        area="messages",
        argv=[*SCORE, "{events}", *OUT, *RULES],
        exit_code=1,
        message=r"rules file '[^']*rules\.toml' is not valid TOML: .*line 1",
        description="a rules file that is not TOML",
        setup=rules("min_risk = \n"),
    ),
    Case(
        name="in-map-png",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"Cannot read the journey map file '[^']*map\.toml': it is a PNG image, not a "
        r"TOML text file",
        description="a PNG given as --map (was \"'utf-8' codec can't decode byte 0x89\")",
        setup=text("map.toml", PNG),
        check=lacks("codec"),
    ),
    Case(
        name="in-map-png-json",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.json"],
        exit_code=1,
        message=r"'[^']*map\.json': it is a PNG image, not a JSON text file",
        description="a PNG named map.json",
        setup=text("map.json", PNG),
    ),
    Case(
        name="in-map-latin1",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"'[^']*map\.toml': it is not UTF-8 text \(byte 0xe9 on line 1\)",
        description="a journey map saved as Latin-1",
        setup=text("map.toml", 'name = "caf\xe9"\n'.encode("latin-1")),
    ),
    Case(
        name="in-map-cost-text",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"In the journey map file '[^']*map\.toml': touchpoint 'email' has cost "
        r"'cheap', which is not a number.*cost = 0\.5",
        description="a journey map cost given as text",
        setup=text(
            "map.toml",
            'stages = ["a"]\n[touchpoints.email]\nchannel = "online"\n'
            'stages = ["a"]\ncost = "cheap"\n',
        ),
    ),
    Case(
        name="in-map-outbound-text",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"touchpoint 'email' has outbound = 'yes'; use true or false",
        description="a journey map's outbound flag given as text",
        setup=text(
            "map.toml",
            'stages = ["a"]\n[touchpoints.email]\nchannel = "online"\n'
            'stages = ["a"]\noutbound = "yes"\n',
        ),
    ),
    Case(
        name="in-map-churn-and-outbound",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"'cancelled' is marked both churn and outbound.*keep the one it is",
        description="a touchpoint marked both churn (the customer leaving) and outbound (a send)",
        setup=text(
            "map.toml",
            'stages = ["a"]\n[touchpoints.cancelled]\nchannel = "online"\n'
            'stages = ["a"]\nchurn = true\noutbound = true\n',
        ),
    ),
    Case(
        name="in-map-stages-number",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"touchpoint 'email' has stages = 3; give a list of stage names",
        description="a touchpoint with stages = 3 (was an internal error)",
        setup=text(
            "map.toml", 'stages = ["a"]\n[touchpoints.email]\nchannel = "online"\nstages = 3\n'
        ),
    ),
    Case(
        name="in-map-channel-number",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.toml"],
        exit_code=1,
        message=r"touchpoint 'email' has channel = 1; use 'online' or 'offline'",
        description="a touchpoint with channel = 1",
        setup=text(
            "map.toml", 'stages = ["a"]\n[touchpoints.email]\nchannel = 1\nstages = ["a"]\n'
        ),
    ),
    Case(
        name="in-map-bad-json",
        area="messages",
        argv=["validate", "{tmp}/events.csv", "--map", "{tmp}/map.json"],
        exit_code=1,
        message=r"Journey map file '[^']*map\.json' is not valid JSON",
        description="a journey map that is not JSON",
        setup=text("map.json", "{stages: }"),
    ),
    Case(
        name="in-touchpoints-fullwidth",
        area="messages",
        argv=["features", "{tmp}/eq.csv", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"touchpoints '=x' and '＝x' all become 'x' \(told apart as 'x', 'x_2'\).*"
        r"rename them",
        description="touchpoints '=x' and full-width '＝x' (one feature name, unnamed values)",
        setup=small(
            "eq.csv",
            "1,2024-01-01,=x,awareness",
            "2,2024-01-02,＝x,awareness",
            "1,2024-01-03,email,consideration",
            header=HEADER + ",stage",
        ),
    ),
    Case(
        name="in-touchpoints-fullwidth-clash",
        area="messages",
        argv=["features", "{tmp}/eq.csv", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"touchpoints '=x' and '＝x' all become 'x' \(told apart as 'x', 'x_3'\)",
        description="'=x', '＝x' and 'x_2' (was \"made by both the 'touchpoints' and the "
        "'touchpoints' families\")",
        setup=small(
            "eq.csv",
            "1,2024-01-01,=x,awareness",
            "2,2024-01-02,x_2,awareness",
            "3,2024-01-02,＝x,awareness",
            "1,2024-01-03,email,consideration",
            header=HEADER + ",stage",
        ),
        check=lambda tmp, out: _distinct_columns(tmp, ["count_x", "count_x_2", "count_x_3"]),
    ),
    Case(
        name="in-touchpoint-named-other",
        area="messages",
        argv=["features", "{tmp}/other.csv", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"'other' becomes 'other', the name of the bucket of all other touchpoints",
        description="a touchpoint named 'other' (clashed with the bucket of unseen ones)",
        setup=small(
            "other.csv",
            "1,2024-01-01,other,awareness",
            "1,2024-01-03,email,consideration",
            header=HEADER + ",stage",
        ),
        check=lambda tmp, out: _distinct_columns(tmp, ["count_other", "count_other_2"]),
    ),
    Case(
        name="in-attribute-columns-alike",
        area="messages",
        argv=["features", "{tmp}/attrs.csv", "--out", "{tmp}/f.parquet"],
        exit_code=0,
        message=r"attribute columns 'plan!' and 'plan\?' all become 'plan'",
        description="extra columns 'plan!' and 'plan?' read alike in feature names",
        setup=small("attrs.csv", *(r + ",a,b" for r in ROWS), header=HEADER + ",plan!,plan?"),
    ),
]


# Real exports: rows that cannot be events set aside on request, a log of purchases without a
# touchpoint column, ids that differ only by spaces.
#: Events as JSON Lines, and as an export writes them (nested, an id a number or text).
JSON_LINES = [
    '{"customer_id": 1, "timestamp": "2024-01-01 09:00", "touchpoint": "email"}',
    '{"customer_id": 2, "timestamp": "2024-01-02 10:00", "touchpoint": "purchase"}',
]
JSON_EXPORT = [
    '{"userId": 1, "timestamp": "2024-01-01 09:00", "event": "email", "context": {"ip": "x"}}',
    '{"userId": "1", "timestamp": "2024-01-03 09:00", "event": "purchase", '
    '"properties": {"revenue": 12.5}}',
    '{"userId": 2, "timestamp": "2024-01-02 10:00", "event": "website_visit"}',
]

REAL_EXPORTS = [
    Case(
        name="in-ids-missing-quarantine-validate",
        area="ids",
        argv=["validate", "{tmp}/orders.csv", "--on-error", "quarantine"],
        exit_code=0,
        message=r"Wrote the 2 rows set aside to orders\.rejects\.csv.*Set aside 2 rows .*"
        r"customer_id: a missing or empty customer id: 2.*orders\.csv line 3",
        description="a fifth of the rows without a customer id, as in Online Retail: set "
        "aside on request (validate refused the whole file, and only score could quarantine)",
        setup=small(
            "orders.csv",
            ROWS[0],
            ",2024-01-01 10:00,purchase",
            ROWS[1],
            ",2024-01-02 11:00,purchase",
            ROWS[2],
            ROWS[3],
        ),
        check=lambda tmp, output: _rejected_rows(tmp / "orders.rejects.csv", ["1", "3"]),
    ),
    Case(
        name="in-no-touchpoint-column-validate",
        area="reading",
        argv=["validate", "{tmp}/orders.csv", "--touchpoint", "purchase"],
        exit_code=0,
        message=r"Event log: 3 events from 2 customers",
        description="a log of purchases without a touchpoint column (the fix was to add one "
        "in pandas)",
        setup=small(
            "orders.csv",
            "1,2024-01-01 09:00",
            "1,2024-02-01 09:00",
            "2,2024-01-05 12:00",
            header="customer_id,timestamp",
        ),
    ),
    Case(
        name="in-ids-spaced-score",
        area="ids",
        argv=[*SCORE, "{tmp}/spaced.csv", "--no-recommend", *OUT],
        exit_code=0,
        message=r"ids that differ from another only by spaces around them: ' 1' and '1'",
        description="score: ' 1' and '1' read as two customers (validate warned, score did not)",
        setup=from_sample(
            "spaced.csv",
            lambda f: f.assign(
                customer_id=f["customer_id"].where(f.index % 2 == 0, " " + f["customer_id"])
            ),
        ),
    ),
    Case(
        name="in-json-nested-export-validate",
        area="reading",
        argv=[
            "validate",
            "{tmp}/export.jsonl",
            "--columns",
            "customer_id=userId,touchpoint=event,amount=properties.revenue",
        ],
        exit_code=0,
        message=r"Event log: 3 events from 2 customers.*Other columns, carried along: context\.ip",
        description="a Segment-like JSON Lines export, ids a number on one line and text on "
        "another, nested keys mapped by dotted names (was refused: convert with pandas)",
        setup=text("export.jsonl", "\n".join(JSON_EXPORT) + "\n"),
    ),
    Case(
        name="in-json-cut-short-score",
        area="reading",
        argv=[*SCORE, "{tmp}/export.jsonl", "--no-recommend", *OUT],
        exit_code=1,
        message=r"export\.jsonl': line 3 is not JSON \(.*\): .*Fix: correct or remove that line",
        description="score: an export whose last line was cut short",
        setup=text("export.jsonl", "\n".join([*JSON_LINES, JSON_LINES[0][:30]])),
        check=absent("scores.parquet"),
    ),
    Case(
        name="in-json-deep-nesting-validate",
        area="reading",
        argv=["validate", "{tmp}/deep.jsonl"],
        exit_code=1,
        message=r"deep\.jsonl': line 2 nests objects or lists more deeply than cjml reads",
        description="a line nested 100,000 levels deep (would be a RecursionError)",
        setup=text("deep.jsonl", JSON_LINES[0] + "\n" + '{"a":' * 100_000 + "1" + "}" * 100_000),
    ),
    Case(
        name="in-json-array-train",
        area="reading",
        argv=["train", "{tmp}/events.json", "--out", "{tmp}/m.cjml"],
        exit_code=1,
        message=r"events\.json': it holds one JSON array, not one event per line.*jq -c",
        description="a .json file holding one array of events, not JSON Lines",
        setup=text("events.json", "[" + ",\n".join(JSON_LINES) + "]\n"),
        check=absent("m.cjml"),
    ),
]


def _rejected_rows(path: Path, rows: list[str]) -> None:
    written = pd.read_csv(path, dtype=str)
    assert written["row"].tolist() == rows, written


def _distinct_columns(tmp: Path, names: list[str]) -> None:
    columns = list(pd.read_parquet(tmp / "f.parquet").columns)
    assert len(columns) == len(set(columns)), columns
    for name in names:
        assert name in columns, (name, columns)


CASES = [*READING, *NESTED, *IDS, *TIMESTAMPS, *MESSAGES, *REAL_EXPORTS]
