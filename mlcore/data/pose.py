"""Pose regression on glyphs: the analogue of Yin et al.'s (2020) Pascal3D pose tasks.

A task is one character shown at `k_shot + k_query` random rotations; the target of an
image is its angle measured from the character's own *canonical* orientation,
y = 5 (r + c) in [0, 10), with r in [0, 1) the rotation as a fraction of `max_angle` and c in
[0, 1) the canonical offset (Yin et al. scale their angles to [0, 10) too; no wrap-around, so
the squared error means what it says). With `mutually_exclusive=False` the offset is fixed
per character, as the paper's is per object: a network that recognises a meta-training
character from one image knows its offset, so it can ignore the support set (memorize).
With `mutually_exclusive=True` the offset is drawn afresh for every task, and the support
set is the only way to know it. The paper's tasks are per object; here, per character.
A glyph has no recognisable front (an unseen character's rotation cannot be read from one
image), so `marker=True` draws a short bar at the top of the page before rotating: the
rotation r becomes readable from any image, as an object's pose is, and the offset c stays
the one thing the support set must reveal. `label_noise` > 0 adds Gaussian noise of that
standard deviation to the support targets only (the query is scored against exact angles):
the support set then reveals c only approximately.
"""
import math

import torch
import torch.nn.functional as F

from ..tasks import Sampler, Split, Task
from ..validation import require


class PoseSampler(Sampler):
    """K-shot pose regression from an `ImageDataset`: inputs (n, 1, size, size), targets
    (n, 1); `task(return_params=True)` also returns {'character', 'offset'}. The offsets
    belong to the characters (drawn from `offset_seed`), not to the task stream (`seed`): two
    samplers with different seeds give the same character the same offset."""

    def __init__(self, dataset, k_shot, k_query, seed=0, mutually_exclusive=False,
                 max_angle=180.0, size=28, marker=False, offset_seed=0, label_noise=0.0):
        require(k_shot >= 1, "k_shot", k_shot, "use at least 1 support image")
        require(k_query >= 1, "k_query", k_query, "use at least 1 query image")
        require(0 < max_angle <= 360, "max_angle", max_angle, "give degrees in (0, 360]")
        require(size >= 4, "size", size, "give an image side of at least 4 pixels")
        require(label_noise >= 0, "label_noise", label_noise, "give a standard deviation >= 0")
        super().__init__(seed)
        self.dataset, self.k_shot, self.k_query = dataset, k_shot, k_query
        self.mutually_exclusive, self.max_angle, self.size = mutually_exclusive, max_angle, size
        self.marker, self.label_noise = marker, label_noise
        fixed = torch.Generator().manual_seed(offset_seed)  # the characters' canonical offsets
        self.offsets = torch.rand(len(dataset), generator=fixed)               # (n_classes,)

    def task(self, return_params=False):
        n = self.k_shot + self.k_query
        character = int(torch.randint(len(self.dataset), (), generator=self.generator))
        offset = (torch.rand((), generator=self.generator) if self.mutually_exclusive
                  else self.offsets[character])
        picks = torch.randint(self.dataset.images.shape[1], (n,), generator=self.generator)
        r = torch.rand(n, generator=self.generator)                           # (n,)
        x = self.dataset.images[character, picks]                             # (n, 1, H, W)
        x = rotate(with_marker(x) if self.marker else x, r * self.max_angle)
        if self.size != x.shape[-1]:
            x = F.interpolate(x, size=(self.size, self.size), mode="area")
        y = 5 * (r + offset)[:, None]                                          # (n, 1)
        k = self.k_shot
        support_y = y[:k]
        if self.label_noise:
            support_y = support_y + self.label_noise * torch.randn(
                support_y.shape, generator=self.generator)
        task = Task(Split(x[:k], support_y), Split(x[k:], y[k:]))
        params = {"character": character, "offset": float(offset)}
        return (task, params) if return_params else task


def with_marker(images):
    """A copy of `images` (n, 1, H, W) with a bar, two rows high and W / 7 wide, at the top
    centre: inside the circle that rotation keeps."""
    width = images.shape[-1]
    half = max(1, width // 14)
    marked = images.clone()
    marked[..., :2, width // 2 - half:width // 2 + half] = 1.0
    return marked


def rotate(images, degrees):
    """Each image (n, 1, H, W) turned counter-clockwise by its angle in `degrees` (n,)
    about its centre, the corners filled with the background 0."""
    radians = degrees * math.pi / 180
    cos, sin = radians.cos(), radians.sin()
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1),
                         torch.stack([sin, cos, zero], 1)], 1)                 # (n, 2, 3)
    grid = F.affine_grid(theta, images.shape, align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")
