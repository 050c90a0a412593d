"""How fast is one MAML meta-step in mlcore, against a plain PyTorch loop over the tasks?

One meta-step = meta-loss forward, backward and an Adam step, for Conv4 on 5-way 1-shot glyph
tasks (15 queries per class), 16 tasks a batch, 1 and 5 inner steps, second and first order.
Both start from the same weights and must give the same meta-gradient (max |difference| is
printed). Prints one line per setting and a final JSON line.

    python benchmarks/maml_speed.py                  # this machine's device, mlcore's choice
    python benchmarks/maml_speed.py --batched vmap   # force vmapped tasks (or --batched loop)

Target: ratio = reference time / mlcore time >= 0.95 (mlcore never slower).

In float32 on a GPU the two differ by rounding, which several inner steps with a large
step size amplify (TF32 convolutions make it larger); `--float64` shows they agree exactly.
"""
import argparse
import json
import multiprocessing
import statistics
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call

import mlcore as ml

ALPHA = 0.4


def reference_meta_loss(net, batch, steps, first_order):
    """The textbook loop: torch.autograd.grad with create_graph=True, one task at a time."""
    losses = []
    for task in ml.tasks.unstack(batch):
        phi = dict(net.named_parameters())
        for _ in range(steps):
            loss = F.cross_entropy(functional_call(net, phi, (task.support.x,)), task.support.y)
            grads = torch.autograd.grad(loss, list(phi.values()), create_graph=not first_order)
            phi = {name: p - ALPHA * g for (name, p), g in zip(phi.items(), grads)}
        losses.append(F.cross_entropy(functional_call(net, phi, (task.query.x,)), task.query.y))
    return torch.stack(losses).mean()


def build_step(implementation, steps, first_order, batched, n_tasks, dtype):
    """(step, meta_loss, net): one meta-step of `implementation` ("mlcore" or "reference")."""
    device = ml.device()
    sampler = ml.data.EpisodeSampler(ml.data.load_glyphs("meta_train"), 5, 1, 15, seed=0)
    batch = ml.tasks.to_device(sampler.sample(n_tasks), device)
    batch = ml.Task(*(ml.Split(split.x.to(dtype), split.y) for split in batch))
    torch.manual_seed(0)
    net = ml.nets.Conv4(n_out=5).to(device, dtype)
    if implementation == "mlcore":
        maml = ml.methods.MAML(net, F.cross_entropy, ALPHA, steps, first_order=first_order,
                               batched=batched)
        meta_loss = lambda: maml.meta_loss(batch)[0]  # noqa: E731
    else:
        meta_loss = lambda: reference_meta_loss(net, batch, steps, first_order)  # noqa: E731
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        meta_loss().backward()
        optimizer.step()
    return step, meta_loss, net


def seconds_per_step(steps, device, repeats):
    """Median seconds of each named step; the steps take turns, so drift hits both alike."""
    times = {name: [] for name in steps}
    for repeat in range(repeats + 1):  # the first round warms up
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if repeat:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def peak_memory_mb(settings, device):
    """Peak memory one meta-step adds: CUDA's allocator statistics, or on the CPU the growth of
    the peak resident set size of a fresh process (spawned: forking torch can deadlock)."""
    if device.type == "cuda":
        step = build_step(*settings)[0]
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_rss_growth, args=(settings, send))
    child.start()
    growth = receive.recv()
    child.join()
    return growth


def _rss_growth(settings, send):
    step = build_step(*settings)[0]
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # Linux: reset the peak resident set size (VmHWM) to the current one
    before = _status_mb("VmRSS")
    step()
    send.send(_status_mb("VmHWM") - before)


def _status_mb(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # the line reads e.g. "VmHWM:   123456 kB"


def meta_gradient(meta_loss, net):
    net.zero_grad()
    meta_loss().backward()
    return torch.cat([p.grad.flatten() for p in net.parameters()])


def compare(inner_steps, first_order, batched, n_tasks, repeats, dtype):
    device = ml.device()
    result = {"inner_steps": inner_steps, "order": "first" if first_order else "second"}
    steps, grads = {}, []
    for implementation in ("mlcore", "reference"):
        settings = (implementation, inner_steps, first_order, batched, n_tasks, dtype)
        steps[implementation], meta_loss, net = build_step(*settings)
        grads.append(meta_gradient(meta_loss, net))  # both nets start from the same weights
        result[f"{implementation}_peak_mb"] = peak_memory_mb(settings, device)
    result["max_abs_grad_diff"] = (grads[0] - grads[1]).abs().max().item()
    for implementation, seconds in seconds_per_step(steps, device, repeats).items():
        result[f"{implementation}_s"] = seconds
    result["ratio"] = result["reference_s"] / result["mlcore_s"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batched", choices=["auto", "loop", "vmap"], default="auto")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--float64", action="store_true", help="exact comparison, no TF32")
    args = parser.parse_args()
    device = ml.device()
    batched = {"auto": None, "loop": False, "vmap": True}[args.batched]
    dtype = torch.float64 if args.float64 else torch.float32
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.tasks} tasks, tasks {args.batched}, {dtype}")
    results = []
    for first_order in (False, True):
        for steps in (1, 5):
            r = compare(steps, first_order, batched, args.tasks, args.repeats, dtype)
            results.append(r)
            print(f"{r['order']:>6} order, {steps} inner steps: mlcore {r['mlcore_s']:.3f} s "
                  f"({r['mlcore_peak_mb']:.0f} MB), reference {r['reference_s']:.3f} s "
                  f"({r['reference_peak_mb']:.0f} MB), ratio {r['ratio']:.2f}, "
                  f"max |grad diff| {r['max_abs_grad_diff']:.1e}", flush=True)
    print(json.dumps({"device": str(device), "torch": torch.__version__, "batched": args.batched,
                      "dtype": str(dtype), "results": results}))


if __name__ == "__main__":
    main()
