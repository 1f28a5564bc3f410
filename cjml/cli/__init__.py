"""The ``cjml`` command line: argument parsing and messages only.

Every command calls cjml's public Python API. The package's map:

- ``_main``: the parser (:func:`build_parser`), :func:`main` and the one place errors are
  printed, in command-line words (:func:`cli_words`, in ``_shared``); ``COMMANDS`` names
  each command's module, imported only when that command runs (or for the full help and
  completion), so ``cjml features`` does not load scikit-learn, LightGBM or SciPy;
- ``_help``: how every command presents itself (help layout, examples, placeholders, option
  types) and the options several commands share, each with one help text;
- ``_data`` (generate, validate, features, journey-map), ``_models`` (train, evaluate),
  ``_acting`` (score, recommend), ``_app`` (app), ``_demo`` (demo), ``_completion``
  (completion): one module per group of commands, each with its ``add_*`` parser and its
  handler;
- ``_shared``: what the handlers share (messages in command-line words, reading the events,
  loading the bundle).
"""

from cjml.cli._main import build_parser, main, run
from cjml.cli._shared import cli_words

__all__ = ["build_parser", "cli_words", "main", "run"]
