"""N-way K-shot episodes drawn from a dataset of image classes.

`ImageDataset` is what every image loader returns (embedded glyphs, real Omniglot): classes
of equal size. `ClusteredImages` holds classes of unequal sizes (the clusters that CACTUs
makes of unlabelled images). `EpisodeSampler` turns either into few-shot tasks (Vinyals
'16), `WithinAlphabetSampler` into Lake et al.'s one-shot tasks inside one alphabet,
`PooledSampler` into ordinary mini-batches over all classes at once (for the pre-trained
baselines).
"""
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from ..tasks import Sampler, Split, Task, empty_like
from ..validation import require

SPLITS = ("meta_train", "meta_val", "meta_test")
SPLIT_FRACTIONS = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class ImageDataset:
    """Classes of images: `images` (n_classes, n_per_class, 1, H, W) in [0, 1]."""

    images: torch.Tensor
    classes: tuple      # a unique name per class
    alphabets: tuple    # the alphabet of each class

    def __len__(self):
        return self.images.shape[0]

    @property
    def class_sizes(self):
        """The number of images of each class.   (n_classes,)"""
        return torch.full((len(self),), self.images.shape[1])

    def images_of(self, classes, picks):
        """Image picks[i, j] of class classes[i], for every i, j.   (n, m, 1, H, W)"""
        return self.images[classes[:, None], picks]

    def subset(self, class_indices):
        idx = list(class_indices)
        return ImageDataset(self.images[idx], tuple(self.classes[i] for i in idx),
                            tuple(self.alphabets[i] for i in idx))

    def split(self, split):
        """Classes of one meta-split; alphabets never straddle two splits."""
        if split is None:
            return self
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not one of {SPLITS} or None.")
        chosen = set(alphabets_of_split(self.alphabets, split))
        return self.subset(i for i, a in enumerate(self.alphabets) if a in chosen)

    def with_rotations(self):
        """Each class also turned by 90, 180 and 270 degrees, as three new classes of the same
        alphabet (Santoro et al. '16; Vinyals et al. '16): 4x the classes."""
        turned = torch.stack([self.images.rot90(k, dims=(-2, -1)) for k in range(4)], 1)
        return ImageDataset(turned.flatten(0, 1),  # (4 * n_classes, n_per_class, 1, H, W)
                            tuple(f"{c}/rot{90 * k:03d}" for c in self.classes for k in range(4)),
                            tuple(a for a in self.alphabets for _ in range(4)))


def alphabets_of_split(alphabets, split):
    """The alphabets of `split`: a fixed shuffle of the sorted alphabets, cut 60/20/20."""
    names = sorted(set(alphabets))
    order = np.random.default_rng(0).permutation(len(names))
    cuts = np.round(np.cumsum(SPLIT_FRACTIONS) * len(names)).astype(int)
    start = 0 if split == "meta_train" else cuts[SPLITS.index(split) - 1]
    return [names[i] for i in order[start:cuts[SPLITS.index(split)]]]


@dataclass(frozen=True)
class ClusteredImages:
    """Classes of unequal sizes: `images` (n_images, 1, H, W) and their class `labels`
    (n_images,), e.g. the k-means clusters of unlabelled images (CACTUs, Hsu et al. 2019).
    `EpisodeSampler` draws tasks from it like from an `ImageDataset`, using only the
    classes large enough for a task."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self):
        require(self.labels.dim() == 1 and len(self.labels) == len(self.images), "labels",
                f"shape {tuple(self.labels.shape)}",
                f"give one label per image ({len(self.images)})")
        require(self.labels.min() >= 0, "labels", int(self.labels.min()), "use labels >= 0")
        order = self.labels.argsort(stable=True)  # the images of class c: a contiguous block
        object.__setattr__(self, "images", self.images[order])
        object.__setattr__(self, "labels", self.labels[order])

    def __len__(self):
        return int(self.labels.max()) + 1

    @property
    def class_sizes(self):
        return torch.bincount(self.labels, minlength=len(self))

    def images_of(self, classes, picks):
        starts = self.class_sizes.cumsum(0) - self.class_sizes  # first row of each class
        return self.images[starts[classes][:, None] + picks]


class EpisodeSampler(Sampler):
    """N-way K-shot classification tasks from an `ImageDataset` or `ClusteredImages`.

    Each task picks `n_way` classes in random order (labels 0..n_way-1) and, per class,
    `k_shot` support and `k_query` query images; support and query never share an image.
    Only classes with at least `k_shot + k_query` images take part.
    """

    def __init__(self, dataset, n_way, k_shot, k_query, seed=0):
        require(n_way >= 2, "n_way", n_way, "use at least 2 classes per task")
        require(k_shot >= 1, "k_shot", k_shot, "use at least 1 example per class")
        require(k_query >= 1, "k_query", k_query, "use at least 1 query per class")
        sizes = dataset.class_sizes
        require(k_shot + k_query <= int(sizes.max()), "k_shot + k_query", k_shot + k_query,
                f"the largest class has {int(sizes.max())} images; lower k_shot or k_query")
        self.eligible = (sizes >= k_shot + k_query).nonzero().squeeze(1)  # (n_classes,)
        require(n_way <= len(self.eligible), "n_way", n_way,
                f"only {len(self.eligible)} classes have {k_shot + k_query} images; use "
                f"n_way <= {len(self.eligible)}")
        super().__init__(seed)
        self.dataset, self.n_way, self.k_shot, self.k_query = dataset, n_way, k_shot, k_query
        self.sizes = sizes

    def task(self, return_classes=False):
        """One task; with `return_classes`, also the dataset index of each label."""
        classes = self.choose_classes()  # classes[k] gets label k
        n = self.k_shot + self.k_query
        picks = torch.stack([torch.randperm(int(self.sizes[c]), generator=self.generator)[:n]
                             for c in classes])
        images = self.dataset.images_of(classes, picks)  # (n_way, k_shot + k_query, 1, H, W)
        labels = torch.arange(self.n_way)[:, None].expand(-1, n)
        task = Task(_flatten(images[:, :self.k_shot], labels[:, :self.k_shot]),
                    _flatten(images[:, self.k_shot:], labels[:, self.k_shot:]))
        return (task, classes) if return_classes else task

    def choose_classes(self):
        """`n_way` different classes in random order: a class's label differs between tasks."""
        order = torch.randperm(len(self.eligible), generator=self.generator)
        return self.eligible[order[:self.n_way]]


class ZeroShotSampler(EpisodeSampler):
    """Zero-shot tasks: the support set holds one item of class meta-data per class (e.g.
    `load_glyph_templates`), labelled 0..n_way-1; the query, `k_query` images per class."""

    def __init__(self, dataset, meta_data, n_way, k_query, seed=0):
        require(meta_data.classes == dataset.classes, "meta_data", f"{len(meta_data)} classes",
                "give the meta-data of the same classes in the same order, e.g. "
                "load_glyph_templates(split) with load_glyphs(split)")
        super().__init__(dataset, n_way, 1, k_query, seed)
        self.meta_data = meta_data

    def task(self, return_classes=False):
        task, classes = super().task(return_classes=True)  # its support image is not used
        support = Split(self.meta_data.images[classes, 0], torch.arange(self.n_way))
        task = Task(support, task.query)
        return (task, classes) if return_classes else task


class WithinAlphabetSampler(Sampler):
    """Lake et al.'s one-shot protocol ('15, as used by Koch et al. '15): a task takes `n_way`
    characters of *one* alphabet, one drawer's drawing of each as the support set and another
    drawer's drawing of each as the query set (labels 0..n_way-1 in random order).

    The characters of a task share their script's strokes and style (Lake et al. chose the
    protocol for that reason). Give it a dataset without rotated copies: a character and its
    rotation would be two classes of one task. Drawing j of every class is drawer j's.
    """

    def __init__(self, dataset, n_way=20, seed=0):
        sizes = Counter(dataset.alphabets)
        require(n_way >= 2, "n_way", n_way, "use at least 2 characters per task")
        require(max(sizes.values()) >= n_way, "n_way", n_way,
                f"no alphabet of this dataset has {n_way} characters (the largest has "
                f"{max(sizes.values())}); lower n_way or give alphabets with more characters")
        require(dataset.images.shape[1] >= 2, "dataset", f"{dataset.images.shape[1]} drawing(s)",
                "give at least 2 drawings per character: one for support, one for query")
        super().__init__(seed)
        self.dataset, self.n_way = dataset, n_way
        self.alphabets = sorted(a for a, size in sizes.items() if size >= n_way)
        self.members = {a: torch.tensor([i for i, b in enumerate(dataset.alphabets) if b == a])
                        for a in self.alphabets}

    def task(self, return_classes=False):
        """One task; with `return_classes`, also the dataset index of each label."""
        alphabet = self.alphabets[_draw(len(self.alphabets), 1, self.generator)[0]]
        members = self.members[alphabet]
        classes = members[_draw(len(members), self.n_way, self.generator)]  # classes[k]: label k
        drawers = _draw(self.dataset.images.shape[1], 2, self.generator)  # support, query
        images = self.dataset.images_of(classes, drawers.expand(self.n_way, 2))
        labels = torch.arange(self.n_way)
        task = Task(Split(images[:, 0], labels), Split(images[:, 1], labels))
        return (task, classes) if return_classes else task


class PooledSampler(Sampler):
    """Mini-batches over all classes of a dataset pooled together (labels = class index).

    A "task" here is an ordinary classification batch of `batch_size` images: nothing is
    adapted to, so the support set is empty and the batch is the query. Used to pre-train
    baselines.
    """

    def __init__(self, dataset, batch_size, seed=0):
        require(batch_size >= 1, "batch_size", batch_size, "use at least 1 image")
        super().__init__(seed)
        self.dataset, self.batch_size = dataset, batch_size

    def task(self):
        n_classes, n_per_class = self.dataset.images.shape[:2]
        flat = torch.randint(n_classes * n_per_class, (self.batch_size,),
                             generator=self.generator)
        batch = Split(self.dataset.images.flatten(0, 1)[flat], flat // n_per_class)
        return Task(empty_like(batch), batch)


def _draw(n, k, generator):
    """k different integers of 0..n-1 in random order."""
    return torch.randperm(n, generator=generator)[:k]


def _flatten(images, labels):
    return Split(images.flatten(0, 1), labels.flatten(0, 1))

