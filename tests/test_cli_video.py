"""``rtstyle video``: end to end on generated clips with a tiny contract model; bad input is one line, exit != 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from clips import decode_all, empty_video, make_clip, vfr_times

from rtstyle.cli.main import main
from rtstyle.files import part_files
from rtstyle.io.probe import probe
from rtstyle.runtime.stylizer import Stylizer

FAST = ["--style", "alpha", "--device", "cpu", "--preset", "ultrafast"]


def run_cli(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    with pytest.raises(SystemExit) as ei:
        main([str(a) for a in args])
    cap = capsys.readouterr()
    return ei.value.code, cap.out, cap.err


def assert_one_line_error(code: object, err: str) -> None:
    assert code not in (0, None)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("rtstyle: notice:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("rtstyle: error: ") and "Traceback" not in err


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".part.mp4")]


@pytest.mark.parametrize("audio", ["aac", "mp3"])
def test_video_keeps_timing_size_and_audio(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], audio: str
) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=12, vfr=True, audio=audio)
    out = tmp_path / "out.mp4"
    code, stdout, _ = run_cli(["video", clip, out, *FAST], capsys)
    assert code in (0, None)
    assert "12 frames" in stdout and "CPUExecutionProvider" in stdout and str(out) in stdout
    info = probe(out)
    assert info.video_codec == "h264" and info.frame_count == 12
    assert (info.width, info.height) == (96, 64)
    assert info.has_audio and info.audio_codec == audio
    frames, times = decode_all(out)
    assert times == pytest.approx(vfr_times(12), abs=1e-3)
    # the test model adds 40 to red: the output is stylized, not a copy of the input
    src, _ = decode_all(clip)
    assert float(frames[0][..., 2].astype(int).mean()) > float(src[0][..., 2].astype(int).mean()) + 10
    assert no_leftovers(tmp_path)


def test_video_options_no_audio_rotation_odd_size(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rot = make_clip(tmp_path / "rot.mp4", frames=4, rotate=90, audio="aac")
    out = tmp_path / "rot_out.mp4"
    args = ["--smooth", "ema", "--strength", "0.5", "--preserve-color", "--max-side", "32", "--no-audio"]
    code, _, err = run_cli(["video", rot, out, *FAST, *args], capsys)
    assert code in (0, None), err
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (64, 96, 0)
    assert not info.has_audio and info.frame_count == 4
    odd = make_clip(tmp_path / "odd.mkv", size=(97, 65), frames=3)
    out2 = tmp_path / "odd_out.mp4"
    code, _, err = run_cli(["video", odd, out2, *FAST, "--smooth", "off"], capsys)
    assert code in (0, None), err
    assert "padded" in err
    assert (probe(out2).width, probe(out2).height) == (98, 66)


def test_video_refuses_output_equal_to_input(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    before = clip.read_bytes()
    code, _, err = run_cli(["video", clip, tmp_path / "." / "in.mp4", *FAST], capsys)
    assert_one_line_error(code, err)
    assert "input" in err
    assert clip.read_bytes() == before and no_leftovers(tmp_path)


@pytest.mark.parametrize("kind", ["missing", "corrupt", "zero_frames", "no_video"])
def test_video_bad_input(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    inp = tmp_path / "in.mp4"
    if kind == "corrupt":
        inp.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "zero_frames":
        inp = tmp_path / "in.mkv"
        empty_video(inp)
    elif kind == "no_video":
        inp.write_bytes(b"")
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["video", inp, out, *FAST], capsys)
    assert_one_line_error(code, err)
    assert not out.exists() and no_leftovers(tmp_path)


def test_video_unwritable_output(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    code, _, err = run_cli(["video", clip, tmp_path / "missing_dir" / "out.mp4", *FAST], capsys)
    assert_one_line_error(code, err)
    assert "does not exist" in err


def test_video_bad_options(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    for extra in (["--smooth", "wobbly"], ["--preset", "warp9"], ["--crf", "99"], ["--style", "no-such-style"]):
        code, _, err = run_cli(["video", clip, tmp_path / "o.mp4", *FAST, *extra], capsys)
        assert_one_line_error(code, err)
    assert not (tmp_path / "o.mp4").exists()


def test_video_ctrl_c_leaves_no_output(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=30, audio="aac")
    out = tmp_path / "out.mp4"
    out.write_bytes(b"older result")
    real_call = Stylizer.__call__
    calls = {"n": 0}

    def interrupted(self: Stylizer, frame: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real_call(self, frame)

    monkeypatch.setattr(Stylizer, "__call__", interrupted)
    code, _, err = run_cli(["video", clip, out, *FAST, "--force"], capsys)  # an existing OUT needs --force
    assert code == 130
    assert_one_line_error(code, err)
    assert out.read_bytes() == b"older result"  # no half-written file under OUT's name
    assert not part_files(out, ".mp4") and no_leftovers(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal")
def test_video_real_sigint(tmp_path: Path, models_dir: Path) -> None:
    """A terminal's Ctrl-C (SIGINT to the process group) mid-encode: exit 130, one line, OUT never created."""
    clip = make_clip(tmp_path / "in.mp4", size=(128, 96), rate=25, frames=400, audio="aac")
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "rtstyle", "video", str(clip), str(out), *FAST]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not part_files(out, ".mp4") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.skip("the run ended before it could be interrupted")
    os.killpg(proc.pid, signal.SIGINT)  # like a terminal: every process in the group gets it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_one_line_error(proc.returncode, err)
    assert not out.exists() and no_leftovers(tmp_path)


def test_video_max_frames_cuts_audio_too(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=30, audio="aac")  # 3 s of video and audio
    out = tmp_path / "out.mp4"
    code, stdout, err = run_cli(["video", clip, out, *FAST, "--max-frames", "10", "--smooth", "off"], capsys)
    assert code in (0, None), err
    info = probe(out)
    assert info.frame_count == 10 and info.has_audio
    assert info.duration is not None and info.duration < 1.6


def test_video_truncated_input_says_so(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", size=(128, 96), frames=40)
    cut = tmp_path / "cut.mp4"  # the clip has its index first (+faststart): a cut file still plays
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    out = tmp_path / "out.mp4"
    code, stdout, err = run_cli(["video", cut, out, *FAST, "--smooth", "off"], capsys)
    assert code in (0, None), err
    assert "truncated or damaged" in err
    n = probe(out).frame_count
    assert n is not None and 0 < n < 40


@pytest.mark.parametrize(
    ("ext", "codec", "audio"), [(".webm", "vp9", "opus"), (".gif", "gif", None), (".mkv", "h264", "aac")]
)
def test_video_container_by_extension(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str], ext: str, codec: str, audio: str | None
) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio="aac")
    out = tmp_path / f"out{ext}"
    code, _, err = run_cli(["video", clip, out, *FAST, "--smooth", "off"], capsys)
    assert code in (0, None), err
    info = probe(out)
    assert (info.video_codec, info.audio_codec) == (codec, audio)
    assert info.frame_count == 6 and no_leftovers(tmp_path)


def test_video_unavailable_encoder_is_one_line(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["video", clip, out, *FAST, "--encoder", "no_such_encoder"], capsys)
    assert_one_line_error(code, err)
    assert "no_such_encoder" in err and not out.exists() and no_leftovers(tmp_path)


def test_video_lanes_write_the_same_video(tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--lanes 2`` (two frames in the network at once) writes the same frames, in order, smoothing included."""
    clip = make_clip(tmp_path / "in.mp4", frames=12)
    outs = []
    for lanes in (1, 2):
        out = tmp_path / f"out{lanes}.mp4"
        code, _, _ = run_cli(["video", clip, out, *FAST, "--lanes", lanes, "--smooth", "flow"], capsys)
        assert code in (0, None)
        outs.append(decode_all(out))
    (a, ta), (b, tb) = outs
    assert len(a) == len(b) == 12 and ta == tb
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    code, _, err = run_cli(["video", clip, tmp_path / "o.mp4", *FAST, "--lanes", "0"], capsys)
    assert_one_line_error(code, err)
