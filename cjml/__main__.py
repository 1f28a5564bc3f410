"""``python -m cjml`` runs the command line."""

from cjml.cli import run

run()
