"""``cjml journey-map`` drawing the journey-map canvas (issue 20): a canvas per persona with its
five rows and the support journey, one persona, two side by side, the support journey alone,
and the refusals. Every output is compared with what the Python API makes of the same inputs."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

import cjml
from cjml.cli import main
from cjml.datasets import make_journeys

#: The canvas's rows as the picture names them (English).
ROW_TITLES = ("Doing", "Feeling", "Pain points", "Opportunities", "Time and flow")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A small simulated log (with a ``segment`` column) and a small bundle trained on it."""
    folder = tmp_path_factory.mktemp("canvas-cli")
    events = make_journeys(500, n_days=150, random_state=11).events
    path = folder / "events.parquet"
    events.to_parquet(path)
    bundle, _ = cjml.train(
        events, n_cutoffs=3, step="15D", holdout=False, survival=False, value=False, n_jobs=1
    )
    model = bundle.save(folder / "small.cjml")
    return path, model


@pytest.fixture(scope="module")
def report(inputs):
    """The journey map the command draws, from the Python API."""
    events, model = inputs
    bundle = cjml.ModelBundle.load(model)
    log = cjml.read_events(events, journey_map=bundle.journey_map)
    return cjml.journey_map(log, bundle, by="segment")


@pytest.fixture(scope="module")
def support(inputs, report):
    events, model = inputs
    bundle = cjml.ModelBundle.load(model)
    log = cjml.read_events(events, journey_map=bundle.journey_map)
    return cjml.support_journey(
        log,
        bundle,
        by="segment",
        cutoff=report.info["cutoff"],
        horizon=report.info["horizon"],
    )


def _texts(page: str) -> str:
    """The words of a page (tags dropped, entities read)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_done_when_command_draws_a_canvas_per_persona_and_the_support_journey(
    inputs, report, support, tmp_path, capsys
):
    events, model = inputs
    out = tmp_path / "map.html"
    code, text, err = run(capsys, "journey-map", events, "--model", model, "--canvas", "--out", out)
    assert code == 0, err
    personas = report.personas
    assert len(personas) == 5
    # the column the personas came from is said, with --by's default
    assert f"Personas from the column 'segment' ({len(personas)})" in text
    assert "6 canvases and the support journey" in text and str(out) in text
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert "http://" not in page.replace("http://www.w3.org", "")  # self-contained
    words = _texts(page)
    for persona in [None, *personas]:
        assert report.canvas(persona).title in words, persona
    for row in ROW_TITLES:  # the five rows on every canvas
        assert words.count(row) >= len(personas) + 1, row
    assert page.count("<svg") >= len(personas) + 1
    assert support._repr_html_() in page  # the support journey, as the API shows it


def test_without_out_the_text_forms_are_printed(inputs, report, support, capsys):
    events, model = inputs
    code, text, err = run(capsys, "journey-map", events, "--model", model, "--canvas")
    assert code == 0, err
    for persona in [None, *report.personas]:
        assert report.canvas(persona).to_text() in text, persona
    assert support.to_text() in text
    # the plain map, without --out: its summary
    code, text, err = run(capsys, "journey-map", events)
    assert code == 0, err
    assert cjml.journey_map(cjml.read_events(events)).to_text() in text


def test_persona_draws_only_the_personas_named(inputs, report, tmp_path, capsys):
    events, model = inputs
    first, second, third = report.personas[:3]
    # repeated and as a comma list; a repeat is drawn once
    code, text, err = run(
        capsys,
        "journey-map",
        events,
        "--model",
        model,
        "--persona",
        f"{first},{second}",
        "--persona",
        first,
    )
    assert code == 0, err
    assert report.canvas(first).to_text() in text and report.canvas(second).to_text() in text
    assert report.canvas(third).to_text() not in text
    assert report.canvas(None).to_text() not in text
    # one picture per canvas
    out = tmp_path / "canvas.png"
    code, text, err = run(
        capsys,
        "journey-map",
        events,
        "--model",
        model,
        "--persona",
        first,
        "--persona",
        second,
        "--out",
        out,
    )
    assert code == 0, err
    written = sorted(tmp_path.iterdir())
    assert len(written) == 2, written
    assert all(p.suffix == ".png" and p.read_bytes()[:4] == b"\x89PNG" for p in written)
    assert all(str(p) in text for p in written)
    assert "2 canvases to" in text


def test_compare_prints_and_writes_the_differences(inputs, report, tmp_path, capsys):
    events, model = inputs
    a, b = report.personas[:2]
    comparison = report.compare(a, b)
    code, text, err = run(capsys, "journey-map", events, "--model", model, "--compare", a, b)
    assert code == 0, err
    assert comparison.to_text() in text
    out = tmp_path / "compare.html"
    code, text, err = run(
        capsys, "journey-map", events, "--model", model, "--compare", a, b, "--out", out
    )
    assert code == 0, err
    assert "2 canvases and the comparison to" in text
    words = _texts(out.read_text(encoding="utf-8"))
    for sentence in comparison.differences["text"]:
        assert html.unescape(str(sentence)) in words
    assert report.canvas(a).title in words and report.canvas(b).title in words


def test_support_alone_writes_the_support_journey(inputs, support, tmp_path, capsys):
    events, model = inputs
    out = tmp_path / "support.csv"
    support_only = ("journey-map", events, "--model", model, "--support", "--out")
    code, text, err = run(capsys, *support_only, out)
    assert code == 0, err
    assert "Wrote the support journey to" in text
    written = pd.read_csv(out, encoding="utf-8-sig")
    expected = support.to_frame()
    assert list(written.columns) == list(expected.columns)
    assert len(written) == len(expected)
    page = tmp_path / "support.html"
    code, text, err = run(capsys, *support_only, page)
    assert code == 0, err
    assert support._repr_html_() in page.read_text(encoding="utf-8")


def test_the_emotion_weight_and_the_evidence_threshold_reach_the_canvas(inputs, capsys):
    events, model = inputs
    code, text, err = run(
        capsys,
        "journey-map",
        events,
        "--model",
        model,
        "--persona",
        "regular",
        "--negative-weight",
        "3",
        "--min-customers",
        "1000",
    )
    assert code == 0, err
    bundle = cjml.ModelBundle.load(model)
    log = cjml.read_events(events, journey_map=bundle.journey_map)
    custom = cjml.journey_map(
        log, bundle, by="segment", negative_weight=3.0, min_customers=1000
    ).canvas("regular")
    assert custom.info["negative_weight"] == 3.0 and custom.info["min_customers"] == 1000
    assert custom.feeling["few"].all()  # 1000 respondents: no stage has them
    assert custom.to_text() in text


def test_personas_of_a_column_of_numbers_are_named_as_text(inputs, tmp_path, capsys):
    events, _ = inputs
    frame = pd.read_parquet(events)
    frame["tier"] = frame["customer_id"].astype("int64") % 3 + 1
    path = tmp_path / "tiers.parquet"
    frame.to_parquet(path)
    code, text, err = run(capsys, "journey-map", path, "--by", "tier", "--persona", "2")
    assert code == 0, err
    expected = cjml.journey_map(cjml.read_events(path), by="tier").canvas(2)
    assert expected.to_text() in text
    assert "Personas from the column" not in text  # --by was given


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--persona", "deal_seekr"],
            r"^error: Unknown persona 'deal_seekr' in --persona: the personas of 'segment' "
            r"are .*'deal_seeker'.*Did you mean 'deal_seeker'\?",
        ),
        (
            ["--compare", "deal_seeker", "nobody"],
            r"^error: Unknown persona 'nobody' in --compare: the personas of 'segment' are ",
        ),
        (
            ["--compare", "regular", "regular"],
            r"^error: --compare needs two different personas, got 'regular' twice",
        ),
        (
            ["--canvas", "--out", "{tmp}/map.csv"],
            r"^error: Cannot write .*map\.csv.*with --canvas, --out must end in \.html",
        ),
        (
            ["--out", "{tmp}/map.png"],
            r"^error: Cannot write .*map\.png.*: --out must end in \.html .*add --canvas",
        ),
        (
            ["--min-customers", "50", "--out", "{tmp}/map.html"],
            r"^error: --min-customers sets how the canvas is drawn, and none was asked for: add "
            r"--canvas, --persona, --compare or --support, or leave --min-customers out\.",
        ),
        (
            ["--support", "--negative-weight", "3"],
            r"^error: --negative-weight sets how the canvas is drawn.*add --canvas, --persona or "
            r"--compare",
        ),
        (
            ["--support", "--out", "{tmp}/support.svg"],
            r"^error: Cannot write .*support\.svg.*with --support, --out must end in \.html",
        ),
    ],
)
def test_refusals_name_the_option_and_write_nothing(inputs, tmp_path, capsys, argv, message):
    events, _ = inputs
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(capsys, "journey-map", events, *argv)
    assert code == 1
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and "persona=" not in err
    assert list(tmp_path.iterdir()) == []


def test_persona_without_personas_says_to_pass_by(tmp_path, capsys):
    events = make_journeys(60, n_days=60, random_state=2).events.drop(columns="segment")
    path = tmp_path / "plain.csv"
    events.to_csv(path, index=False)
    code, _, err = run(capsys, "journey-map", path, "--persona", "regular")
    assert code == 1
    assert "--persona needs personas" in err and "pass --by COLUMN" in err
    # --canvas draws the one canvas there is, and says how to get one per persona
    out = tmp_path / "map.html"
    code, text, err = run(capsys, "journey-map", path, "--canvas", "--out", out)
    assert code == 0, err
    assert "no persona column: one canvas, for all customers; pass --by COLUMN" in text
    assert "Wrote 1 canvas and the support journey to" in text
    assert _texts(out.read_text(encoding="utf-8")).count("Time and flow") >= 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--negative-weight", "0"], "argument --negative-weight: expected a number > 0"),
        (["--negative-weight", "many"], "argument --negative-weight: expected a number"),
        (["--min-customers", "0"], "argument --min-customers: expected a number >= 1"),
        (["--compare", "regular"], "argument --compare: expected 2 arguments"),
    ],
)
def test_bad_values_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["journey-map", "events.csv", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_persona_name_with_a_comma_is_kept_whole():
    from cjml.cli._data import _persona_names

    known = ["a", "b", "x,y"]
    assert _persona_names(["a,b", "x,y", "b"], known) == ["a", "b", "x,y"]
    assert _persona_names([" a , c ", "x"], known) == ["a", "c", "x"]  # refused later


def test_a_log_without_tickets_draws_its_canvas_and_says_the_support_journey_is_left_out(
    tmp_path, capsys
):
    events = make_journeys(80, n_days=60, random_state=3).events
    events = events[~events["touchpoint"].isin(["support_ticket", "ticket_resolved"])]
    path = tmp_path / "no_tickets.csv"
    events.to_csv(path, index=False)
    out = tmp_path / "map.html"
    code, text, err = run(capsys, "journey-map", path, "--canvas", "--out", out)
    assert code == 0, err
    assert "hold no support tickets (support_ticket), so the canvases come without" in text
    assert re.search(r"Wrote \d+ canvas(es)? to ", text) and "support journey to" not in text
    assert _texts(out.read_text(encoding="utf-8")).count("Time and flow") >= 1
    # asked for by itself, the support journey is refused with a way out
    code, _, err = run(capsys, "journey-map", path, "--support", "--out", tmp_path / "s.html")
    assert code == 1
    assert "No support ticket in the event log" in err and "opened=[...]" in err
    assert not (tmp_path / "s.html").exists()
