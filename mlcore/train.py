"""The one training loop of the book, evaluation with 95% intervals, the one accuracy, and
checkpoints.

Every method follows one protocol: `method.meta_loss(batch) -> (loss, metrics)` on a batch
of tasks, and `method.predict(task)` -> outputs for `task.query.x` (logits, or the
predictive mean; a method that samples also takes `predict(task, n_samples=...)` and then
returns samples (n_samples, n_query, ...)). `meta_train` minimises the meta-loss with Adam;
`evaluate` scores `predict` on fresh tasks.

Two optional hooks let a method train through the same loop when it differs:
- `configure_optimizer(lr)` returns the outer optimizer (default: Adam over all parameters);
- `carries_state = True` (truncated backpropagation through time, chapter 03): then
  `meta_loss(batch, carry) -> (loss, metrics, carry)`, where `carry` is what the method
  needs to go on from the last meta-step (None at first). While the method hands back a
  carry, no new batch is drawn; when it hands back None, the next step draws one.
"""
import math
import os
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .functional import per_task
from .notebook import smoke_cap
from .tasks import Task, check, to_device, unstack
from .validation import require

CHECKPOINT_FORMAT = "mlcore checkpoint v2"

# Seconds between progress-bar redraws. In Jupyter each redraw is a widget message: at tqdm's
# default (0.1 s) chapter 04's two-minute training cell sent 2,026 messages (380 at 1 s), and
# nbval twice timed out waiting for that cell's last message in full test runs.
PROGRESS_INTERVAL = 1.0


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
    A smoke run (`MLCORE_SMOKE=1`) stops after 3 steps of at most 2 tasks (`ml.smoke_cap`).
    """
    require(steps >= 0, "steps", steps, "use a number of meta-steps >= 0")
    require(meta_batch_size >= 1, "meta_batch_size", meta_batch_size, "use at least 1 task")
    require(lr > 0, "lr", lr, "use a positive learning rate")
    steps, meta_batch_size = smoke_cap(steps), smoke_cap(meta_batch_size, 2)
    optimizer = _optimizer(method, lr)
    samplers = {"sampler": sampler, "val_sampler": val_sampler}
    rows, carry, batch = [], None, None
    if checkpoint is not None and Path(checkpoint).exists():
        rows, carry = load_checkpoint(checkpoint, method, optimizer, samplers)
    device, start, began = _device_of(method), len(rows), time.perf_counter()
    for step in tqdm(range(start, steps), initial=start, total=steps, disable=not progress,
                     desc=type(method).__name__, mininterval=PROGRESS_INTERVAL):
        if carry is None:  # always, unless the method carries state between steps
            batch = _draw(sampler, meta_batch_size, device, method, first=step == start)
        loss, metrics, carry = _meta_loss(method, batch, carry)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        rows.append({"step": step + 1, "loss": loss.item(), **_floats(metrics)})
        if val_sampler is not None and (step + 1) % val_every == 0:
            rows[-1]["val"] = evaluate(method, val_sampler, val_tasks)[0]
        if checkpoint and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            save_checkpoint(checkpoint, method, optimizer, samplers, rows, carry)
    history = pd.DataFrame(rows)
    history.attrs["seconds_per_step"] = (time.perf_counter() - began) / max(steps - start, 1)
    return history


def evaluate(method, sampler, n_tasks=600, score=None, task_params=False, **predict_options):
    """Score `method.predict(task, **predict_options)` on `n_tasks` fresh tasks: `(mean, ci95)`.

    `score(outputs, task) -> number` defaults to `default_score` (accuracy in percent for
    integer labels, mean squared error for real targets); a probabilistic method passes its
    own (coverage, log-likelihood, ...), e.g. with `n_samples=` for `predict`. With
    `task_params=True` each task is drawn with `sampler.task(return_params=True)` and the
    score is called as `score(outputs, task, params)`: what generated the task comes from
    the sampler, never from the Task. `ci95 = 1.96 * std / sqrt(n_tasks)`. Runs under
    `torch.no_grad()`: a method that adapts inside `predict` turns gradients back on.
    A smoke run (`MLCORE_SMOKE=1`) scores 5 tasks (`ml.smoke_cap`).
    """
    require(n_tasks >= 2, "n_tasks", n_tasks, "use at least 2 tasks for an interval")
    n_tasks = smoke_cap(n_tasks, 5)
    score = default_score if score is None else score
    n_way = predict_options.get("n_way", getattr(method, "n_way", None))
    was_training, device = method.training, _device_of(method)
    method.eval()
    scores = []
    with torch.no_grad():
        for _ in range(n_tasks):
            task, *params = sampler.task(return_params=True) if task_params else (sampler.task(),)
            task = to_device(check(task, n_way), device)
            scores.append(float(score(method.predict(task, **predict_options), task, *params)))
    method.train(was_training)
    scores = torch.tensor(scores)
    return scores.mean().item(), 1.96 * scores.std().item() / math.sqrt(n_tasks)


def default_score(outputs, task):
    """Accuracy in percent for integer labels, mean squared error for real targets."""
    if task.query.y.is_floating_point():
        return F.mse_loss(outputs, task.query.y).item()
    return 100 * accuracy(outputs, task.query.y).item()


def accuracy(logits, labels):
    """Fraction of rows of `logits` whose argmax is the label, as a 0-d tensor (any leading
    dimensions; `.item()` gives the number). The one accuracy of mlcore."""
    return (logits.argmax(-1) == labels).float().mean().detach()


def reliability(probabilities, labels, n_bins=10):
    """The reliability diagram's table: the predictions (rows of class probabilities) binned
    by their confidence (the largest probability) into `n_bins` equal bins of [0, 1], with
    each bin's count, mean confidence and accuracy (Guo et al. 2017, section 2)."""
    require(n_bins >= 1, "n_bins", n_bins, "use at least 1 bin")
    require(probabilities.dim() == 2 and labels.shape == probabilities.shape[:1],
            "probabilities, labels", (tuple(probabilities.shape), tuple(labels.shape)),
            "give probabilities (n, n_classes) and labels (n,)")
    confidence, predicted = probabilities.max(-1)
    correct = (predicted == labels).float()
    bins = (confidence * n_bins).ceil().clamp(1, n_bins).long() - 1   # (lo, hi] per bin
    table = pd.DataFrame({"bin": bins.cpu(), "confidence": confidence.cpu(),
                          "accuracy": correct.cpu()})
    grouped = table.groupby("bin")
    return grouped.mean().assign(count=grouped.size())


def expected_calibration_error(probabilities, labels, n_bins=10):
    """ECE in percent: sum over the bins of |bin| / n * |accuracy - confidence|."""
    table = reliability(probabilities, labels, n_bins)
    gaps = (table["accuracy"] - table["confidence"]).abs()
    return 100 * float((table["count"] * gaps).sum() / table["count"].sum())


def classification_metrics(outputs, targets):
    """{"accuracy": ...} for integer targets, else {}: the metrics a meta-loss reports."""
    return {} if targets.is_floating_point() else {"accuracy": accuracy(outputs, targets)}


def query_loss(predict, batch, loss_fn=F.cross_entropy, batched=None):
    """The loss of `predict(task)` on each task's query labels, averaged over a batch of
    tasks, and the accuracy: the meta-loss of methods that adapt by a fixed rule."""
    def task_loss(task):
        outputs = predict(task)
        return loss_fn(outputs, task.query.y), outputs
    losses, outputs = per_task(task_loss, batch, batched=batched)
    return losses.mean(), classification_metrics(outputs, batch.query.y)


def save_checkpoint(path, method, optimizer, samplers, history_rows, carry=None):
    """Save everything a run needs to continue exactly; written atomically.

    Only tensors, numbers, strings and plain containers are stored (samplers through their
    `state_dict()`), so `load_checkpoint` opens it with `weights_only=True`. `carry` is
    whatever else the loop holds between steps; it comes back from `load_checkpoint`.
    """
    state = {
        "format": CHECKPOINT_FORMAT, "method_class": type(method).__name__,
        "method": method.state_dict(), "optimizer": optimizer.state_dict(),
        "samplers": {name: s.state_dict() for name, s in samplers.items() if s is not None},
        "torch_rng": torch.get_rng_state(), "history": history_rows, "carry": carry,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    torch.save(state, partial)
    os.replace(partial, path)


def load_checkpoint(path, method, optimizer, samplers):
    """Restore a run saved by `save_checkpoint`; returns its history rows and its carry.

    A file that cannot be read, is not a checkpoint, or holds another kind of run raises
    one ValueError that says so; the file is left as it is and nothing is restored.
    """
    state = _read_checkpoint(path)
    _check_fits(path, state, method)
    method.load_state_dict(state["method"])
    optimizer.load_state_dict(state["optimizer"])
    for name, sampler_state in state["samplers"].items():
        samplers[name].load_state_dict(sampler_state)
    torch.set_rng_state(state["torch_rng"])
    return state["history"], state["carry"]


def _read_checkpoint(path):
    fresh = "delete it or pass another checkpoint path to start fresh (the file was not changed)"
    try:
        state = torch.load(path, weights_only=True)
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise ValueError(f"checkpoint={str(path)!r} cannot be read ({type(error).__name__}: "
                         f"{reason}): it is damaged (cut short?) or not a checkpoint of "
                         f"mlcore; {fresh}.") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        held = (f"a dict with keys {sorted(map(str, state))[:6]}" if isinstance(state, dict)
                else f"a {type(state).__name__}")
        raise ValueError(f"checkpoint={str(path)!r} holds {held}, not a checkpoint written by "
                         f"ml.meta_train ({CHECKPOINT_FORMAT}); {fresh}.")
    return state


def _check_fits(path, state, method):
    expected = {name: tuple(t.shape) for name, t in method.state_dict().items()}
    saved = {name: tuple(t.shape) for name, t in state["method"].items()}
    if state["method_class"] != type(method).__name__ or saved != expected:
        differ = sorted(set(saved.items()) ^ set(expected.items()))[:3]
        raise ValueError(f"checkpoint={str(path)!r} holds a {state['method_class']} run whose "
                         f"parameters do not fit this {type(method).__name__} (first "
                         f"differences: {differ}); pass another checkpoint path to start "
                         "fresh (the file was not changed).")


def _optimizer(method, lr):
    if hasattr(method, "configure_optimizer"):
        return method.configure_optimizer(lr)
    return torch.optim.Adam(method.parameters(), lr=lr)


def _draw(sampler, meta_batch_size, device, method, first):
    """A batch for the next step; the first batch of a run is checked at the boundary."""
    batch = sampler.sample(meta_batch_size)
    if not isinstance(batch, Task):  # optimizees (chapter 03) are functions, not tasks
        return batch
    if first:  # labels are checked on episodes; a pooled batch's are dataset class ids
        task = unstack(batch)[0]
        check(task, getattr(method, "n_way", None) if len(task.support.y) else None)
    return to_device(batch, device)


def _meta_loss(method, batch, carry):
    if getattr(method, "carries_state", False):
        return method.meta_loss(batch, carry)
    return (*method.meta_loss(batch), None)


def _device_of(method):
    return next(method.parameters(), torch.empty(0)).device


def _floats(metrics):
    return {k: float(v) for k, v in metrics.items()}
