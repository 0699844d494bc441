"""The pix2pix commands print no TensorFlow noise on a CPU: no error-level line from a run
that went well, no info lines despite TF_CPP_MIN_LOG_LEVEL=2, and nothing else lost."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from trainers.pix2pix.quiet import filtered_stderr, harmless

GLOG_ERROR = re.compile(r"^[EF]\d{4} ", re.M)
CUINIT = (b"E0000 00:00:1796522879.279561    4131 cuda_platform.cc:52] failed call to cuInit: "
          b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
ONEDNN = (b"I0000 00:00:1796522870.222834    4131 port.cc:153] oneDNN custom operations are on. "
          b"You may see slightly different numerical results\n")
BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"


@pytest.mark.slow
def test_a_tiny_cpu_run_prints_no_error_level_lines(pairs_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "trainers.pix2pix", str(pairs_dir), "--out", str(tmp_path / "run"),
         "--size", "32", "--epochs", "1", "--batch", "2", "--grid-pairs", "2"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not GLOG_ERROR.search(proc.stderr), proc.stderr
    for noise in ("remapper failed", "cuInit", "oneDNN", "absl::InitializeLog", "Sharding callback"):
        assert noise not in proc.stderr, proc.stderr
    assert "epoch 1: loss_g" in proc.stderr  # the trainer's own lines still come through
    assert "run folder:" in proc.stdout


def test_filter_drops_tensorflow_noise_and_passes_everything_else(capfd):
    no_driver = lambda line: harmless(line, 2, gpu_driver=False)  # noqa: E731
    with filtered_stderr(no_driver):
        os.write(2, BANNER + ONEDNN + b"a line of our own\n 50%|###  | 1/2\r 100%|#####| 2/2\r")
        os.write(2, CUINIT + b"E0000 00:00:1.0 12 something.cc:3] a real error\nTraceback (most")
        os.write(2, b" recent call last)\n")  # a line written in two parts stays whole
    err = capfd.readouterr().err
    assert err == ("a line of our own\n 50%|###  | 1/2\r 100%|#####| 2/2\r"
                   "E0000 00:00:1.0 12 something.cc:3] a real error\nTraceback (most recent call last)\n")


def test_cuinit_failure_is_kept_where_a_driver_is_loaded_and_levels_follow_the_setting():
    assert harmless(CUINIT, 2, gpu_driver=False)
    assert not harmless(CUINIT, 2, gpu_driver=True)  # a GPU machine whose CUDA fails: a real fault
    assert harmless(CUINIT, 3, gpu_driver=True)  # TF_CPP_MIN_LOG_LEVEL=3 hides errors too
    assert not harmless(ONEDNN, 0, gpu_driver=False) and harmless(ONEDNN, 1, gpu_driver=False)
    assert not harmless(b"I said so\n", 3, gpu_driver=False)  # not a glog line
