"""The one task type of the book: a support set and a query set; and what samplers share.

A `Task` is a NamedTuple of tensors only, so a batch of tasks is the same type with a
leading task dimension and `torch.func.vmap` maps a one-task function over it:

    batch = stack([task_1, task_2])      # batch.support.x: (2, n_support, ...)
    losses = ml.per_task(task_loss, batch)

Inside a task the two sets are called `support` (the task's D^tr) and `query` (D^val);
see book/notation.md for how these differ from the meta-sets S^tr / S^val / S^test.

The shapes of tasks in the book (every sampler returns one of these):
- **few-shot episode** (`EpisodeSampler` and its kin): `n_way` classes labelled
  0..n_way-1 in random order; support (n_way * k_shot, ...), query (n_way * k_query, ...).
  A support label `UNLABELLED` (-1) marks an example whose class is not given
  (semi-supervised and active episodes); query labels are always given.
- **regression task** (`SinusoidSampler`): float targets (k, 1) in both sets.
- **no support set**: when nothing is adapted on before the examples are scored, the
  support set is empty (zero rows) and everything is in the query: a label-offset sequence
  (`SequenceSampler`, read in order), verification pairs (`PairSampler`, x (n, 2, ...)) and
  the pooled mini-batches of ordinary pre-training (`PooledSampler`, labels = class index
  in the pooled dataset).
Optimizees (chapter 03) are functions to minimise, not Tasks: their samplers return them.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .validation import require, require_finite

UNLABELLED = -1  # the label of a support example whose class is not given


class Split(NamedTuple):
    """Inputs `x` and targets `y` of one set of examples (labels are 0..n_way-1)."""

    x: torch.Tensor
    y: torch.Tensor


class Task(NamedTuple):
    """One learning problem: adapt on `support`, measure on `query`."""

    support: Split
    query: Split


def stack(tasks):
    """Stack a list of tasks into one batched Task with a leading task dimension."""
    tasks = list(tasks)
    if not tasks:
        raise ValueError("stack(tasks): got an empty list; pass at least one Task.")

    def stacked(splits):
        return Split(torch.stack([s.x for s in splits]), torch.stack([s.y for s in splits]))
    return Task(stacked([t.support for t in tasks]), stacked([t.query for t in tasks]))


def unstack(batch):
    """Split a batched Task into a list of single tasks (the inverse of `stack`)."""
    return [Task(Split(sx, sy), Split(qx, qy)) for sx, sy, qx, qy in
            zip(batch.support.x, batch.support.y, batch.query.x, batch.query.y)]


def to_device(task, device):
    """Move every tensor of a (batched) task to `device`."""
    return Task(*(Split(s.x.to(device), s.y.to(device)) for s in task))


def empty_like(split):
    """A split with no rows, shaped like `split` otherwise: the support of a task that has none."""
    return Split(split.x[:0], split.y[:0])


def one_hot(labels, n_way):
    """One-hot rows of `n_way` columns; an `UNLABELLED` (-1) label gives a row of zeros."""
    return F.one_hot(labels.clamp_min(0), n_way) * (labels >= 0)[..., None]


def check(task, n_way=None):
    """Return `task` if it is a well-formed Task, else raise one ValueError that says why.

    Checks that it is a Task of Splits with as many x rows as y rows, that no input or
    target is NaN or infinite, and, with `n_way`, that its class labels lie in 0..n_way-1
    (support labels may also be `UNLABELLED`). Call it where tasks enter mlcore from outside.
    """
    if not isinstance(task, Task) or not all(isinstance(s, Split) for s in task):
        raise ValueError(f"expected a Task(Split, Split), got {type(task).__name__}; "
                         "build it with ml.Task(ml.Split(x, y), ml.Split(x, y)).")
    for name, split in zip(Task._fields, task):
        if split.x.shape[:1] != split.y.shape[:1]:
            raise ValueError(f"task.{name}: x has shape {tuple(split.x.shape)} but y has "
                             f"shape {tuple(split.y.shape)}; they must have as many rows.")
        require_finite(split.x, f"task.{name}.x")
        require_finite(split.y, f"task.{name}.y")
    if n_way is not None and not task.query.y.is_floating_point():
        _check_labels(task, n_way)
    return task


def _check_labels(task, n_way):
    for name, split, lowest in (("support", task.support, UNLABELLED), ("query", task.query, 0)):
        if len(split.y) and not (lowest <= int(split.y.min()) and int(split.y.max()) < n_way):
            raise ValueError(
                f"task.{name}.y has labels {int(split.y.min())}..{int(split.y.max())}, but "
                f"n_way={n_way} allows 0..{n_way - 1}: the model has {n_way} outputs (its "
                f"head size, or the n_way it was built with); sample {n_way}-way tasks or "
                "build the model for the tasks' n_way.")


class Sampler:
    """What every sampler shares: its own random generator (never the global one), `sample`
    as a stack of `task()`s, and its state for checkpoints (`state_dict`).

    A subclass validates its arguments once in `__init__`, calls `super().__init__(seed)`
    and implements `task()`. One that keeps more state (a replay buffer, cached clusters)
    extends `state_dict` and `load_state_dict`, so that a resumed run draws the same tasks.
    """

    def __init__(self, seed=0):
        self.generator = torch.Generator().manual_seed(seed)

    def task(self):
        raise NotImplementedError(f"{type(self).__name__} must implement task()")

    def sample(self, meta_batch_size):
        """A batch of `meta_batch_size` tasks stacked into one Task."""
        require(meta_batch_size >= 1, "meta_batch_size", meta_batch_size, "ask for at least 1")
        return stack(self.task() for _ in range(meta_batch_size))

    def state_dict(self):
        """What the sampler needs to go on drawing exactly the same tasks: tensors only."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])
