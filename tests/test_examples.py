"""The example notebook runs from top to bottom (executed with nbclient; CI runs it with
``pytest -m slow``)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def _outputs(cell) -> list[dict]:
    return [dict(o) for o in cell.get("outputs", [])]


@pytest.mark.slow
def test_quickstart_notebook_executes_and_explains_the_test_file(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("shap")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert not any(_outputs(c) for c in notebook.cells if c.cell_type == "code")  # stored clean
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    texts = ["".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for o in _outputs(c)) for c in code]
    assert "(48, 64, 126), (12, 64, 126)" in texts[1]  # 4 tracks x 4 segments x 3 genres
    assert "checkpoint.pt" in texts[2]
    assert texts[3].startswith("('metal', ['f ")  # the metal test file, top bands named
    # the plot and shap's plot are shown as images (the user's inline backend kept)
    for cell in (code[4], code[5]):
        assert any("image/png" in o.get("data", {}) for o in _outputs(cell)), cell.source
    assert "(8,)" in texts[5]  # one SHAP value per frequency band
    assert list(tmp_path.iterdir()) == []  # it wrote nothing into the working directory
