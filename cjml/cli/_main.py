"""The ``cjml`` parser and :func:`main`: parse, run the command, report errors in one line.

Every command calls cjml's public Python API; no logic lives here. Errors reach
stderr as one message and a non-zero exit code (1 for bad input, 2 for bad
usage); ``--debug`` shows the traceback instead. Messages raised by the library
may name an option twice, as a keyword and as an option ("--force (force=True)"):
:func:`cli_words` keeps the command-line spelling.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Callable, Sequence

import cjml
from cjml.cli import _help as h
from cjml.cli._acting import add_recommend, add_score
from cjml.cli._completion import add_completion
from cjml.cli._data import add_features, add_generate, add_journey_map, add_validate
from cjml.cli._demo import add_demo
from cjml.cli._models import add_evaluate, add_train
from cjml.exceptions import CjmlError

__all__ = ["build_parser", "cli_words", "main"]

_DESCRIPTION = """\
Customer-journey machine learning, from an event log (who, when, which touchpoint) to \
decisions. Check an event log (validate), simulate journeys with ground truth (generate), \
compute features (features), draw the data-driven journey map (journey-map), train and \
evaluate the churn and next-stage models (train, evaluate), score every customer (score) and \
recommend the touchpoints most likely to prevent drop-off (recommend); demo runs it all on \
the bundled sample, and completion prints a shell completion script."""

_EPILOG = f"""\
Examples:
  cjml demo
      # the whole job on the bundled sample, files in ./cjml-demo
  cjml validate my_crm_export.csv --columns customer_id=user,timestamp=event_time
  cjml train journeys.parquet --out models/journeys.cjml
  cjml score models/journeys.cjml journeys.parquet --out scores.parquet
  cjml recommend models/journeys.cjml journeys.parquet --out actions.csv --rules rules.toml

Run 'cjml COMMAND --help' for a command's options. Every option of every command is in the \
README, section '{h.README_CLI}'."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cjml`` command.

    Returns
    -------
    argparse.ArgumentParser
        With one subcommand per command, in the order of the workflow.
    """
    parser = argparse.ArgumentParser(
        prog="cjml",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=h.Formatter,
        add_help=False,
        usage="%(prog)s [--version] [--debug] COMMAND [options]",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="Commands", prog="cjml")
    add_demo(sub)
    add_generate(sub)
    add_validate(sub)
    add_features(sub)
    add_journey_map(sub)
    add_train(sub)
    add_evaluate(sub)
    add_score(sub)
    add_recommend(sub)
    add_completion(sub, build_parser)
    general = parser.add_argument_group("General")
    general.add_argument("-h", "--help", action="help", help="show this help and exit")
    general.add_argument(
        "--version",
        action="version",
        version=f"cjml {cjml.__version__}",
        help="print cjml's version and exit",
    )
    general.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback when something fails (also after the "
        "command: cjml score ... --debug)",
    )
    return parser


# --------------------------------------------------------------------------- messages
_KEYWORD = r"[a-z_]+=(?:'[^']*'|\"[^\"]*\"|\.\.\.|[\w.\-\[\]]+)"  # force=True, step='8D'
_OPTION = r"--[a-z][a-z-]*(?: (?!\()[^\s(),;]+)?"  # --force, --step 8D
_RULES = [
    # "--force (force=True)" -> "--force"
    (re.compile(rf"({_OPTION}) \({_KEYWORD}\)"), r"\1"),
    # "drop_duplicates=True (--drop-duplicates)" -> "--drop-duplicates"
    (re.compile(rf"{_KEYWORD} \(({_OPTION})\)"), r"\1"),
    # "(horizon='133D', --horizon 133D)", "(step='8D'; --step 8D)" -> "(--horizon 133D)"
    (re.compile(rf"\({_KEYWORD}[,;] ((?:--|cjml )[^()]*)\)"), r"(\1)"),
    # "(evaluate(log, bundle, cv=5); cjml evaluate MODEL EVENTS --cv 5)" -> "(cjml evaluate ...)"
    (re.compile(r"\([a-z_.]+\([^()]*\)[,;] ((?:--|cjml )[^()]*)\)"), r"(\1)"),
    # "columns=... / --columns" -> "--columns"
    (re.compile(rf"{_KEYWORD} / ({_OPTION})"), r"\1"),
]


def cli_words(message: str) -> str:
    """Put a library message in command-line words: the option, not the keyword.

    Where a message names an option both as a keyword argument and as an option
    ("--force (force=True)"), only the option stays.

    Parameters
    ----------
    message : str
        An error or warning message of cjml's Python API.

    Returns
    -------
    str
        The message without the Python spelling of options it also names as options.

    Examples
    --------
    >>> cli_words("pass --force (force=True) to replace it")
    'pass --force to replace it'
    >>> cli_words("use at most 133 days (horizon='133D', --horizon 133D)")
    'use at most 133 days (--horizon 133D)'
    """
    for pattern, replacement in _RULES:
        message = pattern.sub(replacement, message)
    return message


def _warn_line(message: warnings.WarningMessage) -> None:
    print(f"warning: {cli_words(str(message.message))}", file=sys.stderr, flush=True)


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
            print(f"error: {cli_words(str(exc))}", file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # a bug of ours: say so plainly, keep the traceback opt-in
            if args.debug:
                raise
            print(
                f"internal error ({type(exc).__name__}): {exc}\nThis is a bug in cjml; rerun "
                "with --debug for the traceback and report it.",
                file=sys.stderr,
                flush=True,
            )
            return 1
    for w in caught:
        _warn_line(w)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
