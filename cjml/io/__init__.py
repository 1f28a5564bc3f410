"""Files in and out: the one event reader, and the one home of writing rules.

Every command reads events through this package: :func:`cjml.read_events`
(and so ``validate``, ``features``, ``train``, ``evaluate``, ``recommend``,
``journey-map``), :func:`cjml.score` in bounded memory, and the Dask engine
on each worker. One set of rules, one set of messages:

- :mod:`cjml.io._csv`: the file rules (CSV or Parquet by content, UTF-8,
  separators, one header, every line as long as the header, compressed
  files), the text-file reader of journey maps and rules, customer-list ids;
- :mod:`cjml.io._json`: JSON Lines files (exports of event pipelines), read as
  text cells as a CSV file is, nested keys flattened into dotted columns;
- :mod:`cjml.io._excel`: Excel workbooks, their first sheet read as text cells
  as a CSV file is;
- :mod:`cjml.io._files`: paths, folders and customer lists: which files, in
  which format, read whole (``read_events``) with their origin;
- :mod:`cjml.io._source`: the same files (or a DataFrame) as Arrow batches,
  in bounded memory, for ``score`` and the Dask engine;
- :mod:`cjml.io._batches`: one Arrow batch put into the contract (canonical
  names and types, timestamps parsed, ids checked, rejected rows tagged with
  the reason), with the statistics that the whole-log rules need;
- :mod:`cjml.io._rejects`: building a log while setting aside, with the
  reason, the rows each rule refuses (``--on-error quarantine``);
- :mod:`cjml.io._columns`: the column mapping (``columns=``), "did you mean",
  nested extra columns;
- :mod:`cjml.io._timestamps`: timestamps in every accepted form, as UTC
  nanoseconds, and the rules on a whole log's times;
- :mod:`cjml.io._values`: customer ids, touchpoints, stages, channels, scores
  and amounts checked and turned into arrays;
- :mod:`cjml.io._messages`: the canonical names and how a message points at
  rows (``row 12 (events.csv line 14)``, a DataFrame's index);
- :mod:`cjml.io._write`: everything cjml writes (atomic, never over an input,
  an existing file only with ``--force``, mode ``0666 & ~umask``, one
  formula-safe CSV writer).

What is left to :mod:`cjml.events` is the in-memory :class:`~cjml.EventLog`:
canonical order, categories, the derived stage and the summary.
"""
