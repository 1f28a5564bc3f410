"""The ``cjml`` command line: argument parsing and messages only.

Every command calls cjml's public Python API; no logic lives here. Errors reach
stderr as one message and a non-zero exit code (1 for bad input, 2 for bad
usage); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import cjml
import cjml.evaluation
import cjml.scoring
import cjml.training
from cjml._io import TABLE_SUFFIXES, check_output, write_table
from cjml.exceptions import CjmlError
from cjml.labels import to_timedelta

__all__ = ["main"]


def _say(message: str = "") -> None:
    print(message, flush=True)


def _warn_line(message: warnings.WarningMessage) -> None:
    print(f"warning: {message.message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- commands
def _cmd_generate(args: argparse.Namespace) -> int:
    from cjml import datasets

    if args.sample:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise CjmlError(f"Cannot write the sample into {str(out)!r}: it is a file, and "
                            "with --sample, --out names a folder. Choose a folder.")
        targets = [out / "sample_events.parquet", out / "sample_truth.parquet"]
        existing = [str(p) for p in targets if p.exists()]
        if existing and not args.force:
            raise CjmlError(f"{existing} already exist(s) and were left untouched; pass --force "
                            "to rebuild the sample over them.")
        paths = datasets.write_sample(out)
        _say(f"Wrote the sample ({datasets.SAMPLE_PARAMS['n_customers']:,} customers, seed "
             f"{datasets.SAMPLE_PARAMS['random_state']}) to {paths[0]} and {paths[1]}")
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
        args.customers, n_days=args.days, start=args.start, truth_cutoffs=truth,
        horizon_days=args.horizon, random_state=args.seed,
    )
    write_table(data.events, out, force=args.force)
    _say(f"Wrote {len(data.events):,} events of {args.customers:,} customers to {out} "
         f"({time.perf_counter() - started:.1f} s, seed {args.seed})")
    if truth_path is not None:
        write_table(data.truth, truth_path, force=args.force)
        _say(f"Wrote ground truth at {', '.join(data.params['truth_cutoffs'])} "
             f"(horizon {args.horizon} days) to {truth_path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    _say(_read_log(args).summary().to_text())
    return 0


def _inputs(args: argparse.Namespace, **more) -> dict:
    """The command's input files (events, --map, the bundle, --customers, --rules...), which
    its outputs must never overwrite."""
    inputs = {"events file": args.events, "journey map": getattr(args, "map", None)}
    model = more.pop("model", None)
    if model:
        inputs["bundle"] = model
        inputs["bundle's manifest"] = Path(model).with_name(Path(model).name + ".manifest.json")
    inputs.update(more)
    return inputs


def _read_log(args: argparse.Namespace, journey_map=None):
    if args.map is not None:
        journey_map = args.map
    return cjml.read_events(args.events, columns=args.columns, journey_map=journey_map,
                            timezone=args.timezone, timestamp_unit=args.timestamp_unit,
                            drop_duplicates=args.drop_duplicates, missing_ids=args.missing_ids)


def _cmd_features(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_output(args.out, inputs=_inputs(args), force=args.force, suffixes=TABLE_SUFFIXES)
    log = _read_log(args)
    cutoff = args.cutoff if args.cutoff is not None else None
    featurizer = cjml.JourneyFeaturizer().fit(log, cutoff=cutoff)
    features = featurizer.transform(log, cutoff=cutoff)
    write_table(features.reset_index(), args.out, force=args.force)
    when = cutoff if cutoff is not None else "the end of the log"
    _say(f"Wrote features of {len(features):,} customers x {features.shape[1]} columns at "
         f"{when} to {args.out} ({time.perf_counter() - started:.1f} s)")
    return 0


def _cutoff_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def _cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    for path in (out, out.with_name(out.name + ".manifest.json")):  # not a folder, no input
        check_output(path, inputs=_inputs(args), force=True)
    cjml.ModelBundle.refuse_existing(out, force=args.force)  # before the work, not after
    log = _read_log(args)
    bundle, report = cjml.train(
        log, horizon=args.horizon, lookback=args.lookback, cutoffs=_cutoff_list(args.cutoffs),
        n_cutoffs=args.n_cutoffs, step=args.step, test_cutoff=args.test_cutoff,
        holdout=not args.no_holdout, engine=args.engine, scheduler=args.scheduler,
        cv=args.cv, n_jobs=args.jobs, progress=not args.quiet)
    path = bundle.save(out, force=args.force)
    if report is not None:
        _say(report.to_text())
    refit = ""
    if bundle.metadata.get("cv"):
        refit = (f" (refitted on every customer at {bundle.metadata['train_cutoffs'][0][:10]}; "
                 f"the report above is their {bundle.metadata['cv']}-fold cross-validation)")
    _say(f"Saved the churn and next-stage models to {path} (+ {path.name}.manifest.json){refit}; "
         f"{bundle.metadata['n_train_rows']:,} training rows, "
         f"{time.perf_counter() - started:.1f} s.")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    bundle = _load_bundle(args)
    log = _read_log(args, journey_map=bundle.journey_map)
    report = cjml.evaluate(log, bundle, test_cutoff=args.test_cutoff, cv=args.cv,
                           n_jobs=args.jobs, progress=not args.quiet)
    _say(report.to_text())
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    # A trusted pickle is loaded here, with its warning; a safe bundle is loaded by score()
    summary = cjml.score(
        _load_bundle(args) if args.trust_pickle else args.model, args.events, customers=args.customers, cutoff=args.cutoff,
        top_k=args.top_k, out=args.out, force=args.force, resume=args.resume,
        on_error=args.on_error, engine=args.engine, scheduler=args.scheduler,
        risk_bands=args.risk_bands, drivers=not args.no_drivers,
        recommend=not args.no_recommend, rules=args.rules, columns=args.columns,
        timezone=args.timezone, timestamp_unit=args.timestamp_unit,
        drop_duplicates=args.drop_duplicates,
        chunk_events=args.chunk_events, compile=args.compile, n_jobs=args.jobs,
        progress=not args.quiet, missing_ids=args.missing_ids)
    _say(summary.to_text())
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    from cjml.recommend import TouchpointRecommender

    started = time.perf_counter()
    out = check_output(args.out, force=args.force, suffixes=TABLE_SUFFIXES,  # before the work
                       inputs=_inputs(args, model=args.model, **{"customer list": args.customers,
                                                                 "rules file": args.rules}))
    bundle = _load_bundle(args)
    log = _read_log(args, journey_map=bundle.journey_map)
    bundle.check_events(log)
    recommender = TouchpointRecommender.from_bundle(bundle, rules=args.rules, top_k=args.top_k,
                                                    method=args.method, n_jobs=args.jobs)
    customers = None
    if args.customers:
        customers = _customer_list(args.customers, log, args.missing_ids)
    lookback = None if args.all else bundle.metadata.get("lookback")
    actions = recommender.recommend(log, cutoff=args.cutoff, customers=customers,
                                    lookback=lookback)
    path = _write_actions(actions, out, force=args.force)
    _say(_recommendation_summary(actions))
    _say(f"Wrote recommendations for {len(actions):,} customers to {path} "
         f"({time.perf_counter() - started:.1f} s)")
    return 0


def _customer_list(path: str, log, missing_ids=None) -> list:
    """Customer ids from a CSV or Parquet file with a ``customer_id`` column, the events'
    own name for it (``--columns customer_id=user``), or a single column; read as text
    under the CSV rules and given the log's id type ("007" stays "007")."""
    from cjml.io._csv import parse_missing_ids
    from cjml.io._files import _ids_like, _read_id_list

    listed, where = _read_id_list(path, log.columns.get("customer_id"),
                                  parse_missing_ids(missing_ids))
    return _ids_like(listed, log.customer_ids, where)


def _write_actions(actions, path: Path, *, force: bool) -> Path:
    """Recommendations to Parquet, or to a spreadsheet-safe CSV (formula-escaped, UTF-8 BOM)."""
    return write_table(actions.reset_index(), path, force=force)


def _recommendation_summary(actions) -> str:
    """A few lines on a recommendation table: how many customers get each touchpoint."""
    chosen = actions["recommended_touchpoint"]
    lines = [f"{chosen.notna().sum():,} of {len(actions):,} customers get a recommended "
             "touchpoint" + (f"; mean expected reduction of the drop-off risk "
                             f"{actions['expected_risk_reduction'].mean() * 100:.2f} points"
                             if chosen.notna().any() else "")]
    for name, count in chosen.value_counts().items():
        lines.append(f"  {name:<22} {count:>8,}")
    if "uncertain" in actions.columns and chosen.notna().any():
        lines.append(f"  {int(actions['uncertain'].sum()):,} of them uncertain (the interval on the "
                     "reduction includes no effect)")
    if not chosen.notna().any() and len(actions):
        lines.append(f"  why: {actions['reason'].mode().iloc[0]}")
    return "\n".join(lines)


def _cmd_journey_map(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".html", ".csv"):
        raise CjmlError(f"Cannot write {str(out)!r}: --out must end in .html (page with tables "
                        f"and plots) or .csv (the stage table), not {suffix or '(no suffix)'!r}.")
    check_output(out, inputs=_inputs(args, model=args.model), force=args.force)  # before the work
    bundle = _load_bundle(args) if args.model else None
    log = _read_log(args, journey_map=None if bundle is None else bundle.journey_map)
    report = cjml.journey_map(log, bundle, by=args.by, cutoff=args.cutoff, horizon=args.horizon)
    if suffix == ".html":
        report.to_html(out, force=args.force)
    else:
        report.to_csv(out, force=args.force)
    _say(report.to_text())
    groups = (f", {report.group_stages[args.by].nunique(dropna=False)} groups of {args.by!r}"
              if args.by else "")
    _say(f"Wrote the journey map ({len(report.stages)} stages{groups}) to {out} "
         f"({time.perf_counter() - started:.1f} s)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from cjml import datasets

    workdir = Path(args.workdir)
    events_path = workdir / "events.parquet"
    _refuse_earlier_demo(workdir, force=args.force)  # before the work, not after
    _say(f"cjml {cjml.__version__} demo: the sample journey, end to end. Files go to {workdir}/")
    started = time.perf_counter()
    _say(f"[1/6] Simulating {datasets.SAMPLE_PARAMS['n_customers']:,} customers with ground "
         f"truth (seed {datasets.SAMPLE_PARAMS['random_state']})...")
    data = datasets.make_journeys(**datasets.SAMPLE_PARAMS)
    bundled = datasets.load_sample()
    same = bundled.equals(data.events)
    _say(f"      {len(data.events):,} events; identical to the bundled sample: "
         f"{'yes' if same else 'NO'}")
    if not same:
        raise CjmlError("The simulator no longer reproduces data/sample_events.parquet. If the "
                        "change was intended, rebuild it: cjml generate --sample --out data --force")
    write_table(data.events, events_path, force=args.force)
    write_table(data.truth, workdir / "truth.parquet", force=args.force)
    _say(f"[2/6] Validating {events_path}...")
    log = cjml.read_events(events_path)
    _say(log.summary().to_text())
    _say("[3/6] Ground truth (the true 30-day risk the models are measured against):")
    truth = data.truth
    for cutoff, rows in truth.groupby("cutoff", sort=True):
        active = rows[rows["active"]]
        _say(f"      cutoff {cutoff.date()}: {len(rows):,} customers seen, mean true risk "
             f"{rows['risk_no_action'].mean():.3f}, realised drop-off "
             f"{rows['realised_churn'].mean():.3f}; of the {len(active):,} not yet gone: "
             f"{active['risk_full_no_action'].mean():.3f} vs "
             f"{active['realised_churn'].mean():.3f}")
    _say("[4/6] Training the churn and next-stage models; evaluating them on the latest "
         "cutoff, held out...")
    bundle, report = cjml.train(log)
    model_path = bundle.save(workdir / "model.cjml", force=args.force)
    _say(report.to_text())
    _say(f"      saved {model_path}")
    _say("[5/6] Scoring every customer with the saved bundle (risk, band, next stage, "
         "drivers, best touchpoint)...")
    # force: scores.parquet was checked above; this also clears an interrupted demo's run
    summary = cjml.score(model_path, events_path, out=workdir / "scores.parquet", force=True,
                         top_k=3)
    _say("      " + summary.to_text().replace("\n", "\n      "))
    _say("[6/6] Recommending, for every customer active in the last "
         f"{cjml.evaluation.duration_text(to_timedelta(bundle.metadata['lookback']))}, the "
         "touchpoints most likely to prevent drop-off...")
    from cjml.recommend import TouchpointRecommender

    actions = TouchpointRecommender.from_bundle(bundle).recommend(
        log, lookback=bundle.metadata["lookback"])
    actions_path = _write_actions(actions, workdir / "actions.csv", force=args.force)
    _say(_recommendation_summary(actions))
    _say(f"      wrote {actions_path}")
    _say(f"Done in {time.perf_counter() - started:.1f} s.")
    return 0


#: What ``cjml demo`` writes into its --workdir.
_DEMO_OUTPUTS = ("events.parquet", "truth.parquet", "model.cjml", "model.cjml.manifest.json",
                 "scores.parquet", "actions.csv")


def _refuse_earlier_demo(workdir: Path, *, force: bool) -> None:
    """Refuse to replace an earlier demo's outputs without --force."""
    if workdir.exists() and not workdir.is_dir():
        raise CjmlError(f"Cannot use {str(workdir)!r} as the demo's --workdir: it is a file. "
                        "Choose another --workdir (a folder, new or existing).")
    existing = [name for name in _DEMO_OUTPUTS if (workdir / name).exists()]
    if existing and not force:
        raise CjmlError(f"{str(workdir)!r} already holds the outputs of an earlier demo "
                        f"({', '.join(existing)}), left untouched. Pass --force to replace "
                        "them, or choose another --workdir.")


# --------------------------------------------------------------------------- parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _folds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of folds, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected 2 folds or more (5 is usual), got {value}")
    return value


def _add_input_options(parser: argparse.ArgumentParser, *, journey_map: bool = True) -> None:
    parser.add_argument("events", help="CSV or Parquet file, or a folder of them")
    if journey_map:  # commands that load a bundle take its journey map instead
        parser.add_argument("--map",
                            help="journey map (.toml or .json); default: the built-in map")
    parser.add_argument("--columns", metavar="MAPPING",
                        help="your column names, e.g. customer_id=user,timestamp=event_time")
    parser.add_argument("--timezone", default="UTC",
                        help="timezone of naive timestamps (default UTC)")
    parser.add_argument("--timestamp-unit", choices=["s", "ms", "us", "ns"],
                        help="read numeric timestamps as epoch values in this unit")
    parser.add_argument("--drop-duplicates", action="store_true",
                        help="remove exact duplicate events (they are only reported otherwise)")
    parser.add_argument("--missing-ids", metavar="TEXTS",
                        help="customer ids that mean missing, e.g. NA,null (default: only empty "
                             "ids; 'NA', 'null' and 'None' are ids like any other)")


def _add_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-pickle", action="store_true",
                        help="also load a bundle of cjml's first, pickle-based format (.joblib); "
                             "unpickling runs any code the file holds, so only for files you "
                             "made; save it again with ModelBundle.save to convert it")


def _load_bundle(args: argparse.Namespace):
    return cjml.ModelBundle.load(args.model, trusted=args.trust_pickle)


def _add_jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                        help="threads for the features and LightGBM (default: one, and from "
                             "50,000 rows the cores idle at the start: on a busy machine more "
                             "threads are many times slower)")


def _add_rules_option(parser: argparse.ArgumentParser, *, extra: str = "") -> None:
    """``--rules TOML``: the business rules of the recommendations (recommend and score)."""
    parser.add_argument("--rules", metavar="TOML",
                        help="business rules: exclude, caps, min_risk, min_reduction, budget, "
                             f"costs, rank_by (see the README){extra}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cjml`` command."""
    parser = argparse.ArgumentParser(
        prog="cjml",
        description="Customer-journey machine learning: validate event logs, simulate journeys "
                    "with ground truth, train and evaluate churn and next-stage models.",
        epilog="Run 'cjml COMMAND --help' for a command's options. Start with: cjml demo",
    )
    parser.add_argument("--version", action="version", version=f"cjml {cjml.__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when something fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser("generate", help="simulate customer journeys (and their ground truth)",
                         description="Simulate touchpoint histories with the journey simulator. "
                                     "The same --seed always gives the same file.")
    gen.add_argument("--customers", type=_positive_int, default=2000, help="number of customers "
                     "(default 2000)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--out", required=True, help="output .parquet or .csv (with --sample: a folder)")
    gen.add_argument("--days", type=_positive_int, default=240, help="days simulated (default 240)")
    gen.add_argument("--start", default="2024-01-01", help="first day, UTC (default 2024-01-01)")
    gen.add_argument("--truth", action="store_true",
                        help="also write ground truth to OUT_truth.SUFFIX (at the last possible "
                          "cutoff unless --truth-cutoffs is given)")
    gen.add_argument("--truth-cutoffs", metavar="DATES",
                        help="comma-separated cutoff dates for the ground truth")
    gen.add_argument("--horizon", type=_positive_int, default=30,
                        help="prediction horizon of the ground truth, in days (default 30)")
    gen.add_argument("--sample", action="store_true",
                        help="rebuild the bundled sample (fixed parameters) into the --out folder")
    gen.add_argument("--force", action="store_true", help="replace existing output files")
    gen.set_defaults(func=_cmd_generate)

    val = sub.add_parser("validate", help="check an event log and print its summary",
                         description="Read and validate an event log (CSV, Parquet, or a folder "
                                     "of them). Prints the summary and exits 0, or prints what "
                                     "is wrong and how to fix it and exits 1.")
    _add_input_options(val)
    val.set_defaults(func=_cmd_validate)

    feat = sub.add_parser("features", help="write one feature row per customer at a cutoff",
                          description="Compute the default feature set (JourneyFeaturizer) of "
                                      "every customer with events at or before the cutoff, "
                                      "using only those events, and write it with the customer "
                                      "id to Parquet or CSV.")
    _add_input_options(feat)
    feat.add_argument("--cutoff", help="date (UTC unless it has an offset); default: the log's "
                                       "last event")
    feat.add_argument("--out", required=True, help="output .parquet or .csv")
    feat.add_argument("--force", action="store_true", help="replace an existing output file")
    feat.set_defaults(func=_cmd_features)

    tr = sub.add_parser("train", help="train the churn and next-stage models and evaluate them",
                        description="Build a training set on rolling cutoffs, hold the latest "
                                    "cutoff out, train the churn and next-stage models on the "
                                    "earlier ones, print their evaluation beside the baselines "
                                    "on the held-out cutoff (or, with --cv, cross-validate over "
                                    "customers at one cutoff), and save a model bundle.")
    _add_input_options(tr)
    tr.add_argument("--out", required=True, help="bundle file, e.g. models/churn.cjml")
    tr.add_argument("--horizon", default="30D", help="how far the labels look ahead (default 30D)")
    tr.add_argument("--lookback", default="90D",
                    help="population: customers with an event this far before a cutoff "
                         "(default 90D)")
    tr.add_argument("--cutoffs", metavar="DATES",
                    help="comma-separated cutoff dates; the latest is held out for evaluation "
                         "(default: rolling cutoffs ending at the latest complete date)")
    tr.add_argument("--n-cutoffs", type=_positive_int, default=cjml.training.DEFAULT_N_CUTOFFS,
                    help=f"number of rolling cutoffs (default {cjml.training.DEFAULT_N_CUTOFFS})")
    tr.add_argument("--step", default=cjml.training.DEFAULT_STEP,
                    help=f"spacing of rolling cutoffs (default {cjml.training.DEFAULT_STEP})")
    tr.add_argument("--test-cutoff", help="held-out cutoff (default: the latest cutoff)")
    tr.add_argument("--no-holdout", action="store_true",
                    help="train on every cutoff, without an evaluation")
    tr.add_argument("--cv", type=_folds, metavar="K",
                    help="evaluate by K-fold cross-validation over customers at one cutoff "
                         "(--test-cutoff, default the latest complete one) instead of a later "
                         "held-out cutoff, and save the models refitted on every customer "
                         "there: for calibration/holdout data, or a horizon too long to hold "
                         "a cutoff out")
    tr.add_argument("--engine", choices=["local", "dask"], default="local",
                    help="grow the trees here (default) or on a dask.distributed cluster "
                         "(LightGBM's Dask estimators)")
    tr.add_argument("--scheduler", metavar="ADDRESS",
                    help="with --engine dask: the scheduler, e.g. tcp://host:8786 "
                         "(default: a LocalCluster)")
    _add_jobs_option(tr)
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--force", action="store_true", help="replace an existing bundle")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a trained bundle on a later cutoff",
                        description="Score a bundle's models and the baselines (fitted on the "
                                    "bundle's training cutoffs) on a cutoff after the period "
                                    "the bundle was trained on, and print the table.")
    ev.add_argument("model", help="bundle file written by cjml train")
    _add_input_options(ev)
    ev.add_argument("--test-cutoff", help="held-out cutoff (default: the latest complete one)")
    ev.add_argument("--cv", type=_folds, metavar="K",
                    help="instead, cross-validate the bundle's settings over customers in K "
                         "folds at the test cutoff: fresh copies of its models are fitted on "
                         "the other folds (for a bundle trained up to the end of the log)")
    _add_jobs_option(ev)
    _add_trust_option(ev)
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=_cmd_evaluate)

    jmap = sub.add_parser("journey-map", help="write the data-driven journey map (HTML or CSV)",
                          description="Describe each journey stage from the events: customers "
                                      "who reached it, conversion, drop-off, median days in "
                                      "stage, top touchpoints, satisfaction and NPS; with "
                                      "--model, the missing touchpoints (high estimated risk "
                                      "reduction, low current use). Writes an HTML page with "
                                      "the tables, a funnel and a flow plot, or the stage "
                                      "table as CSV.")
    _add_input_options(jmap)
    jmap.add_argument("--model", help="bundle file written by cjml train, for the missing "
                                      "touchpoints")
    _add_trust_option(jmap)
    jmap.add_argument("--by", metavar="COL",
                      help="split the map by a column of the events, e.g. segment")
    jmap.add_argument("--cutoff", help="use events up to this date (default: the end of the "
                                       "log's last day)")
    jmap.add_argument("--horizon", help="silence that counts as dropping off (default: the "
                                        "model's horizon, or 30D)")
    jmap.add_argument("--out", required=True, help="output .html or .csv")
    jmap.add_argument("--force", action="store_true", help="replace an existing output file")
    jmap.set_defaults(func=_cmd_journey_map)

    sc = sub.add_parser("score", help="score every customer (risk, next stage, drivers, "
                                      "recommended touchpoint) to Parquet or CSV",
                        description="Score every customer of the events (or of --customers) "
                                    "with a trained bundle at one cutoff, streaming the input "
                                    "in customer-complete chunks, and write one row per "
                                    "customer: churn_risk, risk_band, next_stage, "
                                    "next_stage_proba, top_drivers, recommended_touchpoint, "
                                    "expected_risk_reduction (and ranks 2..k), status. An "
                                    "interrupted run continues with --resume.")
    sc.add_argument("model", help="bundle file written by cjml train")
    _add_trust_option(sc)
    _add_input_options(sc, journey_map=False)
    sc.add_argument("--out", required=True, help="output .parquet or .csv")
    sc.add_argument("--customers", metavar="FILE",
                    help="score only these customers: CSV or Parquet with a customer_id column")
    sc.add_argument("--cutoff", help="score as of this date (UTC unless it has an offset); "
                                     "default: the last event of the input")
    sc.add_argument("--top-k", type=_positive_int, default=1,
                    help="touchpoints recommended per customer (default 1)")
    sc.add_argument("--risk-bands", metavar="BANDS",
                    help="band=lowest risk pairs, e.g. low=0,medium=0.2,high=0.5,very high=0.8 "
                         "(the default)")
    sc.add_argument("--on-error", choices=["raise", "quarantine"], default="raise",
                    help="invalid rows stop the run (default), or go to OUT.rejects.SUFFIX")
    sc.add_argument("--resume", action="store_true",
                    help="continue the interrupted run of --out from its last finished chunk")
    sc.add_argument("--engine", choices=["local", "dask"], default="local",
                    help="score here in chunks (default), or on a dask.distributed cluster")
    sc.add_argument("--scheduler", metavar="ADDRESS",
                    help="with --engine dask: the scheduler, e.g. tcp://host:8786 "
                         "(default: a LocalCluster)")
    sc.add_argument("--chunk-events", type=_positive_int,
                    default=cjml.scoring.DEFAULT_CHUNK_EVENTS,
                    help="events per chunk, about (default 1,000,000); memory grows with it")
    sc.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                    help="threads scoring chunks side by side (default: one per core "
                         "from 500,000 events); the output is the same for any N")
    sc.add_argument("--no-drivers", action="store_true", help="leave top_drivers empty (faster)")
    sc.add_argument("--no-recommend", action="store_true",
                    help="leave the recommendation columns empty (faster)")
    _add_rules_option(sc, extra="; a budget holds over the whole run, not per chunk")
    sc.add_argument("--compile", action="store_true",
                    help="compile the models first (needs cjml[fast] and a C compiler; "
                         "about 20 s once, then cached)")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    sc.add_argument("--force", action="store_true",
                    help="replace an existing output, or start an unfinished run afresh")
    sc.set_defaults(func=_cmd_score)

    rec = sub.add_parser("recommend", help="write the touchpoints most likely to prevent each "
                                           "customer's drop-off (CSV or Parquet)",
                         description="For each customer with an event within the bundle's "
                                     "lookback (or every listed one), estimate the drop-off "
                                     "risk after each eligible actionable touchpoint and write "
                                     "the top ones with their expected risk reduction and a "
                                     "reason. The estimates come from observational data: "
                                     "see the README's 'Reading recommendations'.")
    rec.add_argument("model", help="bundle file written by cjml train")
    _add_input_options(rec)
    rec.add_argument("--out", required=True, help="output .csv or .parquet, e.g. actions.csv")
    rec.add_argument("--top-k", type=_positive_int, default=3,
                     help="touchpoints per customer (default 3)")
    _add_rules_option(rec)
    rec.add_argument("--cutoff", help="when the touchpoints would be delivered (default: the "
                                      "last event of the log)")
    rec.add_argument("--customers", metavar="CSV",
                     help="only these customers (a file with a customer_id column)")
    rec.add_argument("--all", action="store_true",
                     help="every customer with an event, not only those active within the "
                          "bundle's lookback")
    rec.add_argument("--force", action="store_true", help="replace an existing output file")
    _add_jobs_option(rec)
    _add_trust_option(rec)
    rec.add_argument("--method", default="auto",
                     help="how effects are estimated and which touchpoints are recommended: "
                          "auto (default: the policy cjml train chose on held-out data), "
                          "dr-point (rank by the estimated effects whatever that choice), dr, "
                          "response, s-learner, single, naive, 'no action'")
    rec.set_defaults(func=_cmd_recommend)

    demo = sub.add_parser("demo", help="run the main job end to end on the sample",
                          description="Simulate the sample with ground truth, check it matches "
                                      "the bundled copy, validate it, report the truth, train "
                                      "and evaluate the models and save them, score every "
                                      "customer and write the recommended actions.")
    demo.add_argument("--workdir", default="cjml-demo",
                      help="folder for the demo's files (default ./cjml-demo)")
    demo.add_argument("--force", action="store_true",
                      help="replace the outputs of an earlier demo in --workdir")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cjml`` command line; returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when the input was refused, 2 on a usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    func: Callable[[argparse.Namespace], int] = args.func
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            code = func(args)
        except (CjmlError, OSError, ValueError) as exc:
            if args.debug:
                raise
            for w in caught:
                _warn_line(w)
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # a bug of ours: say so plainly, keep the traceback opt-in
            if args.debug:
                raise
            print(f"internal error ({type(exc).__name__}): {exc}\nThis is a bug in cjml; rerun "
                  "with --debug for the traceback and report it.", file=sys.stderr, flush=True)
            return 1
    for w in caught:
        _warn_line(w)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
