"""The journey canvas and the support journey in the panel's Overview tab (issue 20): the
persona selector, the canvas it shows, the support journey, each computed once by the panel's
data and shown as the Python API shows it."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest

from cjml.datasets import load_sample
from cjml.i18n import language
from cjml.panel import PanelData, label
from cjml.panel._data import canvas_note, persona_choices


@pytest.fixture(scope="module")
def data():
    """The panel's data on the sample with a small bundle (trained once per run)."""
    from _panel_bundle import sample_bundle_path

    return PanelData.from_inputs(sample_bundle_path(), load_sample(), user="tester")


@pytest.fixture(scope="module")
def app(data, tmp_path_factory):
    from cjml.panel._app import MarketerPanel

    return MarketerPanel(
        data, page_size=10, export_path=tmp_path_factory.mktemp("canvas") / "actions.csv"
    )


def _words(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _same_drawing(a: str, b: str) -> bool:
    """Two renderings of one canvas are equal but for the ids of their SVG elements."""
    return re.sub(r'id="[^"]*"', "", a) == re.sub(r'id="[^"]*"', "", b)


# --------------------------------------------------------------------------- the data
def test_persona_choices_put_all_customers_first():
    assert persona_choices([]) == [("All customers", None)]
    assert persona_choices(["deal_seeker", 3]) == [
        ("All customers", None),
        ("Deal seeker", "deal_seeker"),
        ("3", 3),
    ]
    with language("vi"):
        first = persona_choices(["deal_seeker"])[0]
    assert first[1] is None and first[0] != "All customers"  # translated


def test_canvas_note_names_the_weight_and_the_threshold():
    note = canvas_note({"negative_weight": 12.0, "min_customers": 30})
    assert "weighs like 12 positive ones" in note and "fewer than 30 customers" in note
    note = canvas_note({"negative_weight": 2.5, "min_customers": 1000})
    assert "weighs like 2.5 positive ones" in note and "fewer than 1,000 customers" in note


def test_the_panels_journey_map_has_the_segments_as_personas(data):
    assert data.segment_col == "segment"
    assert data.report.info["by"] == "segment"
    assert sorted(map(str, data.personas)) == sorted(load_sample()["segment"].unique())
    # each canvas and the support journey are computed once
    assert data.canvas("regular") is data.canvas("regular")
    assert data.support_journey is data.support_journey
    assert data.canvas(None).persona is None and data.canvas("regular").persona == "regular"


# --------------------------------------------------------------------------- the widgets
def test_the_selector_lists_all_customers_then_the_personas(app, data):
    names = [name for name, _value in app.canvas_persona.options]
    assert names == ["All customers", *[label(p) for p in data.personas]]
    assert not app.canvas_persona.disabled
    assert app.canvas_persona_value is None
    assert app.overview_canvas.value == data.canvas_html(None)  # drawn once
    assert _same_drawing(app.overview_canvas.value, data.canvas(None)._repr_html_())
    assert "<svg" in app.overview_canvas.value
    assert data.canvas(None).title in _words(app.overview_canvas.value)
    note = _words(app.overview_canvas_note.value)
    assert "weighs like 12 positive ones" in note and "fewer than 30 customers" in note


def test_choosing_a_persona_changes_the_canvas(app, data):
    everyone = app.overview_canvas.value
    names = [name for name, _value in app.canvas_persona.options]
    app.canvas_persona.value = names.index("Deal seeker")
    try:
        assert app.canvas_persona_value == "deal_seeker"
        shown = app.overview_canvas.value
        assert shown == data.canvas_html("deal_seeker") != everyone
        assert _same_drawing(shown, data.canvas("deal_seeker")._repr_html_())
        assert not _same_drawing(shown, everyone)
        assert data.canvas("deal_seeker").title in _words(shown)
    finally:
        app.canvas_persona.value = 0
    assert app.overview_canvas.value == everyone


def test_the_support_journey_is_shown(app, data):
    assert app.overview_support.value == data.support_html == data.support_journey._repr_html_()
    # below the canvas, in the Overview tab, under its own heading
    section = app.overview_canvas_section
    assert section in app.tabs.children[0].children
    parts = list(section.children)
    where = parts.index(app.overview_support)
    assert where > parts.index(app.overview_canvas)
    assert parts[where - 1] is app.overview_support_title
    # one heading, whether the support journey's fragment brings one or not
    headings = re.findall(
        r"<h\d[^>]*>\s*Support journey\s*</h\d>",
        app.overview_support_title.value + app.overview_support.value,
    )
    assert len(headings) == 1, headings
    assert "Silent unhappy" in _words(app.overview_support.value)


def test_the_canvas_scales_to_the_width_of_the_tab(app):
    from cjml.panel._app import _CSS

    assert "cjml-canvas" in app.overview_canvas._dom_classes
    assert "cjml-canvas" in app.overview_support._dom_classes
    assert re.search(r"\.cjml-canvas svg[^{]*\{max-width: 100%; height: auto;\}", _CSS)


def test_without_a_journey_map_the_canvas_says_why(data, tmp_path):
    from cjml.panel._app import MarketerPanel

    bare = dataclasses.replace(data, report=None)
    bare._support = data.support_journey  # the same events: no need to compute it again
    app = MarketerPanel(bare, page_size=10, export_path=tmp_path / "actions.csv")
    assert [name for name, _value in app.canvas_persona.options] == ["All customers"]
    assert app.canvas_persona.disabled
    words = _words(app.overview_canvas.value)
    assert "The journey canvas could not be drawn: No journey map" in words
    assert app.overview_support.value == data.support_journey._repr_html_()


def test_events_without_support_tickets_say_so_plainly(tmp_path):
    """Many journeys have no tickets: the Overview says there is none, in a marketer's words,
    not an error with a fix for the Python API."""
    from _panel_bundle import sample_bundle_path

    import cjml
    from cjml.panel._app import MarketerPanel

    events = load_sample()
    events = events[~events["touchpoint"].isin(["support_ticket", "ticket_resolved"])]
    with pytest.raises(
        cjml.NoSupportTicketsError, match="Fix: name the touchpoints that open"
    ) as caught:
        cjml.support_journey(cjml.read_events(events))
    assert caught.value.opened == ("support_ticket",)
    bare = PanelData.from_inputs(sample_bundle_path(), events, user="tester", report=None)
    app = MarketerPanel(bare, page_size=10, export_path=tmp_path / "actions.csv")
    words = _words(app.overview_support.value)
    with language("en"):
        expected = label("support_ticket")
    assert words.strip() == (
        f"These events hold no support tickets ({expected}), so there is no support "
        "journey to draw."
    )
