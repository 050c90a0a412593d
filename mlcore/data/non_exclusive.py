"""Non-mutually-exclusive episodes: every class always has the same label (Yin et al. 2020,
section 3 and appendix; the setting in which meta-learners memorize).

The classes are dealt once into `n_way` fixed groups (class c goes to group c mod n_way);
a task draws one class from each group and labels it with its group's index. A single
network can then solve every meta-training task from the query image alone, without
looking at the support set. (Only leaving the labels unshuffled would not do this: two
tasks could still give one class two labels.)
"""
import torch

from .episodes import EpisodeSampler


class NonMutuallyExclusiveSampler(EpisodeSampler):
    """N-way K-shot tasks from an `ImageDataset` in which class -> label is fixed."""

    def __init__(self, dataset, n_way, k_shot, k_query, seed=0):
        super().__init__(dataset, n_way, k_shot, k_query, seed)
        self.groups = [self.eligible[label::n_way] for label in range(n_way)]

    def label_of(self, class_index):
        """The one label class `class_index` has in every task."""
        return next(label for label, group in enumerate(self.groups) if class_index in group)

    def choose_classes(self):
        """One class from each group, in group order: group k's class gets label k."""
        picks = [torch.randint(len(group), (), generator=self.generator) for group in self.groups]
        return torch.stack([group[i] for group, i in zip(self.groups, picks)])
