"""``rtstyle batch --ray`` on a cluster of GPU and CPU-only nodes: GPU workers on the GPU node, CPU workers on the
node without a GPU, each taking the next unit when it is free. Ray pretends the GPU (a ``GPU`` resource on a
local two-node cluster) and the GPU workers run on the CPU here (``on_ray.GPU_DEVICE``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clips import decode_all, make_clip
from conftest import make_contract_model

from rtstyle.batch import on_ray, run
from rtstyle.pipeline.jobs import StylizeOptions

ray = pytest.importorskip("ray")


def _node(node_id: str, cpus: float, gpus: float = 0.0, alive: bool = True) -> dict:
    res = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
    return {"NodeID": node_id, "Alive": alive, "Resources": res}


def test_lanes_for_each_kind_of_cluster() -> None:
    gpu_node, cpu_a, cpu_b = _node("g", 8, 2), _node("a", 4), _node("b", 2)
    mixed = on_ray.plan_lanes([gpu_node, cpu_a, cpu_b, _node("dead", 64, alive=False)], "auto", threads=2)
    assert [(x.name, x.device, x.num_gpus, x.slots, x.node_id) for x in mixed] == [
        ("gpu", "cuda", 1.0, 2, None),
        ("cpu", "cpu", 0.0, 2, "a"),
        ("cpu", "cpu", 0.0, 1, "b"),
    ]
    # --device cuda: GPU workers only, as many as Ray places; cpu: CPU workers everywhere; auto without GPUs: cpu
    assert [(x.name, x.slots) for x in on_ray.plan_lanes([gpu_node, cpu_a], "cuda", 2)] == [("gpu", None)]
    assert [(x.name, x.slots) for x in on_ray.plan_lanes([gpu_node, cpu_a], "cpu", 2)] == [("cpu", None)]
    assert [(x.name, x.slots) for x in on_ray.plan_lanes([cpu_a, cpu_b], "auto", 2)] == [("cpu", None)]
    assert [(x.name, x.slots) for x in on_ray.plan_lanes([gpu_node], "auto", 2)] == [("gpu", None)]
    # a CPU-only node too small for one worker gets none
    assert [x.name for x in on_ray.plan_lanes([gpu_node, _node("tiny", 1)], "auto", 2)] == ["gpu"]


@pytest.fixture()
def gpu_and_cpu_nodes():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1, "include_dashboard": False})
    cpu_node = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    try:
        yield cpu_node.node_id
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_auto_runs_gpu_workers_on_gpu_nodes_and_cpu_workers_elsewhere(
    tmp_path: Path, gpu_and_cpu_nodes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(on_ray, "GPU_DEVICE", "cpu")  # the pretend GPU node's workers run on its CPU
    cpu_node = gpu_and_cpu_nodes
    src = tmp_path / "in"
    for i in range(6):
        make_clip(src / f"c{i}.mp4", frames=6)
    model = make_contract_model(tmp_path / "m" / "one.onnx")
    seen: list = []
    real = on_ray.run_ray

    def spy(units, cfg, threads, lanes, retries, on_result, on_progress=None):
        def record(r):
            seen.append(r)
            on_result(r)

        return real(units, cfg, threads, lanes, retries, record, on_progress)

    monkeypatch.setattr(on_ray, "run_ray", spy)
    r = run([src], tmp_path / "out", StylizeOptions(style=str(model), device="auto"), ray="auto", preset="ultrafast")
    assert r.ok and r.counts()["done"] == 6
    assert r.lanes == {"gpu": 1, "cpu": 1} and r.workers == 2
    assert {u.lane for u in seen} == {"gpu", "cpu"}  # both kinds of worker took units
    assert all((u.node == cpu_node) == (u.lane == "cpu") for u in seen)  # CPU workers only on the CPU-only node
    assert all(set(f.lanes) <= {"gpu", "cpu"} and f.lanes for f in r.files)
    assert len(decode_all(tmp_path / "out" / "c0.mp4")[0]) == 6
