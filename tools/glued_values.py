"""Dump every value a chapter glues into its prose, or compare two such dumps.

Run it before and after a change that must not move any number (a refactor of mlcore):

    python tools/glued_values.py --out before.json           # executes every chapter
    ... change mlcore ...
    python tools/glued_values.py --out after.json
    python tools/glued_values.py --compare before.json after.json

Each notebook is executed in fast mode in its own folder, as the book build does; the dump
maps notebook -> glue name -> the glued value's text. `--compare` prints every value that
moved and exits 1 if any did.
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLUE_MIME = "application/papermill.record/text/"


def glued_values(notebook):
    """{name: text} of every `glue` call in an executed notebook. A glued table is kept as
    its HTML (its text is only the object's address), without the random ids pandas gives
    its styles."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                data = output["data"]
                text = data.get(GLUE_MIME + "html") or data.get(GLUE_MIME + "plain")
                values[name] = re.sub(r"T_[0-9a-f]{5}", "T_", text)
    return values


def execute(path, timeout=600):
    """The notebook at `path`, executed in its own folder (polling the kernel as the book
    build does, see book/_ext/kernel_polling.py)."""
    import nbformat
    from nbclient import NotebookClient
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from kernel_polling import _patch_get_msg
    _patch_get_msg()
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def dump(paths, out):
    """Execute every notebook and write their glued values; a notebook that fails is
    reported and recorded as {"error": ...}, and the others still run."""
    from nbclient.exceptions import CellExecutionError
    result = {}
    for path in paths:
        began = time.perf_counter()
        try:
            result[path.name] = glued_values(execute(path))
        except CellExecutionError as error:
            result[path.name] = {"error": str(error).strip().splitlines()[-1]}
        print(f"{path.name}: {len(result[path.name])} values in "
              f"{time.perf_counter() - began:.0f} s", file=sys.stderr)
        Path(out).write_text(json.dumps(result, indent=1, sort_keys=True))


def compare(before, after):
    """The lines that differ between two dumps: (notebook, name, before, after)."""
    before, after = (json.loads(Path(p).read_text()) for p in (before, after))
    moved = []
    for notebook in sorted(set(before) | set(after)):
        old, new = before.get(notebook, {}), after.get(notebook, {})
        moved += [(notebook, name, old.get(name), new.get(name))
                  for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    return moved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="default: every chapter under notebooks/")
    parser.add_argument("--out", help="write the dump to this JSON file")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        moved = compare(*args.compare)
        for notebook, name, old, new in moved:
            print(f"{notebook} {name}: {old} -> {new}")
        print(f"{len(moved)} glued values moved")
        return 1 if moved else 0
    if not args.out:
        parser.error("give --out FILE (to dump) or --compare BEFORE AFTER")
    dump(args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
