"""Full mode, smoke-tested: every chapter runs with its paper-scale settings (`MLCORE_FULL=1`:
networks, sizes, ways, shots) for a few steps of each loop (`MLCORE_SMOKE=1`), on this CPU,
with the tasks vmapped as on a GPU. A typo in a full-mode branch fails here, not after an
hour on a reader's GPU. The claims that need training are shown, not asserted (see
`ml.report.checks`); every other assert of the chapter runs. About 15 s a chapter.

Full mode's image chapters read real Omniglot: here the small sample beside the repository
(its scaled-down protocol), or the glyphs where the sample is absent.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
from conftest import OMNIGLOT  # noqa: E402
from glued_values import execute  # noqa: E402  (executes as the book build does)

NEEDS_REAL_OMNIGLOT = {"05_metric_learning_real"}  # without it, such a part shows a note only


def read_real_omniglot_if_here(monkeypatch):
    if list(OMNIGLOT.glob("*.zip")):
        monkeypatch.setenv("MLCORE_OMNIGLOT", str(OMNIGLOT))
        return True
    monkeypatch.setenv("MLCORE_DATASET", "glyphs")
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_chapter_runs_in_full_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MLCORE_FULL", "1")
    monkeypatch.setenv("MLCORE_SMOKE", "1")
    monkeypatch.setenv("MLCORE_CHECKPOINTS", str(tmp_path))
    if not read_real_omniglot_if_here(monkeypatch) and path.stem in NEEDS_REAL_OMNIGLOT:
        pytest.skip(f"{path.stem} needs real Omniglot; the sample is not in {OMNIGLOT}")
    notebook = execute(path, timeout=300)  # a failing cell raises, with its traceback
    checks = [cell for cell in notebook.cells if "ml.report.checks(" in cell.source]
    assert len(checks) == 1 and "not asserted (smoke run)" in str(checks[0].outputs), \
        "the checks table should say which claims a smoke run does not assert"
    assert list(tmp_path.rglob("*.pt")), "the chapter's training runs should save checkpoints"


def test_a_rerun_resumes_every_run_from_its_checkpoint(tmp_path, monkeypatch):
    from glued_values import glued_values
    monkeypatch.setenv("MLCORE_FULL", "1")
    monkeypatch.setenv("MLCORE_SMOKE", "1")
    monkeypatch.setenv("MLCORE_CHECKPOINTS", str(tmp_path))
    path = ROOT / "notebooks" / "02_maml.ipynb"
    first = glued_values(execute(path, timeout=300))
    saved = {file: file.stat().st_mtime_ns for file in tmp_path.rglob("*.pt")}
    assert len(saved) == 5  # MAML and Meta-SGD for K = 5 and 10, and the baseline
    assert glued_values(execute(path, timeout=300)) == first
    assert {file: file.stat().st_mtime_ns for file in tmp_path.rglob("*.pt")} == saved, \
        "a finished run is loaded, not trained or saved again"
