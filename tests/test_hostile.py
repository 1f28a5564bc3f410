"""Run the hostile-input corpus (tests/hostile/cases_*.py), one pytest case each."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tests.hostile as corpus
from tests._panel_bundle import sample_bundle_path
from tests.hostile.harness import Case

ROOT = Path(__file__).resolve().parents[1]


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for module in pkgutil.iter_modules(corpus.__path__):
        if module.name.startswith("cases_"):
            cases += importlib.import_module(f"tests.hostile.{module.name}").CASES
    names = [c.name for c in cases]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    assert not duplicated, f"case names used twice: {duplicated}"
    return cases


CASES = _all_cases()


def test_the_corpus_has_at_least_150_cases():
    assert len(CASES) >= 150, len(CASES)


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory):
    from cjml.datasets import load_sample

    folder = tmp_path_factory.mktemp("hostile-sample")
    events = load_sample()
    events.to_parquet(folder / "events.parquet", index=False)
    events.to_csv(folder / "events.csv", index=False)
    return folder


def run_case(case: Case, tmp: Path, sample_files: Path, capfd, monkeypatch) -> tuple[int, str]:
    """Run ``cjml`` in ``tmp`` (in this process, or as a real one when the case asks);
    returns (exit code, stdout + stderr)."""
    source = sample_bundle_path() if any("{bundle}" in a for a in case.argv) else None
    fields = {
        "tmp": str(tmp),
        "events": str(tmp / "events.parquet"),
        "events_csv": str(tmp / "events.csv"),
        "bundle": str(tmp / ("model" + (source.suffix if source else ".cjml"))),
    }
    for name in ("events.parquet", "events.csv"):
        shutil.copy(sample_files / name, tmp / name)
    if source is not None:
        for suffix in ("", ".manifest.json"):
            shutil.copy(str(source) + suffix, fields["bundle"] + suffix)
    if case.setup is not None:
        case.setup(tmp)
    argv = [a.format(**fields) for a in case.argv]
    monkeypatch.chdir(tmp)
    monkeypatch.delenv("CJML_BUNDLE_KEY", raising=False)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.process:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        preexec = (lambda: os.umask(case.umask)) if case.umask is not None else None
        done = subprocess.run(
            [sys.executable, "-m", "cjml", *argv],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=preexec,
        )
        return done.returncode, done.stdout + done.stderr
    from cjml.cli import main

    capfd.readouterr()
    previous = os.umask(case.umask) if case.umask is not None else None
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        if previous is not None:
            os.umask(previous)
    out = capfd.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, tmp_path, sample_files, capfd, monkeypatch):
    code, output = run_case(case, tmp_path, sample_files, capfd, monkeypatch)
    assert "internal error" not in output.lower(), output
    assert "Traceback" not in output, output
    assert code == case.exit_code, f"exit {code}, expected {case.exit_code}:\n{output}"
    assert case.matches(output), f"expected /{case.message}/ in:\n{output}"
    if case.check is not None:
        case.check(tmp_path, output)


def test_the_table_in_docs_is_current():
    from tests.hostile.table import render

    page = ROOT / "tests" / "hostile" / "CASES.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "tests/hostile/CASES.md is out of date: python -m tests.hostile.table > "
        "tests/hostile/CASES.md"
    )
