"""Exporters: old-celeba, peruvian-mix, sketch-pairs (one module each) over common.py.

Each writes into a temp folder renamed into place at the end, holds manifest.csv and
export.json, and is recorded in the database. `curate.export.lmdb` prepares the LMDB; `curate.export.labels` writes the decisions table.
"""
from curate.export.common import ExportError, ExportResult, Item

__all__ = ["ExportError", "ExportResult", "Item"]
