"""What the commands' handlers share: printing, reading the events, loading the bundle."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cjml


def say(message: str = "") -> None:
    """Print a line of the command's output at once (progress bars share the terminal)."""
    print(message, flush=True)


def inputs_of(args: argparse.Namespace, **more: Any) -> dict:
    """The command's input files (events, --map, the bundle, --customers, --rules...), which
    its outputs must never overwrite."""
    inputs = {"events file": args.events, "journey map": getattr(args, "map", None)}
    model = more.pop("model", None)
    if model:
        inputs["bundle"] = model
        inputs["bundle's manifest"] = Path(model).with_name(Path(model).name + ".manifest.json")
    inputs.update(more)
    return inputs


def read_log(args: argparse.Namespace, journey_map: Any = None) -> cjml.EventLog:
    """EVENTS read with the command's "Reading EVENTS" options; --map wins over the bundle's."""
    if getattr(args, "map", None) is not None:
        journey_map = args.map
    return cjml.read_events(
        args.events,
        columns=args.columns,
        journey_map=journey_map,
        timezone=args.timezone,
        timestamp_unit=args.timestamp_unit,
        drop_duplicates=args.drop_duplicates,
        missing_ids=args.missing_ids,
    )


def load_bundle(args: argparse.Namespace) -> cjml.ModelBundle:
    return cjml.ModelBundle.load(args.model, trusted=args.trust_pickle)
