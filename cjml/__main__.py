"""``python -m cjml`` runs the command line."""

from cjml._launch import run

run()
