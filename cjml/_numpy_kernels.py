"""numpy's SIMD kernels on this CPU: the ones the ``cjml`` command turns off before numpy is
imported (:func:`prepare_numpy`, called by ``cjml/__main__.py``), and whether the sort numpy
chose is a slow one (:func:`numpy_sort_is_slow`, asked by the event reader).

numpy chooses its SIMD kernels once, when it is imported, from the CPU's features and the
``NPY_DISABLE_CPU_FEATURES`` variable. On AMD's Zen 4 (family 19h) its AVX-512 sort
(x86-simd-sort) writes each partition with the memory form of ``vpcompress``, which Zen 4
runs in microcode: sorting 10M 64-bit keys takes 0.63 s there against 0.11 s with numpy's
AVX2 kernels (numpy 2.0 to 2.4; OpenJDK turns its own AVX-512 sort off on Zen 4 for the
same reason). Reading an event log sorts it twice. But numpy's AVX-512 kernels also hold
its only vectorised ``exp`` and ``log`` for float64 (five times faster than without them),
so turning them off is a trade, measured by command on a Zen 4 with 2 cores:

- ``cjml features``, 10M events: 6.0 s instead of 6.9 s (the sorts are a seventh of it);
- ``cjml score``, 10M events: 18.0-18.4 s against 18.1-20.6 s (no worse);
- ``cjml generate --truth``, 100,000 customers: 96 s of CPU instead of 82 (the simulator
  exponentiates a lot);
- ``cjml train``, 1M events and 8 cutoffs: 136.2 s without them against 136.7 s with them
  (medians of three; 2-3% less CPU without), too close to change: ``train`` and ``evaluate``
  keep them (they compute the features, and their ``exp2`` decays, at many cutoffs for one
  read of the log).

So only the commands that read a log and compute at one cutoff (:data:`SORT_BOUND`) start
numpy without them.

This module imports nothing heavy (nor :mod:`cjml.cli`): it runs before the command line
imports pandas.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Collection, Sequence
from functools import cache
from pathlib import Path

__all__ = [
    "SORT_BOUND",
    "command_in",
    "numpy_features_to_disable",
    "numpy_sort_is_slow",
    "prefer_fast_numpy_sort",
    "prepare_numpy",
]

#: The commands that read an event log and compute at one cutoff: its two sorts weigh more
#: there than numpy's vectorised ``exp`` and ``log`` (see the module's docstring).
SORT_BOUND = frozenset({"validate", "draft-map", "features", "journey-map", "score", "recommend"})

#: numpy's names for its AVX-512 kernel groups: numpy 2.4 regrouped them (x86-64-v4).
_AVX512_NAMES_FROM_2_4 = "X86_V4 AVX512_ICL AVX512_SPR"
_AVX512_NAMES_BEFORE_2_4 = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"

#: numpy's own variables: either one set means the user chose the kernels.
_NUMPY_VARIABLES = ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")


def _is_amd_family_19h(cpu: str) -> bool:
    """Whether ``cpu`` (``/proc/cpuinfo``'s first block, or Windows' processor string)
    describes an AMD CPU of family 19h: Zen 3 (no AVX-512, so nothing to turn off)
    or Zen 4. Zen 5 (family 1Ah) runs the AVX-512 sort at full speed."""
    if "AuthenticAMD" not in cpu:
        return False
    family = re.search(r"^cpu family\s*:\s*(\d+)", cpu, re.MULTILINE) or re.search(
        r"\bFamily (\d+)\b", cpu
    )
    return family is not None and int(family.group(1)) == 0x19


def numpy_features_to_disable(cpu: str, numpy_version: str) -> str | None:
    """The value of ``NPY_DISABLE_CPU_FEATURES`` that keeps numpy off its slow
    AVX-512 sort on this CPU, or None where its kernels are best left as they are.

    Parameters
    ----------
    cpu : str
        The CPU's description: the first processor's block of ``/proc/cpuinfo`` on
        Linux, :func:`platform.processor` on Windows.
    numpy_version : str
        The installed numpy's version (its names for the kernel groups changed in 2.4).

    Returns
    -------
    str or None
        The kernel groups to turn off, in numpy's names for that version.
    """
    if not _is_amd_family_19h(cpu):
        return None
    major_minor = tuple(int(part) for part in re.findall(r"\d+", numpy_version)[:2])
    return _AVX512_NAMES_FROM_2_4 if major_minor >= (2, 4) else _AVX512_NAMES_BEFORE_2_4


def _cpu_description() -> str:
    """The first processor's block of ``/proc/cpuinfo`` (read no further: on large
    machines the whole file costs milliseconds per core), or the processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            lines = []
            for line in cpuinfo:
                if not line.strip():
                    break
                lines.append(line)
            return "".join(lines)
    except OSError:
        import platform  # Windows: "AMD64 Family 25 Model 97 Stepping 2, AuthenticAMD"

        return platform.processor()


def _numpy_version() -> str | None:
    """The installed numpy's version, without importing it: from its ``version.py``
    (written by its build), else its package metadata. ``importlib.metadata`` alone
    takes 30 ms to import, a twentieth of what ``cjml features`` imports."""
    spec = importlib.util.find_spec("numpy")
    if spec is None:
        return None
    for folder in spec.submodule_search_locations or ():
        try:
            text = Path(folder, "version.py").read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"""^version\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", text, re.M)
        if found:
            return found.group(1)
    from importlib import metadata

    try:
        return metadata.version("numpy")
    except metadata.PackageNotFoundError:
        return None


def prefer_fast_numpy_sort() -> str | None:
    """Turn numpy's AVX-512 kernels off for this process on CPUs where its sort is slow.

    Only before numpy is imported, and only when the user has set neither of numpy's
    variables (``NPY_DISABLE_CPU_FEATURES=`` with no value keeps every kernel). The
    variable stays in the environment, so processes started from here (Dask's local
    workers) choose the same kernels.

    Returns
    -------
    str or None
        The value given to ``NPY_DISABLE_CPU_FEATURES``, or None if nothing was set.
    """
    if "numpy" in sys.modules or any(name in os.environ for name in _NUMPY_VARIABLES):
        return None
    cpu = _cpu_description()
    if not _is_amd_family_19h(cpu):  # checked first: the version lookup costs milliseconds
        return None
    numpy_version = _numpy_version()
    if numpy_version is None:
        return None
    features = numpy_features_to_disable(cpu, numpy_version)
    if features is not None:
        os.environ["NPY_DISABLE_CPU_FEATURES"] = features
    return features


def command_in(argv: Sequence[str], commands: Collection[str]) -> str | None:
    """The command ``argv`` runs, when it is one of ``commands`` after nothing but
    ``--debug``; else None (help, version, a usage error: the full parser answers)."""
    for arg in argv:
        if arg == "--debug":
            continue
        return arg if arg in commands else None
    return None


def prepare_numpy(argv: Sequence[str]) -> str | None:
    """:func:`prefer_fast_numpy_sort` when ``argv`` runs a command of :data:`SORT_BOUND`.

    Called by the ``cjml`` entry point (``cjml/__main__.py``) before it imports the
    command line, which imports pandas and numpy.

    Returns
    -------
    str or None
        The value given to ``NPY_DISABLE_CPU_FEATURES``, or None if nothing was set.
    """
    if command_in(argv, SORT_BOUND):
        return prefer_fast_numpy_sort()
    return None


@cache
def numpy_sort_is_slow() -> bool:
    """Whether this process's numpy sorts with its AVX-512 kernels on a CPU that runs
    them slowly (AMD family 19h): the case :func:`prefer_fast_numpy_sort` avoids in the
    command line, met in Python when numpy was imported first (a notebook).

    The event reader then sorts each half of a large log on its own thread and merges
    them (``cjml.events._sort_in_place``): 0.38 s for 10M keys instead of 0.64 s.
    """
    if not _is_amd_family_19h(_cpu_description()):
        return False
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # a numpy that no longer says: assume its sort is fine
        return False
    return bool(features.get("X86_V4") or features.get("AVX512_SKX"))
