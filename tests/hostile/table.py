"""Print the corpus as a Markdown table.

Run ``python -m tests.hostile.table > tests/hostile/CASES.md``.
"""

from __future__ import annotations

import importlib
import pkgutil

import tests.hostile as corpus

HEADER = """# The hostile-input corpus

Every case below runs in CI (`tests/test_hostile.py`): the files are created in a fresh folder, the
command runs, and the exit code and the message must be as listed; no case may end in an internal
error or a traceback. Regenerate this page with \
`python -m tests.hostile.table > tests/hostile/CASES.md`
(a test checks it is current).

| # | area | case | input | command | exit | expected message (regular expression) |
| --- | --- | --- | --- | --- | --- | --- |
"""


def cases():
    """Every case of the corpus, in module then list order."""
    out = []
    for module in sorted(pkgutil.iter_modules(corpus.__path__), key=lambda m: m.name):
        if module.name.startswith("cases_"):
            out += importlib.import_module(f"tests.hostile.{module.name}").CASES
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The Markdown page."""
    rows = [
        f"| {i} | {c.area} | `{c.name}` | {_cell(c.description)} | "
        f"`cjml {_cell(' '.join(c.argv))}` | {c.exit_code} | `{_cell(c.message)}` |"
        for i, c in enumerate(cases(), 1)
    ]
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
