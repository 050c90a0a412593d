"""Copy MathJax, RequireJS and the Jupyter widget manager into the book's static files.

The built site then typesets math and renders widgets with no network (a classroom, this
machine). Fetched from the npm registry with `npm pack`, kept out of git. If npm or the
registry is unavailable this prints why and exits 0: the book then loads them from CDNs.
Usage: python tools/vendor_assets.py book/_static/vendor
"""
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# package spec -> (folder inside the package, folder under the vendor directory)
ASSETS = {
    "mathjax@3.2.2": ("package/es5", "mathjax"),
    "requirejs@2.3.7": ("package/require.js", "require.js"),
    "@jupyter-widgets/html-manager@1.0.15": ("package/dist", "html-manager"),
}


def vendor(destination):
    destination.mkdir(parents=True, exist_ok=True)
    for spec, (inside, target) in ASSETS.items():
        if (destination / target).exists():
            continue
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(["npm", "pack", spec, "--pack-destination", scratch, "--silent"],
                           check=True, capture_output=True, timeout=300)
            with tarfile.open(next(Path(scratch).glob("*.tgz"))) as archive:
                archive.extractall(scratch, filter="data")
            source = Path(scratch) / inside
            partial = destination / f"{target}.partial"
            if source.is_dir():
                shutil.copytree(source, partial, ignore=shutil.ignore_patterns("*.map"))
            else:
                shutil.copyfile(source, partial)
            partial.rename(destination / target)


if __name__ == "__main__":
    try:
        vendor(Path(sys.argv[1]))
    except (OSError, subprocess.SubprocessError) as error:
        print(f"vendor_assets: could not vendor MathJax and widgets ({error}); "
              "the book will load them from CDNs.", file=sys.stderr)
