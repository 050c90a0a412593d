"""Oracles for the optimisation-based learners: MAML, FOMAML, Reptile, Meta-SGD and ANIL.

Every meta-gradient is checked in float64 against central finite differences, and MAML's
against its closed form on linear regression; looped and vmapped tasks must agree.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mlcore as ml
from mlcore.methods import ANIL, MAML, MetaSGD, Reptile


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def sinusoid_batch(n_tasks=2, k=5, seed=0):
    batch = ml.data.SinusoidSampler(k, k, seed=seed).sample(n_tasks)
    return ml.Task(*(ml.Split(*(t.double() for t in split)) for split in batch))


def image_batch(n_tasks=2, n_way=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_tasks, 2, 2 * n_way, 1, 28, 28, generator=g)  # (tasks, split, n, image)
    y = torch.arange(n_way).repeat(2).expand(n_tasks, -1)
    return ml.Task(ml.Split(x[:, 0], y), ml.Split(x[:, 1], y))


def tiny_mlp():
    torch.manual_seed(0)
    return ml.nets.MLP([1, 5, 5, 1], activation=nn.Tanh)  # smooth, so FD is accurate


def tiny_conv():
    torch.manual_seed(0)
    return ml.nets.Conv4(n_out=3, hidden=2)


def meta_gradient(method, batch):
    loss, _ = method.meta_loss(batch)
    return torch.autograd.grad(loss, list(method.parameters()))


def finite_differences(method, batch, eps=1e-6, coordinates=None):
    """Central differences of meta_loss in every (or the listed) flat parameter coordinate."""
    params = list(method.parameters())
    flat = torch.cat([p.detach().flatten() for p in params])
    picks = range(len(flat)) if coordinates is None else coordinates
    estimates = []
    for i in picks:
        values = []
        for sign in (1, -1):
            shifted = flat.clone()
            shifted[i] += sign * eps
            torch.nn.utils.vector_to_parameters(shifted, params)
            with torch.no_grad():
                values.append(method.meta_loss(batch)[0])
        estimates.append((values[0] - values[1]) / (2 * eps))
    torch.nn.utils.vector_to_parameters(flat, params)
    return torch.stack(estimates)


def flat(grads):
    return torch.cat([g.flatten() for g in grads])


@pytest.mark.parametrize("batched", [False, True], ids=["loop", "vmap"])
def test_maml_meta_gradient_matches_finite_differences(batched):
    maml = MAML(tiny_mlp(), F.mse_loss, alpha=0.05, inner_steps=2, batched=batched)
    batch = sinusoid_batch()
    torch.testing.assert_close(flat(meta_gradient(maml, batch)),
                               finite_differences(maml, batch), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("batched", [False, True], ids=["loop", "vmap"])
def test_maml_with_batch_norm_matches_finite_differences(batched):
    """The case the fused BatchNorm kernel gets wrong under vmap (see nets.BatchNorm2d)."""
    maml = MAML(tiny_conv(), F.cross_entropy, alpha=0.5, inner_steps=2, batched=batched)
    batch = image_batch()
    coordinates = torch.randperm(sum(p.numel() for p in maml.parameters()),
                                 generator=torch.Generator().manual_seed(0))[:25]
    torch.testing.assert_close(flat(meta_gradient(maml, batch))[coordinates],
                               finite_differences(maml, batch, coordinates=coordinates),
                               rtol=1e-5, atol=1e-8)


def linear_regression_task(seed=0):
    g = torch.Generator().manual_seed(seed)
    support = ml.Split(torch.randn(6, 3, generator=g), torch.randn(6, 1, generator=g))
    query = ml.Split(torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g))
    return ml.Task(support, query)


def squared_loss_gradient(w, split):
    x, y = split
    return 2 / len(x) * x.T @ (x @ w - y)  # grad of ||x w - y||^2 / n


@pytest.mark.parametrize("first_order", [False, True], ids=["MAML", "FOMAML"])
def test_maml_matches_its_closed_form_on_linear_regression(first_order):
    """One step on L(w) = ||Xw - y||^2 / n.  MAML: dL_q(phi)/dw = (I - alpha A_s) grad L_q(phi)
    with A_s = 2 X_s^T X_s / n the Hessian of the support loss; FOMAML drops the A_s term."""
    net, alpha = nn.Linear(3, 1, bias=False), 0.1
    maml = MAML(net, F.mse_loss, alpha, first_order=first_order)
    task = linear_regression_task()
    w = net.weight.detach().T  # (3, 1)
    phi = w - alpha * squared_loss_gradient(w, task.support)
    hessian = 2 / len(task.support.x) * task.support.x.T @ task.support.x  # A_s, (3, 3)
    expected = squared_loss_gradient(phi, task.query)
    if not first_order:
        expected = (torch.eye(3) - alpha * hessian) @ expected
    (got,) = meta_gradient(maml, ml.tasks.stack([task]))
    torch.testing.assert_close(got.T, expected)


def test_first_order_maml_is_the_query_gradient_at_the_adapted_weights():
    maml = MAML(tiny_mlp(), F.mse_loss, alpha=0.05, inner_steps=2, first_order=True)
    task = sinusoid_batch(n_tasks=1)
    phi = {name: p.detach().requires_grad_()
           for name, p in maml.adapt(maml.theta(), ml.tasks.unstack(task)[0].support).items()}
    query_loss = F.mse_loss(torch.func.functional_call(maml.net, phi, (task.query.x[0],)),
                            task.query.y[0])
    expected = torch.autograd.grad(query_loss, list(phi.values()))
    torch.testing.assert_close(flat(meta_gradient(maml, task)), flat(expected))


def test_reptile_surrogate_gradient_is_theta_minus_phi_k():
    reptile = Reptile(tiny_mlp(), F.mse_loss, alpha=0.05, inner_steps=3)
    batch = sinusoid_batch(k=4)  # 4 support + 4 query examples per task
    mini_batches = [[0, 3, 6], [1, 4, 7], [2, 5]]  # example j in mini-batch j mod 3
    expected = []
    for task in ml.tasks.unstack(batch):  # K plain SGD steps per task, written out by hand
        x, y = torch.cat([task.support.x, task.query.x]), torch.cat([task.support.y, task.query.y])
        net = ml.nets.MLP([1, 5, 5, 1], activation=nn.Tanh)
        net.load_state_dict(reptile.net.state_dict())
        for rows in mini_batches:
            loss = F.mse_loss(net(x[rows]), y[rows])
            grads = torch.autograd.grad(loss, list(net.parameters()))
            with torch.no_grad():
                for p, g in zip(net.parameters(), grads):
                    p -= 0.05 * g
        expected.append(flat(reptile.net.parameters()) - flat(net.parameters()))
    got = flat(meta_gradient(reptile, batch))
    torch.testing.assert_close(got, torch.stack(expected).mean(0).detach())


def test_reptile_needs_one_example_per_step():
    with pytest.raises(ValueError, match="inner_steps=9"):
        Reptile(tiny_mlp(), F.mse_loss, alpha=0.05, inner_steps=9).meta_loss(sinusoid_batch(k=4))


@pytest.mark.parametrize("batched", [False, True], ids=["loop", "vmap"])
def test_meta_sgd_gradient_including_step_sizes_matches_finite_differences(batched):
    meta_sgd = MetaSGD(tiny_mlp(), F.mse_loss, alpha=0.05, batched=batched)
    with torch.no_grad():  # distinct step sizes, so that a mix-up would show
        for a in meta_sgd.alphas:
            a.uniform_(0.01, 0.1)
    batch = sinusoid_batch()
    torch.testing.assert_close(flat(meta_gradient(meta_sgd, batch)),
                               finite_differences(meta_sgd, batch), rtol=1e-6, atol=1e-8)


def test_anil_adapts_only_the_head_and_matches_finite_differences():
    anil = ANIL(tiny_conv(), F.cross_entropy, alpha=0.5, inner_steps=2)
    batch = image_batch()
    phi = anil.adapt(anil.theta(), ml.tasks.unstack(batch)[0].support)
    changed = {name for name, p in anil.theta().items() if not torch.equal(p, phi[name])}
    assert changed == {"head.weight", "head.bias"}
    n = sum(p.numel() for p in anil.parameters())
    coordinates = torch.cat([torch.arange(10), torch.arange(n - 30, n)])  # body and head
    torch.testing.assert_close(flat(meta_gradient(anil, batch))[coordinates],
                               finite_differences(anil, batch, coordinates=coordinates),
                               rtol=1e-5, atol=1e-8)


def test_anil_inner_steps_on_features_equal_steps_through_the_whole_network():
    anil = ANIL(tiny_conv(), F.cross_entropy, alpha=0.5, inner_steps=3)
    support = ml.tasks.unstack(image_batch())[0].support
    head = [anil.net.head.weight, anil.net.head.bias]
    for _ in range(3):  # the textbook loop: the full forward pass at every step
        loss = F.cross_entropy(torch.func.functional_call(
            anil.net, {"head.weight": head[0], "head.bias": head[1]}, (support.x,)), support.y)
        head = [w - 0.5 * g for w, g in zip(head, torch.autograd.grad(loss, head,
                                                                      create_graph=True))]
    phi = anil.adapt(anil.theta(), support)
    torch.testing.assert_close([phi["head.weight"], phi["head.bias"]], head)


@pytest.mark.parametrize("method_class", [MAML, MetaSGD, ANIL, Reptile],
                         ids=lambda c: c.__name__)
def test_vmapped_and_looped_tasks_give_the_same_meta_gradient(method_class):
    batch = image_batch(n_tasks=3)
    grads = [meta_gradient(method_class(tiny_conv(), F.cross_entropy, alpha=0.5, inner_steps=2,
                                        batched=batched), batch) for batched in (False, True)]
    torch.testing.assert_close(flat(grads[0]), flat(grads[1]))


def test_bad_arguments_raise_one_clear_error():
    with pytest.raises(ValueError, match="alpha"):
        MAML(tiny_mlp(), F.mse_loss, alpha=0)
    with pytest.raises(ValueError, match="inner_steps"):
        MAML(tiny_mlp(), F.mse_loss, alpha=0.1, inner_steps=0)
    with pytest.raises(ValueError, match="'body' and 'head'"):
        ANIL(tiny_mlp(), F.mse_loss, alpha=0.1)
    with pytest.raises(ValueError, match="'body' and 'head'"):
        ANIL(nn.ModuleDict({"head": nn.Linear(1, 1)}), F.mse_loss, alpha=0.1)
