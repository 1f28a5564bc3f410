"""How every ``cjml`` command presents itself: the help layout, placeholders, option types.

One home for what commands share, so that an option means the same thing everywhere:

- the help formatter (wrapped prose, verbatim examples, "(required)" added to required
  options) and :func:`add_command`, which gives each command its "Examples:" epilog and a
  short usage line;
- the placeholders (:data:`PLACEHOLDERS`): an option's value is written ``PATH``, ``DATE``,
  ``N``, ``DURATION``... never argparse's upper-cased option name;
- the option types (:func:`positive_int`, :func:`folds`, :func:`duration`,
  :func:`whole_days`), which refuse a bad value as a usage error naming the option;
- the options several commands share (:func:`add_input_options`, :func:`add_jobs_option`,
  :func:`add_quiet_option`, :func:`add_force_option`, :func:`add_trust_option`,
  :func:`add_rules_option`, :func:`add_top_k_option`), each with one help text.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import textwrap
from collections.abc import Sequence

import pandas as pd

#: The placeholders an option's value may be shown with (choices show as ``{a,b}``).
PLACEHOLDERS = frozenset(
    {
        "PATH",
        "DIR",
        "DATE",
        "DATE,...",
        "N",
        "DURATION",
        "DURATION,...",
        "ADDRESS",
        "COLUMN",
        "COLUMN,...",
        "METHOD",
        "TIMEZONE",
        "NAME=COLUMN,...",
        "BAND=RISK,...",
        "ID,...",
        "MODEL",
        "EVENTS",
        "SHELL",
        "PORT",
        "HOST",
        "CODE",
        "RATE|COLUMN",
        "NAME",
        "NAME,...",
        "WEIGHT",
        "SHARE",
        "ID",
        "LEVEL",
        "MANIFEST",
    }
)

#: Where a command's help sends the reader for more (a heading of README.md).
README_RULES = "Recommendations: which touchpoint, and how far to trust them"
README_SCORING = "Scoring every customer"
README_INPUT = "The event log: input contract"
README_CLI = "Command line"
README_APP = "The marketer’s app"

#: ``--top-k``'s default in score and recommend alike, and ``cjml.score``'s: the touchpoint to
#: deliver (a run started in Python resumes from the command line with the same options).
DEFAULT_TOP_K = 1


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help as people like it: prose wrapped to the terminal (at most 100 columns), example
    blocks (indented lines) verbatim, required options marked "(required)"."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 30,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = min(shutil.get_terminal_size().columns, 100) - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Wrap each paragraph of prose; keep a paragraph with indented lines as written."""
        blocks = []
        for paragraph in text.split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):  # examples, lists
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(
                    textwrap.fill(
                        " ".join(paragraph.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(blocks)

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._SubParsersAction):  # the commands, one a line,
            # without argparse's "COMMAND" line above them
            return "".join(self._format_action(a) for a in action._get_subactions())
        return super()._format_action(action)

    def _iter_indented_subactions(self, action: argparse.Action):
        """The commands, at the options' indent: they are listed there (_format_action), so
        measured there too (Python 3.13 measures them one indent further than 3.11 did)."""
        get_subactions = getattr(action, "_get_subactions", None)
        if get_subactions is not None:
            yield from get_subactions()

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.required and action.option_strings:
            text += " (required)"
        return text


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    *,
    summary: str,
    description: str,
    examples: Sequence[tuple[str, str]],
    see: str | None = None,
) -> argparse.ArgumentParser:
    """A command's parser, without its options yet.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``cjml`` parser's subcommands.
    name : str
        The command, e.g. ``"score"``.
    summary : str
        One line for the list of commands in ``cjml --help``.
    description : str
        What the command does, in prose (wrapped to the terminal).
    examples : sequence of (str, str)
        Command lines (without the leading ``cjml``) with a few words on each, printed
        under "Examples:" at the end of the command's help.
    see : str, optional
        A heading of README.md with more; the help names it.

    Returns
    -------
    argparse.ArgumentParser
        Add the options in groups, then call :func:`finish_command`.
    """
    lines = ["Examples:"]
    for line, comment in examples:
        lines.append(f"  cjml {line}")
        if comment:
            lines.append(f"      # {comment}")
    epilog = "\n".join(lines)
    if see:
        epilog += f"\n\nMore in the README, section '{see}'."
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=Formatter,
        add_help=False,
    )


def finish_command(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options every command has (last in its help) and a short usage line:
    ``cjml score MODEL EVENTS --out PATH [options]``."""
    general = parser.add_argument_group("General")
    general.add_argument("-h", "--help", action="help", help="show this help and exit")
    # SUPPRESS: `cjml --debug score ...` set it already; the subcommand must not reset it
    general.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback when something fails",
    )
    words = []
    for action in parser._actions:
        if not action.option_strings:
            words.append(str(action.metavar or action.dest))
        elif action.required:
            words.append(f"{action.option_strings[0]} {action.metavar}")
    parser.usage = " ".join(["%(prog)s", *words, "[options]"])
    return parser


# --------------------------------------------------------------------------- option types
def positive_int(text: str) -> int:
    """A whole number >= 1 (``--jobs``, ``--top-k``, ``--n-cutoffs``...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def positive_number(text: str) -> float:
    """A number > 0, whole or not (``--negative-weight 12``, ``--negative-weight 2.5``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def training_rows(text: str) -> int:
    """``--max-training-rows``: 0 (every row) or a whole number of at least 1,000."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value != 0 and value < 1_000:
        raise argparse.ArgumentTypeError(
            f"expected 0 (every row) or a number of at least 1000, got {value}"
        )
    return value


def folds(text: str) -> int:
    """The number of cross-validation folds: 2 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of folds, got {text!r}"
        ) from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected 2 folds or more (5 is usual), got {value}")
    return value


def feature_families(text: str) -> tuple[str, ...]:
    """Feature family names, comma separated (``activity,touchpoints,value``), each known."""
    from cjml.features import FAMILIES

    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"expected family names separated by commas, e.g. activity,touchpoints, got {text!r}"
        )
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(FAMILIES), n=1)
        raise argparse.ArgumentTypeError(
            f"unknown feature famil{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}; the families are {', '.join(FAMILIES)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
        )
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"a family is named twice in {text!r}")
    return names


_DAYS = re.compile(r"\d+")


def _timedelta(text: str) -> pd.Timedelta:
    if _DAYS.fullmatch(text.strip()):
        return pd.Timedelta(days=int(text))
    bad = argparse.ArgumentTypeError(
        f"expected a duration such as 30D, 12W or 36h (a plain number is days), got {text!r}"
    )
    try:
        delta = pd.Timedelta(text.strip())
    except (TypeError, ValueError):
        raise bad from None
    if pd.isna(delta) or not any(c.isalpha() for c in text):
        raise bad
    if delta <= pd.Timedelta(0):
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return delta


def duration(text: str) -> str:
    """A positive duration: ``30D``, ``12W``, ``36h``; a plain number is days (``30`` is
    ``30D``). Returned as text the Python API reads, in the user's spelling."""
    _timedelta(text)  # a bad value is a usage error that names the option
    text = text.strip()
    return f"{text}D" if _DAYS.fullmatch(text) else text


def whole_days(text: str) -> int:
    """A duration of whole days (``30D``, ``4W`` or ``30``), as a number of days."""
    delta = _timedelta(text)
    if delta != pd.Timedelta(days=delta.days):
        raise argparse.ArgumentTypeError(f"expected whole days such as 30D or 4W, got {text!r}")
    return int(delta.days)


# --------------------------------------------------------------------------- shared options
def add_input_options(
    parser: argparse.ArgumentParser,
    *,
    journey_map: bool = True,
    bundle: bool = False,
    quarantine: bool = True,
    rejects: bool = True,
) -> None:
    """The options that say how EVENTS is read (every command that reads events); last among
    a command's options, before "General". ``bundle``: the command reads events for a bundle
    (its journey map, and the column names it was trained on, are the defaults).
    ``quarantine``: ``--on-error`` (score has its own, for its run); ``rejects``: with it,
    ``--rejects`` (the app writes no file)."""
    group = parser.add_argument_group(
        "Reading EVENTS", f"How the events are read (README: '{README_INPUT}')."
    )
    if journey_map:  # score takes the bundle's journey map, and only it
        group.add_argument(
            "--map",
            metavar="PATH",
            help="journey map (.toml or .json); default: "
            + ("the bundle's" if bundle else "the built-in map"),
        )
    group.add_argument(
        "--columns",
        metavar="NAME=COLUMN,...",
        help="your column names, e.g. customer_id=user,timestamp=event_time"
        + ("; default: the names the bundle was trained on" if bundle else ""),
    )
    group.add_argument(
        "--timezone",
        default=None,
        metavar="TIMEZONE",
        help="timezone of naive timestamps and of dates such as --cutoff, e.g. Europe/Paris "
        "(default: the one a file written by 'cjml validate --out' records, else the zone "
        "of a timezone-aware timestamp column in a Parquet file, "
        + ("else the bundle's, " if bundle else "")
        + "else UTC)",
    )
    group.add_argument(
        "--timestamp-unit",
        choices=["s", "ms", "us", "ns"],
        help="read numeric timestamps as epoch values in this unit",
    )
    group.add_argument(
        "--drop-duplicates",
        action="store_true",
        help="remove exact duplicate events (they are only reported otherwise)",
    )
    group.add_argument(
        "--encoding",
        metavar="NAME",
        help="text encoding of CSV files that are not UTF-8 (EVENTS, and --customers "
        "where there is one), e.g. cp1252 (Excel on Windows) or latin-1; UTF-16 with its "
        "byte-order mark is read without it",
    )
    group.add_argument(
        "--missing-ids",
        metavar="ID,...",
        help="customer ids that mean missing, e.g. NA,null (default: only empty "
        "ids; 'NA', 'null' and 'None' are ids like any other)",
    )
    group.add_argument(
        "--touchpoint",
        metavar="NAME",
        help="the touchpoint of every event, for events without a touchpoint column (a log "
        "of purchases: --touchpoint purchase)"
        + ("; default: the bundle's, when it was trained so" if bundle else ""),
    )
    if quarantine:
        group.add_argument(
            "--on-error",
            choices=["raise", "quarantine"],
            default="raise",
            help="rows that break a rule (a missing id, an unreadable time...) stop the "
            "command (default), or are set aside"
            + (", written to --rejects," if rejects else "")
            + " and the rest is used",
        )
    if quarantine and rejects:
        group.add_argument(
            "--rejects",
            metavar="PATH",
            help="where --on-error quarantine writes the rows set aside, with the reason "
            "(.csv or .parquet; default: beside --out as OUT_NAME.rejects.csv, or "
            "EVENTS_NAME.rejects.csv in the current folder)",
        )


def add_events_argument(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "events",
        metavar="EVENTS",
        help="CSV, Parquet, JSON Lines or Excel (.xlsx) file, or a folder of them",
    )


def add_model_argument(group: argparse._ActionsContainer) -> None:
    group.add_argument("model", metavar="MODEL", help="bundle file written by cjml train")


def add_out_option(group: argparse._ActionsContainer, what: str) -> None:
    group.add_argument("--out", required=True, metavar="PATH", help=what)


def add_force_option(
    group: argparse._ActionsContainer, what: str = "replace an existing output file"
) -> None:
    group.add_argument("--force", action="store_true", help=what)


def add_jobs_option(group: argparse._ActionsContainer, what: str | None = None) -> None:
    group.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help=what
        or "threads for the features and LightGBM (default: one, and "
        "from 50,000 rows the cores idle at the start: on a busy "
        "machine more threads are many times slower)",
    )


def attribute_columns(text: str) -> tuple[str, ...]:
    """--attributes: column names separated by commas, or 'none'."""
    if text.strip().lower() == "none":
        return ()
    columns = tuple(c.strip() for c in text.split(",") if c.strip())
    if not columns:
        raise argparse.ArgumentTypeError(
            f"expected column names separated by commas, or none; got {text!r}"
        )
    return columns


def add_attributes_option(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--attributes",
        type=attribute_columns,
        metavar="COLUMN,...",
        help="the event columns that describe the customer (a plan, a region, seats) to use "
        "as features, numbers included; 'none' for no such feature (default: every text "
        "column with at most 50 distinct values; the command says which it used and which "
        "it left out)",
    )


def add_quiet_option(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--quiet",
        action="store_true",
        help=(
            "no progress bars (results, warnings and errors are still printed; bars are "
            "shown on a terminal only)"
        ),
    )


def add_trust_option(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also load a bundle of cjml's first, pickle-based format (.joblib); "
        "unpickling runs any code the file holds, so only for files you "
        "made; save it again with ModelBundle.save to convert it",
    )


def add_rules_option(group: argparse._ActionsContainer, *, extra: str = "") -> None:
    """``--rules PATH``: the business rules of the recommendations (recommend and score)."""
    group.add_argument(
        "--rules",
        metavar="PATH",
        help="business rules (TOML): exclude, caps, min_risk, min_reduction, "
        f"budget, costs, rank_by{extra} (README: '{README_RULES}')",
    )


def add_top_k_option(group: argparse._ActionsContainer) -> None:
    """``--top-k N``, one default for score and recommend."""
    group.add_argument(
        "--top-k",
        type=positive_int,
        default=DEFAULT_TOP_K,
        metavar="N",
        help=f"touchpoints recommended per customer, best first (default "
        f"{DEFAULT_TOP_K} in score and recommend alike: the one to deliver; "
        "--top-k 3 adds two fall-backs for when it cannot be)",
    )


def add_cutoff_option(group: argparse._ActionsContainer, what: str) -> None:
    group.add_argument("--cutoff", metavar="DATE", help=what)


def add_customers_option(group: argparse._ActionsContainer, what: str) -> None:
    group.add_argument(
        "--customers",
        metavar="PATH",
        help=f"{what}: a CSV or Parquet file with a customer_id column (or your "
        "name for it), or a single column",
    )
