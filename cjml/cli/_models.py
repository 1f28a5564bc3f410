"""The commands about the models: ``train`` and ``evaluate``."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import cjml
import cjml.training
from cjml.cli import _help as h
from cjml.cli._shared import cli_words, inputs_of, load_bundle, read_log, say, show_progress
from cjml.features._attributes import attributes_text
from cjml.i18n import format_number, label_text
from cjml.i18n import gettext as _
from cjml.io._write import check_output


# --------------------------------------------------------------------------- train
def _cutoff_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def _train(args: argparse.Namespace, log):
    """``cjml.train`` with the command's options."""
    attributes = getattr(args, "attributes", None)
    return cjml.train(
        log,
        featurizer=None if attributes is None else cjml.JourneyFeaturizer(attributes=attributes),
        horizon=args.horizon,
        lookback=args.lookback,
        cutoffs=_cutoff_list(args.cutoffs),
        n_cutoffs=args.n_cutoffs,
        step=args.step,
        test_cutoff=args.test_cutoff,
        holdout=not args.no_holdout,
        survival=not args.no_survival,
        engine=args.engine,
        scheduler=args.scheduler,
        cv=args.cv,
        n_jobs=args.jobs,
        progress=show_progress(args),
        value=not args.no_value and "auto",
        margin=args.margin,
        experiments=args.experiments,
        max_training_rows=args.max_training_rows or None,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    experiments = {
        f"campaign manifest {k + 1}": path for k, path in enumerate(args.experiments or ())
    }
    for path in (out, out.with_name(out.name + ".manifest.json")):  # not a folder, no input
        check_output(path, inputs=inputs_of(args, **experiments), force=True)
    cjml.ModelBundle.refuse_existing(out, force=args.force)  # before the work, not after
    log = read_log(args)
    with warnings.catch_warnings():
        # the summary's last sentence says why there is no recommender: not twice
        warnings.filterwarnings(
            "ignore", "No touchpoint recommendations from this bundle", UserWarning
        )
        bundle, report = _train(args, log)
    path = bundle.save(out, force=args.force)
    if report is not None:
        say(cli_words(report.to_text()))
    refit = ""
    if bundle.metadata.get("cv"):
        refit = (
            f" (refitted on every customer at {bundle.metadata['train_cutoffs'][0][:10]}; "
            f"the report above is their {bundle.metadata['cv']}-fold cross-validation)"
        )
    say(
        f"Saved the churn and next-stage models to {path} (+ {path.name}.manifest.json){refit}; "
        f"{bundle.metadata['n_train_rows']:,} training rows, "
        f"{time.perf_counter() - started:.1f} s."
        + _value_sentence(bundle.metadata.get("value") or {})
        + _recommender_sentence(bundle.metadata.get("recommender") or {})
    )
    attributes = bundle.metadata.get("attributes")
    said = attributes and attributes_text(
        attributes["used"], attributes["left_out"], command_line=True
    )
    if said:
        say(said)
    if bundle.metadata.get("experiments"):
        say(_experiments_text(bundle.metadata))
    return 0


def _experiments_text(metadata: dict) -> str:
    """What the campaigns passed with --experiments did: the effects they now set, and
    those skipped with why."""
    from cjml.experiments import MIN_ARM

    summary = metadata["experiments"]
    lines = []
    for campaign in summary.get("used", ()):
        names = ", ".join(label_text(t, lower=True) for t in campaign["touchpoints"])
        lines.append(
            _("Campaign {campaign} sets the effect of: {touchpoints}.").format(
                campaign=campaign["campaign_id"], touchpoints=names
            )
            if names
            else _(
                "Campaign {campaign} corrects no effect (no touchpoint had {n} customers in "
                "each arm, or none the model estimates)."
            ).format(campaign=campaign["campaign_id"], n=format_number(MIN_ARM))
        )
    for skipped in summary.get("skipped", ()):
        lines.append(
            _("Skipped {manifest}: {reason}").format(
                manifest=Path(skipped["manifest"]).name, reason=skipped["reason"]
            )
        )
    return "\n".join(lines)


def _value_sentence(value: dict) -> str:
    """What the bundle says about each customer's worth: the value model, or why there is none."""
    if value.get("fitted"):
        what = "margin" if value.get("margin") is not None else "spend"
        return f" The value model (expected {what} over the horizon) is in the bundle too."
    if value.get("note"):
        return f" No value model: {cli_words(value['note'])}."
    return ""


def _recommender_sentence(recommender: dict) -> str:
    """Why the bundle cannot recommend, when it cannot (nothing when it can)."""
    note = recommender.get("note")
    if recommender.get("fitted", True) or not note or note.startswith("not asked for"):
        return ""  # fitted, or left out by the user's own choice
    return f" No recommender: {cli_words(note[0].lower() + note[1:].rstrip('.'))}."


def _margin(text: str) -> float | str:
    """``--margin``: a rate such as 0.3, or the name of an event column of rates."""
    try:
        rate = float(text)
    except ValueError:
        return text
    if not rate >= 0:
        raise argparse.ArgumentTypeError(
            f"expected a margin rate of at least 0 (0.3 for 30%) or an event column, got {text!r}"
        )
    return rate


def _add_engine_options(group: argparse._ActionsContainer, what: str) -> None:
    group.add_argument("--engine", choices=["local", "dask"], default="local", help=what)
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: the scheduler, e.g. tcp://host:8786 (default: a LocalCluster)",
    )


def add_train(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "train",
        summary="train the churn and next-stage models and evaluate them",
        description="Build a training set on rolling cutoffs, hold the latest cutoff out, train "
        "the churn and next-stage models on the earlier ones, print their "
        "evaluation beside the baselines on the held-out cutoff (or, with --cv, "
        "cross-validate over customers at one cutoff), and save a model bundle "
        "(the file and its .manifest.json).",
        examples=[
            ("train journeys.parquet --out models/journeys.cjml", ""),
            (
                "train journeys.parquet --out models/q3.cjml --horizon 8W --lookback 180D "
                "--n-cutoffs 10 --step 14D",
                "a longer horizon, fewer cutoffs",
            ),
            (
                "train journeys.parquet --out models/cv.cjml --horizon 150D --cv 5",
                "too long a horizon to hold a cutoff out: cross-validate instead",
            ),
            (
                "train events/ --out models/big.cjml --engine dask --scheduler "
                "tcp://scheduler-host:8786",
                "grow the trees on a Dask cluster",
            ),
            (
                "train journeys.parquet --out models/next.cjml --experiments campaigns/",
                "measured campaigns (with a control group) correct the recommender",
            ),
        ],
        see="Models and their evaluation",
    )
    h.add_events_argument(p.add_argument_group("Arguments"))
    req = p.add_argument_group("Required")
    h.add_out_option(req, "bundle file, e.g. models/churn.cjml")
    labels = p.add_argument_group("Labels and cutoffs")
    labels.add_argument(
        "--horizon",
        type=h.duration,
        default="30D",
        metavar="DURATION",
        help="how far the labels look ahead, e.g. 30D or 12W (default 30D)",
    )
    labels.add_argument(
        "--lookback",
        type=h.duration,
        default="90D",
        metavar="DURATION",
        help="population: customers with an event this far before a cutoff (default 90D)",
    )
    _add_data_end_option(labels)
    labels.add_argument(
        "--cutoffs",
        metavar="DATE,...",
        help="comma-separated cutoff dates; the latest is held out for "
        "evaluation (default: rolling cutoffs ending at the latest "
        "complete date)",
    )
    labels.add_argument(
        "--n-cutoffs",
        type=h.positive_int,
        default=cjml.training.DEFAULT_N_CUTOFFS,
        metavar="N",
        help=f"number of rolling cutoffs (default {cjml.training.DEFAULT_N_CUTOFFS}): the "
        "latest is held out, the others are the latest whose label windows end by it",
    )
    labels.add_argument(
        "--step",
        type=h.duration,
        default=cjml.training.DEFAULT_STEP,
        metavar="DURATION",
        help=f"spacing of rolling cutoffs (default {cjml.training.DEFAULT_STEP})",
    )
    ev = p.add_argument_group("Evaluation")
    ev.add_argument(
        "--test-cutoff", metavar="DATE", help="held-out cutoff (default: the latest cutoff)"
    )
    ev.add_argument(
        "--no-holdout", action="store_true", help="train on every cutoff, without an evaluation"
    )
    ev.add_argument(
        "--cv",
        type=h.folds,
        metavar="N",
        help="evaluate by N-fold cross-validation over customers at one cutoff "
        "(--test-cutoff, default the latest complete one) instead of a later "
        "held-out cutoff, and save the models refitted on every customer "
        "there: for calibration/holdout data, or a horizon too long to hold "
        "a cutoff out",
    )
    ev.add_argument(
        "--no-survival",
        action="store_true",
        help="skip the time-to-churn curve (risk at any number of days, for score "
        "--horizons): a little faster",
    )
    h.add_attributes_option(p.add_argument_group("Features"))
    value = p.add_argument_group("Value")
    value.add_argument(
        "--no-value",
        action="store_true",
        help="do not train the value model (expected spend over the horizon), which is "
        "trained when the events have amounts",
    )
    value.add_argument(
        "--margin",
        type=_margin,
        metavar="RATE|COLUMN",
        help="learn margin instead of revenue: a rate applied to every amount (0.3 for "
        "30%%), or an event column of per-event margin rates",
    )
    experiments = p.add_argument_group("Experiments")
    experiments.add_argument(
        "--experiments",
        action="append",
        metavar="PATH",
        help="a campaign manifest (NAME.campaign.json, written by score or recommend "
        "--control) or a folder of them; repeatable. Each campaign is measured on EVENTS and "
        "its measured effects correct the recommender's; campaigns whose horizon has not "
        "passed, or altered ones, are skipped with a warning",
    )
    perf = p.add_argument_group("Performance")
    h.add_jobs_option(perf)
    perf.add_argument(
        "--max-training-rows",
        type=h.training_rows,
        default=cjml.training.DEFAULT_MAX_TRAINING_ROWS,
        metavar="N",
        help="above this many training rows (customers x cutoffs), train on a random share of "
        "the customers, each with its whole history; 0 keeps every row (default 2,000,000: "
        "a 10M-event log then trains in 6 minutes and 6 GB)",
    )
    _add_engine_options(
        perf,
        "grow the trees here (default) or on a dask.distributed cluster "
        "(LightGBM's Dask estimators)",
    )
    h.add_quiet_option(perf)
    out = p.add_argument_group("Output")
    h.add_force_option(out, "replace an existing bundle")
    h.add_input_options(p)
    h.finish_command(p).set_defaults(func=_cmd_train)


def _add_data_end_option(group) -> None:
    group.add_argument(
        "--data-end",
        metavar="DATE",
        help="when the period EVENTS cover ends, if later than their last event shows "
        "(default: midnight after the day of the last event): label windows may end by it",
    )


# --------------------------------------------------------------------------- evaluate
def _cmd_evaluate(args: argparse.Namespace) -> int:
    bundle = load_bundle(args)
    log = read_log(args, journey_map=bundle.journey_map, bundle=bundle)
    report = cjml.evaluate(
        log,
        bundle,
        test_cutoff=args.test_cutoff,
        cv=args.cv,
        n_jobs=args.jobs,
        progress=show_progress(args),
    )
    say(cli_words(report.to_text()))
    return 0


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "evaluate",
        summary="evaluate a trained bundle on a later cutoff",
        description="Score a bundle's models and the baselines (fitted on the bundle's training "
        "cutoffs) on a cutoff after the period the bundle was trained on, and print "
        "the table.",
        examples=[
            ("evaluate models/journeys.cjml journeys.parquet", ""),
            ("evaluate models/journeys.cjml newer_events.parquet --test-cutoff 2024-09-01", ""),
            (
                "evaluate models/cv.cjml journeys.parquet --cv 5",
                "a bundle trained up to the end of the log: cross-validate its settings",
            ),
        ],
        see="Models and their evaluation",
    )
    args = p.add_argument_group("Arguments")
    h.add_model_argument(args)
    h.add_events_argument(args)
    ev = p.add_argument_group("Evaluation")
    ev.add_argument(
        "--test-cutoff", metavar="DATE", help="held-out cutoff (default: the latest complete one)"
    )
    _add_data_end_option(ev)
    ev.add_argument(
        "--cv",
        type=h.folds,
        metavar="N",
        help="instead, cross-validate the bundle's settings over customers in N "
        "folds at the test cutoff: fresh copies of its models are fitted on "
        "the other folds (for a bundle trained up to the end of the log)",
    )
    perf = p.add_argument_group("Performance")
    h.add_jobs_option(perf)
    h.add_quiet_option(perf)
    h.add_trust_option(p.add_argument_group("Trust"))
    h.add_input_options(p, bundle=True)
    h.finish_command(p).set_defaults(func=_cmd_evaluate)
