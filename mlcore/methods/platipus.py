"""PLATIPUS — Probabilistic Model-Agnostic Meta-Learning (Finn, Xu & Levine, 2018).

Chapter: notebooks/08_probabilistic_maml.ipynb   Equations: Algorithm 1 (meta-training) and
Algorithm 2 (meta-testing). A diagonal Gaussian over the initialisation, theta ~
N(mu_theta, sigma_theta^2), shifted towards each task by one gradient step of learned size:
the prior p(theta | D^tr) = N(mu_theta - gamma_p grad L(mu_theta, D^tr), sigma_theta^2),
the inference network q(theta | D^val) = N(mu_theta - gamma_q grad L(mu_theta, D^val), v_q).
Meta-training samples theta from q, adapts phi = theta - alpha grad L(theta, D^tr) and
minimises L(phi, D^val) + kl_weight KL(q || p); meta-testing samples theta from the prior
and adapts the same way, so n samples give n functions.
Variants here: `predict(task, n_samples=n)` returns the n sampled functions' outputs;
without it, their mean.
Differs from the paper in: q is conditioned on D^val alone, as in Algorithm 1 as the public
re-implementations follow it (the text of section 4 is reported to condition it on both
sets; the paper's body was not at hand to check); one sample of theta per task and
meta-step; the variances are learned as log standard deviations, one per weight.
"""
import torch
from torch import nn
from torch.func import functional_call

from ..functional import gradient_steps, per_task
from ..validation import require
from .maml import MAML


class PLATIPUS(MAML):
    """MAML with a learned Gaussian over its initialisation, trained by a variational bound.

    The network's parameters are the mean mu_theta; `log_sigma` (sigma_theta, the prior's
    standard deviations) and `log_q_scale` (sqrt(v_q), the inference network's) have one entry
    per weight; `gamma_p`, `gamma_q` are learned step sizes, started at `alpha`.
    """

    def __init__(self, net, loss_fn, alpha, kl_weight=1e-3, init_log_std=-3.0, inner_steps=1,
                 test_inner_steps=None, n_test_samples=10, **kwargs):
        require(kl_weight >= 0, "kl_weight", kl_weight, "weight the KL term by a number >= 0")
        require(n_test_samples >= 1, "n_test_samples", n_test_samples, "use at least 1 sample")
        super().__init__(net, loss_fn, alpha, inner_steps, test_inner_steps, **kwargs)
        self.kl_weight, self.n_test_samples = kl_weight, n_test_samples
        self.names = [name for name, _ in net.named_parameters()]
        self.log_sigma = nn.ParameterList(
            [nn.Parameter(torch.full_like(p, init_log_std)) for p in net.parameters()])
        self.log_q_scale = nn.ParameterList(
            [nn.Parameter(torch.full_like(p, init_log_std)) for p in net.parameters()])
        self.gamma_p = nn.Parameter(torch.tensor(float(alpha)))
        self.gamma_q = nn.Parameter(torch.tensor(float(alpha)))

    def prior(self, mu, support):
        """p(theta | D^tr): (mean, std) dicts, mean = mu - gamma_p grad L(mu, D^tr)."""
        return self._shifted(mu, support, self.gamma_p), self._std(self.log_sigma)

    def posterior(self, mu, query):
        """q(theta | D^val): (mean, std) dicts, mean = mu - gamma_q grad L(mu, D^val)."""
        return self._shifted(mu, query, self.gamma_q), self._std(self.log_q_scale)

    def sample_functions(self, task, n_samples, inner_steps=None, generator=None):
        """Algorithm 2, n times: theta ~ p(theta | D^tr), phi = the inner loop from theta;
        the outputs on task.query.x, (n_samples, n_query, d_out). The samples' inner loops
        run side by side (vmapped), as a batch of tasks does on a GPU."""
        steps = self.test_inner_steps if inner_steps is None else inner_steps

        def outputs_of(theta):
            phi = self.adapt(theta, task.support, steps)
            return functional_call(self.net, phi, (task.query.x,))

        with torch.no_grad():
            mean, std = self.prior(self.theta(), task.support)
            thetas = _sample(mean, std, generator, n_samples)               # name -> (n, ...)
            return per_task(outputs_of, thetas, batched=True)

    def predict(self, task, inner_steps=None, n_samples=None, generator=None):
        """The mean output of `n_test_samples` sampled functions; with `n_samples`, all of
        them (n_samples, n_query, d_out)."""
        if n_samples is not None:
            return self.sample_functions(task, n_samples, inner_steps, generator)
        return self.sample_functions(task, self.n_test_samples, inner_steps, generator).mean(0)

    def _query_loss(self, task, mu):
        """Algorithm 1, lines 6-11, for one task."""
        q_mean, q_std = self.posterior(mu, task.query)
        theta = _sample(q_mean, q_std)                           # reparameterised
        phi = self.adapt(theta, task.support)
        outputs = functional_call(self.net, phi, (task.query.x,))
        p_mean, p_std = self.prior(mu, task.support)
        kl = sum(gaussian_kl(q_mean[n], q_std[n], p_mean[n], p_std[n]) for n in self.names)
        return self.loss_fn(outputs, task.query.y) + self.kl_weight * kl, outputs

    def _shifted(self, mu, split, step_size):
        def loss_of(params):
            return self.loss_fn(functional_call(self.net, params, (split.x,)), split.y)
        return gradient_steps(loss_of, mu, step_size, steps=1)

    def _std(self, log_stds):
        return {name: log_std.exp() for name, log_std in zip(self.names, log_stds)}


def gaussian_kl(mean_q, std_q, mean_p, std_p):
    """KL(N(mean_q, std_q^2) || N(mean_p, std_p^2)) of diagonal Gaussians, summed over the
    coordinates: sum log(std_p / std_q) + (std_q^2 + (mean_q - mean_p)^2) / (2 std_p^2) - 1/2."""
    ratio = (std_q / std_p) ** 2
    return 0.5 * (ratio + ((mean_q - mean_p) / std_p) ** 2 - 1 - ratio.log()).sum()


def _sample(mean, std, generator=None, n_samples=None):
    """mean + std * standard normal noise, per parameter (dicts name -> tensor); with
    `n_samples`, that many draws stacked along a new first dimension."""
    def noise(like):
        shape = like.shape if n_samples is None else (n_samples, *like.shape)
        if generator is None:
            return torch.randn(shape, dtype=like.dtype, device=like.device)
        return torch.randn(shape, generator=generator).to(like)
    return {n: mean[n] + std[n] * noise(mean[n]) for n in mean}
