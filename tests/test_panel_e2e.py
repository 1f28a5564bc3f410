"""End to end: the panel served by Voilà, used in headless Chromium through Playwright.

A notebook that opens the panel on the sample (with a small bundle trained on it)
is served by Voilà on 127.0.0.1; the test sorts the at-risk list, opens the first
customer, changes the what-if touchpoint and checks that the risk on screen
changes to the re-scored value. Screenshots go to ``test-artifacts/``.

It needs Debian's ``chromium`` (``/usr/bin/chromium``; Playwright's own browser
download does not work here): ``.ci/run`` installs it, and on a machine without it
the test is skipped (in CI, where ``CI`` is set, it fails instead).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 60_000


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must have it: .ci/run installs chromium and the dev extra.")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path: Path, bundle: Path, export: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import cjml\n"
            "from cjml.datasets import load_sample\n"
            f"app = cjml.panel({str(bundle)!r}, load_sample(), export_path={str(export)!r},\n"
            "                 user='e2e')\n"
            "app"
        )
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def voila_url(tmp_path):
    # checked before anything slow starts
    _require(
        CHROMIUM.exists(),
        f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium).",
    )
    _require(_has_module("playwright"), "playwright is not installed (pip install -e '.[dev]').")
    _require(_has_module("voila"), "voila is not installed (pip install -e '.[dev]').")
    from _panel_bundle import sample_bundle_path

    bundle = sample_bundle_path()
    _notebook(tmp_path / "panel.ipynb", bundle, tmp_path / "actions.csv")
    port = _free_port()
    # The kernel must be this interpreter (cjml is installed in it), whatever "python3"
    # kernel spec the machine has elsewhere: JUPYTER_PATH is searched first.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (cjml tests)",
                "language": "python",
            }
        )
    )
    env = {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLBACKEND": "Agg",
        "JUPYTER_PATH": str(tmp_path / "jupyter"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = (tmp_path / "voila.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "panel.ipynb",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--show_tracebacks=True",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("Voilà did not start:\n" + (tmp_path / "voila.log").read_text())
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/", tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _expected(bundle_path):
    """The customer the list shows first when sorted by expected reduction, and their
    what-if options, computed here with the same functions."""
    from cjml.datasets import load_sample
    from cjml.panel import PanelData, label

    data = PanelData.from_inputs(bundle_path, load_sample(), report=None)
    first = data.customers.query(sort_by="expected_risk_reduction", page_size=1).rows.iloc[0]
    profile = data.profile(first["customer_id"])
    start = profile.recommendations["touchpoint"].iloc[0]
    options = profile.options.set_index("touchpoint")
    # the touchpoint whose re-scored risk differs most from the start
    other = (options["expected_risk"] - options.loc[start, "expected_risk"]).abs().idxmax()
    pct = lambda p: f"{100 * p:.1f}%"  # noqa: E731
    return (
        first["customer_id"],
        pct(options.loc[start, "expected_risk"]),
        label(other),
        pct(options.loc[other, "expected_risk"]),
    )


def test_panel_in_voila_what_if_changes_the_risk_on_screen(voila_url):
    from _panel_bundle import sample_bundle_path
    from playwright.sync_api import expect, sync_playwright

    url, folder = voila_url
    customer, start_risk, other_label, other_risk = _expected(sample_bundle_path())
    assert start_risk != other_risk
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url, wait_until="domcontentloaded")
            expect(page.locator(".cjml-panel")).to_be_visible()
            expect(page.get_by_text("Funnel and drop-off per stage")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "panel_overview.png"), full_page=True)

            page.get_by_text("At-risk list", exact=True).click()
            page.locator(".widget-dropdown", has_text="Sort by").locator("select").select_option(
                label="Expected reduction, largest first"
            )
            first_row = page.locator(".cjml-row:not(.cjml-head)").first
            expect(first_row.locator("div").first).to_have_text(str(customer))
            page.screenshot(path=str(ARTIFACTS / "panel_list.png"))
            page.locator("button.cjml-open:visible").first.click()

            risk = page.locator(".cjml-whatif-risk")
            expect(risk).to_have_text(start_risk)
            expect(page.locator(".cjml-customer-summary")).to_contain_text(f"Customer {customer}")
            whatif = page.locator(".cjml-whatif select")
            # the browser shows the options' spaces as no-break spaces
            labels = [t.replace("\xa0", " ") for t in whatif.locator("option").all_text_contents()]
            target = [i for i, t in enumerate(labels) if t.startswith(other_label + ": risk")]
            assert target, f"{other_label!r} not among the what-if options {labels!r}"
            whatif.select_option(index=target[0])
            expect(risk).not_to_have_text(start_risk)
            expect(risk).to_have_text(other_risk)
            expect(page.locator(".cjml-error")).to_be_hidden()
            # Voilà scrolls inside its own container: a tall viewport shows the whole view
            page.set_viewport_size({"width": 1400, "height": 2400})
            page.screenshot(path=str(ARTIFACTS / "panel_customer_whatif.png"))
        finally:
            browser.close()
