"""MAML — Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks (Finn, Abbeel &
Levine, 2017).

Chapter: notebooks/02_maml.ipynb, 02_maml_classification.ipynb   Equations: (1) the inner
step, taken "one or more" times (section 2.2; 5 steps for 20-way Omniglot and
mini-ImageNet), (2)-(3) the meta-objective and its update.
Variants here: `first_order=True` (FOMAML), `inner_steps > 1` (multi-step),
`PretrainedRegressor` (the paper's "pretrained" baseline, section 5.1).
Differs from the paper in: nothing; the tasks of a batch run in a loop on the CPU and
vmapped on a GPU (`ml.per_task`, `batched=None` chooses).
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..functional import gradient_steps, per_task
from ..nets import n_outputs
from ..train import classification_metrics
from ..validation import require


class MAML(nn.Module):
    """Learn an initialisation theta from which `inner_steps` gradient steps solve a task.

    `loss_fn(outputs, targets)` is e.g. `F.cross_entropy` or `F.mse_loss`; `alpha` is the inner
    step size; `test_inner_steps` (default `inner_steps`) is the number of steps `predict`
    takes.
    """

    def __init__(self, net, loss_fn, alpha, inner_steps=1, test_inner_steps=None,
                 first_order=False, batched=None):
        super().__init__()
        require(alpha > 0, "alpha", alpha, "use a positive inner step size")
        require(inner_steps >= 1, "inner_steps", inner_steps, "use at least one inner step")
        self.net, self.loss_fn, self.alpha, self.inner_steps = net, loss_fn, alpha, inner_steps
        self.test_inner_steps = inner_steps if test_inner_steps is None else test_inner_steps
        self.first_order, self.batched = first_order, batched
        self.n_way = n_outputs(net)  # the head size, checked against task labels

    def theta(self):
        """The meta-parameters as a dict name -> tensor (the network's parameters)."""
        return dict(self.net.named_parameters())

    def step_size(self):
        """The inner step size alpha: a number here; a learned tensor per parameter in Meta-SGD."""
        return self.alpha

    def adapt(self, theta, support, inner_steps=None):
        """phi^0 = theta,  phi^{k+1} = phi^k - alpha grad L(phi^k; D^tr)   (eq. 1, T times).

        Second order by default: phi stays a differentiable function of theta, so the
        meta-gradient contains prod_k (I - alpha H(phi^k)). `first_order=True` treats the
        inner gradients as constants, so d phi / d theta = I (FOMAML).
        """
        def support_loss(phi):
            return self.loss_fn(functional_call(self.net, phi, (support.x,)), support.y)
        steps = self.inner_steps if inner_steps is None else inner_steps
        return gradient_steps(support_loss, theta, self.step_size(), steps, self.first_order)

    def meta_loss(self, batch):
        """Mean over the tasks of the query loss after adaptation, L(phi_i; D^val_i)  (eq. 3)."""
        losses, outputs = per_task(self._query_loss, batch, self.theta(), batched=self.batched)
        return losses.mean(), classification_metrics(outputs, batch.query.y)

    def predict(self, task, inner_steps=None):
        """Adapt on `task.support` for `inner_steps` (default `test_inner_steps`), predict
        `task.query.x`."""
        with torch.no_grad():  # the inner loop still differentiates the support loss
            steps = self.test_inner_steps if inner_steps is None else inner_steps
            phi = self.adapt(self.theta(), task.support, steps)
            return functional_call(self.net, phi, (task.query.x,))

    def _query_loss(self, task, theta):
        phi = self.adapt(theta, task.support)
        outputs = functional_call(self.net, phi, (task.query.x,))
        return self.loss_fn(outputs, task.query.y), outputs


class PretrainedRegressor(MAML):
    """Finn '17's baseline: one network fitted to the points of all tasks at once (no inner
    loop while training), then fine-tuned like MAML at test time, with `fine_tune_steps`
    steps of size `alpha`. For sinusoids with phase b ~ U[0, pi] the best single function is
    the mean E[y | x] = -(2/pi) E[A] cos x, about -1.62 cos x for A ~ U[0.1, 5]."""

    def __init__(self, net, alpha=0.01, fine_tune_steps=10, **kwargs):
        super().__init__(net, F.mse_loss, alpha, test_inner_steps=fine_tune_steps, **kwargs)

    def meta_loss(self, batch):
        x = torch.cat([batch.support.x, batch.query.x], dim=1)  # (tasks, k + q, 1)
        y = torch.cat([batch.support.y, batch.query.y], dim=1)
        return self.loss_fn(self.net(x), y), {}
