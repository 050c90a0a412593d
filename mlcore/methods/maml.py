"""MAML — Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks (Finn, Abbeel &
Levine, 2017).

Chapter: notebooks/02_maml.ipynb, 02_maml_classification.ipynb   Equations: (1) inner step,
(2) multi-step, (3) meta-objective.
Variants here: `first_order=True` (FOMAML), `steps > 1` (multi-step, Antoniou '18),
`PretrainedRegressor` (the paper's "pretrained" baseline, section 5.1).
Differs from the paper in: nothing; the inner loop runs per task in a loop on the CPU and
vmapped over tasks on a GPU (`batched=None` chooses).
"""
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from ..nets import plain_batch_norm
from ..tasks import require, unstack


class MAML(nn.Module):
    """Learn an initialisation theta from which `steps` gradient steps solve a task.

    `loss_fn(outputs, targets)` is e.g. `F.cross_entropy` or `F.mse_loss`; `alpha` is the inner
    step size; `test_steps` (default `steps`) is the number of steps `predict` takes.
    """

    def __init__(self, net, loss_fn, alpha, steps=1, test_steps=None, first_order=False,
                 batched=None):
        super().__init__()
        require(alpha > 0, "alpha", alpha, "use a positive inner step size")
        require(steps >= 1, "steps", steps, "use at least one inner step")
        self.net, self.loss_fn, self.alpha, self.steps = net, loss_fn, alpha, steps
        self.test_steps = steps if test_steps is None else test_steps
        self.first_order, self.batched = first_order, batched

    def theta(self):
        """The meta-parameters as a dict name -> tensor (the network's parameters)."""
        return dict(self.net.named_parameters())

    def adapt(self, theta, support, steps=None, vmapped=False):
        """phi^0 = theta,  phi^{k+1} = phi^k - alpha grad L(phi^k; D^tr)   (eqs. 1, 2).

        Second order by default: phi stays a differentiable function of theta, so the
        meta-gradient contains the Hessian term. `first_order=True` detaches the inner
        gradients, so d phi / d theta = I (FOMAML).
        """
        phi = dict(theta)
        for _ in range(self.steps if steps is None else steps):
            phi = self._step(phi, support, vmapped)
        return phi

    def step_size(self, name):
        """The inner step size of parameter `name` (a scalar here; learned in Meta-SGD)."""
        return self.alpha

    def meta_loss(self, batch):
        """Mean over the tasks of the query loss after adaptation, L(phi_i; D^val_i)  (eq. 3)."""
        losses, outputs = self._per_task(self._query_loss, batch)
        return losses.mean(), classification_metrics(outputs, batch.query.y)

    def predict(self, task, steps=None):
        """Adapt on `task.support` for `steps` (default `test_steps`), predict `task.query.x`."""
        with torch.no_grad():  # the inner loop still differentiates the support loss
            phi = self.adapt(self.theta(), task.support,
                             steps=self.test_steps if steps is None else steps)
            return functional_call(self.net, phi, (task.query.x,))

    def _query_loss(self, theta, task, vmapped):
        phi = self.adapt(theta, task.support, vmapped=vmapped)
        outputs = functional_call(self.net, phi, (task.query.x,))
        return self.loss_fn(outputs, task.query.y), outputs

    def _per_task(self, task_fn, batch):
        """Apply `task_fn(theta, task, vmapped)` to every task: vmapped on a GPU, else looped."""
        theta = self.theta()
        batched = batch.support.x.is_cuda if self.batched is None else self.batched
        if batched:
            with plain_batch_norm():  # the fused kernel's 2nd derivatives are wrong under vmap
                return vmap(partial(task_fn, vmapped=True), in_dims=(None, 0))(theta, batch)
        results = [task_fn(theta, task, vmapped=False) for task in unstack(batch)]
        return tuple(torch.stack(parts) for parts in zip(*results))

    def _step(self, phi, support, vmapped):
        """One inner step phi - alpha grad L(phi; support) on the parameters that adapt."""
        grads = self._support_gradients(phi, support, vmapped)
        return {**phi, **{name: phi[name] - self.step_size(name) * g
                          for name, g in grads.items()}}

    def _support_gradients(self, phi, support, vmapped):
        """grad L(phi; D^tr) for the parameters the inner loop adapts, as a dict.

        Under vmap only torch.func.grad works; in a loop torch.autograd.grad is ~20% faster.
        """
        adapted = self._adapted(phi)
        if vmapped:
            grads = grad(self._support_loss)(adapted, phi, support)
            return {n: g.detach() for n, g in grads.items()} if self.first_order else grads
        create_graph = torch.is_grad_enabled() and not self.first_order
        adapted = {n: p if p.requires_grad else p.detach().requires_grad_()
                   for n, p in adapted.items()}  # so that predict() works under no_grad
        with torch.enable_grad():
            loss = self._support_loss(adapted, phi, support)
            grads = torch.autograd.grad(loss, list(adapted.values()), create_graph=create_graph)
        return dict(zip(adapted, grads))

    def _support_loss(self, adapted, phi, support):
        outputs = functional_call(self.net, {**phi, **adapted}, (support.x,))
        return self.loss_fn(outputs, support.y)

    def _adapted(self, phi):
        """The parameters the inner loop changes: all of them in MAML."""
        return phi


class PretrainedRegressor(MAML):
    """Finn '17's baseline: one network fitted to the points of all tasks at once (no inner
    loop while training: the best single function, for sinusoids close to zero everywhere),
    then fine-tuned like MAML at test time, with `fine_tune_steps` steps of size `alpha`."""

    def __init__(self, net, alpha=0.01, fine_tune_steps=10, **kwargs):
        super().__init__(net, F.mse_loss, alpha, test_steps=fine_tune_steps, **kwargs)

    def meta_loss(self, batch):
        x = torch.cat([batch.support.x, batch.query.x], dim=1)  # (tasks, k + q, 1)
        y = torch.cat([batch.support.y, batch.query.y], dim=1)
        return self.loss_fn(self.net(x), y), {}


def classification_metrics(outputs, targets):
    """{"accuracy": ...} for integer targets (any leading task dimensions), else {}."""
    if targets.is_floating_point():
        return {}
    return {"accuracy": (outputs.argmax(-1) == targets).float().mean().detach()}
