"""The journey canvas checked as a picture (issue 20).

The canvas is drawn for 3, 5 and 9 stages (long stage and touchpoint names
too) and its text artists are measured in the rendered figure: none overlaps
another, none leaves the page or its cell. The SVG keeps text as ``<text>``
and has the counts behind every number on hover; thin cells are grey and
say so; ``write_canvases`` writes the files the contract names, refuses to
overwrite and replaces with ``force``. The rendered canvases are saved as
PNGs in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from html import escape as html_escape
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from _browser import ARTIFACTS
from _canvas_fixtures import default_stages, make_canvas
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

import cjml
from cjml.canvas import PersonaComparison, write_canvases
from cjml.canvas._render import (
    PAGE,
    canvas_figure,
    canvas_html,
    canvas_svg,
    canvas_text,
    comparison_figure,
    comparison_html,
    round_to_100,
    slug,
)
from cjml.exceptions import InputFileError
from cjml.i18n import current, label_text

ROWS_EN = ("Doing", "Feeling", "Pain points", "Opportunities", "Time and flow")
SVG = "{http://www.w3.org/2000/svg}"
#: Layouts the canvas must hold: (stages, long names, few stages, stages without answers).
LAYOUTS = {
    "3-stages": dict(n_stages=3),
    "5-stages": dict(n_stages=5, few_stages=(4,), silent_stages=(1,)),
    "9-stages-long": dict(n_stages=9, long=True, few_stages=(8,), silent_stages=(1,)),
    "9-stages-no-model": dict(n_stages=9, model=False, few_stages=(0, 5)),
}


def _texts(fig) -> list:
    """Every visible, non-empty text artist of the figure (its axes' too)."""
    found = [t for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text().strip()]
    return [t for t in found if t.get_visible()]


def _area(gid: str | None) -> str | None:
    parts = (gid or "").split(".")
    return parts[1] if len(parts) >= 3 else None


def _heads(fig) -> list[str]:
    """The stage headers' words, left to right."""
    return [t.get_text() for t in _texts(fig) if (_area(t.get_gid()) or "").startswith("head-")]


def _inside(box, outer, tolerance: float = 0.5) -> bool:
    return (
        box.x0 >= outer.x0 - tolerance
        and box.x1 <= outer.x1 + tolerance
        and box.y0 >= outer.y0 - tolerance
        and box.y1 <= outer.y1 + tolerance
    )


def _layout_problems(fig) -> list[str]:
    """Texts overlapping, outside the page, or outside their cell, in words."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    texts = _texts(fig)
    cells = {
        _area(p.get_gid()): p.get_window_extent(renderer)
        for p in fig.findobj(Rectangle)
        if (p.get_gid() or "").endswith(".cell")
    }
    boxes = [t.get_window_extent(renderer) for t in texts]
    problems = []
    for t, b in zip(texts, boxes, strict=True):
        name = repr(t.get_text())
        if not _inside(b, page):
            problems.append(f"{name} leaves the page")
        area = _area(t.get_gid())
        if area is None or area not in cells:
            problems.append(f"{name} has no cell (gid {t.get_gid()!r})")
            continue
        if not _inside(b, cells[area]):
            problems.append(f"{name} leaves its cell {area}")
    for (t1, b1), (t2, b2) in combinations(zip(texts, boxes, strict=True), 2):
        w = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
        h = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        if w > 0.5 and h > 0.5:
            problems.append(f"{t1.get_text()!r} overlaps {t2.get_text()!r}")
    return problems


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def drawn(request):
    """(name, canvas, figure) per layout; the figure saved in test-artifacts/."""
    canvas = make_canvas(**LAYOUTS[request.param])
    fig = canvas_figure(canvas)
    ARTIFACTS.mkdir(exist_ok=True)
    fig.savefig(ARTIFACTS / f"canvas-{request.param}.png", dpi=110)
    return request.param, canvas, fig


# ---------------------------------------------------------------------- the picture
def test_the_page_is_a4_landscape_with_title_rows_and_stages(drawn):
    name, canvas, fig = drawn
    assert tuple(np.round(fig.get_size_inches(), 2)) == PAGE
    words = [t.get_text() for t in _texts(fig)]
    assert "Journey canvas: Deal seekers" in words
    for row in ROWS_EN:
        assert row in words, f"no row label {row!r}"
    heads = _heads(fig)
    for stage in canvas.stages:
        full = label_text(stage)
        if "long" in name:  # a long name is cut with an ellipsis, never dropped
            shown = " ".join(h for h in heads if h.startswith(full.split()[0]))
            assert any(h.endswith("\u2026") for h in heads)
            assert full.startswith(shown.split()[0])
        else:
            assert full in heads, f"no header {full!r} in {heads}"


def test_no_text_overlaps_or_leaves_the_page_or_its_cell(drawn):
    _, _, fig = drawn
    problems = _layout_problems(fig)
    assert not problems, "\n".join(problems[:20])


def test_every_row_cell_shows_something(drawn):
    _, canvas, fig = drawn
    areas = {_area(t.get_gid()) for t in _texts(fig)}
    for row in ("doing", "feeling", "pains", "opportunities", "flow"):
        for k in range(len(canvas.stages)):
            assert f"{row}-{k}" in areas, f"cell {row}-{k} is empty"


def test_same_row_same_size():
    """Cells of one row share a size: the row reads as one line of the journey."""
    fig = canvas_figure(make_canvas(n_stages=9, long=True))
    by_row: dict[str, set] = {}
    for t in _texts(fig):
        area = _area(t.get_gid()) or ""
        marker = t.get_gid().split(".")[-1] == "m"
        if re.fullmatch(r"(doing|pains|opportunities|flow)-\d", area) and not marker:
            by_row.setdefault(area.split("-")[0], set()).add(round(t.get_fontsize(), 2))
    assert by_row and all(len(sizes) <= 2 for sizes in by_row.values()), by_row  # few notes 0.9x


def test_feeling_marks_peak_end_and_the_negative_weight():
    canvas = make_canvas(n_stages=5, silent_stages=(1,))
    words = " ".join(t.get_text() for t in _texts(canvas_figure(canvas)))
    assert "peak" in words and "end" in words
    assert "negative answers weigh 12×" in words
    assert "no answers" in words
    peak = canvas.feeling.loc[canvas.feeling["peak"], "emotion"].iloc[0]
    assert f"{abs(peak):.2f}" in words
    canvas.info["negative_weight"] = 4.5
    words = " ".join(t.get_text() for t in _texts(canvas_figure(canvas)))
    assert "negative answers weigh 4.5×" in words


def test_pains_are_numbered_by_rank_and_say_how_they_were_ranked():
    canvas = make_canvas(n_stages=4)
    fig = canvas_figure(canvas)
    markers = {
        t.get_text()
        for t in _texts(fig)
        if (_area(t.get_gid()) or "").startswith("pains-") and t.get_gid().endswith(".m")
    }
    shown = canvas.pains.groupby("stage").head(3)["rank"]
    assert markers == {str(r) for r in shown}
    label = " ".join(t.get_text() for t in _texts(fig) if _area(t.get_gid()) == "label-pains")
    assert "1 = explains most churn" in label
    fig = canvas_figure(make_canvas(n_stages=4, model=False))
    no_model = " ".join(t.get_text() for t in _texts(fig))
    assert "ranked by size" in no_model and "needs a model" in no_model


def test_opportunities_show_points_interval_and_evidence_or_say_none():
    canvas = make_canvas(n_stages=3, empty_opportunities_stages=(2,))
    text = canvas_text(canvas)
    row = canvas.opportunities.sort_values("risk_reduction").iloc[-1]
    points = f"{row.risk_reduction * 100:.1f}"
    # the row says "churn risk cut": a positive cut has no sign, like its interval
    assert f" {points} pts ({row.risk_reduction_low * 100:.1f}\u2013" in text
    assert f"\u2212{points} pts" not in text
    assert f"{row.evidence:,} customer" in text
    assert "none found" in text


def test_worth_testing_is_grey_italic_with_its_interval_and_a_note_once():
    canvas = make_canvas(n_stages=4, testing_stages=(1, 2), empty_opportunities_stages=(2, 3))
    fig = canvas_figure(canvas)
    cells: dict[str, list] = {}
    for t in _texts(fig):
        cells.setdefault(_area(t.get_gid()) or "", []).append(t)
    note = "not enough evidence: test it with a control group"
    # stage 1: a missing touchpoint first (black), then the one worth testing (grey italics)
    words = [t.get_text() for t in cells["opportunities-1"]]
    assert words.count(note) == 1
    italic = [t for t in cells["opportunities-1"] if t.get_fontstyle() == "italic"]
    assert italic and all(to_hex(t.get_color()) == "#7a7a7a" for t in italic)
    assert any("(\u22123.0 to " in t.get_text() for t in italic)  # the interval, below zero
    first = [t for t in cells["opportunities-1"] if t.get_gid().endswith(".0.0")][0]
    assert first.get_fontstyle() == "normal"
    # stage 2: only one worth testing, no "none found"; stage 3: neither, "none found"
    assert note in [t.get_text() for t in cells["opportunities-2"]]
    assert "none found" not in [t.get_text() for t in cells["opportunities-2"]]
    assert [t.get_text() for t in cells["opportunities-3"]] == ["none found"]
    assert canvas_text(canvas).count(note) == 2


def test_the_emotion_scale_fits_the_data_and_labels_neutral():
    canvas = make_canvas(n_stages=5)
    canvas.feeling[["emotion", "emotion_low", "emotion_high"]] *= 0.1  # all within ±0.1
    fig = canvas_figure(canvas)
    ticks = {"100", "101", "102"}  # the scale's item numbers in the first feeling cell
    scale = [t.get_text() for t in _texts(fig) if t.get_gid().split(".")[2] in ticks]
    assert scale == ["0 neutral", "+0.5", "\u22120.5"]  # at least ±0.5, not ±1
    [ax] = fig.axes
    assert ax.get_ylim() == pytest.approx((-0.55, 0.55))
    canvas.feeling["emotion_low"] = -0.9
    [ax] = canvas_figure(canvas).axes
    assert ax.get_ylim() == pytest.approx((-1.1, 1.1))


def test_flow_percentages_add_to_100_in_every_stage():
    canvas = make_canvas(n_stages=6)
    for line in canvas_text(canvas).splitlines():
        if "moved on" in line:
            numbers = [int(v) for v in re.findall(r"(\d+)%", line)]
            assert sum(numbers) == 100, line


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_round_to_100_adds_up_and_stays_within_a_point(values):
    total = sum(values)
    out = round_to_100(values)
    if total == 0:
        assert out == [0, 0, 0]
        return
    assert sum(out) == 100
    for shown, raw in zip(out, values, strict=True):
        assert abs(shown - raw / total * 100) < 1


# ---------------------------------------------------------------------- evidence
def test_few_cells_are_grey_and_say_so():
    canvas = make_canvas(n_stages=4, few_stages=(2,))
    fig = canvas_figure(canvas)
    faces = {
        _area(p.get_gid()): to_hex(p.get_facecolor(), keep_alpha=True)
        for p in fig.findobj(Rectangle)
        if (p.get_gid() or "").endswith(".cell")
    }
    reached = int(canvas.flow.loc[2, "reached"])
    assert faces["flow-2"] == "#e9e9e9ff" and faces["doing-2"] == "#e9e9e9ff"
    assert faces["flow-1"] != "#e9e9e9ff" and faces["feeling-1"] != "#e9e9e9ff"
    assert faces["feeling-2"] == "#e9e9e9ff"  # 8 customers: fewer than 30 answered
    words = [t.get_text() for t in _texts(fig) if _area(t.get_gid()) == "flow-2"]
    assert f"few customers: {reached}" in words
    assert "few customers" not in " ".join(
        t.get_text() for t in _texts(fig) if _area(t.get_gid()) == "flow-1"
    )
    # every pain of the stage is thin: the cell is grey and says so once, not per pain
    pains = [t.get_text() for t in _texts(fig) if _area(t.get_gid()) == "pains-2"]
    assert faces["pains-2"] == "#e9e9e9ff"
    assert sum("few customers" in w for w in pains) == 1, pains


def test_svg_keeps_text_and_has_hover_counts_on_every_number():
    canvas = make_canvas(n_stages=5, few_stages=(4,))
    svg = canvas_svg(canvas)
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "Journey canvas: Deal seekers" in texts and "Time and flow" in texts
    assert "font-family: 'DejaVu Sans'" in svg
    parents = {child: g for g in root.iter(f"{SVG}g") for child in g}
    missing = []
    for t in root.iter(f"{SVG}text"):
        g = parents[t]
        area = _area(g.get("id"))
        in_cell = bool(area and re.fullmatch(r"(doing|feeling|pains|opportunities|flow)-\d+", area))
        if in_cell and re.search(r"\d", t.text or "") and g.find(f"{SVG}title") is None:
            missing.append(t.text)
    assert not missing, f"numbers without hover evidence: {missing}"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    reached = canvas.flow["reached"].astype(int)
    for n in reached:
        assert any(f"Of {n:,} who reached the stage" in (t or "") for t in titles)
    answered = canvas.feeling["respondents"].iloc[0]
    assert any(f"{answered:,} customers answered" in (t or "") for t in titles)


def test_html_fragment_is_inline_svg_without_network():
    fragment = canvas_html(make_canvas(n_stages=3))
    assert fragment.startswith("<div class='cjml-canvas'")
    assert "<svg" in fragment and "<?xml" not in fragment and "<metadata" not in fragment
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", fragment)
    assert "<script" not in fragment


def test_the_same_canvas_gives_the_same_svg_and_a_page_keeps_ids_unique(tmp_path):
    canvas = make_canvas(n_stages=4, persona="Deal seekers")
    assert canvas_html(canvas) == canvas_html(canvas)  # the app compares two renders
    assert canvas_svg(canvas) != canvas_svg(make_canvas(n_stages=4, persona="Regulars"))
    [page] = write_canvases([canvas, canvas, make_canvas(n_stages=4)], tmp_path / "p.html")
    text = page.read_text(encoding="utf-8")
    ids = re.findall(r"\sid=[\"']([^\"']+)", text)
    assert len(ids) > 300 and len(ids) == len(set(ids)), "ids repeat on the page"
    for ref in re.findall(r"(?:href=\"#|url\(#)([^\")]+)", text):
        assert ref in ids, f"a reference to {ref!r} finds nothing"


def test_comparison_side_by_side_with_the_differences_in_words():
    left = make_canvas(n_stages=5, persona="deal_seekers")
    right = make_canvas(n_stages=5, persona="loyal_regulars", seed=3)
    differences = pd.DataFrame(
        {
            "stage": ["consideration", None],
            "kind": ["drop_off", "missing"],
            "left": [0.3, np.nan],
            "right": [0.13, np.nan],
            "ratio": [2.3, np.nan],
            "text": [
                "Deal seekers drop off 2.3× more in consideration",
                "Live chat is missing for deal seekers",
            ],
            "customers": [120, 80],
        }
    )
    comparison = PersonaComparison(left, right, differences)
    fig = comparison_figure(comparison)
    ARTIFACTS.mkdir(exist_ok=True)
    fig.savefig(ARTIFACTS / "canvas-comparison.png", dpi=110)
    words = [t.get_text() for t in _texts(fig)]
    assert "Deal seekers" in words and "Loyal regulars" in words
    assert any(w.startswith("Deal seekers drop off 2.3") for w in words)
    assert not _layout_problems(fig)
    html = comparison_html(comparison)
    assert html.count("<svg") == 1 and "<li>Live chat is missing for deal seekers</li>" in html


def test_text_has_every_stage_and_row():
    canvas = make_canvas(stages=("browse", "basket", "checkout"), persona=None, by=None)
    text = canvas_text(canvas)
    assert text.splitlines()[0] == "Journey canvas: All customers"
    for word in ("Browse", "Basket", "Checkout", *ROWS_EN):
        assert word in text
    assert canvas.title == "All customers"
    assert canvas.to_text() == text


def test_vietnamese_words_and_the_language_is_restored():
    canvas = make_canvas(n_stages=5)
    fig = canvas_figure(canvas, lang="vi")
    fig.savefig(ARTIFACTS / "canvas-vi.png", dpi=110)
    words = [t.get_text() for t in _texts(fig)]
    assert current().language == "en"
    for row in ROWS_EN:
        assert row not in words, f"{row!r} untranslated"
    assert any(w.startswith("Bản đồ hành trình") for w in words), words[:3]
    assert "Nhận biết" in words  # the stage "awareness"
    assert not _layout_problems(fig)


def test_a_canvas_without_stages_is_refused():
    canvas = make_canvas(n_stages=3)
    canvas.stages = ()
    with pytest.raises(ValueError, match="no stages"):
        canvas_figure(canvas)


# ---------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def three_canvases():
    return [
        make_canvas(n_stages=4, persona=None),
        make_canvas(n_stages=4, persona="Deal seekers", seed=1),
        make_canvas(n_stages=4, persona="Khách hàng mới", seed=2, few_stages=(3,)),
    ]


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_png_one_file_per_canvas_named_by_persona(tmp_path, three_canvases):
    written = write_canvases(three_canvases, tmp_path / "map.png")
    names = ["map.png", "map-deal-seekers.png", "map-khach-hang-moi.png"]
    assert [p.name for p in written] == names
    for p in written:
        assert _png_size(p) == (int(PAGE[0] * 150), int(PAGE[1] * 150))  # A4 at 150 dpi
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_existing_target_refuses_everything_and_force_replaces(tmp_path, three_canvases):
    taken = tmp_path / "map-deal-seekers.png"
    taken.write_bytes(b"mine")
    with pytest.raises(InputFileError, match="already exists"):
        write_canvases(three_canvases, tmp_path / "map.png")
    assert taken.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map-deal-seekers.png"]  # nothing written
    written = write_canvases(three_canvases, tmp_path / "map.png", force=True)
    assert len(written) == 3 and taken.read_bytes()[:4] == b"\x89PNG"


def test_svg_files_and_html_page_round_trip(tmp_path, three_canvases):
    svgs = write_canvases(three_canvases, tmp_path / "map.svg")
    assert [p.name for p in svgs] == ["map.svg", "map-deal-seekers.svg", "map-khach-hang-moi.svg"]
    root = ET.fromstring(svgs[1].read_text(encoding="utf-8"))
    assert "Journey canvas: Deal seekers" in [t.text for t in root.iter(f"{SVG}text")]
    [page] = write_canvases(three_canvases, tmp_path / "map.html")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 3
    for title in ("All customers", "Deal seekers", "Khách hàng mới"):
        assert f"Journey canvas: {title}" in text
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", text)
    assert not re.search(r"url\(\s*['\"]?https?:|@import", text)
    assert "<title>" in text.split("</head>")[1]  # the hover titles
    # a heading, contents linking to a section with its own heading per canvas, print rules
    assert "<h1>Journey canvases: Synthetic</h1>" in text
    assert "Data up to the end of Jun 29, 2024; churn means no activity within 30 days." in text
    anchors = re.findall(r"<a href='#([^']+)'>([^<]+)</a>", text)
    assert anchors == [
        ("canvas-all-customers", "All customers"),
        ("canvas-deal-seekers", "Deal seekers"),
        ("canvas-khach-hang-moi", "Khách hàng mới"),
    ]
    for anchor, heading in anchors:
        assert f"<section class='cjml-page' id='{anchor}'" in text
        assert f"<h2 id='{anchor}-h'>{heading}</h2>" in text
    assert "@page{size:A4 landscape" in text and "break-after:page" in text
    with pytest.raises(InputFileError, match="already exists"):
        write_canvases(three_canvases, tmp_path / "map.html")
    assert page.read_text(encoding="utf-8") == text
    write_canvases(three_canvases[:1], tmp_path / "map.html", force=True)
    assert page.read_text(encoding="utf-8").count("<svg") == 1


def test_pdf_has_one_page_per_canvas_and_comparison(tmp_path, three_canvases):
    comparison = PersonaComparison(
        three_canvases[1],
        three_canvases[2],
        pd.DataFrame({"stage": [None], "kind": ["emotion"], "text": ["They feel alike"]}),
    )
    [pdf] = write_canvases(three_canvases, tmp_path / "map.pdf", comparisons=[comparison])
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 4
    pngs = write_canvases(three_canvases[:1], tmp_path / "c.png", comparisons=[comparison])
    assert [p.name for p in pngs] == ["c.png", "c-deal-seekers-vs-khach-hang-moi.png"]


def test_wrong_suffix_and_nothing_to_write(tmp_path, three_canvases):
    with pytest.raises(InputFileError, match=r"\.html or \.pdf or \.png or \.svg"):
        write_canvases(three_canvases, tmp_path / "map.jpg")
    with pytest.raises(ValueError, match="Nothing to write"):
        write_canvases([], tmp_path / "map.png")
    assert not list(tmp_path.iterdir())


def test_canvas_save_and_lang(tmp_path):
    canvas = make_canvas(n_stages=3)
    assert canvas.save(tmp_path / "one.png").name == "one.png"  # the name given, persona or not
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png"]
    path = canvas.save(tmp_path / "one.html", lang="vi")
    text = path.read_text(encoding="utf-8")
    assert "<html lang='vi'>" in text and "Bản đồ hành trình" in text
    assert current().language == "en"


def test_slugs_are_ascii_and_never_empty():
    assert slug("Khách hàng mới") == "khach-hang-moi"
    assert slug("Đà Nẵng / VIP!") == "da-nang-vip"
    assert slug("???") == "persona"
    assert slug(3) == "3"


def test_stage_names_of_a_bring_your_own_data_map():
    stages = ("lead", "qualified_lead", "demo_booked", "proposal_sent", "closed_won", "onboarded")
    fig = canvas_figure(make_canvas(stages=stages, persona="Enterprise"))
    heads = _heads(fig)
    assert heads == [label_text(s) for s in stages]
    assert not _layout_problems(fig)


def test_default_stage_helper_and_top_level_class():
    assert default_stages(3) == ("awareness", "consideration", "conversion")
    assert cjml.JourneyCanvas is type(make_canvas(n_stages=3))


# ---------------------------------------------------------------------- real canvases
@pytest.fixture(scope="module")
def sample():
    """The sample's journey map with the small bundle trained on it (shared per run)."""
    from _panel_bundle import sample_bundle_path

    from cjml.datasets import load_sample

    log = cjml.read_events(load_sample())
    bundle = cjml.ModelBundle.load(sample_bundle_path())
    return log, bundle, cjml.journey_map(log, bundle, by="segment")


def test_sample_canvases_of_every_persona_are_clean(sample):
    _log, _bundle, report = sample
    assert report.personas
    for persona in [None, *report.personas]:
        canvas = report.canvas(persona)
        fig = canvas_figure(canvas)
        fig.savefig(ARTIFACTS / f"canvas-sample-{slug(persona or 'all')}.png", dpi=110)
        problems = _layout_problems(fig)
        assert not problems, f"{persona}: " + "\n".join(problems[:10])
        heads = _heads(fig)
        assert heads == [label_text(s) for s in canvas.stages]
        assert canvas.info["pains_ranked_by"] == "churn model"
        words = " ".join(t.get_text() for t in _texts(fig))
        assert "negative answers weigh 12×" in words


def test_sample_files_with_support_journey_and_comparison(sample, tmp_path):
    log, bundle, report = sample
    support = cjml.support_journey(log, bundle, by="segment")
    a, b = report.personas[:2]
    canvases = [report.canvas(None), report.canvas(a)]
    comparisons = [report.compare(a, b)]
    [page] = write_canvases(
        canvases, tmp_path / "map.html", support=support, comparisons=comparisons
    )
    text = page.read_text(encoding="utf-8")
    assert "<a href='#support-journey'>Support journey</a>" in text
    assert "<h2 id='support-journey-h'>Support journey</h2>" in text
    assert text.count("<svg") >= 3  # two canvases and the comparison (support: its own)
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", text)
    for sentence in comparisons[0].differences["text"]:
        assert html_escape(sentence) in text
    [pdf] = write_canvases(canvases, tmp_path / "map.pdf", support=support, comparisons=comparisons)
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    assert pages == len(canvases) + len(comparisons) + 1 + len(support.personas)
    pngs = write_canvases(canvases, tmp_path / "map.png", support=support)
    assert [p.name for p in pngs] == ["map.png", f"map-{slug(a)}.png", "map-support.png"]


def test_bring_your_own_data_canvases_speak_its_stages():
    """A SaaS log with its own funnel (visitor ... advocate), no model: by size, 'needs a model'."""
    import tomllib

    from test_byod import MAP_TOML, simulate_saas

    events = simulate_saas(n_customers=500, n_days=200).rename(
        columns={
            "user": "customer_id",
            "event_time": "timestamp",
            "action": "touchpoint",
            "phase": "stage",
            "medium": "channel",
            "csat": "satisfaction",
            "revenue": "amount",
        }
    )
    log = cjml.read_events(events, journey_map=tomllib.loads(MAP_TOML))
    report = cjml.journey_map(log, by="plan")
    for persona in [None, *report.personas]:
        canvas = report.canvas(persona)
        fig = canvas_figure(canvas)
        heads = _heads(fig)
        assert heads == ["Visitor", "Trial", "Paying", "Expanding", "Advocate"]
        assert not _layout_problems(fig)
        words = " ".join(t.get_text() for t in _texts(fig))
        assert "needs a model" in words and "1 = largest (no churn model)" in words
    fig.savefig(ARTIFACTS / "canvas-byod.png", dpi=110)
