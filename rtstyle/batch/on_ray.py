"""The Ray backend (``--ray ADDRESS``, the ``[ray]`` extra): the same units as Ray tasks.

* ``local`` starts a Ray instance on this machine, ``auto`` joins the cluster this machine belongs to (or the one
  ``RAY_ADDRESS`` names), ``ray://HOST:PORT`` a remote cluster through Ray Client. When Ray is already initialised
  in this process (a notebook, the tests), that instance is used and left running.
* Each unit is one task (``num_cpus`` = the worker's onnxruntime threads; ``num_gpus`` = 1 on GPU workers). A task
  whose worker process dies is retried by Ray itself (``max_retries``) on whichever node has room; the
  attempt counters in the output folder say which units were retried.
* The model file travels once: its bytes go to Ray's object store (``ray.put``), each node fetches them once and
  each worker process writes them to a local file and builds its stylizer once.
* Inputs and outputs are paths every node must reach (a shared folder mounted at the same path everywhere), the
  machine that starts the batch included: it probes the inputs, keeps the manifest and joins chunked videos.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rtstyle.batch.work import Config, Unit, UnitResult, run_unit
from rtstyle.errors import DeviceError, RtstyleError


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RtstyleError("--ray needs Ray: pip install 'rtstyle[ray]' (or pip install 'ray[client]')") from None
    return ray


def connect(address: str, num_cpus: int | None = None) -> bool:
    """Initialise Ray for ``address``; True when this call started it (and the batch should shut it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"configure_logging": False, "log_to_driver": False}
    if address == "local":
        kwargs.update(address="local", include_dashboard=False, num_cpus=num_cpus)
    elif address == "auto":
        kwargs["address"] = os.environ.get("RAY_ADDRESS") or "auto"
    else:  # ray://HOST:PORT (Ray Client): the server starts the job; nothing to configure here
        kwargs = {"address": address}
    try:
        # Ray Client warns and logs before it raises on a timeout: the one line below says it
        client_log = logging.getLogger("ray.client_builder")
        level = client_log.level
        client_log.setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ray.init(**kwargs)
        finally:
            client_log.setLevel(level)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError ...
        raise DeviceError(f"cannot reach the Ray cluster at {address}: {' '.join(str(exc).split())[:300]}") from None
    return True


def cluster_gpus() -> float:
    return float(import_ray().cluster_resources().get("GPU", 0.0))


def put_model(data: bytes) -> list[Any]:
    """The model's bytes in Ray's object store (wrapped in a list, so a task fetches them only when it needs to)."""
    return [import_ray().put(data)]


def run_ray(
    units: list[Unit],
    cfg: Config,
    threads: int,
    gpus: float,
    retries: int,
    on_result: Callable[[UnitResult], None],
    on_progress: Callable[[str, int], None] | None = None,
) -> None:
    """Run ``units`` as Ray tasks, calling ``on_result`` (on this thread) as each one finishes and
    ``on_progress(unit key, frames done)`` while a video unit runs (through a small queue actor)."""
    ray = import_ray()
    task = ray.remote(run_unit).options(
        num_cpus=threads, num_gpus=gpus, max_retries=retries, retry_exceptions=False, name="rtstyle-batch"
    )
    progress = None
    if on_progress is not None:
        try:
            from ray.util.queue import Queue

            progress = Queue(maxsize=10000, actor_options={"num_cpus": 0})
            cfg = replace(cfg, progress=progress)
        except Exception:  # noqa: BLE001 - no progress within files then, the batch runs all the same
            progress = None

    def drain() -> None:
        while progress is not None:
            try:
                items = progress.get_nowait_batch(progress.qsize())
            except Exception:  # noqa: BLE001 - empty or gone
                return
            if not items:
                return
            for key, done in items:
                on_progress(key, done)  # type: ignore[misc]

    cfg_ref = ray.put(cfg)
    refs = {task.remote(unit, cfg_ref): unit for unit in units}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            drain()
            for ref in ready:
                unit = refs.pop(ref)
                try:
                    on_result(ray.get(ref))
                except ray.exceptions.RayError as exc:
                    why = type(exc).__name__.replace("Error", " error").strip()
                    on_result(UnitResult(unit.key, "failed", message=f"{why} after {retries + 1} attempts"))
    except KeyboardInterrupt:
        for ref in refs:
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001 - best effort
                pass
        # give the cancelled tasks a moment to discard their half-written outputs
        ray.wait(list(refs), num_returns=len(refs), timeout=10)
        raise
    finally:
        if progress is not None:
            with contextlib.suppress(Exception):
                progress.shutdown()


def shutdown() -> None:
    import_ray().shutdown()
