"""The journey canvas and the support journey on the command line (issue 20): personas that do
not exist, outputs the canvas cannot be, and persona names that are markup or formulas."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.cases_outputs import _risky_events, _spreadsheet_safe
from tests.hostile.harness import Case


def _absent(*names: str):
    """Nothing of these names was written."""

    def check(tmp: Path, output: str) -> None:
        for name in names:
            assert not list(tmp.glob(name)), (name, output)

    return check


def _without_segment(tmp: Path) -> None:
    import pandas as pd

    events = pd.read_parquet(tmp / "events.parquet")
    events.drop(columns="segment").head(2000).to_csv(tmp / "plain.csv", index=False)


def _markup_persona(tmp: Path) -> None:
    """A persona whose name is a script tag (a CRM label typed by anyone)."""
    import pandas as pd

    events = pd.read_parquet(tmp / "events.parquet")
    events["segment"] = events["segment"].astype(str)
    events.loc[events["segment"] == "business", "segment"] = "<script>alert(1)</script>"
    events.to_parquet(tmp / "markup.parquet", index=False)


def _markup_escaped(tmp: Path, output: str) -> None:
    page = (tmp / "map.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text


CASES = [
    Case(
        name="canvas-unknown-persona",
        area="messages",
        argv=["journey-map", "{events}", "--persona", "deal_seekr", "--out", "{tmp}/c.html"],
        exit_code=1,
        message=r"Unknown persona 'deal_seekr' in --persona: the personas of 'segment' are "
        r".*'regular'.*Did you mean 'deal_seeker'\?",
        description="--persona with a misspelt persona",
        check=_absent("c*.html"),
    ),
    Case(
        name="canvas-compare-one-persona-twice",
        area="messages",
        argv=["journey-map", "{events}", "--compare", "regular", "regular"],
        exit_code=1,
        message=r"--compare needs two different personas, got 'regular' twice",
        description="--compare with the same persona twice",
    ),
    Case(
        name="canvas-persona-without-personas",
        area="messages",
        argv=["journey-map", "{tmp}/plain.csv", "--persona", "regular"],
        exit_code=1,
        message=r"--persona needs personas.*no 'segment' column; pass --by COLUMN",
        description="--persona on events without a segment column and without --by",
        setup=_without_segment,
    ),
    Case(
        name="canvas-out-csv",
        area="outputs",
        argv=["journey-map", "{events}", "--canvas", "--out", "{tmp}/map.csv"],
        exit_code=1,
        message=r"with --canvas, --out must end in \.html \(one page\), \.pdf .*not '\.csv'",
        description="--canvas with a .csv --out (a canvas is a picture)",
        check=_absent("map*"),
    ),
    Case(
        name="canvas-support-out-svg",
        area="outputs",
        argv=["journey-map", "{events}", "--support", "--out", "{tmp}/support.svg"],
        exit_code=1,
        message=r"with --support, --out must end in \.html, \.pdf, \.png or \.csv",
        description="--support alone with an .svg --out",
        check=_absent("support*"),
    ),
    Case(
        name="canvas-negative-weight-zero",
        area="messages",
        argv=["journey-map", "{events}", "--canvas", "--negative-weight", "0"],
        exit_code=2,
        message=r"argument --negative-weight: expected a number > 0, got '0'",
        description="--negative-weight 0 (a negative answer must weigh something)",
    ),
    Case(
        name="canvas-setting-without-canvas",
        area="messages",
        argv=["journey-map", "{events}", "--min-customers", "50", "--out", "{tmp}/map.html"],
        exit_code=1,
        message=r"--min-customers sets how the canvas is drawn, and none was asked for: add "
        r"--canvas, --persona, --compare or --support, or leave --min-customers out",
        description="--min-customers for the plain journey map (was silently ignored)",
        check=_absent("map*"),
    ),
    Case(
        name="canvas-markup-persona-escaped",
        area="outputs",
        argv=["journey-map", "{tmp}/markup.parquet", "--canvas", "--out", "{tmp}/map.html"],
        exit_code=0,
        message=r"Personas from the column 'segment'",
        description="a persona named <script>alert(1)</script>: shown as text on the page",
        setup=_markup_persona,
        check=_markup_escaped,
    ),
    Case(
        name="canvas-support-csv-formula-segment",
        area="csv-writer",
        argv=["journey-map", "risky.csv", "--support", "--out", "support.csv"],
        exit_code=0,
        message=r"Wrote the support journey to support\.csv",
        setup=_risky_events(),
        description="the support journey's CSV with a segment named +seg",
        check=_spreadsheet_safe("support.csv"),
    ),
]
