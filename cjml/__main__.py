"""``python -m cjml`` and the ``cjml`` console script: the command line."""

import sys


def main() -> None:
    """Run the command line, numpy's kernels chosen for the command first
    (:func:`cjml._numpy_kernels.prepare_numpy`)."""
    from cjml._numpy_kernels import prepare_numpy

    prepare_numpy(sys.argv[1:])
    from cjml.cli import run

    run()


if __name__ == "__main__":
    main()
