"""Reptile — On First-Order Meta-Learning Algorithms (Nichol, Achiam & Schulman, 2018).

Chapter: notebooks/02_maml.ipynb, 02_maml_feature_reuse.ipynb   Equations: (4) Reptile
update, (5) its surrogate loss; Algorithm 2 with K mini-batches per task.
Variants here: none. Differs from the paper in: the mini-batches are dealt from the task's
examples in a fixed order (the paper samples them at random).
"""
import torch
from torch.func import functional_call

from ..tasks import Split
from .maml import MAML, classification_metrics


class Reptile(MAML):
    """Move theta towards the weights phi^K that K steps of SGD reach on each task.

    The update theta <- theta + beta (phi^K - theta) is not the gradient of a loss of theta,
    so it is written as the surrogate 0.5 ||theta - stopgrad(phi^K)||^2, whose gradient is
    theta - phi^K: a descent step on it with step size beta is exactly Reptile's update.

    Reptile needs no held-out split: in meta-training its K steps run on K different
    mini-batches of all the task's examples, support and query, as in the paper (steps on
    one and the same batch learn far less). `predict` adapts on the support set with
    `test_steps` full-batch steps.
    """

    def __init__(self, net, loss_fn, alpha, steps=5, test_steps=None, batched=None):
        super().__init__(net, loss_fn, alpha, steps, test_steps, first_order=True,
                         batched=batched)

    def meta_loss(self, batch):
        """Mean surrogate over the tasks; metrics of phi^K on the examples it was fitted to."""
        surrogates, outputs = self._per_task(self._surrogate, batch)
        targets = torch.cat([batch.support.y, batch.query.y], dim=1)  # (tasks, n_examples)
        task_loss = torch.stack([self.loss_fn(o, y) for o, y in zip(outputs, targets)])
        metrics = {"task_loss": task_loss.mean(), **classification_metrics(outputs, targets)}
        return surrogates.mean(), metrics

    def _surrogate(self, theta, task, vmapped):
        x = torch.cat([task.support.x, task.query.x])  # (n_examples, ...)
        y = torch.cat([task.support.y, task.query.y])
        if len(x) < self.steps:
            raise ValueError(f"steps={self.steps} is invalid for tasks of {len(x)} examples: "
                             "Reptile takes one mini-batch per step; use fewer steps.")
        with torch.no_grad():
            phi = dict(theta)
            for k in range(self.steps):  # mini-batch k: examples k, k + K, k + 2K, ...
                phi = self._step(phi, Split(x[k::self.steps], y[k::self.steps]), vmapped)
            outputs = functional_call(self.net, phi, (x,))
        distance = sum(((theta[name] - phi[name]) ** 2).sum() for name in theta)
        return 0.5 * distance, outputs
