"""Hidden tests of assignment 08 (probabilistic MAML): each function fails with an
AssertionError that says what is wrong. Compared with mlcore's SVGD direction and with
PLATIPUS's loss built from mlcore's gradient steps and Gaussian KL, on random inputs."""
import torch
from grading import own_work

import mlcore as ml
from mlcore.methods.bmaml import svgd_direction as reference_direction
from mlcore.methods.platipus import gaussian_kl

FORBIDDEN = ["mlcore.methods", "mlcore.functional"]


def _random(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def svgd_direction_matches(svgd_direction):
    own_work(svgd_direction, FORBIDDEN)
    for seed, (n_particles, size, bandwidth) in enumerate([(2, 3, 1.0), (5, 4, 0.3), (7, 2, 5.0)]):
        particles, grads = _random(seed, n_particles, size), _random(seed + 10, n_particles, size)
        torch.testing.assert_close(
            svgd_direction(particles, grads, bandwidth),
            reference_direction(particles, grads, bandwidth),
            msg="phi(theta^m) = 1/M sum_j [k_jm grad log p(theta^j) + grad_{theta^j} k_jm]")
    particles = torch.tensor([[0.0], [1.0]])
    push = svgd_direction(particles, torch.zeros(2, 1), 1.0)
    assert push[0, 0] < 0 < push[1, 0], ("with zero gradients the kernel's gradient term pushes "
                                         "the particles apart: check its sign")


def _reference_loss(mu, log_sigma, log_q_scale, gamma_p, gamma_q, alpha, task, kl_weight, noise):
    def loss_on(split):
        return lambda w: ((_features(split.x) @ w["w"] - split.y[:, 0]) ** 2).mean()
    q_mean = ml.gradient_steps(loss_on(task.query), {"w": mu}, gamma_q)["w"]
    p_mean = ml.gradient_steps(loss_on(task.support), {"w": mu}, gamma_p)["w"]
    theta = q_mean + log_q_scale.exp() * noise
    phi = ml.gradient_steps(loss_on(task.support), {"w": theta}, alpha)
    kl = gaussian_kl(q_mean, log_q_scale.exp(), p_mean, log_sigma.exp())
    return loss_on(task.query)(phi) + kl_weight * kl


def _features(x):
    return torch.cat([x / 2.5, torch.sin(x), torch.cos(x), torch.ones_like(x)], 1)


def platipus_loss_matches(platipus_loss, features=None):
    own_work(platipus_loss, FORBIDDEN)
    if features is not None:
        torch.testing.assert_close(features(torch.ones(2, 1)), _features(torch.ones(2, 1)),
                                   msg="keep the given features")
    sampler = ml.data.SineOrLineSampler(3, 6, seed=0)
    for seed in range(3):
        task = sampler.task()
        inputs = [_random(seed, 4).requires_grad_(), 0.3 * _random(seed + 1, 4),
                  0.3 * _random(seed + 2, 4), torch.tensor(0.05 + 0.1 * seed),
                  torch.tensor(0.2 - 0.05 * seed)]
        inputs = [t.detach().requires_grad_() for t in inputs]
        noise = _random(seed + 3, 4)
        value = platipus_loss(*inputs, 0.1, task, 0.01, noise)
        expected = _reference_loss(*inputs, 0.1, task, 0.01, noise)
        torch.testing.assert_close(value, expected, msg="L(phi, D^val) + w KL(q || p) for one task")
        grads = torch.autograd.grad(value, inputs, allow_unused=True)
        expected_grads = torch.autograd.grad(expected, inputs)
        for name, got, want in zip(["mu", "log_sigma", "log_q_scale", "gamma_p", "gamma_q"],
                                   grads, expected_grads):
            assert got is not None, f"the loss does not depend on {name}: keep the graph"
            torch.testing.assert_close(got, want, msg=f"the gradient in {name} (create_graph=True "
                                                      "in every inner gradient)")
