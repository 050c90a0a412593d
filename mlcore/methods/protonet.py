"""ProtoNet — Prototypical Networks for Few-shot Learning (Snell, Swersky & Zemel, 2017).

Chapter: notebooks/05_metric_learning.ipynb   Equations: (1) the prototype c_k, the mean
embedded support point of class k; (2) p(y = k | x) = softmax_k(-d(f(x), c_k)); the
reinterpretation as a linear model (section 2.4): with squared Euclidean d the classifier is
linear in f(x), w_k = 2 c_k, b_k = -||c_k||^2; Algorithm 1, the episode loss; zero-shot
learning: prototypes c_k = g(v_k) / ||g(v_k)|| from class meta-data v_k.
Variants here: `distance="euclidean"` (squared, the paper's choice) or `"cosine"`;
`ZeroShotProtoNet`, whose prototypes come from a second encoder of the class meta-data
(for the glyphs: a clean rendering of each character, see `load_glyph_templates`).
Differs from the paper in: nothing for the method; the zero-shot meta-data are images.
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..tasks import one_hot
from ..train import query_loss
from ..validation import require

DISTANCES = ("euclidean", "cosine")


class ProtoNet(nn.Module):
    """Classify each query by its distance to the mean embedding of every support class."""

    def __init__(self, encoder, n_way, distance="euclidean"):
        super().__init__()
        require(distance in DISTANCES, "distance", distance, f"use one of {DISTANCES}")
        self.encoder, self.n_way, self.distance = encoder, n_way, distance

    def meta_loss(self, batch):
        """Cross-entropy of the query labels under eq. (2), averaged over the tasks."""
        return query_loss(self.predict, batch, F.cross_entropy)

    def predict(self, task, n_way=None):
        """Logits -d(f(x), c_k) of the queries: (n_query, n_way). The network has no head of
        task size, so it scores tasks of any `n_way` (default: the one it was built for)."""
        support, query = self.embed(task.support.x, task.query.x)
        centres = prototypes(support, task.support.y, n_way or self.n_way)
        return -distances(query, centres, self.distance)

    def embed(self, *inputs):
        """Embed several sets of images in one pass (BatchNorm sees the whole task)."""
        sizes = [len(x) for x in inputs]
        return torch.split(self.encoder(torch.cat(inputs)), sizes)


class ZeroShotProtoNet(ProtoNet):
    """Zero-shot ProtoNet: the prototype of class k is g(v_k), an embedding of its meta-data.

    Tasks carry the meta-data in their support set: one v_k per class, labelled k.
    """

    def __init__(self, encoder, meta_encoder, n_way, distance="euclidean"):
        super().__init__(encoder, n_way, distance)
        self.meta_encoder = meta_encoder

    def predict(self, task, n_way=None):
        order = task.support.y.argsort()                           # prototype k is row k
        # unit-length prototypes, as in the paper: meta-data and images differ in scale
        centres = F.normalize(self.meta_encoder(task.support.x[order]), dim=-1)  # (n_way, d)
        return -distances(self.encoder(task.query.x), centres, self.distance)


def prototypes(embeddings, labels, n_way):
    """c_k = mean of the embeddings labelled k, eq. (1); unlabelled ones (-1) count for no
    class.   (n_way, d)"""
    members = one_hot(labels, n_way).to(embeddings.dtype)        # (n_support, n_way)
    return (members.T @ embeddings) / members.sum(0)[:, None]


def distances(queries, centres, distance="euclidean"):
    """d(f(x), c_k) for every query and centre: squared Euclidean or 1 - cosine."""
    if distance == "cosine":
        return 1 - F.normalize(queries, dim=-1) @ F.normalize(centres, dim=-1).T
    return (queries[:, None] - centres[None]).pow(2).sum(-1)     # (n_query, n_way)


def linear_form(centres):
    """The squared Euclidean classifier as a linear layer (section 2.4): w_k = 2 c_k,
    b_k = -||c_k||^2, so that -||f - c_k||^2 = w_k . f + b_k - ||f||^2 (the last term is
    the same for every class and drops out of the softmax)."""
    return 2 * centres, -centres.pow(2).sum(-1)
