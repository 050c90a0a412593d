"""Oracles for chapter 08's BMAML and EMAML: the SVGD direction by hand, one particle is
gradient ascent, the chaser loss has no gradient through its leader."""
import math

import pytest
import torch
import torch.nn.functional as F

import mlcore as ml
from mlcore.methods.bmaml import svgd_direction


def test_svgd_direction_of_two_particles_by_hand():
    particles = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    grads = torch.tensor([[1.0, -1.0], [0.5, 0.0]])
    h = 2.0
    k = math.exp(-5.0 / h)                                   # ||theta^1 - theta^2||^2 = 5
    # phi(theta^1) = 1/2 [k(1,1) g1 + k(2,1) g2 + grad_1 k(1,1) + grad_2 k(2,1)],
    # grad_2 k(theta^2, theta^1) = -(2/h)(theta^2 - theta^1) k
    first = 0.5 * (grads[0] + k * grads[1] - 2 / h * (particles[1] - particles[0]) * k)
    second = 0.5 * (k * grads[0] + grads[1] - 2 / h * (particles[0] - particles[1]) * k)
    torch.testing.assert_close(svgd_direction(particles, grads, bandwidth=h),
                               torch.stack([first, second]))
    median = 2.5 / math.log(2)                      # of the squared distances 0, 0, 5, 5
    torch.testing.assert_close(svgd_direction(particles, grads),
                               svgd_direction(particles, grads, bandwidth=median))


def test_the_repulsive_term_pushes_particles_apart():
    particles, no_force = torch.tensor([[0.0], [0.1]]), torch.zeros(2, 1)
    push = svgd_direction(particles, no_force, bandwidth=1.0)
    assert push[0, 0] < 0 < push[1, 0]
    assert torch.equal(svgd_direction(particles, no_force, 1.0, repulsion=False), no_force)


def regression(n_particles, **kwargs):
    torch.manual_seed(0)
    batch = ml.data.SinusoidSampler(4, 4, seed=0).sample(2)
    method = ml.methods.BMAML(ml.nets.MLP([1, 8, 1]), F.mse_loss, 0.01,
                              n_particles=n_particles, **kwargs)
    return method, batch


def test_one_particle_with_a_fixed_bandwidth_is_gradient_ascent_on_the_log_posterior():
    bmaml, batch = regression(1, bandwidth=1.0)
    task = ml.tasks.unstack(batch)[0]
    theta = {name: p[0] for name, p in bmaml.theta().items()}
    moved = bmaml.adapt(bmaml.theta(), task.support, steps=3)

    def loss_of(params):  # log p = -n L, so eps grad log p = -(eps n) grad L
        return F.mse_loss(torch.func.functional_call(bmaml.net, params, (task.support.x,)),
                          task.support.y)
    expected = ml.gradient_steps(loss_of, theta, 0.01 * len(task.support.y), steps=3)
    for name in theta:
        torch.testing.assert_close(moved[name][0], expected[name])


def test_the_median_heuristic_needs_two_particles():
    with pytest.raises(ValueError, match="n_particles"):
        regression(1)
    with pytest.raises(ValueError, match="particles"):
        svgd_direction(torch.zeros(1, 3), torch.zeros(1, 3))


def test_the_chaser_loss_has_no_gradient_through_the_leader():
    """With no chaser steps the chaser is Theta_0 itself, so d loss / d Theta_0 =
    2 (Theta_0 - leader): any gradient through the leader would add to it."""
    bmaml, batch = regression(3, inner_steps=0)
    task = ml.tasks.unstack(batch)[0]
    loss, _ = bmaml._task_loss(task, bmaml.theta())
    grads = torch.autograd.grad(loss, list(bmaml.initial))
    both = ml.Split(torch.cat([task.support.x, task.query.x]),
                    torch.cat([task.support.y, task.query.y]))
    leader = bmaml.adapt({n: p.detach() for n, p in bmaml.theta().items()}, both, 1)
    for grad, (name, start) in zip(grads, bmaml.theta().items()):
        torch.testing.assert_close(grad, 2 * (start.detach() - leader[name]))


def test_particles_start_apart_and_predict_their_mean():
    bmaml, batch = regression(4)
    first = bmaml.initial[0]
    assert all(not torch.equal(first[0], first[m]) for m in range(1, 4))
    task = ml.tasks.unstack(batch)[0]
    each = bmaml.predict(task, n_samples=4)
    torch.testing.assert_close(bmaml.predict(task), each.mean(0))
    with pytest.raises(ValueError, match="n_samples"):
        bmaml.predict(task, n_samples=7)


def test_emaml_particles_adapt_independently_like_maml():
    torch.manual_seed(0)
    emaml = ml.methods.EMAML(ml.nets.MLP([1, 8, 1]), F.mse_loss, 0.05, n_particles=2)
    batch = ml.data.SinusoidSampler(4, 4, seed=0).sample(2)
    loss = emaml.meta_loss(batch)[0]
    single = []
    for m in range(2):
        maml = ml.methods.MAML(ml.nets.MLP([1, 8, 1]), F.mse_loss, alpha=0.05)
        with torch.no_grad():
            for p, stacked in zip(maml.net.parameters(), emaml.initial):
                p.copy_(stacked[m])
        single.append(maml.meta_loss(batch)[0])
    torch.testing.assert_close(loss, torch.stack(single).mean())


@pytest.mark.parametrize("method", ["BMAML", "EMAML"])
def test_meta_loss_and_gradient_are_the_same_vmapped(method):
    """Looped over the tasks on a CPU, vmapped on a GPU: the same numbers."""
    torch.manual_seed(0)
    make = getattr(ml.methods, method)
    learner = make(ml.nets.MLP([1, 8, 1]), F.mse_loss, 0.01, n_particles=3)
    batch, results = ml.data.SinusoidSampler(4, 4, seed=0).sample(2), []
    for batched in (False, True):
        learner.batched = batched
        loss = learner.meta_loss(batch)[0]
        results.append((loss, torch.autograd.grad(loss, list(learner.initial))))
    torch.testing.assert_close(results[0], results[1])


def test_the_metrics_report_the_spread_of_the_starting_particles():
    emaml = ml.methods.EMAML(ml.nets.SineLineBasis(), F.mse_loss, 0.1, n_particles=4)
    _, metrics = emaml.meta_loss(ml.data.SineOrLineSampler(3, 4, seed=0).sample(2))
    stacked = torch.cat([p.detach().flatten(1) for p in emaml.initial], 1)      # (4, 4)
    torch.testing.assert_close(metrics["spread"], stacked.std(0).mean())
    single = ml.methods.EMAML(ml.nets.SineLineBasis(), F.mse_loss, 0.1, n_particles=1)
    assert "spread" not in single.meta_loss(ml.data.SineOrLineSampler(3, 4).sample(2))[1]
