"""Writing tables safely: never overwrite by accident, never leave half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from cjml.exceptions import InputFileError

__all__ = ["TABLE_SUFFIXES", "write_atomic", "write_table"]

TABLE_SUFFIXES = (".parquet", ".csv")


def write_table(frame: pd.DataFrame, path: str | Path, *, force: bool = False) -> Path:
    """Write ``frame`` to a ``.parquet`` or ``.csv`` file, atomically.

    The table is written to a temporary file in the same folder and renamed
    into place, so readers never see half a file and an interrupted write
    leaves nothing behind.

    Parameters
    ----------
    frame : DataFrame
        The table. The index is not written.
    path : str or Path
        Destination; its suffix chooses the format.
    force : bool, default False
        Replace an existing file. Without it an existing file is an error, so
        nothing the user had is lost.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    InputFileError
        If the suffix is not .parquet or .csv, or the file exists and
        ``force`` is False.
    """
    suffix = Path(path).suffix.lower()

    def write(tmp: str) -> None:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False, compression="zstd")
        else:
            frame.to_csv(tmp, index=False)

    return write_atomic(path, write, force=force, suffixes=TABLE_SUFFIXES)


def write_atomic(path: str | Path, write, *, force: bool = False,
                 suffixes: tuple[str, ...] | None = None) -> Path:
    """Write a file through ``write(tmp_path)``, atomically, never replacing by accident.

    Parameters
    ----------
    path : str or Path
        Destination.
    write : callable
        Writes the whole file to the temporary path it is given (same folder).
    force : bool, default False
        Replace an existing file; without it an existing file is an error.
    suffixes : tuple of str, optional
        Allowed suffixes (lower case, with the dot); any when None.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    InputFileError
        If the suffix is not allowed, or the file exists and ``force`` is False.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffixes is not None and suffix not in suffixes:
        raise InputFileError(
            f"Cannot write {str(path)!r}: the file must end in {' or '.join(suffixes)}, "
            f"not {suffix or '(no suffix)'!r}."
        )
    if path.exists() and not force:
        raise InputFileError(
            f"{str(path)!r} already exists and was left untouched. Choose another path, "
            "or pass --force (force=True) to replace it."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private: as any program's file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process's file-creation mask, read without changing it where Linux allows
    (``os.umask`` can only be read by setting it, which races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
