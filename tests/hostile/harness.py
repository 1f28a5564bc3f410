"""One hostile-input case: files to create, a ``cjml`` command, what must come out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    """A broken or malicious input and what cjml must answer.

    Parameters
    ----------
    name : str
        Unique, kebab-case (``"out-equals-input-score"``).
    area : str
        The group it belongs to in the table (``"bundle"``, ``"outputs"``,
        ``"csv-writer"``, ``"ids"``, ``"timestamps"``, ``"reading"``, ``"messages"``).
    argv : list of str
        The command after ``cjml``. ``{tmp}`` is the case's folder, ``{bundle}``
        a small bundle trained on the sample (copied into the folder), ``{events}``
        the sample events as Parquet and ``{events_csv}`` as CSV (both in the folder).
    setup : callable, optional
        ``setup(tmp: Path)`` writes the case's files before the command runs.
    exit_code : int
        The exit code expected (0 accepted, 1 refused, 2 usage error).
    message : str
        A regular expression that must match the combined stdout and stderr
        (``re.search``, case-insensitive, DOTALL). Write it so that it would fail on
        the defect, e.g. it names the file, the line or the fix.
    check : callable, optional
        ``check(tmp: Path, output: str)`` asserts more (an input left byte-identical,
        a file's mode, no marker file created, no run folder left behind...).
    env : dict, optional
        Extra environment variables for the command (e.g. ``CJML_BUNDLE_KEY``).
    umask : int, optional
        Umask to run the command under.
    process : bool, default False
        Run ``python -m cjml`` as a real process (for signals, real stdin, a
        fresh interpreter); by default ``cjml.cli.main`` runs in the test's process.
    description : str
        One line for the table: what the input is.
    """

    name: str
    area: str
    argv: list[str]
    exit_code: int
    message: str
    description: str
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path, str], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    umask: int | None = None
    process: bool = False

    def matches(self, output: str) -> bool:
        """Whether the command's output carries the expected message."""
        return re.search(self.message, output, flags=re.IGNORECASE | re.DOTALL) is not None
