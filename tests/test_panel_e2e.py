"""End to end: the marketer's app in headless Chromium through Playwright (issue 19).

The panel on the sample (with a small bundle trained on it) is served as a page of
its own (``cjml app``), in English and in Vietnamese, and inside a real JupyterLab page (light and
dark theme, with and without the file browser). The tests use it as a marketer
would: nothing is approved on a fresh start, decisions survive a reload (they are
in the decision log), bulk approval leaves a manual override alone and says so,
an unknown id clears the customer view, an inactive customer cannot be approved,
approving a what-if that raises the risk asks first, the what-if re-scores.
Every tab is photographed at 1024, 1366 and 1920 px into ``test-artifacts/`` and
checked for text cut off, headers away from their columns and (from 1366 px on)
horizontal scroll bars.

The widgets are found by the CSS classes the app gives them (``.cjml-approve``,
``.cjml-confirm``...). The tests of one server share one page, in file order:
the first one needs the fresh start, the later ones the decisions made before.

It needs Debian's ``chromium`` (``/usr/bin/chromium``; Playwright's own browser
download does not work here): ``.ci/run`` installs it, and on a machine without it
the tests are skipped (in CI, where ``CI`` is set, they fail instead).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from _browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HEIGHT,
    PANEL_TIMEOUT_MS,
    TIMEOUT_MS,
    WIDTHS,
    cjml_app_command,
    free_port,
    jupyter_env,
    lab_command,
    lab_settings,
    layout_problems,
    open_tab,
    panel_notebook,
    require_browser,
    screenshot,
    server,
    tab,
)

TABS = ("overview", "list", "customer", "actions")
UNKNOWN_ID = "999999999"
#: What the English page must not show on the Vietnamese one (tab titles and buttons).
ENGLISH = {"Overview", "At-risk list", "Customer", "Actions", "Approve", "Skip", "Export"}


# ---------------------------------------------------------------------- the sample
@dataclasses.dataclass
class Sample:
    """The customers the tests act on, chosen with the panel's own data functions."""

    bundle: Path
    approve: Any  # approved in the customer view (then the what-if check)
    start_risk: str
    other_label: str
    other_risk: str
    override: Any  # overridden to another touchpoint
    override_label: str
    override_touchpoint: str
    override_risk: str  # the risk after it, as shown
    raising: Any  # has an allowed touchpoint that raises the risk
    raising_label: str
    raising_touchpoint: str
    raising_risk: str
    inactive: Any  # in the events, outside the scored population
    left_out: set  # uncertain or likely gone: bulk approval skips them
    risk: dict  # churn risk of the customers above, by id
    first_page: set = dataclasses.field(default_factory=set)  # the list's first page, by id


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


@pytest.fixture(scope="module")
def sample() -> Sample:
    require_browser("voila")
    from _panel_bundle import sample_bundle_path

    from cjml.datasets import load_sample
    from cjml.panel import PanelData, label

    bundle = sample_bundle_path()
    events: Any = load_sample()
    # no decision log beside anything
    data: Any = PanelData.from_inputs(bundle, events, report=None, decisions=None)
    table = data.table
    uncertain = table["uncertain"].fillna(False).astype(bool)
    reach = table.get("reach_probability")
    gone = (reach < 0.05).fillna(False) if reach is not None else uncertain & False
    left_out = set(table.loc[uncertain | gone, "customer_id"])
    ok = (
        table["recommended_touchpoint"].notna()
        & (table["expected_risk_reduction"] > 0)
        & ~uncertain
        & ~gone
    )
    # in the list's default order (value saved with a value model), so they are on its first page
    order = "expected_value_saved" if "expected_value_saved" in table else "expected_risk_reduction"
    candidates = table[ok].sort_values(order, ascending=False, kind="stable")
    ids = candidates["customer_id"].tolist()
    assert len(ids) >= 3, "the sample has too few customers with a recommendation"

    first = data.profile(ids[0])
    start = first.recommendations["touchpoint"].iloc[0]
    options = first.options.set_index("touchpoint")
    other = (options["expected_risk"] - options.loc[start, "expected_risk"]).abs().idxmax()

    # the override on the list's first page too, so the list shows both decisions
    first_page = set(data.customers.query(group="reachable").rows["customer_id"])
    search = sorted(ids[1:80], key=lambda c: c not in first_page)  # stable: order kept
    override = raising = None
    for cid in search:
        p = data.profile(cid)
        opts = p.options[p.options["allowed"]]
        rec = p.recommendations["touchpoint"].iloc[0] if len(p.recommendations) else None
        better = opts[(opts["touchpoint"] != rec) & (opts["risk_reduction"] > 0)]
        if override is None and len(better):
            best = better.sort_values("risk_reduction").iloc[-1]
            override = (cid, best["touchpoint"], best["expected_risk"])
            continue
        worse = opts[opts["risk_reduction"] < -0.001]
        if raising is None and len(worse):
            worst = worse.sort_values("risk_reduction").iloc[0]
            raising = (cid, worst["touchpoint"], worst["expected_risk"])
        if override is not None and raising is not None:
            break
    assert override is not None, "no customer of the sample has a second helpful touchpoint"
    assert raising is not None, "no customer of the sample has a touchpoint that raises the risk"
    inactive = sorted(set(events["customer_id"]) - set(table["customer_id"]))
    assert inactive, "the sample has no inactive customer"
    return Sample(
        bundle=bundle,
        approve=ids[0],
        start_risk=_pct(options.loc[start, "expected_risk"]),
        other_label=label(other),
        other_risk=_pct(options.loc[other, "expected_risk"]),
        override=override[0],
        override_label=label(override[1]),
        override_touchpoint=override[1],
        override_risk=_pct(override[2]),
        raising=raising[0],
        raising_label=label(raising[1]),
        raising_touchpoint=raising[1],
        raising_risk=_pct(raising[2]),
        inactive=inactive[0],
        left_out=left_out,
        first_page=first_page,
        risk={
            c: float(table.loc[table["customer_id"] == c, "churn_risk"].iloc[0])
            for c in (ids[0], override[0], raising[0])
        },
    )


# ---------------------------------------------------------------------- servers and pages
@pytest.fixture(scope="module")
def browser():
    require_browser("voila")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        pw.stop()


def _app_page(browser, sample: Sample, folder: Path, lang: str):
    """Serve the app in ``lang`` from ``folder``; yield (page, folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    decisions = folder / "decisions.jsonl"
    env = jupyter_env(folder)
    port = free_port()
    command = cjml_app_command(
        sample.bundle, port, lang=lang, decisions=decisions, export_folder=folder
    )
    with server(command, cwd=folder, env=env, port=port, name=f"app-{lang}") as url:
        page = browser.new_page(viewport={"width": 1366, "height": HEIGHT})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            _load(page, url)
            yield page, folder
        finally:
            page.close()


def _load(page, url: str | None = None) -> None:
    """Open (or reload) the app and wait for the panel: a new kernel scores first."""
    if url is None:
        page.reload(wait_until="domcontentloaded")
    else:
        page.goto(url, wait_until="domcontentloaded")
    page.locator(".cjml-panel").first.wait_for(state="visible", timeout=PANEL_TIMEOUT_MS)
    page.wait_for_timeout(300)


@pytest.fixture(scope="module")
def app(browser, sample, tmp_path_factory):
    yield from _app_page(browser, sample, tmp_path_factory.mktemp("app-en"), "en")


@pytest.fixture(scope="module")
def app_vi(browser, sample, tmp_path_factory):
    yield from _app_page(browser, sample, tmp_path_factory.mktemp("app-vi"), "vi")


class Lab:
    """A JupyterLab page with the panel notebook open; the theme is set in its settings."""

    def __init__(self, page, url: str, env: dict[str, str]):
        self.page, self.url, self.env = page, url, env
        self.theme: str | None = None
        # the page's JavaScript errors, for the failure message: a widget view that fails
        # to render shows only "Click to show javascript error"
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def show(self, theme: str, *, file_browser: bool) -> None:
        """The panel in ``theme`` ("light" or "dark"), the file browser open or closed."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        if theme != self.theme:
            name = "JupyterLab Dark" if theme == "dark" else "JupyterLab Light"
            lab_settings(self.env, theme=name)
            page = self.page
            if self.theme is None:
                page.goto(self.url, wait_until="domcontentloaded")
            else:
                # no outputs and nothing unsaved: the reload asks nothing, and the only
                # panel on the page is the one the new run makes
                page.evaluate(
                    "async () => { await jupyterapp.commands.execute("
                    "'notebook:clear-all-cell-outputs');"
                    " await jupyterapp.commands.execute('docmanager:save'); }"
                )
                page.reload(wait_until="domcontentloaded")
            page.wait_for_function(
                "() => window.jupyterapp && jupyterapp.shell.currentWidget"
                " && jupyterapp.shell.currentWidget.sessionContext"
                " && jupyterapp.shell.currentWidget.sessionContext.session?.kernel",
                timeout=PANEL_TIMEOUT_MS,
            )
            light = "true" if theme == "light" else "false"
            page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
            # Run > Run All Cells, as a person would
            for attempt in range(3):
                page.evaluate("() => jupyterapp.commands.execute('notebook:run-all-cells')")
                page.locator(".cjml-panel").first.wait_for(
                    state="visible", timeout=PANEL_TIMEOUT_MS
                )
                page.wait_for_timeout(500)
                # Now and then (about one JupyterLab session in three in CI, never in
                # Voila) a tab's view fails to render in JupyterLab's widget manager and
                # shows "Click to show javascript error". Not understood yet (issue 22's
                # note): rerun the cell as a person would, say so, and check the layout
                # of the panel that rendered; a third failure fails the test.
                broken = page.get_by_text("Click to show javascript error").count() > 0
                if not broken:  # the same failure can leave the panel without its tab bar
                    try:
                        tab(page, 3).wait_for(state="visible", timeout=15_000)
                    except PlaywrightTimeoutError:
                        broken = True
                if attempt == 2 or not broken:
                    break
                warnings.warn(
                    f"JupyterLab ({theme}): a widget view failed to render "
                    f"({' | '.join(self.errors[-3:]) or 'no console error'}); the cell is run "
                    "again",
                    UserWarning,
                    stacklevel=2,
                )
                page.evaluate(
                    "async () => { await jupyterapp.commands.execute("
                    "'notebook:clear-all-cell-outputs'); }"
                )
            self.theme = theme
        if file_browser:
            self.page.evaluate("() => jupyterapp.shell.activateById('filebrowser')")
        else:
            self.page.evaluate("() => jupyterapp.shell.collapseLeft()")
        self.page.evaluate("() => jupyterapp.shell.collapseRight()")
        self.page.wait_for_timeout(400)


@pytest.fixture(scope="module")
def lab(browser, sample, tmp_path_factory):
    require_browser("jupyterlab")
    folder = tmp_path_factory.mktemp("lab")
    root = folder / "notebooks"  # the file browser shows the notebook alone
    root.mkdir()
    panel_notebook(
        root / "panel.ipynb",
        sample.bundle,
        lang="en",
        decisions=folder / "decisions.jsonl",
        export=folder / "actions.csv",
    )
    env = jupyter_env(folder)
    lab_settings(env, theme="JupyterLab Light")
    port = free_port()
    with server(lab_command(root, port), cwd=folder, env=env, port=port, name="lab") as url:
        page = browser.new_page(viewport={"width": 1366, "height": HEIGHT})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?" on reload
        try:
            yield Lab(page, url.split("/lab")[0].rstrip("/") + "/lab/tree/panel.ipynb", env)
        finally:
            page.close()


# ---------------------------------------------------------------------- what the page says
def _customer_id_box(page):
    return page.locator(".cjml-customer-id input").first


def _type_id(page, customer_id) -> None:
    """Type an id into the customer view's id box, as a person would, and press Enter."""
    open_tab(page, 2)
    box = _customer_id_box(page)
    box.fill(str(customer_id))
    box.press("Enter")


def _open_customer(page, customer_id, risk: float) -> None:
    """Open a customer by id; wait until the view shows them (their id and churn risk).

    The risk tells this customer's view from the previous one, whose words may
    hold the id's digits ("45 customers in this stage...").
    """
    from playwright.sync_api import expect

    _type_id(page, customer_id)
    # .cjml-customer-summary: the view's headline (before issue 19 the only element)
    view = page.locator(".cjml-customer-view, .cjml-customer-summary").first
    expect(view).to_contain_text(re.compile(rf"(?<![\d.,]){customer_id}(?![\d.,%])"))
    # "16.0%" in English, "16,0%" in Vietnamese
    shown = re.escape(_pct(risk)).replace(r"\.", "[.,]").replace("%", r"\s?%")
    expect(page.locator(".cjml-risk").first).to_have_text(re.compile(rf"^\s*{shown}\s*$"))


def _counts(page) -> dict[str, int]:
    """The Actions tab's counts by word ("approved", "overridden", "skipped")."""
    open_tab(page, 3)
    text = page.locator(".cjml-actions-count").first.inner_text()
    found = {}
    for word in ("approved", "overridden", "skipped"):
        m = re.search(rf"(\d[\d,]*)\s*{word}|{word}\D{{0,3}}(\d[\d,]*)", text, re.IGNORECASE)
        if m:
            found[word] = int((m.group(1) or m.group(2)).replace(",", ""))
    return found


def _wait_counts(page, expected, timeout: float = 20) -> dict[str, int]:
    """Poll the Actions counts until they include ``expected`` (a dict) or pass it (a
    function of the counts); return them as last seen."""
    done = (
        expected
        if callable(expected)
        else (lambda seen: all(seen.get(k) == v for k, v in expected.items()))
    )
    deadline = time.monotonic() + timeout
    while True:
        seen = _counts(page)
        if done(seen) or time.monotonic() > deadline:
            return seen
        page.wait_for_timeout(300)


def _log(folder: Path) -> list[dict]:
    path = folder / "decisions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _last(records: list[dict], customer_id) -> dict | None:
    mine = [r for r in records if str(r.get("customer_id")) == str(customer_id)]
    return mine[-1] if mine else None


def _select_whatif(page, touchpoint_label: str, risk: str) -> None:
    """Pick a touchpoint in the what-if selector; wait until the view shows its ``risk``.

    The option is known by its touchpoint and the risk after it, so that the
    previous customer's options (still there for a moment after an id is typed)
    are never picked.
    """
    from playwright.sync_api import expect

    select = page.locator(".cjml-whatif select").first
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        # the browser shows the options' spaces as no-break spaces
        labels = [t.replace("\xa0", " ") for t in select.locator("option").all_text_contents()]
        target = [i for i, t in enumerate(labels) if t.startswith(touchpoint_label) and risk in t]
        if target or time.monotonic() > deadline:
            break
        page.wait_for_timeout(200)
    assert target, f"{touchpoint_label!r} at {risk} not among the what-if options {labels!r}"
    select.select_option(index=target[0])
    expect(page.locator(".cjml-whatif-risk").first).to_have_text(risk)


def _check_tabs(page, name: str, width: int, *, no_hscroll: bool) -> list[str]:
    """Photograph every tab at ``width``; the layout problems found, by tab."""
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.wait_for_timeout(300)
    problems = []
    for i, what in enumerate(TABS):
        open_tab(page, i)
        screenshot(page, f"{name}_{what}_{width}")
        problems += [
            f"{what} tab: {p}"
            for p in layout_problems(page, list_tab=what == "list", no_hscroll=no_hscroll)
        ]
    return problems


def _no_problems(problems: list[str], where: str) -> None:
    shown = "\n".join(problems[:40]) + (
        f"\n... and {len(problems) - 40} more" if len(problems) > 40 else ""
    )
    assert not problems, f"{where}: {len(problems)} layout problems:\n{shown}"


# ---------------------------------------------------------------------- the app, in English
def test_fresh_start_approves_nothing(app):
    page, folder = app
    counts = _wait_counts(page, {"approved": 0, "overridden": 0, "skipped": 0}, timeout=3)
    assert counts == {"approved": 0, "overridden": 0, "skipped": 0}, counts
    assert _log(folder) == [], "the page load wrote decisions"
    assert not list(folder.glob("*actions*.csv")), "the page load wrote an export"


def test_what_if_changes_the_risk_on_screen(app, sample):
    from playwright.sync_api import expect

    page, _ = app
    assert sample.start_risk != sample.other_risk
    _type_id(page, sample.approve)
    risk = page.locator(".cjml-whatif-risk")
    expect(risk).to_have_text(sample.start_risk)
    _select_whatif(page, sample.other_label, sample.other_risk)
    expect(risk).not_to_have_text(sample.start_risk)
    expect(page.locator(".cjml-error")).to_be_hidden()
    screenshot(page, "app_customer_whatif")


def test_decisions_survive_a_reload(app, sample):
    from playwright.sync_api import expect

    page, folder = app
    _open_customer(page, sample.approve, sample.risk[sample.approve])
    page.locator(".cjml-approve:visible").first.click()
    _open_customer(page, sample.override, sample.risk[sample.override])
    _select_whatif(page, sample.override_label, sample.override_risk)
    page.locator(".cjml-override:visible").first.click()
    before = _wait_counts(page, {"approved": 1, "overridden": 1})
    assert (before["approved"], before["overridden"]) == (1, 1), before
    records = _log(folder)
    assert _last(records, sample.approve)["decision"] == "approved"
    last = _last(records, sample.override)
    assert (last["decision"], last["touchpoint"], last["override"]) == (
        "overridden",
        sample.override_touchpoint,
        True,
    )

    _load(page)
    after = _wait_counts(page, {"approved": 1, "overridden": 1})
    assert (after["approved"], after["overridden"]) == (1, 1), after
    assert len(_log(folder)) == len(records), "the reload wrote decisions"
    # the list shows the same two decisions (every other row has the same "none" text)
    open_tab(page, 1)
    cells = page.locator(".cjml-decision:visible")
    expect(cells.first).to_be_visible()
    texts = [t.strip() for t in cells.all_inner_texts()]
    none = collections.Counter(texts).most_common(1)[0][0]
    # the decided customers on the first page (the top customer always is)
    shown = len({sample.approve, sample.override} & sample.first_page)
    assert sample.approve in sample.first_page
    assert len([t for t in texts if t != none]) == shown, texts


def test_bulk_approval_leaves_an_override_alone(app, sample):
    from playwright.sync_api import expect

    page, folder = app
    open_tab(page, 1)
    page.locator(".cjml-approve-matching").first.click()
    confirm = page.locator(".cjml-confirm:visible").first
    expect(confirm).to_be_visible()
    text = confirm.inner_text()
    assert re.search(r"\b2\b", text) and "already" in text.lower(), (
        f"the confirmation does not say that the 2 decisions made stay: {text!r}"
    )
    n_before = len(_log(folder))
    confirm.locator(".cjml-confirm-yes").click()
    expect(page.locator(".cjml-confirm:visible")).to_have_count(0)
    counts = _wait_counts(page, lambda seen: seen.get("approved", 0) > 1)
    assert counts["overridden"] == 1 and counts["approved"] > 1, counts
    records = _log(folder)
    added = records[n_before:]
    assert added, "the bulk approval wrote no decisions"
    assert _last(records, sample.override)["touchpoint"] == sample.override_touchpoint
    assert _last(records, sample.override)["decision"] == "overridden"
    touched = {str(r["customer_id"]) for r in added}
    assert str(sample.override) not in touched and str(sample.approve) not in touched
    approved_left_out = touched & {str(c) for c in sample.left_out}
    assert not approved_left_out, (
        "bulk approval approved uncertain or likely-gone customers: "
        f"{sorted(approved_left_out)[:10]}"
    )


def test_unknown_id_clears_the_customer_view(app, sample):
    from playwright.sync_api import expect

    page, _ = app
    _open_customer(page, sample.approve, sample.risk[sample.approve])
    _type_id(page, UNKNOWN_ID)
    expect(page.locator(".cjml-approve").first).to_be_disabled()
    expect(page.locator(".cjml-override").first).to_be_disabled()
    message = page.locator(".cjml-notice:visible, .cjml-error:visible", has_text=UNKNOWN_ID)
    expect(message.first).to_be_visible()
    view = page.locator(".cjml-customer-view").first
    if view.is_visible():
        expect(view).not_to_contain_text(
            re.compile(rf"(?<![\d.,]){re.escape(str(sample.approve))}(?![\d.,%])")
        )


def test_inactive_customer_is_labelled_and_cannot_be_approved(app, sample):
    from playwright.sync_api import expect

    page, _ = app
    _type_id(page, sample.inactive)
    expect(page.locator(".cjml-inactive").first).to_be_visible()
    expect(page.locator(".cjml-approve").first).to_be_disabled()


def test_approving_a_risk_raising_what_if_asks_first(app, sample):
    from playwright.sync_api import expect

    page, folder = app
    _open_customer(page, sample.raising, sample.risk[sample.raising])
    _select_whatif(page, sample.raising_label, sample.raising_risk)
    page.locator(".cjml-override:visible").first.click()
    confirm = page.locator(".cjml-confirm:visible").first
    expect(confirm).to_contain_text(re.compile(r"rais", re.IGNORECASE))
    confirm.locator(".cjml-confirm-no").click()
    expect(page.locator(".cjml-confirm:visible")).to_have_count(0)
    last = _last(_log(folder), sample.raising)
    assert last is None or last["touchpoint"] != sample.raising_touchpoint, last


@pytest.mark.parametrize("width", WIDTHS)
def test_app_layout(app, sample, width):
    page, _ = app
    _open_customer(page, sample.override, sample.risk[sample.override])
    problems = _check_tabs(page, "app", width, no_hscroll=width >= 1366)
    _no_problems(problems, f"the app at {width} px")


# ---------------------------------------------------------------------- the app, in Vietnamese
def test_vietnamese_page(app_vi):
    page, _ = app_vi
    titles = [tab(page, i).inner_text().strip() for i in range(4)]
    assert not set(titles) & ENGLISH, f"English tab titles on the vi page: {titles}"
    panel = page.locator(".cjml-panel").first
    open_tab(page, 1)
    assert "Phê duyệt" in panel.inner_text(), "no 'Phê duyệt' (Approve) on the vi list"
    buttons = [b.strip() for b in page.locator(".cjml-panel button:visible").all_inner_texts()]
    english = [b for b in buttons if b in ENGLISH or b.startswith(("Approve", "Skip", "Clear"))]
    assert not english, f"English buttons on the vi page: {english}"
    # Babel's Vietnamese percentages: a decimal comma
    assert re.search(r"\d,\d\s?%", panel.inner_text()), "no vi-formatted percentage on the list"


def test_vietnamese_layout(app_vi, sample):
    page, _ = app_vi
    _open_customer(page, sample.override, sample.risk[sample.override])
    _no_problems(_check_tabs(page, "app_vi", 1366, no_hscroll=True), "the vi app at 1366 px")


# ---------------------------------------------------------------------- JupyterLab
LAB_VIEWS = [
    *(("light", w, False) for w in WIDTHS),
    ("light", 1366, True),
    *(("dark", w, False) for w in WIDTHS),
    ("dark", 1366, True),
]


@pytest.mark.parametrize(("theme", "width", "file_browser"), LAB_VIEWS)
def test_jupyterlab_layout(lab, sample, theme, width, file_browser):
    lab.show(theme, file_browser=file_browser)
    page = lab.page
    page.set_viewport_size({"width": width, "height": HEIGHT})
    _open_customer(page, sample.override, sample.risk[sample.override])
    name = f"lab_{theme}" + ("_filebrowser" if file_browser else "")
    problems = _check_tabs(page, name, width, no_hscroll=width >= 1366)
    panel_width = page.locator(".cjml-panel").first.bounding_box()["width"]
    where = f"JupyterLab ({theme}) at {width} px" + (
        f", file browser open (panel {panel_width:.0f} px)" if file_browser else ""
    )
    if problems and lab.errors:
        problems.append("the page's JavaScript errors: " + " | ".join(lab.errors[-5:]))
    _no_problems(problems, where)
    assert ARTIFACTS.joinpath(f"{name}_list_{width}.png").exists()


# ---------------------------------------------------------------------- the check itself
_BROKEN_PAGE = """
<div class='cjml-panel' style='width: 600px; font: 14px sans-serif'>
  <button style='width: 40px; overflow: hidden; text-overflow: ellipsis;
                 white-space: nowrap'>Approve selected</button>
  <button style='width: 200px'>Fits</button>
  <div class='cjml-list-header' style='display: grid; grid-template-columns: 100px 100px'>
    <div class='cjml-cell' style='padding-left: 9px'>Customer</div>
    <div class='cjml-cell'>Risk</div>
  </div>
  <div class='cjml-row' style='display: grid; grid-template-columns: 100px 100px'>
    <div class='cjml-cell'>2541</div><div class='cjml-cell'>18.4%</div>
  </div>
  <div style='width: 300px; overflow-x: auto'><div style='width: 900px'>Wide table</div></div>
</div>
"""


def test_the_layout_check_names_what_is_broken(browser):
    """The check finds a cut-off button, a header away from its column (by a padding: the
    cells' boxes line up, their text does not) and a box that scrolls sideways, by their
    text, and nothing else."""
    page = browser.new_page(viewport={"width": 1366, "height": HEIGHT})
    try:
        page.set_content(_BROKEN_PAGE)
        problems = layout_problems(page, list_tab=True, no_hscroll=True)
        assert len(problems) == 3, problems
        cut, away, scrolls = problems
        assert cut.startswith("text cut off") and '"Approve selected"' in cut
        assert away.startswith('header "Customer"') and '"2541"' in away
        assert scrolls.startswith("a box scrolls sideways") and '"Wide table"' in scrolls
        assert "Fits" not in "".join(problems)
        # the same page, repaired, passes
        page.evaluate(
            "() => { const [b] = document.querySelectorAll('button'); b.style.width = 'auto';"
            " document.querySelector('.cjml-list-header .cjml-cell').style.paddingLeft = '0';"
            " document.querySelector('[style*=\"900px\"]').style.width = '100px'; }"
        )
        assert layout_problems(page, list_tab=True, no_hscroll=True) == []
    finally:
        page.close()
