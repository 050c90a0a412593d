"""Reptile — On First-Order Meta-Learning Algorithms (Nichol, Achiam & Schulman, 2018).

Chapter: notebooks/02_maml.ipynb, 02_maml_feature_reuse.ipynb   Equations: (4) Reptile
update, (5) its surrogate loss; Algorithm 2 with T mini-batches per task (the paper calls them K).
Variants here: none. Differs from the paper in: the mini-batches are dealt from the task's
examples in a fixed order (the paper samples them at random).
"""
from functools import partial

import torch
from torch.func import functional_call

from ..functional import gradient_steps, per_task
from ..train import classification_metrics
from .maml import MAML


class Reptile(MAML):
    """Move theta towards the weights phi^T that T steps of SGD reach on each task.

    The update theta <- theta + beta (phi^T - theta) is not the gradient of a loss of theta,
    so it is written as the surrogate 0.5 ||theta - stopgrad(phi^T)||^2, whose gradient is
    theta - phi^T: a descent step on it with step size beta is exactly Reptile's update.

    Reptile needs no held-out split: in meta-training its T steps run on T different
    mini-batches of all the task's examples, support and query, as in the paper (steps on
    one and the same batch learn far less). `predict` adapts on the support set with
    `test_inner_steps` full-batch steps.
    """

    def __init__(self, net, loss_fn, alpha, inner_steps=5, test_inner_steps=None, batched=None):
        super().__init__(net, loss_fn, alpha, inner_steps, test_inner_steps, first_order=True,
                         batched=batched)

    def meta_loss(self, batch):
        """Mean surrogate over the tasks; metrics of phi^T on the examples it was fitted to."""
        surrogates, outputs = per_task(self._surrogate, batch, self.theta(), batched=self.batched)
        targets = torch.cat([batch.support.y, batch.query.y], dim=1)  # (tasks, n_examples)
        task_loss = torch.stack([self.loss_fn(o, y) for o, y in zip(outputs, targets)])
        metrics = {"task_loss": task_loss.mean(), **classification_metrics(outputs, targets)}
        return surrogates.mean(), metrics

    def _surrogate(self, task, theta):
        x = torch.cat([task.support.x, task.query.x])  # (n_examples, ...)
        y = torch.cat([task.support.y, task.query.y])
        T = self.inner_steps
        if len(x) < T:
            raise ValueError(f"inner_steps={T} is invalid for tasks of {len(x)} examples: "
                             "Reptile takes one mini-batch per step; use fewer steps.")
        with torch.no_grad():
            phi = dict(theta)
            for t in range(T):  # mini-batch t: examples t, t + T, t + 2T, ...
                phi = gradient_steps(partial(self._loss, x=x[t::T], y=y[t::T]), phi,
                                     self.alpha, first_order=True)
            outputs = functional_call(self.net, phi, (x,))
        distance = sum(((theta[name] - phi[name]) ** 2).sum() for name in theta)
        return 0.5 * distance, outputs

    def _loss(self, phi, x, y):
        return self.loss_fn(functional_call(self.net, phi, (x,)), y)
