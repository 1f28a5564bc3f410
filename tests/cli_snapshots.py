"""The ``--help`` text of every cjml command, as the snapshot tests compare it.

Regenerate the stored snapshots after changing the command line on purpose, and review the
diff like code::

    python -m tests.cli_snapshots        # or: CJML_UPDATE_SNAPSHOTS=1 pytest tests/test_cli_help.py
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "cli"
#: The terminal width the snapshots are rendered at, whatever the terminal running the tests.
COLUMNS = 100


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``cjml``, by name, in the order of ``cjml --help``."""
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def help_texts() -> dict[str, str]:
    """``cjml --help`` (key ``"cjml"``) and ``cjml COMMAND --help`` for every command,
    rendered at :data:`COLUMNS` columns."""
    from cjml.cli import build_parser

    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(COLUMNS)
    try:
        parser = build_parser()
        texts = {"cjml": parser.format_help()}
        texts.update({name: sub.format_help() for name, sub in commands(parser).items()})
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before
    return texts


def snapshot_path(name: str) -> Path:
    return SNAPSHOTS / f"{name}.txt"


def write_snapshots() -> list[Path]:
    """Write every help text to ``tests/snapshots/cli/NAME.txt``; remove stale ones."""
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    texts = help_texts()
    for stale in SNAPSHOTS.glob("*.txt"):
        if stale.stem not in texts:
            stale.unlink()
    written = []
    for name, text in texts.items():
        path = snapshot_path(name)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_snapshots():
        print(f"wrote {path}")
