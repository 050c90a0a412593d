"""Estimate each chapter's full-mode time on a Colab T4 GPU, from counts measured on this CPU.

    python tools/full_mode_times.py [notebooks/02_maml.ipynb ...] [--out times.json]

No GPU is needed, and none is used: each chapter runs as a smoke run of full mode
(`MLCORE_FULL=1 MLCORE_SMOKE=1`), and a probe counts, at full-mode size, what a GPU would
execute:
- every `ml.meta_train` call: one meta-step on a full meta-batch (on copies; the run itself
  then goes on as in any smoke run), times the steps the chapter asked for;
- every `ml.evaluate` call: one task's `predict`, times the tasks asked for;
- every other cell: its operations, scaled by full count / smoke count when the cell uses a
  count that `ml.smoke_cap` shortened (e.g. N_EPISODES); a cell that uses none (loading
  data, plots) counts at the time it took here.
A counted piece of work takes OVERHEAD seconds per kernel-launching operation (eager PyTorch
on Colab's host CPU) plus its floating-point operations at THROUGHPUT (about 30% of the
T4's 8.1 TFLOPS fp32 peak). Both constants are assumptions, not measurements: the result
is an extrapolation, good to a factor of about two, and the README says so.
"""
import argparse
import copy
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERHEAD = 20e-6    # seconds per operation that launches a kernel (assumed)
THROUGHPUT = 2.5e12  # floating-point operations per second sustained on a T4 (assumed)


def gpu_seconds(ops, flops):
    return ops * OVERHEAD + flops / THROUGHPUT


# ---- the probe: runs inside the chapter's kernel ------------------------------------------

def install(log_path):
    """Wrap ml.meta_train, ml.evaluate and ml.smoke_cap, and count every cell's operations;
    each record goes to `log_path` (one JSON object per line)."""
    import torch
    from IPython import get_ipython
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    import mlcore

    def write(**record):
        with open(log_path, "a") as log:
            log.write(json.dumps(record) + "\n")

    class Counter(TorchDispatchMode):
        """Counts the operations that launch a kernel (not views) and their FLOPs."""
        def __init__(self):
            super().__init__()
            self.ops, self.flops, self.paused = 0, 0, False

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not self.paused and not func.is_view:
                self.ops += 1
                self.flops += flops_of(func, args, kwargs or {}, out)
            return out

    def flops_of(func, args, kwargs, out):
        if func._overloadpacket is torch.ops.aten.convolution_backward:
            # PyTorch's registry counts a grouped convolution's backward (vmap's batched
            # weights) as if every group saw every input channel: count it here
            grad_output, weight, output_mask = args[0], args[2], args[-1]
            forward = 2 * grad_output.numel() * weight[0].numel()  # weight[0]: (C_in/groups, k, k)
            return forward * (int(output_mask[0]) + int(output_mask[1]))
        if func._overloadpacket in flop_registry:
            return flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        return 0

    def counted(work):
        counter = Counter()
        with counter:
            work()
        return counter.ops, counter.flops

    cell = {"counter": None}

    def paused(function):
        def run(*args, **kwargs):
            began = time.perf_counter()
            if cell["counter"] is not None:
                cell["counter"].paused = True
            try:
                return function(*args, **kwargs)
            finally:
                if cell["counter"] is not None:
                    cell["counter"].paused = False
                cell["inside"] = cell.get("inside", 0.0) + time.perf_counter() - began
        return run

    real_train, real_evaluate, real_cap = mlcore.meta_train, mlcore.evaluate, mlcore.smoke_cap

    @paused
    def meta_train(method, sampler, *, steps, meta_batch_size, **options):
        # one step on 2 and on 3 tasks, extrapolated linearly to the full meta-batch (a
        # full batch of second-order MAML would not fit this machine's memory; vmap over a
        # single task takes other paths, so 1 task is not a base to extrapolate from)
        sizes = sorted({min(meta_batch_size, 2), min(meta_batch_size, 3)})
        ops, flops = zip(*[one_step(method, sampler, n) for n in sizes])
        write(kind="train", method=type(method).__name__, count=getattr(steps, "full", steps),
              ops=_extrapolate(sizes, ops, meta_batch_size),
              flops=_extrapolate(sizes, flops, meta_batch_size))
        return real_train(method, sampler, steps=steps, meta_batch_size=meta_batch_size,
                          **options)

    def one_step(method, sampler, meta_batch_size):
        """(ops, flops) of one meta-step on copies: the run itself is left as it was."""
        twin, state = copy.deepcopy(method), sampler.state_dict()
        batch = mlcore.train._draw(sampler, meta_batch_size, mlcore.train._device_of(twin),
                                   twin, first=True)
        sampler.load_state_dict(state)

        def step():
            loss, _, _ = mlcore.train._meta_loss(twin, batch, None)
            loss.backward()
            mlcore.train._optimizer(twin, 1e-3).step()
        return counted(step)

    @paused
    def evaluate(method, sampler, n_tasks=600, *args, **options):
        state = sampler.state_dict()
        task = mlcore.tasks.to_device(sampler.task(), mlcore.train._device_of(method))
        sampler.load_state_dict(state)
        predict_options = {k: v for k, v in options.items() if k not in ("score", "task_params")}
        was_training = method.training
        method.eval()
        with torch.no_grad():
            ops, flops = counted(lambda: method.predict(task, **predict_options))
        method.train(was_training)
        write(kind="evaluate", method=type(method).__name__,
              count=getattr(n_tasks, "full", n_tasks), ops=ops, flops=flops)
        return real_evaluate(method, sampler, n_tasks, *args, **options)

    class Capped(int):
        """A count that ml.smoke_cap shortened, remembering the full count."""
        def __new__(cls, value, full):
            capped = super().__new__(cls, value)
            capped.full = full
            return capped

    def smoke_cap(count, cap=3):
        write(kind="cap", count=count, cap=cap)
        return Capped(real_cap(count, cap), count)

    mlcore.meta_train, mlcore.evaluate, mlcore.smoke_cap = meta_train, evaluate, smoke_cap

    def before(info):
        cell.update(counter=Counter(), inside=0.0, began=time.perf_counter())
        cell["counter"].__enter__()

    def after(result):
        counter, cell["counter"] = cell["counter"], None
        counter.__exit__(None, None, None)
        seconds = time.perf_counter() - cell["began"] - cell["inside"]
        write(kind="cell", source=result.info.raw_cell, ops=counter.ops, flops=counter.flops,
              seconds=seconds)

    get_ipython().events.register("pre_run_cell", before)
    get_ipython().events.register("post_run_cell", after)


# ---- the driver ------------------------------------------------------------------------------

def estimate(path):
    """Execute one chapter as a probed smoke run of full mode; return its estimate."""
    import nbformat
    sys.path.insert(0, str(ROOT / "tools"))
    from glued_values import execute
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"full_mode_times_{path.stem}.jsonl"
    log.unlink(missing_ok=True)
    probe = nbformat.v4.new_code_cell(
        f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
        f"import full_mode_times; full_mode_times.install({str(log)!r})")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(_setup_cell(notebook) + 1, probe)
    probed = path.with_name(f".probed_{path.name}")
    nbformat.write(notebook, probed)
    os.environ.update(MLCORE_FULL="1", MLCORE_SMOKE="1")
    began = time.perf_counter()
    try:
        execute(probed, timeout=1800)
    finally:
        probed.unlink()
    smoke = time.perf_counter() - began
    return summarise([json.loads(line) for line in log.read_text().splitlines()], smoke)


def summarise(records, smoke_seconds):
    ratios = _capped_names(records)
    parts = {"train": 0.0, "evaluate": 0.0, "scaled cells": 0.0, "other cells": 0.0}
    for r in records:
        if r["kind"] in ("train", "evaluate"):
            parts[r["kind"]] += r["count"] * gpu_seconds(r["ops"], r["flops"])
        elif r["kind"] == "cell":
            scales = [ratio for name, ratio in ratios.items()
                      if re.search(rf"\b{name}\b", r["source"])]
            if scales and "ml.smoke_cap(" not in r["source"]:
                parts["scaled cells"] += max(scales) * gpu_seconds(r["ops"], r["flops"])
            else:
                parts["other cells"] += r["seconds"]
    return {"t4_minutes": sum(parts.values()) / 60, "smoke_seconds": smoke_seconds,
            **{f"{k} (min)": v / 60 for k, v in parts.items()}}


def _extrapolate(sizes, values, size):
    """The value at `size`, on the line through (sizes[0], values[0]) and the last pair."""
    slope = (values[-1] - values[0]) / (sizes[-1] - sizes[0]) if len(sizes) > 1 else 0
    return values[0] + (size - sizes[0]) * slope


def _capped_names(records):
    """{parameter name: full count / smoke count} for the parameters set by ml.smoke_cap."""
    cell = next((r["source"] for r in records
                 if r["kind"] == "cell" and "ml.smoke_cap(" in r["source"]), "")
    names = re.findall(r"^(\w+) = ml\.smoke_cap\(", cell, flags=re.MULTILINE)
    caps = [r for r in records if r["kind"] == "cap"][:len(names)]
    return {name: cap["count"] / max(min(cap["count"], cap["cap"]), 1)
            for name, cap in zip(names, caps)}


def _setup_cell(notebook):
    return next(i for i, cell in enumerate(notebook.cells) if "ml.setup(" in cell.source)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results = {}
    for path in paths:
        results[path.stem] = estimate(path.resolve())
        print(path.stem, json.dumps({k: round(v, 1) for k, v in results[path.stem].items()}),
              flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
