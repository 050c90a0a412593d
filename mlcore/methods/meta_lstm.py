"""Meta-learner LSTM — Optimization as a Model for Few-Shot Learning (Ravi & Larochelle, 2017).

Chapter: notebooks/03_meta_learner_lstm.ipynb   Equations: section 3, the
cell update c_t = f_t * c_{t-1} + i_t * c~_t and its input and forget gates i_t, f_t;
Algorithm 1 (T updates on the support set, loss of theta_T on the query).
Variants here: `inner_steps` (T), `test_inner_steps`. Differs from the paper in: the gates
read the preprocessed gradient and loss directly (the paper puts a plain LSTM layer in front
of them), as in the lecture notes' equations.
"""
import torch
from torch import nn
from torch.func import functional_call

from ..functional import per_task
from ..nets import n_outputs
from ..train import classification_metrics
from ..validation import require
from .lstm_optimizer import preprocess


class MetaLSTM(nn.Module):
    """The learner's parameters are the cell state c_t of an LSTM whose gates are learned.

    c~_t = -grad L_t, so with f_t = 1 and i_t = alpha the update is plain SGD; the gates let
    the meta-learner choose a step size (i) and a shrinkage (f) per coordinate and per step.
    Both gates are shared by every coordinate; the initial cell state c_0 is `net`'s own
    parameters, meta-learned like everything else.
    """

    def __init__(self, net, loss_fn, inner_steps=5, test_inner_steps=None, p=10.0):
        super().__init__()
        require(inner_steps >= 1, "inner_steps", inner_steps, "use at least one update")
        self.net, self.loss_fn, self.p, self.n_way = net, loss_fn, p, n_outputs(net)
        self.inner_steps = inner_steps
        self.test_inner_steps = inner_steps if test_inner_steps is None else test_inner_steps
        self.input_gate, self.forget_gate = nn.Linear(6, 1), nn.Linear(6, 1)
        with torch.no_grad():  # start near SGD: forget nothing (f ~ 1), small steps (i ~ 0)
            for gate, low, high in ((self.forget_gate, 4.0, 6.0), (self.input_gate, -5.0, -4.0)):
                gate.weight.uniform_(-0.01, 0.01)
                gate.bias.uniform_(low, high)

    def theta(self):
        """c_0, the learner's initial parameters, as a dict name -> tensor."""
        return dict(self.net.named_parameters())

    def adapt(self, theta, support, inner_steps=None, trace=None):
        """c_t = f_t * c_{t-1} - i_t * grad L_t for t = 1..T (`inner_steps`); returns c_T.

        The gradient and the loss are inputs, taken without a graph: their second
        derivatives are ignored, as in the paper. Pass a list as `trace` to receive, for
        every step, a dict with the input gate "i", the forget gate "f" and the parameters
        "theta" (c_t), each a dict shaped like theta (the gates are the paper's figure 2).
        """
        c = torch.cat([p.reshape(-1) for p in theta.values()])  # (n_coordinates,)
        i = f = torch.zeros_like(c)
        for _ in range(self.inner_steps if inner_steps is None else inner_steps):
            loss, grad = self._loss_and_gradient(theta, c, support)
            inputs = torch.cat([preprocess(grad, self.p),
                                preprocess(loss, self.p).expand(len(c), 2), c[:, None]], dim=1)
            i = torch.sigmoid(self.input_gate(torch.cat([inputs, i[:, None]], 1))).squeeze(1)
            f = torch.sigmoid(self.forget_gate(torch.cat([inputs, f[:, None]], 1))).squeeze(1)
            c = f * c - i * grad
            if trace is not None:
                trace.append({name: _unflatten(value.detach(), theta)
                              for name, value in (("i", i), ("f", f), ("theta", c))})
        return _unflatten(c, theta)

    def meta_loss(self, batch):
        """Mean over the tasks of the query loss of theta_T (Algorithm 1, line 12)."""
        # looped: the gradients fed to the gates are taken with torch.autograd.grad
        losses, outputs = per_task(self._query_loss, batch, self.theta(), batched=False)
        return losses.mean(), classification_metrics(outputs, batch.query.y)

    def predict(self, task, inner_steps=None):
        """Run `inner_steps` (default `test_inner_steps`) updates on `task.support`, predict
        `task.query.x`."""
        with torch.no_grad():
            phi = self.adapt(self.theta(), task.support,
                             self.test_inner_steps if inner_steps is None else inner_steps)
            return functional_call(self.net, phi, (task.query.x,))

    def _query_loss(self, task, theta):
        phi = self.adapt(theta, task.support)
        outputs = functional_call(self.net, phi, (task.query.x,))
        return self.loss_fn(outputs, task.query.y), outputs

    def _loss_and_gradient(self, theta, c, support):
        with torch.enable_grad():
            c = c.detach().requires_grad_()
            outputs = functional_call(self.net, _unflatten(c, theta), (support.x,))
            loss = self.loss_fn(outputs, support.y)
            (grad,) = torch.autograd.grad(loss, c)
        return loss.detach(), grad


def _unflatten(c, like):
    """The flat vector c as a dict shaped like `like`."""
    sizes = [p.numel() for p in like.values()]
    return {name: part.reshape(p.shape)
            for (name, p), part in zip(like.items(), c.split(sizes))}
