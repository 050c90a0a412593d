"""Hidden tests of assignment 02 (MAML and friends): each function fails with an
AssertionError that says what is wrong. Compared with mlcore's MAML on random tasks."""
import torch
import torch.nn.functional as F
from grading import own_work
from torch.func import functional_call

import mlcore as ml

FORBIDDEN = ["mlcore.functional", "mlcore.methods"]


def _net_and_task(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    net = ml.nets.MLP([1, 16, 16, 1]).to(dtype)
    task = ml.data.SinusoidSampler(5, 5, seed=seed).task()
    task = ml.Task(*(ml.Split(s.x.to(dtype), s.y.to(dtype)) for s in task))
    return net, dict(net.named_parameters()), task


def _reference_phi(net, params, support, alpha, steps, first_order=False):
    def support_loss(phi):
        return F.mse_loss(functional_call(net, phi, (support.x,)), support.y)
    return ml.gradient_steps(support_loss, params, alpha, steps, first_order)


def inner_loop_matches_gradient_steps(inner_loop):
    own_work(inner_loop, FORBIDDEN)
    net, params, task = _net_and_task()
    phi = inner_loop(net, params, task.support, 0.05, 3)
    expected = _reference_phi(net, params, task.support, 0.05, 3)
    torch.testing.assert_close(phi, expected, msg="phi after 3 steps of size alpha on the "
                                                  "support MSE")


def inner_loop_is_differentiable(inner_loop):
    own_work(inner_loop, FORBIDDEN)
    net, params, task = _net_and_task(1)
    phi = inner_loop(net, params, task.support, 0.05, 2)
    total = sum(p.pow(2).sum() for p in phi.values())
    grads = torch.autograd.grad(total, list(params.values()))
    expected = _reference_phi(net, params, task.support, 0.05, 2)
    reference = torch.autograd.grad(sum(p.pow(2).sum() for p in expected.values()),
                                    list(params.values()))
    torch.testing.assert_close(grads, reference, msg="phi should stay a differentiable "
                               "function of theta, second-order terms included")


def _meta_gradients(maml_loss, first_order, seed=2):
    net, params, task = _net_and_task(seed)
    loss = maml_loss(net, params, task, 0.05, 2, first_order=first_order)
    ours = torch.autograd.grad(loss, list(params.values()))
    reference = ml.methods.MAML(net, F.mse_loss, 0.05, inner_steps=2, first_order=first_order)
    expected, _ = reference.meta_loss(ml.tasks.stack([task]))
    return ours, torch.autograd.grad(expected, list(params.values()))


def meta_gradient_is_second_order(maml_loss):
    own_work(maml_loss, FORBIDDEN)
    ours, expected = _meta_gradients(maml_loss, first_order=False)
    torch.testing.assert_close(ours, expected, msg="MAML's meta-gradient (second order)")
    first, _ = _meta_gradients(maml_loss, first_order=True)
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(ours, first)), \
        "the second-order meta-gradient should differ from FOMAML's"


def first_order_is_fomaml(maml_loss):
    own_work(maml_loss, FORBIDDEN)
    ours, expected = _meta_gradients(maml_loss, first_order=True)
    torch.testing.assert_close(ours, expected, msg="FOMAML: the inner gradients as constants")


def reptile_moves_towards_phi(reptile_update):
    own_work(reptile_update, FORBIDDEN)
    g = torch.Generator().manual_seed(3)
    theta = {"w": torch.randn(3, 2, generator=g), "b": torch.randn(2, generator=g)}
    phi = {k: torch.randn_like(v) for k, v in theta.items()}
    new = reptile_update(theta, phi, 0.3)
    for k in theta:
        torch.testing.assert_close(new[k], theta[k] + 0.3 * (phi[k] - theta[k]))


def central_difference_is_second_order_accurate(central_difference):
    own_work(central_difference, FORBIDDEN)
    params = {"a": torch.tensor([1.0, -2.0], dtype=torch.float64)}
    direction = {"a": torch.tensor([0.5, 1.0], dtype=torch.float64)}

    def f(p):
        return (p["a"] ** 3).sum()
    exact = (3 * params["a"] ** 2 * direction["a"]).sum()          # d/dh f(a + h d) at 0
    value = central_difference(f, params, direction, 1e-3)
    assert abs(float(value) - float(exact)) < 1e-5, \
        "(f(theta + h d) - f(theta - h d)) / 2h: error O(h^2)"
