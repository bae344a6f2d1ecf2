"""Running one CPU-bound job (a large import, a large file's validation) in a worker process.

The C parts of parsing and validating (libyaml composing a document, msgspec converting it) hold the GIL for the
whole call: run in a thread beside the bot's event loop, a multi-megabyte file keeps every other member's command
waiting for seconds. In a worker process it keeps no one waiting; the calling thread only waits for the answer.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def in_worker_process(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``func(*args, **kwargs)`` in a fresh worker process (``func`` must be a module-level function, its
    arguments and result picklable); in this process when no worker process can be started here."""
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver")) as pool:
            return pool.submit(func, *args, **kwargs).result()
    except (BrokenProcessPool, OSError) as exc:
        log.warning("running %s in a worker process failed (%s); running it in this process", func.__name__, exc)
    return func(*args, **kwargs)
