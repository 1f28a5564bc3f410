"""The commands about the data: ``generate``, ``validate``, ``features``, ``journey-map``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cjml
from cjml.cli import _help as h
from cjml.cli._shared import inputs_of, load_bundle, read_log, say
from cjml.exceptions import CjmlError
from cjml.i18n import LANGUAGES, language
from cjml.io._write import TABLE_SUFFIXES, check_output, write_table


# --------------------------------------------------------------------------- generate
def _cmd_generate(args: argparse.Namespace) -> int:
    from cjml import datasets

    if args.sample:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise CjmlError(
                f"Cannot write the sample into {str(out)!r}: it is a file, and "
                "with --sample, --out names a folder. Choose a folder."
            )
        targets = [out / "sample_events.parquet", out / "sample_truth.parquet"]
        existing = [str(p) for p in targets if p.exists()]
        if existing and not args.force:
            raise CjmlError(
                f"{existing} already exist(s) and were left untouched; pass --force "
                "to rebuild the sample over them."
            )
        paths = datasets.write_sample(out)
        say(
            f"Wrote the sample ({datasets.SAMPLE_PARAMS['n_customers']:,} customers, seed "
            f"{datasets.SAMPLE_PARAMS['random_state']}) to {paths[0]} and {paths[1]}"
        )
        return 0
    cutoffs = [c.strip() for c in (args.truth_cutoffs or "").split(",") if c.strip()]
    truth = cutoffs or ("last" if args.truth else None)
    out = Path(args.out)
    truth_path = out.with_name(f"{out.stem}_truth{out.suffix}") if truth else None
    # refuse before simulating, not after
    for path in (out, truth_path):
        if path is not None:
            check_output(path, force=args.force, suffixes=TABLE_SUFFIXES)
    started = time.perf_counter()
    data = datasets.make_journeys(
        args.n_customers,
        n_days=args.days,
        start=args.start,
        truth_cutoffs=truth,
        horizon_days=args.horizon,
        random_state=args.seed,
    )
    write_table(data.events, out, force=args.force)
    say(
        f"Wrote {len(data.events):,} events of {args.n_customers:,} customers to {out} "
        f"({time.perf_counter() - started:.1f} s, seed {args.seed})"
    )
    if truth_path is not None:
        write_table(data.truth, truth_path, force=args.force)
        say(
            f"Wrote ground truth at {', '.join(data.params['truth_cutoffs'])} "
            f"(horizon {args.horizon} days) to {truth_path}"
        )
    return 0


def add_generate(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "generate",
        summary="simulate customer journeys (and their ground truth)",
        description="Simulate touchpoint histories with the journey simulator, and with "
        "--truth the true drop-off risk of every customer with and without each "
        "touchpoint. The same --seed always gives the same file.",
        examples=[
            (
                "generate --n-customers 5000 --seed 1 --out journeys.parquet --truth",
                "events, and the ground truth in journeys_truth.parquet",
            ),
            (
                "generate --out journeys.csv --days 365 --truth-cutoffs "
                "2024-06-01,2024-09-01 --horizon 8W",
                "truth at two cutoffs, 56 days ahead",
            ),
            ("generate --sample --out data --force", "rebuild the bundled sample"),
        ],
        see="The simulator and its ground truth",
    )
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .parquet or .csv (with --sample: a folder)")
    sim = p.add_argument_group("Simulation")
    sim.add_argument(
        "--n-customers",
        type=h.positive_int,
        default=2000,
        metavar="N",
        help="number of customers (default 2000)",
    )
    # the old spelling, kept working: --customers names a file of ids everywhere else
    sim.add_argument(
        "--customers",
        type=h.positive_int,
        dest="n_customers",
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )
    sim.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    sim.add_argument(
        "--days", type=h.positive_int, default=240, metavar="N", help="days simulated (default 240)"
    )
    sim.add_argument(
        "--start", default="2024-01-01", metavar="DATE", help="first day, UTC (default 2024-01-01)"
    )
    sim.add_argument(
        "--sample",
        action="store_true",
        help="rebuild the bundled sample (fixed parameters) into the --out folder",
    )
    truth = p.add_argument_group("Ground truth")
    truth.add_argument(
        "--truth",
        action="store_true",
        help="also write ground truth to OUT_truth.SUFFIX (at the last possible "
        "cutoff unless --truth-cutoffs is given)",
    )
    truth.add_argument(
        "--truth-cutoffs",
        metavar="DATE,...",
        help="comma-separated cutoff dates for the ground truth",
    )
    truth.add_argument(
        "--horizon",
        type=h.whole_days,
        default=30,
        metavar="DURATION",
        help="prediction horizon of the ground truth in whole days, e.g. 30D or "
        "4W (a plain number is days; default 30D)",
    )
    out = p.add_argument_group("Output")
    h.add_force_option(out, "replace existing output files")
    h.finish_command(p).set_defaults(func=_cmd_generate)


# --------------------------------------------------------------------------- validate
def _cmd_validate(args: argparse.Namespace) -> int:
    say(read_log(args).summary().to_text())
    return 0


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "validate",
        summary="check an event log and print its summary",
        description="Read and validate an event log (CSV, Parquet, or a folder of them). "
        "Prints the summary and exits 0, or prints what is wrong and how to fix it "
        "and exits 1.",
        examples=[
            ("validate journeys.parquet", ""),
            (
                "validate my_crm_export.csv --columns "
                "customer_id=user,timestamp=event_time,touchpoint=action",
                "your column names",
            ),
            (
                "validate events/ --map saas.toml --timezone Europe/Paris",
                "a folder of files, your journey map, local times",
            ),
        ],
        see=h.README_INPUT,
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    h.add_input_options(p)
    h.finish_command(p).set_defaults(func=_cmd_validate)


# --------------------------------------------------------------------------- features
def _cmd_features(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_output(args.out, inputs=inputs_of(args), force=args.force, suffixes=TABLE_SUFFIXES)
    log = read_log(args)
    featurizer = cjml.JourneyFeaturizer(n_jobs=args.jobs).fit(log, cutoff=args.cutoff)
    features = featurizer.transform(log, cutoff=args.cutoff)
    write_table(features.reset_index(), args.out, force=args.force)
    when = args.cutoff if args.cutoff is not None else "the end of the log"
    say(
        f"Wrote features of {len(features):,} customers x {features.shape[1]} columns at "
        f"{when} to {args.out} ({time.perf_counter() - started:.1f} s)"
    )
    return 0


def add_features(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "features",
        summary="write one feature row per customer at a cutoff",
        description="Compute the default feature set (JourneyFeaturizer) of every customer "
        "with events at or before the cutoff, using only those events, and write "
        "it with the customer id to Parquet or CSV.",
        examples=[
            ("features journeys.parquet --cutoff 2024-06-01 --out features.parquet", ""),
            (
                "features events.csv --out features.csv --jobs 2",
                "at the last event, on two threads",
            ),
        ],
        see="Features",
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .parquet or .csv")
    feat = p.add_argument_group("Features")
    h.add_cutoff_option(feat, "date (UTC unless it has an offset); default: the log's last event")
    out = p.add_argument_group("Output and performance")
    h.add_force_option(out)
    h.add_jobs_option(
        out,
        "threads computing the feature families side by side (default: "
        "the cores, at most 4, from 200,000 events; one below)",
    )
    h.add_input_options(p)
    h.finish_command(p).set_defaults(func=_cmd_features)


# --------------------------------------------------------------------------- journey-map
def _cmd_journey_map(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".csv"):
        raise CjmlError(
            f"Cannot write {str(out)!r}: --out must end in .html (page with tables "
            f"and plots) or .csv (the stage table), not {suffix or '(no suffix)'!r}."
        )
    check_output(out, inputs=inputs_of(args, model=args.model), force=args.force)  # first
    with language(args.lang, currency=args.currency):  # a bad --currency stops before any work
        pass
    bundle = load_bundle(args) if args.model else None
    log = read_log(args, journey_map=None if bundle is None else bundle.journey_map)
    report = cjml.journey_map(log, bundle, by=args.by, cutoff=args.cutoff, horizon=args.horizon)
    with language(args.lang, currency=args.currency):  # the page's and the summary's words
        if suffix == ".html":
            report.to_html(out, force=args.force)
        else:
            report.to_csv(out, force=args.force)  # machine-readable: English columns
        say(report.to_text())
    groups = ""
    if args.by and report.group_stages is not None:
        groups = f", {report.group_stages[args.by].nunique(dropna=False)} groups of {args.by!r}"
    say(
        f"Wrote the journey map ({len(report.stages)} stages{groups}) to {out} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def add_journey_map(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "journey-map",
        summary="write the data-driven journey map (HTML or CSV)",
        description="Describe each journey stage from the events: customers who reached it, "
        "conversion, drop-off, median days in stage, top touchpoints, satisfaction "
        "and NPS; with --model, the missing touchpoints (high estimated risk "
        "reduction, low current use). Writes an HTML page with the tables, a funnel "
        "and a flow plot, or the stage table as CSV.",
        examples=[
            ("journey-map journeys.parquet --out map.html", ""),
            (
                "journey-map journeys.parquet --model models/journeys.cjml --by segment "
                "--out map.html",
                "one map per segment, with the missing touchpoints",
            ),
            ("journey-map events.csv --horizon 8W --cutoff 2024-06-01 --out stages.csv", ""),
            ("journey-map journeys.parquet --lang vi --out map.vi.html", "in Vietnamese"),
        ],
        see="The data-driven journey map",
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .html or .csv")
    jm = p.add_argument_group("Journey map")
    jm.add_argument(
        "--model",
        metavar="PATH",
        help="bundle file written by cjml train, for the missing touchpoints",
    )
    jm.add_argument(
        "--by", metavar="COLUMN", help="split the map by a column of the events, e.g. segment"
    )
    h.add_cutoff_option(jm, "use events up to this date (default: the end of the log's last day)")
    jm.add_argument(
        "--horizon",
        type=h.duration,
        metavar="DURATION",
        help="silence that counts as dropping off, e.g. 30D or 4W (default: the "
        "model's horizon, or 30D)",
    )
    out = p.add_argument_group("Output")
    out.add_argument(
        "--lang",
        choices=sorted(LANGUAGES),
        default="en",
        help="the language of the HTML page and the printed summary (default en; vi is "
        "Vietnamese); the CSV stays English",
    )
    out.add_argument(
        "--currency",
        metavar="CODE",
        help="ISO 4217 code of the amounts, for the values with --model, e.g. EUR "
        "(default USD, VND with --lang vi)",
    )
    h.add_force_option(out)
    h.add_trust_option(p.add_argument_group("Trust"))
    h.add_input_options(p)
    h.finish_command(p).set_defaults(func=_cmd_journey_map)
