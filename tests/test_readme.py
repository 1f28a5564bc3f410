"""Every example in the README runs: the Python quickstart and each `cjml ...` command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from cjml.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _cli_lines() -> list[str]:
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("cjml "):
                lines.append(line)
    return lines


TEST_COMMAND = 'pip install -e ".[dev]" && ruff check && ruff format --check && mypy && pytest'


def test_the_readme_has_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "pip install -e . && cjml demo" in text
    assert TEST_COMMAND in text  # the quality gates (lint, format, types) are part of it
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert TEST_COMMAND in ci


def test_python_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (block,) = [b for b in _blocks("python") if "import cjml" in b][:1]
    exec(compile(block, "README quickstart", "exec"), {})


@pytest.mark.parametrize("line", _cli_lines())
def test_cli_example_runs(line, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # the inputs the examples assume the reader has
    pd.DataFrame(
        {
            "user": [1, 1, 2],
            "event_time": ["2024-01-01 10:00", "2024-01-05 09:00", "2024-01-02 12:00"],
            "action": ["website_visit", "purchase", "paid_ad"],
        }
    ).to_csv("my_crm_export.csv", index=False)
    if "journeys.parquet" in line and "generate" not in line:
        assert (
            main(["generate", "--customers", "300", "--seed", "1", "--out", "journeys.parquet"])
            == 0
        )
    if line.startswith("cjml generate --sample"):
        line = line.replace("--out data", f"--out {tmp_path / 'data'}")
    if "vip_list.csv" in line:  # the customer list of the README's example
        pd.DataFrame({"customer_id": [1, 2, 3, 999_999]}).to_csv("vip_list.csv", index=False)
    if "rules.toml" in line:  # the rules file of the README's example
        (tmp_path / "rules.toml").write_text(_blocks("toml")[-1], encoding="utf-8")
    args = shlex.split(line)[1:]
    model = next((a for a in args if a.endswith(".cjml")), None)
    if args[:1] != ["train"] and model and not Path(model).exists():
        # evaluate, recommend, journey-map and score use the bundle the train example writes
        assert main(["train", "journeys.parquet", "--out", model, "--quiet"]) == 0
    if args[:1] == ["demo"]:
        args += ["--workdir", str(tmp_path / "demo")]
    assert main(args) == 0, capsys.readouterr().err
