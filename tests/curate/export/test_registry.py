"""The export registry: one spelling per kind read from any other, defaults declared once."""
from __future__ import annotations

import dataclasses
import json

import pytest

from curate.cli import build_parser
from curate.export import ExportError
from curate.export.common import items_from
from curate.export.registry import KINDS, kind_of


@pytest.mark.parametrize("spelling,kind", [
    ("old_celeba", "old_celeba"), ("old-celeba", "old_celeba"), ("old_celebA", "old_celeba"),
    ("peruvian-mix", "peruvian_mix"), ("sketch pairs", "sketch_pairs"), ("LMDB", "lmdb"),
    ("bald", None), (None, None)])
def test_kind_of_reads_every_spelling(spelling, kind):
    assert kind_of(spelling) == kind


@pytest.mark.parametrize("recorded", ["old_celeba", "old-celeba", "old_celebA"])
def test_export_recorded_with_an_older_spelling_is_still_a_photo_export(faces_dir, tmp_path,
                                                                         recorded):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(min(faces_dir.iterdir()).read_bytes())
    (folder / "manifest.csv").write_text("name,source,relpath,image_id,content_hash,provenance\n"
                                         "a.jpg,celeba,x.jpg,,,\n")
    (folder / "export.json").write_text(json.dumps({"kind": recorded}))
    assert [it.name for it in items_from(folder)] == ["a.jpg"]
    (folder / "export.json").write_text(json.dumps({"kind": "sketch_pairs"}))
    with pytest.raises(ExportError, match="is a sketch_pairs export"):
        items_from(folder)


def test_cli_defaults_are_the_params_defaults():
    parser = build_parser()
    for kind in KINDS.values():
        argv = (["export", kind.cli_name] if kind.command == "export" else [kind.command]) + ["o"]
        required = [f for f in dataclasses.fields(kind.params) if f.default is dataclasses.MISSING]
        for f in required:
            argv += [f.metadata["cli"].get("flag", "--" + f.name), "x"]
        a = parser.parse_args(argv)
        for f in dataclasses.fields(kind.params):
            if f not in required:
                got = getattr(a, f.name)
                assert (tuple(got) if isinstance(got, list) else got) == f.default, (kind.name, f.name)
