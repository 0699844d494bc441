"""Triage: learn from the team's own verdicts which faces to show next (docs/triage.md).

`config`, `data`, `metrics`, `store`, `rounds` and `job` never import torch (the app server
reads them); `model` and `train` do, and run only in a command or a worker process.
"""
