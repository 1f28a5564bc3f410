"""The Examples sections of cjml's docstrings run and print what they say.

An example a user copies must work: the ``make_labels`` one broke silently when
the label window check arrived, because nothing ran it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import cjml


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(cjml.__path__, "cjml."):
        if info.name.endswith("__main__"):
            continue  # importing it runs the command line
        module = importlib.import_module(info.name)
        finder = doctest.DocTestFinder(exclude_empty=True)
        examples = [e for test in finder.find(module) for e in test.examples]
        # an example marked +SKIP (it needs a cluster or a file) is documentation only
        if any(not e.options.get(doctest.SKIP) for e in examples):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_some_modules_have_examples():
    # guards the collection itself: an import change that finds nothing would pass vacuously
    assert {"cjml.labels", "cjml.journey"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False
    )
    assert tried > 0
    assert failures == 0, (
        f"{failures} of {tried} examples in {name} failed; "
        f"run: python -m pytest --doctest-modules {module.__file__}"
    )
