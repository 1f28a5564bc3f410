"""Make ``docs/journey-canvas.png``, the README's picture of the sample's journey canvas.

Run it from the repository root after changing the canvas::

    python docs/readme_image.py

It runs the real command on the bundled sample, ``cjml journey-map
data/sample_events.parquet --model models/sample.cjml --persona deal_seeker --out
PATH.png`` (training ``models/sample.cjml`` with ``cjml train`` first when there is
none), and keeps the picture with 256 colours: the canvas has few colours, and the
file is about a third of the size (the README's picture stays well under 300 KB).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "data" / "sample_events.parquet"
MODEL = ROOT / "models" / "sample.cjml"
IMAGE = ROOT / "docs" / "journey-canvas.png"
PERSONA = "deal_seeker"


def main() -> int:
    """Draw the canvas with the command line and store it as the README's picture.

    Returns
    -------
    int
        The exit code: 0 when the picture was written.
    """
    from PIL import Image

    from cjml.cli import main as cjml

    if not MODEL.exists() and cjml(["train", str(EVENTS), "--out", str(MODEL), "--quiet"]):
        return 1
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "canvas.png"
        argv = ["journey-map", str(EVENTS), "--model", str(MODEL), "--persona", PERSONA]
        if cjml([*argv, "--out", str(out)]):
            return 1
        (drawn,) = Path(folder).glob("*.png")  # one persona: one picture
        with Image.open(drawn) as image:
            image.convert("RGB").quantize(colors=256).save(IMAGE, optimize=True)
    print(f"Wrote {IMAGE.relative_to(ROOT)} ({IMAGE.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
