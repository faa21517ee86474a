from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import synthetic_frame

from rtstyle.errors import DeviceError, InputError
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sources import Source
from rtstyle.pipeline import Pipeline, RunStats
from rtstyle.pipeline.smoothing import Smoother
from rtstyle.runtime.stylizer import Stylizer


class FakeSource(Source):
    def __init__(self, n=10, fail_at=None, exc=None, interrupt_at=None):
        self.n, self.i, self.fail_at, self.exc, self.interrupt_at = n, 0, fail_at, exc, interrupt_at
        self.width, self.height, self.fps, self.frame_count = 64, 36, 25.0, n
        self.closed = False
        self.description = "fake camera"

    def read(self):
        if self.fail_at is not None and self.i == self.fail_at:
            raise self.exc or OSError("device unplugged")
        if self.i >= self.n:
            return None
        f = synthetic_frame(36, 64, self.i)
        t = self.i / 25.0
        self.i += 1
        return f, t

    def close(self):
        self.closed = True


class ListSink(Sink):
    name = "list"

    def __init__(self, wants_hud=False):
        self.frames, self.times, self.closed, self.aborted = [], [], False, False
        self.wants_hud = wants_hud

    def write(self, frame, timestamp):
        self.frames.append(frame.copy())
        self.times.append(timestamp)

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    @property
    def stats(self):
        return {"written": len(self.frames)}


def invert(frame):
    return 255 - frame


invert.provider = "FakeProvider"  # type: ignore[attr-defined]


class Laned:
    """A stylizer function with ``lanes``: the loop keeps that many frames in it at once."""

    def __init__(self, fn, lanes):
        self.fn, self.lanes = fn, lanes
        self.provider = getattr(fn, "provider", "")

    def __call__(self, frame):
        return self.fn(frame)


def laned(fn, lanes):
    return fn if lanes == 1 else Laned(fn, lanes)


LANES = pytest.mark.parametrize("lanes", [1, 2, 3])


@LANES
def test_runs_in_order_with_timestamps(lanes):
    src, sink = FakeSource(12), ListSink()
    stats = Pipeline(src, laned(invert, lanes), sinks=[sink]).run()
    assert isinstance(stats, RunStats) and stats.frames == 12 and stats.provider == "FakeProvider"
    assert sink.closed and not sink.aborted and src.closed
    assert sink.times == [i / 25.0 for i in range(12)]
    for i, f in enumerate(sink.frames):
        assert np.array_equal(f, 255 - synthetic_frame(36, 64, i))
    assert stats.sink_stats["list"]["written"] == 12
    assert "12 frames" in stats.summary()
    assert 0 < stats.latency_p50_ms <= stats.latency_p95_ms and "latency p50" in stats.summary()


def test_latency_percentiles_keep_a_bounded_uniform_sample():
    from rtstyle.pipeline.loop import Latencies

    lat = Latencies(keep=1000)
    assert lat.percentile_ms(50) == 0.0
    for i in range(100_000):
        lat.add(i / 100_000)  # 0 .. 1 s, uniform
    assert lat.count == 100_000 and len(lat.samples) == 1000
    assert abs(lat.percentile_ms(50) - 500) < 60 and abs(lat.percentile_ms(95) - 950) < 30


@LANES
def test_smoother_and_progress_and_max_frames(lanes):
    calls = []

    class Smooth:
        mode = "test"

        def __init__(self):
            self.resets = 0

        def reset(self):
            self.resets += 1

        def __call__(self, inp, styl):
            calls.append((inp.copy(), styl.copy()))
            return np.zeros_like(styl)

    sm, sink, prog = Smooth(), ListSink(), []
    stats = Pipeline(FakeSource(20), laned(invert, lanes), smoother=sm, sinks=[sink]).run(
        progress=lambda d, t, fps: prog.append((d, t)), max_frames=5
    )
    assert stats.frames == 5 and sm.resets == 1 and len(calls) == 5
    assert np.array_equal(calls[0][1], 255 - calls[0][0])
    assert all(not f.any() for f in sink.frames)
    assert prog[-1] == (5, 5)


def test_hud_only_for_sinks_that_want_it():
    plain, hud_sink = ListSink(), ListSink(wants_hud=True)
    seen = []

    def hud(frame, status):
        seen.append(status)
        frame[:2] = 7
        return frame

    Pipeline(FakeSource(3), invert, sinks=[plain, hud_sink], hud=hud).run()
    assert all((f[:2] == 7).all() for f in hud_sink.frames)
    assert not any((f[:2] == 7).all() for f in plain.frames)
    assert seen[0]["provider"] == "FakeProvider" and "fps" in seen[0]


@LANES
def test_source_failure_closes_sinks_and_raises_device_error(lanes):
    sink = ListSink()
    with pytest.raises(DeviceError, match="fake camera"):
        Pipeline(FakeSource(10, fail_at=4), laned(invert, lanes), sinks=[sink]).run()
    assert sink.closed and not sink.aborted and len(sink.frames) == 4


def test_source_rtstyle_error_passes_through():
    sink = ListSink()
    with pytest.raises(InputError, match="corrupt"):
        Pipeline(FakeSource(10, fail_at=2, exc=InputError("corrupt packet")), invert, sinks=[sink]).run()
    assert sink.closed


@LANES
def test_ctrl_c_aborts_sinks(lanes):
    sink = ListSink()
    n = {"i": 0}

    def stylize(frame):
        n["i"] += 1
        if n["i"] == 3:
            raise KeyboardInterrupt
        return frame

    src = FakeSource(10)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(src, laned(stylize, lanes), sinks=[sink]).run()
    assert sink.aborted and not sink.closed and src.closed


@LANES
def test_stylizer_error_aborts_sinks(lanes):
    sink = ListSink()

    def broken(frame):
        raise InputError("too large")

    with pytest.raises(InputError):
        Pipeline(FakeSource(5), laned(broken, lanes), sinks=[sink]).run()
    assert sink.aborted


@LANES
def test_stop_from_progress(lanes):
    sink = ListSink()
    p = Pipeline(FakeSource(50), laned(invert, lanes), sinks=[sink])
    p.run(progress=lambda d, t, fps: p.stop() if d == 3 else None)
    assert len(sink.frames) == 3 and sink.closed


def test_with_real_stylizer(test_model):
    st = Stylizer(test_model, device="cpu")
    sink = ListSink()
    stats = Pipeline(FakeSource(4), st, sinks=[sink]).run()
    assert stats.provider == "CPUExecutionProvider" and stats.style == "solo"
    assert sink.frames[0].shape == (36, 64, 3)


def test_with_real_smoother():
    sink = ListSink()
    stats = Pipeline(FakeSource(6), invert, smoother=Smoother(mode="ema"), sinks=[sink]).run()
    assert stats.frames == 6 and len(sink.frames) == 6
    assert np.array_equal(sink.frames[0], 255 - synthetic_frame(36, 64, 0))  # first frame: nothing to blend with
    assert not np.array_equal(sink.frames[3], 255 - synthetic_frame(36, 64, 3))  # later frames are blended


@LANES
def test_flow_smoothing_overlaps_inference_and_matches_frame_by_frame(lanes):
    class Panning(FakeSource):
        def read(self):
            if self.i >= self.n:
                return None
            f = np.ascontiguousarray(np.roll(synthetic_frame(72, 128, 0), 2 * self.i, axis=1))
            self.i += 1
            return f, self.i / 25.0

    noise = np.random.default_rng(0).integers(0, 40, (50, 72, 128, 3), dtype=np.uint8)
    styl_threads, prep_threads = [], []

    def stylize(frame):
        styl_threads.append(threading.current_thread().name)
        k = int(frame.sum()) % 50  # a deterministic "flicker" per frame
        return frame // 2 + noise[k]

    class Spy(Smoother):
        def prepare(self, frame, out_size=None):
            prep_threads.append(threading.current_thread().name)
            return super().prepare(frame, out_size)

    sink = ListSink()
    Pipeline(Panning(12), laned(stylize, lanes), smoother=Spy(), sinks=[sink]).run()
    ref = Smoother()
    src = Panning(12)
    expected = [ref(f, stylize(f)) for f, _ in iter(src.read, None)]
    assert len(sink.frames) == 12
    for a, b in zip(sink.frames, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ref.last_reliable > 0.5  # the flow path ran
    assert all(t.startswith("rtstyle-post") for t in prep_threads)
    ran = styl_threads[:12]  # the pipeline's calls (the reference's come after)
    assert set(ran) == {"MainThread"} if lanes == 1 else all(t.startswith("rtstyle-lane") for t in ran)


@LANES
def test_a_failing_sink_aborts_the_run(lanes):
    class Broken(ListSink):
        def write(self, frame, timestamp):
            if len(self.frames) == 2:
                raise OSError("disk full")
            super().write(frame, timestamp)

    sink = Broken()
    with pytest.raises(OSError, match="disk full"):
        Pipeline(FakeSource(10), laned(invert, lanes), sinks=[sink]).run()
    assert sink.aborted and not sink.closed


@LANES
def test_frames_yields_on_the_callers_thread_with_a_before_hook(lanes):
    sink, seen = ListSink(), []

    def mirror(frame):
        seen.append(threading.current_thread().name)
        return np.ascontiguousarray(frame[:, ::-1])

    p = Pipeline(FakeSource(5), laned(invert, lanes), sinks=[sink])
    done = [(f.frames, threading.current_thread().name) for f in p.frames(before=mirror)]
    assert done == [(i, "MainThread") for i in range(1, 6)] and set(seen) == {"MainThread"}
    assert p.end == "source" and sink.closed and p.stats.frames == 5
    assert np.array_equal(sink.frames[0], 255 - synthetic_frame(36, 64, 0)[:, ::-1])


class _CountingLive(FakeSource):
    """A live source that notes, at each read, how many frames were finished before it."""

    is_live = True

    def __init__(self, n, finished):
        super().__init__(n)
        self.finished, self.reads = finished, []

    def read(self):
        self.reads.append(len(self.finished))
        return super().read()


def test_live_frames_are_finished_before_the_next_read():
    finished = []
    src = _CountingLive(4, finished)
    p = Pipeline(src, invert, sinks=[ListSink()])
    assert p.live
    for f in p.frames():
        finished.append(f.frames)
    assert src.reads == [0, 1, 2, 3, 4] and p.end == "source"


@LANES
def test_breaking_out_closes_the_sinks_and_max_frames_is_an_end(lanes):
    sink = ListSink()
    p = Pipeline(FakeSource(20), laned(invert, lanes), sinks=[sink])
    for f in p.frames():
        if f.frames == 2:
            break
    assert p.end == "stop" and sink.closed and not sink.aborted
    sink2 = ListSink()
    p2 = Pipeline(FakeSource(20), laned(invert, lanes), sinks=[sink2])
    assert [f.frames for f in p2.frames(max_frames=3)] == [1, 2, 3] and p2.end == "max_frames"


@LANES
def test_keep_on_interrupt_closes_the_sinks(lanes):
    class Interrupting(FakeSource):
        def read(self):
            if self.i == 3:
                raise KeyboardInterrupt
            return super().read()

    sink = ListSink()
    with pytest.raises(KeyboardInterrupt):
        Pipeline(Interrupting(10), laned(invert, lanes), sinks=[sink], live=True, keep_on_interrupt=True).run()
    assert sink.closed and not sink.aborted and len(sink.frames) == 3


def test_lanes_stylize_frames_at_once_and_finish_them_in_order():
    gate = threading.Barrier(2, timeout=10)  # two frames must be in the stylizer together to pass it
    active, most = [0], [0]
    lock = threading.Lock()

    def stylize(frame):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        gate.wait()
        with lock:
            active[0] -= 1
        return 255 - frame

    sink = ListSink()
    stats = Pipeline(FakeSource(8), Laned(stylize, 2), sinks=[sink]).run()
    assert stats.frames == 8 and most[0] == 2 and sink.closed
    assert sink.times == [i / 25.0 for i in range(8)]
    for i, f in enumerate(sink.frames):
        assert np.array_equal(f, 255 - synthetic_frame(36, 64, i))


def test_live_lanes_read_at_most_lanes_frames_ahead():
    finished = []
    src = _CountingLive(6, finished)
    p = Pipeline(src, Laned(invert, 2), sinks=[ListSink()])
    for f in p.frames():
        finished.append(f.frames)
        assert len(src.reads) - 1 - finished[-1] < 2  # frames read but not finished: at most the lanes
    assert finished == [1, 2, 3, 4, 5, 6] and p.end == "source" and len(src.reads) == 7


def test_stop_with_frames_in_the_lanes_waits_for_them():
    running = []

    def slow(frame):
        running.append(1)
        threading.Event().wait(0.05)
        running.pop()
        return frame

    sink = ListSink()
    p = Pipeline(FakeSource(30), Laned(slow, 2), sinks=[sink])
    for f in p.frames():
        if f.frames == 2:
            p.stop()
    assert p.end == "stop" and sink.closed and not running  # nothing left in a lane after the loop


def test_real_stylizer_lanes_match_one_lane(test_model):
    one, two = ListSink(), ListSink()
    with Stylizer(test_model, device="cpu") as a, Stylizer(test_model, device="cpu", lanes=2) as b:
        assert a.lanes == 1 and b.lanes == 2
        Pipeline(FakeSource(6), a, sinks=[one]).run()
        Pipeline(FakeSource(6), b, sinks=[two]).run()
    assert len(two.frames) == 6
    for x, y in zip(one.frames, two.frames, strict=True):
        assert np.array_equal(x, y)
