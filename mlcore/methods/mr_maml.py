"""MR-MAML — Meta-Learning without Memorization (Yin, Tucker, Zhou, Levine & Finn, 2020).

Chapter: notebooks/09_memorization.ipynb   Equations: MAML's query loss plus beta KL(q || r)
with r = N(0, I): MR-MAML (W) puts q = N(mu, sigma^2) on the weights of the body, which the
inner loop does not adapt (only the head adapts, as in ANIL); MR-MAML (A) makes the body's
output a random code z ~ q(z | x) = N(m(x), s(x)^2) and puts the KL on the query inputs'
codes. The paper's section and equation numbers were not at hand: the objectives follow
the authors' code (google-research/meta_learning_without_memorization: maml_bbb.py for (W),
sinusoid/MR_MAML.ipynb for (A)).
Variants here: `beta=0` with a tiny `init_log_std` is ANIL with the same body/head split.
Differs from the authors' code in: the standard deviations are stored as logs (the code:
softplus); every body parameter is stochastic (the code: kernels, not biases); one weight
sample per task, shared by its support and query sets (the code: one per meta-batch and
set); `predict` uses the mean weights (the code samples).
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..functional import gradient_steps, per_task
from ..nets import parameters_of
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
        return standard_normal_kl(self.theta(), self.body_names, self.log_std)

    def meta_loss(self, batch):
        """Mean query loss after adaptation, each task with its own body sample, plus beta
        times the weights' KL."""
        losses, outputs = per_task(self._query_loss, batch, self.theta(), batched=self.batched)
        loss = losses.mean() + self.beta * self.weight_kl()
        return loss, classification_metrics(outputs, batch.query.y)

    def _query_loss(self, task, theta):
        return super()._query_loss(task, sampled_weights(theta, self.body_names, self.log_std))


class MRMAMLActivations(ANIL):
    """MR-MAML (A): the body outputs a mean and a raw scale per code unit (2 d numbers for a
    head of d inputs), z = mean + softplus(raw) * noise for the support and the query inputs,
    and each task adds beta KL(q(z | x*) || N(0, I)), averaged over its queries."""

    def __init__(self, net, loss_fn, alpha, beta=1.0, **kwargs):
        require(beta >= 0, "beta", beta, "weight the KL term by a number >= 0")
        super().__init__(net, loss_fn, alpha, **kwargs)
        self.beta = beta

    def codes(self, theta, x, sample=True):
        """The codes of inputs x, (n, d), sampled or their means, and their KL to N(0, I)
        averaged over the n inputs."""
        out = functional_call(self.net.body, parameters_of(theta, "body"), (x,))  # (n, 2 d)
        mean, std = out[:, :out.shape[1] // 2], F.softplus(out[:, out.shape[1] // 2:])
        z = mean + std * torch.randn_like(std) if sample else mean
        kl = gaussian_kl(mean, std, torch.zeros_like(mean), torch.ones_like(std)) / len(x)
        return z, kl

    def adapt_head(self, theta, codes, labels, inner_steps=None):
        """MAML's inner loop on the head, on the support set's codes."""
        def support_loss(w):
            return self.loss_fn(functional_call(self.net.head, w, (codes,)), labels)
        steps = self.inner_steps if inner_steps is None else inner_steps
        return gradient_steps(support_loss, parameters_of(theta, "head"), self.step_size(),
                              steps, self.first_order)

    def predict(self, task, inner_steps=None):
        """Adapt the head on the support set's mean codes; predict from the queries'."""
        with torch.no_grad():
            theta = self.theta()
            steps = self.test_inner_steps if inner_steps is None else inner_steps
            w = self.adapt_head(theta, self.codes(theta, task.support.x, False)[0],
                                task.support.y, steps)
            return functional_call(self.net.head, w, (self.codes(theta, task.query.x, False)[0],))

    def _query_loss(self, task, theta):
        w = self.adapt_head(theta, self.codes(theta, task.support.x)[0], task.support.y)
        z, kl = self.codes(theta, task.query.x)
        outputs = functional_call(self.net.head, w, (z,))
        return self.loss_fn(outputs, task.query.y) + self.beta * kl, outputs


def sampled_weights(params, names, log_stds):
    """`params` with the entries `names` drawn from N(params[name], exp(log_std)^2),
    reparameterised (mean + std * noise), so gradients reach the means and the log_stds."""
    return {**params, **{name: params[name] + s.exp() * torch.randn_like(s)
                         for name, s in zip(names, log_stds)}}


def standard_normal_kl(params, names, log_stds):
    """KL(N(params[names], exp(log_stds)^2) || N(0, I)), summed over the weights."""
    return sum(gaussian_kl(params[name], s.exp(), torch.zeros_like(s), torch.ones_like(s))
               for name, s in zip(names, log_stds))
