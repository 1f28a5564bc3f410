"""The commands that act on a trained bundle: ``score`` and ``recommend``."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import cjml
import cjml.scoring
from cjml.cli import _help as h
from cjml.cli._shared import cli_words, inputs_of, load_bundle, read_log, say, show_progress
from cjml.exceptions import CampaignError
from cjml.i18n import format_number
from cjml.i18n import gettext as _
from cjml.io._write import TABLE_SUFFIXES, check_output, write_table
from cjml.recommend import METHODS, RANK_BY
from cjml.scoring import ScoreSummary


# --------------------------------------------------------------------------- control group
def _share(text: str) -> float:
    """``--control``: "10%" or "0.1", checked as export_campaign reads it."""
    from cjml.campaign import parse_share

    try:
        return parse_share(text, "--control")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a share such as 10% or 0.1, above 0 and below 1, got {text!r}"
        ) from None


def _seed(text: str) -> int:
    """``--seed``: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def add_control_options(p: argparse.ArgumentParser) -> None:
    """``--control``, ``--campaign-id`` and ``--seed`` (score and recommend)."""
    group = p.add_argument_group("Control group")
    group.add_argument(
        "--control",
        type=_share,
        metavar="SHARE",
        help="hold out this share of the customers with a recommended touchpoint as a "
        "random control group, e.g. 10%% or 0.1, within each touchpoint and risk band: "
        "they stay in --out with arm = control and no touchpoint; the assignments "
        "(OUT.assignments.parquet) and the campaign manifest (OUT.campaign.json, never "
        "overwritten, even with --force) are written beside it, for cjml uplift",
    )
    group.add_argument(
        "--campaign-id",
        metavar="ID",
        help="with --control: the campaign's id (default: the cutoff date and 6 random hex "
        "digits, e.g. 2024-06-01-a3f9c2)",
    )
    group.add_argument(
        "--seed",
        type=_seed,
        metavar="N",
        help="with --control: the seed of the random assignment (default: a fresh one); "
        "recorded in the manifest either way",
    )


def _check_control(args: argparse.Namespace, inputs: dict) -> None:
    """Before any work: the campaign options fit together and no campaign is overwritten."""
    from cjml.campaign import manifest_path

    if args.control is None:
        for option, value in (("--campaign-id", args.campaign_id), ("--seed", args.seed)):
            if value is not None:
                raise CampaignError(
                    f"{option} only applies with a control group: add --control 10% (or "
                    f"another share), or leave {option} out."
                )
        return
    if getattr(args, "no_recommend", False):
        raise CampaignError("--control needs the recommendation columns: leave out --no-recommend.")
    if getattr(args, "resume", False):
        raise CampaignError(
            "--resume cannot be combined with --control: a campaign is scored and exported "
            "in one run. Finish the interrupted run without --control, or start afresh with "
            "--control and a new --out."
        )
    record = manifest_path(args.out)
    if record.exists():
        raise CampaignError(
            f"A campaign was already exported to {args.out!r}: its manifest {str(record)!r} "
            "exists. A campaign is a record and is never overwritten, even with --force. "
            "Choose another --out for the new campaign."
        )
    check_output(args.out, force=args.force, suffixes=TABLE_SUFFIXES, inputs=inputs)


def _export(args: argparse.Namespace, frame: pd.DataFrame, cutoff, rules, bundle) -> None:
    """Write the export with its control group, and say where and how many per arm."""
    from cjml.campaign import export_campaign

    chosen = frame["recommended_touchpoint"] if "recommended_touchpoint" in frame else None
    if chosen is None or not chosen.notna().any():
        # nobody to treat or hold out: the list is written as without --control, and no
        # campaign is recorded (there would be nothing to measure)
        warnings.warn(
            "No customer has a recommended touchpoint, so no control group was drawn and no "
            f"campaign was recorded; {args.out!r} is written as without --control.",
            UserWarning,
            stacklevel=2,
        )
        table = frame.reset_index() if frame.index.name == "customer_id" else frame
        path = write_table(table, args.out, force=args.force)
        say(f"Wrote {len(frame):,} customers to {path}")
        return
    if not args.trust_pickle:  # the path: the manifest records the file's sha256 too
        bundle = args.model
    campaign = export_campaign(
        frame,
        args.out,
        control=args.control,
        seed=args.seed,
        campaign_id=args.campaign_id,
        bundle=bundle,
        cutoff=cutoff,
        rules=rules,
        force=args.force,
    )
    say(cli_words(campaign.to_text()))


# --------------------------------------------------------------------------- score
def _cmd_score(args: argparse.Namespace) -> int:
    inputs = inputs_of(
        args, model=args.model, **{"customer list": args.customers, "rules file": args.rules}
    )
    _check_control(args, inputs)
    # A trusted pickle is loaded here, with its warning; a safe bundle is loaded by score()
    # With a control group the scores stay in memory: the export is written with its arms
    bundle = load_bundle(args) if args.trust_pickle else args.model
    result = cjml.score(
        bundle,
        args.events,
        customers=args.customers,
        cutoff=args.cutoff,
        top_k=args.top_k,
        out=None if args.control is not None else args.out,
        force=args.force,
        resume=args.resume,
        on_error=args.on_error,
        engine=args.engine,
        scheduler=args.scheduler,
        risk_bands=args.risk_bands,
        drivers=not args.no_drivers,
        recommend=not args.no_recommend,
        rules=args.rules,
        columns=args.columns,
        timezone=args.timezone,
        timestamp_unit=args.timestamp_unit,
        drop_duplicates=args.drop_duplicates,
        chunk_events=args.chunk_events,
        compile=args.compile,
        n_jobs=args.jobs,
        progress=show_progress(args),
        missing_ids=args.missing_ids,
        encoding=args.encoding,
        include_inactive=args.include_inactive,
        horizons=args.horizons,
        touchpoint=args.touchpoint,
    )
    if args.control is None:
        say(cli_words(result.to_text()))
        return 0
    summary = ScoreSummary.from_dict(result.attrs["summary"])
    rejects = result.attrs.get("rejects")
    if rejects and args.on_error == "quarantine":
        from cjml.scoring._options import _rejects_path

        write_table(pd.DataFrame(rejects), _rejects_path(Path(args.out)), force=args.force)
    say(cli_words(summary.to_text()))
    _export(args, result, summary.cutoff, args.rules, bundle)
    return 0


def _horizons(text: str) -> str:
    """``--horizons``: whole days separated by commas, checked as score() reads them (a bad
    one is a usage error naming the option); returned as given."""
    from cjml.scoring._options import _parse_horizons

    try:
        _parse_horizons(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_score(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "score",
        summary="score every customer (risk, next stage, drivers, recommended "
        "touchpoints) to Parquet or CSV",
        description="Score every customer of the events (or of --customers) with a trained "
        "bundle at one cutoff, streaming the input in customer-complete chunks, and "
        "write one row per customer: churn_risk (and churn_risk_7d... with --horizons), "
        "risk_band, next_stage, next_stage_proba, top_drivers, recommended_touchpoint, "
        "reach_probability, expected_risk_reduction (and ranks 2..N of --top-k), status; "
        "with a bundle that has a value model (events with amounts), also expected_value "
        "(with its interval), value_at_risk and expected_value_saved. "
        "Only scored customers are written, unless --include-inactive. An interrupted run "
        "continues with --resume.",
        examples=[
            ("score models/journeys.cjml journeys.parquet --out scores.parquet", ""),
            (
                "score models/journeys.cjml events/ --out vip.csv --customers vip_list.csv "
                "--cutoff 2024-06-01 --on-error quarantine",
                "listed customers only; invalid rows to vip.rejects.csv",
            ),
            (
                "score models/journeys.cjml journeys.parquet --out scores.parquet "
                "--horizons 7D,30D,90D",
                "the churn risk within 7, 30 and 90 days too",
            ),
            (
                "score models/journeys.cjml journeys.parquet --out scores.parquet --resume",
                "continue an interrupted run",
            ),
            (
                "score models/journeys.cjml /shared/events/ --out scores.parquet --engine "
                "dask --scheduler tcp://scheduler-host:8786",
                "on a Dask cluster",
            ),
        ],
        see=h.README_SCORING,
    )
    args = p.add_argument_group("Arguments")
    h.add_model_argument(args)
    h.add_events_argument(args)
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .parquet or .csv")
    what = p.add_argument_group("Scoring")
    h.add_customers_option(what, "score only these customers")
    h.add_cutoff_option(
        what,
        "score as of this date (UTC unless it has an offset); default: the last event of the input",
    )
    h.add_top_k_option(what)
    h.add_rules_option(what, extra="; a budget holds over the whole run, not per chunk")
    what.add_argument(
        "--horizons",
        type=_horizons,
        metavar="DURATION,...",
        help="also the churn risk within each of these horizons, from the bundle's survival "
        "model, e.g. 7D,30D,90D (whole days): columns churn_risk_7d... right after "
        "churn_risk, the bundle's own horizon equal to churn_risk",
    )
    what.add_argument(
        "--risk-bands",
        metavar="BAND=RISK,...",
        help="bands by lowest risk, e.g. low=0,medium=0.2,high=0.5,very high=0.8 (the default)",
    )
    what.add_argument("--no-drivers", action="store_true", help="leave top_drivers empty (faster)")
    what.add_argument(
        "--no-recommend",
        action="store_true",
        help="leave the recommendation columns empty (faster)",
    )
    run = p.add_argument_group("Output and run")
    run.add_argument(
        "--include-inactive",
        action="store_true",
        help="also write the customers not scored (inactive, or without events), after "
        "the scored ones, with empty scores",
    )
    run.add_argument(
        "--on-error",
        choices=["raise", "quarantine"],
        default="raise",
        help="invalid rows stop the run (default), or go to OUT.rejects.SUFFIX",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run of --out from its last finished chunk",
    )
    h.add_force_option(run, "replace an existing output, or start an unfinished run afresh")
    perf = p.add_argument_group("Performance")
    h.add_jobs_option(
        perf,
        "threads scoring chunks side by side (default: one per core from "
        "500,000 events); the output is the same for any N",
    )
    perf.add_argument(
        "--chunk-events",
        type=h.positive_int,
        default=cjml.scoring.DEFAULT_CHUNK_EVENTS,
        metavar="N",
        help=f"events per chunk, about (default "
        f"{cjml.scoring.DEFAULT_CHUNK_EVENTS:,}); memory grows with it",
    )
    perf.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="score here in chunks (default), or on a dask.distributed cluster",
    )
    perf.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: the scheduler, e.g. tcp://host:8786 (default: a LocalCluster)",
    )
    perf.add_argument(
        "--compile",
        action="store_true",
        help="compile the models first (needs cjml[fast] and a C compiler; "
        "about 20 s once, then cached)",
    )
    h.add_quiet_option(perf)
    add_control_options(p)
    h.add_trust_option(p.add_argument_group("Trust"))
    h.add_input_options(p, journey_map=False, bundle=True, quarantine=False)
    h.finish_command(p).set_defaults(func=_cmd_score)


# --------------------------------------------------------------------------- recommend
def _cmd_recommend(args: argparse.Namespace) -> int:
    from cjml.recommend import TouchpointRecommender

    started = time.perf_counter()
    inputs = inputs_of(
        args, model=args.model, **{"customer list": args.customers, "rules file": args.rules}
    )
    _check_control(args, inputs)
    out = check_output(args.out, force=args.force, suffixes=TABLE_SUFFIXES, inputs=inputs)
    bundle = load_bundle(args)
    rules = args.rules
    if args.rank_by is not None:  # over the rules file's rank_by
        from dataclasses import replace

        from cjml.recommend import RecommendationRules

        rules = replace(RecommendationRules.coerce(rules), rank_by=args.rank_by)
    # a bundle that cannot recommend is refused before the events are read
    recommender = TouchpointRecommender.from_bundle(
        bundle, rules=rules, top_k=args.top_k, method=args.method, n_jobs=args.jobs
    )
    log = read_log(args, journey_map=bundle.journey_map, bundle=bundle)
    bundle.check_events(log)
    customers = None
    if args.customers:
        customers = _customer_list(args.customers, log, args.missing_ids, args.encoding)
    lookback = None if args.all else bundle.metadata.get("lookback")
    actions = recommender.recommend(log, cutoff=args.cutoff, customers=customers, lookback=lookback)
    if args.control is not None:
        from cjml.recommend import _resolve_cutoff

        say(recommendation_summary(actions))
        _export(args, actions, _resolve_cutoff(log, args.cutoff), rules, bundle)
        return 0
    path = write_actions(actions, out, force=args.force)
    say(recommendation_summary(actions))
    say(
        f"Wrote recommendations for {len(actions):,} customers to {path} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def _customer_list(
    path: str, log: cjml.EventLog, missing_ids: str | None = None, encoding: str | None = None
) -> list:
    """Customer ids from a CSV or Parquet file with a ``customer_id`` column, the events'
    own name for it (``--columns customer_id=user``), or a single column; read as text
    under the CSV rules (in ``encoding``, as the events) and given the log's id type ("007"
    stays "007")."""
    from cjml.io._csv import encoding_name, parse_missing_ids
    from cjml.io._files import _ids_like, _read_id_list

    listed, where = _read_id_list(
        path,
        log.columns.get("customer_id"),
        parse_missing_ids(missing_ids),
        encoding_name(encoding),
    )
    return _ids_like(listed, log.customer_ids, where)


def write_actions(actions: pd.DataFrame, path: Path, *, force: bool) -> Path:
    """Recommendations to Parquet, or to a spreadsheet-safe CSV (formula-escaped, UTF-8 BOM)."""
    return write_table(actions.reset_index(), path, force=force)


def recommendation_summary(actions: pd.DataFrame) -> str:
    """A few lines on a recommendation table: how many customers get each touchpoint."""
    chosen = actions["recommended_touchpoint"]
    lines = [
        f"{chosen.notna().sum():,} of {len(actions):,} customers get a recommended "
        "touchpoint"
        + (
            f"; mean expected reduction of the drop-off risk "
            f"{actions['expected_risk_reduction'].mean() * 100:.2f} points"
            if chosen.notna().any()
            else ""
        )
    ]
    for name, count in chosen.value_counts().items():
        lines.append(f"  {name:<22} {count:>8,}")
    if "expected_value_saved" in actions.columns and chosen.notna().any():
        from cjml.recommend import _no_cost_text

        # the first-ranked touchpoints only: the next ranks are alternatives to them
        saved = actions["expected_value_saved"]
        no_cost = [str(t) for t in chosen[chosen.notna() & saved.isna()].unique()]
        total = format_number(float(saved.sum()))
        if not len(no_cost):
            line = _(
                "expected value saved by the first-ranked touchpoints, net of their cost: {saved}"
            ).format(saved=total)
        elif len(no_cost) < chosen.nunique():
            line = _(
                "expected value saved by the first-ranked touchpoints, net of their cost: "
                "{saved}; not counted: {why}"
            ).format(saved=total, why=_no_cost_text(no_cost))
        else:
            line = _("expected value saved: unknown; {why}").format(why=_no_cost_text(no_cost))
        lines.append("  " + line)
    if "uncertain" in actions.columns and chosen.notna().any():
        lines.append(
            f"  {int(actions['uncertain'].sum()):,} of them uncertain (the interval on "
            "the reduction includes no effect)"
        )
    if not chosen.notna().any() and len(actions):
        lines.append(f"  why: {actions['reason'].mode().iloc[0]}")
    return "\n".join(lines)


def add_recommend(sub: argparse._SubParsersAction) -> None:
    methods = ", ".join(repr(m) if " " in m else m for m in METHODS)
    p = h.add_command(
        sub,
        "recommend",
        summary="write the touchpoints most likely to prevent each "
        "customer's drop-off (CSV or Parquet)",
        description="For each customer with an event within the bundle's lookback (or every "
        "listed one), estimate the drop-off risk after each eligible actionable "
        "touchpoint and write the top ones with their expected risk reduction and a "
        f"reason. The estimates come from observational data: see the README, "
        f"section '{h.README_RULES}'.",
        examples=[
            ("recommend models/journeys.cjml journeys.parquet --out actions.csv", ""),
            (
                "recommend models/journeys.cjml journeys.parquet --out actions.csv --rules "
                "rules.toml --top-k 3",
                "business rules; the best touchpoint and two fall-backs",
            ),
            (
                "recommend models/journeys.cjml journeys.parquet --out vip.parquet "
                "--customers vip_list.csv --method dr-point",
                "listed customers, ranked by the estimated effects",
            ),
        ],
        see=h.README_RULES,
    )
    args = p.add_argument_group("Arguments")
    h.add_model_argument(args)
    h.add_events_argument(args)
    req = p.add_argument_group("Required")
    h.add_out_option(req, "output .csv or .parquet, e.g. actions.csv")
    what = p.add_argument_group("Recommendations")
    h.add_customers_option(what, "only these customers")
    h.add_cutoff_option(
        what, "when the touchpoints would be delivered (default: the last event of the log)"
    )
    h.add_top_k_option(what)
    h.add_rules_option(what)
    what.add_argument(
        "--rank-by",
        choices=RANK_BY,
        help="what orders the touchpoints (and the customers under a budget), over the rules' "
        "rank_by: auto (default: value_saved when the bundle has a value model and every "
        "touchpoint a cost, else reduction, or reduction_per_cost with costs in the rules), "
        "reduction, reduction_per_cost, or value_saved (expected risk reduction times the "
        "customer's value, minus the cost; touchpoints that cost more than they keep are "
        "not recommended)",
    )
    what.add_argument(
        "--all",
        action="store_true",
        help="every customer with an event, not only those active within the bundle's lookback",
    )
    what.add_argument(
        "--method",
        default="auto",
        choices=METHODS,
        metavar="METHOD",
        help=f"how effects are estimated and which touchpoints are recommended, "
        f"one of {methods}: auto (default) follows the policy cjml train "
        "chose on held-out data, dr-point ranks by the estimated effects "
        "whatever that choice",
    )
    out = p.add_argument_group("Output and performance")
    h.add_force_option(out)
    h.add_jobs_option(out)
    add_control_options(p)
    h.add_trust_option(p.add_argument_group("Trust"))
    h.add_input_options(p, bundle=True)
    h.finish_command(p).set_defaults(func=_cmd_recommend)
