"""A minimal Matroska stream writer: the pipe that carries frames and their timestamps to the encoder.

Uncompressed BGR24 blocks, each with its own timestamp in microseconds, so ffmpeg sees the real per-frame times
and variable frame rate survives the trip.
"""

from __future__ import annotations

import struct


def _ebml_size(n: int) -> bytes:
    return b"\x01" + n.to_bytes(7, "big")


def _ebml_uint(v: int) -> bytes:
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


def _ebml(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _ebml_size(len(payload)) + payload


_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def mkv_header(width: int, height: int, fps: float = 0.0) -> bytes:
    """EBML header + live Segment + Info (timestamps in microseconds) + one V_UNCOMPRESSED BGR24 track."""
    ebml = _ebml(
        b"\x1a\x45\xdf\xa3",
        _ebml(b"\x42\x86", _ebml_uint(1))
        + _ebml(b"\x42\xf7", _ebml_uint(1))
        + _ebml(b"\x42\xf2", _ebml_uint(4))
        + _ebml(b"\x42\xf3", _ebml_uint(8))
        + _ebml(b"\x42\x82", b"matroska")
        + _ebml(b"\x42\x87", _ebml_uint(4))
        + _ebml(b"\x42\x85", _ebml_uint(2)),
    )
    info = _ebml(
        b"\x15\x49\xa9\x66",
        _ebml(b"\x2a\xd7\xb1", _ebml_uint(1000)) + _ebml(b"\x4d\x80", b"rtstyle") + _ebml(b"\x57\x41", b"rtstyle"),
    )
    video = _ebml(
        b"\xe0",
        _ebml(b"\xb0", _ebml_uint(width)) + _ebml(b"\xba", _ebml_uint(height)) + _ebml(b"\x2e\xb5\x24", b"BGR\x18"),
    )
    entry = (
        _ebml(b"\xd7", _ebml_uint(1))
        + _ebml(b"\x73\xc5", _ebml_uint(1))
        + _ebml(b"\x83", _ebml_uint(1))
        + _ebml(b"\x86", b"V_UNCOMPRESSED")
        + _ebml(b"\x9c", _ebml_uint(0))
    )
    if fps > 0:
        entry += _ebml(b"\x23\xe3\x83", _ebml_uint(int(round(1e9 / fps))))  # DefaultDuration, ns
    tracks = _ebml(b"\x16\x54\xae\x6b", _ebml(b"\xae", entry + video))
    return ebml + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + info + tracks


def mkv_frame(timestamp_us: int, data: bytes | memoryview) -> list[bytes | memoryview]:
    """One Cluster holding one keyframe SimpleBlock at ``timestamp_us``; returned as pieces to avoid copies."""
    ts = _ebml(b"\xe7", _ebml_uint(timestamp_us))
    block_head = b"\x81" + struct.pack(">hB", 0, 0x80)
    n = len(data)
    block = b"\xa3" + _ebml_size(len(block_head) + n) + block_head
    return [b"\x1f\x43\xb6\x75" + _ebml_size(len(ts) + len(block) + n) + ts + block, data]
