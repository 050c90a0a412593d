"""The functional machinery every method shares, written once: map a one-task function over
the tasks of a batch (`per_task`), and the inner loop of gradient steps on a dict of
parameters (`gradient_steps`, eqs. (1) and (2) of Finn et al. 2017).

Parameters travel as dicts name -> tensor and networks run with
`torch.func.functional_call(net, params, (x,))`, so adapted weights are ordinary tensors
that stay differentiable functions of the meta-parameters.
"""
from contextlib import contextmanager

import torch
from torch.func import grad, hessian, vmap

from .nets import plain_batch_norm
from .notebook import smoke_mode
from .tasks import unstack

_vmapped = False  # True while per_task runs its function under vmap


def per_task(fn, batch, *shared, batched=None, randomness="different"):
    """`fn(task, *shared)` for every task of `batch`, the results stacked along a new first
    dimension (a tensor, or a tuple or dict of tensors, like `fn`'s).

    `batched=None` loops over the tasks on a CPU (faster there) and vmaps over them on a GPU
    (and in a smoke run, `MLCORE_SMOKE=1`, which tests the GPU's path on a CPU); True or
    False forces either. Under vmap, `BatchNorm2d` runs in elementary operations
    (the fused kernel's second derivatives are wrong under vmap), `gradient_steps` takes
    its gradients with `torch.func.grad`, and random draws differ between tasks
    (`randomness`, as in `torch.func.vmap`). The `shared` arguments are not mapped.
    """
    if batched is None:
        batched = batch.query.x.is_cuda or smoke_mode()
    if batched:
        with plain_batch_norm(), _vmapping():
            in_dims = (0,) + (None,) * len(shared)
            return vmap(fn, in_dims=in_dims, randomness=randomness)(batch, *shared)
    return _stacked([fn(task, *shared) for task in unstack(batch)])


def gradient_steps(loss_of, params, step_size, steps=1, first_order=False):
    """phi^0 = params,  phi^{k+1} = phi^k - alpha * grad loss_of(phi^k),  returns phi^steps.

    `loss_of(phi) -> scalar` is the loss on the data adapted to (a task's support set);
    `step_size` (alpha) is a number, or a dict name -> number or tensor of the same shape
    (Meta-SGD's learned per-coordinate steps). Second order by default: where autograd
    records, phi stays a differentiable function of params, so a meta-gradient through it
    contains the Hessian term. `first_order=True` treats the inner gradients as constants,
    so d phi / d params = I (FOMAML). Under `torch.no_grad()` (at test time) the gradients
    are still taken, and phi carries no graph.
    """
    for _ in range(steps):
        grads = gradient(loss_of, params, first_order)
        params = {name: p - _step_size(step_size, name) * grads[name]
                  for name, p in params.items()}
    return params


def per_example_hessians(loss_fn, outputs, targets):
    """d2 loss / d output2 of each example alone, (n, d_out, d_out), for a `loss_fn` that
    averages over the examples (so n * loss_fn is their sum, and the second derivatives
    across two examples vanish). Differentiable where autograd records. In a loop: by double
    backward, d_out backward passes for all examples at once (about 10x faster there than
    per-example Hessians); under vmap: `torch.func.hessian` of each example's loss."""
    if _vmapped:
        def loss_of_one(output, target):
            return loss_fn(output[None], target[None])
        return vmap(hessian(loss_of_one))(outputs, targets)
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        s = outputs if outputs.requires_grad else outputs.detach().requires_grad_()
        g, = torch.autograd.grad(len(s) * loss_fn(s, targets), s, create_graph=True)
        rows = [torch.autograd.grad(g[:, k].sum(), s, retain_graph=True,
                                    create_graph=create_graph)[0]
                for k in range(s.shape[1])]  # row k: d/ds of dL/ds_k, summed over examples
    return torch.stack(rows, 1)


def gradient(loss_of, params, first_order=False):
    """grad loss_of(params) as a dict name -> tensor, differentiable where autograd records
    (unless `first_order`). Under vmap only torch.func.grad works; in a loop
    torch.autograd.grad is about 20% faster."""
    if _vmapped:
        grads = grad(loss_of)(params)
        return {n: g.detach() for n, g in grads.items()} if first_order else grads
    create_graph = torch.is_grad_enabled() and not first_order
    params = {n: p if p.requires_grad else p.detach().requires_grad_()
              for n, p in params.items()}  # so that it works under no_grad, at test time
    with torch.enable_grad():
        grads = torch.autograd.grad(loss_of(params), list(params.values()),
                                    create_graph=create_graph)
    return dict(zip(params, grads))


def _step_size(step_size, name):
    return step_size[name] if isinstance(step_size, dict) else step_size


@contextmanager
def _vmapping():
    global _vmapped
    before, _vmapped = _vmapped, True
    try:
        yield
    finally:
        _vmapped = before


def _stacked(results):
    """Stack a list of per-task results: tensors, or (nested) tuples or dicts of tensors,
    as vmap does."""
    first = results[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(results)
    if isinstance(first, dict):
        return {key: _stacked([r[key] for r in results]) for key in first}
    parts = [_stacked(list(part)) for part in zip(*results)]
    return type(first)(*parts) if hasattr(first, "_fields") else tuple(parts)  # NamedTuple
