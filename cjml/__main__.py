"""``python -m cjml`` runs the command line."""

import sys

from cjml.cli import main

sys.exit(main())
