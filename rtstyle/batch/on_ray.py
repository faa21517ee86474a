"""The Ray backend (``--ray ADDRESS``, the ``[ray]`` extra): the same units as Ray tasks.

* ``local`` starts a Ray instance on this machine, ``auto`` joins the cluster this machine belongs to (or the one
  ``RAY_ADDRESS`` names), ``ray://HOST:PORT`` a remote cluster through Ray Client. When Ray is already initialised
  in this process (a notebook, the tests), that instance is used and left running.
* Each unit is one task (``num_cpus`` = the worker's onnxruntime threads; ``num_gpus`` = 1 on GPU workers). A task
  whose worker process dies is retried by Ray itself (``max_retries``) on whichever node has room; the
  attempt counters in the output folder say which units were retried.
* Where the workers run (:func:`plan_lanes`): ``--device cuda`` one GPU worker per GPU; ``cpu`` CPU workers on
  every node; ``auto`` on a cluster with GPUs both: GPU workers on the GPU nodes and CPU workers on the nodes
  that have no GPU (pinned there, so they do not take the CPUs that feed the GPUs), each taking the next unit
  when it finishes one. Every worker runs the same model file, so the batch has one look.
* The model file travels once: its bytes go to Ray's object store (``ray.put``), each node fetches them once and
  each worker process writes them to a local file and builds its stylizer once.
* Inputs and outputs are paths every node must reach (a shared folder mounted at the same path everywhere, or
  fsspec URLs such as ``s3://``: see :mod:`rtstyle.batch.remote`), the
  machine that starts the batch included: it probes the inputs, keeps the manifest and joins chunked videos.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
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


GPU_DEVICE = "cuda"  # what GPU workers run on (tests with a pretend GPU node set "cpu")


@dataclass(frozen=True)
class Lane:
    """One kind of worker: the device it runs on, its Ray resources, and where and how many at once."""

    name: str  # "gpu" or "cpu"
    device: str
    num_gpus: float
    slots: int | None = None  # how many of its tasks run at once (None: as many as Ray places)
    node_id: str | None = None  # pinned to this node (CPU workers on a CPU-only node)


def plan_lanes(nodes: list[dict[str, Any]], device: str, threads: int) -> list[Lane]:
    """Where a batch's workers run, from ``ray.nodes()``: see the module notes. ``device``: cuda, cpu or auto."""
    alive = [n for n in nodes if n.get("Alive", n.get("alive", True))]
    gpus = sum(float(n.get("Resources", {}).get("GPU", 0.0)) for n in alive)
    if device == "cuda" or (device == "auto" and gpus > 0 and all(n["Resources"].get("GPU", 0) for n in alive)):
        return [Lane("gpu", GPU_DEVICE, 1.0)]
    if device != "auto" or gpus <= 0:
        return [Lane("cpu", "cpu", 0.0)]
    lanes = [Lane("gpu", GPU_DEVICE, 1.0, slots=int(gpus))]
    for n in alive:
        res = n.get("Resources", {})
        slots = int(float(res.get("CPU", 0.0)) // max(1, threads))
        if not res.get("GPU") and slots > 0:
            lanes.append(Lane("cpu", "cpu", 0.0, slots=slots, node_id=n["NodeID"]))
    return lanes


def cluster_lanes(device: str, threads: int) -> list[Lane]:
    return plan_lanes(import_ray().nodes(), device, threads)


def put_model(data: bytes) -> list[Any]:
    """The model's bytes in Ray's object store (wrapped in a list, so a task fetches them only when it needs to)."""
    return [import_ray().put(data)]


def run_ray(
    units: list[Unit],
    cfg: Config,
    threads: int,
    lanes: list[Lane],
    retries: int,
    on_result: Callable[[UnitResult], None],
    on_progress: Callable[[str, int], None] | None = None,
) -> None:
    """Run ``units`` as Ray tasks, calling ``on_result`` (on this thread) as each one finishes and
    ``on_progress(unit key, frames done)`` while a video unit runs (through a small queue actor)."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    def lane_task(lane: Lane) -> Any:
        where = NodeAffinitySchedulingStrategy(lane.node_id, soft=True) if lane.node_id else "DEFAULT"
        return ray.remote(run_unit).options(
            num_cpus=threads, num_gpus=lane.num_gpus, max_retries=retries, retry_exceptions=False,
            name=f"rtstyle-batch-{lane.name}", scheduling_strategy=where,
        )  # fmt: skip

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

    tasks = [lane_task(lane) for lane in lanes]
    cfg_refs = [ray.put(replace(cfg, how=replace(cfg.how, device=lane.device), lane=lane.name)) for lane in lanes]
    free = [lane.slots for lane in lanes]  # None: no limit (Ray queues the tasks until it can place them)
    waiting = deque(units)
    refs: dict[Any, Unit] = {}
    lane_of: dict[Any, int] = {}

    def submit() -> None:  # each lane takes units while it has a free worker
        for i in range(len(lanes)):
            while waiting and (free[i] is None or free[i] > 0):
                unit = waiting.popleft()
                ref = tasks[i].remote(unit, cfg_refs[i])
                refs[ref], lane_of[ref] = unit, i
                if free[i] is not None:
                    free[i] -= 1

    submit()
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            drain()
            for ref in ready:
                unit = refs.pop(ref)
                i = lane_of.pop(ref)
                if free[i] is not None:
                    free[i] += 1
                try:
                    on_result(ray.get(ref))
                except ray.exceptions.RayError as exc:
                    why = type(exc).__name__.replace("Error", " error").strip()
                    on_result(UnitResult(unit.key, "failed", message=f"{why} after {retries + 1} attempts"))
            submit()
    except KeyboardInterrupt:
        for ref in refs:
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001 - best effort
                pass
        # give the cancelled tasks a moment to discard their half-written outputs
        ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=10)
        for ref in ready:  # finished before the signal: recorded, so the next run does not do them again
            with contextlib.suppress(Exception):  # best effort: an unrecorded output is only done again
                r = ray.get(ref, timeout=1)
                if r.status == "done":
                    on_result(r)
        raise
    finally:
        if progress is not None:
            with contextlib.suppress(Exception):
                progress.shutdown()


def shutdown() -> None:
    import_ray().shutdown()
