"""Reptile — On First-Order Meta-Learning Algorithms (Nichol, Achiam & Schulman, 2018).

Chapter: notebooks/02_maml.ipynb   Equations: (4) Reptile update, (5) its surrogate loss
Variants here: none. Differs from the paper in: the inner steps use the task's support set
in full batches (the paper samples mini-batches from the task).
"""
import torch
from torch.func import functional_call

from .maml import MAML, classification_metrics


class Reptile(MAML):
    """Move theta towards the weights phi^K that K steps of SGD reach on each task.

    The update theta <- theta + beta (phi^K - theta) is not the gradient of a loss of theta,
    so it is written as the surrogate 0.5 ||theta - stopgrad(phi^K)||^2, whose gradient is
    theta - phi^K: a descent step on it with step size beta is exactly Reptile's update.
    """

    def __init__(self, net, loss_fn, alpha, steps=5, test_steps=None, batched=None):
        super().__init__(net, loss_fn, alpha, steps, test_steps, first_order=True,
                         batched=batched)

    def meta_loss(self, batch):
        surrogates, outputs = self._per_task(self._surrogate, batch)
        targets = batch.query.y
        query_loss = torch.stack([self.loss_fn(o, y) for o, y in zip(outputs, targets)])
        metrics = {"query_loss": query_loss.mean(), **classification_metrics(outputs, targets)}
        return surrogates.mean(), metrics

    def _surrogate(self, theta, task, vmapped):
        with torch.no_grad():
            phi = self.adapt(theta, task.support, vmapped=vmapped)
            outputs = functional_call(self.net, phi, (task.query.x,))
        distance = sum(((theta[name] - phi[name]) ** 2).sum() for name in theta)
        return 0.5 * distance, outputs
