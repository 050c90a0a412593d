"""Verification pairs for Siamese networks (Koch, Zemel & Salakhutdinov, 2015, section 3).

A pair is two images and a target: 1 if they show the same character, 0 if not. Half of
the pairs are "same". With `distort=True` every image of a pair gets its own random affine
distortion, as in Koch et al. (section 3.2): rotation in [-10, 10] degrees, shear in
[-0.3, 0.3], scale in [0.8, 1.2] and translation in [-2, 2] pixels, each component applied
with probability 1/2. Differs from the paper in: one shear (along x) and one scale for both
axes, where Koch et al. draw a shear and a scale per axis.

Nothing is adapted to before a pair is scored, so the support set is empty and the pairs
are the query: x (n_pairs, 2, 1, H, W), y (n_pairs,) in {0, 1}.
"""
import math

import torch
import torch.nn.functional as F

from ..tasks import Sampler, Split, Task, empty_like
from ..validation import require


class PairSampler(Sampler):
    """Batches of `n_pairs` same / different pairs from an `ImageDataset`."""

    def __init__(self, dataset, n_pairs, distort=False, seed=0):
        total, per_class = dataset.images.shape[:2]
        require(total >= 2, "dataset", f"{total} classes", "use a dataset with at least 2 classes")
        require(per_class >= 2, "dataset", f"{per_class} images per class",
                "use a dataset with at least 2 images per class")
        require(n_pairs >= 2 and n_pairs % 2 == 0, "n_pairs", n_pairs,
                "use an even number >= 2 (half the pairs are 'same')")
        super().__init__(seed)
        self.dataset, self.n_pairs, self.distort = dataset, n_pairs, distort

    def task(self):
        """One batch of pairs: x (n_pairs, 2, 1, H, W), y (n_pairs,), 1 = same character."""
        g, half = self.generator, self.n_pairs // 2
        total, per_class = self.dataset.images.shape[:2]
        same = torch.randint(total, (half,), generator=g).repeat(2, 1).T      # (half, 2)
        first = torch.randint(total, (half,), generator=g)
        other = (first + torch.randint(1, total, (half,), generator=g)) % total  # never first
        classes = torch.cat([same, torch.stack([first, other], 1)])          # (n_pairs, 2)
        drawers = torch.stack([torch.randperm(per_class, generator=g)[:2]
                               for _ in range(self.n_pairs)])                 # two drawers
        x = self.dataset.images[classes, drawers]                          # (n_pairs, 2, 1, H, W)
        if self.distort:
            x = affine_distort(x.flatten(0, 1), g).view_as(x)
        pairs = Split(x, torch.cat([torch.ones(half), torch.zeros(half)]))
        return Task(empty_like(pairs), pairs)


def affine_distort(images, generator):
    """Koch et al.'s random affine distortion of each image (n, 1, H, W), section 3.2."""
    n = len(images)

    def uniform(low, high):   # each component is used with probability 1/2
        value = low + (high - low) * torch.rand(n, generator=generator)
        return value * (torch.rand(n, generator=generator) < 0.5)

    shift = torch.stack([uniform(-2, 2), uniform(-2, 2)], 1)
    return affine(images, uniform(-10, 10), uniform(-0.3, 0.3), 1 + uniform(-0.2, 0.2), shift)


def affine(images, degrees, shear, scale, shift):
    """Rotate, shear, scale and shift (in pixels) each image (n, 1, H, W); the parameters
    are tensors of n values (shift: (n, 2) as x, y), applied about the image centre."""
    angle = torch.as_tensor(degrees, dtype=images.dtype) * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    matrix = torch.stack([torch.stack([cos, -sin + shear], -1), torch.stack([sin, cos], -1)], -2)
    matrix = matrix / torch.as_tensor(scale, dtype=images.dtype)[..., None, None]  # (n, 2, 2)
    offset = torch.as_tensor(shift, dtype=images.dtype) * 2 / images.shape[-1]     # to [-1, 1]
    theta = torch.cat([matrix, offset[..., None]], -1)                              # (n, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False)
