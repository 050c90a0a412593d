"""Fail when a notebook under notebooks/ or assignments/ was committed with outputs or
execution counts.

Fix with: nbstripout notebooks/*.ipynb   (or `nbstripout --install` once, as a git filter)
"""
import json
import sys
from pathlib import Path


def unstripped(path):
    cells = json.loads(Path(path).read_text())["cells"]
    return [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"
            and (cell.get("outputs") or cell.get("execution_count") is not None)]


def main(paths):
    bad = {path: cells for path in paths if (cells := unstripped(path))}
    for path, cells in bad.items():
        print(f"{path}: cells {cells} have outputs; run `nbstripout {path}`", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    sys.exit(main(sys.argv[1:] or sorted(map(str, [*(root / "notebooks").rglob("*.ipynb"),
                                                     *(root / "assignments").glob("*.ipynb")]))))
