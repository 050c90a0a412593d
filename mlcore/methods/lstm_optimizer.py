"""Learning to learn by gradient descent by gradient descent (Andrychowicz, Denil, Gomez,
Hoffman, Pfau, Schaul, Shillingford & de Freitas, 2016).

Chapter: notebooks/03_learned_optimizers.ipynb and 03_learned_optimizers_digits.ipynb
Equations: section 2, the update
theta_{t+1} = theta_t + g_t with [g_t, h_{t+1}] = m(grad_t, h_t, phi) and the meta-objective
sum_t w_t f(theta_t); appendix A, the gradient preprocessing.
Variants here: `unroll`, `horizon`, `hidden`. Differs from the paper in: nothing (weights
w_t = 1, second derivatives of f ignored, truncated backpropagation through time).
"""
import math
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..tasks import require
from ..train import load_checkpoint, save_checkpoint


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

    `fit` meta-trains it on optimizees from a sampler (batches of functions with `theta0`,
    `loss(theta)` and `losses(theta)`, such as `ml.data.QuadraticSampler`'s); `optimize` runs
    it on new ones.
    """

    def __init__(self, hidden=20, layers=2, p=10.0, output_scale=0.1):
        super().__init__()
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

        The gradient fed to the LSTM is taken without a graph: the second derivatives of f
        are ignored, as in the paper; f(theta_t) still depends on phi through the updates.
        """
        loss, total = problem.loss(theta), 0.0
        for _ in range(steps):
            (grad,) = torch.autograd.grad(loss, theta, retain_graph=True)
            step, state = self.update(grad, state)
            theta = theta + step
            loss = problem.loss(theta)
            total = total + loss
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
            (grad,) = torch.autograd.grad(per_function.mean(), theta)
            with torch.no_grad():
                step, state = self.update(grad, state)
            theta = (theta + step).detach().requires_grad_()
        _record(trace, theta)
        return torch.stack(losses + [problem.losses(theta).detach()])

    def fit(self, sampler, *, steps, meta_batch_size, lr, unroll=20, horizon=100,
            checkpoint=None, checkpoint_every=100, progress=True):
        """Meta-train with Adam(lr) by truncated backpropagation through time.

        Each batch of `meta_batch_size` optimizees is optimized for `horizon` steps, in
        pieces of `unroll` steps; after each piece phi takes one Adam step (the meta-step)
        and the graph is cut. Returns the history, one row per meta-step, and checkpoints
        and resumes exactly, like `meta_train`.
        """
        _check_fit_arguments(steps, meta_batch_size, lr, unroll, horizon)
        optimizer, samplers = torch.optim.Adam(self.parameters(), lr=lr), {"sampler": sampler}
        rows, run = [], None  # run: the optimizees being optimized and where they are
        if checkpoint is not None and Path(checkpoint).exists():
            rows, run = load_checkpoint(checkpoint, self, optimizer, samplers)
        began, start = time.perf_counter(), len(rows)
        for step in tqdm(range(start, steps), initial=start, total=steps,
                         disable=not progress, desc=type(self).__name__):
            if step % (horizon // unroll) == 0:  # a fresh batch of optimizees
                problem = sampler.sample(meta_batch_size)
                run = (problem, problem.theta0, self.initial_state(problem.theta0))
            loss, run = self._meta_step(optimizer, run, unroll)
            rows.append({"step": step + 1, "loss": loss})
            if checkpoint and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
                save_checkpoint(checkpoint, self, optimizer, samplers, rows, carry=run)
        history = pd.DataFrame(rows)
        history.attrs["seconds_per_step"] = (time.perf_counter() - began) / max(steps - start, 1)
        return history

    def _meta_step(self, optimizer, run, unroll):
        """`unroll` steps of the optimizees, one Adam step on phi; the graph is cut after."""
        problem, theta, state = run
        loss, theta, state = self.unroll(problem, theta.detach().requires_grad_(), state, unroll)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item(), (problem, theta.detach(), [(h.detach(), c.detach()) for h, c in state])


def hand_designed(problem, optimizer_class, steps, trace=None, **options):
    """f_i(theta_t), t = 0..steps, under a torch optimizer (SGD, Adam, ...).   (steps+1, n)

    `trace`, if a list, receives theta_t for t = 0..steps, like `LSTMOptimizer.optimize`'s.
    """
    theta = problem.theta0.detach().clone().requires_grad_()
    optimizer, losses = optimizer_class([theta], **options), []
    for _ in range(steps):
        _record(trace, theta)
        per_function = problem.losses(theta)
        losses.append(per_function.detach())
        optimizer.zero_grad()
        per_function.mean().backward()
        optimizer.step()
    _record(trace, theta)
    return torch.stack(losses + [problem.losses(theta).detach()])


def _record(trace, theta):
    if trace is not None:
        trace.append(theta.detach().clone())  # a copy: torch optimizers step in place


def _check_fit_arguments(steps, meta_batch_size, lr, unroll, horizon):
    require(steps >= 0, "steps", steps, "use a number of meta-steps >= 0")
    require(meta_batch_size >= 1, "meta_batch_size", meta_batch_size,
            "use at least 1 function")
    require(lr > 0, "lr", lr, "use a positive learning rate")
    require(unroll >= 1, "unroll", unroll, "unroll at least 1 step per meta-step")
    require(horizon % unroll == 0, "horizon", horizon, f"use a multiple of unroll={unroll}")


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
