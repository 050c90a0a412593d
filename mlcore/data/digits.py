"""Small MLPs on scikit-learn's bundled 8x8 digits: the offline stand-in for the MNIST
optimizees of Andrychowicz et al. (2016), section 3.2.

An optimizee is the training loss of a freshly initialised MLP, as a function of its flat
parameter vector theta; a batch of them is optimized side by side. The loss is computed on
a mini-batch of the 1,797 digits drawn for each function when it is sampled.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from ..tasks import Sampler
from ..validation import require

ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu}


class MLPOptimizees(NamedTuple):
    """A batch of MLP training losses f_i(theta_i); `theta0` has shape (n, n_parameters)."""

    x: torch.Tensor       # (n, batch, 64)
    y: torch.Tensor       # (n, batch)
    sizes: tuple          # layer sizes, e.g. (64, 20, 10)
    activation: str       # a key of ACTIVATIONS
    theta0: torch.Tensor  # (n, n_parameters), the starting point

    def loss(self, theta):
        """The mean of f_i(theta_i) over the batch: the meta-objective's term for one step."""
        return self.losses(theta).mean()

    def losses(self, theta):
        """f_i(theta_i), the cross-entropy of MLP_theta_i on its digits, for every i.   (n,)"""
        h, offset = self.x, 0
        for layer, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            weight = theta[:, offset:offset + n_in * n_out].reshape(-1, n_in, n_out)
            bias = theta[:, offset + n_in * n_out:offset + (n_in + 1) * n_out]
            offset += (n_in + 1) * n_out
            h = torch.baddbmm(bias[:, None, :], h, weight)  # (n, batch, n_out)
            if layer < len(self.sizes) - 2:
                h = ACTIVATIONS[self.activation](h)
        return F.cross_entropy(h.transpose(1, 2), self.y, reduction="none").mean(1)


# a checkpoint that carries a batch of optimizees opens with torch.load(weights_only=True)
torch.serialization.add_safe_globals([MLPOptimizees])


class DigitsMLPSampler(Sampler):
    """MLPs 64 -> `hidden` -> 10 on 8x8 digits, each with its own init and mini-batch."""

    def __init__(self, hidden=(20,), activation="sigmoid", batch_size=128, seed=0):
        require(activation in ACTIVATIONS, "activation", activation,
                f"use one of {sorted(ACTIVATIONS)}")
        require(len(hidden) >= 1 and min(hidden) >= 1, "hidden", hidden,
                "give the sizes of one or more hidden layers, e.g. (20,)")
        digits = load_digits()
        self.x = torch.tensor(digits.data, dtype=torch.float32) / 16  # (1797, 64) in [0, 1]
        self.y = torch.tensor(digits.target)
        require(1 <= batch_size <= len(self.y), "batch_size", batch_size,
                f"use 1 to {len(self.y)} examples")
        self.sizes, self.activation = (64, *hidden, 10), activation
        self.batch_size = batch_size
        super().__init__(seed)

    def task(self):
        return self.sample(1)

    def sample(self, n_functions=1):
        g, fan_ins = self.generator, self.sizes[:-1]
        rows = torch.stack([torch.randperm(len(self.y), generator=g)[:self.batch_size]
                            for _ in range(n_functions)])  # (n, batch)
        parts = []
        for n_in, n_out in zip(fan_ins, self.sizes[1:]):  # PyTorch's default initialisation
            bound = n_in ** -0.5
            parts.append((2 * torch.rand(n_functions, (n_in + 1) * n_out, generator=g) - 1)
                         * bound)
        return MLPOptimizees(self.x[rows], self.y[rows], self.sizes, self.activation,
                             torch.cat(parts, dim=1))
