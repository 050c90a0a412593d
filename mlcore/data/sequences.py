"""Label-offset episodes for memory-augmented networks (Santoro et al., 2016, section 3).

An episode is one sequence: `n_way` classes drawn from an `ImageDataset`, `n_instances`
images of each, shuffled together, with the labels 0..n_way-1 dealt to the classes at
random in every episode. At step t the network sees the image x_t and the label of the
*previous* step, y_{t-1}, and must output y_t: it learns a class's label only after its
first guess, so it must hold the binding between an image and a label in memory.

Every example is a query at its step and becomes support one step later, when its label
is shown; there is no support set given in advance. So `Task.query` holds the sequence, in
order, and `Task.support` is empty.
"""
import torch
import torch.nn.functional as F

from ..tasks import Sampler, Split, Task, empty_like
from ..validation import require


class SequenceSampler(Sampler):
    """Episodes of `n_way` x `n_instances` images in random order, labels shuffled."""

    def __init__(self, dataset, n_way, n_instances=10, seed=0):
        total, per_class = dataset.images.shape[:2]
        require(2 <= n_way <= total, "n_way", n_way,
                f"use 2 to {total} classes (the dataset has {total})")
        require(1 <= n_instances <= per_class, "n_instances", n_instances,
                f"use 1 to {per_class} images per class (the dataset has {per_class})")
        super().__init__(seed)
        self.dataset, self.n_way, self.n_instances = dataset, n_way, n_instances

    def task(self):
        """One episode as the query: x (T, 1, H, W) and y (T,), T = n_way * n_instances."""
        g = self.generator
        total, per_class = self.dataset.images.shape[:2]
        classes = torch.randperm(total, generator=g)[:self.n_way]  # label i -> classes[i]
        picks = torch.stack([torch.randperm(per_class, generator=g)[:self.n_instances]
                             for _ in range(self.n_way)])          # (n_way, n_instances)
        labels = torch.arange(self.n_way)[:, None].expand_as(picks).flatten()
        images = self.dataset.images[classes[:, None], picks].flatten(0, 1)
        order = torch.randperm(len(labels), generator=g)
        episode = Split(images[order], labels[order])
        return Task(empty_like(episode), episode)


def offset_labels(y, n_way):
    """One-hot y_{t-1} for every step t, zeros at t = 1.   (..., T, n_way)"""
    one_hot = F.one_hot(y, n_way).float()
    return torch.cat([torch.zeros_like(one_hot[..., :1, :]), one_hot[..., :-1, :]], dim=-2)


def presentations(y):
    """For every step, how many times its class has been shown so far, itself included.

    presentations([2, 0, 2, 2]) = [1, 1, 2, 3]: the instance number of the notes' table.
    """
    same = y[..., :, None] == y[..., None, :]  # (..., T, T): step t and step s share a class
    return torch.tril(same).sum(-1)
