"""The command line's help and consistency: snapshots of every ``--help``, the layout rules,
README references, the README's options tables, shell completion, and options that mean the
same thing in every command."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import sys
from pathlib import Path

import pandas as pd
import pytest

import cjml
from cjml.cli import _help as h
from cjml.cli import build_parser, main
from tests.cli_snapshots import COLUMNS, commands, help_texts, snapshot_path, write_snapshots

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PARSER = build_parser()
COMMANDS = commands(PARSER)
TEXTS = help_texts()


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options a command's help shows (hidden aliases left out)."""
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS]


def _groups(text: str) -> list[str]:
    """The section titles of a help text, in order ("Arguments", "Required", ...)."""
    return re.findall(r"^([A-Z][A-Za-z ]*[A-Za-z]):$", text, flags=re.M)


# --------------------------------------------------------------------------- snapshots
@pytest.fixture(scope="module")
def updating() -> bool:
    if os.environ.get("CJML_UPDATE_SNAPSHOTS"):
        write_snapshots()
        return True
    return False


@pytest.mark.parametrize("name", list(TEXTS))
def test_help_matches_its_snapshot(name, updating):
    path = snapshot_path(name)
    assert path.exists(), f"no snapshot {path}: run python -m tests.cli_snapshots"
    expected = path.read_text(encoding="utf-8")
    if TEXTS[name] != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), TEXTS[name].splitlines(True), str(path), "now"
            )
        )
        pytest.fail(
            f"`cjml {name} --help` changed. If on purpose, regenerate with "
            f"`python -m tests.cli_snapshots` and review the diff:\n{diff}"
        )


def test_every_command_has_a_snapshot_and_no_snapshot_is_stale():
    stored = {p.stem for p in snapshot_path("x").parent.glob("*.txt")}
    assert stored == {"cjml", *COMMANDS}


def test_help_is_rendered_at_the_fixed_width_whatever_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    assert help_texts() == TEXTS  # the snapshots do not depend on the terminal
    assert (
        max(
            len(line)
            for text in TEXTS.values()
            for line in text.splitlines()
            if not line.startswith("  cjml ")
        )
        <= COLUMNS
    )


def test_help_through_main_is_the_snapshot(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    with pytest.raises(SystemExit) as exc:
        main(["score", "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == TEXTS["score"]


# --------------------------------------------------------------------------- layout
def test_the_top_level_help_names_every_command_in_its_description_and_list():
    text = TEXTS["cjml"]
    description = text.split("\n\nCommands:")[0]
    for name in COMMANDS:
        assert re.search(rf"\b{re.escape(name)}\b", description), name
        assert re.search(rf"^  {re.escape(name)} +\S", text, flags=re.M), name
    assert text.rstrip().splitlines()[-1].startswith("section") or "Examples:" in text
    assert "\nExamples:\n  cjml demo" in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_commands_own_options_come_first_shared_ones_after_and_examples_last(name):
    text = TEXTS[name]
    groups = _groups(text)
    assert groups[-2:] == ["General", "Examples"], groups
    if "Reading EVENTS" in groups:  # shared input options after the command's own
        assert groups.index("Reading EVENTS") == len(groups) - 3, groups
    if "Required" in groups:
        assert groups.index("Required") <= 1, groups
    assert "positional arguments" not in text and "\noptions:" not in text
    examples = text.split("\nExamples:\n", 1)[1]
    assert re.search(rf"^  cjml {re.escape(name)}\b", examples, flags=re.M)
    usage = text.splitlines()[0]
    assert usage.startswith(f"usage: cjml {name} ") and usage.endswith("[options]")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_required_options_are_marked_and_in_the_usage_line(name):
    parser = COMMANDS[name]
    usage = TEXTS[name].splitlines()[0]
    for action in _options(parser):
        if action.required:
            assert f"{action.option_strings[0]} {action.metavar}" in usage
            assert action.help is not None
            entry = TEXTS[name].split(f"  {action.option_strings[0]} {action.metavar}", 1)[1]
            assert "(required)" in entry.split("\n\n")[0], action.option_strings
        else:
            assert "(required)" not in (action.help or "")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_placeholders_are_meaningful_never_the_option_name_upper_cased(name):
    for action in COMMANDS[name]._actions:
        if action.nargs == 0 or action.help == argparse.SUPPRESS:
            continue
        if action.choices is not None and action.metavar is None:
            continue  # shown as {a,b,c}
        assert action.metavar in h.PLACEHOLDERS, (
            name,
            action.option_strings or action.dest,
            action.metavar,
        )
    assert not re.search(
        r"--[a-z-]+ (CUSTOMERS|TOP_K|CHUNK_EVENTS|OUT|CUTOFF|HORIZON)\b", TEXTS[name]
    )


def _examples(text: str) -> list[str]:
    block = text.split("\nExamples:\n", 1)[1].split("\n\n")[0]
    return [line.strip() for line in block.splitlines() if line.startswith("  cjml ")]


@pytest.mark.parametrize("name", list(TEXTS))
def test_every_example_in_the_help_parses(name, capsys):
    examples = _examples(TEXTS[name])
    assert examples
    for line in examples:
        argv = shlex.split(line.split(" > ")[0])[1:]  # without "cjml" and a redirection
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{line!r}: {capsys.readouterr().err}")
        assert args.command is not None


# --------------------------------------------------------------------------- README
def _headings() -> set[str]:
    return {
        line.lstrip("#").strip()
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }


def _readme_references(text: str) -> list[str]:
    return re.findall(r"README(?:'s)?\W{1,3}(?:section\s+)?'([^']+)'", " ".join(text.split()))


def test_every_readme_section_a_help_text_names_exists():
    headings = _headings()
    found = []
    for name, text in TEXTS.items():
        flat = " ".join(text.split())
        references = _readme_references(text)
        # every mention of the README names a section, and that section exists
        assert flat.count("README") == len(references), (name, flat)
        for section in references:
            assert section in headings, (
                f"`cjml {name} --help` names a README section {section!r} that does not exist"
            )
            found.append(section)
        for file in re.findall(r"\b[\w/]+\.md\b", flat):
            assert (ROOT / file).exists(), (name, file)
    assert h.README_RULES in found and len(set(found)) >= 5


def test_the_readme_reference_check_catches_a_missing_section():
    assert _readme_references("see the README's\n'Reading recommendations'.") == [
        "Reading recommendations"
    ]
    assert "Reading recommendations" not in _headings()


def _command_line_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip() for c in cells])
    return rows


def _readme_options() -> dict[str, set[str]]:
    """Option -> the commands the README's two tables give it."""
    given: dict[str, set[str]] = {}
    for cells in _table_rows(_command_line_section()):
        first = cells[0]
        command = re.match(r"`cjml ([a-z-]+)", first)
        if len(cells) == 3:  # the shared options: option | commands | what it means
            names = (
                set(COMMANDS)
                if cells[1] == "every command"
                else {c.strip() for c in cells[1].split(",")}
            )
        elif command and command.group(1) in COMMANDS:
            names = {command.group(1)}
        else:
            continue
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-h)\b", first):
            given.setdefault(option, set()).update(names)
    return given


def test_the_readme_tables_give_every_option_of_every_command_and_no_other():
    given = _readme_options()
    missing, stale = [], []
    for name, parser in COMMANDS.items():
        shown = {s for a in _options(parser) for s in a.option_strings}
        missing += [f"{name} {o}" for o in sorted(shown) if name not in given.get(o, set())]
        stale += [f"{name} {o}" for o, names in given.items() if name in names and o not in shown]
    assert not missing, f"options missing from the README's Command line tables: {missing}"
    assert not stale, f"options the README gives commands that lack them: {stale}"
    assert "train" in given["--lookback"]


# --------------------------------------------------------------------------- completion
def test_completion_scripts_cover_every_command_and_their_options(capsys):
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    for name in COMMANDS:
        assert name in script, name
    for option in (
        "--top-k",
        "--horizon",
        "--lookback",
        "--out",
        "--trust-pickle",
        "--jobs",
        "--quiet",
        "--on-error",
    ):
        assert option in script, option
    assert "quarantine" in script  # choices are completed too
    assert "_shtab_compgen_files" in script  # file names for PATH, MODEL and EVENTS
    assert main(["completion", "zsh"]) == 0
    zsh = capsys.readouterr().out
    assert all(name in zsh for name in COMMANDS) and "--top-k" in zsh
    assert main(["completion", "tcsh"]) == 0  # shtab's tcsh script completes the commands
    tcsh = capsys.readouterr().out
    assert f"p/1/({' '.join(COMMANDS)})/" in tcsh and "top-k" in tcsh
    with pytest.raises(SystemExit) as exc:
        main(["completion", "fish"])
    assert exc.value.code == 2 and "invalid choice: 'fish'" in capsys.readouterr().err


# --------------------------------------------------------------------------- consistency
def test_horizon_is_a_duration_in_every_command():
    having = {
        name
        for name, p in COMMANDS.items()
        if any("--horizon" in a.option_strings for a in p._actions)
    }
    assert having == {"generate", "journey-map", "train"}
    for name in having:
        (action,) = [a for a in COMMANDS[name]._actions if "--horizon" in a.option_strings]
        assert action.metavar == "DURATION"
    parse = build_parser().parse_args
    assert parse(["generate", "--out", "x.parquet", "--horizon", "30D"]).horizon == 30
    assert parse(["generate", "--out", "x.parquet", "--horizon", "4W"]).horizon == 28
    assert parse(["generate", "--out", "x.parquet", "--horizon", "30"]).horizon == 30  # days
    assert parse(["train", "e.csv", "--out", "m.cjml", "--horizon", "12W"]).horizon == "12W"
    assert parse(["train", "e.csv", "--out", "m.cjml", "--horizon", "45"]).horizon == "45D"
    assert parse(["journey-map", "e.csv", "--out", "m.html", "--horizon", "4W"]).horizon == "4W"
    assert parse(["train", "e.csv", "--out", "m.cjml", "--lookback", "180"]).lookback == "180D"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["generate", "--out", "x.parquet", "--horizon", "36h"], "expected whole days"),
        (["generate", "--out", "x.parquet", "--horizon", "soon"], "expected a duration"),
        (["train", "e.csv", "--out", "m.cjml", "--horizon", "0D"], "expected a positive duration"),
        (["train", "e.csv", "--out", "m.cjml", "--step", "weekly"], "expected a duration"),
    ],
)
def test_a_bad_duration_is_a_usage_error_naming_the_option(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert f"argument {argv[-2]}: {expected}" in err and repr(argv[-1]) in err


def test_generate_takes_a_horizon_as_a_duration_end_to_end(tmp_path, capsys):
    out = tmp_path / "j.parquet"
    assert (
        main(
            [
                "generate",
                "--n-customers",
                "60",
                "--days",
                "50",
                "--horizon",
                "2W",
                "--truth",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "(horizon 14 days)" in capsys.readouterr().out
    truth = pd.read_parquet(tmp_path / "j_truth.parquet")
    # the last possible cutoff: 14 days before the end of the 50 days
    assert str(truth["cutoff"].iloc[0].date()) == "2024-02-06"
    # the old spelling of --n-customers still works, hidden from the help
    assert (
        main(
            ["generate", "--customers", "60", "--days", "50", "--out", str(tmp_path / "k.parquet")]
        )
        == 0
    )
    assert "of 60 customers" in capsys.readouterr().out
    assert "--customers" not in TEXTS["generate"]


def test_top_k_has_one_default_in_score_and_recommend():
    defaults = {}
    for name in ("score", "recommend"):
        (action,) = [a for a in COMMANDS[name]._actions if "--top-k" in a.option_strings]
        defaults[name] = (action.default, action.help, action.metavar)
    assert defaults["score"] == defaults["recommend"]
    assert defaults["score"][0] == h.DEFAULT_TOP_K == 1
    assert "default 1 in score and recommend alike" in defaults["score"][1]
    # as cjml.score's: a run started in Python resumes from the command line
    import inspect

    import cjml

    assert inspect.signature(cjml.score).parameters["top_k"].default == h.DEFAULT_TOP_K


def test_jobs_quiet_and_force_are_the_same_option_wherever_they_are():
    for option, where in {
        "--jobs": {"demo", "features", "train", "evaluate", "score", "recommend"},
        "--quiet": {"train", "evaluate", "score"},
        "--debug": set(COMMANDS),
    }.items():
        found = {
            name: a
            for name, p in COMMANDS.items()
            for a in p._actions
            if option in a.option_strings
        }
        assert set(found) == where, option
        assert len({(a.dest, a.metavar, a.type, a.nargs) for a in found.values()}) == 1, option
    helps = {a.help for p in COMMANDS.values() for a in p._actions if "--quiet" in a.option_strings}
    assert len(helps) == 1


def test_debug_works_before_and_after_the_command():
    parse = build_parser().parse_args
    assert parse(["--debug", "validate", "e.csv"]).debug is True
    assert parse(["validate", "e.csv", "--debug"]).debug is True
    assert parse(["validate", "e.csv"]).debug is False


def _tiny_training(tmp_path: Path) -> list[str]:
    events = tmp_path / "events.parquet"
    assert main(["generate", "--n-customers", "150", "--days", "120", "--out", str(events)]) == 0
    return [
        "train",
        str(events),
        "--n-cutoffs",
        "2",
        "--step",
        "15D",
        "--no-holdout",
        "--jobs",
        "1",
    ]


def test_quiet_silences_the_progress_bars_and_nothing_else(tmp_path, capsys, monkeypatch):
    argv = _tiny_training(tmp_path)
    capsys.readouterr()
    # in a log file or a pipe there is no bar, --quiet or not
    assert main([*argv, "--out", str(tmp_path / "piped.cjml")]) == 0
    assert "train:" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # on a terminal
    assert main([*argv, "--out", str(tmp_path / "a.cjml")]) == 0
    loud_out, loud_err = capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "b.cjml"), "--quiet"]) == 0
    quiet_out, quiet_err = capsys.readouterr()
    assert "train:" in loud_err  # the progress bar
    assert "train:" not in quiet_err
    # what is left on stderr are the warnings, the same as without --quiet
    warned = [line for line in quiet_err.splitlines()]
    assert all(line.startswith("warning: ") for line in warned)
    assert all(line in loud_err for line in warned)
    assert "Saved the churn and next-stage models" in quiet_out
    assert quiet_out.replace("b.cjml", "a.cjml").split(" rows, ")[0] == loud_out.split(" rows, ")[0]


def test_train_says_which_customer_attributes_it_used_and_takes_others_by_name(tmp_path, capsys):
    argv = _tiny_training(tmp_path)
    events = tmp_path / "events.parquet"
    frame = pd.read_parquet(events)
    frame["seats"] = (frame["customer_id"] % 7 + 1).astype(float)  # a number about the customer
    frame["email"] = "c" + frame["customer_id"].astype(str) + "@example.com"  # an id
    frame.to_parquet(events)
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "auto.cjml"), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert (
        "Customer attributes used as features: segment. Left out: seats (numbers, which may "
        "measure events rather than customers); email (too many distinct values for "
        "categories: ids or free text). To choose, name every column to use: --attributes "
        "segment,COLUMN."
    ) in said
    named = tmp_path / "named.cjml"
    assert main([*argv, "--out", str(named), "--quiet", "--attributes", "segment,seats"]) == 0
    assert "Customer attributes used as features: segment, seats.\n" in capsys.readouterr().out
    bundle = cjml.ModelBundle.load(named)
    assert {"attribute_segment", "attribute_seats"} <= set(bundle.feature_names)
    assert bundle.metadata["attributes"]["used"] == ["segment", "seats"]
    none = tmp_path / "none.cjml"
    assert main([*argv, "--out", str(none), "--quiet", "--attributes", "none"]) == 0
    assert "No customer attribute is used as a feature." in capsys.readouterr().out
    assert not [n for n in cjml.ModelBundle.load(none).feature_names if n.startswith("attribute")]
    assert main([*argv, "--out", str(tmp_path / "x.cjml"), "--attributes", "seat"]) == 1
    assert "Did you mean 'seats'?" in capsys.readouterr().err


# --------------------------------------------------------------------------- messages
@pytest.mark.parametrize(
    "library, cli",
    [
        ("pass --force (force=True) to replace it.", "pass --force to replace it."),
        (
            "rerun the same command with --resume (resume=True) to continue",
            "rerun the same command with --resume to continue",
        ),
        (
            "leave out --timestamp-unit s (timestamp_unit='s'): without it",
            "leave out --timestamp-unit s: without it",
        ),
        (
            "Fix: pass drop_duplicates=True (--drop-duplicates) to remove them",
            "Fix: pass --drop-duplicates to remove them",
        ),
        ("pass on_error='quarantine' (--on-error quarantine) to", "pass --on-error quarantine to"),
        ("at most 133 days (horizon='133D', --horizon 133D)", "at most 133 days (--horizon 133D)"),
        ("20 cutoffs 8 days apart (step='8D'; --step 8D)", "20 cutoffs 8 days apart (--step 8D)"),
        (
            "fold by fold (evaluate(log, bundle, cv=5); cjml evaluate MODEL EVENTS --cv 5)",
            "fold by fold (cjml evaluate MODEL EVENTS --cv 5)",
        ),
        ("names with columns=... / --columns", "names with --columns"),
        (
            "load it with --trust-pickle (trusted=True) and save it",
            "load it with --trust-pickle and save it",
        ),
        # values of the data are left alone
        (
            "row 0: customer_id='NA' (missing_ids=['NA', 'null'])",
            "row 0: customer_id='NA' (missing_ids=['NA', 'null'])",
        ),
    ],
)
def test_library_messages_reach_the_terminal_in_command_line_words(library, cli):
    from cjml.cli import cli_words

    assert cli_words(library) == cli


def test_an_error_raised_with_both_spellings_is_printed_with_the_option_only(tmp_path, capsys):
    out = tmp_path / "events.parquet"
    out.write_bytes(b"precious")
    code = main(
        ["generate", "--n-customers", "20", "--days", "30", "--out", str(tmp_path / "new.parquet")]
    )
    assert code == 0
    capsys.readouterr()
    code = main(["features", str(tmp_path / "new.parquet"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "--force" in err and "force=True" not in err
    assert out.read_bytes() == b"precious"


# --------------------------------------------------------------------------- packaging
def test_the_all_extra_installs_every_user_extra_and_completion_is_a_dependency():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    (spec,) = extras["all"]
    named = re.fullmatch(r"cjml\[([a-z,]+)\]", spec)
    assert named is not None, spec
    assert set(named.group(1).split(",")) == set(extras) - {"all", "dev"}
    assert any(d.startswith("shtab") for d in project["dependencies"])
    assert 'pip install -e ".[all]"' in README.read_text(encoding="utf-8")
