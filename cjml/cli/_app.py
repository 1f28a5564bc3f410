"""The ``app`` command: the marketer's app served as a web page (Voilà)."""

from __future__ import annotations

import argparse

from cjml.cli import _help as h
from cjml.i18n import LANGUAGES


def _port(text: str) -> int:
    """A TCP port number, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1024 to 65535, got {value}")
    return value


def _control(text: str) -> float | None:
    """``--control``: "10%" or "0.1"; "0" or "off" for no control group."""
    from cjml.panel._data._actions import control_share

    try:
        return control_share(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a share such as 10% or 0.1 (above 0 and below 1), or 0 or off for no "
            f"control group, got {text!r}"
        ) from None


def _cmd_app(args: argparse.Namespace) -> int:
    from cjml.panel import serve

    serve(
        args.model,
        args.events,
        args.scores,
        port=args.port,
        host=args.host,
        lang=args.lang,
        currency=args.currency,
        decisions=args.decisions or "auto",
        export_folder=args.export_folder,
        control=args.control,
        columns=args.columns,
        timezone=args.timezone,
        timestamp_unit=args.timestamp_unit,
        drop_duplicates=args.drop_duplicates,
        missing_ids=args.missing_ids,
        encoding=args.encoding,
        on_error=args.on_error,
        touchpoint=args.touchpoint,
        hint=not args.no_browser_hint,
    )
    return 0


def add_app(sub: argparse._SubParsersAction) -> None:
    p = h.add_command(
        sub,
        "app",
        summary="serve the marketer's app (the panel alone) as a web page on this computer",
        description="Serve the marketer's panel on a trained bundle and its customers' events "
        "as a web page of its own (Voilà): the at-risk list with the customers who can be "
        "saved first, each customer's journey and what-if, and the approved actions with "
        "their export. Nothing is approved without a click; every decision is kept in an "
        "append-only decision log (decisions.jsonl beside --scores, else in the export "
        "folder) and loaded again at the next start. Prints the address to open and serves "
        "until Ctrl-C, which stops the server cleanly (exit code 0).",
        examples=[
            ("app models/sample.cjml data/sample_events.parquet", "http://127.0.0.1:8866/"),
            (
                "app models/journeys.cjml journeys.parquet --scores scores.parquet --lang vi",
                "in Vietnamese, costs in VND; decisions in decisions.jsonl beside scores.parquet",
            ),
            (
                "app models/journeys.cjml journeys.parquet --port 8870 --export-folder exports",
                "another port; exports (new dated files) in ./exports",
            ),
            (
                "app models/journeys.cjml journeys.parquet --control 20%",
                "hold out a random 20% of the approved customers in each export",
            ),
            (
                "app models/shop.cjml clicks.csv --columns customer_id=user_id,touchpoint=event",
                "your column names (by default those the bundle was trained on)",
            ),
        ],
        see=h.README_APP,
    )
    group = p.add_argument_group("Arguments")
    h.add_model_argument(group)
    h.add_events_argument(group)
    what = p.add_argument_group("The app")
    what.add_argument(
        "--scores",
        metavar="PATH",
        help="cjml score output for EVENTS (default: score at each page load, slower)",
    )
    what.add_argument(
        "--lang",
        choices=sorted(LANGUAGES),
        default="en",
        help="the app's language (default en; vi is Vietnamese)",
    )
    what.add_argument(
        "--currency",
        metavar="CODE",
        help="ISO 4217 code of the costs, e.g. EUR (default USD, VND with --lang vi)",
    )
    what.add_argument(
        "--decisions",
        metavar="PATH",
        help="the decision log (JSON Lines, appended to; default decisions.jsonl beside "
        "--scores, else in the export folder)",
    )
    what.add_argument(
        "--export-folder",
        metavar="DIR",
        help="an existing folder for the exports of approved actions, each a new dated "
        "file (default: the current folder)",
    )
    what.add_argument(
        "--control",
        type=_control,
        default=0.1,
        metavar="SHARE",
        help="the share of the approved customers each export holds out as a random control "
        "group, within each touchpoint and risk band, so cjml uplift can measure the "
        "campaign afterwards (default 10%%; 0 or off for none; changeable in the app): they "
        "stay in the export with arm = control and no action, beside the campaign's manifest "
        "(EXPORT.campaign.json) and assignments",
    )
    server = p.add_argument_group("Server")
    server.add_argument(
        "--port",
        type=_port,
        default=8866,
        metavar="PORT",
        help="the port to serve on (default 8866); a port in use is refused",
    )
    server.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="HOST",
        help="the address to listen on (default 127.0.0.1: this computer only; "
        "another address lets anyone on the network approve actions)",
    )
    server.add_argument(
        "--no-browser-hint",
        action="store_true",
        help="print only the address, not the line on opening it in a browser",
    )
    h.add_input_options(p, journey_map=False, bundle=True, rejects=False)
    # a server runs until Ctrl-C: its warnings are printed at once, not at the end
    h.finish_command(p).set_defaults(func=_cmd_app, warn_at_once=True)
