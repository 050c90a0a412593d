"""Hidden tests of assignment 09 (meta-learning without memorization): each function fails
with an AssertionError that says what is wrong. The KL is compared with mlcore's
`standard_normal_kl` (MR-MAML (W)'s penalty) and the sample with mu + sigma * noise drawn
from the same generator, on random inputs."""
import torch
from grading import own_work

from mlcore.methods.mr_maml import standard_normal_kl

FORBIDDEN = ["mlcore.methods", "mlcore.functional"]


def _random(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def kl_matches(kl_to_standard_normal):
    own_work(kl_to_standard_normal, FORBIDDEN)
    for seed, shapes in enumerate([[(3,)], [(4, 2), (2,)], [(2, 3, 3), (5,), (1,)]]):
        means = [_random(seed + i, *s).requires_grad_() for i, s in enumerate(shapes)]
        log_stds = [(0.5 * _random(seed + 10 + i, *s)).requires_grad_()
                    for i, s in enumerate(shapes)]
        names = [str(i) for i in range(len(shapes))]
        expected = standard_normal_kl(dict(zip(names, means)), names, log_stds)
        value = kl_to_standard_normal(means, log_stds)
        torch.testing.assert_close(value, expected, msg="sum over weights of "
                                   "(sigma^2 + mu^2 - 1 - ln sigma^2) / 2, sigma = exp(log_std)")
        grads = torch.autograd.grad(value, means + log_stds, allow_unused=True)
        for got, want in zip(grads, torch.autograd.grad(expected, means + log_stds)):
            assert got is not None, "the KL must be differentiable in the means and log stds"
            torch.testing.assert_close(got, want, msg="the KL's gradient")


def sampling_matches(sample_weights):
    own_work(sample_weights, FORBIDDEN)
    params = {"a": _random(0, 3, 2).requires_grad_(), "b": _random(1, 4).requires_grad_()}
    log_stds = {"a": (0.3 * _random(2, 3, 2)).requires_grad_(),
                "b": (0.3 * _random(3, 4)).requires_grad_()}
    sample = sample_weights(params, log_stds, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    for name, mu in params.items():
        expected = mu + log_stds[name].exp() * torch.randn(mu.shape, generator=g)
        torch.testing.assert_close(
            sample[name], expected, msg=f"{name}: mu + exp(log_std) * noise, the noise drawn "
                                        "with torch.randn(shape, generator=generator)")
    total = sum(s.sum() for s in sample.values())
    grads = torch.autograd.grad(total, [*params.values(), *log_stds.values()], allow_unused=True)
    assert all(g is not None for g in grads), ("reparameterise: the gradient must reach the "
                                               "means and the log standard deviations")
