"""The one task type of the book: a support set and a query set.

A `Task` is a NamedTuple of tensors only, so a batch of tasks is the same type with a
leading task dimension and `torch.func.vmap` maps a one-task function over it:

    batch = stack([task_1, task_2])      # batch.support.x: (2, n_support, ...)
    losses = torch.func.vmap(task_loss)(batch)

Inside a task the two sets are called `support` (the task's D^tr) and `query` (D^val);
see book/notation.md for how these differ from the meta-sets S^tr / S^val / S^test.
"""
from typing import NamedTuple

import torch


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


def check(task):
    """Raise ValueError unless `task` is a Task of Splits with as many x rows as y rows."""
    if not isinstance(task, Task) or not all(isinstance(s, Split) for s in task):
        raise ValueError(f"expected a Task(Split, Split), got {type(task).__name__}; "
                         "build it with ml.Task(ml.Split(x, y), ml.Split(x, y)).")
    for name, split in zip(Task._fields, task):
        if len(split.x) != len(split.y):
            raise ValueError(f"task.{name}: x has shape {tuple(split.x.shape)} but y has "
                             f"shape {tuple(split.y.shape)}; they must have as many rows.")
    return task


def require(ok, name, value, fix):
    """Raise `ValueError` naming the argument, its value and the fix, unless `ok`."""
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: {fix}.")
