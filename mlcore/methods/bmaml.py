"""BMAML — Bayesian Model-Agnostic Meta-Learning (Yoon, Kim, Dia, Kim, Bengio & Ahn, 2018),
and EMAML, the ensemble of MAMLs it is compared with.

Chapter: notebooks/08_probabilistic_maml.ipynb   Equations: Stein variational gradient
descent (Liu & Wang 2016) as the inner loop, theta^m <- theta^m + eps phi(theta^m) with
phi(theta) = 1/M sum_j [k(theta^j, theta) grad log p(theta^j | D) + grad_{theta^j}
k(theta^j, theta)], an RBF kernel whose bandwidth is the median heuristic; the chaser loss
sum_m ||Theta_n(D^tr)[m] - stopgrad(Theta_{n+s}(D^tr u D^val))[m]||^2 (section 3).
Section numbers are those of the paper; its equation numbers were not at hand.
Variants here: `repulsion=False` drops the kernel's gradient term (the particles then only
share their gradients); `EMAML`: M independent MAMLs, no kernel, MAML's meta-loss.
Differs from the paper in: the log posterior is the log-likelihood, -n L(theta; D) / tau for
a loss L that averages over n examples (`temperature` tau; for the squared error and Gaussian
noise of standard deviation s, tau = 2 s^2);
the paper's particles also carry a weight prior and a learned noise precision with Gamma
hyper-priors, here the meta-learned particles and the few steps play the prior's role
(chapter 07's reading of early stopping).
"""
import copy
import math

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..functional import gradient, gradient_steps, per_task
from ..nets import n_outputs, plain_batch_norm
from ..tasks import Split
from ..train import classification_metrics
from ..validation import require


class Particles(nn.Module):
    """M copies of a network's parameters, each initialised independently, stored stacked
    (name -> (M, *shape)); `outputs(params, x)` runs every particle, (M, n, d_out). A
    subclass defines `adapt(params, split, steps)` and `_task_loss(task, theta)`."""

    def __init__(self, net, loss_fn, n_particles, inner_steps, test_inner_steps, batched):
        require(n_particles >= 1, "n_particles", n_particles, "use at least 1 particle")
        super().__init__()
        self.net, self.loss_fn, self.n_particles = net, loss_fn, n_particles
        self.inner_steps, self.batched = inner_steps, batched
        self.test_inner_steps = inner_steps if test_inner_steps is None else test_inner_steps
        self.names = [name for name, _ in net.named_parameters()]
        copies = [_reinitialised(net) for _ in range(n_particles)]
        self.initial = nn.ParameterList(
            [nn.Parameter(torch.stack([dict(c.named_parameters())[name].detach() for c in copies]))
             for name in self.names])
        self.n_way = n_outputs(net)

    def theta(self):
        return dict(zip(self.names, self.initial))

    def outputs(self, params, x):
        with plain_batch_norm():  # vmapped over the particles: see nets.BatchNorm2d
            return vmap(lambda p: functional_call(self.net, p, (x,)))(params)

    def losses(self, params, split, loss_fn):
        """Each particle's loss on `split`, (M,). A loop over the M particles: vmapping the
        loss too fails inside the task-level vmap (mse_loss's batching rule, torch 2.13)."""
        return torch.stack([loss_fn(out, split.y) for out in self.outputs(params, split.x)])

    def meta_loss(self, batch):
        """Mean over the tasks of the method's task loss; with 2 particles or more the metrics
        add `spread`, the starting particles' standard deviation averaged over the weights."""
        losses, outputs = per_task(self._task_loss, batch, self.theta(), batched=self.batched)
        metrics = classification_metrics(outputs, batch.query.y)
        if self.n_particles > 1:
            metrics["spread"] = _flatten(self.theta()).detach().std(0).mean()
        return losses.mean(), metrics

    def predict(self, task, inner_steps=None, n_samples=None):
        """The particles' mean output after adaptation; with `n_samples` (= M, the particles
        are the samples), every particle's, (M, n_query, d_out)."""
        require(n_samples in (None, self.n_particles), "n_samples", n_samples,
                f"the samples are the {self.n_particles} particles: pass n_samples=None "
                f"or {self.n_particles}")
        with torch.no_grad():
            steps = self.test_inner_steps if inner_steps is None else inner_steps
            outputs = self.outputs(self.adapt(self.theta(), task.support, steps), task.query.x)
        return outputs if n_samples else outputs.mean(0)


class BMAML(Particles):
    """M particles of the initialisation, moved towards a task's posterior by SVGD and
    meta-trained with the chaser loss."""

    def __init__(self, net, loss_fn, step_size, n_particles=5, inner_steps=1, leader_steps=1,
                 test_inner_steps=None, bandwidth=None, repulsion=True, temperature=1.0,
                 batched=None):
        require(step_size > 0, "step_size", step_size, "use a positive SVGD step size eps")
        require(temperature > 0, "temperature", temperature, "use a positive temperature")
        require(bandwidth is not None or n_particles >= 2, "n_particles", n_particles,
                "the median heuristic needs 2 particles or more; with 1, give a bandwidth")
        super().__init__(net, loss_fn, n_particles, inner_steps, test_inner_steps, batched)
        self.step_size, self.bandwidth, self.temperature = step_size, bandwidth, temperature
        self.leader_steps, self.repulsion = leader_steps, repulsion

    def log_posterior(self, params, split):
        """sum over the particles of log p(theta^m | D) = -n L(theta^m; D) / tau (a flat
        prior)."""
        return -len(split.y) * self.losses(params, split, self.loss_fn).sum() / self.temperature

    def adapt(self, params, split, steps):
        """`steps` SVGD steps from the particles `params` on `split`."""
        for _ in range(steps):
            grads = gradient(lambda p: -self.log_posterior(p, split), params)
            flat = _flatten(params)
            direction = svgd_direction(flat, -_flatten(grads), self.bandwidth, self.repulsion)
            params = _unflatten(flat + self.step_size * direction, params)
        return params

    def _task_loss(self, task, theta):
        """The chaser loss of one task."""
        chaser = self.adapt(theta, task.support, self.inner_steps)
        both = Split(torch.cat([task.support.x, task.query.x]),
                     torch.cat([task.support.y, task.query.y]))
        with torch.no_grad():  # stop-gradient: the leader is a fixed target
            leader = self.adapt(chaser, both, self.leader_steps)
        distance = sum(((chaser[n] - leader[n]) ** 2).sum() for n in chaser)
        return distance, self.outputs(chaser, task.query.x).mean(0)


class EMAML(Particles):
    """M independently initialised MAMLs (no kernel): each particle adapts by gradient
    descent on the support loss; the meta-loss is their mean query loss."""

    def __init__(self, net, loss_fn, alpha, n_particles=5, inner_steps=1, test_inner_steps=None,
                 batched=None):
        require(alpha > 0, "alpha", alpha, "use a positive inner step size")
        super().__init__(net, loss_fn, n_particles, inner_steps, test_inner_steps, batched)
        self.alpha = alpha

    def adapt(self, params, split, steps):
        def summed_loss(p):  # each particle's loss depends on its own weights only
            return self.losses(p, split, self.loss_fn).sum()
        return gradient_steps(summed_loss, params, self.alpha, steps)

    def _task_loss(self, task, theta):
        """MAML's query loss, averaged over the particles."""
        phi = self.adapt(theta, task.support, self.inner_steps)
        outputs = self.outputs(phi, task.query.x)
        return self.losses(phi, task.query, self.loss_fn).mean(), outputs.mean(0)


def svgd_direction(particles, grad_log_p, bandwidth=None, repulsion=True):
    """phi(theta^m) = 1/M sum_j [k(theta^j, theta^m) grad log p(theta^j)
    + grad_{theta^j} k(theta^j, theta^m)], k(a, b) = exp(-||a - b||^2 / h), for particles
    and gradients (M, P). h = `bandwidth`, else the median heuristic med(||theta^i -
    theta^j||^2) / log M (Liu & Wang 2016), held constant (no gradient through it)."""
    n_particles = len(particles)
    squared = (particles[:, None] - particles[None]).pow(2).sum(-1)   # (M, M); cdist's
    # gradient is undefined at the zero diagonal
    if bandwidth is None:
        require(n_particles >= 2, "particles", n_particles,
                "the median heuristic needs 2 particles or more; give a bandwidth")
        ordered = squared.flatten().sort().values   # the median: halfway between the middle
        median = (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2  # two
        bandwidth = (median / math.log(n_particles)).detach().clamp_min(1e-12)
    kernel = torch.exp(-squared / bandwidth)
    direction = kernel @ grad_log_p
    if repulsion:  # sum_j grad_{theta^j} k = (2 / h) sum_j k_jm (theta^m - theta^j)
        direction = direction + 2 / bandwidth * (kernel.sum(1, keepdim=True) * particles
                                                 - kernel @ particles)
    return direction / n_particles


def _flatten(params):
    return torch.cat([p.flatten(1) for p in params.values()], 1)        # (M, P)


def _unflatten(flat, like):
    sizes = [p[0].numel() for p in like.values()]
    return {n: chunk.view_as(like[n]) for n, chunk in zip(like, flat.split(sizes, 1))}


def _reinitialised(net):
    """A copy of `net` with every layer's parameters drawn afresh."""
    fresh = copy.deepcopy(net)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh
