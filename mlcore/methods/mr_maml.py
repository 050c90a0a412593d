"""MR-MAML — Meta-Learning without Memorization (Yin, Tucker, Zhou, Levine & Finn, 2020).

Chapter: notebooks/09_memorization.ipynb   Equations: MAML's query loss plus beta KL(q || r)
with r = N(0, I): MR-MAML (W) puts q = N(mu, sigma^2) on the weights of the body, which the
inner loop does not adapt (only the head adapts, as in ANIL). The paper's section and
equation numbers were not at hand: the objective follows the authors' code
(google-research/meta_learning_without_memorization, maml_bbb.py).
Variants here: `beta=0` with a tiny `init_log_std` is ANIL with the same body/head split.
Differs from the authors' code in: the standard deviations are stored as logs (the code:
softplus); every body parameter is stochastic (the code: kernels, not biases); one weight
sample per task, shared by its support and query sets (the code: one per meta-batch and
set); `predict` uses the mean weights (the code samples).
"""
import torch
from torch import nn

from ..functional import per_task
from ..train import classification_metrics
from ..validation import require
from .anil import ANIL
from .platipus import gaussian_kl


class MRMAML(ANIL):
    """ANIL whose body weights are random, theta_body ~ N(mu, sigma^2) with a learned mean
    (the body's parameters) and log standard deviation per weight (`log_std`), regularised
    towards N(0, I) by `beta` KL(q(theta_body) || N(0, I)), once per meta-batch."""

    def __init__(self, net, loss_fn, alpha, beta=1e-3, init_log_std=-6.0, **kwargs):
        require(beta >= 0, "beta", beta, "weight the KL term by a number >= 0")
        super().__init__(net, loss_fn, alpha, **kwargs)
        self.beta = beta
        self.body_names = [f"body.{name}" for name, _ in net.body.named_parameters()]
        self.log_std = nn.ParameterList(
            [nn.Parameter(torch.full_like(p, init_log_std)) for p in net.body.parameters()])

    def weight_kl(self):
        """KL(q(theta_body) || N(0, I)), summed over the body's weights."""
        mean = self.theta()
        return sum(gaussian_kl(mean[name], log_std.exp(), torch.zeros_like(log_std),
                               torch.ones_like(log_std))
                   for name, log_std in zip(self.body_names, self.log_std))

    def meta_loss(self, batch):
        """Mean query loss after adaptation, each task with its own body sample, plus beta
        times the weights' KL."""
        losses, outputs = per_task(self._query_loss, batch, self.theta(), batched=self.batched)
        loss = losses.mean() + self.beta * self.weight_kl()
        return loss, classification_metrics(outputs, batch.query.y)

    def _query_loss(self, task, theta):
        sampled = {name: theta[name] + log_std.exp() * torch.randn_like(log_std)
                   for name, log_std in zip(self.body_names, self.log_std)}  # reparameterised
        return super()._query_loss(task, {**theta, **sampled})
