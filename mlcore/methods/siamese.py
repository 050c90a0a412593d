"""Siamese Neural Networks for One-shot Image Recognition (Koch, Zemel & Salakhutdinov, 2015).

Chapter: notebooks/05_metric_learning.ipynb   Equations: section 3.1, the prediction
p = sigma(sum_j alpha_j |h1_j - h2_j| + b) on the L1 distance of the twins' embeddings;
section 3.2, the loss: binary cross-entropy on verification pairs plus an L2 penalty on the
weights, and the affine distortions of the training pairs; section 4.3, one-shot
classification: a query takes the label of the support example with the highest p.
Variants here: trained with or without affine distortions (`PairSampler(distort=True)`).
Differs from the paper in: a Conv4 encoder instead of the paper's larger network, one L2
weight for all layers (the paper: one per layer), Adam instead of SGD with momentum.
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..tasks import one_hot


class Siamese(nn.Module):
    """Twin encoders with shared weights and a learned weighting of the L1 distance."""

    def __init__(self, encoder, n_way, weight_decay=1e-4):
        super().__init__()
        self.encoder, self.n_way, self.weight_decay = encoder, n_way, weight_decay
        self.distance_weights = nn.Linear(encoder.n_features, 1)  # Koch's alpha_j and bias b

    def similarity(self, h1, h2):
        """The logit of p(same) for embeddings h1, h2 (..., d) -> (...)."""
        return self.distance_weights((h1 - h2).abs()).squeeze(-1)

    def meta_loss(self, batch):
        """Binary cross-entropy on the pairs of `batch.query` plus the L2 penalty."""
        x, same = batch.query.x.flatten(0, 1), batch.query.y.flatten()  # (n, 2, 1, H, W)
        h = self.encoder(x.flatten(0, 1)).view(len(x), 2, -1)           # (n, 2, d)
        logits = self.similarity(h[:, 0], h[:, 1])
        penalty = sum(w.pow(2).sum() for w in self.parameters() if w.dim() > 1)  # not biases, BN
        loss = F.binary_cross_entropy_with_logits(logits, same) + self.weight_decay * penalty
        return loss, {"accuracy": ((logits > 0).float() == same).float().mean()}

    def predict(self, task, n_way=None):
        """Score of each query for each class: the best p over that class's support examples.

        Returns (n_query, n_way) logits of p (any `n_way`, default: as built); the predicted
        class is the argmax.
        """
        n_support, n_way = len(task.support.x), n_way or self.n_way
        h = self.encoder(torch.cat([task.support.x, task.query.x]))      # one BatchNorm
        scores = self.similarity(h[n_support:, None], h[None, :n_support])  # (n_query, n_sup)
        member = one_hot(task.support.y, n_way).bool()                   # (n_support, n_way)
        masked = scores[:, :, None].masked_fill(~member, float("-inf"))
        return masked.amax(1)
