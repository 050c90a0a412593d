"""Embedded glyphs: an Omniglot-like dataset built offline from procedural pen strokes.

Like Omniglot (Lake et al., 2015), characters belong to alphabets and each character is
drawn by 20 "drawers". Every alphabet has its own small library of stroke shapes and a
style (round or angular, few or many strokes); a character combines a few of its
alphabet's strokes, so characters of one alphabet look alike, as in real scripts. Each
drawer perturbs the stroke control points, the pen width and the overall pose, so that
two drawings of one character differ much more than two pixels of noise. The builder also
keeps each character's clean *template* (its strokes drawn without any drawer), the class
meta-data of zero-shot prototypical networks (chapter 05).

The build is deterministic (fixed seeds, float64, stored as uint8) and cached in
`$MLCORE_DATA` (default `~/.cache/mlcore`).
"""
import functools
import os
from pathlib import Path

import numpy as np
import torch

from .episodes import ImageDataset

VERSION = 2  # 2: adds a clean template of every character (the images are unchanged)
N_ALPHABETS, CHARACTERS_PER_ALPHABET, DRAWERS = 40, 30, 20
SIZE = 28
POINT_JITTER = 0.16    # per-drawer noise on stroke control points (glyph box is [-1, 1]^2)
POSE_JITTER = dict(rotation=0.18, scale=0.12, shear=0.15, shift=0.12)
PEN_WIDTH = (1.3, 2.3)  # pixels


def load_glyphs(split=None):
    """The embedded glyphs as an `ImageDataset`, restricted to one meta-split.

    `split` is "meta_train", "meta_val", "meta_test" or None for all 1,200 classes.
    Alphabets are split 60/20/20, so no alphabet appears in two splits.
    """
    return _read(_built())[0].split(split)


def load_glyph_templates(split=None):
    """One clean drawing of every character, as its alphabet defines it (no drawer's
    jitter, the middle pen width): an `ImageDataset` with one image per class, its classes
    in the order of `load_glyphs(split)`. Zero-shot ProtoNets use it as class meta-data."""
    return _read(_built())[1].split(split)


def _built():
    path = cache_dir() / f"glyphs-v{VERSION}.npz"
    if not path.exists():
        _atomic_save(path, build_glyphs())
    return path


def cache_dir():
    """Where built datasets live: `$MLCORE_DATA`, else `~/.cache/mlcore`."""
    return Path(os.environ.get("MLCORE_DATA", Path.home() / ".cache" / "mlcore"))


def build_glyphs(seed=0):
    """Draw every character of every alphabet: uint8 images (classes, drawers, 28, 28) and
    templates (classes, 28, 28)."""
    rng = np.random.default_rng(seed)
    images, templates, classes, alphabets = [], [], [], []
    for a in range(N_ALPHABETS):
        alphabet = f"script_{a:02d}"
        style = _alphabet_style(rng)
        for c in range(CHARACTERS_PER_ALPHABET):
            strokes = _character(rng, style)
            drawings = [_drawn_by_a_drawer(rng, strokes, style) for _ in range(DRAWERS)]
            images.append(render(drawings, rng.uniform(*PEN_WIDTH, DRAWERS)))
            templates.append(_template(strokes, style))
            classes.append(f"{alphabet}/character{c + 1:02d}")
            alphabets.append(alphabet)
    images, templates = (np.round(np.stack(a) * 255).astype(np.uint8) for a in (images, templates))
    return dict(images=images, templates=templates, classes=np.array(classes),
                alphabets=np.array(alphabets))


def render(drawings, widths):
    """Rasterise drawings with an anti-aliased round pen: (n_drawings, 28, 28) in [0, 1].

    Each drawing is a list of strokes, each stroke (n_points, 2) in the glyph box [-1, 1]^2;
    all drawings must have the same number of points (drawers of one character do).
    """
    segments = np.stack([np.concatenate([np.stack([s[:-1], s[1:]], 1) for s in strokes])
                         for strokes in drawings])              # (D, S, 2, 2) as (row, col)
    segments = (segments + 1) * (SIZE - 7) / 2 + 3              # glyph box -> pixels, 3 px margin
    rows, cols = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5, indexing="ij")
    distance = _distance_to_segments(np.stack([rows, cols], -1).reshape(-1, 2), segments)
    intensity = np.clip(np.asarray(widths)[:, None] / 2 + 0.5 - distance, 0, 1)
    return intensity.reshape(-1, SIZE, SIZE)


def _distance_to_segments(points, segments):
    """Distance from each point (P, 2) to the nearest segment of each drawing: (D, P)."""
    points, segments = points.astype(np.float32), segments.astype(np.float32)
    (ar, ac), (br, bc) = segments[:, None, :, 0].T, segments[:, None, :, 1].T  # each (S, 1, D)
    dr, dc = br - ar, bc - ac
    offset_r, offset_c = points[None, :, 0, None] - ar, points[None, :, 1, None] - ac  # (S, P, D)
    t = np.clip((offset_r * dr + offset_c * dc) / np.maximum(dr * dr + dc * dc, 1e-9), 0, 1)
    squared = (offset_r - t * dr) ** 2 + (offset_c - t * dc) ** 2
    return np.sqrt(squared.min(0)).T


def _alphabet_style(rng):
    style = dict(round=rng.random() < 0.6, mean_strokes=rng.uniform(1.2, 3.0))
    style["library"] = [_stroke_shape(rng, style) for _ in range(rng.integers(4, 9))]
    return style


def _stroke_shape(rng, style):
    """Control points of one stroke: an arc, or a zig-zag of 2-5 points."""
    if style["round"] and rng.random() < 0.5:
        start, sweep = rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.9) * np.pi
        angles = start + sweep * np.linspace(0, 1, 5)
        return np.stack([np.sin(angles), np.cos(angles)], 1)
    points = rng.uniform(-1, 1, (rng.integers(2, 6), 2))
    return points if style["round"] else np.round(points * 2) / 2  # angular: snap to a grid


def _character(rng, style):
    """A character: 1-4 strokes from the alphabet's library (or new), placed at random."""
    n_strokes = int(np.clip(rng.poisson(style["mean_strokes"]), 1, 4))
    strokes = []
    for _ in range(n_strokes):
        shape = (style["library"][rng.integers(len(style["library"]))] if rng.random() < 0.75
                 else _stroke_shape(rng, style))
        angle = rng.integers(4) * np.pi / 2 if rng.random() < 0.5 else rng.uniform(0, 2 * np.pi)
        strokes.append(shape @ _rotation(angle) * rng.uniform(0.4, 1.0) + rng.uniform(-0.6, 0.6, 2))
    return _fit_to_box(strokes)


def _drawn_by_a_drawer(rng, strokes, style):
    """One drawer's version of a character: jittered control points and pose, smoothed."""
    pose = (_rotation(rng.normal(0, POSE_JITTER["rotation"]))
            @ np.diag(1 + rng.normal(0, POSE_JITTER["scale"], 2))
            @ np.array([[1, rng.normal(0, POSE_JITTER["shear"])], [0, 1]]))
    shift = rng.normal(0, POSE_JITTER["shift"], 2)
    drawn = []
    for points in strokes:
        points = points + rng.normal(0, POINT_JITTER, points.shape)
        if style["round"]:
            points = _smooth(points)
        drawn.append(points @ pose.T + shift)
    return drawn


def _template(strokes, style):
    """The character without any drawer: its control points (smoothed if the alphabet is
    round), no pose jitter, the middle pen width. Uses no randomness."""
    drawn = [_smooth(points) if style["round"] else points for points in strokes]
    return render([drawn], [np.mean(PEN_WIDTH)])[0]


def _smooth(points, per_segment=8):
    """Catmull-Rom spline through the control points (a pen moves smoothly)."""
    padded = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    curve = [0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                    + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3)
             for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:])]
    return np.concatenate(curve + [points[-1:]])


def _fit_to_box(strokes):
    allpoints = np.concatenate(strokes)
    centre = (allpoints.max(0) + allpoints.min(0)) / 2
    scale = max(np.abs(allpoints - centre).max(), 1e-6)
    return [(s - centre) / scale * 0.85 for s in strokes]


def _rotation(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


@functools.lru_cache(maxsize=1)
def _read(path):
    """The drawings and the templates, each as an `ImageDataset`."""
    with np.load(path) as stored:
        names = tuple(stored["classes"].tolist()), tuple(stored["alphabets"].tolist())
        images = torch.from_numpy(stored["images"]).float().div_(255)[:, :, None]
        templates = torch.from_numpy(stored["templates"]).float().div_(255)[:, None, None]
    return ImageDataset(images, *names), ImageDataset(templates, *names)


def _atomic_save(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial-{os.getpid()}.npz")
    np.savez_compressed(partial, **arrays)
    os.replace(partial, path)
