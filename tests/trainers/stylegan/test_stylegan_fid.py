"""FID as NVlabs computes it: rounding to uint8, dataset features a batch at a time, named by
image count and detector hash."""

from __future__ import annotations

import numpy as np
import torch

from trainers.stylegan.evaluate import (detector_hash, fid_name, frechet_distance,
                                        inception_features, to_detector_uint8)


class PixelDetector(torch.nn.Module):
    """Stands in for the Inception detector: features are the uint8 pixels it is given."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # a parameter tells the device

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8
        return x.flatten(1).float()


def test_uint8_round_trip_is_exact_like_nvlabs():
    """A dataset pixel k goes to k/127.5 - 1 and must come back as k (truncating x*127.5+127.5
    gave 63 of the 256 values back one lower)."""
    k = torch.arange(256, dtype=torch.uint8)
    unit = k.float().div(127.5).sub(1.0)
    assert torch.equal(to_detector_uint8(unit), k)
    assert to_detector_uint8(torch.tensor([-1.5, 1.5])).tolist() == [0, 255]  # clamped


def test_features_of_uint8_batches_equal_those_of_the_float_copy():
    gen = torch.Generator().manual_seed(0)
    bank = torch.randint(0, 256, (23, 3, 4, 4), dtype=torch.uint8, generator=gen)
    detector = PixelDetector()
    batched = inception_features(detector, bank, chunk=5)  # uint8, 5 at a time: no float copy
    whole = inception_features(detector, bank.float().div(127.5).sub(1.0), chunk=100)
    np.testing.assert_array_equal(batched, whole)
    np.testing.assert_array_equal(batched, bank.flatten(1).double().numpy())
    fakes = inception_features(detector, torch.rand(23, 3, 4, 4, generator=gen) * 2 - 1)
    assert frechet_distance(batched, fakes) == frechet_distance(whole, fakes)


def test_metric_name_carries_the_image_count_and_the_detector_hash(tmp_path):
    assert (fid_name(5000), fid_name(50_000), fid_name(16), fid_name(2500)) == ("fid5k", "fid50k", "fid16", "fid2500")
    det = tmp_path / "inception.pt"
    det.write_bytes(b"detector weights")
    first = detector_hash(det)
    assert len(first) == 16 and int(first, 16) >= 0
    det.write_bytes(b"other detector weights")
    assert detector_hash(det) != first
