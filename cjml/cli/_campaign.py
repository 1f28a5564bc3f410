"""The command that measures a campaign after its horizon: ``uplift``."""

from __future__ import annotations

import argparse

from cjml.cli import _help as h
from cjml.cli._shared import cli_words, inputs_of, read_log, say
from cjml.io._write import check_output

README_UPLIFT = "Control groups and measured uplift"
_REPORT_SUFFIXES = (".html", ".csv")


def _level(text: str) -> float:
    """``--level``: a coverage strictly between 0 and 1 ("0.9" or "90%")."""
    from cjml.campaign import parse_share

    try:
        return parse_share(text, "--level")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a level such as 0.9 or 90%, above 0 and below 1, got {text!r}"
        ) from None


def _cmd_uplift(args: argparse.Namespace) -> int:
    from cjml.campaign import measure_campaign, read_campaign

    campaign = read_campaign(args.manifest)  # checked before the events are read
    out = None
    if args.out is not None:
        inputs = inputs_of(
            args,
            **{
                "campaign manifest": args.manifest,
                "assignments file": campaign.path.parent
                / campaign.manifest["files"]["assignments"]["name"],
            },
        )
        out = check_output(args.out, force=args.force, suffixes=_REPORT_SUFFIXES, inputs=inputs)
    report = measure_campaign(campaign, read_log(args), level=args.level)
    say(cli_words(report.to_text()))
    if out is not None:
        if out.suffix.lower() == ".csv":
            path = report.to_csv(out, force=args.force)
        else:
            path = report.to_html(out, force=args.force)
        say(f"Wrote the report to {path}")
    return 0


def add_uplift(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "uplift",
        summary="measure what a campaign with a control group really did, after its horizon",
        description="Read the events after a campaign exported with --control (cjml score or "
        "recommend) and compare the realised drop-off of the treated customers with that of "
        "the control group within the campaign's horizon: overall, per touchpoint, per risk "
        "band and per segment, with the difference's interval (Newcombe's hybrid score "
        "interval), the number of customers treated per customer kept, the cost per customer "
        "kept when costs are known, and the reduction the recommender had predicted for the "
        "same customers. A customer dropped off when they have no event in the horizon, not "
        "counting events of the touchpoint the campaign meant for them. Refused before the "
        "horizon has passed (the message says from which date it can run), and for events of "
        "other customers.",
        examples=[
            ("uplift actions.campaign.json events_after.parquet", ""),
            (
                "uplift actions.campaign.json events/ --out uplift.html --level 0.95",
                "a page with the tables; 95% intervals",
            ),
            (
                "uplift actions.campaign.json events/ --out uplift.csv",
                "the table for a spreadsheet",
            ),
        ],
        see=README_UPLIFT,
    )
    args = p.add_argument_group("Arguments")
    args.add_argument(
        "manifest",
        metavar="MANIFEST",
        help="the campaign manifest (OUT.campaign.json, written beside the export)",
    )
    h.add_events_argument(args)
    what = p.add_argument_group("Report")
    what.add_argument(
        "--out",
        metavar="PATH",
        help="also write the report: .html (a self-contained page) or .csv (the table)",
    )
    what.add_argument(
        "--level",
        type=_level,
        default=0.9,
        metavar="LEVEL",
        help="coverage of the intervals (default 0.9)",
    )
    h.add_force_option(what, "replace an existing report file")
    h.add_input_options(p)
    h.finish_command(p).set_defaults(func=_cmd_uplift)
