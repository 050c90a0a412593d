"""N-way K-shot episodes drawn from a dataset of image classes.

`ImageDataset` is what every image loader returns (embedded glyphs, real Omniglot);
`EpisodeSampler` turns it into few-shot tasks (Vinyals '16), `PooledSampler` into ordinary
mini-batches over all its classes at once (for the pre-trained baselines).
"""
from dataclasses import dataclass

import numpy as np
import torch

from ..tasks import Split, Task, require, stack

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


def alphabets_of_split(alphabets, split):
    """The alphabets of `split`: a fixed shuffle of the sorted alphabets, cut 60/20/20."""
    names = sorted(set(alphabets))
    order = np.random.default_rng(0).permutation(len(names))
    cuts = np.round(np.cumsum(SPLIT_FRACTIONS) * len(names)).astype(int)
    start = 0 if split == "meta_train" else cuts[SPLITS.index(split) - 1]
    return [names[i] for i in order[start:cuts[SPLITS.index(split)]]]


class EpisodeSampler:
    """N-way K-shot classification tasks from an `ImageDataset`.

    Each task picks `n_way` classes in random order (labels 0..n_way-1) and, per class,
    `k_shot` support and `k_query` query images; support and query never share an image.
    """

    def __init__(self, dataset, n_way, k_shot, k_query, seed=0):
        n_classes, n_per_class = dataset.images.shape[:2]
        require(n_way >= 2, "n_way", n_way, "use at least 2 classes per task")
        require(n_way <= n_classes, "n_way", n_way,
                 f"the dataset has only {n_classes} classes; use n_way <= {n_classes}")
        require(k_shot >= 1, "k_shot", k_shot, "use at least 1 example per class")
        require(k_query >= 1, "k_query", k_query, "use at least 1 query per class")
        require(k_shot + k_query <= n_per_class, "k_shot + k_query", k_shot + k_query,
                 f"each class has only {n_per_class} images; lower k_shot or k_query")
        self.dataset, self.n_way, self.k_shot, self.k_query = dataset, n_way, k_shot, k_query
        self.generator = torch.Generator().manual_seed(seed)

    def task(self, return_classes=False):
        """One task; with `return_classes`, also the dataset index of each label."""
        n_classes, n_per_class = self.dataset.images.shape[:2]
        classes = torch.randperm(n_classes, generator=self.generator)[:self.n_way]
        picks = torch.stack([torch.randperm(n_per_class, generator=self.generator)
                             [:self.k_shot + self.k_query] for _ in range(self.n_way)])
        images = self.dataset.images[classes[:, None], picks]  # (n_way, k_shot + k_query, 1, H, W)
        labels = torch.arange(self.n_way)[:, None].expand(-1, picks.shape[1])
        task = Task(_flatten(images[:, :self.k_shot], labels[:, :self.k_shot]),
                    _flatten(images[:, self.k_shot:], labels[:, self.k_shot:]))
        return (task, classes) if return_classes else task

    def sample(self, meta_batch_size):
        """A batch of `meta_batch_size` tasks stacked into one Task."""
        return stack(self.task() for _ in range(meta_batch_size))


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


class PooledSampler:
    """Mini-batches over all classes of a dataset pooled together (labels = class index).

    A "task" here is an ordinary classification batch: `support` and `query` are two
    independent mini-batches of `batch_size` images. Used to pre-train baselines.
    """

    def __init__(self, dataset, batch_size, seed=0):
        require(batch_size >= 1, "batch_size", batch_size, "use at least 1 image")
        self.dataset, self.batch_size = dataset, batch_size
        self.n_way = len(dataset)
        self.generator = torch.Generator().manual_seed(seed)

    def task(self):
        return Task(self._batch(), self._batch())

    def sample(self, meta_batch_size):
        return stack(self.task() for _ in range(meta_batch_size))

    def _batch(self):
        n_classes, n_per_class = self.dataset.images.shape[:2]
        flat = torch.randint(n_classes * n_per_class, (self.batch_size,),
                             generator=self.generator)
        return Split(self.dataset.images.flatten(0, 1)[flat], flat // n_per_class)


def _flatten(images, labels):
    return Split(images.flatten(0, 1), labels.flatten(0, 1))

