"""TensorBoard events written without tensorboard: valid TFRecord framing and scalars."""

from __future__ import annotations

import struct
from collections import Counter

from tests.helpers.stylegan import TINY
from trainers.stylegan.__main__ import main
from trainers.stylegan.events import crc32c, fields as _fields, masked_crc


def _records(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[pos + 8:pos + 12])[0] == masked_crc(header)
        body = data[pos + 12:pos + 12 + n]
        assert struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])[0] == masked_crc(body)
        out.append(body)
        pos += 16 + n
    return out


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283


def test_run_writes_readable_scalar_events(tiny_run):
    files = list(tiny_run.glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = [dict(_fields(r)) for r in _records(files[0].read_bytes())]
    assert events[0][3] == b"brain.Event:2"
    last = events[-1]
    assert last[2] == 20
    scalars = {}
    for num, value in _fields(last[5]):
        fields = dict(_fields(value))
        scalars[fields[1].decode()] = fields[2]
    assert {"loss_d", "loss_g", "images_per_s", "swd", "alpha", "size"} <= set(scalars)
    assert scalars["size"] == 16.0


def _steps(run) -> Counter:
    """How often each step has scalars, over all the run's events files."""
    seen = Counter()
    for path in run.glob("events.out.tfevents.*"):
        for r in _records(path.read_bytes()):
            fields = dict(_fields(r))
            if 5 in fields:
                seen[fields[2]] += 1
    return seen


def test_resume_drops_the_events_past_the_checkpoint(tmp_path, tiny_lmdb):
    """Killed after iteration 15 before its checkpoint: the resumed run starts from 10, and
    TensorBoard must see iterations 11-15 once, not once per attempt."""
    out = tmp_path / "run"
    args = [a if a != "20" else "15" for a in TINY]  # checkpoints at 10 and 15, scalars every step
    assert main([str(tiny_lmdb), *args, "--out", str(out)]) == 0
    (out / "checkpoints" / "000015.pt").unlink()  # as if killed before the last save
    assert _steps(out) == Counter(range(1, 16))
    assert main([str(tiny_lmdb), "--out", str(out), "--resume", "--iterations", "20"]) == 0
    assert _steps(out) == Counter(range(1, 21))
