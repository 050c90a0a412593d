"""Oracles for chapter 07: gradient descent as MAP (closed form), K-FAC against the exact
Hessian, and LLAMA's meta-gradient against finite differences."""
import pytest
import torch
import torch.nn.functional as F

import mlcore as ml
from mlcore.methods.llama import implied_prior_variances, kfac_factors, kfac_logdet


def gradient_descent(X, y, theta, alpha, steps):
    phi = theta.clone()
    for _ in range(steps):
        phi = phi - alpha * X.T @ (X @ phi - y)  # gradient of 1/2 ||X phi - y||^2
    return phi


def map_estimate(X, y, theta, prior_covariance):
    """argmin 1/2 ||X phi - y||^2 + 1/2 (phi - theta)^T Q^-1 (phi - theta)."""
    precision = torch.linalg.inv(prior_covariance)
    return torch.linalg.solve(X.T @ X + precision, X.T @ y + precision @ theta)


@pytest.mark.parametrize("seed, steps, fraction", [(0, 1, 0.5), (1, 5, 0.3), (2, 20, 0.05),
                                                    (3, 3, 0.9)])
def test_early_stopped_gradient_descent_is_map_under_the_implied_prior(seed, steps, fraction):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(12, 4, generator=g, dtype=torch.float64)
    y = torch.randn(12, generator=g, dtype=torch.float64)
    theta = torch.randn(4, generator=g, dtype=torch.float64)
    eigenvalues, U = torch.linalg.eigh(X.T @ X)
    alpha = fraction / eigenvalues.max()  # every alpha * lambda_i in (0, fraction]
    q = implied_prior_variances(eigenvalues, alpha, steps)
    prior = U @ torch.diag(q) @ U.T
    torch.testing.assert_close(gradient_descent(X, y, theta, alpha, steps),
                               map_estimate(X, y, theta, prior), atol=1e-8, rtol=0)


def test_implied_prior_widens_with_steps_and_step_size_and_rejects_overshooting():
    eigenvalues = torch.tensor([0.1, 1.0, 5.0], dtype=torch.float64)
    q1, q5 = (implied_prior_variances(eigenvalues, 0.1, k) for k in (1, 5))
    assert (q5 > q1).all() and (implied_prior_variances(eigenvalues, 0.15, 1) > q1).all()
    tiny = implied_prior_variances(torch.tensor([1e-9], dtype=torch.float64), 0.1, 7)
    torch.testing.assert_close(tiny, torch.tensor([0.7], dtype=torch.float64))  # k alpha
    with pytest.raises(ValueError, match="alpha \\* eigenvalues"):
        implied_prior_variances(eigenvalues, 0.3, 2)  # 0.3 * 5 > 1


def test_kfac_is_exact_for_one_linear_layer_under_squared_error():
    g = torch.Generator().manual_seed(0)
    inputs, targets = (torch.randn(9, 3, generator=g, dtype=torch.float64),
                       torch.randn(9, 2, generator=g, dtype=torch.float64))
    layer = torch.nn.Linear(3, 2).double()

    def loss(flat):  # 1/2 ||W a + b - y||^2 summed over the examples, of vec(W~) column-major
        W = flat.view(4, 2).T                                     # (2, 3 + 1): [W | b]
        return 0.5 * (inputs @ W[:, :3].T + W[:, 3] - targets).pow(2).sum()
    flat = torch.cat([layer.weight, layer.bias[:, None]], 1).T.reshape(-1)
    exact = torch.autograd.functional.hessian(loss, flat)       # (8, 8)
    A, G = kfac_factors(inputs, torch.eye(2, dtype=torch.float64).expand(9, 2, 2))
    torch.testing.assert_close(exact, len(inputs) * torch.kron(A, G))
    torch.testing.assert_close(kfac_logdet(A, G, len(inputs), damping=0.0), torch.logdet(exact))


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def llama_and_batch(eta=0.5):
    torch.manual_seed(0)
    net = ml.nets.MLP([1, 4, 4, 1], activation=torch.nn.Tanh)  # smooth, so FD is accurate
    batch = ml.data.SinusoidSampler(4, 4, seed=0).sample(2)
    batch = ml.Task(*(ml.Split(*(t.double() for t in split)) for split in batch))
    return ml.methods.LLAMA(net, F.mse_loss, alpha=0.05, eta=eta, damping=0.5), batch


def classifier_and_batch(eta=0.5):
    """A cross-entropy head, whose output curvature depends on theta (unlike the squared
    error's): 3-way tasks on random 4-d inputs."""
    torch.manual_seed(0)
    net = ml.nets.MLP([4, 6, 3], activation=torch.nn.Tanh)
    x, y = torch.randn(2, 9, 4), torch.arange(3).repeat(3).expand(2, 9)
    batch = ml.Task(ml.Split(x[:, :3], y[:, :3]), ml.Split(x[:, 3:], y[:, 3:]))
    return ml.methods.LLAMA(net, F.cross_entropy, alpha=0.3, eta=eta, damping=0.5), batch


@pytest.mark.parametrize("make", ["regression", "classification"])
def test_llama_meta_gradient_matches_finite_differences(float64, make):
    """Squared error (constant output curvature) and cross-entropy (curvature that depends on
    theta, so the log det's gradient runs through the output Hessians)."""
    llama, batch = llama_and_batch() if make == "regression" else classifier_and_batch()
    params = list(llama.parameters())
    exact = torch.cat([g.flatten() for g in torch.autograd.grad(llama.meta_loss(batch)[0],
                                                                 params)])
    flat, eps, estimates = torch.nn.utils.parameters_to_vector(params).detach(), 1e-6, []
    for i in range(len(flat)):
        values = []
        for sign in (1, -1):
            shifted = flat.clone()
            shifted[i] += sign * eps
            torch.nn.utils.vector_to_parameters(shifted, params)
            values.append(llama.meta_loss(batch)[0].item())
        estimates.append((values[0] - values[1]) / (2 * eps))
    torch.nn.utils.vector_to_parameters(flat, params)
    torch.testing.assert_close(exact, torch.tensor(estimates), rtol=1e-5, atol=1e-7)


def test_output_hessians_of_several_outputs_without_autograd_recording():
    """At test time (no_grad) the per-example Hessians of a 3-way head still come out, equal
    to torch.func's, and carry no graph."""
    llama, batch = classifier_and_batch()
    outputs, targets = torch.randn(6, 3), torch.arange(3).repeat(2)
    with torch.no_grad():
        hessians = llama._output_hessians(outputs, targets)
    expected = torch.func.vmap(torch.func.hessian(
        lambda s, y: F.cross_entropy(s[None], y[None])))(outputs, targets)
    torch.testing.assert_close(hessians, expected)
    assert not hessians.requires_grad
    task = ml.tasks.unstack(batch)[0]
    assert llama.predict(task, n_samples=4).shape == (4, 6, 3)


def test_llama_meta_loss_and_gradient_are_the_same_vmapped():
    """The output Hessians come from double backward in a loop and from torch.func under
    vmap (on a GPU): the two paths agree."""
    llama, batch = classifier_and_batch()
    results = []
    for batched in (False, True):
        llama.batched = batched
        loss = llama.meta_loss(batch)[0]
        results.append((loss, torch.autograd.grad(loss, list(llama.parameters()))))
    torch.testing.assert_close(results[0], results[1])


def test_llama_adds_the_log_det_and_without_it_is_maml(float64):
    llama, batch = llama_and_batch(eta=0.0)
    maml = ml.methods.MAML(llama.net, F.mse_loss, alpha=0.05)
    torch.testing.assert_close(llama.meta_loss(batch)[0], maml.meta_loss(batch)[0])
    llama.eta = 0.5
    task = ml.tasks.unstack(batch)[0]
    phi = llama.adapt(llama.theta(), task.support)
    features, outputs = llama._head_input(phi, task.query.x)
    expected = (F.mse_loss(outputs, task.query.y)
                + 0.5 * llama.log_det(features, outputs, task.query.y) / len(task.query.y))
    losses = [llama._query_loss(t, llama.theta())[0] for t in ml.tasks.unstack(batch)]
    torch.testing.assert_close(losses[0], expected)


def test_laplace_samples_spread_as_the_kfac_posterior(float64):
    llama, batch = llama_and_batch()
    task = ml.tasks.unstack(batch)[0]
    samples = llama.predict(task, n_samples=4000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4000, len(task.query.y), 1)
    torch.testing.assert_close(samples.mean(0), llama.predict(task), atol=0.05, rtol=0)
    spread = samples.std(0)
    assert (spread > 0).all()
    llama.damping = 100.0  # a sharper prior: a narrower band
    assert (llama.predict(task, n_samples=4000).std(0) < spread).all()


def test_llama_needs_a_last_linear_layer():
    with pytest.raises(ValueError, match="nn.Linear"):
        ml.methods.LLAMA(torch.nn.Sequential(torch.nn.Tanh()), F.mse_loss, alpha=0.1)
