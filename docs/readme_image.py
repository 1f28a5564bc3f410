"""Make the README's pictures: the sample's journey canvas and its support journey.

Run it from the repository root after changing the canvas::

    python docs/readme_image.py

It runs the real command on the bundled sample, ``cjml journey-map
data/sample_events.parquet --model models/sample.cjml --persona deal_seeker --out
PATH.png`` and ``... --support --out PATH.png`` (training ``models/sample.cjml`` with
``cjml train`` first when there is none), and keeps the pictures with 256 colours: they
have few colours, and the files are about a third of the size (each stays well under
300 KB).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "data" / "sample_events.parquet"
MODEL = ROOT / "models" / "sample.cjml"
IMAGE = ROOT / "docs" / "journey-canvas.png"
SUPPORT_IMAGE = ROOT / "docs" / "support-journey.png"
PERSONA = "deal_seeker"


def main() -> int:
    """Draw the canvas and the support journey with the command line, for the README.

    Returns
    -------
    int
        The exit code: 0 when the pictures were written.
    """
    from PIL import Image

    from cjml.cli import main as cjml

    if not MODEL.exists() and cjml(["train", str(EVENTS), "--out", str(MODEL), "--quiet"]):
        return 1
    argv = ["journey-map", str(EVENTS), "--model", str(MODEL)]
    for options, target in (
        (["--persona", PERSONA], IMAGE),
        (["--support"], SUPPORT_IMAGE),
    ):
        with tempfile.TemporaryDirectory() as folder:
            if cjml([*argv, *options, "--out", str(Path(folder) / "picture.png")]):
                return 1
            (drawn,) = Path(folder).glob("*.png")  # one persona, or the support journey alone
            with Image.open(drawn) as image:
                image.convert("RGB").quantize(colors=256).save(target, optimize=True)
        print(f"Wrote {target.relative_to(ROOT)} ({target.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
