"""The images of a chapter, by name: the embedded glyphs or real Omniglot.

A chapter's parameters cell picks the dataset once, `DATASET = ml.image_dataset()`
($MLCORE_DATASET, else "omniglot" in full mode and "glyphs" in fast mode), and loads each
meta-split with `load_images(DATASET, split)`; `describe_images(DATASET)` says in words
which protocol ran. Real Omniglot is read from `omniglot_root()` and downloaded there when
online.
"""
import functools
import os
from pathlib import Path

from ..validation import require
from .glyphs import cache_dir, load_glyphs
from .omniglot import load_omniglot, omniglot_protocol, split_omniglot

DATASETS = ("glyphs", "omniglot")


def load_images(name, split=None, rotations=None):
    """One meta-split (`split` None: all) of dataset `name`, an `ImageDataset`.

    "glyphs": the embedded glyphs, whole alphabets per split. "omniglot": real Omniglot,
    split by `split_omniglot` (the papers' protocol when all 1,623 characters are there).
    `rotations` adds each character turned by 90, 180 and 270 degrees as new classes; by
    default on for Omniglot, as in the papers, and off for the glyphs, whose drawers
    already vary the pose. Turn it off for Lake's within-alphabet tasks.
    """
    require(name in DATASETS, "name", name,
            f"use one of {DATASETS} (in a chapter: MLCORE_DATASET=glyphs or omniglot)")
    data = load_glyphs(split) if name == "glyphs" else split_omniglot(_omniglot(), split)
    rotate = name == "omniglot" if rotations is None else rotations
    return data.with_rotations() if rotate else data


def describe_images(name):
    """Which data and protocol `load_images(name, ...)` uses, in one sentence."""
    require(name in DATASETS, "name", name, f"use one of {DATASETS}")
    if name == "glyphs":
        sizes = "/".join(str(len(load_glyphs(s))) for s in ("meta_train", "meta_val", "meta_test"))
        return (f"embedded glyphs: whole alphabets cut 60/20/20 into meta-train, meta-val and "
                f"meta-test ({sizes} characters), no rotations")
    return (f"real Omniglot from {omniglot_root()}, {omniglot_protocol(_omniglot())}; each "
            "character's 90/180/270-degree rotations are new classes of the same split")


def omniglot_root():
    """Where real Omniglot lives: `$MLCORE_OMNIGLOT`, else `omniglot` in the data cache."""
    return Path(os.environ.get("MLCORE_OMNIGLOT") or cache_dir() / "omniglot")


def _omniglot():
    return _read_omniglot(omniglot_root())


@functools.lru_cache(maxsize=2)
def _read_omniglot(root):
    return load_omniglot(root, download=True)  # read once per process
