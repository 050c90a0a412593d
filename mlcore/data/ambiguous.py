"""Ambiguous regression (Finn, Xu & Levine 2018, section 6): half the tasks are sinusoids,
half lines, with Gaussian noise on the targets, so that a few support points can fit both
families.

Ranges as in the public re-implementations of the paper's experiment (the paper's own
sentence was not at hand): amplitude ~ U[0.1, 5], phase ~ U[0, pi], slope and intercept
~ U[-3, 3], x ~ U[-5, 5], noise standard deviation 0.3.
"""
import math

import torch

from ..tasks import Split, Task
from ..validation import require
from .sinusoid import SinusoidSampler

MAX_DRAWS = 10_000  # crossing_task's attempts at a sine and a line that cross often enough


class SineOrLineSampler(SinusoidSampler):
    """K-shot tasks, y = A sin(x - b) + noise or y = a x + c + noise with probability 1/2 each;
    `task(return_params=True)` also returns {'family': 'sine' | 'line', and its parameters}."""

    def __init__(self, k_shot, k_query, seed=0, noise=0.3, amplitude=(0.1, 5.0),
                 phase=(0.0, math.pi), slope=(-3.0, 3.0), intercept=(-3.0, 3.0),
                 x_range=(-5.0, 5.0)):
        require(noise >= 0, "noise", noise, "give a standard deviation >= 0")
        for name, (low, high) in (("slope", slope), ("intercept", intercept)):
            require(low <= high, name, (low, high), "give (low, high) with low <= high")
        super().__init__(k_shot, k_query, seed, amplitude, phase, x_range)
        self.noise, self.slope, self.intercept = noise, slope, intercept

    def task(self, return_params=False):
        sine = torch.rand((), generator=self.generator) < 0.5
        params = self._params("sine" if sine else "line")
        x = self._uniform(self.x_range, (self.k_shot + self.k_query, 1))
        y = family_function(params)(x)
        y = y + self.noise * torch.randn(y.shape, generator=self.generator)
        k = self.k_shot
        task = Task(Split(x[:k], y[:k]), Split(x[k:], y[k:]))
        return (task, params) if return_params else task

    def crossing_task(self, grid_points=100):
        """An ambiguous task: a sine and a line from the sampler's ranges that cross at least
        k_shot times in x_range, the support set k_shot of the crossings (no noise), the query
        set grid_points + 1 evenly spaced inputs labelled by the sine.
        Returns (task, {'sine': its parameters, 'line': its parameters})."""
        grid = torch.linspace(*self.x_range, 20 * grid_points + 1)[:, None]
        for _ in range(MAX_DRAWS):
            sine, line = self._params("sine"), self._params("line")
            gap = (family_function(sine)(grid) - family_function(line)(grid))[:, 0]
            crossings = torch.nonzero(gap[:-1].sign() != gap[1:].sign())[:, 0]
            if len(crossings) >= self.k_shot:
                break
        else:
            raise ValueError(f"k_shot={self.k_shot}: no sine and line of this sampler's ranges "
                             f"crossed that often in {MAX_DRAWS} draws; lower k_shot or widen "
                             "x_range or the amplitude range")
        chosen = torch.randperm(len(crossings), generator=self.generator)[:self.k_shot]
        x = grid[crossings[chosen].sort().values]
        query = grid[::20]
        task = Task(Split(x, family_function(sine)(x)), Split(query, family_function(sine)(query)))
        return task, {"sine": sine, "line": line}

    def _params(self, family):
        if family == "sine":
            return {"family": "sine", "amplitude": self._uniform(self.amplitude, ()).item(),
                    "phase": self._uniform(self.phase, ()).item()}
        return {"family": "line", "slope": self._uniform(self.slope, ()).item(),
                "intercept": self._uniform(self.intercept, ()).item()}


def family_function(params):
    """The noise-free function of a task's parameters, x (n, 1) -> y (n, 1)."""
    if params["family"] == "sine":
        return lambda x: params["amplitude"] * torch.sin(x - params["phase"])
    require(params["family"] == "line", "params['family']", params["family"],
            "use 'sine' or 'line'")
    return lambda x: params["slope"] * x + params["intercept"]
