"""Process-wide tuning for CPU inference: the malloc policy and thread counts.

Eager PyTorch allocates and frees a large activation tensor per layer. glibc's
default policy serves such blocks with ``mmap`` and hands them back to the kernel
on ``free``, so every layer pays page faults and zeroing again: measured here,
eager Lite0 ran at 5-17 % of the machine's matmul peak. Keeping freed memory
(no mmap, a high trim threshold) gives 2-4x. ``GLIBC_TUNABLES`` does the same
before start-up (the Makefile sets it); :func:`configure_runtime` applies it from
inside Python for the CLI and pipeline entry points.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD_BYTES = 1 << 30  # keep up to 1 GiB of freed heap instead of returning it page by page


def available_cores() -> int:
    """Number of CPU cores this process may use.

    Inside a Ray task or actor: the CPUs Ray allotted to it (several tasks share
    the node, and each using every core would oversubscribe it). Elsewhere: the
    process's affinity mask, not the machine's total.
    """
    allotted = ray_allotted_cpus()
    if allotted is not None:
        return allotted
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def ray_allotted_cpus() -> int | None:
    """CPUs Ray assigned to the running task or actor; None outside a Ray worker (or with no CPU assigned)."""
    ray = sys.modules.get("ray")  # never import Ray just to ask: outside a worker it is not loaded
    if ray is None or not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    if context.worker.mode != ray.WORKER_MODE:  # the driver: its own affinity applies
        return None
    cpus = context.get_assigned_resources().get("CPU", 0.0)
    return max(1, int(cpus)) if cpus > 0 else None


def resolve_threads(requested: int) -> int:
    """``requested`` threads, or every available core when it is 0 or less."""
    return requested if requested > 0 else available_cores()


def tune_allocator() -> bool:
    """Make glibc malloc keep freed memory (no mmap, high trim threshold).

    Returns
    -------
    True when the policy was applied, False on a C library without ``mallopt`` (musl, macOS).
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name)
    if not hasattr(libc, "mallopt"):
        return False
    applied = (
        libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1
    )
    log.debug("malloc tuning %s", "applied" if applied else "refused")
    return applied


def configure_runtime(threads: int = 0) -> int:
    """Tune malloc and set PyTorch's intra-op threads; call once at a program's start.

    Parameters
    ----------
    threads : intra-op threads for PyTorch; 0 uses every available core.

    Returns
    -------
    The number of threads set.
    """
    import torch

    tune_allocator()
    n = resolve_threads(threads)
    torch.set_num_threads(n)
    return n
