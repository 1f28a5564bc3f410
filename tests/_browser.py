"""Helpers of the browser tests: servers (Voilà, ``cjml app``, JupyterLab), Chromium, layout checks.

The panel is served three ways: as a web page of its own (``cjml app``, or until
that command exists a one-cell notebook served by Voilà), and in a real
JupyterLab page. :func:`layout_problems` runs one JavaScript function over the
panel in the page and returns what a person would see as broken (text cut
off, a header away from its column, a horizontal scroll bar), in words.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
#: The CI artefacts (screenshots); git-ignored, kept by .ci/run's caller.
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 20_000
#: How long a page may take to show the panel: a new kernel scores the sample first.
PANEL_TIMEOUT_MS = 150_000
WIDTHS = (1024, 1366, 1920)
HEIGHT = 1000


def require(condition: bool, reason: str) -> None:
    """Skip without ``condition`` on a developer's machine; fail in CI (``CI`` set)."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must have it: .ci/run installs chromium and the dev extra.")
    pytest.skip(reason)


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported by this interpreter."""
    import importlib.util

    return importlib.util.find_spec(name) is not None


def require_browser(*modules: str) -> None:
    """Chromium, Playwright and ``modules`` are there (else skip, or fail in CI)."""
    require(
        CHROMIUM.exists(),
        f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium).",
    )
    for name in ("playwright", *modules):
        require(has_module(name), f"{name} is not installed (pip install -e '.[dev]').")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.lru_cache(maxsize=1)
def jupyter_env(folder: Path) -> dict[str, str]:
    """The environment of a Jupyter server whose kernels run this interpreter.

    The kernel must be this interpreter (cjml is installed in it), whatever
    "python3" kernel spec the machine has elsewhere: ``JUPYTER_PATH`` is searched
    first. Configuration, runtime files and JupyterLab's settings and workspaces
    live in ``folder``, away from the user's own.
    """
    spec = folder / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (cjml tests)",
                "language": "python",
            }
        )
    )
    return {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLBACKEND": "Agg",
        "JUPYTER_PATH": str(folder / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(folder / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(folder / "jupyter-runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(folder / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / "lab-workspaces"),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if p
        ),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def panel_notebook(path: Path, bundle: Path, *, lang: str, decisions: Path, export: Path) -> None:
    """A one-cell notebook that opens the panel on the sample (for JupyterLab)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import cjml\n"
            "from cjml.datasets import load_sample\n"
            f"app = cjml.panel({str(bundle)!r}, load_sample(), export_path={str(export)!r},\n"
            f"                 user='e2e', lang={lang!r}, decisions={str(decisions)!r})\n"
            "app"
        )
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def cjml_app_command(
    bundle: Path, port: int, *, lang: str, decisions: Path, export_folder: Path
) -> list[str]:
    """``cjml app`` on the sample (issue 19, Deliver 1; the serve engineer's command)."""
    from cjml.datasets import sample_path

    return [
        sys.executable,
        "-m",
        "cjml",
        "app",
        str(bundle),
        str(sample_path("events")),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--lang",
        lang,
        "--decisions",
        str(decisions),
        "--export-folder",
        str(export_folder),
    ]


def lab_command(root: Path, port: int) -> list[str]:
    """JupyterLab without a token, ``window.jupyterapp`` exposed for the test's commands."""
    return [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.allow_root=True",  # CI containers run as root
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
    ]


def lab_settings(env: dict[str, str], *, theme: str) -> None:
    """Write JupyterLab's theme (and no news or update toasts) into its settings dir."""
    folder = Path(env["JUPYTERLAB_SETTINGS_DIR"])
    apputils = folder / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@contextlib.contextmanager
def server(
    command: list[str], *, cwd: Path, env: dict[str, str], port: int, name: str
) -> Iterator[str]:
    """Run a web server until the block ends; yield the URL it printed (else its root).

    The server's output goes to ``cwd / f"{name}.log"``, shown when it does not
    start. It is stopped (terminate, then kill) however the block ends.
    """
    log_path = cwd / f"{name}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    root = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{name} did not start:\n" + log_path.read_text())
                time.sleep(0.2)
        # a printed URL on this port (cjml app prints one), else the server's root
        urls = re.findall(rf"http://(?:127\.0\.0\.1|localhost):{port}/\S*", log_path.read_text())
        yield urls[0].replace("localhost", "127.0.0.1") if urls else root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# ---------------------------------------------------------------------- pages
def tab(page, index: int):
    """The panel's tab ``index`` (0 Overview, 1 At-risk list, 2 Customer, 3 Actions)."""
    return page.locator(".cjml-panel .lm-TabBar-tab").nth(index)


def open_tab(page, index: int) -> None:
    """Show the panel's tab ``index``."""
    tab(page, index).click()
    page.wait_for_timeout(150)  # the widgets lay out


def screenshot(page, name: str) -> Path:
    """Save the page with the whole panel in view as ``test-artifacts/NAME.png``.

    The page scrolls inside its own containers (Voilà, JupyterLab), so the
    viewport is made as tall as the panel (width unchanged) for the picture.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size or {"width": 1366, "height": HEIGHT}
    tall = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('.cjml-panel')].map(e => "
        "e.getBoundingClientRect().bottom + e.scrollHeight - e.clientHeight), 0)"
    )
    height = int(min(6000, max(size["height"], tall + 120)))
    path = ARTIFACTS / f"{name}.png"
    try:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


# The layout check, run in the page. Everything is measured in the browser: what the
# person sees is the laid-out boxes, not the widgets' Python values.
LAYOUT_JS = r"""
(opts) => {
  const out = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const words = (el) => {
    const t = (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ');
    const named = t || el.title || el.getAttribute('aria-label') || '';
    return JSON.stringify(named.slice(0, 70)) + ' (' + (el.className || el.tagName).toString()
      .split(' ').filter(c => c.startsWith('cjml-') || c.startsWith('jupyter-')).join('.') + ')';
  };
  const panels = [...document.querySelectorAll('.cjml-panel')].filter(visible);
  if (!panels.length) return ['no visible .cjml-panel on the page'];
  // where a cell's content is drawn (padding and alignment included); the box if empty
  const content = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const r = range.getBoundingClientRect();
    return r.width > 0 ? r : el.getBoundingClientRect();
  };
  const hidesOverflow = (cs) => cs.overflowX !== 'visible' || cs.textOverflow === 'ellipsis';
  for (const panel of panels) {
    const pr = panel.getBoundingClientRect();
    const sel = '.cjml-cell, .cjml-list-header > *, button, .cjml-customer-headline, '
      + '.cjml-customer-summary, .cjml-risk';
    for (const el of panel.querySelectorAll(sel)) {
      if (!visible(el)) continue;
      const cs = getComputedStyle(el);
      if (hidesOverflow(cs) && el.scrollWidth > el.clientWidth + 1) {
        out.push(`text cut off (${el.scrollWidth} px wide in ${el.clientWidth} px): ${words(el)}`);
      }
      const r = el.getBoundingClientRect();
      const box = el.parentElement && el.parentElement.closest(
        '.cjml-cell, .cjml-row, .cjml-list-header');
      if (box && visible(box)) {
        const b = box.getBoundingClientRect();
        if (r.left < b.left - 1 || r.right > b.right + 1) {
          out.push(`past its ${box.classList.contains('cjml-cell') ? 'cell' : 'row'} `
            + `(${Math.round(r.left)}-${Math.round(r.right)} px in ${Math.round(b.left)}-`
            + `${Math.round(b.right)} px): ${words(el)}`);
        }
      }
      if (r.right > pr.right + 1 || r.left < pr.left - 1 || r.right > innerWidth + 1) {
        out.push(`outside the panel or the window (${Math.round(r.left)}-${Math.round(r.right)}`
          + ` px; panel ${Math.round(pr.left)}-${Math.round(pr.right)} px, window ${innerWidth}`
          + ` px): ${words(el)}`);
      }
    }
    if (opts.list) {
      const header = [...panel.querySelectorAll('.cjml-list-header')].find(visible);
      const rows = [...panel.querySelectorAll('.cjml-row')].filter(
        (r) => visible(r) && !r.closest('.cjml-list-header')
          && !r.querySelector('.cjml-list-header'));
      if (!header) out.push('the at-risk list has no visible .cjml-list-header');
      if (!rows.length) out.push('the at-risk list has no visible .cjml-row');
      if (header && rows.length) {
        const inHeader = [...header.querySelectorAll('.cjml-cell')].filter(visible);
        const heads = inHeader.length ? inHeader : [...header.children].filter(visible);
        // per column: the first row whose value is away from the header, and how many are
        const away = heads.map(() => ({first: null, n: 0}));
        for (const row of rows) {
          const cells = [...row.querySelectorAll('.cjml-cell')].filter(visible);
          if (heads.length !== cells.length) {
            out.push(`the list header has ${heads.length} cells and a row `
              + `${cells.length}: ${heads.map(words).join(', ')}`);
            break;
          }
          heads.forEach((h, i) => {
            // a column is aligned on the left edges of header and value, or (numbers
            // set right) on the right edges
            const hb = content(h), cb = content(cells[i]);
            const hx = hb.left, cx = cb.left;
            if (Math.abs(hx - cx) > 2 && Math.abs(hb.right - cb.right) > 2) {
              away[i].n += 1;
              away[i].first = away[i].first || `header ${words(h)} starts at ${Math.round(hx)}`
                + ` px, its column's value ${words(cells[i])} at ${Math.round(cx)} px`;
            }
          });
        }
        away.forEach((a) => {
          if (a.n) out.push(a.first + (a.n > 1 ? ` (and ${a.n - 1} more rows)` : ''));
        });
      }
    }
    if (opts.noHScroll) {
      const se = document.scrollingElement;
      if (se.scrollWidth > innerWidth) {
        out.push(`the page scrolls sideways: ${se.scrollWidth} px wide in a `
          + `${innerWidth} px window`);
      }
      const boxes = [...panel.querySelectorAll('*')];
      for (let a = panel; a; a = a.parentElement) boxes.push(a);
      for (const el of boxes) {
        const form = ['SELECT', 'INPUT', 'TEXTAREA', 'OPTION'].includes(el.tagName);
        if (form || !visible(el)) continue;
        const ox = getComputedStyle(el).overflowX;
        if ((ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
          out.push(`a box scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px): `
            + `${el.tagName.toLowerCase()}.${[...el.classList].slice(0, 3).join('.')} `
            + words(el));
        }
      }
    }
  }
  return [...new Set(out)];
}
"""


def layout_problems(page, *, list_tab: bool = False, no_hscroll: bool = False) -> list[str]:
    """What is broken in the panel's layout as shown now, in words (empty: nothing).

    Parameters
    ----------
    page : playwright Page
        A page showing the panel.
    list_tab : bool, default False
        The at-risk list is shown: check its header and its columns line up.
    no_hscroll : bool, default False
        Also check that neither the page nor any box of the panel (or around
        it) scrolls sideways.

    Returns
    -------
    list of str
        One line per broken element, naming its text.
    """
    return list(page.evaluate(LAYOUT_JS, {"list": list_tab, "noHScroll": no_hscroll}))
