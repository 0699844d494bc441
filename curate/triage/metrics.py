"""Held-out figures of a ranker, in numpy: AUC, precision among the top-scored, calibration."""
from __future__ import annotations

import numpy as np

CALIBRATION_BINS = 10


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None with only one class."""
    labels = np.asarray(labels) > 0.5
    pos, neg = int(labels.sum()), int((~labels).sum())
    if not pos or not neg:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = np.asarray(scores)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def precision_at(scores: np.ndarray, labels: np.ndarray, k: int) -> float | None:
    """Share of accepts among the k highest scores; None when k < 1."""
    k = min(int(k), len(scores))
    if k < 1:
        return None
    top = np.argsort(-np.asarray(scores), kind="mergesort")[:k]
    return float((np.asarray(labels)[top] > 0.5).mean())


def calibration(scores: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Expected calibration error, Brier score, and per bin of predicted p: count, mean p,
    observed accept rate."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = (np.asarray(labels) > 0.5).astype(np.float64)
    if not len(scores):
        return {"ece": None, "brier": None, "bins": []}
    which = np.minimum((scores * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        if not n:
            continue
        p, seen = float(scores[inside].mean()), float(labels[inside].mean())
        ece += n / len(scores) * abs(p - seen)
        table.append({"from": b / bins, "to": (b + 1) / bins, "n": n, "p": round(p, 4),
                      "observed": round(seen, 4)})
    return {"ece": round(ece, 4), "brier": round(float(((scores - labels) ** 2).mean()), 4),
            "bins": table}


def held_out_figures(scores: np.ndarray, labels: np.ndarray) -> dict:
    """The figures a model is judged by (see docs/triage.md)."""
    labels = np.asarray(labels) > 0.5
    n_pos = int(labels.sum())
    top_decile = max(1, len(scores) // 10)
    value = auc(scores, labels)
    return {
        "held_out": int(len(scores)),
        "held_out_accepts": n_pos,
        "auc": None if value is None else round(value, 4),
        # among as many top-scored images as there are accepts (R-precision), and the top 10 %
        "precision_top_accepts": _round(precision_at(scores, labels, n_pos)),
        "precision_top_decile": _round(precision_at(scores, labels, top_decile)),
        "base_rate": round(n_pos / len(scores), 4) if len(scores) else None,
        "calibration": calibration(scores, labels),
    }


def _round(x):
    return None if x is None else round(x, 4)
