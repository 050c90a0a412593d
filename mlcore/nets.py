"""The networks the chapters share: an MLP for regression and Conv4 for images, a linear
model on sine and line features (chapter 08's fast mode) and a body/head net with
normalised features (chapter 09).

Conv4 (Vinyals '16, Finn '17) is four blocks of 3x3 convolution, BatchNorm, ReLU and 2x2
max-pooling. Its BatchNorm keeps **no running statistics**: it always normalises with the
statistics of the batch it sees, so a few-shot model is transductive (the query images of
a task are normalised together) and meta-training and testing behave alike.
"""
from contextlib import contextmanager

import torch
from torch import nn


class MLP(nn.Sequential):
    """Fully connected net, e.g. `MLP([1, 40, 40, 1])` for the sinusoids of Finn '17."""

    def __init__(self, sizes, activation=nn.ReLU):
        if len(sizes) < 2:
            raise ValueError(f"sizes={sizes!r} is invalid: give at least [n_in, n_out].")
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), activation()]
        super().__init__(*layers[:-1])


class SineLineBasis(nn.Module):
    """A linear model on fixed features, y = w1 x / x_scale + w2 sin x + w3 cos x + b: every
    line a x + c and every sinusoid A sin(x - p) = A cos(p) sin x - A sin(p) cos x is one
    weight vector, so a meta-learner on it learns which functions are likely, not features.
    `x_scale` keeps the features' sizes alike, so that gradient steps fit all of them."""

    def __init__(self, x_scale=2.5):
        super().__init__()
        self.x_scale = x_scale
        self.linear = nn.Linear(3, 1)

    def forward(self, x):                                  # x: (n, 1)
        return self.linear(torch.cat([x / self.x_scale, torch.sin(x), torch.cos(x)], -1))


class BodyHead(nn.Module):
    """`body`: an MLP on the flattened input, `n_in -> hidden -> hidden -> body_out` (ReLUs),
    its output layer-normalised (zero mean and unit variance over the units, no learned
    scale); `head`: a linear map `hidden -> n_out`. The normalisation bounds the features'
    size, as the batch-normalised head of Yin et al.'s pose code does, so that one small
    inner step on the head moves a prediction by a bounded amount. `body_out` defaults to
    `hidden`; MR-MAML (A) takes `2 * hidden` (a mean and a raw scale per code unit)."""

    def __init__(self, n_in, hidden=64, n_out=1, body_out=None):
        super().__init__()
        body_out = hidden if body_out is None else body_out
        self.body = nn.Sequential(nn.Flatten(), MLP([n_in, hidden, hidden, body_out]), nn.ReLU(),
                                  nn.LayerNorm(body_out, elementwise_affine=False))
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.head(self.body(x))


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm with batch statistics only: (x - mean) / sqrt(var + eps) * weight + bias.

    PyTorch's fused kernel is fast, but under `torch.func.vmap` its second derivatives are
    wrong (torch 2.13; tests/test_maml.py checks both forms against finite differences).
    Inside `plain_batch_norm()` the same formula runs in elementary operations, which vmap
    differentiates correctly to any order.
    """

    plain = False  # switched on by plain_batch_norm()

    def __init__(self, num_features):
        super().__init__(num_features, track_running_stats=False)

    def forward(self, x):
        if not BatchNorm2d.plain:
            return super().forward(x)
        mean = x.mean((0, 2, 3), keepdim=True)  # (1, channels, 1, 1)
        var = (x - mean).pow(2).mean((0, 2, 3), keepdim=True)
        scale = self.weight[:, None, None] * torch.rsqrt(var + self.eps)  # (1, channels, 1, 1)
        return (x - mean) * scale + self.bias[:, None, None]


@contextmanager
def plain_batch_norm():
    """Run every `BatchNorm2d` in elementary operations while the block lasts (for vmap)."""
    before, BatchNorm2d.plain = BatchNorm2d.plain, True
    try:
        yield
    finally:
        BatchNorm2d.plain = before


def conv_block(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """Four conv blocks, flattened: (n, 1, 28, 28) -> (n, hidden), then an optional head.

    Two children: `body` (the blocks and the flattening) and `head`, a linear layer to
    `n_out` logits (None without `n_out`), so methods that adapt only the head (ANIL) or
    replace it find both by name.
    """

    def __init__(self, n_out=None, in_channels=1, hidden=64):
        super().__init__()
        blocks = [conv_block(in_channels if i == 0 else hidden, hidden) for i in range(4)]
        self.body = nn.Sequential(*blocks, nn.Flatten())
        self.head = None if n_out is None else nn.Linear(hidden, n_out)
        self.n_features, self.n_out = hidden, n_out  # 28 -> 14 -> 7 -> 3 -> 1 pixels

    def forward(self, x):
        features = self.body(x)  # (n, hidden)
        return features if self.head is None else self.head(features)

    def features(self, x):
        """The body's output, without the head: (n, hidden)."""
        return self.body(x)


def n_outputs(net):
    """The number of outputs of `net`'s last linear layer (a classifier's head size)."""
    linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return linear[-1].out_features if linear else None


def parameters_of(params, child):
    """The entries of a network's parameter dict that belong to its child `child`, named as
    inside that child: parameters_of({"head.weight": w, "body.0.0.bias": b}, "head")
    -> {"weight": w}. For `functional_call` on one part of a network."""
    prefix = child + "."
    return {name[len(prefix):]: p for name, p in params.items() if name.startswith(prefix)}
