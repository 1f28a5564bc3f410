"""Package-wide checks: the public surface, its docstrings, importing without side effects."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
from numpydoc.validate import validate

PUBLIC_MODULES = [
    "cjml",
    "cjml.datasets",
    "cjml.journey",
    "cjml.events",
    "cjml.exceptions",
    "cjml.features",
    "cjml.bundle",
    "cjml.labels",
    "cjml.models",
    "cjml.evaluation",
    "cjml.training",
    "cjml.explanations",
    "cjml.analytics",
    "cjml.scoring",
    "cjml.recommend",
    "cjml.panel",
]

# The numpydoc checks every public object must pass: a docstring, a one-line
# summary of the right form, every parameter documented (and none invented),
# Returns/Yields where something is returned, well-formed sections.
CHECKED = {
    "GL01",
    "GL02",
    "GL03",
    "GL05",
    "GL06",
    "GL07",
    "GL08",
    "GL09",
    "GL10",
    "SS01",
    "SS02",
    "SS03",
    "SS04",
    "SS05",
    "SS06",
    "PR01",
    "PR02",
    "PR03",
    "PR04",
    "PR05",
    "PR06",
    "PR07",
    "PR08",
    "PR09",
    "PR10",
    "RT01",
    "RT02",
    "RT03",
    "RT04",
    "RT05",
    "YD01",
}


def _public_objects():
    seen = set()
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            qual = f"{obj.__module__}.{obj.__qualname__}"
            if qual in seen:
                continue
            seen.add(qual)
            yield qual
            if inspect.isclass(obj) and not issubclass(obj, Exception):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if inspect.isfunction(value) or isinstance(value, classmethod | staticmethod):
                        yield f"{qual}.{attr}"


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_all_lists_exactly_what_exists(modname):
    module = importlib.import_module(modname)
    assert module.__doc__, f"{modname} needs a module docstring"
    assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{modname}.__all__ names missing {name!r}"


def test_top_level_reexports_are_the_same_objects():
    import cjml
    import cjml.events
    import cjml.journey

    assert cjml.EventLog is cjml.events.EventLog
    assert cjml.read_events is cjml.events.read_events
    assert cjml.JourneyMap is cjml.journey.JourneyMap


@pytest.mark.parametrize("qualname", sorted(_public_objects()))
def test_public_docstrings_follow_numpydoc(qualname):
    errors = [f"{code}: {msg}" for code, msg in validate(qualname)["errors"] if code in CHECKED]
    assert not errors, "\n".join(errors)


def test_importing_cjml_has_no_side_effects():
    code = (
        "import warnings, sys\n"
        "import numpy, pandas, pyarrow, scipy.special, sklearn.utils  # dependencies' own effects\n"
        "before = list(warnings.filters)\n"
        "import cjml, cjml.datasets\n"
        "assert warnings.filters == before, 'import changed warning filters'\n"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported eagerly'\n"
        "assert 'lightgbm' not in sys.modules, 'lightgbm imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_sample_loads_without_importing_scikit_learn():
    # scikit-learn takes 0.65 s to import: a notebook's first sample_path() or load_sample()
    # should not wait for it (simulating returns a Bunch, which does import it).
    code = (
        "import sys, cjml.datasets as d\n"
        "d.load_sample()\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn imported to load the sample'\n"
        "d.make_journeys(30, n_days=20, random_state=0)\n"
        "assert 'sklearn' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
