"""TensorBoard scalar events written directly (TFRecord of ``Event`` protos).

Importing ``torch.utils.tensorboard`` imports TensorFlow when it is installed, and the
StyleGAN trainer must never import TensorFlow (see STYLE.md); the scalar format is small
enough to write by hand. Files are named ``events.out.tfevents.*`` and TensorBoard reads them.
A resumed run first cuts the events past its checkpoint (:func:`truncate`), so curves show each
iteration once.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

from trainers.common.fsutil import atomic_write_bytes

PATTERN = "events.out.tfevents.*"


def _table() -> list[int]:
    out = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        out.append(c)
    return out


_CRC = _table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bytes_field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int = 0, file_version: str | None = None,
          scalars: dict[str, float] | None = None) -> bytes:
    """Serialized ``Event`` proto: wall_time=1, step=2, file_version=3, summary=5."""
    msg = _varint(1 << 3 | 1) + struct.pack("<d", wall_time) + _varint(2 << 3 | 0) + _varint(step)
    if file_version is not None:
        msg += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(  # Summary.value=1 { tag=1, simple_value=2 }
            _bytes_field(1, _bytes_field(1, tag.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", value))
            for tag, value in scalars.items())
        msg += _bytes_field(5, values)
    return msg


def record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


def read_records(data: bytes) -> list[bytes]:
    """The payloads of the complete, intact records; reading stops at a torn or corrupt one
    (a writer killed mid-record)."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        header = data[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        end = pos + 12 + n + 4
        if struct.unpack("<I", data[pos + 8:pos + 12])[0] != masked_crc(header) or end > len(data):
            break
        body = data[pos + 12:pos + 12 + n]
        if struct.unpack("<I", data[end - 4:end])[0] != masked_crc(body):
            break
        out.append(body)
        pos = end
    return out


def fields(msg: bytes) -> list[tuple[int, object]]:
    """(field number, value) pairs of a serialized protobuf message: varints as int, fixed64 as
    float64, fixed32 as float32, length-delimited fields as bytes (enough for Event/Summary)."""
    out, pos = [], 0

    def varint() -> int:
        nonlocal pos
        v = shift = 0
        while True:
            b = msg[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    while pos < len(msg):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            out.append((num, varint()))
        elif wire == 1:
            out.append((num, struct.unpack("<d", msg[pos:pos + 8])[0]))
            pos += 8
        elif wire == 5:
            out.append((num, struct.unpack("<f", msg[pos:pos + 4])[0]))
            pos += 4
        elif wire == 2:
            n = varint()
            out.append((num, msg[pos:pos + n]))
            pos += n
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return out


def event_step(msg: bytes) -> int:
    """The ``step`` field (2) of a serialized Event; 0 when absent (the file-version record)."""
    return int(dict(fields(msg)).get(2, 0))


def truncate(logdir: str | Path, last_step: int) -> None:
    """Drop the events past ``last_step`` from every events file in ``logdir``: a run resumed
    from the checkpoint of ``last_step`` writes those steps again."""
    for path in sorted(Path(logdir).glob(PATTERN)):
        records = read_records(path.read_bytes())
        keep = [r for r in records if event_step(r) <= last_step]
        if len(keep) != len(records) or path.stat().st_size != sum(len(r) + 16 for r in records):
            atomic_write_bytes(path, b"".join(record(r) for r in keep))


class EventWriter:
    """Appends scalar summaries to a new events file in ``logdir``."""

    def __init__(self, logdir: str | Path):
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.0"
        self._file = open(Path(logdir) / name, "ab")
        self._file.write(record(event(time.time(), file_version="brain.Event:2")))

    def scalars(self, values: dict[str, float], step: int) -> None:
        self._file.write(record(event(time.time(), step, scalars=values)))
        self._file.flush()

    def close(self) -> None:
        self._file.close()
