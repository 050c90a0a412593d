"""Checks at the boundary of mlcore: each raises one `ValueError` that names the argument,
the value it got and how to fix it. Inner loops trust their inputs and check nothing."""
import torch


def require(ok, name, value, fix):
    """Raise `ValueError` naming the argument, its value and the fix, unless `ok`."""
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: {fix}.")


def require_finite(tensor, name):
    """Raise `ValueError` if `tensor` holds a NaN or an infinity."""
    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
        bad = (~torch.isfinite(tensor)).sum().item()
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s) of {tensor.numel()}: "
                         "clean or drop those examples before they enter mlcore.")
