"""The ``cjml`` parser and :func:`main`: parse, run the command, report errors in one line.

Every command calls cjml's public Python API; no logic lives here. Errors reach
stderr as one message and a non-zero exit code (1 for bad input, 2 for bad
usage); ``--debug`` shows the traceback instead. Messages raised by the library
may name an option twice, as a keyword and as an option ("--force (force=True)"):
:func:`~cjml.cli._shared.cli_words` keeps the command-line spelling.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib import import_module

import cjml
from cjml._numpy_kernels import command_in
from cjml.cli import _help as h
from cjml.cli._shared import cli_words
from cjml.exceptions import CjmlError

__all__ = ["COMMANDS", "build_parser", "main", "run"]

#: The commands in the order of the workflow (and of ``cjml --help``): name -> (module,
#: function adding its parser). A run imports only its own command's module: the others
#: import scikit-learn, LightGBM or SciPy, seconds that ``cjml features`` does not need.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("cjml.cli._demo", "add_demo"),
    "generate": ("cjml.cli._data", "add_generate"),
    "validate": ("cjml.cli._data", "add_validate"),
    "draft-map": ("cjml.cli._data", "add_draft_map"),
    "features": ("cjml.cli._data", "add_features"),
    "journey-map": ("cjml.cli._data", "add_journey_map"),
    "train": ("cjml.cli._models", "add_train"),
    "evaluate": ("cjml.cli._models", "add_evaluate"),
    "score": ("cjml.cli._acting", "add_score"),
    "recommend": ("cjml.cli._acting", "add_recommend"),
    "uplift": ("cjml.cli._campaign", "add_uplift"),
    "app": ("cjml.cli._app", "add_app"),
    "completion": ("cjml.cli._completion", "add_completion"),
}

_DESCRIPTION = """\
Customer-journey machine learning, from an event log (who, when, which touchpoint) to \
decisions. Check an event log (validate), draft a journey map of its own stages and \
touchpoints (draft-map), simulate journeys with ground truth (generate), \
compute features (features), draw the data-driven journey map (journey-map), train and \
evaluate the churn and next-stage models (train, evaluate), score every customer (score) and \
recommend the touchpoints most likely to prevent drop-off (recommend), with a control group \
whose comparison after the campaign measures what it really did (uplift), and serve the \
marketer's app where those actions are approved (app); demo runs it all on the bundled \
sample, and completion prints a shell completion script."""

_EPILOG = f"""\
Examples:
  cjml demo
      # the whole job on the bundled sample, files in ./cjml-demo
  cjml validate my_crm_export.csv --columns customer_id=user,timestamp=event_time
  cjml train journeys.parquet --out models/journeys.cjml
  cjml score models/journeys.cjml journeys.parquet --out scores.parquet
  cjml recommend models/journeys.cjml journeys.parquet --out actions.csv --rules rules.toml
  cjml recommend models/journeys.cjml journeys.parquet --out actions.csv --control 10%
  cjml uplift actions.campaign.json events_after.parquet --out uplift.html
  cjml app models/journeys.cjml journeys.parquet --scores scores.parquet
      # the marketer's app at http://127.0.0.1:8866/

Run 'cjml COMMAND --help' for a command's options. Every option of every command is in the \
README, section '{h.README_CLI}'."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``cjml`` command.

    Parameters
    ----------
    command : str, optional
        Build only this command's subparser (see :data:`COMMANDS`), importing only its
        module; default: every command.

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
    for name in COMMANDS if command is None else [command]:
        module, adder = COMMANDS[name]
        add = getattr(import_module(module), adder)
        if name == "completion":  # its script covers every command
            add(sub, build_parser)
        else:
            add(sub)
    general = parser.add_argument_group("General")
    general.add_argument("-h", "--help", action="help", help="show this help and exit")
    general.add_argument(
        "--version",
        action=_Version,
        help="print cjml's version and exit",
    )
    general.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback when something fails (also after the "
        "command: cjml score ... --debug)",
    )
    return parser


class _Version(argparse._VersionAction):
    """``--version``, looked up (importlib.metadata) only when asked for."""

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = f"cjml {cjml.__version__}"
        super().__call__(parser, namespace, values, option_string)


def _command_in(argv: Sequence[str]) -> str | None:
    """The command of :data:`COMMANDS` ``argv`` runs, or None (see :func:`command_in`)."""
    return command_in(argv, COMMANDS)


def _warn_line(message: warnings.WarningMessage) -> None:
    print(f"warning: {cli_words(str(message.message))}", file=sys.stderr, flush=True)


def _warn_now(message: Warning | str, *args: object, **kwargs: object) -> None:
    print(f"warning: {cli_words(str(message))}", file=sys.stderr, flush=True)


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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    func: Callable[[argparse.Namespace], int] = args.func
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if getattr(args, "warn_at_once", False):  # a server (app) runs until Ctrl-C
            warnings.showwarning = _warn_now
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


#: Commands after which the process may end at once: they start no server, child process
#: or cluster, and have closed every file they wrote.
_QUICK_EXIT = frozenset({"features", "validate", "generate"})

#: Commands that run one batch job and end (not the panel's server, which lives on).
_BATCH = frozenset(COMMANDS) - {"app", "completion"}
#: Batch commands that stream their input in chunks on several threads: Arrow keeps its
#: own pool there (see :func:`tune_memory_for_batch`).
_STREAMING = frozenset({"score"})


def tune_memory_for_batch(*, arrow_on_heap: bool = True) -> None:
    """Set this process's memory up for one batch job: fresh pages are what cost.

    A command reads, computes and writes arrays it allocates once, and on Linux each
    fresh page is a fault the kernel serves by zeroing it. Three settings cut that,
    measured with ``cjml features`` (``benchmarks/features.py``):

    - glibc gives each large array its own mapping and unmaps it when freed, so the
      next array starts on fresh pages again. Serving large arrays from the heap and
      not trimming it reuses freed pages (half the faults on 10M events, about a tenth
      less time); the peak resident memory stays the same, since what is freed is
      what gets reused.
    - numpy asks for transparent huge pages for large arrays. A huge page is zeroed
      whole, 2 MiB at a time, at its first touch, and may have to be assembled first;
      for arrays written once that cost more than it saved (1M events: a third of the
      system time, 0.3 s of 2 s).
    - Arrow allocates from its own pool (mimalloc or jemalloc), so the pages it frees
      after reading a file are not the ones numpy's arrays are then made of. With
      Arrow on the same heap (its "system" pool) they are: reading 10M events took
      2.6-2.8 s instead of 3.5 s, two thirds of the system time gone. A command that
      streams chunks on several threads (``score``; ``arrow_on_heap=False``) keeps
      Arrow's pool: there glibc's per-thread heaps did worse (10M events: 1.3-2.5 s
      more system time, 120-160 MB more at the peak). A pool the user chose
      (``ARROW_DEFAULT_MEMORY_POOL``) is kept.

    Only for a batch command, whose process ends with its job (not the panel's
    server); each setting is skipped where it does not exist (off glibc, another numpy).

    Parameters
    ----------
    arrow_on_heap : bool, default True
        Put Arrow's buffers on glibc's heap (its "system" pool).
    """
    import ctypes

    import numpy._core.multiarray as multiarray

    set_huge_pages = getattr(multiarray, "_set_madvise_hugepage", None)
    if set_huge_pages is not None:
        set_huge_pages(False)
    if arrow_on_heap and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow  # imported already, with pandas; this process only (not Dask workers)

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt  # glibc's name for itself
    except (OSError, AttributeError):  # musl and others: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, ctypes.c_int(1 << 30))  # arrays up to 1 GiB from the heap
    mallopt(m_trim_threshold, ctypes.c_int(2**31 - 1))


def run() -> None:
    """The ``cjml`` console script and ``python -m cjml``: :func:`main`, then exit.

    After a command of ``_QUICK_EXIT`` the process ends without tearing the
    interpreter down (freeing every module and array one by one took 0.2 s of
    ``cjml features`` on a million events); its output is flushed first.
    Everything else exits as usual.
    """
    argv = sys.argv[1:]
    command = _command_in(argv)
    if command in _BATCH:
        tune_memory_for_batch(arrow_on_heap=command not in _STREAMING)
    code = main(argv)
    if command in _QUICK_EXIT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
