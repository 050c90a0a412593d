"""What every chapter notebook calls first: seeds, scale (fast, full, smoke), device,
checkpoint paths, glue and source display."""
import inspect
import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from .data import DATASETS
from .validation import require


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
    return _switch("MLCORE_FULL", "1 (full) or 0 (fast)")


def image_dataset():
    """The image dataset of a chapter, a name for `ml.data.load_images`: `$MLCORE_DATASET`
    ("glyphs" or "omniglot"), else real Omniglot in full mode and the embedded glyphs in
    fast mode."""
    name = os.environ.get("MLCORE_DATASET") or ("omniglot" if full_mode() else "glyphs")
    require(name in DATASETS, "MLCORE_DATASET", name, f"set it to one of {DATASETS}")
    return name


def smoke_mode():
    """True when `MLCORE_SMOKE=1`: a smoke run, a test that every cell of a chapter runs.

    Together with `MLCORE_FULL=1` it runs full mode's settings (networks, sizes, ways,
    shots) on a CPU in a minute: `smoke_cap` cuts every step and task count to a few, the
    per-task mapper vmaps as on a GPU, and `ml.report.checks` shows the claims that need a
    trained model without asserting them (a few steps train nothing).
    """
    return _switch("MLCORE_SMOKE", "1 (a smoke run: a few steps of each loop) or 0")


def smoke_cap(count, cap=3):
    """`count`, or at most `cap` in a smoke run (`MLCORE_SMOKE=1`): the one place where a
    smoke run shortens the loops (`meta_train`'s steps, `evaluate`'s tasks, a chapter's
    own loops), so that no notebook repeats it."""
    return min(count, cap) if smoke_mode() else count


def checkpoint_dir():
    """The folder in `MLCORE_CHECKPOINTS` (e.g. a mounted Google Drive folder on Colab), or
    None: a chapter's `CHECKPOINT_DIR`, where its long runs save and resume."""
    return os.environ.get("MLCORE_CHECKPOINTS") or None


def checkpoints(directory, chapter, seed):
    """A function `run -> path`: where `meta_train` saves and resumes the run `run` of
    `chapter` (e.g. "MAML-1-shot"), or None for every run (no checkpoints) when `directory`
    is None or "".

    The path names the mode (fast, full, smoke) and the seed, so a rerun resumes only its
    own run: `<directory>/<chapter>/<mode>-seed<seed>/<run>.pt` (`run` in lower case, with
    dashes for spaces and signs). On Colab, a folder of a mounted Google Drive survives a
    disconnected runtime.
    """
    mode = ("full" if full_mode() else "fast") + ("-smoke" if smoke_mode() else "")
    folder = None if directory in (None, "") else Path(directory).expanduser() / chapter

    def path_of(run):
        name = re.sub(r"[^a-z0-9.]+", "-", str(run).lower()).strip("-")
        return None if folder is None else folder / f"{mode}-seed{seed}" / f"{name}.pt"
    return path_of


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


def _switch(name, expected):
    value = os.environ.get(name, "0").strip().lower()
    if value not in ("0", "1", "", "false", "true"):
        raise ValueError(f"{name}={value!r} is invalid: set it to {expected}.")
    return value in ("1", "true")
