"""The local backend: a process pool on this machine (no Ray needed).

Each worker is a separate process (``spawn``: nothing of the driver's onnxruntime state is inherited) with its own
onnxruntime session and thread count, built once and reused for every unit it runs. At most one unit per worker
is in flight, so when a worker dies (killed, out of memory) the units that were running are exactly the ones to
retry: the pool is rebuilt and they are submitted again, up to ``retries`` times each.

Ctrl-C: workers start with SIGINT ignored (inherited through ``exec``; Python leaves an ignored SIGINT ignored), so
a Ctrl-C while a worker still imports is no traceback; :func:`~rtstyle.batch.work.worker_init` then installs the
handler that interrupts a running unit. A stop event tells workers that were starting, and units already queued
to them, not to begin. The driver takes the stop only between two looks at the pool (``deferred_stops``): a raise
inside ``concurrent.futures``' own bookkeeping could leave a future's lock held and the shutdown waiting forever.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from rtstyle.batch.work import Config, Unit, UnitResult, run_unit, worker_init
from rtstyle.signals import deferred_stops


@contextlib.contextmanager
def _sigint_ignored_for_new_workers() -> Iterator[None]:
    """Ignore SIGINT while worker processes may be spawned (``submit``), so they inherit it ignored; this process's
    own handler is back right after (a Ctrl-C within those milliseconds is lost to it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def run_local(
    units: list[Unit],
    cfg: Config,
    workers: int,
    retries: int,
    on_result: Callable[[UnitResult], None],
    on_progress: Callable[[str, int], None] | None = None,
) -> None:
    """Run ``units`` on ``workers`` processes, calling ``on_result`` (on this thread) as each one finishes and
    ``on_progress(unit key, frames done)`` while a video unit runs."""
    pending: deque[Unit] = deque(units)
    lost_count: dict[str, int] = {}
    pool: ProcessPoolExecutor | None = None
    inflight: dict[Future, Unit] = {}
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Queue() if on_progress is not None else None
    stop = ctx.Event()

    def drain() -> None:
        while progress is not None:
            try:
                key, done = progress.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            on_progress(key, done)  # type: ignore[misc]

    with deferred_stops() as check:
        try:
            while pending or inflight:
                check()
                if pool is None:
                    pool = ProcessPoolExecutor(
                        max_workers=workers, mp_context=ctx, initializer=worker_init, initargs=(progress, stop)
                    )
                broken = False
                while pending and len(inflight) < workers:
                    unit = pending.popleft()
                    try:
                        with _sigint_ignored_for_new_workers():
                            fut = pool.submit(run_unit, unit, cfg)
                        inflight[fut] = unit
                    except BrokenProcessPool:  # a worker died since the last look
                        pending.appendleft(unit)
                        broken = True
                        break
                if not broken:
                    done: set[Future] = set()
                    while not done:
                        done, _ = wait(list(inflight), timeout=0.5, return_when=FIRST_COMPLETED)
                        drain()
                        check()  # a stop is raised at these checks only, never inside the pool's own locks
                    broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
                    for fut in done:
                        if not isinstance(fut.exception(), BrokenProcessPool):
                            on_result(fut.result())
                            del inflight[fut]
                if broken:  # the pool stops every worker with the dead one: what ran on them starts again
                    wait(list(inflight))
                    for fut, unit in inflight.items():
                        if fut.exception() is None:
                            on_result(fut.result())
                            continue
                        lost_count[unit.key] = lost_count.get(unit.key, 0) + 1
                        if lost_count[unit.key] > retries:
                            on_result(
                                UnitResult(unit.key, "failed", message=f"its worker died {lost_count[unit.key]} times")
                            )
                        else:
                            pending.appendleft(unit)
                    inflight.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = None
        except KeyboardInterrupt:
            # each worker discards the output it was writing and returns "interrupted" (Ctrl-C in a terminal reaches
            # them too; SIGTERM or SIGHUP reach only this process: pass it on)
            stop.set()  # workers still starting, and units queued to them, do not begin
            if pool is not None:
                for proc in list((getattr(pool, "_processes", None) or {}).values()):
                    with contextlib.suppress(OSError):
                        os.kill(proc.pid, signal.SIGINT)
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
            # a unit that finished (its output renamed into place) before the signal reached its worker is recorded
            # now: otherwise the next run would do a complete file again
            for fut in inflight:
                if fut.done() and not fut.cancelled() and fut.exception() is None and fut.result().status == "done":
                    with contextlib.suppress(Exception):  # best effort: an unrecorded output is only done again
                        on_result(fut.result())
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if progress is not None:
                progress.close()
