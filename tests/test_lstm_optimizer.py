"""Learned optimizers: the coordinatewise LSTM (Andrychowicz '16) and the meta-learner LSTM."""
import math
from typing import NamedTuple

import pandas as pd
import pytest
import torch
from torch import nn

import mlcore as ml
from mlcore.methods.lstm_optimizer import LSTMOptimizer, _lstm_cell, hand_designed, preprocess
from mlcore.methods.meta_lstm import MetaLSTM


class Linear(NamedTuple):
    """f(theta) = a . theta: its gradient is constant, so ignoring second derivatives is exact."""

    a: torch.Tensor
    theta0: torch.Tensor

    def losses(self, theta):
        return (self.a * theta).sum(-1)

    def loss(self, theta):
        return self.losses(theta).mean()


def test_preprocessing_follows_the_formula_at_and_around_the_threshold():
    p, threshold = 10.0, math.exp(-10.0)
    x = torch.tensor([0.0, threshold * 0.5, threshold * (1 - 1e-9), threshold,
                      threshold * (1 + 1e-9), 3.0, -3.0], dtype=torch.float64)
    expected = torch.tensor([[-1, 0], [-1, 0.5], [-1, 1 - 1e-9], [-1, 1], [-1, 1],
                             [math.log(3.0) / p, 1], [math.log(3.0) / p, -1]],
                            dtype=torch.float64)
    torch.testing.assert_close(preprocess(x, p), expected, atol=1e-9, rtol=0)


def test_parameter_count_does_not_depend_on_the_optimizee():
    optimizer = LSTMOptimizer(hidden=20)
    n_parameters = sum(p.numel() for p in optimizer.parameters())
    for size in (1, 10, 1000):
        grad = torch.randn(size)
        step, state = optimizer.update(grad, optimizer.initial_state(grad))
        assert step.shape == grad.shape and state[0][0].shape == (20, size)
    assert n_parameters == sum(p.numel() for p in optimizer.parameters())


def test_column_layout_cell_equals_torch_lstm_cell():
    torch.manual_seed(0)
    cell, x, h, c = nn.LSTMCell(3, 4), torch.randn(7, 3), torch.randn(7, 4), torch.randn(7, 4)
    h_ours, c_ours = _lstm_cell(cell, x.T, h.T, c.T)
    h_torch, c_torch = cell(x, (h, c))
    torch.testing.assert_close(h_ours.T, h_torch)
    torch.testing.assert_close(c_ours.T, c_torch)


def test_coordinates_share_weights_but_not_state():
    torch.manual_seed(0)
    optimizer, grad, order = LSTMOptimizer(), torch.randn(6), torch.randperm(6)
    step, _ = optimizer.update(grad, optimizer.initial_state(grad))
    permuted, _ = optimizer.update(grad[order], optimizer.initial_state(grad))
    torch.testing.assert_close(permuted, step[order])


def test_meta_gradient_matches_finite_differences_when_f_has_no_curvature():
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        optimizer = LSTMOptimizer(hidden=4)
        problem = Linear(a=torch.randn(2, 3), theta0=torch.randn(2, 3))

        def meta_loss():
            theta = problem.theta0.clone().requires_grad_()
            return optimizer.unroll(problem, theta, optimizer.initial_state(theta), 3)[0]

        weight = optimizer.cells[0].weight_ih
        (analytic,) = torch.autograd.grad(meta_loss(), weight)
        numeric = torch.zeros_like(weight)
        for index in [(0, 0), (3, 1), (9, 0), (15, 1)]:
            values = []
            for shift in (1e-6, -2e-6, 1e-6):  # up, down, back
                with torch.no_grad():
                    weight[index] += shift
                values.append(meta_loss().item())
            numeric[index] = (values[0] - values[1]) / 2e-6
            assert analytic[index].item() == pytest.approx(numeric[index].item(), rel=1e-5,
                                                           abs=1e-9)
    finally:
        torch.set_default_dtype(torch.float32)


def test_meta_training_resumes_exactly_in_the_middle_of_a_horizon(tmp_path):
    def fit(steps, checkpoint=None):
        torch.manual_seed(0)
        optimizer = LSTMOptimizer(hidden=4, unroll_steps=2, horizon=6)
        history = ml.meta_train(optimizer, ml.data.QuadraticSampler(3, seed=0), steps=steps,
                                meta_batch_size=2, lr=0.01, checkpoint=checkpoint,
                                progress=False)
        return optimizer, history

    full, full_history = fit(5)
    path = tmp_path / "fit.pt"
    fit(4, path)  # stops after the 1st of the 2nd batch's 3 pieces: a run half done
    torch.manual_seed(123)  # the checkpoint restores the global RNG too
    resumed, history = fit(5, path)
    pd.testing.assert_frame_equal(history, full_history)
    for p, q in zip(resumed.parameters(), full.parameters()):
        assert torch.equal(p, q)


def test_meta_training_learns_and_the_same_seeds_give_the_same_numbers():
    def run():
        torch.manual_seed(0)
        optimizer = LSTMOptimizer(hidden=8, unroll_steps=5, horizon=10)
        history = ml.meta_train(optimizer, ml.data.QuadraticSampler(4, seed=0), steps=40,
                                meta_batch_size=8, lr=0.01, progress=False)
        return optimizer, history

    (first, history), (second, again) = run(), run()
    assert history.equals(again)
    for p, q in zip(first.parameters(), second.parameters()):
        assert torch.equal(p, q)
    assert history.loss.tail(10).mean() < history.loss.head(10).mean()


def test_optimizers_report_the_loss_of_every_function_at_every_step():
    problem = ml.data.QuadraticSampler(5, seed=0).sample(3)
    assert hand_designed(problem, torch.optim.SGD, 7, lr=0.01).shape == (8, 3)
    assert LSTMOptimizer().optimize(problem, 7).shape == (8, 3)


def test_bad_arguments_raise_one_clear_error():
    with pytest.raises(ValueError, match="horizon=30"):
        LSTMOptimizer(unroll_steps=20, horizon=30)
    with pytest.raises(ValueError, match="unroll_steps=0"):
        LSTMOptimizer(unroll_steps=0)
    with pytest.raises(ValueError, match="lr"):
        ml.meta_train(LSTMOptimizer(), ml.data.QuadraticSampler(), steps=1, meta_batch_size=1,
                      lr=0)
    with pytest.raises(ValueError, match="dim"):
        ml.data.QuadraticSampler(dim=0)


def test_one_meta_learner_step_is_sgd_when_f_is_one_and_i_is_alpha():
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        learner = MetaLSTM(ml.nets.MLP([1, 5, 1]), torch.nn.functional.mse_loss, inner_steps=1)
        alpha = 0.1
        with torch.no_grad():  # f = sigmoid(40) = 1 - 4e-18, i = sigmoid(logit(alpha)) = alpha
            for gate, bias in ((learner.forget_gate, 40.0),
                               (learner.input_gate, math.log(alpha / (1 - alpha)))):
                gate.weight.zero_()
                gate.bias.fill_(bias)
        support = ml.data.SinusoidSampler(5, 5, seed=0).task().support
        support = ml.Split(support.x.double(), support.y.double())
        theta = learner.theta()
        loss = torch.nn.functional.mse_loss(learner.net(support.x), support.y)
        sgd = [p - alpha * g for p, g in zip(theta.values(),
                                            torch.autograd.grad(loss, list(theta.values())))]
        torch.testing.assert_close(list(learner.adapt(theta, support).values()), sgd)
    finally:
        torch.set_default_dtype(torch.float32)


def test_the_meta_learner_gets_a_gradient_for_its_gates_and_the_initialisation():
    torch.manual_seed(0)
    learner = MetaLSTM(ml.nets.MLP([1, 5, 1]), torch.nn.functional.mse_loss, inner_steps=3)
    loss, _ = learner.meta_loss(ml.data.SinusoidSampler(5, 5, seed=0).sample(2))
    loss.backward()
    for name, p in learner.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_the_meta_learner_reports_its_gates_and_parameters_step_by_step():
    learner = MetaLSTM(ml.nets.MLP([1, 5, 1]), torch.nn.functional.mse_loss, inner_steps=4)
    support, trace = ml.data.SinusoidSampler(5, 5, seed=0).task().support, []
    last = learner.adapt(learner.theta(), support, trace=trace)
    assert len(trace) == 4
    for step in trace:
        assert step["i"].keys() == step["f"].keys() == learner.theta().keys()
        gates = [*step["i"].values(), *step["f"].values()]
        assert all(g.min() > 0 and g.max() < 1 for g in gates)
    for t in (1, 3):  # theta_t of the trace is what t steps return
        after_t_steps = learner.adapt(learner.theta(), support, t)
        torch.testing.assert_close(trace[t - 1]["theta"], after_t_steps)
    torch.testing.assert_close(trace[-1]["theta"], last)


def test_digit_mlp_loss_is_the_cross_entropy_of_the_same_network_in_torch_nn():
    sampler = ml.data.DigitsMLPSampler(hidden=(7, 5), activation="relu", batch_size=16, seed=0)
    problem = sampler.sample(3)
    assert problem.theta0.shape == (3, (64 + 1) * 7 + (7 + 1) * 5 + (5 + 1) * 10)
    losses = []
    for theta, x, y in zip(problem.theta0, problem.x, problem.y):
        net = ml.nets.MLP([64, 7, 5, 10])
        offset = 0
        for layer in (net[0], net[2], net[4]):  # the flat vector: weight (in, out), then bias
            n_in, n_out = layer.in_features, layer.out_features
            layer.weight.data = theta[offset:offset + n_in * n_out].reshape(n_in, n_out).T
            layer.bias.data = theta[offset + n_in * n_out:offset + (n_in + 1) * n_out]
            offset += (n_in + 1) * n_out
        losses.append(torch.nn.functional.cross_entropy(net(x), y))
    torch.testing.assert_close(problem.loss(problem.theta0), torch.stack(losses).mean())


def test_digit_optimizees_reject_unknown_settings():
    with pytest.raises(ValueError, match="activation"):
        ml.data.DigitsMLPSampler(activation="tanh")
    with pytest.raises(ValueError, match="batch_size"):
        ml.data.DigitsMLPSampler(batch_size=0)


def test_optimizers_trace_every_theta_they_visit():
    torch.manual_seed(0)
    problem = Linear(a=torch.randn(2, 3), theta0=torch.randn(2, 3))
    sgd, lstm = [], []
    losses = hand_designed(problem, torch.optim.SGD, 4, lr=0.1, trace=sgd)
    assert len(sgd) == 5 and torch.equal(sgd[0], problem.theta0)
    for t, theta in enumerate(sgd):  # f is linear: theta_t = theta_0 - t * lr * a
        torch.testing.assert_close(theta, problem.theta0 - t * 0.1 * problem.a)
        torch.testing.assert_close(problem.losses(theta), losses[t])
    losses = LSTMOptimizer().optimize(problem, 3, trace=lstm)
    assert len(lstm) == 4
    torch.testing.assert_close(torch.stack([problem.losses(t) for t in lstm]), losses)


def test_each_function_gets_its_own_gradient_whatever_the_batch_size():
    problems = ml.data.QuadraticSampler(4, seed=0).sample(5)
    alone = ml.data.Quadratics(problems.W[:1], problems.y[:1], problems.theta0[:1])
    together = hand_designed(problems, torch.optim.SGD, 3, lr=0.01)[:, 0]
    torch.testing.assert_close(together, hand_designed(alone, torch.optim.SGD, 3, lr=0.01)[:, 0])
    torch.manual_seed(0)
    lstm = LSTMOptimizer()
    torch.testing.assert_close(lstm.optimize(problems, 3)[:, 0], lstm.optimize(alone, 3)[:, 0])
