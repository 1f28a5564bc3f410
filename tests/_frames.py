"""Comparing event logs read from different sources."""

from __future__ import annotations

import pandas as pd


def canonical_log(frame: pd.DataFrame) -> pd.DataFrame:
    """A log's frame in one row order, its text as Python strings (missing as None).

    Files give pandas' Arrow-backed text (pandas 2.2 names it "string", 3 "str"), a
    DataFrame may hold objects, and the log keeps some columns as categories: the
    values compare equal whatever the source.
    """
    out = frame.sort_values(["customer_id", "timestamp", "touchpoint"]).reset_index(drop=True)
    for c in out.columns:
        if out[c].dtype.name in ("category", "str", "string", "object"):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out
