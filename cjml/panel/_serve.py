"""The marketer's app as a web page of its own: the panel alone, served by Voilà.

:func:`serve` writes a one-cell notebook that calls :func:`cjml.panel` into a
private temporary folder and runs Voilà on it in a child process. Voilà shows a
notebook's outputs only, so the page is the panel: no code, no prose. The
child runs in its own session, so a Ctrl-C in the terminal reaches this process
only, which then stops Voilà with SIGTERM (Voilà shuts its kernels down on it)
and removes the folder.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib.util
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cjml.exceptions import CjmlError, InputFileError
from cjml.i18n import LANGUAGES
from cjml.i18n import gettext as _
from cjml.io._csv import encoding_name
from cjml.panel._data._actions import control_share

__all__ = ["AppServer", "serve"]

#: The port Voilà serves on unless told otherwise (Voilà's own default).
DEFAULT_PORT = 8866
#: The kernel spec the served notebook names; written into the private folder so that the
#: kernel is this interpreter, whatever "python3" kernel the machine has elsewhere.
_KERNEL = "cjml-app"
_LOG = "voila.log"
_NOTEBOOK = "cjml app.ipynb"  # the page title is the notebook's name


class AppServerError(CjmlError, RuntimeError):
    """The app could not be served (the port is taken, Voilà is missing or stopped)."""


class AppServer:
    """A running ``cjml app``: its address, and how to stop it.

    Returned by ``serve(..., block=False)``; :meth:`stop` ends Voilà and its
    kernels and removes the private folder (also on leaving a ``with`` block,
    and when the Python process exits).

    Parameters
    ----------
    url : str
        The address that opens the app, e.g. ``http://127.0.0.1:8866/``
        (kept as the attribute ``url``).
    folder : pathlib.Path
        The private temporary folder holding the served notebook (attribute
        ``folder``).
    process : subprocess.Popen
        The Voilà server.
    log : file
        Where Voilà's and the kernels' output go.
    """

    def __init__(self, url: str, folder: Path, process: subprocess.Popen, log: Any) -> None:
        self.url = url
        self.folder = folder
        self._process = process
        self._log = log
        self._lock = threading.Lock()
        atexit.register(self.stop)

    @property
    def pid(self) -> int:
        """The process id of the Voilà server."""
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the server is still serving."""
        return self._process.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the server stops.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; default until it stops.

        Returns
        -------
        int or None
            The server's exit code, or None if it still runs at ``timeout``.
        """
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server and its kernels, and remove the private folder.

        Parameters
        ----------
        timeout : float, default 20.0
            Seconds Voilà has to shut its kernels down before it is killed.
        """
        with self._lock:
            if self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.send_signal(signal.SIGTERM)
                try:
                    self._process.wait(timeout)
                except subprocess.TimeoutExpired:
                    # Voilà's session; its kernels (in sessions of their own) watch their
                    # parent and end with it
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self._process.pid, signal.SIGKILL)
                    self._process.wait()
            if self._log is not None:
                self._log.close()
                self._log = None
            shutil.rmtree(self.folder, ignore_errors=True)
            atexit.unregister(self.stop)

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<AppServer {self.url} ({state})>"


def serve(
    bundle_path: str | os.PathLike,
    events_path: str | os.PathLike,
    scores: str | os.PathLike | None = None,
    *,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    lang: str = "en",
    currency: str | None = None,
    decisions: str | os.PathLike | None = "auto",
    export_folder: str | os.PathLike | None = None,
    reach_threshold: float = 0.05,
    control: float | str | None = 0.1,
    columns: Any = None,
    timezone: str | None = None,
    timestamp_unit: str | None = None,
    drop_duplicates: bool = False,
    missing_ids: Any = None,
    encoding: str | None = None,
    on_error: str = "raise",
    touchpoint: str | None = None,
    block: bool = True,
    hint: bool = True,
    ready_timeout: float = 120.0,
) -> AppServer | None:
    """Serve the marketer's app (the panel alone) as a web page with Voilà.

    The page shows :func:`cjml.panel` on the bundle and the events and nothing
    else. Relative paths are read from the current working directory, where
    the app's Python kernel also runs. Every page load opens the app afresh on
    the same decision log, so decisions survive a reload and a restart.

    Parameters
    ----------
    bundle_path : str or path
        A bundle file written by ``cjml train``.
    events_path : str or path
        The customers' events: a CSV or Parquet file, or a folder of them.
    scores : str or path, optional
        ``cjml score`` output for these events; without it the customers are
        scored on each page load (slower).
    port : int, default 8866
        The port to serve on; refused when another program uses it.
    host : str, default "127.0.0.1"
        The address to listen on. Only this computer can open the app unless
        ``host`` is a network address (then anyone who reaches it can approve
        actions: a warning says so).
    lang : {"en", "vi"}, default "en"
        The app's language.
    currency : str, optional
        ISO 4217 code of the costs; default the language's (USD, or VND for vi).
    decisions : str, path or None, default "auto"
        The decision log; "auto" is ``decisions.jsonl`` beside the scores, else
        in the export folder.
    export_folder : str or path, optional
        An existing folder for the exports of approved actions; default the
        current working directory.
    reach_threshold : float, default 0.05
        Customers less likely than this to be reached go to the "likely gone" group.
    control : float, str or None, default 0.1
        The share of the approved customers the export holds out as a random
        control group (``"10%"``); None, 0 or "off" for none (see :func:`cjml.panel`).
    columns : mapping or str, optional
        Your column names, as for :func:`cjml.read_events`; default the names
        the bundle was trained on, where the events have them.
    timezone : str, optional
        Timezone of naive timestamps; default the one the bundle was trained with.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) timestamps.
    drop_duplicates : bool, default False
        Remove exact duplicate events.
    missing_ids : sequence of str or str, optional
        Customer ids that mean "missing".
    encoding : str, optional
        The text encoding of CSV events when it is not UTF-8 (``"cp1252"``).
    on_error : {"raise", "quarantine"}, default "raise"
        Rows of the events that break a rule stop the app, or are set aside
        (see :func:`cjml.read_events`).
    touchpoint : str, optional
        The touchpoint of every event, for events without a touchpoint column;
        default the bundle's, when it was trained so.
    block : bool, default True
        Serve until Ctrl-C (SIGINT) or SIGTERM, then stop cleanly and return
        None; False returns at once with a running :class:`AppServer`.
    hint : bool, default True
        Print a line on opening the address in a browser after the address.
    ready_timeout : float, default 120.0
        Seconds Voilà has to start listening.

    Returns
    -------
    AppServer or None
        With ``block=False``, the running server (``.url``, ``.stop()``).

    Raises
    ------
    InputFileError
        When a file or folder named is missing.
    ValueError
        When ``lang``, ``currency`` or ``reach_threshold`` is not one the app takes.
    AppServerError
        When Voilà is not installed, the port is taken or cannot be listened
        on, or Voilà fails to start.

    Examples
    --------
    >>> from cjml.panel import serve
    >>> server = serve("models/sample.cjml", "data/sample_events.parquet",
    ...                port=8870, block=False)  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:8870/'
    >>> server.stop()  # doctest: +SKIP
    """
    encoding = encoding_name(encoding)  # a misspelt name is refused before Voilà starts
    arguments = _panel_arguments(
        bundle_path,
        events_path,
        scores,
        lang=lang,
        currency=currency,
        decisions=decisions,
        export_folder=export_folder,
        reach_threshold=reach_threshold,
        control=control,
        read_options={
            "columns": columns,
            "timezone": timezone,
            "timestamp_unit": timestamp_unit,
            "drop_duplicates": drop_duplicates,
            "missing_ids": missing_ids,
            "encoding": encoding,
            "on_error": on_error,
            "touchpoint": touchpoint,
        },
    )
    if importlib.util.find_spec("voila") is None:
        raise AppServerError(
            _('cjml app needs Voilà, which is not installed: pip install "cjml[panel]"')
        )
    if not 0 < port < 65536:
        raise AppServerError(
            _(
                "--port {port} (port={port}) is not a port number; pass one from 1024 to 65535, "
                "e.g. --port 8866"
            ).format(port=port)
        )
    if not _is_loopback(host):
        warnings.warn(
            _(
                "--host {host} (host={host!r}) serves the app to the network: anyone who can "
                "reach this computer can open it and approve actions; leave --host out to "
                "serve this computer only"
            ).format(host=host),
            UserWarning,
            stacklevel=2,
        )
    _check_listening(host, port)
    if not block:
        server = _start(arguments, port=port, host=host, timeout=ready_timeout)
        _announce(server.url, hint=hint, scored=scores is not None)
        return server
    with _stop_on_signals():
        try:
            server = _start(arguments, port=port, host=host, timeout=ready_timeout)
        except _Stop:  # stopped while starting: _start stopped Voilà and cleaned up
            print(_("cjml app: stopped"), flush=True)
            return None
        _announce(server.url, hint=hint, scored=scores is not None)
        _serve_until_stopped(server)
    return None


def _announce(url: str, *, hint: bool, scored: bool) -> None:
    print(
        _("cjml app: serving the marketer's app at {url} (Ctrl-C to stop)").format(url=url),
        flush=True,
    )
    if hint:
        print(
            _("cjml app: open the address in a web browser on this computer")
            if scored
            else _(
                "cjml app: open the address in a web browser on this computer; without "
                "--scores the customers are scored at each page load, which takes a while"
            ),
            flush=True,
        )


# --------------------------------------------------------------------------- checks
def _existing(path: str | os.PathLike, what: str, option: str) -> str:
    """``path`` made absolute, or a one-line error naming it and the option."""
    full = Path(os.path.abspath(os.fspath(path)))
    if not full.exists():
        raise InputFileError(
            _("{what} {path} was not found (from {cwd}); check {option}").format(
                what=what, path=str(path), cwd=os.getcwd(), option=option
            )
        )
    return str(full)


def _panel_arguments(
    bundle_path: str | os.PathLike,
    events_path: str | os.PathLike,
    scores: str | os.PathLike | None,
    *,
    lang: str,
    currency: str | None,
    decisions: str | os.PathLike | None,
    export_folder: str | os.PathLike | None,
    reach_threshold: float,
    control: float | str | None = 0.1,
    read_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The arguments of ``cjml.panel`` in the served notebook, checked, paths absolute.

    Only literals (text, numbers, None): the notebook holds them as their ``repr``.
    The newer options are given only when not at their default.
    """
    arguments: dict[str, Any] = {
        "bundle": _existing(bundle_path, _("the model bundle"), "MODEL"),
        "events": _existing(events_path, _("the events"), "EVENTS"),
    }
    if scores is not None:
        arguments["scores"] = _existing(scores, _("the scores file"), "--scores (scores=...)")
    if lang not in LANGUAGES:
        raise ValueError(
            _(
                "--lang {lang} (lang={lang!r}) is not a language of the app; use one of {known}"
            ).format(lang=lang, known=", ".join(sorted(LANGUAGES)))
        )
    if lang != "en":
        arguments["lang"] = lang
    if currency is not None:
        from babel.numbers import is_currency

        if not is_currency(currency.upper()):
            raise ValueError(
                _(
                    "--currency {code} (currency={code!r}) is not an ISO 4217 currency code; "
                    "use one such as USD, EUR or VND"
                ).format(code=currency)
            )
        arguments["currency"] = currency.upper()
    if decisions is not None and os.fspath(decisions) != "auto":
        log = Path(os.path.abspath(os.fspath(decisions)))
        if log.is_dir():
            raise InputFileError(
                _(
                    "the decision log {path} is a folder; pass a file, e.g. --decisions "
                    "{example} (decisions=...)"
                ).format(path=str(decisions), example=str(Path(decisions) / "decisions.jsonl"))
            )
        if not log.parent.is_dir():
            raise InputFileError(
                _(
                    "the folder of the decision log {path} does not exist; create it or "
                    "check --decisions (decisions=...)"
                ).format(path=str(decisions))
            )
        arguments["decisions"] = str(log)
    elif decisions is None:
        arguments["decisions"] = None
    if export_folder is not None:
        folder = Path(os.path.abspath(os.fspath(export_folder)))
        if not folder.is_dir():
            raise InputFileError(
                _(
                    "the export folder {path} does not exist or is not a folder; create it "
                    "or check --export-folder (export_folder=...)"
                ).format(path=str(export_folder))
            )
        arguments["export_path"] = str(folder)
    if reach_threshold != 0.05:
        if not 0 <= reach_threshold < 1:
            raise ValueError(
                _("reach_threshold={value} must be from 0 to 1 (exclusive)").format(
                    value=reach_threshold
                )
            )
        arguments["reach_threshold"] = float(reach_threshold)
    share = control_share(control)
    if share != 0.1:
        arguments["control"] = share
    # how the events are read (only those given: the notebook holds them as literals)
    unset = {"drop_duplicates": False, "on_error": "raise"}
    for name, value in (read_options or {}).items():
        if value is not None and value != unset.get(name):
            arguments[name] = dict(value) if isinstance(value, dict) else value
    return arguments


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: loopback only if every address it has is
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _port_free(host: str, port: int) -> bool:
    """Whether Voilà can listen on ``host:port`` (tornado sets SO_REUSEADDR too)."""
    try:
        _check_listening(host, port)
    except AppServerError:
        return False
    return True


def _check_listening(host: str, port: int) -> None:
    """Refuse, in one line, a port another program uses or an address this computer lacks."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AppServerError(
            _(
                "--host {host} (host={host!r}) is not an address of this computer ({reason}); "
                "leave --host out to serve this computer only"
            ).format(host=host, reason=exc)
        ) from None
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    message = _(
                        "port {port} is already in use on {host} (another cjml app or "
                        "program); pass another one, e.g. --port {other} (port={other})"
                    )
                elif exc.errno == errno.EACCES:
                    message = _(
                        "port {port} on {host} needs administrator rights; pass one from "
                        "1024, e.g. --port 8866 (port=8866)"
                    )
                else:
                    message = _(
                        "cannot listen on {host} port {port} ({reason}); check --host, or leave "
                        "it out to serve this computer only"
                    )
                raise AppServerError(
                    message.format(port=port, host=host, other=port + 1, reason=exc.strerror)
                ) from None


# --------------------------------------------------------------------------- the server
_CELL = """\
# Written by cjml app: the marketer's app, and only it (Voila shows outputs only).
import html as _html
import os as _os
import sys as _sys
import warnings as _warnings

_os.chdir({cwd!r})  # relative paths and exports as in the terminal that started the app
import cjml
from cjml.exceptions import CjmlError

with _warnings.catch_warnings(record=True) as _caught:
    _warnings.simplefilter("always")
    try:
        app = cjml.panel(**{arguments!r})
    except (CjmlError, OSError, ValueError) as _exc:
        # one line on the page and in the terminal, never a traceback
        print(f"cjml app: error: {{_exc}}", file=_sys.__stderr__, flush=True)
        import ipywidgets as _widgets

        app = _widgets.HTML(f"<p><b>{{_html.escape(str(_exc))}}</b></p>")
for _w in _caught:  # warnings go to the terminal, not onto the marketer's page
    print(f"cjml app: warning: {{_w.message}}", file=_sys.__stderr__, flush=True)
app
"""


def _write_notebook(folder: Path, arguments: dict[str, Any]) -> Path:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(_CELL.format(cwd=os.getcwd(), arguments=arguments))]
    notebook.metadata["kernelspec"] = {
        "name": _KERNEL,
        "display_name": "cjml app",
        "language": "python",
    }
    path = folder / _NOTEBOOK
    nbformat.write(notebook, path)
    spec = folder / "jupyter" / "kernels" / _KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                    "--IPKernelApp.log_level=ERROR",  # its start-up notes are not for marketers
                ],
                "display_name": "cjml app",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    return path


def _url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _start(arguments: dict[str, Any], *, port: int, host: str, timeout: float) -> AppServer:
    folder = Path(tempfile.mkdtemp(prefix="cjml-app-"))  # private: mode 0700
    process = None
    try:
        notebook = _write_notebook(folder, arguments)
        env = {
            **os.environ,
            "JUPYTER_PATH": os.pathsep.join(
                p for p in (str(folder / "jupyter"), os.environ.get("JUPYTER_PATH")) if p
            ),
            "JUPYTER_PLATFORM_DIRS": "1",
            "MPLBACKEND": "Agg",
        }
        command = [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            f"--Voila.ip={host}",
            "--Voila.port_retries=0",  # another port than asked would be another address
            "--strip_sources=True",  # outputs only: the panel, never the cell's code
            "--template=lab",
            "--theme=light",
            "--Voila.log_level=ERROR",  # not "notebook is not trusted": we wrote it
        ]
        # Voilà's and the kernels' output go to a log in the private folder; serving until
        # Ctrl-C, the app's own lines are shown from it (_echo), not a kernel's traceback
        # when it is stopped while starting
        log = (folder / _LOG).open("w", encoding="utf-8")
        process = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop Voilà
        )
        server = AppServer(_url(host, port), folder, process, log)
    except BaseException:
        if process is not None:
            process.terminate()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        _wait_until_listening(server, host, port, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_listening(server: AppServer, host: str, port: int, timeout: float) -> None:
    address = _url(host, port).split("//", 1)[1].rstrip("/").rsplit(":", 1)[0].strip("[]")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            pass
        if not server.running:
            log = server.folder / _LOG
            tail = log.read_text(encoding="utf-8").strip().splitlines()[-1:] if log.exists() else []
            raise AppServerError(
                _("Voilà stopped before serving the app (exit code {code}){detail}").format(
                    code=server.wait(), detail=f": {tail[0]}" if tail else ""
                )
            )
        if time.monotonic() > deadline:
            raise AppServerError(
                _("Voilà did not start listening on {url} within {seconds:.0f} s").format(
                    url=server.url, seconds=timeout
                )
            )
        time.sleep(0.2)


def _echo(log: Path, start: int) -> int:
    """Print the log's new lines that are the app's own ("cjml app: ...") or Voilà's errors;
    return the offset read up to (whole lines only)."""
    try:
        with log.open("rb") as handle:
            handle.seek(start)
            data = handle.read()
    except OSError:
        return start
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", "replace").splitlines():
        if line.startswith("cjml app:") or "[Voila] ERROR" in line or "CRITICAL" in line:
            print(line, file=sys.stderr, flush=True)
    return start + end


class _Stop(BaseException):
    """SIGINT or SIGTERM arrived: stop serving (a BaseException, like KeyboardInterrupt)."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`_Stop` once (later ones are ignored while the
    server stops); the previous handlers are back afterwards. Only in the main thread,
    where Python runs signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def _on_signal(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
            raise _Stop(signum)

    previous = {
        number: signal.signal(number, _on_signal) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _serve_until_stopped(server: AppServer) -> None:
    """Serve until SIGINT or SIGTERM (or Voilà's own end); then stop it and clean up."""
    shown = 0
    try:
        while server.running:
            time.sleep(0.5)
            shown = _echo(server.folder / _LOG, shown)
    except _Stop:
        server.stop()
        print(_("cjml app: stopped"), flush=True)
        return
    except BaseException:
        server.stop()
        raise
    server.stop()
    raise AppServerError(
        _("Voilà stopped by itself (exit code {code}); see the lines above").format(
            code=server.wait()
        )
    )
