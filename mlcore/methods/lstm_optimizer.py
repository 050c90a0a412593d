"""Learning to learn by gradient descent by gradient descent (Andrychowicz, Denil, Gomez,
Hoffman, Pfau, Schaul, Shillingford & de Freitas, 2016).

Chapter: notebooks/03_learned_optimizers.ipynb and 03_learned_optimizers_digits.ipynb
Equations: section 2, the update
theta_{t+1} = theta_t + g_t with [g_t, h_{t+1}] = m(grad_t, h_t, phi) and the meta-objective
sum_t w_t f(theta_t); appendix A, the gradient preprocessing.
Variants here: `unroll_steps`, `horizon`, `hidden`. Differs from the paper in: nothing (weights
w_t = 1, second derivatives of f ignored, truncated backpropagation through time).
"""
import math

import torch
from torch import nn

from ..validation import require


def preprocess(grad, p=10.0):
    """Appendix A: x -> (log|x| / p, sign x) if |x| >= e^-p, else (-1, e^p x).   (..., 2)

    Gradients span many orders of magnitude; the first input carries the magnitude on a log
    scale, the second the sign, and tiny gradients fall back to a linear scale.
    """
    big = grad.abs() >= math.exp(-p)
    magnitude = torch.where(big, grad.abs().clamp_min(math.exp(-p)).log() / p, -1.0)
    direction = torch.where(big, grad.sign(), math.exp(p) * grad)
    return torch.stack([magnitude, direction], dim=-1)


class LSTMOptimizer(nn.Module):
    """A two-layer LSTM applied coordinatewise: shared weights, one hidden state per coordinate.

    `ml.meta_train` meta-trains it on optimizees from a sampler (batches of functions with
    `theta0`, `loss(theta)` and `losses(theta)`, such as `ml.data.QuadraticSampler`'s) by
    truncated backpropagation through time: each batch of functions is optimized for
    `horizon` steps, in pieces of `unroll_steps`; after each piece phi takes one Adam step
    (the meta-step) and the graph is cut. `optimize` runs it on new functions.
    """

    carries_state = True  # meta_train hands each meta-step the run the last one left

    def __init__(self, hidden=20, layers=2, p=10.0, output_scale=0.1, unroll_steps=20,
                 horizon=100):
        super().__init__()
        require(unroll_steps >= 1, "unroll_steps", unroll_steps,
                "unroll at least 1 step per meta-step")
        require(horizon >= unroll_steps and horizon % unroll_steps == 0, "horizon", horizon,
                f"use a multiple of unroll_steps={unroll_steps}")
        self.unroll_steps, self.horizon = unroll_steps, horizon
        sizes = [2] + [hidden] * layers
        self.cells = nn.ModuleList(nn.LSTMCell(n_in, n_out)
                                   for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(hidden, 1)
        self.p, self.output_scale = p, output_scale

    def initial_state(self, theta):
        """(h, c) of every layer, zeros, one column per coordinate of theta."""
        zeros = theta.new_zeros(self.head.in_features, theta.numel())
        return [(zeros, zeros) for _ in self.cells]

    def update(self, grad, state):
        """[g_t, h_{t+1}] = m(grad_t, h_t, phi), for every coordinate at once."""
        x = preprocess(grad.reshape(-1), self.p).T  # (2, n_coordinates)
        new_state = []
        for cell, (h, c) in zip(self.cells, state):
            h, c = _lstm_cell(cell, x, h, c)
            new_state.append((h, c))
            x = h  # (hidden, n_coordinates)
        step = torch.addmm(self.head.bias[:, None], self.head.weight, x)  # (1, n_coordinates)
        return self.output_scale * step.reshape(grad.shape), new_state

    def unroll(self, problem, theta, state, steps):
        """`steps` updates from theta; returns (mean of f(theta_t), t = 1..steps), theta, state.

        Each function's coordinates get that function's own gradient (of the sum over the
        batch, not of the mean, which would shrink it with the batch size). It is taken
        without a graph: the second derivatives of f are ignored, as in the paper;
        f(theta_t) still depends on phi through the updates.
        """
        losses, total = problem.losses(theta), 0.0
        for _ in range(steps):
            (grad,) = torch.autograd.grad(losses.sum(), theta, retain_graph=True)
            step, state = self.update(grad, state)
            theta = theta + step
            losses = problem.losses(theta)
            total = total + losses.mean()
        return total / steps, theta, state

    def optimize(self, problem, steps, trace=None):
        """Run the learned optimizer on `problem`: f_i(theta_t) for t = 0..steps.   (steps+1, n)

        Pass a list as `trace` to receive theta_t for t = 0..steps (for paths and steps).
        """
        theta = problem.theta0.detach().requires_grad_()
        state, losses = self.initial_state(theta), []
        for _ in range(steps):
            _record(trace, theta)
            per_function = problem.losses(theta)
            losses.append(per_function.detach())
            (grad,) = torch.autograd.grad(per_function.sum(), theta)  # each f_i's own gradient
            with torch.no_grad():
                step, state = self.update(grad, state)
            theta = (theta + step).detach().requires_grad_()
        _record(trace, theta)
        return torch.stack(losses + [problem.losses(theta).detach()])

    def meta_loss(self, problems, carry=None):
        """The mean loss over the next `unroll_steps` steps of a run on `problems`: one piece
        of the horizon. `carry` is where the last piece left the run (None: start afresh
        from problems.theta0); the run comes back as the new carry, or None when its
        horizon is done. Returns (loss, metrics, carry)."""
        if carry is None:
            carry = {"problems": problems, "theta": problems.theta0, "step": 0,
                     "state": self.initial_state(problems.theta0)}
        loss, theta, state = self.unroll(carry["problems"], carry["theta"].detach()
                                         .requires_grad_(), carry["state"], self.unroll_steps)
        step = carry["step"] + self.unroll_steps
        carry = None if step == self.horizon else {
            "problems": carry["problems"], "theta": theta.detach(), "step": step,
            "state": [(h.detach(), c.detach()) for h, c in state]}
        return loss, {}, carry


def hand_designed(problem, optimizer_class, steps, trace=None, **options):
    """f_i(theta_t), t = 0..steps, under a torch optimizer (SGD, Adam, ...).   (steps+1, n)

    The functions are optimized side by side, each with its own gradient (that of the sum
    over the batch), so a learning rate means the same for any number of functions.
    `trace`, if a list, receives theta_t for t = 0..steps, like `LSTMOptimizer.optimize`'s.
    """
    theta = problem.theta0.detach().clone().requires_grad_()
    optimizer, losses = optimizer_class([theta], **options), []
    for _ in range(steps):
        _record(trace, theta)
        per_function = problem.losses(theta)
        losses.append(per_function.detach())
        optimizer.zero_grad()
        per_function.sum().backward()
        optimizer.step()
    _record(trace, theta)
    return torch.stack(losses + [problem.losses(theta).detach()])


def _record(trace, theta):
    if trace is not None:
        trace.append(theta.detach().clone())  # a copy: torch optimizers step in place


def _lstm_cell(cell, x, h, c):
    """`cell` (an nn.LSTMCell) on inputs laid out one column per coordinate.   (hidden, n)

    The same equations as cell(x.T, (h.T, c.T)); with coordinates along columns each of the
    four gates is one contiguous block, which is about 4x faster on a CPU.
    """
    gates = torch.addmm((cell.bias_ih + cell.bias_hh)[:, None], cell.weight_ih, x)
    gates = gates.addmm(cell.weight_hh, h)  # (4 * hidden, n): input, forget, cell, output
    i, f, g, o = gates.chunk(4)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c
