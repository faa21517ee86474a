"""Probing, decoding with timestamps, and the video file sink (VFR, audio, odd sizes, containers, safe writes).

Every clip is generated here with PyAV (lavfi test sources, see ``clips.py``), a few frames at a tiny size.
"""

from __future__ import annotations

import json
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from clips import audio_only, decode_all, empty_video, make_clip, vfr_times, write_clip

from rtstyle.errors import InputError, OutputError
from rtstyle.files import part_files
from rtstyle.io.decode import Decoder
from rtstyle.io.encode import even_size
from rtstyle.io.probe import probe
from rtstyle.io.sinks.video import VideoFileSink

__all__ = ["decode_all", "make_clip", "vfr_times", "write_clip"]


# --------------------------------------------------------------------------------------------------- probing


def test_probe_cfr_clip_with_aac(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", audio="aac")
    info = probe(clip)
    assert (info.width, info.height) == (96, 64)
    assert info.frame_count == 10
    assert info.fps == pytest.approx(10.0)
    assert info.video_codec == "h264"
    assert info.has_audio and info.audio_codec == "aac"
    assert info.rotation == 0 and info.sar == 1
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_probe_rotation_swaps_size(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "r.mp4", rotate=90)
    info = probe(clip)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (64, 96)
    assert (info.coded_width, info.coded_height) == (96, 64)


def test_probe_sar(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "s.mp4", size=(64, 48), sar=2))
    assert info.sar == Fraction(2)
    assert info.square_size == (128, 48)


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "text", "truncated", "no_video", "zero_frames"])
def test_probe_bad_input_is_one_clear_line(tmp_path: Path, kind: str) -> None:
    p = tmp_path / f"{kind}.mp4"
    if kind == "folder":
        p.mkdir()
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("this is not a video\n" * 20)
    elif kind == "truncated":
        full = make_clip(tmp_path / "full.mp4", frames=20)
        p.write_bytes(full.read_bytes()[:600])
    elif kind == "no_video":
        audio_only(p)
    elif kind == "zero_frames":
        p = tmp_path / "zero.mkv"
        empty_video(p)  # a video track, no frames
    with pytest.raises(InputError) as err:
        probe(p)
    msg = str(err.value)
    assert "\n" not in msg and str(p) in msg


# --------------------------------------------------------------------------------------------------- decoding


def test_decoder_cfr_frames_and_timestamps(tmp_path: Path) -> None:
    frames, times = decode_all(make_clip(tmp_path / "a.mp4"))
    assert len(frames) == 10
    assert frames[0].shape == (64, 96, 3) and frames[0].dtype == np.uint8
    assert times == pytest.approx([i / 10 for i in range(10)], abs=1e-3)


def test_decoder_keeps_vfr_timestamps(tmp_path: Path) -> None:
    frames, times = decode_all(make_clip(tmp_path / "v.mp4", frames=12, vfr=True))
    assert len(frames) == 12  # no duplicated or dropped frames
    assert times == pytest.approx(vfr_times(12), abs=1e-3)


def test_decoder_rotates_upright_and_squares_pixels(tmp_path: Path) -> None:
    frames, _ = decode_all(make_clip(tmp_path / "r.mp4", rotate=90))
    assert frames[0].shape == (96, 64, 3)
    frames, _ = decode_all(make_clip(tmp_path / "s.mp4", size=(64, 48), sar=2))
    assert frames[0].shape == (48, 128, 3)
    # 176 * 128/117 = 192.5: rounded to an even width, so the encoder need not pad
    clip = make_clip(tmp_path / "cif.mp4", size=(176, 144), sar="128/117", frames=2)
    frames, _ = decode_all(clip)
    assert frames[0].shape == (144, 192, 3) and probe(clip).square_size == (192, 144)


def test_decoder_odd_size(tmp_path: Path) -> None:
    frames, _ = decode_all(make_clip(tmp_path / "odd.mkv", size=(97, 65), frames=4))
    assert len(frames) == 4 and frames[0].shape == (65, 97, 3)


def test_decoder_fails_cleanly_without_frames(tmp_path: Path) -> None:
    p = tmp_path / "zero.mkv"
    empty_video(p)
    with pytest.raises(InputError) as err:
        Decoder(str(p))
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------------- encoding


def encode_from(clip: Path, out: Path, **kwargs: object) -> VideoFileSink:
    info = probe(clip)
    dec = Decoder(str(clip))
    sink = VideoFileSink(out, info.fps, (dec.width, dec.height), preset="ultrafast", timescale=info.timescale, **kwargs)
    try:
        while (item := dec.read()) is not None:
            sink.write(*item)
    finally:
        dec.close()
    sink.close()
    return sink


@pytest.mark.parametrize("audio", ["aac", "mp3"])
def test_sink_keeps_vfr_timing_and_copies_audio(tmp_path: Path, audio: str) -> None:
    clip = make_clip(tmp_path / f"in_{audio}.mp4", frames=12, vfr=True, audio=audio)
    out = tmp_path / "out.mp4"
    sink = encode_from(clip, out, audio_from=clip)
    assert sink.audio_mode == "copy"
    info = probe(out)
    assert info.video_codec == "h264"
    assert info.has_audio and info.audio_codec == audio
    assert info.frame_count == 12
    assert (info.width, info.height) == (96, 64)
    _, times = decode_all(out)
    assert times == pytest.approx(vfr_times(12), abs=1e-3)
    assert not part_files(out, ".mp4")


def test_sink_reencodes_audio_mp4_cannot_take(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", frames=5, audio="vorbis")
    out = tmp_path / "out.mp4"
    sink = encode_from(clip, out, audio_from=clip)
    assert sink.audio_mode == "aac"
    assert probe(out).audio_codec == "aac"


def test_sink_pads_odd_sizes(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "odd.mkv", size=(97, 65), frames=4)
    out = tmp_path / "out.mp4"
    sink = encode_from(clip, out)
    assert even_size(97, 65) == (98, 66)
    assert sink.notes and "98x66" in sink.notes[0]
    info = probe(out)
    assert (info.width, info.height) == (98, 66) and info.frame_count == 4


def test_sink_writes_rotated_input_upright(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "r.mp4", rotate=90, frames=4)
    out = tmp_path / "out.mp4"
    encode_from(clip, out)
    info = probe(out)
    assert info.rotation == 0 and (info.width, info.height) == (64, 96)


def test_sink_resizes_frames_of_another_size(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    sink = VideoFileSink(out, 10, (32, 24), preset="ultrafast")
    for i in range(3):
        sink.write(np.full((48, 64, 3), 40 * i, np.uint8), i / 10)
    sink.close()
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (32, 24, 3)


def test_sink_wallclock_timestamps(tmp_path: Path) -> None:
    out = tmp_path / "rec.mp4"
    sink = VideoFileSink(out, 30, (32, 24), preset="ultrafast", timestamps="wallclock")
    for i in range(4):
        sink.write(np.full((24, 32, 3), 50 * i, np.uint8), 0.0)  # given timestamps are ignored
    sink.close()
    _, times = decode_all(out)
    assert len(times) == 4
    assert all(b > a for a, b in zip(times[:-1], times[1:], strict=True))


def test_sink_abort_leaves_no_file_and_keeps_old_output(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    sink = VideoFileSink(out, 10, (32, 24), preset="ultrafast")
    for i in range(300):  # until the encoder has started writing the temporary file
        sink.write(np.full((24, 32, 3), i % 256, np.uint8), i / 10)
        if bool(part_files(out, ".mp4")):
            break
        time.sleep(0.01)
    assert bool(part_files(out, ".mp4"))
    sink.abort()
    assert not part_files(out, ".mp4")
    assert out.read_bytes() == b"previous result"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sink_context_manager_aborts_on_error(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoFileSink(out, 10, (32, 24), preset="ultrafast") as sink:
        sink.write(np.zeros((24, 32, 3), np.uint8), 0.0)
        raise RuntimeError("boom")
    assert not out.exists() and not part_files(out, ".mp4")


def test_sink_refuses_output_equal_to_input(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=3)
    before = clip.read_bytes()
    for same in (clip, tmp_path / "." / "in.mp4"):
        with pytest.raises(OutputError):
            VideoFileSink(same, 10, (96, 64), audio_from=clip)
    link = tmp_path / "link.mp4"
    os.symlink(clip, link)
    with pytest.raises(OutputError):
        VideoFileSink(link, 10, (96, 64), input_path=clip)
    assert clip.read_bytes() == before


def test_sink_unwritable_output(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        VideoFileSink(tmp_path / "no" / "such" / "out.mp4", 10, (32, 24))
    with pytest.raises(OutputError, match="folder"):
        VideoFileSink(tmp_path, 10, (32, 24))
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(OutputError, match="not writable"):
                VideoFileSink(ro / "out.mp4", 10, (32, 24))
        finally:
            ro.chmod(0o700)


def test_sink_colours_survive_the_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "c.mp4"
    colours = [(30, 120, 220), (200, 40, 90), (128, 128, 128), (0, 0, 0), (255, 255, 255)]
    sink = VideoFileSink(out, 5, (64, 48), preset="ultrafast")
    for i, c in enumerate(colours):
        sink.write(np.full((48, 64, 3), c, np.uint8), i / 5)
    sink.close()
    frames, _ = decode_all(out)
    for frame, c in zip(frames, colours, strict=True):
        assert np.abs(frame.reshape(-1, 3).mean(0) - np.array(c)).max() <= 4.0, (c, frame.reshape(-1, 3).mean(0))


def test_sink_encoder_dying_is_an_output_error(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    sink = VideoFileSink(out, 10, (32, 24), preset="ultrafast", queue_size=2)
    sink._encoder.kill()  # e.g. the disk filled up and the encoder stopped
    with pytest.raises(OutputError) as err:
        for i in range(200):
            sink.write(np.zeros((24, 32, 3), np.uint8), i / 10)
        sink.close()
    assert "\n" not in str(err.value)
    sink.abort()
    assert not out.exists() and not part_files(out, ".mp4")


# --------------------------------------------------------------------------------------------------- containers


def test_sink_writes_mkv_with_h264_and_copies_flac(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", frames=6, vfr=True, audio="flac")
    out = tmp_path / "out.mkv"
    sink = encode_from(clip, out, audio_from=clip)
    assert sink.audio_mode == "copy"  # Matroska takes FLAC as it is (MP4 gets AAC)
    info = probe(out)
    assert (info.video_codec, info.audio_codec, info.frame_count) == ("h264", "flac", 6)
    assert decode_all(out)[1] == pytest.approx(vfr_times(6), abs=1e-3)
    assert not part_files(out, ".mkv")


def test_sink_writes_webm_vp9_with_opus(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", frames=8, audio="aac")
    out = tmp_path / "out.webm"
    sink = encode_from(clip, out, audio_from=clip)
    assert sink.audio_mode == "opus" and any("OPUS" in n for n in sink.notes)
    info = probe(out)
    assert (info.video_codec, info.audio_codec, info.frame_count) == ("vp9", "opus", 8)
    assert (info.width, info.height) == (96, 64)
    assert decode_all(out)[1] == pytest.approx([i / 10 for i in range(8)], abs=2e-3)


def test_sink_writes_gif_at_15_fps_and_at_most_480_wide(tmp_path: Path) -> None:
    out = tmp_path / "out.gif"
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio="aac")
    sink = VideoFileSink(out, 30, (640, 360), audio_from=clip)
    colours = [(30, 120, 220), (200, 40, 90), (0, 200, 0)]
    for i in range(30):  # 1 s at 30 fps: a GIF keeps 15 of them
        sink.write(np.full((360, 640, 3), colours[i // 10], np.uint8), i / 30)
    sink.close()
    assert sink.audio_mode is None and any("no sound" in n for n in sink.notes)
    assert any("480x270" in n for n in sink.notes)
    info = probe(out)
    assert (info.video_codec, info.width, info.height, info.has_audio) == ("gif", 480, 270, False)
    frames, times = decode_all(out)
    assert len(frames) == 15
    assert times == pytest.approx([i * 2 / 30 for i in range(15)], abs=0.011)  # GIF delays are 1/100 s
    for frame, i in zip(frames, range(15), strict=True):  # a palette per frame: flat colours stay exact
        assert np.abs(frame.reshape(-1, 3).mean(0) - np.array(colours[2 * i // 10])).max() <= 2.0


def test_gif_frame_rate_and_width_can_be_chosen(tmp_path: Path) -> None:
    out = tmp_path / "small.gif"
    sink = VideoFileSink(out, 30, (200, 100), gif_fps=5, gif_width=100)
    for i in range(30):
        sink.write(np.full((100, 200, 3), 8 * i, np.uint8), i / 30)
    sink.close()
    info = probe(out)
    assert (info.width, info.height) == (100, 50) and len(decode_all(out)[0]) == 5


@pytest.mark.parametrize("name", ["out.avi", "out.flv", "out", "out.png"])
def test_unknown_extension_is_one_line(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError) as err:
        VideoFileSink(tmp_path / name, 10, (32, 24))
    msg = str(err.value)
    assert "\n" not in msg and ".mp4" in msg and ".webm" in msg and ".gif" in msg
    assert not list(tmp_path.iterdir())


def test_unavailable_encoder_is_one_line(tmp_path: Path) -> None:
    from rtstyle.io.encode import encoder_available

    assert encoder_available("libx264") is None
    assert encoder_available("no_such_encoder") == "not in this FFmpeg build"
    for name, words in [("no_such_encoder", "not available"), ("libx264", "take libvpx-vp9 only")]:
        out = tmp_path / ("o.webm" if name == "libx264" else "o.mp4")
        with pytest.raises(OutputError, match=words) as err:
            VideoFileSink(out, 10, (32, 24), encoder=name)
        assert "\n" not in str(err.value) and not part_files(out, out.suffix)


def test_encoder_alias_x264_and_hardware_report(tmp_path: Path) -> None:
    from rtstyle.io.encode import HARDWARE_ENCODERS, encoder_report

    out = tmp_path / "o.mp4"
    sink = VideoFileSink(out, 10, (32, 24), preset="ultrafast", encoder="x264")
    sink.write(np.zeros((24, 32, 3), np.uint8), 0.0)
    sink.close()
    assert probe(out).video_codec == "h264"
    report = encoder_report()
    assert report["libx264"]["runs"] and set(HARDWARE_ENCODERS) <= set(report)
    for name in HARDWARE_ENCODERS:  # each either runs or says why not, in one line
        assert report[name]["runs"] or (report[name]["why"] and "\n" not in str(report[name]["why"]))


def test_doctor_lists_the_video_encoders(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from test_cli_image import run_cli

    code, out, _ = run_cli(["doctor", "--json"], capsys)
    info = json.loads(out)
    assert code in (0, None) and "PyAV" in info["ffmpeg"]
    assert info["encoders"]["libx264"]["runs"] and info["encoders"]["h264_nvenc"]["alias"] == "nvenc"
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(["doctor"], capsys)
    assert "video encoders (--encoder):" in out and "libx264 (x264): runs" in out
    assert "h264_videotoolbox (videotoolbox):" in out
