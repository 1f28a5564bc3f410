"""The version of cjml, in one place.

:data:`cjml.__version__` re-exports it; modules inside cjml (the bundle's
manifest, the scoring run's fingerprint) import it from here, never from the
package :mod:`cjml` itself, which names every module and would close an
import cycle (``tests/test_architecture.py``).
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("cjml")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
