"""What every chapter notebook calls first: seeds, scale, device, glue and source display."""
import inspect
import os
import random

import numpy as np
import torch


def setup(seed=0):
    """Seed torch, numpy and random once per notebook, and set the book's plot style.

    Also flushes denormal floats (below about 1e-38) to zero: a CPU computes with them up to
    100 times more slowly, and a saturated sigmoid or a diverging optimizer makes many.
    """
    torch.set_flush_denormal(True)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        import seaborn
        seaborn.set_theme(context="notebook", style="whitegrid")
    except ImportError:  # plots still work, in matplotlib's style
        pass
    return device()


def full_mode():
    """True when `MLCORE_FULL=1`: paper-scale settings (for a GPU), else fast mode (CPU)."""
    value = os.environ.get("MLCORE_FULL", "0").strip().lower()
    if value not in ("0", "1", "", "false", "true"):
        raise ValueError(f"MLCORE_FULL={value!r} is invalid: set it to 1 (full) or 0 (fast).")
    return value in ("1", "true")


def device():
    """`cuda` when a GPU is available, else `cpu`."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def glue(name, value, display=False):
    """Store `value` for the book's prose ({glue:text}`name`); a no-op outside the book tools.

    Numbers are glued as Python numbers (numpy and 0-d torch scalars are converted, since
    the prose formats their text): format them in the prose, e.g. {glue:text}`acc:.1f`.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # e.g. on Colab, where the book's tools are not installed
        return value
    myst_glue(name, value, display=display)
    return value


def show_source(obj):
    """Display the source code of a function or class of mlcore, highlighted."""
    from IPython.display import Code, display
    display(Code(inspect.getsource(obj), language="python"))
