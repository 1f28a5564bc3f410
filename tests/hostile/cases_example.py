"""Cases that already held before issue 18 (kept so they keep holding)."""

from __future__ import annotations

from tests.hostile.harness import Case

CASES = [
    Case(name="validate-missing-file", area="reading", argv=["validate", "{tmp}/nope.csv"],
         exit_code=1, message=r"nope\.csv", description="an events path that does not exist"),
]
