"""Sphinx extension: use the vendored MathJax and widget manager when they are present.

`make book` vendors them into book/_static/vendor (tools/vendor_assets.py); where that
failed, the defaults (CDN addresses) stay, so the book still builds.
"""
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "_static" / "vendor"


def use_vendored_assets(app, config):
    if (VENDOR / "mathjax" / "tex-chtml.js").exists():
        config.mathjax_path = "vendor/mathjax/tex-chtml.js"
    if (VENDOR / "html-manager" / "embed-amd.js").exists() and (VENDOR / "require.js").exists():
        config.nb_ipywidgets_js = {
            "vendor/require.js": {},
            "vendor/html-manager/embed-amd.js": {"data-jupyter-widgets-cdn": "vendor/"},
        }


def setup(app):
    app.connect("config-inited", use_vendored_assets, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
