"""CNP — Conditional Neural Processes (Garnelo et al., 2018), and MR-CNP (W), its
meta-regularized version (Yin, Tucker, Zhou, Levine & Finn, 2020).

Chapter: notebooks/09_memorization_without_gradients.ipynb   Equations: CNP's
r_i = h([e(x_i), y_i]) for the support pairs, r = their mean (order-free), and the prediction
g([e(x*), r]) for a query (Garnelo et al.'s model section; its section and equation numbers
not checked; the chapter writes rho_j and rho-bar for r_i and r); MR-CNP (W) makes the input
encoder's weights random, e ~ N(mu, sigma^2), and adds beta KL(q(e) || N(0, I)) once per
meta-batch (the authors' code, np_bbb.py: "KL just on encoder_w").
Variants here: `MRCNP(beta=0)` with a tiny `init_log_std` is CNP.
Differs from the papers in: the loss is the squared error (a Gaussian likelihood of fixed
variance, as in Yin et al.'s pose code), not a learned variance; one weight sample per task;
`predict` uses the mean weights.
"""
import torch
from torch import nn
from torch.func import functional_call

from ..functional import per_task
from ..nets import MLP, parameters_of
from ..validation import require
from .mr_maml import sampled_weights, standard_normal_kl


class CNP(nn.Module):
    """`encoder` maps an input to `n_features` numbers (an MLP, or a small convnet for images);
    h and g are MLPs with `hidden` units; the support set's summary r has `n_r` numbers."""

    def __init__(self, encoder, n_features, loss_fn, n_outputs=1, hidden=100, n_r=100,
                 batched=None):
        require(n_features >= 1, "n_features", n_features, "give the encoder's output size")
        super().__init__()
        self.encoder, self.loss_fn, self.batched = encoder, loss_fn, batched
        self.h = MLP([n_features + n_outputs, hidden, hidden, n_r])
        self.g = MLP([n_features + n_r, hidden, hidden, n_outputs])
        self.n_way = None

    def theta(self):
        """Every parameter, name -> tensor."""
        return dict(self.named_parameters())

    def forward_task(self, params, task):
        """The query outputs given the support set, with parameters `params`."""
        encoder = parameters_of(params, "encoder")
        support = functional_call(self.encoder, encoder, (task.support.x,))   # (k, d)
        query = functional_call(self.encoder, encoder, (task.query.x,))       # (q, d)
        pairs = torch.cat([support, task.support.y], -1)                     # (k, d + 1)
        r = functional_call(self.h, parameters_of(params, "h"), (pairs,)).mean(0)  # (n_r,)
        joined = torch.cat([query, r.expand(len(query), -1)], -1)            # (q, d + n_r)
        return functional_call(self.g, parameters_of(params, "g"), (joined,))

    def meta_loss(self, batch):
        """Mean over the tasks of the query loss given the support set."""
        losses, _ = per_task(self._task_loss, batch, self.theta(), batched=self.batched)
        return losses.mean(), {}

    def predict(self, task):
        """The query outputs given the support set (no adaptation: one forward pass)."""
        with torch.no_grad():
            return self.forward_task(self.theta(), task)

    def _task_loss(self, task, params):
        outputs = self.forward_task(params, task)
        return self.loss_fn(outputs, task.query.y), outputs


class MRCNP(CNP):
    """CNP whose input encoder has random weights N(mu, sigma^2), regularised by beta
    KL(q || N(0, I))."""

    def __init__(self, encoder, n_features, loss_fn, beta=1e-3, init_log_std=-3.0, **kwargs):
        require(beta >= 0, "beta", beta, "weight the KL term by a number >= 0")
        super().__init__(encoder, n_features, loss_fn, **kwargs)
        self.beta = beta
        self.encoder_names = [f"encoder.{name}" for name, _ in encoder.named_parameters()]
        self.log_std = nn.ParameterList(
            [nn.Parameter(torch.full_like(p, init_log_std)) for p in encoder.parameters()])

    def weight_kl(self):
        """KL(q(encoder weights) || N(0, I)), summed over the weights."""
        return standard_normal_kl(self.theta(), self.encoder_names, self.log_std)

    def meta_loss(self, batch):
        loss, metrics = super().meta_loss(batch)
        return loss + self.beta * self.weight_kl(), metrics

    def _task_loss(self, task, params):
        return super()._task_loss(task, sampled_weights(params, self.encoder_names, self.log_std))
