"""Label-offset episodes for memory-augmented networks (Santoro et al., 2016, section 3).

An episode is one sequence: `n_classes` classes drawn from an `ImageDataset`, `n_instances`
images of each, shuffled together, with the labels 0..n_classes-1 dealt to the classes at
random in every episode. At step t the network sees the image x_t and the label of the
*previous* step, y_{t-1}, and must output y_t: it learns a class's label only after its
first guess, so it must hold the binding between an image and a label in memory.

The episode is its own support and query set: every example is a query at its step and
becomes support one step later, when its label is shown. So `Task.support` and
`Task.query` hold the same sequence, in order.
"""
import torch
import torch.nn.functional as F

from ..tasks import Split, Task, require, stack


class SequenceSampler:
    """Episodes of `n_classes` x `n_instances` images in random order, labels shuffled."""

    def __init__(self, dataset, n_classes, n_instances=10, seed=0):
        total, per_class = dataset.images.shape[:2]
        require(2 <= n_classes <= total, "n_classes", n_classes,
                f"use 2 to {total} classes (the dataset has {total})")
        require(1 <= n_instances <= per_class, "n_instances", n_instances,
                f"use 1 to {per_class} images per class (the dataset has {per_class})")
        self.dataset, self.n_classes, self.n_instances = dataset, n_classes, n_instances
        self.generator = torch.Generator().manual_seed(seed)

    def task(self):
        """One episode: x (T, 1, H, W) and y (T,), T = n_classes * n_instances."""
        g = self.generator
        total, per_class = self.dataset.images.shape[:2]
        classes = torch.randperm(total, generator=g)[:self.n_classes]  # label i -> classes[i]
        picks = torch.stack([torch.randperm(per_class, generator=g)[:self.n_instances]
                             for _ in range(self.n_classes)])      # (n_classes, n_instances)
        labels = torch.arange(self.n_classes)[:, None].expand_as(picks).flatten()
        images = self.dataset.images[classes[:, None], picks].flatten(0, 1)
        order = torch.randperm(len(labels), generator=g)
        episode = Split(images[order], labels[order])
        return Task(episode, episode)

    def sample(self, meta_batch_size):
        """A batch of episodes stacked into one Task: x (B, T, 1, H, W), y (B, T)."""
        return stack(self.task() for _ in range(meta_batch_size))


def offset_labels(y, n_classes):
    """One-hot y_{t-1} for every step t, zeros at t = 1.   (..., T, n_classes)"""
    one_hot = F.one_hot(y, n_classes).float()
    return torch.cat([torch.zeros_like(one_hot[..., :1, :]), one_hot[..., :-1, :]], dim=-2)


def presentations(y):
    """For every step, how many times its class has been shown so far, itself included.

    presentations([2, 0, 2, 2]) = [1, 1, 2, 3]: the instance number of the notes' table.
    """
    same = y[..., :, None] == y[..., None, :]  # (..., T, T): step t and step s share a class
    return torch.tril(same).sum(-1)
