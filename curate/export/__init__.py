"""Exporters, one module each: old_celeba, peruvian_mix, sketch_pairs, lmdb (`curate prepare`)
and labels (`curate labels`); `registry` lists the kinds and their settings for the CLI and
the Export page, `common` holds what every export shares (items, the untrusted inputs),
`folder` writes an export's folder, `records` its database row, what it may replace and the
recovery after a crash. The LMDB's keys are `trainers.common.lmdb_format`, which the StyleGAN
trainer reads through too.

Each export is written into a temp folder renamed into place at the end, holds manifest.csv
and export.json, and is recorded in the database (pending, then done). Only the error type
lives here, so that importing `curate.export.registry` stays light.
"""


class ExportError(ValueError):
    """An export that cannot be made; str() is the message shown to the user."""
