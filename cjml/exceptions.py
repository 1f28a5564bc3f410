"""Exceptions raised by cjml.

Every error subclasses :class:`CjmlError` and a matching built-in exception, so
``except ValueError`` still catches a :class:`SchemaError`.
"""

from __future__ import annotations

__all__ = ["CjmlError", "SchemaError", "JourneyMapError", "InputFileError"]


class CjmlError(Exception):
    """Base class of every error cjml raises on purpose."""


class SchemaError(CjmlError, ValueError):
    """An event log does not fit the event-log contract.

    The message names the column, shows a few offending rows and says how to
    fix the input.
    """


class JourneyMapError(CjmlError, ValueError):
    """A journey map (stages and touchpoint catalogue) is inconsistent."""


class InputFileError(CjmlError, ValueError):
    """A file cjml was asked to read is missing or of an unsupported format."""
