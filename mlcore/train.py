"""The one training loop of the book, evaluation with 95% intervals, and checkpoints.

Every method follows one protocol: `method.meta_loss(batch) -> (loss, metrics)` on a batch
of tasks, and `method.predict(task)` -> outputs for `task.query.x`. `meta_train` minimises
the meta-loss with Adam; `evaluate` scores `predict` on fresh tasks.
"""
import math
import os
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .tasks import require, to_device, unstack


def meta_train(method, sampler, *, steps, meta_batch_size, lr, checkpoint=None,
               checkpoint_every=100, val_sampler=None, val_every=100, val_tasks=100,
               progress=True):
    """Meta-train `method` for `steps` outer steps of Adam(lr) on tasks from `sampler`.

    Returns the history as a DataFrame: one row per step with `step`, `loss` and the
    metrics of `meta_loss`, plus `val` (the `evaluate` score) every `val_every` steps when a
    `val_sampler` is given. With `checkpoint` (a file path) the run saves itself every
    `checkpoint_every` steps and at the end, and a later call with the same path resumes
    where it stopped: the resumed run ends with exactly the parameters and history of an
    uninterrupted one. `df.attrs["seconds_per_step"]` is the wall time of this call's steps.
    """
    require(steps >= 0, "steps", steps, "use a number of meta-steps >= 0")
    require(meta_batch_size >= 1, "meta_batch_size", meta_batch_size, "use at least 1 task")
    require(lr > 0, "lr", lr, "use a positive learning rate")
    optimizer = torch.optim.Adam(method.parameters(), lr=lr)
    samplers = {"sampler": sampler, "val_sampler": val_sampler}
    rows = []
    if _exists(checkpoint):
        rows, _ = load_checkpoint(checkpoint, method, optimizer, samplers)
    device, start, began = _device_of(method), len(rows), time.perf_counter()
    for step in tqdm(range(start, steps), initial=start, total=steps, disable=not progress,
                     desc=type(method).__name__):
        loss, metrics = method.meta_loss(to_device(sampler.sample(meta_batch_size), device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        rows.append({"step": step + 1, "loss": loss.item(), **_floats(metrics)})
        if val_sampler is not None and (step + 1) % val_every == 0:
            rows[-1]["val"] = evaluate(method, val_sampler, val_tasks)[0]
        if checkpoint and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            save_checkpoint(checkpoint, method, optimizer, samplers, rows)
    history = pd.DataFrame(rows)
    history.attrs["seconds_per_step"] = (time.perf_counter() - began) / max(steps - start, 1)
    return history


def evaluate(method, sampler, n_tasks=600, **predict_options):
    """Score `method.predict(task, **predict_options)` on `n_tasks` fresh tasks: `(mean, ci95)`.

    The score is accuracy in percent for classification (integer labels) and mean squared
    error for regression; `ci95 = 1.96 * std / sqrt(n_tasks)`. Runs under `torch.no_grad()`:
    a method that adapts inside `predict` turns gradients back on for its inner loop.
    """
    require(n_tasks >= 2, "n_tasks", n_tasks, "use at least 2 tasks for an interval")
    was_training, device = method.training, _device_of(method)
    method.eval()
    scores = []
    with torch.no_grad():
        for _ in range(n_tasks):
            task = to_device(sampler.task(), device)
            scores.append(score(method.predict(task, **predict_options), task.query.y))
    method.train(was_training)
    scores = torch.tensor(scores)
    return scores.mean().item(), 1.96 * scores.std().item() / math.sqrt(n_tasks)


def score(outputs, targets):
    """Accuracy in percent for integer targets, mean squared error for real ones."""
    if targets.is_floating_point():
        return torch.nn.functional.mse_loss(outputs, targets).item()
    return 100 * accuracy(outputs, targets)


def query_loss(predict, batch, loss_fn=torch.nn.functional.cross_entropy):
    """The loss of `predict(task)` on each task's query labels, averaged over a batch of
    tasks, and the accuracy: the meta-loss of methods that adapt by a fixed rule."""
    losses, accuracies = [], []
    for task in unstack(batch):
        outputs = predict(task)
        losses.append(loss_fn(outputs, task.query.y))
        accuracies.append((outputs.argmax(-1) == task.query.y).float().mean())
    return torch.stack(losses).mean(), {"accuracy": torch.stack(accuracies).mean()}


def accuracy(logits, labels):
    """Fraction of rows of `logits` whose argmax is the label."""
    return (logits.argmax(-1) == labels).float().mean().item()


def save_checkpoint(path, method, optimizer, samplers, history_rows, carry=None):
    """Save everything a run needs to continue exactly; written atomically.

    `carry` is whatever else the loop holds between steps (the learned optimizer's
    half-optimized functions); it comes back from `load_checkpoint`.
    """
    state = {
        "method": method.state_dict(), "optimizer": optimizer.state_dict(),
        "generators": {name: s.generator.get_state() for name, s in samplers.items() if s},
        "torch_rng": torch.get_rng_state(), "history": history_rows, "carry": carry,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    torch.save(state, partial)
    os.replace(partial, path)


def load_checkpoint(path, method, optimizer, samplers):
    """Restore a run saved by `save_checkpoint`; returns its history rows and its carry."""
    state = torch.load(path, weights_only=False)
    method.load_state_dict(state["method"])
    optimizer.load_state_dict(state["optimizer"])
    for name, generator_state in state["generators"].items():
        samplers[name].generator.set_state(generator_state)
    torch.set_rng_state(state["torch_rng"])
    return state["history"], state["carry"]


def _exists(path):
    return path is not None and Path(path).exists()


def _device_of(method):
    return next(method.parameters(), torch.empty(0)).device


def _floats(metrics):
    return {k: float(v) for k, v in metrics.items()}
