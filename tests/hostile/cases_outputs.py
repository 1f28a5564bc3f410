"""Everything cjml writes (issue 18): outputs never destroy inputs, one formula-safe CSV
writer, file modes from the umask, and the messages of the writing side."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from tests.hostile.harness import Case

BOM = b"\xef\xbb\xbf"
REFUSED = r"Refusing to write .*{victim}.*even with --force"
RISKY_IDS = [
    "=1+1",
    "+cmd|' /C notepad'!A0",
    "@SUM(A1)",
    " -2",
    "\uff1dx",
    "\uff0by",
    "\uff0dz",
    "\uff20w",
    "\t=tab",
    '-HYPERLINK("http://x")',
]


# --------------------------------------------------------------------------- setups
def _steps(*steps):
    """One setup made of several."""

    def setup(tmp: Path) -> None:
        for step in steps:
            step(tmp)

    return setup


def _remember(tmp: Path) -> None:
    """Record every file's digest, for :func:`_unchanged`."""
    digests = {}
    for path in sorted(tmp.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name != ".before.json":
            digests[str(path.relative_to(tmp))] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp / ".before.json").write_text(json.dumps(digests))


def _unchanged(tmp: Path, output: str) -> None:
    """Every file is as it was, and nothing new (no output, no temporary, no run folder)."""
    before = json.loads((tmp / ".before.json").read_text())
    now = {
        str(p.relative_to(tmp)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(tmp.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != ".before.json"
    }
    assert now == before, (sorted(set(now) ^ set(before)), output)
    assert not [p for p in tmp.rglob("*") if p.name.endswith((".cjml-run", ".tmp"))], output


def _text(name: str, content: str):
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")

    return setup


def _folder(name: str):
    def setup(tmp: Path) -> None:
        (tmp / name).mkdir(parents=True, exist_ok=True)

    return setup


def _symlink(name: str, target: str):
    def setup(tmp: Path) -> None:
        (tmp / name).symlink_to(tmp / target)

    return setup


def _hardlink(name: str, target: str):
    def setup(tmp: Path) -> None:
        os.link(tmp / target, tmp / name)

    return setup


def _fake_bundle(name: str):
    """A file named as a bundle, with a manifest: the refusals come before any loading."""

    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(b"a bundle, never loaded")
        (tmp / f"{name}.manifest.json").write_text("{}")

    return setup


def _events_folder(name: str, nested: str = ""):
    """The sample split into two Parquet files in a folder."""

    def setup(tmp: Path) -> None:
        import pandas as pd

        folder = tmp / name
        (folder / nested).mkdir(parents=True, exist_ok=True)
        events = pd.read_parquet(tmp / "events.parquet")
        half = len(events) // 2
        events.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
        events.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)

    return setup


def _risky_events(name: str = "risky.csv", n_customers: int = 300, *, bad_times=()):
    """The first customers of the sample with ids, a touchpoint and a segment that look
    like spreadsheet formulas (ids are text: c0001...); ``bad_times`` are timestamps no
    reader parses, given to the first events."""

    def setup(tmp: Path) -> None:
        import pandas as pd

        events = pd.read_parquet(tmp / "events.parquet")
        events = events[events["customer_id"] <= n_customers].copy()
        events["customer_id"] = events["customer_id"].map(lambda c: f"c{c:04d}")
        ids = events["customer_id"].unique()[-len(RISKY_IDS) :]
        for risky, plain in zip(RISKY_IDS, ids, strict=True):
            events.loc[events["customer_id"] == plain, "customer_id"] = risky
        events["touchpoint"] = events["touchpoint"].astype(str)
        events.loc[events.index[:5], "touchpoint"] = "=evil"
        events["segment"] = events["segment"].astype(str)
        events.loc[events["customer_id"] == "c0001", "segment"] = "+seg"
        if bad_times:
            events["timestamp"] = events["timestamp"].astype(str)
            events.loc[events.index[: len(bad_times)], "timestamp"] = list(bad_times)
        events.to_csv(tmp / name, index=False)

    return setup


def _interrupted_run(out: str = "scores.parquet", events: str = "events.parquet"):
    """An unfinished run of ``cjml score model.cjml EVENTS --out OUT --chunk-events 8000
    --no-recommend`` that stopped after its first chunk."""

    def setup(tmp: Path) -> None:
        import cjml
        import cjml.scoring._run

        class Stop(Exception):
            pass

        def stop(part):
            raise Stop

        saved = cjml.scoring._run._after_chunk
        cjml.scoring._run._after_chunk = stop
        try:
            cjml.score(
                tmp / "model.cjml", tmp / events, out=tmp / out, chunk_events=8000, recommend=False
            )
        except Stop:
            pass
        finally:
            cjml.scoring._run._after_chunk = saved
        assert (tmp / f".{out}.cjml-run" / "state.json").exists()

    return setup


# --------------------------------------------------------------------------- checks
def _all(*checks):
    def check(tmp: Path, output: str) -> None:
        for c in checks:
            c(tmp, output)

    return check


def _mode(name: str, mode: int):
    def check(tmp: Path, output: str) -> None:
        got = stat.S_IMODE((tmp / name).stat().st_mode)
        assert got == mode, f"{name}: {oct(got)}, expected {oct(mode)}"

    return check


def _no_run_folder(tmp: Path, output: str) -> None:
    assert not [p for p in tmp.rglob("*") if p.name.endswith(".cjml-run")], output


def _no_temporary(tmp: Path, output: str) -> None:
    assert not [p for p in tmp.rglob("*.tmp")], output


def _spreadsheet_safe(name: str, *, column: int = 0, expect: tuple = ()):
    """The CSV has the BOM and CRLF, and no text cell a spreadsheet would run; ``expect``
    cells are in column ``column``."""

    def check(tmp: Path, output: str) -> None:
        import csv
        import io

        raw = (tmp / name).read_bytes()
        assert raw.startswith(BOM), raw[:20]
        assert b"\r\n" in raw
        rows = list(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8"), newline="")))
        risky = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
        for row in rows:
            for cell in row:
                text = cell.lstrip(" \u00a0\u3000")
                if text.startswith(risky):
                    try:
                        float(cell)  # a number (-0.5) is not a formula
                    except ValueError:
                        raise AssertionError(f"unescaped formula {cell!r} in {name}") from None
        cells = {r[column] for r in rows[1:] if len(r) > column}
        missing = [e for e in expect if e not in cells]
        assert not missing, (missing, sorted(cells)[:20])

    return check


def _numbers_untouched(name: str, columns: tuple[str, ...]):
    def check(tmp: Path, output: str) -> None:
        import pandas as pd

        frame = pd.read_csv(tmp / name, encoding="utf-8-sig")
        for c in columns:
            assert pd.api.types.is_float_dtype(frame[c]), (c, frame[c].head())

    return check


def _same_as_parquet(csv_name: str, parquet_name: str):
    """The scores CSV read back (utf-8-sig) equals the Parquet scores but for the escapes."""

    def check(tmp: Path, output: str) -> None:
        import numpy as np
        import pandas as pd

        from cjml.cli import main

        assert main(["score", "model.cjml", "risky.csv", "--out", parquet_name, "--quiet"]) == 0
        # round_trip: pandas 2's default parser misses the last bit of long decimals
        from_csv = pd.read_csv(tmp / csv_name, encoding="utf-8-sig", float_precision="round_trip")
        from_parquet = pd.read_parquet(tmp / parquet_name)
        ids = [
            i[1:] if isinstance(i, str) and i.startswith("'") else i
            for i in from_csv["customer_id"]
        ]
        assert ids == from_parquet["customer_id"].tolist()
        np.testing.assert_array_equal(
            from_csv["churn_risk"].to_numpy(dtype=float),
            from_parquet["churn_risk"].to_numpy(dtype=float),
        )

    return check


def _reads_back(name: str):
    def check(tmp: Path, output: str) -> None:
        import cjml

        log = cjml.read_events(tmp / name)
        assert log.n_customers > 0

    return check


def _exists(*names: str):
    def check(tmp: Path, output: str) -> None:
        for name in names:
            assert (tmp / name).exists(), name

    return check


def _missing(*names: str):
    def check(tmp: Path, output: str) -> None:
        for name in names:
            assert not (tmp / name).exists(), name

    return check


def _not_in_output(text: str):
    def check(tmp: Path, output: str) -> None:
        assert text not in output, output

    return check


def _parquet_keeps(name: str, value: str):
    """A Parquet output keeps the value exactly: only CSV cells are escaped."""

    def check(tmp: Path, output: str) -> None:
        import pandas as pd

        assert value in set(pd.read_parquet(tmp / name)["customer_id"])

    return check


def _one_line_error(tmp: Path, output: str) -> None:
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Errno" not in output, output


# --------------------------------------------------------------------------- cases
def _refused(name, argv, victim, description, *, setup=(), area="outputs"):
    """A command whose output would overwrite an input: refused, everything left as it was."""
    return Case(
        name=name,
        area=area,
        argv=argv,
        exit_code=1,
        message=REFUSED.format(victim=victim),
        description=description,
        setup=_steps(*setup, _remember),
        check=_all(_unchanged, _one_line_error),
    )


def _folder_refused(name, argv, folder, description, *, setup=()):
    return Case(
        name=name,
        area="outputs",
        argv=argv,
        exit_code=1,
        message=rf"Cannot write '.*{folder}': it is an existing folder.*name a file",
        description=description,
        setup=_steps(_folder(folder), *setup, _remember),
        check=_all(_unchanged, _one_line_error),
    )


SCORE = ["score", "{bundle}"]

CASES = [
    # ----------------------------------------------------------- score over its inputs
    _refused(
        "out-score-over-events-csv-force",
        [*SCORE, "{events_csv}", "--out", "{events_csv}", "--force"],
        r"events\.csv",
        "score --out equal to the events CSV, with --force",
    ),
    _refused(
        "out-score-over-events-parquet-force",
        [*SCORE, "{events}", "--out", "{events}", "--force"],
        r"events\.parquet",
        "score --out equal to the events Parquet file, with --force",
    ),
    _refused(
        "out-score-over-events-relative",
        [*SCORE, "events.csv", "--out", "{tmp}/events.csv", "--force"],
        r"events\.csv",
        "events given relative, --out the same file given absolute",
    ),
    _refused(
        "out-score-over-events-dotdot",
        [*SCORE, "{events_csv}", "--out", "sub/../events.csv", "--force"],
        r"events\.csv",
        "--out reaching the events through sub/..",
        setup=[_folder("sub")],
    ),
    _refused(
        "out-score-over-events-symlink",
        [*SCORE, "{events_csv}", "--out", "link.csv", "--force"],
        r"events\.csv",
        "--out a symlink to the events file",
        setup=[_symlink("link.csv", "events.csv")],
    ),
    _refused(
        "out-score-over-events-hardlink",
        [*SCORE, "{events_csv}", "--out", "hard.csv", "--force"],
        r"events\.csv",
        "--out a hard link to the events file",
        setup=[_hardlink("hard.csv", "events.csv")],
    ),
    _refused(
        "out-score-over-customer-list",
        [*SCORE, "{events}", "--customers", "list.csv", "--out", "list.csv", "--force"],
        r"customer list 'list\.csv'",
        "score --out equal to the --customers list",
        setup=[_text("list.csv", "customer_id\n1\n2\n")],
    ),
    _refused(
        "out-score-rejects-over-customer-list",
        [
            *SCORE,
            "{events}",
            "--customers",
            "scores.rejects.csv",
            "--out",
            "scores.csv",
            "--on-error",
            "quarantine",
            "--force",
        ],
        r"scores\.rejects\.csv",
        "the rejects file beside --out would replace the --customers list",
        setup=[_text("scores.rejects.csv", "customer_id\n1\n")],
    ),
    _refused(
        "out-score-over-rules",
        [*SCORE, "{events}", "--rules", "rules.csv", "--out", "rules.csv", "--force"],
        r"rules file 'rules\.csv'",
        "score --out equal to the --rules file",
        setup=[_text("rules.csv", "budget = 10.0\n")],
    ),
    _refused(
        "out-score-over-bundle",
        ["score", "model.csv", "{events}", "--out", "model.csv", "--force"],
        r"bundle 'model\.csv'",
        "score --out equal to the bundle file (a bundle named .csv)",
        setup=[_fake_bundle("model.csv")],
    ),
    _refused(
        "out-score-inside-events-folder",
        [*SCORE, "logs", "--out", "logs/scores.parquet", "--force"],
        r"inside the events folder 'logs'",
        "score --out inside the folder of events (read as events next time)",
        setup=[_events_folder("logs")],
    ),
    _refused(
        "out-score-inside-nested-events-folder",
        [*SCORE, "logs", "--out", "logs/2024/scores.csv", "--force"],
        r"inside the events folder 'logs'",
        "score --out in a subfolder of the events folder",
        setup=[_events_folder("logs", nested="2024")],
    ),
    _refused(
        "out-score-over-events-folder-itself",
        [*SCORE, "logs.parquet", "--out", "logs.parquet", "--force"],
        r"inside the events folder 'logs\.parquet'",
        "score --out equal to the events folder (named like a file)",
        setup=[_events_folder("logs.parquet")],
    ),
    _refused(
        "out-score-over-events-no-force",
        [*SCORE, "{events_csv}", "--out", "{events_csv}"],
        r"events\.csv",
        "score --out equal to the events without --force: the input is named, not 'already exists'",
    ),
    # ----------------------------------------------------------- recommend, features, map, train
    _refused(
        "out-recommend-over-events-force",
        ["recommend", "{bundle}", "{events_csv}", "--out", "{events_csv}", "--force"],
        r"events\.csv",
        "recommend --out equal to the events, with --force",
    ),
    _refused(
        "out-recommend-over-customer-list",
        [
            "recommend",
            "{bundle}",
            "{events}",
            "--customers",
            "list.csv",
            "--out",
            "list.csv",
            "--force",
        ],
        r"customer list 'list\.csv'",
        "recommend --out equal to its --customers list",
        setup=[_text("list.csv", "customer_id\n1\n")],
    ),
    _refused(
        "out-recommend-over-rules",
        ["recommend", "{bundle}", "{events}", "--rules", "r.csv", "--out", "r.csv", "--force"],
        r"rules file 'r\.csv'",
        "recommend --out equal to its --rules file",
        setup=[_text("r.csv", "min_risk = 0.1\n")],
    ),
    _refused(
        "out-recommend-over-map",
        ["recommend", "{bundle}", "{events}", "--map", "m.csv", "--out", "m.csv", "--force"],
        r"journey map 'm\.csv'",
        "recommend --out equal to its --map file",
        setup=[_text("m.csv", "{}")],
    ),
    _refused(
        "out-recommend-over-events-symlink",
        ["recommend", "{bundle}", "{events}", "--out", "link.parquet", "--force"],
        r"events\.parquet",
        "recommend --out a symlink to the events",
        setup=[_symlink("link.parquet", "events.parquet")],
    ),
    _refused(
        "out-recommend-inside-events-folder",
        ["recommend", "{bundle}", "logs", "--out", "logs/actions.csv", "--force"],
        r"inside the events folder 'logs'",
        "recommend --out inside the events folder",
        setup=[_events_folder("logs")],
    ),
    _refused(
        "out-recommend-over-bundle",
        ["recommend", "model.parquet", "{events}", "--out", "model.parquet", "--force"],
        r"bundle 'model\.parquet'",
        "recommend --out equal to the bundle",
        setup=[_fake_bundle("model.parquet")],
    ),
    _refused(
        "out-features-over-events-csv",
        ["features", "{events_csv}", "--out", "{events_csv}", "--force"],
        r"events\.csv",
        "features --out equal to the events CSV, with --force",
    ),
    _refused(
        "out-features-over-events-parquet",
        ["features", "{events}", "--out", "{events}", "--force"],
        r"events\.parquet",
        "features --out equal to the events Parquet, with --force",
    ),
    _refused(
        "out-features-over-events-hardlink",
        ["features", "{events}", "--out", "copy.parquet", "--force"],
        r"events\.parquet",
        "features --out a hard link to the events",
        setup=[_hardlink("copy.parquet", "events.parquet")],
    ),
    _refused(
        "out-features-inside-events-folder",
        ["features", "logs", "--out", "logs/features.parquet", "--force"],
        r"inside the events folder 'logs'",
        "features --out inside the events folder",
        setup=[_events_folder("logs")],
    ),
    _refused(
        "out-features-over-map",
        ["features", "{events}", "--map", "map.csv", "--out", "map.csv", "--force"],
        r"journey map 'map\.csv'",
        "features --out equal to its --map",
        setup=[_text("map.csv", "{}")],
    ),
    _refused(
        "out-journey-map-over-events",
        ["journey-map", "{events_csv}", "--out", "{events_csv}", "--force"],
        r"events\.csv",
        "journey-map --out (CSV) equal to the events, with --force",
    ),
    _refused(
        "out-journey-map-over-bundle",
        ["journey-map", "{events}", "--model", "model.csv", "--out", "model.csv", "--force"],
        r"bundle 'model\.csv'",
        "journey-map --out equal to its --model",
        setup=[_fake_bundle("model.csv")],
    ),
    _refused(
        "out-journey-map-inside-events-folder",
        ["journey-map", "logs", "--out", "logs/map.html", "--force"],
        r"inside the events folder 'logs'",
        "journey-map --out inside the events folder",
        setup=[_events_folder("logs")],
    ),
    _refused(
        "out-train-over-events",
        ["train", "{events}", "--out", "{events}", "--force"],
        r"events\.parquet",
        "train --out (the bundle) equal to the events, with --force",
    ),
    _refused(
        "out-train-over-map",
        ["train", "{events}", "--map", "map.json", "--out", "map.json", "--force"],
        r"journey map 'map\.json'",
        "train --out equal to its --map",
        setup=[_text("map.json", "{}")],
    ),
    _refused(
        "out-train-manifest-over-map",
        ["train", "{events}", "--map", "b.manifest.json", "--out", "b", "--force"],
        r"b\.manifest\.json",
        "the bundle's manifest (OUT.manifest.json) would replace the --map file",
        setup=[_text("b.manifest.json", "{}")],
    ),
    _refused(
        "out-train-inside-events-folder",
        ["train", "logs", "--out", "logs/model.cjml", "--force"],
        r"inside the events folder 'logs'",
        "train --out inside the events folder",
        setup=[_events_folder("logs")],
    ),
    # ----------------------------------------------------------- existing folders as --out
    _folder_refused(
        "out-score-folder-as-out",
        [*SCORE, "{events}", "--out", "scores.csv"],
        "scores.csv",
        "score --out naming an existing folder",
    ),
    _folder_refused(
        "out-score-folder-as-out-force",
        [*SCORE, "{events}", "--out", "scores.parquet", "--force"],
        "scores.parquet",
        "score --out naming an existing folder, with --force "
        "(failed after all the work with [Errno 21])",
    ),
    _folder_refused(
        "out-recommend-folder-as-out",
        ["recommend", "{bundle}", "{events}", "--out", "actions.csv", "--force"],
        "actions.csv",
        "recommend --out naming an existing folder",
    ),
    _folder_refused(
        "out-features-folder-as-out",
        ["features", "{events}", "--out", "features.parquet", "--force"],
        "features.parquet",
        "features --out naming an existing folder",
    ),
    _folder_refused(
        "out-journey-map-folder-as-out",
        ["journey-map", "{events}", "--out", "map.html", "--force"],
        "map.html",
        "journey-map --out naming an existing folder",
    ),
    _folder_refused(
        "out-generate-folder-as-out",
        ["generate", "--customers", "5", "--out", "gen.csv", "--force"],
        "gen.csv",
        "generate --out naming an existing folder",
    ),
    _folder_refused(
        "out-train-folder-as-out",
        ["train", "{events}", "--out", "model.bin", "--force"],
        "model.bin",
        "train --out naming an existing folder",
    ),
    _folder_refused(
        "out-score-rejects-folder",
        [*SCORE, "{events}", "--out", "s.csv", "--on-error", "quarantine", "--force"],
        "s.rejects.csv",
        "the rejects file beside --out is an existing folder",
    ),
    # ----------------------------------------------------------- demo
    Case(
        name="out-demo-keeps-earlier-outputs",
        area="outputs",
        argv=["demo", "--workdir", "{tmp}/demo"],
        exit_code=1,
        message=r"already holds the outputs of an earlier demo \(scores\.parquet, actions\.csv"
        r"\).*--force.*--workdir",
        description="cjml demo over the outputs of an earlier demo, without --force",
        setup=_steps(
            _text("demo/actions.csv", "mine"), _text("demo/scores.parquet", "mine"), _remember
        ),
        check=_all(_unchanged, _one_line_error),
    ),
    Case(
        name="out-demo-workdir-is-a-file",
        area="outputs",
        argv=["demo", "--workdir", "{tmp}/notes.txt"],
        exit_code=1,
        message=r"notes\.txt.*it is a file.*--workdir",
        description="cjml demo --workdir naming an existing file",
        setup=_steps(_text("notes.txt", "mine"), _remember),
        check=_unchanged,
    ),
    Case(
        name="out-generate-sample-into-a-file",
        area="outputs",
        argv=["generate", "--sample", "--out", "notes.txt", "--force"],
        exit_code=1,
        message=r"notes\.txt.*it is a file.*--out names a folder",
        description="generate --sample --out naming an existing file",
        setup=_steps(_text("notes.txt", "mine"), _remember),
        check=_unchanged,
    ),
    Case(
        name="out-generate-existing-no-force",
        area="outputs",
        argv=["generate", "--customers", "5", "--out", "gen.csv"],
        exit_code=1,
        message=r"gen\.csv.*already exists and was left untouched.*--force",
        description="generate over an existing file without --force",
        setup=_steps(_text("gen.csv", "mine"), _remember),
        check=_unchanged,
    ),
    Case(
        name="out-score-existing-no-force",
        area="outputs",
        argv=[*SCORE, "{events}", "--out", "old.parquet"],
        exit_code=1,
        message=r"old\.parquet.*already exists and was left untouched.*--force",
        description="score over an existing output without --force",
        setup=_steps(_text("old.parquet", "mine"), _remember),
        check=_unchanged,
    ),
    # ----------------------------------------------------------- the CSV writer
    Case(
        name="out-csv-score-formula-ids",
        area="csv-writer",
        argv=[*SCORE, "risky.csv", "--out", "scores.csv", "--include-inactive", "--quiet"],
        exit_code=0,
        message=r"300 customers at",
        setup=_risky_events(),
        description="customer ids like =1+1, +cmd|' /C notepad'!A0, @SUM(A1) scored to CSV",
        check=_spreadsheet_safe(
            "scores.csv",
            expect=("'=1+1", "'+cmd|' /C notepad'!A0", "'@SUM(A1)", '\'-HYPERLINK("http://x")'),
        ),
    ),
    Case(
        name="out-csv-score-fullwidth-and-spaces",
        area="csv-writer",
        argv=[*SCORE, "risky.csv", "--out", "scores.csv", "--include-inactive", "--quiet"],
        exit_code=0,
        message=r"wrote scores\.csv",
        setup=_risky_events(),
        description="ids with full-width ＝＋－＠, a leading tab, or spaces before -",
        check=_spreadsheet_safe(
            "scores.csv", expect=("'\uff1dx", "'\uff0by", "'\uff0dz", "'\uff20w", "'\t=tab", "' -2")
        ),
    ),
    Case(
        name="out-csv-score-numbers-stay-numbers",
        area="csv-writer",
        argv=[*SCORE, "risky.csv", "--out", "scores.csv", "--include-inactive", "--quiet"],
        exit_code=0,
        message=r"wrote scores\.csv",
        setup=_risky_events(),
        description="probabilities and reductions (some negative) are written as numbers",
        check=_numbers_untouched(
            "scores.csv",
            (
                "churn_risk",
                "next_stage_proba",
                "expected_risk_reduction",
                "expected_risk_reduction_low",
            ),
        ),
    ),
    Case(
        name="out-csv-score-round-trip",
        area="csv-writer",
        argv=[*SCORE, "risky.csv", "--out", "scores.csv", "--quiet"],
        exit_code=0,
        message=r"wrote scores\.csv",
        setup=_risky_events(),
        description="the scores CSV read back with utf-8-sig equals the Parquet scores but "
        "for the escapes",
        check=_same_as_parquet("scores.csv", "scores.parquet"),
    ),
    Case(
        name="out-csv-score-rejects-escaped",
        area="csv-writer",
        argv=[*SCORE, "bad.csv", "--out", "s.csv", "--on-error", "quarantine", "--quiet"],
        exit_code=0,
        message=r"rejected",
        setup=_risky_events("bad.csv", bad_times=('=HYPERLINK("http://x")', "@when")),
        description="rejected rows whose raw values are formulas go to s.rejects.csv",
        check=_all(
            _spreadsheet_safe(
                "s.rejects.csv", column=5, expect=('\'=HYPERLINK("http://x")', "'@when")
            ),
            _exists("s.csv"),
        ),
    ),
    Case(
        name="out-csv-recommend-formula-ids",
        area="csv-writer",
        argv=["recommend", "{bundle}", "risky.csv", "--out", "actions.csv", "--all"],
        exit_code=0,
        message=r"Wrote recommendations for 300 customers",
        setup=_risky_events(),
        description="recommend --out actions.csv with formula-like ids",
        check=_spreadsheet_safe("actions.csv", expect=("'=1+1", "'\uff20w", "' -2")),
    ),
    Case(
        name="out-csv-features-formula-ids",
        area="csv-writer",
        argv=["features", "risky.csv", "--out", "features.csv"],
        exit_code=0,
        message=r"Wrote features of 300 customers",
        setup=_risky_events(),
        description="features --out features.csv with formula-like ids",
        check=_spreadsheet_safe("features.csv", expect=("'=1+1", "' -2")),
    ),
    Case(
        name="out-csv-journey-map-formula-touchpoint",
        area="csv-writer",
        argv=["journey-map", "risky.csv", "--out", "map.csv"],
        exit_code=0,
        message=r"Wrote the journey map",
        setup=_risky_events(),
        description="a touchpoint named =evil in the journey map's top touchpoints",
        check=_spreadsheet_safe("map.csv"),
    ),
    Case(
        name="out-csv-journey-map-by-formula-segment",
        area="csv-writer",
        argv=["journey-map", "risky.csv", "--by", "segment", "--out", "map.csv"],
        exit_code=0,
        message=r"groups of 'segment'",
        setup=_risky_events(),
        description="journey-map --by segment with a segment named +seg",
        check=_spreadsheet_safe("map.csv", expect=("'+seg",)),
    ),
    Case(
        name="out-csv-generate-reads-back",
        area="csv-writer",
        argv=["generate", "--customers", "20", "--days", "60", "--out", "gen.csv"],
        exit_code=0,
        message=r"Wrote .* events of 20 customers",
        description="generate --out x.csv: UTF-8 with BOM, and cjml reads it back",
        check=_all(_spreadsheet_safe("gen.csv"), _reads_back("gen.csv")),
    ),
    Case(
        name="out-csv-score-nothing-temporary-left",
        area="csv-writer",
        argv=[*SCORE, "risky.csv", "--out", "out/scores.csv", "--quiet"],
        exit_code=0,
        message=r"wrote out/scores\.csv",
        setup=_risky_events(),
        description="a CSV written into a new folder: no temporary file or run folder left",
        check=_all(_no_temporary, _no_run_folder, _exists("out/scores.csv")),
    ),
    Case(
        name="out-csv-recommend-parquet-untouched",
        area="csv-writer",
        argv=["recommend", "{bundle}", "risky.csv", "--out", "actions.parquet", "--all"],
        exit_code=0,
        message=r"Wrote recommendations",
        setup=_risky_events(),
        description="Parquet keeps the ids exactly (no escaping)",
        check=_parquet_keeps("actions.parquet", "=1+1"),
    ),
    # ----------------------------------------------------------- file modes
    Case(
        name="out-mode-score-csv-022",
        area="file-modes",
        argv=[*SCORE, "risky.csv", "--out", "s.csv", "--quiet"],
        exit_code=0,
        message=r"wrote s\.csv",
        setup=_risky_events(),
        umask=0o022,
        description="score --out CSV under umask 022 (was always 0600)",
        check=_mode("s.csv", 0o644),
    ),
    Case(
        name="out-mode-score-parquet-022",
        area="file-modes",
        argv=[*SCORE, "risky.csv", "--out", "s.parquet", "--quiet"],
        exit_code=0,
        message=r"wrote s\.parquet",
        setup=_risky_events(),
        umask=0o022,
        description="score --out Parquet under umask 022 (was always 0600)",
        check=_mode("s.parquet", 0o644),
    ),
    Case(
        name="out-mode-score-csv-077",
        area="file-modes",
        argv=[*SCORE, "risky.csv", "--out", "s.csv", "--quiet"],
        exit_code=0,
        message=r"wrote s\.csv",
        setup=_risky_events(),
        umask=0o077,
        description="score --out CSV under umask 077",
        check=_mode("s.csv", 0o600),
    ),
    Case(
        name="out-mode-score-rejects-027",
        area="file-modes",
        argv=[*SCORE, "bad.csv", "--out", "s.parquet", "--on-error", "quarantine", "--quiet"],
        exit_code=0,
        message=r"rejected",
        umask=0o027,
        setup=_risky_events("bad.csv", bad_times=("never",)),
        description="the rejects file and the scores under umask 027",
        check=_all(_mode("s.parquet", 0o640), _mode("s.rejects.parquet", 0o640)),
    ),
    Case(
        name="out-mode-recommend-csv-077",
        area="file-modes",
        argv=["recommend", "{bundle}", "risky.csv", "--out", "a.csv"],
        exit_code=0,
        message=r"Wrote recommendations",
        setup=_risky_events(),
        umask=0o077,
        description="recommend --out CSV under umask 077 (was 0644)",
        check=_mode("a.csv", 0o600),
    ),
    Case(
        name="out-mode-recommend-parquet-022",
        area="file-modes",
        argv=["recommend", "{bundle}", "risky.csv", "--out", "a.parquet"],
        exit_code=0,
        message=r"Wrote recommendations",
        setup=_risky_events(),
        umask=0o022,
        description="recommend --out Parquet under umask 022",
        check=_mode("a.parquet", 0o644),
    ),
    Case(
        name="out-mode-features-027",
        area="file-modes",
        argv=["features", "risky.csv", "--out", "f.csv"],
        exit_code=0,
        message=r"Wrote features",
        setup=_risky_events(),
        umask=0o027,
        description="features --out CSV under umask 027",
        check=_mode("f.csv", 0o640),
    ),
    Case(
        name="out-mode-journey-map-html-077",
        area="file-modes",
        argv=["journey-map", "risky.csv", "--out", "map.html"],
        exit_code=0,
        message=r"Wrote the journey map",
        setup=_risky_events(),
        umask=0o077,
        description="journey-map --out HTML under umask 077",
        check=_mode("map.html", 0o600),
    ),
    Case(
        name="out-mode-journey-map-csv-022",
        area="file-modes",
        argv=["journey-map", "risky.csv", "--out", "map.csv"],
        exit_code=0,
        message=r"Wrote the journey map",
        setup=_risky_events(),
        umask=0o022,
        description="journey-map --out CSV under umask 022",
        check=_mode("map.csv", 0o644),
    ),
    Case(
        name="out-mode-generate-077",
        area="file-modes",
        argv=["generate", "--customers", "5", "--days", "30", "--out", "g.parquet"],
        exit_code=0,
        message=r"Wrote",
        umask=0o077,
        description="generate --out Parquet under umask 077",
        check=_mode("g.parquet", 0o600),
    ),
    Case(
        name="out-mode-score-real-process-022",
        area="file-modes",
        argv=[*SCORE, "risky.csv", "--out", "s.csv", "--quiet"],
        exit_code=0,
        message=r"wrote s\.csv",
        setup=_risky_events(),
        umask=0o022,
        process=True,
        description="score in a real process under umask 022",
        check=_mode("s.csv", 0o644),
    ),
    # ----------------------------------------------------------- messages of the writing side
    Case(
        name="out-msg-resume-names-only-top-k",
        area="messages",
        argv=[
            *SCORE,
            "{events}",
            "--out",
            "scores.parquet",
            "--chunk-events",
            "8000",
            "--no-recommend",
            "--top-k",
            "2",
            "--resume",
            "--quiet",
        ],
        exit_code=1,
        message=r"different options \(top_k: 1 then, 2 now\)\. Resuming",
        setup=_interrupted_run(),
        description="--resume with another --top-k: only top_k is named (bands were named too)",
        check=_all(_exists(".scores.parquet.cjml-run"), _not_in_output("bands")),
    ),
    Case(
        name="out-msg-resume-events-changed-only",
        area="messages",
        argv=[
            *SCORE,
            "{events}",
            "--out",
            "scores.parquet",
            "--chunk-events",
            "8000",
            "--no-recommend",
            "--resume",
            "--quiet",
        ],
        exit_code=1,
        message=r"different input events \(names, sizes or modification times\)\. Resuming",
        check=_not_in_output("options ("),
        setup=_steps(_interrupted_run(), lambda tmp: os.utime(tmp / "events.parquet", ns=(1, 1))),
        description="--resume after the events changed: the events are named, no option",
    ),
    Case(
        name="out-msg-resume-continues",
        area="messages",
        argv=[
            *SCORE,
            "{events}",
            "--out",
            "scores.parquet",
            "--chunk-events",
            "8000",
            "--no-recommend",
            "--resume",
            "--quiet",
        ],
        exit_code=0,
        message=r"3,000 customers at",
        setup=_interrupted_run(),
        description="--resume of an interrupted run completes",
        check=_all(_exists("scores.parquet"), _no_run_folder),
    ),
    Case(
        name="out-msg-unfinished-run-without-resume",
        area="messages",
        argv=[
            *SCORE,
            "{events}",
            "--out",
            "scores.parquet",
            "--chunk-events",
            "8000",
            "--no-recommend",
            "--quiet",
        ],
        exit_code=1,
        message=r"unfinished scoring run of 'scores\.parquet'.*--resume.*--force",
        setup=_interrupted_run(),
        description="rerun without --resume over an unfinished run",
        check=_exists(".scores.parquet.cjml-run/state.json"),
    ),
    Case(
        name="out-msg-failed-score-leaves-no-run-folder",
        area="messages",
        argv=[*SCORE, "bad.csv", "--out", "s.parquet", "--quiet"],
        exit_code=1,
        message=r"bad\.csv line 2",
        setup=_risky_events("bad.csv", bad_times=("never",)),
        description="a score refused for a bad row leaves no run folder and no output",
        check=_all(_no_run_folder, _missing("s.parquet")),
    ),
    Case(
        name="out-msg-score-wrong-suffix",
        area="messages",
        argv=[*SCORE, "{events}", "--out", "scores.xlsx"],
        exit_code=1,
        message=r"scores\.xlsx.*must end in \.parquet or \.csv",
        description="score --out with a suffix cjml does not write",
    ),
    Case(
        name="out-msg-recommend-wrong-suffix",
        area="messages",
        argv=["recommend", "{bundle}", "{events}", "--out", "actions.txt"],
        exit_code=1,
        message=r"actions\.txt.*must end in \.parquet or \.csv",
        description="recommend --out with a suffix cjml does not write",
    ),
    Case(
        name="out-msg-train-existing-bundle",
        area="messages",
        argv=["train", "{events}", "--out", "{bundle}"],
        exit_code=1,
        message=r"model\.cjml.*already exists and was left untouched.*--force",
        description="train over an existing bundle without --force, refused before training",
        setup=_remember,
        check=_unchanged,
    ),
]
