"""Oracles for chapter 08's PLATIPUS and its ambiguous tasks: the Gaussian KL in closed form
against Monte Carlo, PLATIPUS without noise or shifts is MAML, and sampled functions."""
import math

import pytest
import torch
import torch.nn.functional as F

import mlcore as ml
from mlcore.methods.platipus import gaussian_kl


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mean_q, mean_p = torch.randn(3, generator=g), torch.randn(3, generator=g)
    std_q, std_p = torch.rand(3, generator=g) + 0.5, torch.rand(3, generator=g) + 0.5
    q = torch.distributions.Normal(mean_q, std_q)
    p = torch.distributions.Normal(mean_p, std_p)
    samples = q.sample((400_000,))
    estimate = (q.log_prob(samples) - p.log_prob(samples)).sum(-1).mean()
    exact = gaussian_kl(mean_q, std_q, mean_p, std_p)
    assert abs(exact - estimate) < 0.02, (exact, estimate)
    assert gaussian_kl(mean_q, std_q, mean_q, std_q) == 0


def platipus_and_batch(**kwargs):
    torch.manual_seed(0)
    net = ml.nets.MLP([1, 8, 8, 1])
    batch = ml.data.SineOrLineSampler(3, 4, seed=0).sample(2)
    return ml.methods.PLATIPUS(net, F.mse_loss, alpha=0.05, **kwargs), batch


def test_without_noise_or_shifts_platipus_is_maml():
    """gamma_p = gamma_q = 0 and v_q = sigma_theta^2 -> 0: theta = mu_theta and KL = 0."""
    platipus, batch = platipus_and_batch(kl_weight=1.0, init_log_std=-30.0)
    with torch.no_grad():
        platipus.gamma_p.zero_(), platipus.gamma_q.zero_()
    maml = ml.methods.MAML(platipus.net, F.mse_loss, alpha=0.05)
    torch.testing.assert_close(platipus.meta_loss(batch)[0], maml.meta_loss(batch)[0])


def test_every_distribution_parameter_gets_a_gradient():
    platipus, batch = platipus_and_batch(kl_weight=0.1)
    platipus.meta_loss(batch)[0].backward()
    for name, parameter in platipus.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_sampled_functions_differ_and_repeat_with_the_generator():
    platipus, batch = platipus_and_batch(init_log_std=-1.0)
    task = ml.tasks.unstack(batch)[0]
    draws = [platipus.predict(task, n_samples=5, generator=torch.Generator().manual_seed(1))
             for _ in range(2)]
    assert draws[0].shape == (5, 4, 1) and torch.equal(draws[0], draws[1])
    assert draws[0].std(0).min() > 0
    torch.testing.assert_close(platipus.predict(task, generator=torch.Generator().manual_seed(1)),
                               platipus.predict(task, n_samples=10, generator=torch.Generator()
                                                .manual_seed(1)).mean(0))


def test_sine_or_line_tasks_follow_their_family():
    sampler = ml.data.SineOrLineSampler(4, 6, seed=0, noise=0.0)
    families = []
    for _ in range(200):
        task, params = sampler.task(return_params=True)
        truth = ml.data.family_function(params)
        torch.testing.assert_close(task.support.y, truth(task.support.x))
        families.append(params["family"])
    assert 70 < families.count("sine") < 130
    noisy = ml.data.SineOrLineSampler(4, 6, seed=0).task(return_params=True)
    assert not torch.allclose(noisy[0].query.y, ml.data.family_function(noisy[1])(noisy[0].query.x))


def test_crossing_tasks_fit_both_their_sine_and_their_line():
    sampler = ml.data.SineOrLineSampler(3, 6, seed=0)
    for _ in range(20):
        task, both = sampler.crossing_task(grid_points=50)
        sine, line = (ml.data.family_function(both[f]) for f in ("sine", "line"))
        assert task.support.x.shape == (3, 1) and task.query.x.shape == (51, 1)
        torch.testing.assert_close(task.support.y, sine(task.support.x))
        assert (line(task.support.x) - task.support.y).abs().max() < 0.1   # a grid step away
        torch.testing.assert_close(task.query.y, sine(task.query.x))


def test_the_sine_line_basis_holds_every_sine_and_line():
    net, x = ml.nets.SineLineBasis(x_scale=2.5), torch.linspace(-5, 5, 11)[:, None]
    amplitude, phase, slope, intercept = 2.0, 0.7, -1.5, 0.5
    with torch.no_grad():
        net.linear.weight.copy_(torch.tensor([[0.0, amplitude * math.cos(phase),
                                                -amplitude * math.sin(phase)]]))
        net.linear.bias.zero_()
        torch.testing.assert_close(net(x), amplitude * torch.sin(x - phase))
        net.linear.weight.copy_(torch.tensor([[2.5 * slope, 0.0, 0.0]]))
        net.linear.bias.fill_(intercept)
        torch.testing.assert_close(net(x), slope * x + intercept)


def test_bad_arguments_get_one_clear_error():
    with pytest.raises(ValueError, match="noise"):
        ml.data.SineOrLineSampler(4, 6, noise=-1.0)
    with pytest.raises(ValueError, match="slope"):
        ml.data.SineOrLineSampler(4, 6, slope=(3.0, -3.0))
    with pytest.raises(ValueError, match="k_shot=5"):  # a line crosses a sine this flat twice
        ml.data.SineOrLineSampler(5, 6, amplitude=(0.1, 0.1), x_range=(-2.0, 2.0)).crossing_task()
    with pytest.raises(ValueError, match="kl_weight"):
        ml.methods.PLATIPUS(ml.nets.MLP([1, 4, 1]), F.mse_loss, 0.1, kl_weight=-1.0)


def test_without_noise_the_vmapped_meta_loss_is_the_looped_one():
    platipus, batch = platipus_and_batch(kl_weight=0.1, init_log_std=-30.0)
    losses = []
    for batched in (False, True):
        platipus.batched = batched
        losses.append(platipus.meta_loss(batch)[0])
    torch.testing.assert_close(losses[0], losses[1])
