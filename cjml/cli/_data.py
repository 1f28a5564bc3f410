"""The commands about the data: ``generate``, ``validate``, ``draft-map``, ``features``,
``journey-map``."""

from __future__ import annotations

import argparse
import difflib
import time
from pathlib import Path

import cjml
from cjml._map_draft import _draft_map
from cjml.cli import _help as h
from cjml.cli._shared import cli_words, inputs_of, load_bundle, read_log, say
from cjml.exceptions import CjmlError, NoSupportTicketsError
from cjml.features._attributes import attribute_record, attributes_text
from cjml.i18n import LANGUAGES, format_number, language, ngettext
from cjml.i18n import gettext as _
from cjml.io._write import TABLE_SUFFIXES, check_output, write_atomic, write_table


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
    from cjml.io._files import csv_dialect_text
    from cjml.labels import churn_advice, churn_suspects, outbound_advice, outbound_suspects

    if args.out is not None:  # refused before the reading, as every command's --out
        check_output(args.out, inputs=inputs_of(args), force=args.force, suffixes=(".parquet",))
    log = read_log(args)
    dialect = csv_dialect_text(args.events, args.encoding)
    say((f"{dialect}\n" if dialect else "") + cli_words(log.summary().to_text()))
    if args.out is not None:
        log.save(args.out, force=args.force)
        say(
            f"Wrote the checked log ({log.n_events:,} events) to {args.out}: every command "
            "reads it as it is, without --columns"
            + ("" if str(log.timezone) == "UTC" else f" or --timezone (it records {log.timezone})")
            + (
                ""
                if args.data_end is None
                else f"; it records the end of the period the events cover ({args.data_end})"
            )
        )
    sent = outbound_suspects(log)
    if len(sent):
        say(f"\nNote: {outbound_advice(sent)}")
    leaving = churn_suspects(log)
    if len(leaving):
        say(f"\nNote: {churn_advice(leaving)}")
    return 0


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "validate",
        summary="check an event log and print its summary",
        description="Read and validate an event log (CSV, Parquet, JSON Lines, Excel, or a "
        "folder of them). Prints the summary and exits 0, or prints what is wrong and how to "
        "fix it and exits 1.",
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
            (
                "validate export.jsonl --columns customer_id=userId,touchpoint=event "
                "--out events.parquet",
                "convert once: later commands read the Parquet file fast, without --columns",
            ),
        ],
        see=h.README_INPUT,
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    out = p.add_argument_group("Output")
    out.add_argument(
        "--out",
        metavar="PATH",
        default=None,
        help="also write the checked log to this .parquet file (canonical column names, in "
        "order, the stage; rows set aside left out), which every command reads fast and "
        "without --columns",
    )
    out.add_argument(
        "--data-end",
        metavar="DATE",
        help="with --out, also record when the period EVENTS cover ends, if later than their "
        "last event shows: train and evaluate then let label windows end by it",
    )
    h.add_force_option(out)
    h.add_input_options(p)
    h.finish_command(p).set_defaults(func=_cmd_validate)


# --------------------------------------------------------------------------- draft-map
_DRAFT_HEADER = """A journey map drafted by cjml draft-map from {events}.
Stages: in the order most customers first reached them; each touchpoint lists the stages
where at least {share} of its events happened. Check both, then mark the touchpoints your
business delivers with actionable = true (and a cost): the recommender chooses among those
only, and none is marked here. purchase = true marks the touchpoints taken for purchases (by
their name, e.g. payment_done, or because their events carry an amount): check them.
outbound = true marks the touchpoints that kept reaching customers long after they went silent
(logged when the business sends them, like a newsletter): their events do not count as the
customers' activity; check them too. churn = true marks those whose name says the customer
left (subscription_cancelled, account_closed): drop-off then counts them as well as silence.
channel is online or offline (from the log's most common channel). Use it with --map (in
Python: journey_map=)."""

_DRAFT_HEADER_NO_STAGES = (
    "A journey map drafted by cjml draft-map from {events} (no stage column).\n"
    """Stages: the touchpoints in the order customers first met them, cut into stages of funnel
depth, each beginning with a touchpoint at least a fifth of the customers met (never a
cancellation or a service contact such as a support ticket) and named after it. A touchpoint
belongs to its stage and every later one, so a customer's stage is the deepest reached so
far. Rename and regroup them (they are a start, not a finding), then mark the touchpoints
your business delivers with actionable = true (and a cost): the recommender chooses among
those only, and none is marked here. purchase = true marks the touchpoints taken for
purchases (by their name, e.g. payment_done, or because their events carry an amount): check
them. outbound = true marks the touchpoints that kept reaching customers long after they
went silent (logged when the business sends them, like a newsletter): their events do not
count as the customers' activity; check them too. churn = true marks those whose name says
the customer left (subscription_cancelled, account_closed): drop-off then counts them as
well as silence. channel is online or offline (from the log's most common channel). Use it
with --map (in Python: journey_map=)."""
)


def _marks_said(jmap) -> str:
    """ ", payment_done marked as a purchase, newsletter marked as outbound, ..." (the
    draft's guesses, to check), or ""."""
    said = ""
    for marked, one, many in (
        (jmap.purchase_touchpoints, "a purchase", "purchases"),
        (jmap.outbound_touchpoints, "outbound", "outbound"),
        (jmap.churn_touchpoints, "churn", "churn"),
    ):
        if marked:
            shown = ", ".join(marked[:3]) + (", ..." if len(marked) > 3 else "")
            said += f", {shown} marked as {one if len(marked) == 1 else many}"
    return said


def _cmd_draft_map(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_output(args.out, inputs=inputs_of(args), force=args.force, suffixes=(".toml",))
    jmap, has_stage_column = _draft_map(
        args.events,
        columns=args.columns,
        name=None,  # the file's name, as in Python
        min_share=args.min_share,
        n_stages=args.stages,
        milestones=args.milestones,
        timezone=args.timezone,
        timestamp_unit=args.timestamp_unit,
        drop_duplicates=args.drop_duplicates,
        missing_ids=args.missing_ids,
        encoding=args.encoding,
        on_error=args.on_error,
        touchpoint=args.touchpoint,
    )
    template = _DRAFT_HEADER if has_stage_column else _DRAFT_HEADER_NO_STAGES
    header = template.format(events=Path(args.events).name, share=f"{args.min_share:.0%}")
    text = jmap.to_toml(header)
    write_atomic(args.out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=True)
    say(
        f"Wrote a draft journey map to {args.out}: {len(jmap.stages)} stages "
        f"({' > '.join(jmap.stages)}), {len(jmap.touchpoints)} touchpoints, none actionable "
        f"yet{_marks_said(jmap)} ({time.perf_counter() - started:.1f} s). Mark the ones "
        "your business delivers with actionable = true, then pass the file with --map."
    )
    return 0


def add_draft_map(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "draft-map",
        summary="draft a journey map (TOML) from the log's own stages and touchpoints",
        description="Read an event log and write a journey map of its own vocabulary: the "
        "stages in the order most customers first reached them, each touchpoint with the "
        "stages where it happens. A log without a stage column gets stages of funnel depth, "
        "cut from the order customers first met the touchpoints (--stages). No touchpoint is "
        "marked actionable: say which ones your business delivers, then pass the file with "
        "--map.",
        examples=[
            (
                "draft-map crm_export.csv --columns customer_id=user,timestamp=event_time,"
                "touchpoint=action,stage=phase --out saas.toml",
                "your column names",
            ),
            (
                "draft-map clicks.csv --columns customer_id=user_id,touchpoint=event --stages 4 "
                "--out shop.toml",
                "no stage column: four stages of funnel depth",
            ),
            (
                "draft-map clicks.csv --columns customer_id=user_id,touchpoint=event "
                "--milestones cart,purchase --out shop.toml",
                "or your own: three stages, the second from cart, the third from purchase",
            ),
            ("train crm_export.csv --map saas.toml --out models/saas.cjml", "then use it"),
        ],
        see=h.README_INPUT,
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .toml")
    draft = p.add_argument_group("Draft")
    draft.add_argument(
        "--min-share",
        type=float,
        default=0.01,
        metavar="SHARE",
        help="list a stage for a touchpoint when at least this share of its events "
        "happened in it (default 0.01)",
    )
    draft.add_argument(
        "--stages",
        type=int,
        default=None,
        metavar="N",
        help="for a log without a stage column: how many stages of funnel depth to draft "
        "from the order customers first met the touchpoints (default 4)",
    )
    draft.add_argument(
        "--milestones",
        metavar="NAME,...",
        help="for a log without a stage column: the touchpoints that begin each stage after "
        "the first, in journey order, e.g. cart,purchase (instead of --stages)",
    )
    out = p.add_argument_group("Output")
    h.add_force_option(out)
    h.add_input_options(p, journey_map=False, rejects=False)
    h.finish_command(p).set_defaults(func=_cmd_draft_map)


# --------------------------------------------------------------------------- features
def _cmd_features(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_output(args.out, inputs=inputs_of(args), force=args.force, suffixes=TABLE_SUFFIXES)
    log = read_log(args)
    chosen = {} if args.families is None else {"families": args.families}
    if args.attributes is not None:
        chosen["attributes"] = args.attributes
    featurizer = cjml.JourneyFeaturizer(n_jobs=args.jobs, **chosen)
    rows = 0

    def pieces():  # each part is written while the next is computed
        nonlocal rows
        for part in featurizer.fit_transform_parts(log, args.cutoff):
            rows += len(part)
            yield part.reset_index()

    write_table(pieces(), args.out, force=args.force)
    when = args.cutoff if args.cutoff is not None else "the end of the log"
    say(
        f"Wrote features of {rows:,} customers x {len(featurizer.feature_names_out_)} columns "
        f"at {when} to {args.out} ({time.perf_counter() - started:.1f} s)"
    )
    record = attribute_record(featurizer)
    said = record and attributes_text(record["used"], record["left_out"], command_line=True)
    if said:
        say(said)
    return 0


def add_features(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "features",
        summary="write one feature row per customer at a cutoff",
        description="Compute the default feature set (JourneyFeaturizer) of every customer "
        "with events at or before the cutoff, using only those events, and write "
        "it with the customer id to Parquet or CSV; --families picks the families.",
        examples=[
            ("features journeys.parquet --cutoff 2024-06-01 --out features.parquet", ""),
            (
                "features events.csv --out features.csv --jobs 2",
                "at the last event, on two threads",
            ),
            (
                "features journeys.parquet --families activity,touchpoints,value "
                "--out core.parquet",
                "three families only",
            ),
        ],
        see="Features",
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .parquet or .csv")
    feat = p.add_argument_group("Features")
    h.add_cutoff_option(feat, "date (UTC unless it has an offset); default: the log's last event")
    feat.add_argument(
        "--families",
        type=h.feature_families,
        metavar="NAME,...",
        help="the feature families to compute, in this order (default: every family but "
        "btyd: activity, touchpoints, stages, sequences, experience, support, value, "
        "memory, attributes)",
    )
    h.add_attributes_option(feat)
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
#: What ``--out`` may end in: the map alone, the canvases (pictures), the support journey alone.
MAP_SUFFIXES = (".html", ".csv")
CANVAS_SUFFIXES = (".html", ".pdf", ".png", ".svg")
SUPPORT_SUFFIXES = (".html", ".pdf", ".png", ".csv")
#: The column the personas come from when --canvas is given without --by (when the events have it).
DEFAULT_PERSONA_COLUMN = "segment"


def _check_suffix(out: Path, *, canvas: bool, support: bool) -> None:
    """``--out``'s suffix, refused (before any work) when the requested output cannot be it."""
    suffix = out.suffix.lower()
    shown = suffix or "(no suffix)"
    if canvas and suffix not in CANVAS_SUFFIXES:
        raise CjmlError(
            f"Cannot write {str(out)!r}: with --canvas, --out must end in .html (one page), "
            f".pdf (one A4 page per canvas), .png or .svg (one file per canvas), not {shown!r}; "
            "the support journey's tables are written by --support alone with a .csv --out."
        )
    if support and not canvas and suffix not in SUPPORT_SUFFIXES:
        raise CjmlError(
            f"Cannot write {str(out)!r}: with --support, --out must end in .html, .pdf, .png "
            f"or .csv (the support journey's tables), not {shown!r}."
        )
    if not canvas and not support and suffix not in MAP_SUFFIXES:
        raise CjmlError(
            f"Cannot write {str(out)!r}: --out must end in .html (page with tables "
            f"and plots) or .csv (the stage table), not {shown!r}; add --canvas for "
            ".pdf, .png or .svg."
        )


def _resolve_personas(report, names: list[str], option: str) -> list:
    """The report's personas named on the command line (as text), in the order given.

    A name is matched to a persona by its text, so ``--persona 3`` finds the persona 3 of an
    integer column; an unknown name is refused with the known ones.
    """
    by = report.info.get("by")
    if by is None:
        raise CjmlError(
            f"{option} needs personas, and the journey map has none: the events have no "
            f"{DEFAULT_PERSONA_COLUMN!r} column; pass --by COLUMN (e.g. --by segment) to "
            "choose the column the personas come from."
        )
    known = {str(p): p for p in report.personas}
    found = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise CjmlError(
                f"Unknown persona {name!r} in {option}: the personas of {by!r} are "
                f"{', '.join(repr(k) for k in known) or '(none)'}.{hint}"
            )
        found.append(known[name])
    return found


def _persona_names(values: list[str], known: list) -> list[str]:
    """--persona's names, in order, without repeats: each value is a comma list, but a value
    that is itself a persona's name is kept whole (a name may hold a comma)."""
    texts = {str(p) for p in known}
    names: list[str] = []
    for value in values:
        parts = [value.strip()] if value.strip() in texts else value.split(",")
        names += [n.strip() for n in parts if n.strip() and n.strip() not in names]
    return names


def _check_settings(args: argparse.Namespace, *, canvas: bool) -> None:
    """Refuse --negative-weight and --min-customers where nothing uses them (the plain map)."""
    for option, value, used, needs in (
        ("--negative-weight", args.negative_weight, canvas, "--canvas, --persona or --compare"),
        (
            "--min-customers",
            args.min_customers,
            canvas or args.support,
            "--canvas, --persona, --compare or --support",
        ),
    ):
        if value is not None and not used:
            raise CjmlError(
                f"{option} sets how the canvas is drawn, and none was asked for: add {needs}, "
                f"or leave {option} out."
            )


def _cmd_journey_map(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    canvas = bool(args.canvas or args.persona or args.compare)
    out = Path(args.out) if args.out is not None else None
    if out is not None:
        _check_suffix(out, canvas=canvas, support=args.support)
        check_output(out, inputs=inputs_of(args, model=args.model), force=args.force)  # first
    _check_settings(args, canvas=canvas)
    if args.compare and args.compare[0] == args.compare[1]:
        raise CjmlError(
            f"--compare needs two different personas, got {args.compare[0]!r} twice; "
            "e.g. --compare deal_seeker regular."
        )
    with language(args.lang, currency=args.currency):  # a bad --currency stops before any work
        pass
    bundle = load_bundle(args) if args.model else None
    log = read_log(args, journey_map=None if bundle is None else bundle.journey_map, bundle=bundle)
    by, by_default = args.by, False
    if by is None and (canvas or args.support) and DEFAULT_PERSONA_COLUMN in log.frame.columns:
        by, by_default = DEFAULT_PERSONA_COLUMN, True
    # the settings given (the library's defaults otherwise): the canvas's, the support journey's
    few = {} if args.min_customers is None else {"min_customers": args.min_customers}
    weight = {} if args.negative_weight is None else {"negative_weight": args.negative_weight}
    extra = {**weight, **few} if canvas else {}
    report = cjml.journey_map(log, bundle, by=by, cutoff=args.cutoff, horizon=args.horizon, **extra)
    canvases, comparisons = _canvases(report, args) if canvas else ([], [])
    support = no_tickets = None
    if args.support or args.canvas:  # the whole map comes with its support journey
        try:
            support = cjml.support_journey(
                log,
                bundle,
                by=by,
                cutoff=report.info["cutoff"],
                horizon=report.info["horizon"],
                **few,
            )
        except NoSupportTicketsError as err:
            if args.support:  # asked for by itself: nothing else to write
                raise
            no_tickets = err  # many journeys have none: the canvases go on without it
    with language(args.lang, currency=args.currency):  # the files' and the summary's words
        if by_default and report.personas:
            say(
                _(
                    "Personas from the column {column} ({n}): {names}; pass --by COLUMN "
                    "for another."
                ).format(
                    column=repr(by),
                    n=format_number(len(report.personas)),
                    names=", ".join(str(p) for p in report.personas),
                )
            )
        if args.canvas and by is None:
            say(
                _(
                    "The events have no persona column: one canvas, for all customers; pass "
                    "--by COLUMN for one per persona."
                )
            )
        if no_tickets is not None:
            say(
                _(
                    "These events hold no support tickets ({touchpoints}), so the canvases "
                    "come without the support journey."
                ).format(touchpoints=", ".join(no_tickets.opened))
            )
        if out is None:
            _print_journey_map(report, canvases, comparisons, support)
        elif canvas or support is not None:
            paths = _write_pictures(out, canvases, comparisons, support, force=args.force)
            seconds = time.perf_counter() - started
            say(_written(canvases, comparisons, support, paths, seconds))
        else:
            if out.suffix.lower() == ".html":
                report.to_html(out, force=args.force)
            else:
                report.to_csv(out, force=args.force)  # machine-readable: English columns
            say(report.to_text())
            groups = ""
            if by and report.group_stages is not None:
                groups = f", {report.group_stages[by].nunique(dropna=False)} groups of {by!r}"
            say(
                f"Wrote the journey map ({len(report.stages)} stages{groups}) to {out} "
                f"({time.perf_counter() - started:.1f} s)"
            )
    return 0


def _canvases(report, args: argparse.Namespace) -> tuple[list, list]:
    """The canvases and comparisons --canvas, --persona and --compare ask for.

    --canvas alone: all customers, then every persona; --persona: only those; --compare
    alone: the two personas' canvases beside their comparison.
    """
    compared = _resolve_personas(report, list(args.compare), "--compare") if args.compare else []
    if args.persona:
        names = _persona_names(args.persona, report.personas)
        personas = _resolve_personas(report, names, "--persona")
    elif args.canvas:
        personas = [None, *report.personas]
    else:
        personas = compared
    canvases = [report.canvas(p) for p in personas]
    comparisons = [report.compare(compared[0], compared[1])] if compared else []
    return canvases, comparisons


def _write_pictures(out: Path, canvases: list, comparisons: list, support, *, force: bool):
    """Write the canvases (with the comparisons and the support journey) or the support
    journey alone; the files written."""
    if canvases or comparisons:
        from cjml.canvas import write_canvases

        return write_canvases(canvases, out, force=force, support=support, comparisons=comparisons)
    if out.suffix.lower() == ".csv":
        return [support.to_csv(out, force=force)]  # machine-readable: English columns
    return [support.save(out, force=force)]


def _print_journey_map(report, canvases: list, comparisons: list, support) -> None:
    """The text forms, for a terminal (no --out): the canvases, comparisons and support
    journey asked for, else the journey map's summary."""
    blocks = [c.to_text() for c in canvases] + [c.to_text() for c in comparisons]
    if support is not None:
        blocks.append(support.to_text())
    say("\n\n".join(blocks) if blocks else report.to_text())


def _written(canvases: list, comparisons: list, support, paths: list, seconds: float) -> str:
    """The line that says what was written where."""
    values = {
        "n": format_number(len(canvases)),
        "files": ", ".join(str(p) for p in paths),
        "seconds": format_number(seconds, 1),
    }
    n = len(canvases)
    if not canvases and not comparisons:
        text = _("Wrote the support journey to {files} ({seconds} s)")
    elif comparisons and support is not None:
        text = ngettext(
            "Wrote {n} canvas, the comparison and the support journey to {files} ({seconds} s)",
            "Wrote {n} canvases, the comparison and the support journey to {files} ({seconds} s)",
            n,
        )
    elif comparisons:
        text = ngettext(
            "Wrote {n} canvas and the comparison to {files} ({seconds} s)",
            "Wrote {n} canvases and the comparison to {files} ({seconds} s)",
            n,
        )
    elif support is not None:
        text = ngettext(
            "Wrote {n} canvas and the support journey to {files} ({seconds} s)",
            "Wrote {n} canvases and the support journey to {files} ({seconds} s)",
            n,
        )
    else:
        text = ngettext(
            "Wrote {n} canvas to {files} ({seconds} s)",
            "Wrote {n} canvases to {files} ({seconds} s)",
            n,
        )
    return text.format(**values)


def _default(name: str):
    """A default of :func:`cjml.journey_map` (the one home of the canvas's settings)."""
    import inspect

    from cjml.analytics import journey_map

    return inspect.signature(journey_map).parameters[name].default


def add_journey_map(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "journey-map",
        summary="write the data-driven journey map, its canvases and the support journey",
        description="Describe each journey stage from the events: customers who reached it, "
        "conversion, drop-off, median time in stage, top touchpoints, satisfaction "
        "and NPS; with --model, the missing touchpoints (high estimated risk "
        "reduction, low current use). Writes an HTML page with the tables, a funnel "
        "and a flow plot, or the stage table as CSV.\n\n"
        "With --canvas, draws the journey-map canvas instead, one per persona and one for "
        "all customers: stages as columns and five rows under them (what customers do, how "
        "they feel, the pain points, the missing touchpoints, time and flow), as one HTML "
        "page, a PDF (one A4 landscape page per canvas) or one PNG or SVG file per canvas. "
        "The whole map (--canvas) comes with the support journey: from ticket opened to "
        "resolved, and churn after. --persona draws only some personas' canvases, --compare "
        "two side by side, --support only the support journey. Without --out, prints the "
        "text forms.",
        examples=[
            ("journey-map journeys.parquet --out map.html", ""),
            (
                "journey-map journeys.parquet --model models/journeys.cjml --by segment "
                "--out map.html",
                "one map per segment, with the missing touchpoints",
            ),
            (
                "journey-map journeys.parquet --model models/journeys.cjml --canvas "
                "--out canvas.html",
                "a canvas per persona (segment) and the support journey, on one page",
            ),
            (
                "journey-map journeys.parquet --model models/journeys.cjml --persona "
                "deal_seeker --out canvas.png",
                "one persona's canvas as a picture",
            ),
            (
                "journey-map journeys.parquet --compare deal_seeker regular",
                "the differences between two personas, printed",
            ),
            ("journey-map journeys.parquet --support --out support.csv", ""),
            ("journey-map events.csv --horizon 8W --cutoff 2024-06-01 --out stages.csv", ""),
            ("journey-map journeys.parquet --lang vi --out map.vi.html", "in Vietnamese"),
        ],
        see="The data-driven journey map",
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    jm = p.add_argument_group("Journey map")
    jm.add_argument(
        "--model",
        metavar="PATH",
        help="bundle file written by cjml train, for the missing touchpoints",
    )
    jm.add_argument(
        "--by",
        metavar="COLUMN",
        help="split the map by a column of the events, e.g. segment (with --canvas or "
        f"--support, default {DEFAULT_PERSONA_COLUMN} when the events have it)",
    )
    h.add_cutoff_option(jm, "use events up to this date (default: the end of the log's last day)")
    jm.add_argument(
        "--horizon",
        type=h.duration,
        metavar="DURATION",
        help="silence that counts as dropping off, e.g. 30D or 4W (default: the "
        "model's horizon, or 30D)",
    )
    cv = p.add_argument_group("Canvas and support journey")
    cv.add_argument(
        "--canvas",
        action="store_true",
        help="draw the journey-map canvas, one for all customers and one per persona, and "
        "the support journey",
    )
    cv.add_argument(
        "--persona",
        action="append",
        metavar="NAME",
        help="only this persona's canvas (a value of --by); repeat it or give a comma list "
        "(implies --canvas)",
    )
    cv.add_argument(
        "--compare",
        nargs=2,
        metavar="NAME",
        help="two personas side by side, with the differences that matter in words "
        "(implies --canvas)",
    )
    cv.add_argument(
        "--support",
        action="store_true",
        help="the support journey (from ticket opened to resolved): alone, only it (.csv: "
        "its steps, one row per persona); with --persona or --compare, added to their output",
    )
    cv.add_argument(
        "--negative-weight",
        type=h.positive_number,
        metavar="WEIGHT",
        help="how many positive answers one negative one weighs like in the emotion curve "
        f"(default {_default('negative_weight'):g})",
    )
    cv.add_argument(
        "--min-customers",
        type=h.positive_int,
        metavar="N",
        help="cells with fewer customers behind them are greyed and say so (default "
        f"{_default('min_customers')})",
    )
    out = p.add_argument_group("Output")
    out.add_argument(
        "--out",
        metavar="PATH",
        help="output .html or .csv; with --canvas .html, .pdf, .png or .svg; with --support "
        "alone .html, .pdf, .png or .csv (default: print the text forms)",
    )
    out.add_argument(
        "--lang",
        choices=sorted(LANGUAGES),
        default="en",
        help="the language of the HTML page, the pictures and the printed summary (default "
        "en; vi is Vietnamese); the CSV stays English",
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
