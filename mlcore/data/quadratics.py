"""Random quadratic functions, the first optimizees of Andrychowicz et al. (2016), section 3.1.

Each function is f(theta) = ||W theta - y||^2 with W (dim, dim) and y (dim,) drawn from a
standard Gaussian; the optimizer starts from theta_0 ~ N(0, 0.01^2).
"""
from typing import NamedTuple

import torch

from ..tasks import Sampler
from ..validation import require


class Quadratics(NamedTuple):
    """A batch of quadratics f_i(theta_i) = ||W_i theta_i - y_i||^2, optimized side by side."""

    W: torch.Tensor       # (n, dim, dim)
    y: torch.Tensor       # (n, dim)
    theta0: torch.Tensor  # (n, dim), the starting point

    def losses(self, theta):
        """f_i(theta_i) for every function of the batch; theta has shape (n, dim).   (n,)"""
        residual = torch.einsum("nij,nj->ni", self.W, theta) - self.y
        return residual.pow(2).sum(-1)

    def loss(self, theta):
        """The mean of f_i(theta_i) over the batch: the meta-objective's term for one step."""
        return self.losses(theta).mean()


# a checkpoint that carries a batch of quadratics opens with torch.load(weights_only=True)
torch.serialization.add_safe_globals([Quadratics])


class QuadraticSampler(Sampler):
    """Draws batches of random `dim`-dimensional quadratics from its own generator.

    Optimizees are functions, not Tasks: `sample(n)` returns one batch of n functions and
    `task()` a batch of one."""

    def __init__(self, dim=10, seed=0):
        require(dim >= 1, "dim", dim, "use at least one dimension")
        super().__init__(seed)
        self.dim = dim

    def task(self):
        return self.sample(1)

    def sample(self, n_functions=1):
        require(n_functions >= 1, "n_functions", n_functions, "ask for at least one function")
        d, g = self.dim, self.generator
        return Quadratics(W=torch.randn(n_functions, d, d, generator=g),
                          y=torch.randn(n_functions, d, generator=g),
                          theta0=0.01 * torch.randn(n_functions, d, generator=g))
