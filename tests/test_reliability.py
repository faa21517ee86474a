"""Issue 14, "nothing lost, nothing injected": one test (or more) per defect, each failing without its fix.

docs/reliability.md lists every case with the test that proves it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import make_clip, write_clip
from conftest import make_contract_model
from test_cli_image import assert_one_line_error, run_cli
from test_cli_webcam import FakeLiveSource
from test_streaming_mjpeg import Viewer

from rtstyle import catalog
from rtstyle.contract import MAX_STYLES
from rtstyle.errors import DeviceError, InputError, Interrupted, OutputError, Stopped
from rtstyle.files import part_files, part_prefix, remove_own_parts, remove_stale_parts, temp_path
from rtstyle.io.probe import probe
from rtstyle.io.sinks.base import Sink
from rtstyle.io.sinks.mjpeg import SPARE_CONNECTIONS, MjpegServerSink
from rtstyle.io.sinks.outputs import Guarded
from rtstyle.io.sinks.push import PushSink
from rtstyle.io.sinks.video import VideoFileSink
from rtstyle.io.sources import FileSource
from rtstyle.pipeline import Pipeline
from rtstyle.pipeline.live import LiveOptions, run_live
from rtstyle.runtime.stylizer import Stylizer
from rtstyle.signals import (
    deferred_stops,
    forget_stop,
    quiet_swallowed_stops,
    raise_if_stopped,
    stop_raised,
    stop_signals,
)
from rtstyle.text import MAX_NAME, MAX_TEXT

FAST = ["--style", "alpha", "--device", "cpu", "--preset", "ultrafast"]


def frames_of(path: Path) -> int:
    n = probe(path).frame_count
    assert n is not None
    return n


# ----------------------------------------------------------------------------- 1. two runs, one OUT


def test_two_video_sinks_on_one_out_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Defect 1: two writers of one OUT (two runs) each get a temporary file of their own; both publish a valid
    video (the last one wins) instead of encoding into one shared file."""
    out = tmp_path / "out.mp4"
    a = VideoFileSink(out, 10, (32, 24), preset="ultrafast", force=True)
    b = VideoFileSink(out, 10, (32, 24), preset="ultrafast", force=True)
    assert a.tmp_path != b.tmp_path and len(part_files(out, ".mp4")) == 2
    for i in range(9):
        if i < 6:
            a.write(np.zeros((24, 32, 3), np.uint8), i / 10)
        b.write(np.full((24, 32, 3), 255, np.uint8), i / 10)
    a.close()
    assert frames_of(out) == 6
    b.close()
    assert frames_of(out) == 9
    assert not part_files(out, ".mp4")


def test_a_run_never_replaces_an_out_that_appeared_meanwhile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 1 without --force: OUT did not exist when the runs started; the first to finish publishes it, the
    second keeps its video beside it (OUT-1.mp4) and says so: nothing replaced, nothing lost."""
    out = tmp_path / "out.mp4"
    a = VideoFileSink(out, 10, (32, 24), preset="ultrafast", force=False)
    b = VideoFileSink(out, 10, (32, 24), preset="ultrafast", force=False)
    for i in range(4):
        a.write(np.zeros((24, 32, 3), np.uint8), i / 10)
        b.write(np.zeros((24, 32, 3), np.uint8), i / 10)
    b.write(np.zeros((24, 32, 3), np.uint8), 0.4)
    a.close()
    b.close()
    assert frames_of(out) == 4 and b.path == tmp_path / "out-1.mp4" and frames_of(b.path) == 5
    assert "appeared while this run was writing it" in capsys.readouterr().err
    assert not part_files(out, ".mp4")


def test_an_output_that_fails_its_final_check_is_never_renamed(tmp_path: Path) -> None:
    """Defect 1: the encoder said it finished, but the file does not read back: OUT is left as it was."""
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    sink = VideoFileSink(out, 10, (32, 24), preset="ultrafast", force=True)
    for i in range(5):
        sink.write(np.zeros((24, 32, 3), np.uint8), i / 10)
    finish = sink._encoder.finish

    def finish_then_damage(timeout: float | None = None) -> None:
        finish(timeout)
        data = sink.tmp_path.read_bytes()
        sink.tmp_path.write_bytes(b"\0" * 64 + data[64:200])  # e.g. another writer scribbled over it

    sink._encoder.finish = finish_then_damage  # type: ignore[method-assign]
    with pytest.raises(OutputError, match="final check") as err:
        sink.close()
    assert "\n" not in str(err.value)
    assert out.read_bytes() == b"previous result" and not part_files(out, ".mp4")


@pytest.mark.skipif(os.name != "posix", reason="process ids checked with POSIX kill(pid, 0)")
def test_stale_parts_of_dead_runs_are_removed_never_a_live_runs(tmp_path: Path) -> None:
    """Defect 1: the clean-up of temporary files left by killed runs never deletes the file of a run still
    writing (its process id is alive), nor one of a run on another machine (a shared folder)."""
    out = tmp_path / "out.mp4"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / (part_prefix(out, dead.pid) + "abc123.part.mp4")
        running = tmp_path / (part_prefix(out, live.pid) + "def456.part.mp4")
        elsewhere = tmp_path / f".out.mp4.0123abcd-{dead.pid}-ghi789.part.mp4"  # a run on another machine
        for p in (stale, running, elsewhere):
            p.write_bytes(b"x")
        assert set(part_files(out, ".mp4")) == {stale, running, elsewhere}
        sink = VideoFileSink(out, 10, (32, 24), preset="ultrafast")
        sink.abort()
        assert not stale.exists() and running.exists() and elsewhere.exists()
        assert remove_stale_parts(out, ".mp4") == [] and running.exists()
    finally:
        live.kill()
        live.wait()


def test_a_temporary_file_is_removed_wherever_the_interrupt_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by repeating the batch's stop test: a worker's Ctrl-C that landed after the temporary file was made but
    before the guard that removes it left a ``.part`` file. ``temp_path`` removes its file when interrupted before
    returning, and a worker's ``remove_own_parts`` sweeps what the raise beat to its guard: this process's files
    for that output only, never another run's or another output's."""
    out = tmp_path / "out.png"

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(os, "close", interrupted)
        with pytest.raises(KeyboardInterrupt):
            temp_path(out)
    assert not part_files(out)
    mine = [temp_path(out), temp_path(out, ".mp4")]
    other_run = tmp_path / (part_prefix(out, os.getpid() + 1) + "abc123.part")
    other_out = temp_path(tmp_path / "other.png")
    other_run.write_bytes(b"x")
    assert sorted(remove_own_parts(out)) == sorted(mine)
    assert part_files(out) == [other_run] and other_out.exists()


# ----------------------------------------------------------------------------- 7. the smaller ones


@pytest.fixture()
def png(tmp_path: Path) -> Path:
    p = tmp_path / "in.png"
    cv2.imwrite(str(p), np.full((24, 32, 3), 90, np.uint8))
    return p


def test_existing_outputs_need_force_in_every_writer(
    tmp_path: Path, png: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 7: an existing OUT is refused in one line (and left alone) unless --force / -f is given: image, video,
    webcam --record, demo."""
    clip = make_clip(tmp_path / "in.mp4", frames=5)
    cases = [
        (tmp_path / "o.png", ["image", png, "{out}", "--style", "alpha", "--device", "cpu"]),
        (tmp_path / "o.mp4", ["video", clip, "{out}", *FAST, "--smooth", "off"]),
        (tmp_path / "r.mp4", ["webcam", "--camera", clip, "--no-window", "--record", "{out}", "--style", "alpha"]),
        (tmp_path / "d.mp4", ["demo", "--out", "{out}", "--seconds", "0.2", "--device", "cpu", "--smooth", "off"]),
    ]
    for out, args in cases:
        out.write_bytes(b"keep me")
        argv = [str(out) if a == "{out}" else a for a in args]
        code, _, err = run_cli(argv, capsys)
        assert_one_line_error(code, err)
        assert "--force" in err and out.read_bytes() == b"keep me", err
    out, args = cases[0]
    code, _, err = run_cli([str(out) if a == "{out}" else a for a in args] + ["-f"], capsys)
    assert code in (0, None), err
    assert cv2.imread(str(out)) is not None
    out, args = cases[1]
    code, _, err = run_cli([str(out) if a == "{out}" else a for a in args] + ["--force"], capsys)
    assert code in (0, None), err
    assert frames_of(out) == 5


@pytest.mark.parametrize("ext", [".avi", ".flv", ".png", ""])
def test_video_refuses_extensions_the_writer_does_not_produce(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], ext: str
) -> None:
    """Defect 7: a video is never written under a name of a format it is not; one line, nothing written (the
    containers rtstyle writes, .mkv, .webm and .gif among them, are in test_media)."""
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / f"out{ext}"
    code, _, err = run_cli(["video", clip, out, *FAST], capsys)
    assert_one_line_error(code, err)
    assert ".mp4" in err and not out.exists() and not [p for p in tmp_path.iterdir() if ".part" in p.name]
    code, _, err = run_cli(["webcam", "--camera", clip, "--no-window", "--record", out, "--style", "alpha"], capsys)
    assert_one_line_error(code, err)
    assert not out.exists()


def test_image_output_format_checked_before_stylizing(
    tmp_path: Path, png: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 7: a picture format OpenCV cannot write is refused before the (long, memory-hungry) stylization."""
    calls = []
    monkeypatch.setattr(Stylizer, "__call__", lambda self, frame: calls.append(1) or frame)
    code, _, err = run_cli(["image", png, tmp_path / "out.xyz", "--style", "alpha", "--device", "cpu"], capsys)
    assert_one_line_error(code, err)
    assert ".xyz" in err and calls == []


def test_second_audio_track_dropped_with_a_notice(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 7: a file with two audio tracks keeps the first and says so."""
    clip = tmp_path / "two.mp4"
    write_clip(clip, (64, 48), 10, 5, audio=("aac", "aac"), audio_seconds=0.5)
    assert probe(clip).audio_tracks == 2
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["video", clip, out, *FAST, "--smooth", "off"], capsys)
    assert code in (0, None), err
    assert "2 audio tracks: only the first is kept" in err
    assert probe(out).audio_tracks == 1


def test_audio_longer_than_video_is_not_called_truncated(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 7: 1 s of video with 3 s of audio is a whole file, not a damaged one."""
    clip = tmp_path / "long_audio.mp4"
    write_clip(clip, (64, 48), 10, 10, audio=("aac",), audio_seconds=3.0)
    info = probe(clip)
    assert info.duration is not None and info.duration > 2.5 and info.frame_count == 10
    code, _, err = run_cli(["video", clip, tmp_path / "out.mp4", *FAST, "--smooth", "off"], capsys)
    assert code in (0, None), err
    assert "truncated" not in err


def test_library_log_lines_never_come_before_the_one_line_error(
    tmp_path: Path, models_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Defect 7: OpenCV's own warnings about a corrupt picture do not reach the terminal (captured at the file
    descriptor, where C++ libraries write)."""
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    code = subprocess.run(
        [sys.executable, "-m", "rtstyle", "image", str(bad), str(tmp_path / "o.png"), "--style", "alpha"],
        capture_output=True,
        text=True,
        env={**os.environ, "RTSTYLE_MODELS": str(models_dir)},
        timeout=120,
    )
    assert_one_line_error(code.returncode, code.stderr)
    assert "not a readable picture" in code.stderr


def test_onnxruntime_error_log_never_comes_before_the_one_line_error(tmp_path: Path, png: Path) -> None:
    """Defect 7: a model that fails while it runs made onnxruntime print its own coloured error line first."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    shapes = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("a", [1, 3, 4, 4]), ("b", [1, 4, 4, 3]))]
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["frame", "a"], ["r"]), helper.make_node("Reshape", ["r", "b"], ["stylized"])],
        "fails_at_run_time",
        [helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, "H", "W", 3])],
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, [1, "H", "W", 3])],
        shapes,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"contract": "1", "styles": json.dumps([{"name": "runfail"}]), "arch": "x", "tier": "full"}
    meta.update({"recipe": "{}", "precision": "fp32", "working_size": "64"})
    for k, v in meta.items():
        model.metadata_props.add(key=f"rtstyle.{k}", value=v)
    path = tmp_path / "runfail.onnx"
    onnx.save(model, str(path))
    r = subprocess.run(
        [sys.executable, "-m", "rtstyle", "image", str(png), str(tmp_path / "o.png"), "--style", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line_error(r.returncode, r.stderr)
    assert "failed to run" in r.stderr and "\x1b" not in r.stderr


# ----------------------------------------------------------------------------- 2. hostile model files


def hostile_model(path: Path, entries: list[dict[str, str]]) -> Path:
    return make_contract_model(path, styles=("x",), meta_override={"rtstyle.styles": json.dumps(entries)})


def test_model_metadata_is_untrusted_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 2: names, display names and licences from a model file reach the terminal neither as rich markup nor
    as escape sequences; a name that breaks rich's markup does not crash `rtstyle styles`."""
    d = tmp_path / "models"
    hostile_model(d / "a.onnx", [{"name": "[/]", "display_name": "[link=http://evil.example]click[/link]"}])
    hostile_model(
        d / "b.onnx", [{"name": "clear\x1b[2Jme", "display_name": "t\x1b]0;pwned\x07x", "license": "\x1b[?1049h"}]
    )
    hostile_model(
        d / "c.onnx", [{"name": "osc\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "license": "[bold]"}]
    )
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    code, out, err = run_cli(["styles"], capsys)
    assert code in (0, None), err
    assert "Traceback" not in err and "\x1b" not in out + err and "\x07" not in out
    for shown in ("[/]", "[link=http://evil.example]click[/link]", "clear[2Jme", "[bold]"):
        assert shown in out, shown
    names = {s.name for s in catalog.list_styles()}
    assert names == {"[/]", "clear[2Jme", "osc]8;;http://evil.example\\link]8;;\\"}
    png = tmp_path / "in.png"
    cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
    code, out, err = run_cli(["image", png, tmp_path / "o.png", "--style", "clear[2Jme", "--device", "cpu"], capsys)
    assert code in (0, None) and "wrote" in out and "\x1b" not in out + err


def test_metadata_length_and_style_count_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 2: a 500 kB name is cut to MAX_NAME characters (metadata over 1 MB is not read at all), a 20,000-style
    file is not read (a notice says so)."""
    d = tmp_path / "models"
    hostile_model(d / "long.onnx", [{"name": "n" * 500_000, "display_name": "d" * 100_000, "license": "l" * 50_000}])
    hostile_model(d / "many.onnx", [{"name": f"s{i}"} for i in range(20_000)])
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    (style,) = catalog.list_styles()
    assert len(style.name) == MAX_NAME and len(style.display_name) <= MAX_TEXT and len(style.license) <= MAX_TEXT
    err = capsys.readouterr().err
    assert f"at most {MAX_STYLES} are read" in err and "many.onnx" in err
    assert max(len(line) for line in err.splitlines()) < 2100


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_model_folder_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 2: only regular files are read: a FIFO named x.onnx would block `styles` and `image` for ever."""
    d = tmp_path / "models"
    make_contract_model(d / "ok.onnx", styles=("ok",))
    os.mkfifo(d / "x.onnx")
    monkeypatch.setenv("RTSTYLE_MODELS", str(d))
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: None)
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append([s.name for s in catalog.list_styles()]), daemon=True)
    t.start()
    t.join(timeout=30)
    if t.is_alive():  # unblock the reader so the test run can end
        with open(d / "x.onnx", "wb"):
            pass
        pytest.fail("listing the styles blocked on a FIFO")
    assert result == [["ok"]]
    with pytest.raises(InputError, match="not a regular file"):
        catalog.read_model_info(d / "x.onnx")


# ----------------------------------------------------------------------------- 3. SIGTERM, SIGHUP, "stopping…"


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_stopping_is_said_at_once_while_inference_blocks(tmp_path: Path) -> None:
    """Defect 3: a signal that arrives while the main thread sits in one long native call (onnxruntime on a big
    picture) is said at once; the run then winds down like Ctrl-C and OUT is never created.

    The fake stylizer stands for that native call: it blocks on an event with the signal masked in its thread, so
    Python's own handler cannot run until it returns; only a watcher outside the main thread can speak meanwhile."""
    clip = make_clip(tmp_path / "in.mp4", frames=20)
    out = tmp_path / "out.mp4"
    said: list[str] = []
    heard = threading.Event()
    blocked_until_said: list[bool] = []
    main = threading.get_ident()

    def say(message: str) -> None:
        said.append(message)
        heard.set()

    def native_wait(gate: threading.Lock) -> None:
        gate.acquire()  # one C call: no Python signal handler runs in here

    def signal_then_wait_for_the_word(gate: threading.Lock) -> None:
        # send the signal only once the main thread sits inside native_wait's C call (past its entry check)
        while not ((f := sys._current_frames().get(main)) and f.f_code is native_wait.__code__ and f.f_lasti > 0):
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGTERM)
        blocked_until_said.append(heard.wait(timeout=20))
        gate.release()

    def stylizer(frame: np.ndarray) -> np.ndarray:
        if not blocked_until_said:
            gate = threading.Lock()
            gate.acquire()
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the kernel delivers it to another thread
            try:
                threading.Thread(target=signal_then_wait_for_the_word, args=(gate,), daemon=True).start()
                native_wait(gate)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        return frame

    sink = VideoFileSink(out, 10, (96, 64), preset="ultrafast")
    with pytest.raises(Stopped) as stop, stop_signals(say=say):
        Pipeline(FileSource(clip), stylizer, None, [sink]).run()
    assert blocked_until_said == [True] and said and said[0].startswith("stopping")
    assert stop.value.signum == signal.SIGTERM and Interrupted.after(stop.value, "x").exit_code == 143
    assert not out.exists() and not part_files(out, ".mp4")


def test_a_stop_swallowed_where_python_cannot_raise_is_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """Found repeating the batch's stop test: a worker's Ctrl-C landed in a weakref callback, where Python prints
    "Exception ignored in" and a traceback and goes on; the traceback came out among the unit's notes. Within
    ``stop_signals`` (and in batch workers) such a swallowed stop is not printed, since it is recorded and raised
    again before the next frame; any other exception there is still printed. A worker's own handler records its
    stop with ``stop_raised``, which ``raise_if_stopped`` raises again until ``forget_stop``."""

    class Thing:
        pass

    def stop_in_a_callback(ref: object) -> None:
        raise stop_raised(signal.SIGINT)

    def error_in_a_callback(ref: object) -> None:
        raise ValueError("a real bug")

    with stop_signals(say=lambda message: None):
        for callback in (stop_in_a_callback, error_in_a_callback):
            thing = Thing()
            ref = weakref.ref(thing, callback)
            del thing  # the callback runs here, its exception goes to sys.unraisablehook
            assert ref() is None
    err = capsys.readouterr().err
    assert "a real bug" in err and "KeyboardInterrupt" not in err and "Stopped" not in err
    with pytest.raises(Stopped) as stop:
        raise_if_stopped()
    assert stop.value.signum == signal.SIGINT
    forget_stop()
    raise_if_stopped()  # nothing recorded any more
    assert sys.unraisablehook is not quiet_swallowed_stops  # Python's (or pytest's) hook is back


@pytest.fixture()
def python_ctrl_c() -> Iterator[None]:
    """Python's own Ctrl-C handler for the test, whatever the run started with (a background job of a
    non-interactive shell starts with SIGINT ignored, and Python keeps it so: found in a clean-clone CI run), and
    the run's own handler back after it."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("within_the_cli", [True, False])
def test_a_deferred_stop_is_raised_at_the_check_only(within_the_cli: bool, python_ctrl_c: None) -> None:
    """Inside ``deferred_stops`` a signal is said at once but raised only where the block checks (under the CLI's
    handler as a Stopped, under Python's own Ctrl-C handler as a KeyboardInterrupt); a stop the block never checked
    is raised at its end, and the handlers are back after it."""
    said: list[str] = []
    reached: list[str] = []
    outer = stop_signals(say=said.append) if within_the_cli else contextlib.nullcontext()
    with pytest.raises(KeyboardInterrupt) as stop, outer, deferred_stops() as check:
        check()  # nothing yet
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler has run by now: a plain raise would have landed in here
        reached.append("past the signal")
        check()
        reached.append("past the check")
    assert reached == ["past the signal"]
    assert isinstance(stop.value, Stopped) == within_the_cli and (said[:1] == ["stopping… (Ctrl-C)"]) == within_the_cli
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt), deferred_stops():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        reached.append("to the end")
    assert reached[-1] == "to the end"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_swallowed_stop_still_ends_the_run(tmp_path: Path) -> None:
    """Found in CI: Ctrl-C whose raise landed inside a third-party import (numpy.random's C module being set up,
    which swallows it) let the job run to the end and exit 0 after saying "stopping…". The frame loop raises the
    stop again before the next frame: the run winds down as for any Ctrl-C and OUT is never created."""
    clip = make_clip(tmp_path / "in.mp4", frames=20)
    out = tmp_path / "out.mp4"
    seen: list[int] = []

    def stylizer(frame: np.ndarray) -> np.ndarray:
        seen.append(1)
        if len(seen) == 3:
            try:  # the third-party code that swallows everything
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)  # the handler runs (and raises) in here
            except BaseException:  # noqa: BLE001, S110
                pass
        return frame

    sink = VideoFileSink(out, 10, (96, 64), preset="ultrafast")
    with pytest.raises(Stopped) as stop, stop_signals(say=lambda message: None):
        Pipeline(FileSource(clip), stylizer, None, [sink]).run()
    assert stop.value.signum == signal.SIGINT and len(seen) == 3
    assert not out.exists() and not part_files(out, ".mp4")


def wait_for_parts(out: Path, proc: subprocess.Popen, settle: float = 0.0) -> None:
    deadline = time.monotonic() + 60
    while not part_files(out, ".mp4") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(settle)
    if proc.poll() is not None:
        pytest.skip("the run ended before it could be stopped")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signame", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_video_job_stopped_by_a_signal(tmp_path: Path, models_dir: Path, signame: str, code: int) -> None:
    """Defect 3: `kill` or a closed terminal stops a file job like Ctrl-C: one line, exit 128+N, nothing under OUT's
    name and no hidden temporary file."""
    # long enough that the job is still stylizing when the signal comes, on a fast machine too (400 frames were
    # done within the settle time on a faster CPU: the signal then came after the command had returned)
    clip = make_clip(tmp_path / "in.mp4", size=(128, 96), rate=25, frames=3000, audio="aac")
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtstyle", "video", str(clip), str(out), *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RTSTYLE_MODELS": str(models_dir)},
    )
    wait_for_parts(out, proc, settle=0.5)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert_one_line_error(proc.returncode, err)
    assert "stopping" in err and signame in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".part" in p.name]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_live_recording_finalised_on_sigterm(tmp_path: Path, models_dir: Path) -> None:
    """Defect 3: SIGTERM to `webcam --record` keeps what was recorded (a playable OUT), says so in one line, 143."""
    clip = make_clip(tmp_path / "cam.mp4", size=(96, 64), rate=25, frames=400)
    out = tmp_path / "rec.mp4"
    cmd = ["webcam", "--camera", str(clip), "--no-window", "--record", str(out), "--style", "alpha", "--device", "cpu"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtstyle", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RTSTYLE_MODELS": str(models_dir)},
    )
    wait_for_parts(out, proc, settle=1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert_one_line_error(proc.returncode, err)
    assert "SIGTERM" in err and str(out) in err
    assert frames_of(out) > 0 and not part_files(out, ".mp4")


# ----------------------------------------------------------------------------- 4. one failing live output


class FlakyOutput(Sink):
    """A live output that fails on its ``fail_at``-th frame (like a push whose server went away)."""

    name = "push"

    def __init__(self, fail_at: int | None = None, safe_url: str = "rtmp://example/app/***") -> None:
        self.fail_at = fail_at
        self.safe_url = safe_url
        self.frames = 0
        self.closed = False

    def write(self, frame: np.ndarray, timestamp: float) -> None:
        self.frames += 1
        if self.frames == self.fail_at:
            raise DeviceError(f"push to {self.safe_url} failed: Broken pipe")

    def close(self) -> None:
        self.closed = True


def test_one_failing_live_output_neither_ends_the_session_nor_loses_the_recording(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 4: a push that drops mid-stream is reported once and reopened with backoff; the recording and the
    other outputs keep every frame, and the session ends normally."""
    frames = 40
    source = FakeLiveSource(frames, then="end", live=False)
    failing, other = FlakyOutput(fail_at=5), FlakyOutput(safe_url="http://127.0.0.1:8080/")
    other.name = "mjpeg"
    reopened: list[FlakyOutput] = []
    attempts = {"n": 0}

    def reopen() -> Sink:
        attempts["n"] += 1
        if attempts["n"] < 3:  # the server is still away: the next try waits twice as long
            raise DeviceError("connection refused")
        reopened.append(FlakyOutput())
        return reopened[-1]

    def outputs(options: object, size: tuple[int, int], fps: float) -> list[Sink]:
        return [Guarded(failing, reopen, backoff=(0.001, 0.004), settle=0.0), Guarded(other)]

    def slow_source(spec: object, **kw: object) -> FakeLiveSource:
        return source

    out = tmp_path / "rec.mp4"
    opts = LiveOptions(camera="clip.mp4", styles=["alpha"], device="cpu", smooth="off", record=out, window=False)
    original_read = source.read

    def paced_read() -> tuple[np.ndarray, float] | None:
        if reopened == [] and source.frames and len(source.frames) < frames - 10:
            time.sleep(0.01)  # give the retry time to come back while frames still flow
        return original_read()

    source.read = paced_read  # type: ignore[method-assign]
    assert run_live(opts, open_source=slow_source, outputs=outputs) == 0
    err = capsys.readouterr().err
    assert err.count("Broken pipe") == 1 and "retrying" in err and "works again" in err
    assert other.frames == frames and other.closed
    assert frames_of(out) == frames
    assert attempts["n"] == 3 and reopened and reopened[0].frames > 0 and reopened[0].closed


def test_a_failing_output_without_reopen_is_dropped_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 4: an output that cannot be reopened (a virtual camera that vanished) is dropped after one notice;
    a failure while closing is a notice too, never the session's error."""
    flaky = FlakyOutput(fail_at=2)
    guarded = Guarded(flaky)
    for i in range(5):
        guarded.write(np.zeros((4, 4, 3), np.uint8), i / 10)
    guarded.close()
    assert flaky.frames == 2 and guarded.stats["lost"] == 3 and guarded.stats["failures"] == 1
    assert capsys.readouterr().err.count("failed") == 1

    class FailsOnClose(FlakyOutput):
        def close(self) -> None:
            raise DeviceError("ffmpeg exited with code 1")

    guarded = Guarded(FailsOnClose())
    guarded.write(np.zeros((4, 4, 3), np.uint8), 0.0)
    guarded.close()
    assert "failed while closing" in capsys.readouterr().err


# ----------------------------------------------------------------------------- 5. numeric options at parse time

BAD_EVERYWHERE = [
    ("--scale", "nan"),
    ("--scale", "inf"),
    ("--scale", "0"),
    ("--strength", "nan"),
    ("--max-side", "0"),
]


@pytest.mark.parametrize(("option", "value"), BAD_EVERYWHERE)
@pytest.mark.parametrize("command", ["image", "video", "webcam"])
def test_bad_numbers_are_one_line_at_parse_time_in_every_command(
    tmp_path: Path,
    png: Path,
    models_dir: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    option: str,
    value: str,
) -> None:
    """Defect 5: nan, inf and out-of-range numbers are refused when the command line is parsed, with the same
    words in every command (``--scale nan`` was a ValueError traceback, ``--scale inf`` an OverflowError)."""
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    args = {
        "image": ["image", png, tmp_path / "o.png"],
        "video": ["video", clip, tmp_path / "o.mp4"],
        "webcam": ["webcam", "--camera", clip, "--no-window", "--record", tmp_path / "r.mp4"],
    }[command]
    code, _, err = run_cli(
        [*args, option, value, "--style", "alpha"] if command != "webcam" else [*args, option, value], capsys
    )
    assert_one_line_error(code, err)
    assert f"Invalid value for '{option}'" in err and not list(tmp_path.glob("o.*")) and not list(tmp_path.glob("r.*"))


@pytest.mark.parametrize(
    "args",
    [
        ["--crf", "99"],
        ["--preset", "bogus"],
        ["--serve-fps", "0"],
        ["--serve", ""],
        ["--serve", "host:port"],
        ["--fps", "nan"],
        ["--vcam-fps", "inf"],
        ["--push", ""],
        ["--push-bitrate", "fast"],
        ["--push-audio", "nocolon"],
        ["--width", "0"],
        ["--serve-max-clients", "0"],
        ["--vcam-size", "12"],
    ],
)
def test_webcam_options_checked_when_parsed(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """Defect 5: webcam clamped --crf 99 silently, failed late on --preset bogus with ffmpeg's words and took
    --serve-fps 0 and --serve ''. Now each is one line naming the option, before any camera is opened."""
    code, _, err = run_cli(["webcam", "--camera", "no-such-camera-9", "--no-window", *args], capsys)
    assert_one_line_error(code, err)
    assert f"'{args[0]}'" in err, err


def test_style_and_blend_together_are_refused(
    tmp_path: Path, png: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 5: --style was silently ignored when --blend was given."""
    code, _, err = run_cli(["image", png, tmp_path / "o.png", "--style", "alpha", "--blend", "red:blue:0.5"], capsys)
    assert_one_line_error(code, err)
    assert "--style or --blend" in err and not (tmp_path / "o.png").exists()


def test_demo_seconds_nan(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["demo", "--out", tmp_path / "d.mp4", "--seconds", "nan"], capsys)
    assert_one_line_error(code, err)
    assert "Invalid value for '--seconds'" in err


# ----------------------------------------------------------------------------- 6. the MJPEG server's resources


def test_a_connection_that_sends_no_request_is_closed() -> None:
    """Defect 6: each silent connection held a thread and a descriptor for ever; now it is closed after
    ``request_timeout`` (set small here)."""
    sink = MjpegServerSink("127.0.0.1:0", request_timeout=0.3)
    try:
        with socket.create_connection(("127.0.0.1", sink.port)) as idle:
            idle.settimeout(30)
            assert idle.recv(100) == b""  # the server hung up: nothing was ever asked
    finally:
        sink.close()


def test_viewers_beyond_the_cap_get_a_clear_503() -> None:
    """Defect 6: --serve-max-clients caps concurrent viewers; one more gets HTTP 503 with a reason."""
    sink = MjpegServerSink("127.0.0.1:0", max_clients=2)
    try:
        a, b = Viewer(sink.port), Viewer(sink.port)
        assert sink.wait_viewers(2)
        with socket.create_connection(("127.0.0.1", sink.port)) as third:
            third.settimeout(10)
            third.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = b""
            while chunk := third.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.0 503") and b"too many viewers (at most 2)" in reply
        assert sink.stats["refused"] == 1 and sink.stats["viewers"] == 2
    finally:
        sink.close()
        for v in (a, b):
            v.sock.close()


def test_a_flood_of_idle_connections_holds_a_bounded_number_of_threads() -> None:
    """Defect 6: 960 idle connections made 973 threads; beyond max_clients + a few spare ones the server answers
    503 at once, without a thread."""
    sink = MjpegServerSink("127.0.0.1:0", max_clients=2, request_timeout=30)
    before = threading.active_count()
    conns = []
    try:
        for _ in range(60):
            conns.append(socket.create_connection(("127.0.0.1", sink.port)))
        assert wait_until(lambda: sink.stats["refused"] >= 60 - (2 + SPARE_CONNECTIONS))
        assert threading.active_count() - before <= 2 + SPARE_CONNECTIONS
        conns[-1].settimeout(10)
        assert conns[-1].recv(100).startswith(b"HTTP/1.0 503")
    finally:
        for c in conns:
            c.close()
        sink.close()


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# ----------------------------------------------------------------------------- --loop


def test_a_looped_file_plays_on_with_increasing_timestamps(tmp_path: Path) -> None:
    """--loop: a file standing in for a camera starts again at its end; timestamps never go back."""
    clip = make_clip(tmp_path / "in.mp4", frames=10, rate=10)
    source = FileSource(clip, loop=True)
    try:
        times = [source.read()[1] for _ in range(25)]  # type: ignore[index]
    finally:
        source.close()
    assert source.loops == 2 and source.frame_count is None
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert times[10] == pytest.approx(1.0) and times[24] == pytest.approx(2.4)


def test_webcam_loop_records_past_the_end_of_the_file(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=10, rate=25)
    out = tmp_path / "rec.mp4"
    args = ["webcam", "--camera", clip, "--loop", "--no-window", "--record", out, "--max-frames", "25"]
    code, _, err = run_cli([*args, "--style", "alpha", "--as-fast-as-possible", "--smooth", "off"], capsys)
    assert code in (0, None), err
    assert frames_of(out) == 25
    code, _, err = run_cli(["webcam", "--camera", "0", "--loop", "--no-window", "--record", tmp_path / "x.mp4"], capsys)
    assert_one_line_error(code, err)
    assert "--loop" in err


@pytest.mark.skipif(sys.platform == "win32", reason="ffmpeg's exit on a refused connection, timed for POSIX")
def test_a_push_that_stays_down_is_reported_once_however_often_it_is_retried(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Defect 4 with a real ffmpeg: a push whose server refuses it is retried again and again (each reopened ffmpeg
    fails in turn) with one notice only, and never a false "works again"."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once the socket is closed
    url = f"rtmp://127.0.0.1:{port}/live/streamkey"
    opened: list[PushSink] = []

    def reopen() -> Sink:
        opened.append(PushSink(url, (64, 48), 15, audio="none"))
        return opened[-1]

    guarded = Guarded(reopen(), reopen, backoff=(0.05, 0.2), settle=60.0)
    deadline = time.monotonic() + 30
    while guarded.reopened < 3 and time.monotonic() < deadline:
        guarded.write(np.zeros((48, 64, 3), np.uint8), 0.0)
        time.sleep(0.02)
    guarded.close()
    err = capsys.readouterr().err
    assert guarded.reopened >= 3, err
    assert err.count("rtstyle: notice:") == 1 and "/live/***" in err and "streamkey" not in err
    assert "works again" not in err


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc")
def test_a_dead_but_unreaped_run_leaves_parts_that_are_removed(tmp_path: Path) -> None:
    """A killed worker whose parent died too stays a zombie where nothing reaps orphans: its parts are stale."""
    import subprocess

    from rtstyle.files import part_prefix, remove_stale_parts

    child = subprocess.Popen(["true"])  # not waited for: a zombie of this process once it exits
    try:
        for _ in range(200):
            if Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                break
            time.sleep(0.01)
        out = tmp_path / "out.mp4"
        stale = tmp_path / (part_prefix(out, child.pid) + "abc.part.mp4")
        stale.write_bytes(b"half")
        live = tmp_path / (part_prefix(out) + "def.part.mp4")  # this run's own: never touched
        live.write_bytes(b"half")
        assert remove_stale_parts(out, ".mp4") == [stale] and live.exists()
    finally:
        child.wait()
