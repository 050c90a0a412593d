"""Real Omniglot (Lake et al., 2015): 1,623 handwritten characters from 50 alphabets.

Reads the standard layout, `images_background/<alphabet>/<character>/*.png` (and
`images_evaluation/...`), from folders or from the official zip files, and returns the same
`ImageDataset` as the embedded glyphs: 28x28 images with ink = 1 on a background of 0.

`split_omniglot` cuts the characters into meta-splits by the papers' protocol when all
1,623 are there: 1,200 characters for meta-training, irrespective of alphabet, and the other
423 for meta-test (Vinyals et al. '16, Finn et al. '17), with 100 of the 1,200 held out for
meta-validation as in Finn et al.'s code. A partial copy is cut by alphabet instead.
"""
import io
import re
import urllib.error
import urllib.request
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..validation import require
from .episodes import SPLITS, ImageDataset, alphabets_of_split

URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/{}.zip"
ARCHIVES = ("images_background", "images_evaluation")
SIZE = 28
_PNG = re.compile(r"(?:^|/)([^/]+)/([^/]+)/([^/]+\.png)$")
N_CHARACTERS = 1623
PAPERS_SPLIT = dict(meta_train=1100, meta_val=100, meta_test=423)  # characters


def load_omniglot(root, split=None, download=False):
    """Omniglot from `root` as an `ImageDataset`; `split` as in `load_glyphs` (None = all).

    `root` may hold the official zip files or their extracted folders, in any mix; a
    character found twice (e.g. in two subsets) is one class. With `download=True`, missing
    official archives are fetched into `root` first, unless `root` holds other Omniglot
    drawings and none of the official archives (a sample, read as it is).
    """
    root = Path(root).expanduser()
    drawings = _find_drawings(root)
    if download and (_has_official_archive(root) or not drawings) and _download(root):
        drawings = _find_drawings(root)  # read again only when something new arrived
    if not drawings:
        raise FileNotFoundError(
            f"no Omniglot images under root={str(root)!r}. Put the official archives "
            f"{', '.join(a + '.zip' for a in ARCHIVES)} (or their extracted folders) there, "
            f"from {URL.format('<name>')}, or call load_omniglot(root, download=True) online.")
    return _to_dataset(drawings).split(split)


def split_omniglot(data, split):
    """The characters of one meta-split (`split` None: all of them).

    With all 1,623 characters, the papers' protocol: a fixed random order of the characters,
    cut 1,100 / 100 / 423 (`PAPERS_SPLIT`). With fewer (a partial copy, such as the two
    small background sets), the scaled-down protocol: whole alphabets, cut 60/20/20 like the
    embedded glyphs. `omniglot_protocol` says which applies.
    """
    if split is None or not is_complete(data):
        return data.split(split)
    require(split in SPLITS, "split", split, f"use one of {SPLITS} or None")
    order = np.random.default_rng(1).permutation(len(data))
    counts = [PAPERS_SPLIT[s] for s in SPLITS]
    start = sum(counts[:SPLITS.index(split)])
    return data.subset(sorted(order[start:start + PAPERS_SPLIT[split]]))


def is_complete(data):
    """Does `data` hold all of Omniglot (so that the papers' protocol applies)?"""
    return len(data) == N_CHARACTERS


def omniglot_protocol(data):
    """The protocol `split_omniglot` applies to `data`, in one sentence."""
    sizes = [len(split_omniglot(data, s)) for s in SPLITS]
    if is_complete(data):
        return (f"the papers' protocol: all {N_CHARACTERS:,} characters, in a fixed random "
                f"order irrespective of alphabet, cut into {sizes[0]:,} meta-train, {sizes[1]} "
                f"meta-val and {sizes[2]} meta-test characters")
    alphabets = [len(alphabets_of_split(data.alphabets, s)) for s in SPLITS]
    return (f"a scaled-down protocol for a partial copy ({len(data)} of the "
            f"{N_CHARACTERS:,} characters, {len(set(data.alphabets))} alphabets): whole "
            f"alphabets cut {alphabets[0]}/{alphabets[1]}/{alphabets[2]} into meta-train, "
            f"meta-val and meta-test ({sizes[0]}/{sizes[1]}/{sizes[2]} characters)")


def _has_official_archive(root):
    return any((root / f"{name}.zip").exists() or (root / name).is_dir() for name in ARCHIVES)


def _find_drawings(root):
    """Map (alphabet, character) -> {file name: png bytes} over every zip and folder."""
    drawings = defaultdict(dict)
    if not root.is_dir():
        return drawings
    for archive in sorted(root.glob("*.zip")):
        with zipfile.ZipFile(archive) as opened:
            for name in opened.namelist():
                _add(drawings, name, lambda name=name: opened.read(name))
    for png in sorted(root.rglob("*.png")):
        _add(drawings, png.relative_to(root).as_posix(), png.read_bytes)
    return drawings


def _add(drawings, path, read):
    match = _PNG.search(path)
    if match:
        alphabet, character, file_name = match.groups()
        if file_name not in drawings[alphabet, character]:
            drawings[alphabet, character][file_name] = read()


def _to_dataset(drawings):
    keys = sorted(drawings)
    n_per_class = min(len(drawings[key]) for key in keys)  # 20 drawers in the official data
    images = np.stack([[_ink(drawings[key][name]) for name in sorted(drawings[key])[:n_per_class]]
                       for key in keys])
    return ImageDataset(torch.from_numpy(images)[:, :, None],
                        tuple(f"{a}/{c}" for a, c in keys), tuple(a for a, _ in keys))


def _ink(png_bytes):
    """105x105 black-on-white PNG -> 28x28 float32 ink in [0, 1] (area-averaged)."""
    image = Image.open(io.BytesIO(png_bytes)).convert("L").resize((SIZE, SIZE), Image.BOX)
    return 1 - np.asarray(image, dtype=np.float32) / 255


def _download(root):
    """Fetch the official archives missing from root; True if any was fetched."""
    root.mkdir(parents=True, exist_ok=True)
    fetched = False
    for archive in ARCHIVES:
        target = root / f"{archive}.zip"
        if target.exists() or (root / archive).is_dir():
            continue
        try:
            with urllib.request.urlopen(URL.format(archive), timeout=60) as response:
                payload = response.read()
        except (urllib.error.URLError, OSError) as error:
            raise FileNotFoundError(
                f"could not download {URL.format(archive)} ({error}). Offline, copy the "
                f"archive to {target} by hand and call load_omniglot(root) again.") from error
        partial = target.with_suffix(".partial")
        partial.write_bytes(payload)
        partial.replace(target)
        fetched = True
    return fetched
