"""Matching Networks for One Shot Learning (Vinyals, Blundell, Lillicrap, Kavukcuoglu &
Wierstra, 2016).

Chapter: notebooks/05_metric_learning.ipynb   Equations: (1) y_hat = sum_i a(x_hat, x_i) y_i;
(2) a = softmax over the support of cosine(f(x_hat), g(x_i)); appendix A, the full context
embeddings: g(x_i, S) = h_fwd_i + h_bwd_i + g'(x_i) from a bidirectional LSTM over the support
set, and f(x_hat, S) = attLSTM(f'(x_hat), g(S), K): K steps of
    h_k, c_k = LSTM(f'(x_hat), [h_{k-1}, r_{k-1}], c_{k-1}),   h_k = h_k + f'(x_hat),
    r_{k-1} = sum_i softmax_i(h_{k-1}^T g(x_i)) g(x_i).
Variants here: `fce=True` (full context embeddings) or False (f = f', g = g');
`attention_steps` = the paper's K (not the book's K shots).
Differs from the paper in: f' and g' are one shared encoder (as the paper's Omniglot model).
"""
import torch
import torch.nn.functional as F
from torch import nn

from ..tasks import one_hot
from ..train import query_loss
from ..validation import require


class MatchingNetwork(nn.Module):
    """Attention over the support set: a query's label is the attention-weighted labels."""

    def __init__(self, encoder, n_way, fce=False, attention_steps=5):
        super().__init__()
        require(attention_steps >= 1, "attention_steps", attention_steps,
                "use at least 1 attLSTM step (the paper's K)")
        self.encoder, self.n_way, self.fce = encoder, n_way, fce
        self.attention_steps = attention_steps
        if fce:
            d = encoder.n_features
            self.support_lstm = nn.LSTM(d, d, bidirectional=True)   # g
            self.query_cell = nn.LSTMCell(2 * d, d)                # attLSTM of f

    def meta_loss(self, batch):
        """Negative log-likelihood of the query labels under eq. (1), averaged over tasks."""
        # torch has no vmap rule for nn.LSTM: with FCE the tasks run in a loop, also on a GPU
        return query_loss(self.predict, batch, F.nll_loss, batched=False if self.fce else None)

    def predict(self, task, n_way=None):
        """log y_hat for the queries: (n_query, n_way); any `n_way` (default: as built)."""
        attention = self.attention(task)                          # (n_query, n_support)
        y_hat = attention @ one_hot(task.support.y, n_way or self.n_way).to(attention.dtype)
        return y_hat.clamp_min(1e-12).log()

    def attention(self, task):
        """a(x_hat, x_i), eq. (2): softmax over the support of the cosine similarities."""
        n_support = len(task.support.x)
        features = self.encoder(torch.cat([task.support.x, task.query.x]))  # one BatchNorm
        g, f = features[:n_support], features[n_support:]                   # g'(x_i), f'(x_hat)
        if self.fce:
            g = self.embed_support(g)
            f = self.embed_queries(f, g)
        return torch.softmax(F.normalize(f, dim=-1) @ F.normalize(g, dim=-1).T, dim=-1)

    def embed_support(self, g_prime):
        """g(x_i, S) = h_fwd_i + h_bwd_i + g'(x_i): the support set read as a sequence."""
        outputs, _ = self.support_lstm(g_prime)                   # (n_support, 2d)
        forward, backward = outputs.chunk(2, dim=-1)
        return forward + backward + g_prime

    def embed_queries(self, f_prime, g):
        """f(x_hat, S): K steps of an LSTM that attends over g(S), for all queries at once."""
        h, c = torch.zeros_like(f_prime), torch.zeros_like(f_prime)  # (n_query, d)
        for _ in range(self.attention_steps):
            read = torch.softmax(h @ g.T, dim=-1) @ g             # r_{k-1}, from h_{k-1}
            h, c = self.query_cell(torch.cat([f_prime, read], dim=-1), (h, c))
            h = h + f_prime                                       # skip connection
        return h
