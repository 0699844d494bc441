"""A dataset larger than the memory budget streams from the LMDB in worker processes; the
batches (and so the training) equal the in-memory path's for the same seed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch

from tests.helpers.stylegan import TINY, read_metrics
from trainers.stylegan.__main__ import main
from trainers.stylegan.bank import ImageBank


def test_streamed_batches_equal_the_in_memory_ones(tiny_lmdb):
    cpu = torch.device("cpu")
    memory = ImageBank(tiny_lmdb, cpu, seed=5)
    stream = ImageBank(tiny_lmdb, cpu, seed=5, budget=1, workers=2)
    assert not memory.streams(16) and stream.streams(8) and stream.streams(16)
    try:
        for rank in (0, 1):
            for size, its in ((8, range(1, 6)), (16, range(6, 9)), (16, range(3, 5))):  # a jump restarts
                for it in its:
                    a = memory.batch(size, 4, it, rank, 2)
                    assert torch.equal(a, stream.batch(size, 4, it, rank, 2)), (size, it, rank)
                    assert a.shape == (2, 3, size, size) and -1 <= a.min() and a.max() <= 1
        assert not torch.equal(memory.batch(8, 4, 1), memory.batch(8, 4, 2))
        pick = torch.tensor([3, 0, 7])
        assert torch.equal(stream.images(16)[pick], memory.images(16)[pick])
    finally:
        stream.close()


def test_a_streamed_run_trains_like_the_in_memory_run(tmp_path, tiny_lmdb, tiny_run):
    out = tmp_path / "streamed"
    args = [a if a != "20" else "6" for a in TINY]
    assert main([str(tiny_lmdb), *args, "--out", str(out), "--seed", "3", "--data_cache_gb", "1e-9",
                 "--data_workers", "1"]) == 0
    streamed, memory = read_metrics(out), read_metrics(tiny_run)[:6]
    assert [r["iteration"] for r in streamed] == list(range(1, 7))
    for a, b in zip(streamed, memory):
        assert (a["loss_d"], a["loss_g"], a["size"]) == (b["loss_d"], b["loss_g"], b["size"])
    assert "swd" in streamed[-1]  # the metric read its real images from the LMDB


WORKERS_OF_A_KILLED_PARENT = """
import sys, time, torch
from trainers.stylegan.bank import ImageBank
bank = ImageBank(sys.argv[1], torch.device("cpu"), budget=1, workers=2)
bank.batch(8, 4, 1)
print(" ".join(map(str, bank._stream.worker_pids())), flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stream_workers_die_with_the_training_process(tiny_lmdb):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", WORKERS_OF_A_KILLED_PARENT, str(tiny_lmdb)],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids)
    finally:
        proc.kill()
