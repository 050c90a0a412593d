"""Sphinx extension: wait for kernel replies in one-second slices while executing notebooks.

Executing a notebook with widgets, nbclient sometimes sat for the whole cell timeout
(600 s) after a cell whose reply had already arrived: the asyncio poll of the kernel's
shell socket missed the wake-up (jupyter/nbclient#312, jupyter/nbconvert#2029). Polling
again each second finds such a message at once; a slow cell still waits as long as before
and still times out at the same moment.
"""
import time
from queue import Empty

from jupyter_client.channels import AsyncZMQSocketChannel

SLICE = 1.0  # seconds


def _patch_get_msg():
    wait_once = AsyncZMQSocketChannel.get_msg
    if getattr(wait_once, "sliced", False):
        return

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await wait_once(self, SLICE if left is None else min(SLICE, left))
            except Empty:
                if left is not None and left <= SLICE:
                    raise

    get_msg.sliced = True
    AsyncZMQSocketChannel.get_msg = get_msg


def setup(app):
    _patch_get_msg()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
