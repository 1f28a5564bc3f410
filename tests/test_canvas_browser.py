"""The canvas page in a real browser: Chromium lays out the SVG's text (issue 20).

``write_canvases`` writes one HTML page; Chromium opens it from the disk (no
server, no network) and every SVG ``<text>`` element is measured where the
browser draws it: none may overlap another (1 px tolerance) and all must lie
inside their SVG. The page is photographed into ``test-artifacts/``.

It needs Debian's ``chromium`` and Playwright; without them the test is
skipped (in CI, where ``CI`` is set, it fails), as in test_panel_e2e.py.
"""

from __future__ import annotations

import pytest
from _browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, require_browser
from _canvas_fixtures import make_canvas

from cjml.canvas import write_canvases

#: Run in the page: per SVG, its box and every text element's box and words.
MEASURE_JS = r"""
() => [...document.querySelectorAll('.cjml-canvas svg')].map((svg) => {
  const s = svg.getBoundingClientRect();
  return {
    svg: [s.left, s.top, s.right, s.bottom],
    texts: [...svg.querySelectorAll('text')].map((t) => {
      const r = t.getBoundingClientRect();
      return {words: t.textContent, box: [r.left, r.top, r.right, r.bottom]};
    }).filter((t) => t.words.trim() && t.box[2] > t.box[0]),
  };
})
"""


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("canvas-browser")
    canvases = [
        make_canvas(n_stages=5, persona=None, few_stages=(4,), silent_stages=(1,)),
        make_canvas(n_stages=9, long=True, seed=4, few_stages=(8,), testing_stages=(2, 5)),
        make_canvas(n_stages=3, persona="Khách hàng mới", seed=5),
    ]
    [path] = write_canvases(canvases, folder / "canvas.html")
    [vi] = write_canvases(canvases[:1], folder / "canvas-vi.html", lang="vi")
    return path, vi, len(canvases)


def _problems(drawn: list[dict]) -> list[str]:
    out = []
    for n, picture in enumerate(drawn):
        left, top, right, bottom = picture["svg"]
        texts = picture["texts"]
        for t in texts:
            x0, y0, x1, y1 = t["box"]
            if x0 < left - 1 or x1 > right + 1 or y0 < top - 1 or y1 > bottom + 1:
                out.append(f"svg {n}: {t['words']!r} outside its svg")
        ordered = sorted(texts, key=lambda t: t["box"][1])
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                if b["box"][1] >= a["box"][3] - 1:  # sorted by top: nothing below can overlap
                    break
                w = min(a["box"][2], b["box"][2]) - max(a["box"][0], b["box"][0])
                h = min(a["box"][3], b["box"][3]) - max(a["box"][1], b["box"][1])
                if w > 1 and h > 1:
                    out.append(f"svg {n}: {a['words']!r} overlaps {b['words']!r}")
    return out


def test_canvas_page_text_neither_overlaps_nor_leaves_its_svg(page_file):
    require_browser()
    from playwright.sync_api import sync_playwright

    path, vi, n_canvases = page_file
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            ARTIFACTS.mkdir(exist_ok=True)
            for name, file in (("canvas-page", path), ("canvas-page-vi", vi)):
                page.goto(file.as_uri())
                page.wait_for_load_state("load")
                drawn = page.evaluate(MEASURE_JS)
                assert len(drawn) == (n_canvases if file == path else 1)
                assert all(len(p["texts"]) > 50 for p in drawn)
                problems = _problems(drawn)
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                assert not problems, "\n".join(problems[:20])
            assert all(u.startswith("file:") for u in requests), requests
            hover = page.evaluate(
                "() => [...document.querySelectorAll('svg g > title')].map(t => t.textContent)"
            )
            assert any("reached the stage" in h or "đến giai đoạn" in h for h in hover)
        finally:
            browser.close()
