"""What the Export page says qualifies now (curate.export.qualify) is what an export finds."""
from __future__ import annotations

from curate.export.old_celeba import accepted
from curate.export.qualify import qualifying
from tests.helpers.labelled import ACCEPTED


def test_accepted_images_and_their_tags(labelled):
    q = qualifying(labelled.engine)
    assert q.accepted == len(ACCEPTED) == len(accepted(labelled.engine))
    assert q.tagged == {"two_faces": 1}  # 000006.jpg
    assert q.without(["two_faces"]) == len(accepted(labelled.engine, ["two_faces"])) == 3
    assert q.peruvian is None  # not asked


def test_both_halves_of_the_mix(labelled, faces_dir):
    q = qualifying(labelled.engine, str(faces_dir))
    assert (q.accepted, q.peruvian, q.peruvian_problem) == (4, 12, None)
    assert q.largest_mix(0.5) == 8  # 4 old_celebA + 4 Peruvian
    assert q.largest_mix(0.25) == 16 and q.largest_mix(1.0) == 4
    missing = qualifying(labelled.engine, str(faces_dir / "nowhere"))
    assert missing.peruvian == 0 and "no source of that name" in missing.peruvian_problem
