"""``cjml app`` and ``cjml.panel.serve``: the marketer's app served alone by Voilà.

The checks of the inputs run without a server. The server tests start Voilà on
the sample (with the small bundle of ``_panel_bundle``) on a free port; they are
skipped where Voilà is not installed, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cjml.cli import main
from cjml.panel import _serve, serve

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "data" / "sample_events.parquet"


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must have it: .ci/run installs the dev extra.")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_voila() -> bool:
    import importlib.util

    return importlib.util.find_spec("voila") is not None


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A bundle and an events file that exist (their content is not read without a server)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.cjml").write_bytes(b"not read here")
    (tmp_path / "events.csv").write_text("customer_id,timestamp,touchpoint\n", encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------- refused inputs
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["missing.cjml", "events.csv"], "the model bundle missing.cjml was not found"),
        (["model.cjml", "missing.parquet"], "the events missing.parquet was not found"),
        (
            ["model.cjml", "events.csv", "--scores", "old.parquet"],
            "the scores file old.parquet was not found",
        ),
        (
            ["model.cjml", "events.csv", "--export-folder", "exports"],
            "the export folder exports does not exist or is not a folder",
        ),
        (
            ["model.cjml", "events.csv", "--decisions", "nowhere/decisions.jsonl"],
            "the folder of the decision log nowhere/decisions.jsonl does not exist",
        ),
        (
            ["model.cjml", "events.csv", "--currency", "EUROS"],
            "--currency EUROS is not an ISO 4217 currency code",
        ),
    ],
)
def test_the_app_refuses_what_it_cannot_serve_in_one_line(files, capsys, argv, expected):
    assert main(["app", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err, err
    assert len(err.strip().splitlines()) == 1
    assert "=..." not in err and "currency=" not in err  # the option's command-line words only
    assert not list(files.glob("*.jsonl"))  # nothing written


def test_a_missing_file_names_the_option_and_the_folder_it_was_looked_for_in(files, capsys):
    assert main(["app", "model.cjml", "events.csv", "--scores", "old.parquet"]) == 1
    err = capsys.readouterr().err
    assert "--scores" in err and str(files) in err


def test_a_port_that_is_not_one_is_a_usage_error(files, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["app", "model.cjml", "events.csv", "--port", "70000"])
    assert exc.value.code == 2
    assert "--port: expected a port from 1024 to 65535, got 70000" in capsys.readouterr().err


def test_the_language_is_one_the_app_speaks(files, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["app", "model.cjml", "events.csv", "--lang", "fr"])
    assert exc.value.code == 2 and "invalid choice: 'fr'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--lang fr .* use one of en, vi"):
        serve("model.cjml", "events.csv", lang="fr")


def test_without_voila_the_app_says_how_to_install_it(files, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "voila" else real(name, *a)
    )
    assert main(["app", "model.cjml", "events.csv"]) == 1
    assert 'pip install "cjml[panel]"' in capsys.readouterr().err


def test_a_port_in_use_is_refused_with_another_to_try(files, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["app", "model.cjml", "events.csv", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"port {port} is already in use on 127.0.0.1" in err
    assert f"--port {port + 1}" in err and "port=" not in err


def test_a_network_address_is_served_with_a_warning(files, capsys):
    with socket.socket() as busy:  # taken, so that no server starts
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.warns(UserWarning, match="anyone who can reach this computer"):
            with pytest.raises(_serve.AppServerError, match="already in use"):
                serve("model.cjml", "events.csv", host="0.0.0.0", port=port)
        # the command line prints it at once, in its own words, before the error
        argv = ["app", "model.cjml", "events.csv", "--host", "0.0.0.0", "--port", str(port)]
        assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: --host 0.0.0.0 serves the app to the network")
    assert "host=" not in err[0] and err[1].startswith("error: port")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("::", False)],
)
def test_loopback_addresses_are_this_computer_only(host, loopback):
    assert _serve._is_loopback(host) is loopback


# --------------------------------------------------------------------------- the notebook
def test_the_notebook_passes_the_arguments_as_literals_and_runs_no_user_text(tmp_path, monkeypatch):
    odd = tmp_path / "it's \"odd\"; import os; os.remove('x')"
    odd.mkdir()
    monkeypatch.chdir(odd)
    (odd / "m.cjml").write_bytes(b"")
    (odd / "e.csv").write_text("", encoding="utf-8")
    (odd / "out").mkdir()
    arguments = _serve._panel_arguments(
        "m.cjml",
        "e.csv",
        None,
        lang="vi",
        currency="eur",
        decisions="log.jsonl",
        export_folder="out",
        reach_threshold=0.1,
    )
    assert arguments == {
        "bundle": str(odd / "m.cjml"),
        "events": str(odd / "e.csv"),
        "lang": "vi",
        "currency": "EUR",
        "decisions": str(odd / "log.jsonl"),
        "export_path": str(odd / "out"),
        "reach_threshold": 0.1,
    }
    folder = tmp_path / "served"
    folder.mkdir()
    path = _serve._write_notebook(folder, arguments)
    import nbformat

    (cell,) = nbformat.read(path, as_version=4).cells
    tree = ast.parse(cell.source)
    # the paths are string literals: no call but cjml.panel(**{...}) and the module's own
    (chdir,) = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "_os.chdir"
    ]
    assert ast.literal_eval(chdir.args[0]) == str(odd)
    (call,) = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "cjml.panel"
    ]
    assert ast.literal_eval(call.keywords[0].value) == arguments
    names = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert "os.remove" not in names
    # the defaults are left to cjml.panel
    assert _serve._panel_arguments(
        "m.cjml",
        "e.csv",
        None,
        lang="en",
        currency=None,
        decisions="auto",
        export_folder=None,
        reach_threshold=0.05,
    ) == {"bundle": str(odd / "m.cjml"), "events": str(odd / "e.csv")}


# --------------------------------------------------------------------------- served
@pytest.fixture
def bundle():
    _require(_has_voila(), "voila is not installed (pip install -e '.[dev]').")
    sys.path.insert(0, str(Path(__file__).parent))
    from _panel_bundle import sample_bundle_path

    return sample_bundle_path()


def _assert_port_free(port: int) -> None:
    """Nothing listens on the port, and a new server could (past the closed connections'
    TIME_WAIT, as a server's SO_REUSEADDR allows)."""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert _serve._port_free("127.0.0.1", port)


def _kernels_of(folder: Path) -> list[int]:
    """Processes (Voilà and its kernels) started for the served folder, found by their
    environment (JUPYTER_PATH names the folder)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in env:
            found.append(int(proc.name))
    return found


def test_serve_without_blocking_serves_the_app_alone_and_stops_cleanly(
    bundle, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    port = _free_port()
    server = serve(bundle, EVENTS, port=port, block=False, hint=False)
    assert server is not None
    try:
        assert server.url == f"http://127.0.0.1:{port}/" and server.running
        with urllib.request.urlopen(server.url, timeout=240) as response:
            assert response.status == 200
            page = response.read().decode("utf-8")
        assert "<html" in page.lower()
        assert "MarketerPanel" in page  # the panel's widget is the page's output
        assert "import cjml" not in page and "cjml.panel(" not in page  # never the code
        assert "cjml app: error" not in page
        assert not list(tmp_path.iterdir())  # a page load approves, exports, writes nothing
        if Path("/proc").exists():
            assert len(_kernels_of(server.folder)) >= 2  # Voilà and the page's kernel
    finally:
        server.stop()
    assert not server.running and not server.folder.exists()
    _assert_port_free(port)
    if Path("/proc").exists():
        assert _kernels_of(server.folder) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_the_app_cleanly(bundle, tmp_path, signum):
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cjml", "app", str(bundle), str(EVENTS), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once Voilà listens
        assert first.strip() == (
            f"cjml app: serving the marketer's app at http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        ), first + proc.stderr.read() if proc.stderr else ""
        (folder,) = temp.glob("cjml-app-*")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=240) as response:
            assert response.status == 200
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert out.strip().endswith("cjml app: stopped")
    assert not folder.exists() and not list(temp.glob("cjml-app-*"))
    if Path("/proc").exists():
        assert _kernels_of(folder) == []
    _assert_port_free(port)


def test_an_address_this_computer_lacks_is_refused_as_such(files, capsys):
    # 192.0.2.1 is reserved for documentation: no interface has it
    argv = ["app", "model.cjml", "events.csv", "--host", "192.0.2.1", "--port", "8866"]
    assert main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: --host 192.0.2.1 serves the app to the network")
    assert err[1].startswith("error: cannot listen on 192.0.2.1 port 8866 (")
    assert err[1].endswith("check --host, or leave it out to serve this computer only")
    assert "already in use" not in err[1]


def test_a_server_that_stops_while_starting_is_reported_and_leaves_nothing(files, monkeypatch):
    _require(_has_voila(), "voila is not installed (pip install -e '.[dev]').")
    before = set(Path(_serve.tempfile.gettempdir()).glob("cjml-app-*"))
    # a Voilà option it refuses: the child ends before it listens
    real = _serve.subprocess.Popen

    def popen(command, **kwargs):
        return real([*command, "--Voila.port=not-a-port"], **kwargs)

    monkeypatch.setattr(_serve.subprocess, "Popen", popen)
    with pytest.raises(_serve.AppServerError, match=r"Voilà stopped before serving the app"):
        serve("model.cjml", "events.csv", port=_free_port(), block=False)
    assert set(Path(_serve.tempfile.gettempdir()).glob("cjml-app-*")) == before


def test_the_app_passes_how_to_read_the_events_and_only_what_was_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.cjml").write_bytes(b"")
    (tmp_path / "e.csv").write_text("", encoding="utf-8")
    common = dict(
        lang="en", currency=None, decisions="auto", export_folder=None, reach_threshold=0.05
    )
    arguments = _serve._panel_arguments(
        "m.cjml",
        "e.csv",
        None,
        **common,
        read_options={
            "columns": "customer_id=user_id,touchpoint=event",
            "timezone": None,
            "timestamp_unit": "s",
            "drop_duplicates": True,
            "missing_ids": None,
            "encoding": "cp1252",
            "on_error": "quarantine",
        },
    )
    assert arguments == {
        "bundle": str(tmp_path / "m.cjml"),
        "events": str(tmp_path / "e.csv"),
        "columns": "customer_id=user_id,touchpoint=event",
        "timestamp_unit": "s",
        "drop_duplicates": True,
        "encoding": "cp1252",
        "on_error": "quarantine",
    }
    default = _serve._panel_arguments(
        "m.cjml", "e.csv", None, **common, read_options={"on_error": "raise"}
    )
    assert "on_error" not in default  # the default is not written into the notebook
    # the command line hands them over; the timezone stays the bundle's unless given
    from cjml.cli._main import build_parser

    args = build_parser().parse_args(
        ["app", "m.cjml", "e.csv", "--columns", "customer_id=user_id", "--drop-duplicates"]
    )
    assert (args.columns, args.drop_duplicates, args.timezone) == (
        "customer_id=user_id",
        True,
        None,
    )
