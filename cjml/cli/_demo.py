"""``cjml demo``: the main job end to end on the bundled sample."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import cjml
import cjml.evaluation
from cjml.cli import _help as h
from cjml.cli._acting import recommendation_summary, write_actions
from cjml.cli._shared import cli_words, say
from cjml.exceptions import CjmlError
from cjml.io._write import write_table
from cjml.labels import to_timedelta


def _cmd_demo(args: argparse.Namespace) -> int:
    from cjml import datasets

    workdir = Path(args.workdir)
    events_path = workdir / "events.parquet"
    _refuse_earlier_demo(workdir, force=args.force)  # before the work, not after
    say(f"cjml {cjml.__version__} demo: the sample journey, end to end. Files go to {workdir}/")
    started = time.perf_counter()
    say(
        f"[1/6] Simulating {datasets.SAMPLE_PARAMS['n_customers']:,} customers with ground "
        f"truth (seed {datasets.SAMPLE_PARAMS['random_state']})..."
    )
    data = datasets.make_journeys(**datasets.SAMPLE_PARAMS)
    bundled = datasets.load_sample()
    same = isinstance(bundled, pd.DataFrame) and bundled.equals(data.events)
    say(
        f"      {len(data.events):,} events; identical to the bundled sample: "
        f"{'yes' if same else 'NO'}"
    )
    if not same:
        raise CjmlError(
            "The simulator no longer reproduces data/sample_events.parquet. If the "
            "change was intended, rebuild it: cjml generate --sample --out data "
            "--force"
        )
    write_table(data.events, events_path, force=args.force)
    write_table(data.truth, workdir / "truth.parquet", force=args.force)
    say(f"[2/6] Validating {events_path}...")
    log = cjml.read_events(events_path)
    say(cli_words(log.summary().to_text()))
    say("[3/6] Ground truth (the true 30-day risk the models are measured against):")
    truth = data.truth
    for cutoff, rows in truth.groupby("cutoff", sort=True):
        active = rows[rows["active"]]
        say(
            f"      cutoff {cutoff.date()}: {len(rows):,} customers seen, mean true risk "
            f"{rows['risk_no_action'].mean():.3f}, realised drop-off "
            f"{rows['realised_churn'].mean():.3f}; of the {len(active):,} not yet gone: "
            f"{active['risk_full_no_action'].mean():.3f} vs "
            f"{active['realised_churn'].mean():.3f}; true expected spend over the horizon "
            f"{rows['expected_value'].sum():,.0f} in all"
        )
    say(
        "[4/6] Training the churn and next-stage models; evaluating them on the latest "
        "cutoff, held out..."
    )
    bundle, report = cjml.train(log, n_jobs=args.jobs)
    assert report is not None  # with the latest cutoff held out, train always evaluates
    model_path = bundle.save(workdir / "model.cjml", force=args.force)
    say(cli_words(report.to_text()))
    say(f"      saved {model_path}")
    say(
        "[5/6] Scoring every customer with the saved bundle (risk, risk within 7, 30 "
        "and 90 days, band, expected value and value at risk, next stage, drivers, the "
        "touchpoints that save the most value)..."
    )
    # force: scores.parquet was checked above; this also clears an interrupted demo's run
    summary = cjml.score(
        model_path,
        events_path,
        out=workdir / "scores.parquet",
        force=True,
        top_k=3,
        horizons="7D,30D,90D",
        n_jobs=args.jobs,
    )
    say("      " + cli_words(summary.to_text()).replace("\n", "\n      "))
    say(
        "[6/6] Recommending, for every customer active in the last "
        f"{cjml.evaluation.duration_text(to_timedelta(bundle.metadata['lookback']))}, the "
        "touchpoints most likely to prevent drop-off..."
    )
    from cjml.recommend import TouchpointRecommender

    actions = TouchpointRecommender.from_bundle(bundle, n_jobs=args.jobs).recommend(
        log, lookback=bundle.metadata["lookback"]
    )
    actions_path = write_actions(actions, workdir / "actions.csv", force=args.force)
    say(recommendation_summary(actions))
    say(f"      wrote {actions_path}")
    say(f"Done in {time.perf_counter() - started:.1f} s.")
    return 0


#: What ``cjml demo`` writes into its --workdir.
_DEMO_OUTPUTS = (
    "events.parquet",
    "truth.parquet",
    "model.cjml",
    "model.cjml.manifest.json",
    "scores.parquet",
    "actions.csv",
)


def _refuse_earlier_demo(workdir: Path, *, force: bool) -> None:
    """Refuse to replace an earlier demo's outputs without --force."""
    if workdir.exists() and not workdir.is_dir():
        raise CjmlError(
            f"Cannot use {str(workdir)!r} as the demo's --workdir: it is a file. "
            "Choose another --workdir (a folder, new or existing)."
        )
    existing = [name for name in _DEMO_OUTPUTS if (workdir / name).exists()]
    if existing and not force:
        raise CjmlError(
            f"{str(workdir)!r} already holds the outputs of an earlier demo "
            f"({', '.join(existing)}), left untouched. Pass --force to replace "
            "them, or choose another --workdir."
        )


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "demo",
        summary="run the main job end to end on the sample",
        description="Simulate the sample with ground truth, check it matches the bundled copy, "
        "validate it, report the truth, train and evaluate the models and save "
        "them, score every customer and write the recommended actions: events, "
        "truth, model.cjml, scores.parquet and actions.csv in --workdir.",
        examples=[
            ("demo", "files in ./cjml-demo"),
            ("demo --workdir /tmp/cjml-demo --force", "again, over an earlier demo"),
        ],
        see="The two commands",
    )
    run = p.add_argument_group("Output and performance")
    run.add_argument(
        "--workdir",
        default="cjml-demo",
        metavar="DIR",
        help="folder for the demo's files (default ./cjml-demo)",
    )
    h.add_force_option(run, "replace the outputs of an earlier demo in --workdir")
    h.add_jobs_option(run)
    h.finish_command(p).set_defaults(func=_cmd_demo)
