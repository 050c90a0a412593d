"""Sinusoid regression tasks (Finn et al., 2017, section 5.1).

Each task is y = amplitude * sin(x - phase) with amplitude ~ U[0.1, 5], phase ~ U[0, pi],
and x ~ U[-5, 5] for both the support and the query points.
"""
import math

import torch

from ..tasks import Sampler, Split, Task, stack
from ..validation import require


class SinusoidSampler(Sampler):
    """K-shot sinusoid regression tasks; inputs and targets have shape (k, 1)."""

    def __init__(self, k_shot, k_query, seed=0, amplitude=(0.1, 5.0), phase=(0.0, math.pi),
                 x_range=(-5.0, 5.0)):
        require(k_shot >= 1, "k_shot", k_shot, "use at least 1 support point")
        require(k_query >= 1, "k_query", k_query, "use at least 1 query point")
        for name, (low, high) in (("amplitude", amplitude), ("phase", phase),
                                  ("x_range", x_range)):
            require(low <= high, name, (low, high), "give (low, high) with low <= high")
        super().__init__(seed)
        self.k_shot, self.k_query = k_shot, k_query
        self.amplitude, self.phase, self.x_range = amplitude, phase, x_range

    def task(self, return_params=False):
        """One task; with `return_params`, also its {'amplitude', 'phase'}."""
        amplitude, phase = self._uniform(self.amplitude, ()), self._uniform(self.phase, ())
        x = self._uniform(self.x_range, (self.k_shot + self.k_query, 1))
        y = amplitude * torch.sin(x - phase)
        k = self.k_shot
        task = Task(Split(x[:k], y[:k]), Split(x[k:], y[k:]))
        params = {"amplitude": amplitude.item(), "phase": phase.item()}
        return (task, params) if return_params else task

    def sample(self, meta_batch_size, return_params=False):
        """A batched Task; with `return_params`, also a list of each task's parameters."""
        require(meta_batch_size >= 1, "meta_batch_size", meta_batch_size, "ask for at least 1")
        pairs = [self.task(return_params=True) for _ in range(meta_batch_size)]
        batch = stack(task for task, _ in pairs)
        return (batch, [params for _, params in pairs]) if return_params else batch

    def _uniform(self, bounds, shape):
        low, high = bounds
        return low + (high - low) * torch.rand(shape, generator=self.generator)
