"""Meta-SGD — Learning to Learn Quickly for Few-Shot Learning (Li, Zhou, Chen & Li, 2017).

Chapter: notebooks/02_maml.ipynb, 02_maml_classification.ipynb
Equations: (6) phi = theta - alpha o grad L(theta; D^tr)
Variants here: none. Differs from the paper in: alpha starts at one value for every
coordinate (the paper draws it at random in [0.005, 0.1]).
"""
import torch
from torch import nn

from .maml import MAML


class MetaSGD(MAML):
    """MAML whose inner step size is a learned tensor alpha of the same shape as theta.

    The inner step multiplies elementwise (o), so every coordinate of every parameter gets
    its own step size, and even its own direction: alpha may turn negative.
    """

    def __init__(self, net, loss_fn, alpha=0.01, inner_steps=1, **kwargs):
        super().__init__(net, loss_fn, alpha, inner_steps, **kwargs)
        self.alphas = nn.ParameterList(nn.Parameter(torch.full_like(p, alpha))
                                       for p in net.parameters())

    def step_size(self):
        """The learned alpha of every parameter, as a dict name -> tensor shaped like it."""
        return {name: alpha for (name, _), alpha in zip(self.net.named_parameters(), self.alphas)}
