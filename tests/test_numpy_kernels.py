"""numpy's kernels on this CPU: the command keeps numpy off its slow AVX-512 sort on AMD Zen 4."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cjml import _numpy_kernels
from cjml._numpy_kernels import (
    SORT_BOUND,
    command_in,
    numpy_features_to_disable,
    prefer_fast_numpy_sort,
)
from cjml.cli._main import COMMANDS

ZEN4 = textwrap.dedent(
    """\
    processor\t: 0
    vendor_id\t: AuthenticAMD
    cpu family\t: 25
    model\t\t: 17
    model name\t: AMD EPYC 9R14
    flags\t\t: fpu vme avx2 avx512f avx512dq avx512bw avx512vl
    """
)
ZEN5 = ZEN4.replace("cpu family\t: 25", "cpu family\t: 26")
INTEL = ZEN4.replace("AuthenticAMD", "GenuineIntel").replace("cpu family\t: 25", "cpu family\t: 6")
WINDOWS_ZEN4 = "AMD64 Family 25 Model 97 Stepping 2, AuthenticAMD"
WINDOWS_INTEL = "Intel64 Family 6 Model 143 Stepping 8, GenuineIntel"


@pytest.mark.parametrize(
    ("cpu", "numpy_version", "expected"),
    [
        (ZEN4, "2.4.6", "X86_V4 AVX512_ICL AVX512_SPR"),
        (ZEN4, "2.10.0", "X86_V4 AVX512_ICL AVX512_SPR"),
        (ZEN4, "3.0.0rc1", "X86_V4 AVX512_ICL AVX512_SPR"),
        (ZEN4, "2.0.2", "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"),
        (ZEN4, "2.3.5", "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"),
        (WINDOWS_ZEN4, "2.4.0", "X86_V4 AVX512_ICL AVX512_SPR"),
        (ZEN5, "2.4.6", None),
        (INTEL, "2.4.6", None),
        (WINDOWS_INTEL, "2.4.6", None),
        ("x86_64", "2.4.6", None),
        ("", "2.4.6", None),
    ],
)
def test_the_kernels_turned_off_depend_on_the_cpu_and_numpy(cpu, numpy_version, expected):
    assert numpy_features_to_disable(cpu, numpy_version) == expected


def test_nothing_is_set_once_numpy_is_imported(monkeypatch):
    # in this process numpy is imported already: its kernels are chosen, so leave them
    monkeypatch.setattr(_numpy_kernels, "_cpu_description", lambda: ZEN4)
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    monkeypatch.delenv("NPY_ENABLE_CPU_FEATURES", raising=False)
    assert "numpy" in sys.modules
    assert prefer_fast_numpy_sort() is None
    assert "NPY_DISABLE_CPU_FEATURES" not in os.environ


def _launch_in_child(argv: list[str], env: dict[str, str]) -> list[str]:
    """Run ``python -m cjml ARGV`` in a new process whose CPU is described as Zen 4;
    print the variable and which of the kernel groups it names numpy then uses."""
    code = textwrap.dedent(
        f"""\
        import atexit, os, runpy, sys
        import cjml._numpy_kernels
        cjml._numpy_kernels._cpu_description = lambda: {ZEN4!r}
        def report():
            from numpy._core._multiarray_umath import __cpu_features__ as features
            variable = os.environ.get("NPY_DISABLE_CPU_FEATURES", "<unset>")
            names = {numpy_features_to_disable(ZEN4, metadata.version("numpy"))!r}.split()
            print(variable)
            print(" ".join(name for name in names if features[name]) or "<none>")
        atexit.register(report)
        sys.argv = ["cjml", *{argv!r}]
        runpy.run_module("cjml", run_name="__main__")
        """
    )
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("NPY_")}
    child_env.update(env)
    done = subprocess.run(
        [sys.executable, "-W", "error::ImportWarning", "-c", code],
        capture_output=True,
        text=True,
        env=child_env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-2:]


@pytest.mark.parametrize("argv", [["features", "--help"], ["--debug", "score", "--help"]])
def test_a_command_that_reads_a_log_turns_the_avx512_kernels_off_on_zen4(argv):
    # -W error::ImportWarning: numpy warns (and ignores the variable) for a name it does
    # not know, so this fails when a numpy release renames its kernel groups
    variable, in_use = _launch_in_child(argv, {})
    assert variable == numpy_features_to_disable(ZEN4, metadata.version("numpy"))
    assert in_use == "<none>"


@pytest.mark.parametrize("argv", [["generate", "--help"], ["train", "--help"], ["--help"]])
def test_other_commands_keep_numpys_vectorised_exp_and_log(argv):
    variable, _ = _launch_in_child(argv, {})
    assert variable == "<unset>"


def test_the_users_own_choice_of_kernels_is_kept():
    variable, _ = _launch_in_child(["features", "--help"], {"NPY_DISABLE_CPU_FEATURES": ""})
    assert variable == ""


def test_the_sort_bound_commands_are_commands():
    assert SORT_BOUND <= set(COMMANDS)
    assert command_in(["--debug", "features", "log.csv"], COMMANDS) == "features"
    assert command_in(["log.csv", "features"], COMMANDS) is None


def test_numpys_version_is_read_without_importing_it():
    assert _numpy_kernels._numpy_version() == metadata.version("numpy")


def test_the_console_script_points_to_the_entry_point():
    (script,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == "cjml"]
    assert script.value == "cjml.__main__:main"


@pytest.mark.parametrize(("cpu", "may_be_slow"), [(ZEN4, True), (ZEN5, False), (INTEL, False)])
def test_the_sort_is_slow_only_with_avx512_kernels_on_amd_family_19h(monkeypatch, cpu, may_be_slow):
    from numpy._core._multiarray_umath import __cpu_features__ as features

    monkeypatch.setattr(_numpy_kernels, "_cpu_description", lambda: cpu)
    _numpy_kernels.numpy_sort_is_slow.cache_clear()
    try:
        avx512 = bool(features.get("X86_V4") or features.get("AVX512_SKX"))
        assert _numpy_kernels.numpy_sort_is_slow() == (may_be_slow and avx512)
    finally:
        _numpy_kernels.numpy_sort_is_slow.cache_clear()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2**40), min_size=0, max_size=300, unique=True))
def test_the_two_thread_sort_gives_numpys_sort(values):
    from unittest import mock

    from cjml import events

    key = np.array(values, dtype=np.int64)
    with (
        mock.patch.object(events, "numpy_sort_is_slow", lambda: True),
        mock.patch.object(events, "_PARALLEL_ROWS", 1),
    ):
        got = key.copy()
        events._sort_in_place(got)
    assert np.array_equal(got, np.sort(key))
