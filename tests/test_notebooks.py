"""The notebooks: each runs top to bottom on the sample, and is committed without outputs.

Every ``notebooks/*.ipynb`` is executed with nbclient, in name order, in a
temporary copy of the repository layout (``notebooks/`` and ``data/``; the
notebooks create ``models/`` and ``outputs/`` there), with the working
directory set to the copy of ``notebooks/``, as Jupyter does. Nothing in the
repository is written. A failing cell fails the test with its traceback.

The kernel is pinned to the interpreter running the tests (the one cjml is
installed in), whatever ``python3`` kernel spec the machine has elsewhere.

Strip a notebook's outputs before committing it with
``python tests/test_notebooks.py notebooks/NAME.ipynb``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_explore_journeys.ipynb", "02_train_models.ipynb", "03_batch_scoring.ipynb"]
CELL_TIMEOUT = 600  # seconds; the whole set takes about a minute on two cores


def strip(path: str | Path) -> None:
    """Remove outputs, execution counts and run metadata from a notebook, in place."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def _problems(nb) -> list[str]:
    """What keeps a notebook from counting as stripped."""
    found = []
    if "widgets" in nb.metadata:
        found.append("notebook metadata holds widget state ('widgets')")
    for number, cell in enumerate(nb.cells, start=1):
        if "execution" in cell.metadata:
            found.append(f"cell {number} has execution timings in its metadata")
        if cell.cell_type != "code":
            continue
        if cell.outputs:
            found.append(f"cell {number} has {len(cell.outputs)} output(s)")
        if cell.execution_count is not None:
            found.append(f"cell {number} has execution count {cell.execution_count}")
    return found


def test_the_notebooks_are_there():
    names = [p.name for p in NOTEBOOKS]
    missing = [name for name in EXPECTED if name not in names]
    assert not missing, f"notebooks/ lacks {missing}; found {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    problems = _problems(nb)
    assert not problems, (
        f"{path.name} is not stripped: {'; '.join(problems)}. Strip it with "
        f"`python tests/test_notebooks.py notebooks/{path.name}`."
    )
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name} must use the 'python3' kernel, not "
        f"{nb.metadata.get('kernelspec', {}).get('name')!r}"
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A throwaway copy of the repository layout, and a kernel spec on this interpreter."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(NOTEBOOK_DIR, root / "notebooks")
    shutil.copytree(ROOT / "data", root / "data")
    kernels = tmp_path_factory.mktemp("jupyter")
    spec = kernels / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (cjml tests)",
                "language": "python",
            }
        )
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(kernels))  # searched before any other kernel folder
        yield root


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, workspace):
    copy = workspace / "notebooks" / path.name
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(copy.parent)}},
    )
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    finally:
        nbformat.write(nb, copy)  # the executed copy, for a look after a failure
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors, f"{path.name} has error outputs: {errors}"


if __name__ == "__main__":  # python tests/test_notebooks.py notebooks/*.ipynb
    for name in sys.argv[1:]:
        strip(name)
        print(f"stripped {name}")
