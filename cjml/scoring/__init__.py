"""Batch scoring: every customer's churn risk, next stage, drivers and best touchpoint.

:func:`score` reads an event log (a DataFrame, a CSV or Parquet file, or a
folder of them), scores every customer with a :class:`~cjml.ModelBundle` at
one cutoff, and returns or writes one row per scored customer (and, with
``include_inactive=True``, after them, one per other customer):

``customer_id, churn_risk, risk_band, reach_probability`` (the chance the
customer is still there to receive a touchpoint,
:func:`cjml.recommend.still_there`; empty with ``recommend=False``), ``next_stage, next_stage_proba,
top_drivers, recommended_touchpoint, expected_risk_reduction,
expected_risk_reduction_low, expected_risk_reduction_high, uncertain`` (the
interval on the first touchpoint's reduction and whether it includes no
effect; then ``recommended_touchpoint_r, expected_risk_reduction_r`` for ranks
``r = 2..k`` with ``top_k=k``), and ``status``. What the bundle holds and the
options add more:

- ``horizons=`` (``--horizons 7D,30D,90D``): ``churn_risk_7d, churn_risk_30d,
  ...`` right after ``churn_risk``, from the bundle's survival model, each
  customer's curve anchored so that the bundle's horizon equals ``churn_risk``;
- a value model in the bundle (:class:`cjml.ValueModel`): ``expected_value,
  expected_value_low, expected_value_high, value_at_risk`` after
  ``reach_probability``, and ``expected_value_saved`` (the reduction times the
  value if retained, minus the touchpoint's cost) right after each
  ``expected_risk_reduction``; the recommendations are then ranked by it
  (``rank_by="auto"``, see :class:`cjml.RecommendationRules`).

The statuses:

- ``"scored"``: the customer had an event within the bundle's lookback before
  the cutoff, the population the models were trained on;
- ``"inactive"``: events at or before the cutoff, but none of their own within
  the lookback (what the map marks ``outbound``, such as a newsletter sent,
  does not count): outside that population, so not scored (their columns are
  empty);
- ``"cancelled"``: left explicitly by the cutoff (an event of a touchpoint the
  map marks ``churn``, such as a subscription cancelled, and no purchase since;
  :meth:`cjml.EventLog.gone_at`): outside the population, not scored;
- ``"no_events"``: no usable event at or before the cutoff (a listed customer
  absent from the events, whose rows were all rejected, or whose events all
  come later).

Nobody goes missing silently: the summary counts every customer by status and
says how many were not written; with ``include_inactive=True`` (``cjml score
--include-inactive``), every listed customer has a row with a customer list,
and every customer of the events has one without.

**Bounded memory (engine "local").** The events are read twice, in batches:

1. *Partition pass.* Each batch of rows is read (columns the bundle does not
   use are skipped), its timestamps are parsed, and each row goes to the
   temporary Parquet partition ``hash(customer_id) % n_partitions``. A
   customer's rows therefore all land in the same partition, wherever they
   sit in the input and in whatever order: a customer's history is never
   split between chunks, sorted input or not.
2. *Scoring pass.* Each partition (about ``chunk_events`` events) is
   validated as an :class:`~cjml.EventLog`, featurized, predicted, explained
   and written as a finished chunk, sorted by customer.

The chunks are then merged by customer id into the output, a batch at a time.
Memory depends on the batch and chunk sizes, not on the size of the input.

**Nothing lost.** The output is written to a temporary file and renamed into
place (CSV through cjml's one formula-safe writer, :func:`cjml.panel.write_csv`;
mode ``0666 & ~umask``), and an existing output is refused without
``force=True``. An output that is one of the inputs (events file or folder,
bundle, customer list, rules file) is refused even with ``force=True``, before
any work. Finished chunks and a small ``state.json`` live in a folder beside
the output (``.NAME.cjml-run``) until the run completes; ``resume=True``
continues an interrupted run from its finished chunks and gives the same
output as an uninterrupted run. A run that fails after finishing chunks keeps
them (a failure to write, such as a full disk, says so and names the file);
one that finished none leaves no folder. The state is keyed by a fingerprint of the inputs (file
names, sizes and modification times), the bundle and the options: resuming
with anything different is refused, naming what changed. Rows that fail
validation stop the run with their row numbers (``on_error="raise"``), or
(``on_error="quarantine"``) go to a rejects file beside the output
(``NAME.rejects.parquet`` or ``.csv``) with the reason, and are counted.

**Business rules** (``rules=``, as for :class:`cjml.TouchpointRecommender`)
apply to the recommendation columns. A ``budget`` must hold over the whole
run, so the chunks are scored without it, each keeping, per customer, the
first-ranked touchpoint's reduction and cost; the merge then applies the
recommender's own budget rule to all customers at once (in customer id order,
ordered by the same key as the touchpoints: reduction, per unit cost, or value
saved) and empties the recommendations of those past the budget. With a value
model the summary adds the total value at risk and what each customer's
first-ranked touchpoint saves (never the next ranks: they are alternatives).

**Engine "dask".** The same per-partition scoring on a dask.distributed
cluster: the input is read by the workers (row groups of Parquet files, or
whole CSV files), shuffled by customer so that each customer's history is
whole in one partition, and scored there; the client writes the chunks it
receives, then merges them exactly like the local engine, so the outputs are
equal. Without a scheduler address, a LocalCluster is started.

**Engine "local" on several cores.** The partition pass of Parquet input
(piece by piece) and then the chunks run side by side on ``n_jobs`` threads
(default: one per core from :data:`PARALLEL_FROM_EVENTS` input rows); Arrow,
numpy and LightGBM release the GIL, and threads cost no start-up and no copy
of the bundle. A thread writes its chunk's files atomically; only the calling
thread records a chunk as done, so an interrupted run resumes exactly as a
sequential one, and the output does not depend on ``n_jobs``. For more than
one machine (or many cores), use the Dask engine.

**Speed.** Risk and next stage are LightGBM predictions (``compile=True``
compiles the trees first, see :meth:`cjml.ChurnModel.compile`; the library is
cached, so later runs only load it); the drivers use the fast path
attributions of :func:`cjml.explain` (``method="saabas"``).

**Where each part lives.** Each part imports only parts listed above it:

- ``_batches.py``: a batch read into the event contract: columns conformed,
  timestamps parsed, ids checked, rows tagged with their partition; the rules
  on the whole input's times.
- ``_source.py``: the input (files of one format, or a DataFrame) and its
  batches: CSV, Parquet row groups, frame slices; the pieces that threads and
  Dask workers read.
- ``_options.py``: the options, risk bands and business rules checked; the
  bundle and the columns it needs; the customer list; the fingerprints of
  the inputs.
- ``_summary.py``: :class:`ScoreSummary`, and the counts and warnings of the
  chunks added up for the run.
- ``_chunk.py``: the plan and the output's columns; scoring one
  customer-complete partition; warnings recorded per thread.
- ``_run.py``: the run folder: lock, ``state.json``, resume fingerprint,
  finished chunks written atomically and recorded.
- ``_merge.py``: the chunks merged into the output; the run-wide budget;
  writing Parquet or CSV.
- ``_local.py``: the local engine: partition pass, thread pool, scoring pass.
- ``_dask_engine.py``: the Dask engine (the cluster helper is :mod:`cjml._dask`).
- ``_api.py``: :func:`score` itself, from the options to the summary.
"""

# PARALLEL_FROM_EVENTS and DEFAULT_CHUNK_EVENTS (the command line's default) are public
# values outside __all__, re-exported in the explicit "import X as X" form.
from cjml.scoring._api import score
from cjml.scoring._chunk import STATUSES
from cjml.scoring._local import PARALLEL_FROM_EVENTS as PARALLEL_FROM_EVENTS
from cjml.scoring._options import DEFAULT_CHUNK_EVENTS as DEFAULT_CHUNK_EVENTS
from cjml.scoring._options import DEFAULT_RISK_BANDS
from cjml.scoring._summary import ScoreSummary

__all__ = ["DEFAULT_RISK_BANDS", "STATUSES", "ScoreSummary", "score"]
