"""What the commands' handlers share: printing, library messages in command-line words
(:func:`cli_words`), reading the events, loading the bundle."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import cjml
from cjml.exceptions import InputFileError
from cjml.io._write import TABLE_SUFFIXES, check_output, write_table


def say(message: str = "") -> None:
    """Print a line of the command's output at once (progress bars share the terminal)."""
    print(message, flush=True)


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless --quiet, and only on a terminal: in a log file or a pipe (a
    scheduled job, CI) each redraw of a bar would be one more line of noise."""
    return not args.quiet and sys.stderr.isatty()


def inputs_of(args: argparse.Namespace, **more: Any) -> dict:
    """The command's input files (events, --map, the bundle, --customers, --rules...), which
    its outputs must never overwrite."""
    inputs = {"events file": args.events, "journey map": getattr(args, "map", None)}
    model = more.pop("model", None)
    if model:
        inputs["bundle"] = model
        inputs["bundle's manifest"] = Path(model).with_name(Path(model).name + ".manifest.json")
    inputs.update(more)
    return inputs


def read_log(
    args: argparse.Namespace, journey_map: Any = None, bundle: Any = None
) -> cjml.EventLog:
    """EVENTS read with the command's "Reading EVENTS" options; --map wins over the bundle's.

    With a bundle and no --columns, the column names it was trained on are used where the
    events have them (:meth:`cjml.ModelBundle.columns_for`).
    """
    if getattr(args, "map", None) is not None:
        journey_map = args.map
    columns = (
        args.columns
        if bundle is None
        else bundle.columns_for(args.events, args.columns, args.encoding)
    )
    on_error = getattr(args, "on_error", "raise")
    rejects = None
    if on_error == "quarantine":  # refused before the reading if it would overwrite a file
        rejects = rejects_path(args)
        if not hasattr(args, "force") and rejects.exists():  # a command without --force
            raise InputFileError(
                f"{str(rejects)!r} already exists and was left untouched. Choose another "
                "--rejects, or move that file away."
            )
        rejects = check_output(
            rejects,
            inputs=inputs_of(args),
            force=getattr(args, "force", False),
            suffixes=TABLE_SUFFIXES,
            option="--rejects",
        )
    log = cjml.read_events(
        args.events,
        columns=columns,
        journey_map=journey_map,
        timezone=args.timezone
        if bundle is None
        else bundle.timezone_for(args.events, args.timezone, args.columns),
        timestamp_unit=args.timestamp_unit,
        drop_duplicates=args.drop_duplicates,
        missing_ids=args.missing_ids,
        encoding=args.encoding,
        on_error=on_error,
        touchpoint=args.touchpoint
        if bundle is None
        else bundle.touchpoint_for(args.events, args.touchpoint, columns, args.encoding),
        data_end=getattr(args, "data_end", None),  # the commands that label have --data-end
    )
    if rejects is not None and len(log.rejects):
        write_table(log.rejects, rejects, force=getattr(args, "force", False))
        n = len(log.rejects)
        say(f"Wrote the {n:,} {'row' if n == 1 else 'rows'} set aside to {rejects}")
    return log


def rejects_path(args: argparse.Namespace) -> Path:
    """Where ``--on-error quarantine`` writes the rows set aside: ``--rejects``, else beside
    ``--out`` as ``OUT_NAME.rejects.csv`` (as ``score`` does), else ``EVENTS_NAME.rejects.csv``
    in the current folder (never beside the events: a folder of them would then hold a file
    that is not an event file)."""
    if getattr(args, "rejects", None):
        return Path(args.rejects)
    out = getattr(args, "out", None)
    if out:
        return Path(out).with_name(f"{Path(out).name.split('.')[0]}.rejects.csv")
    return Path(f"{Path(args.events).name.split('.')[0] or 'events'}.rejects.csv")


def load_bundle(args: argparse.Namespace) -> cjml.ModelBundle:
    return cjml.ModelBundle.load(args.model, trusted=args.trust_pickle)


# --------------------------------------------------------------------------- messages
_KEYWORD = r"[a-z_]+=(?:'[^']*'|\"[^\"]*\"|\.\.\.|[\w.\-\[\]]+)"  # force=True, step='8D'
_OPTION = r"--[a-z][a-z-]*(?: (?!\()[^\s(),;]+)?"  # --force, --step 8D
_RULES = [
    # "--force (force=True)" -> "--force"
    (re.compile(rf"({_OPTION}) \({_KEYWORD}\)"), r"\1"),
    # "drop_duplicates=True (--drop-duplicates)" -> "--drop-duplicates"
    (re.compile(rf"{_KEYWORD} \(({_OPTION})\)"), r"\1"),
    # "(horizon='133D', --horizon 133D)", "(step='8D'; --step 8D)" -> "(--horizon 133D)",
    # "(horizon='9D', lookback='27D'; --horizon 9D --lookback 27D)" -> "(--horizon 9D ...)"
    (re.compile(rf"\((?:{_KEYWORD}, )*{_KEYWORD}[,;] ((?:--|cjml )[^()]*)\)"), r"(\1)"),
    # "(evaluate(log, bundle, cv=5); cjml evaluate MODEL EVENTS --cv 5)" -> "(cjml evaluate ...)"
    (re.compile(r"\([a-z_.]+\([^()]*\)[,;] ((?:--|cjml )[^()]*)\)"), r"(\1)"),
    # "e.g. read_events(..., columns={...}) or on the command line --columns" -> "e.g. --columns"
    (re.compile(r"[a-z_]+\(\.\.\., [^()]*\) or on the command line "), ""),
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
    >>> cli_words("a horizon of 9 days (horizon='9D', lookback='27D'; --horizon 9D --lookback 27D)")
    'a horizon of 9 days (--horizon 9D --lookback 27D)'
    >>> cli_words("e.g. read_events(..., columns={'timestamp': 'Date'}) or on the command line "
    ...           "--columns timestamp=Date")
    'e.g. --columns timestamp=Date'
    """
    for pattern, replacement in _RULES:
        message = pattern.sub(replacement, message)
    return message
